/* controller_endpoints.c: the endpoints controller, a level-triggered pass:
 * every Service with a selector gets an Endpoints object of its name
 * listing the pods it selects, the Ready ones in addresses (the only ones
 * the proxy sends to) and the others in notReadyAddresses. A pod on a node
 * that is not Ready is not ready either, so the pass after a node is marked
 * dead takes its pods out at once. Written only when the content changes,
 * all in one transaction; owned by the Service, so the garbage collector
 * removes it with the Service. Selector-less Services keep the Endpoints a
 * person wrote. */
#include "strata/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/label_selector.h"

static json_t *md(json_t *o, const char *key)
{
    return json_object_get(json_object_get(o, "metadata"), key);
}

static const char *md_str(json_t *o, const char *key)
{
    return json_string_value(md(o, key));
}

/* The number a Service port's targetPort means in this pod: itself, or
 * the containerPort of that name; 0 when the pod declares no such name. */
static json_int_t target_in_pod(json_t *target, json_t *pod)
{
    if (json_is_integer(target))
        return json_integer_value(target);
    const char *name = json_string_value(target);
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
    {
        json_array_foreach(json_object_get(c, "ports"), j, p)
        {
            const char *n = json_string_value(json_object_get(p, "name"));
            if (name && n && strcmp(n, name) == 0)
                return json_integer_value(json_object_get(p, "containerPort"));
        }
    }
    return 0;
}

/* The EndpointPorts the pod serves for the Service: its ports whose
 * targetPort the pod resolves, in the Service's order. */
static json_t *pod_ports(json_t *svc, json_t *pod)
{
    json_t *out = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, sp)
    {
        json_t *target = json_object_get(sp, "targetPort");
        json_int_t port = target_in_pod(target ? target : json_object_get(sp, "port"), pod);
        if (port <= 0)
            continue;
        json_t *ep = json_pack("{s:I, s:s}", "port", port, "protocol", "TCP");
        json_t *name = json_object_get(sp, "name");
        if (json_is_string(name) && *json_string_value(name))
            json_object_set(ep, "name", name);
        json_array_append_new(out, ep);
    }
    return out;
}

static bool node_ready(json_t *nodes, const char *name)
{
    json_t *n = name ? json_object_get(nodes, name) : NULL;
    const char *st = n ? st_condition_status(n, "Ready") : NULL;
    return st && strcmp(st, "True") == 0;
}

static int by_ip(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "ip"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "ip"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Sorted by ip, so the same pods give the same object. */
static void sort_addresses(json_t *list)
{
    size_t n = json_array_size(list);
    if (n < 2)
        return;
    _cleanup_free_ json_t **v = malloc(n * sizeof(*v));
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof(*v), by_ip);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, v[i]);
}

/* Adds pod to the subset with its ports (one subset per distinct set of
 * ports, as Kubernetes groups them). */
static void add_pod(json_t *subsets, json_t *ports, json_t *pod, bool ready)
{
    json_t *subset = NULL;
    size_t i;
    json_t *s;
    json_array_foreach(subsets, i, s)
    {
        if (json_equal(json_object_get(s, "ports"), ports))
            subset = s;
    }
    if (subset == NULL) {
        subset = json_pack("{s:[], s:[], s:O}", "addresses", "notReadyAddresses", "ports", ports);
        json_array_append_new(subsets, subset);
    }
    const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    json_t *addr = json_pack("{s:O, s:{s:s, s:O, s:O, s:O}}", "ip",
                             json_object_get(json_object_get(pod, "status"), "podIP"), "targetRef",
                             "kind", "Pod", "name", md(pod, "name"), "namespace",
                             md(pod, "namespace"), "uid", md(pod, "uid"));
    if (node)
        json_object_set_new(addr, "nodeName", json_string(node));
    json_array_append_new(json_object_get(subset, ready ? "addresses" : "notReadyAddresses"), addr);
}

static int by_ports(const void *a, const void *b)
{
    _cleanup_free_ char *x =
        json_dumps(json_object_get(*(json_t *const *)a, "ports"), JSON_COMPACT | JSON_SORT_KEYS);
    _cleanup_free_ char *y =
        json_dumps(json_object_get(*(json_t *const *)b, "ports"), JSON_COMPACT | JSON_SORT_KEYS);
    return strcmp(x ? x : "", y ? y : "");
}

json_t *st_endpoints_subsets(json_t *svc, json_t *pods, json_t *nodes)
{
    json_t *selector = json_object_get(json_object_get(svc, "spec"), "selector");
    const char *ns = md_str(svc, "namespace");
    json_t *subsets = json_array();
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        const char *pns = md_str(pod, "namespace");
        json_t *ip = json_object_get(json_object_get(pod, "status"), "podIP");
        if (!ns || !pns || strcmp(ns, pns) != 0 ||
            !st_label_map_matches(selector, md(pod, "labels")) || !json_is_string(ip) ||
            st_pod_is_terminal(pod) || st_pod_is_terminating(pod))
            continue;
        _cleanup_json_ json_t *ports = pod_ports(svc, pod);
        if (json_array_size(ports) == 0)
            continue; /* it declares none of the named ports: nothing to reach there */
        const char *node =
            json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
        add_pod(subsets, ports, pod, st_pod_is_ready(pod) && node_ready(nodes, node));
    }
    size_t n = json_array_size(subsets);
    _cleanup_free_ json_t **v = malloc((n ? n : 1) * sizeof(*v));
    json_t *s;
    json_array_foreach(subsets, i, s)
    {
        sort_addresses(json_object_get(s, "addresses"));
        sort_addresses(json_object_get(s, "notReadyAddresses"));
        /* Kubernetes omits empty lists. */
        if (json_array_size(json_object_get(s, "addresses")) == 0)
            json_object_del(s, "addresses");
        if (json_array_size(json_object_get(s, "notReadyAddresses")) == 0)
            json_object_del(s, "notReadyAddresses");
        if (v)
            v[i] = json_incref(s);
    }
    if (v && n > 1) {
        qsort(v, n, sizeof(*v), by_ports);
        json_array_clear(subsets);
        for (i = 0; i < n; i++)
            json_array_append_new(subsets, v[i]);
    } else {
        for (i = 0; v && i < n; i++)
            json_decref(v[i]);
    }
    return subsets;
}

/* The Endpoints the Service should have. */
static json_t *desired(json_t *svc, json_t *subsets)
{
    json_t *ep = json_pack("{s:s, s:s, s:{s:O, s:O, s:[{s:s, s:s, s:O, s:O, s:b, s:b}]}}",
                           "apiVersion", "v1", "kind", "Endpoints", "metadata", "name",
                           md(svc, "name"), "namespace", md(svc, "namespace"), "ownerReferences",
                           "apiVersion", "v1", "kind", "Service", "name", md(svc, "name"), "uid",
                           md(svc, "uid"), "controller", 1, "blockOwnerDeletion", 1);
    json_t *labels = md(svc, "labels");
    if (json_object_size(labels) > 0)
        json_object_set(json_object_get(ep, "metadata"), "labels", labels);
    if (json_array_size(subsets) > 0)
        json_object_set(ep, "subsets", subsets);
    return ep;
}

/* json_equal, with two absent values equal (jansson says they are not). */
static bool eq(json_t *a, json_t *b)
{
    return a == b || json_equal(a, b);
}

/* Whether stored already says what want says. */
static bool same(json_t *stored, json_t *want)
{
    return eq(json_object_get(stored, "subsets"), json_object_get(want, "subsets")) &&
           eq(md(stored, "ownerReferences"), md(want, "ownerReferences")) &&
           eq(md(stored, "labels"), md(want, "labels"));
}

static int list(st_store *s, const char *kind, json_t **out, st_error *err)
{
    st_store_query q = {.kind = kind};
    return st_store_list(s, &q, out, err);
}

int st_control_endpoints(st_store *s, int *written, st_error *err)
{
    if (written)
        *written = 0;
    _cleanup_json_ json_t *svcs = NULL, *pods = NULL, *node_list = NULL, *eps = NULL;
    int r;
    if ((r = list(s, "Service", &svcs, err)) < 0 || (r = list(s, "Pod", &pods, err)) < 0 ||
        (r = list(s, "Node", &node_list, err)) < 0 || (r = list(s, "Endpoints", &eps, err)) < 0)
        return r;
    _cleanup_json_ json_t *nodes = json_object(), *stored = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(node_list, i, o) json_object_set(nodes, md_str(o, "name"), o);
    json_array_foreach(eps, i, o)
    {
        char key[320];
        snprintf(key, sizeof(key), "%s/%s", md_str(o, "namespace"), md_str(o, "name"));
        json_object_set(stored, key, o);
    }
    _cleanup_json_ json_t *writes = json_array();
    json_array_foreach(svcs, i, o)
    {
        json_t *selector = json_object_get(json_object_get(o, "spec"), "selector");
        if (json_object_size(selector) == 0 || md(o, "deletionTimestamp") || !md_str(o, "uid"))
            continue;
        _cleanup_json_ json_t *subsets = st_endpoints_subsets(o, pods, nodes);
        json_t *want = desired(o, subsets);
        char key[320];
        snprintf(key, sizeof(key), "%s/%s", md_str(o, "namespace"), md_str(o, "name"));
        json_t *cur = json_object_get(stored, key);
        if (cur && same(cur, want))
            json_decref(want);
        else
            json_array_append_new(writes, want);
    }
    size_t n = json_array_size(writes);
    if (n == 0)
        return 0;
    _cleanup_free_ st_store_op *ops = calloc(n, sizeof(*ops));
    if (ops == NULL)
        return st_error_set(err, ENOMEM, "endpoints controller: out of memory");
    for (i = 0; i < n; i++)
        ops[i] = (st_store_op){.op = ST_STORE_APPLY, .object = json_array_get(writes, i)};
    if ((r = st_store_apply_batch(s, ops, n, err)) < 0)
        return r;
    st_store_ops_release(ops, n);
    if (written)
        *written = (int)n;
    return 0;
}
