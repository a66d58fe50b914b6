/* api_endpointslice.c: discovery.k8s.io/v1 EndpointSlices, read-only, made
 * from the Endpoints the endpoints controller writes (one slice per subset,
 * labelled kubernetes.io/service-name). kubectl 1.32's `describe service`
 * reads a Service's endpoints only from slices; Strata keeps Endpoints as
 * the one record (its proxy and the guests read them), so slices are a
 * view of them, never stored. */
#include "api_priv.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/label_selector.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SERVICE_NAME_LABEL "kubernetes.io/service-name"

/* One address of a subset as a slice's endpoint. */
static json_t *endpoint_of(json_t *addr, bool ready)
{
    json_t *e = json_pack("{s:[O], s:{s:b, s:b, s:b}}", "addresses", json_object_get(addr, "ip"),
                          "conditions", "ready", ready, "serving", ready, "terminating", 0);
    if (e == NULL)
        return NULL;
    json_t *node = json_object_get(addr, "nodeName");
    if (node)
        json_object_set(e, "nodeName", node);
    json_t *ref = json_object_get(addr, "targetRef");
    if (ref)
        json_object_set(e, "targetRef", ref);
    return e;
}

/* Subset i of ep as an EndpointSlice (new reference). */
static json_t *slice_of(json_t *ep, size_t i, json_t *subset)
{
    json_t *md = json_object_get(ep, "metadata");
    const char *name = st_json_str_at(md, "name");
    char slice_name[300];
    if (i == 0)
        snprintf(slice_name, sizeof(slice_name), "%s", name);
    else
        snprintf(slice_name, sizeof(slice_name), "%s-%zu", name, i);
    json_t *endpoints = json_array(), *ports = json_array();
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(subset, "addresses"), k, a)
        json_array_append_new(endpoints, endpoint_of(a, true));
    json_array_foreach(json_object_get(subset, "notReadyAddresses"), k, a)
        json_array_append_new(endpoints, endpoint_of(a, false));
    json_array_foreach(json_object_get(subset, "ports"), k, a)
    {
        json_t *p = json_deep_copy(a);
        /* always a name, "" for an unnamed port, as the apiserver's slices
         * have it (kubectl reads it without a check) */
        if (json_object_get(p, "name") == NULL)
            json_object_set_new(p, "name", json_string(""));
        if (json_object_get(p, "protocol") == NULL)
            json_object_set_new(p, "protocol", json_string("TCP"));
        json_array_append_new(ports, p);
    }
    json_t *s = json_pack(
        "{s:s, s:s, s:{s:s, s:O*, s:O*, s:O*, s:{s:s, s:s}}, s:s, s:o, s:o}", "apiVersion",
        "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name", slice_name, "namespace",
        json_object_get(md, "namespace"), "resourceVersion", json_object_get(md, "resourceVersion"),
        "creationTimestamp", json_object_get(md, "creationTimestamp"), "labels", SERVICE_NAME_LABEL,
        name, "endpointslice.kubernetes.io/managed-by", "strata.io", "addressType", "IPv4",
        "endpoints", endpoints, "ports", ports);
    return s;
}

/* Every slice of the Endpoints in ns (NULL: all) that sel selects. */
static int slices(struct st_server_call *c, const char *ns, const st_label_selector *sel,
                  json_t **out, char rv[32], st_error *err)
{
    st_store_query q = {.kind = "Endpoints", .namespace = ns};
    _cleanup_json_ json_t *eps = NULL;
    int r = st_server_api_list_at(c->d, &q, &eps, rv, err);
    if (r < 0)
        return r;
    *out = json_array();
    size_t i, j;
    json_t *ep, *subset;
    json_array_foreach(eps, i, ep)
    {
        json_t *subsets = json_object_get(ep, "subsets");
        /* a Service with no endpoints still has its (empty) slice */
        _cleanup_json_ json_t *none = json_array_size(subsets) ? NULL : json_pack("[{}]");
        json_array_foreach(none ? none : subsets, j, subset)
        {
            json_t *s = slice_of(ep, j, subset);
            json_t *labels = json_object_get(json_object_get(s, "metadata"), "labels");
            if (s && (sel == NULL || st_label_selector_matches(sel, labels)))
                json_array_append(*out, s);
            json_decref(s);
        }
    }
    return 0;
}

int st_server_api_endpointslices(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    /* /apis/discovery.k8s.io/v1 [namespaces NS] endpointslices [NAME] */
    size_t i = 3;
    const char *ns = NULL;
    if (st_server_api_seg_is(c, i, "namespaces") && i + 1 < q->nseg) {
        ns = q->seg[i + 1];
        i += 2;
    }
    if (!st_server_api_seg_is(c, i, "endpointslices") || i + 2 < q->nseg)
        return st_server_api_reply_status(c, 404,
                                          "no such resource: discovery.k8s.io/v1 serves "
                                          "endpointslices only");
    if (!st_server_api_method_is(c, "GET"))
        return st_server_api_reply_status(
            c, 405,
            "%s is not allowed: Strata's EndpointSlices are a read-only view of the Endpoints "
            "it keeps; change the Service or its pods",
            q->method);
    if (st_server_api_arg_true(c, "watch"))
        return st_server_api_reply_status(
            c, 405, "EndpointSlices cannot be watched here; watch the Endpoints (/api/v1) instead");
    const char *name = i + 1 < q->nseg ? q->seg[i + 1] : NULL;
    st_error err = {0};
    st_label_selector *sel = NULL;
    if (st_label_selector_parse(st_server_api_arg(c, "labelSelector"), &sel, &err) < 0)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    _cleanup_json_ json_t *items = NULL;
    char rv[32] = "";
    int r = slices(c, ns, sel, &items, rv, &err);
    st_label_selector_free(sel);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    if (name) {
        size_t k;
        json_t *s;
        json_array_foreach(items, k, s) if (strcmp(st_json_str_at(s, "metadata.name"), name) ==
                                            0) return st_server_api_reply_json(c, 200, s);
        return st_server_api_reply_status(c, 404,
                                          "endpointslices.discovery.k8s.io \"%s\" not found", name);
    }
    _cleanup_json_ json_t *list =
        json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", "discovery.k8s.io/v1", "kind",
                  "EndpointSliceList", "metadata", "resourceVersion", rv, "items", items);
    return list ? st_server_api_reply_json(c, 200, list) : -ENOMEM;
}
