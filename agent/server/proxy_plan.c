/* proxy_plan.c: what the Services and their Endpoints in the store mean
 * for the data path, as plain data: the host's listeners (a LoadBalancer's
 * ingress IP and port, a NodePort on 127.0.0.1) each with its backends,
 * and the snapshot every node gets in a `services` message (ClusterIPs and
 * ready backends, and the names pods resolve). Pure: no store, no relay, so
 * the unit tests check it on objects they write. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"

#include <stdio.h>
#include <string.h>

/* The Endpoints port a Service port goes to: the one of the same name (a
 * Service of one port may leave both unnamed). */
static json_t *subset_port(json_t *subset, json_t *sport)
{
    const char *name = st_json_str_at(sport, "name");
    json_t *ports = json_object_get(subset, "ports");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *pn = st_json_str_at(p, "name");
        if ((name ? name : "")[0] == '\0' && json_array_size(ports) == 1)
            return p;
        if (strcmp(pn ? pn : "", name ? name : "") == 0)
            return p;
    }
    return NULL;
}

/* [{"addr":"IP:PORT","node":NODE}] of the ready addresses behind sport. */
static json_t *backends_of(json_t *endpoints, json_t *sport)
{
    json_t *out = json_array();
    size_t i, j;
    json_t *subset, *a;
    json_array_foreach(json_object_get(endpoints, "subsets"), i, subset)
    {
        json_t *p = subset_port(subset, sport);
        if (p == NULL)
            continue;
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        json_array_foreach(json_object_get(subset, "addresses"), j, a)
        {
            const char *ip = st_json_str_at(a, "ip");
            if (ip == NULL || port <= 0)
                continue;
            char addr[64];
            snprintf(addr, sizeof(addr), "%s:%lld", ip, (long long)port);
            const char *node = st_json_str_at(a, "nodeName");
            json_array_append_new(out,
                                  json_pack("{s:s, s:s}", "addr", addr, "node", node ? node : ""));
        }
    }
    return out;
}

static json_t *find_endpoints(json_t *endpoints, const char *ns, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(endpoints, i, e)
    {
        json_t *md = json_object_get(e, "metadata");
        const char *ens = st_json_str_at(md, "namespace");
        if (strcmp(st_json_str_at(md, "name") ?: "", name) == 0 &&
            strcmp(ens ? ens : "default", ns) == 0)
            return e;
    }
    return NULL;
}

int st_server_proxy_plan(json_t *services, json_t *endpoints, json_t **listeners, json_t **snapshot)
{
    _cleanup_json_ json_t *ls = json_object(), *snap = json_array();
    if (ls == NULL || snap == NULL)
        return -ENOMEM;
    size_t i, j;
    json_t *svc, *sport;
    json_array_foreach(services, i, svc)
    {
        json_t *md = json_object_get(svc, "metadata"), *spec = json_object_get(svc, "spec");
        const char *name = st_json_str_at(md, "name"), *ns = st_json_str_at(md, "namespace");
        if (name == NULL)
            continue;
        if (ns == NULL)
            ns = "default";
        const char *type = st_json_str_at(spec, "type") ?: "ClusterIP";
        const char *cip = st_json_str_at(spec, "clusterIP");
        json_t *lbs = json_object_get(json_object_get(svc, "status"), "loadBalancer");
        const char *ingress =
            st_json_str_at(json_array_get(json_object_get(lbs, "ingress"), 0), "ip");
        json_t *eps = find_endpoints(endpoints, ns, name);
        json_t *gports = json_array();
        json_array_foreach(json_object_get(spec, "ports"), j, sport)
        {
            json_int_t port = json_integer_value(json_object_get(sport, "port"));
            json_int_t node_port = json_integer_value(json_object_get(sport, "nodePort"));
            const char *pname = st_json_str_at(sport, "name") ?: "";
            _cleanup_json_ json_t *b = backends_of(eps, sport);
            json_t *addrs = json_array();
            size_t k;
            json_t *be;
            json_array_foreach(b, k, be) json_array_append(addrs, json_object_get(be, "addr"));
            json_array_append_new(gports, json_pack("{s:s, s:I, s:s, s:o}", "name", pname, "port",
                                                    port, "protocol", "TCP", "backends", addrs));
            char key[600], addr[64];
            if (strcmp(type, "LoadBalancer") == 0 && ingress) {
                snprintf(key, sizeof(key), "lb/%s/%s/%lld", ns, name, (long long)port);
                snprintf(addr, sizeof(addr), "%s:%lld", ingress, (long long)port);
                json_object_set_new(ls, key,
                                    json_pack("{s:s, s:s, s:s, s:O}", "namespace", ns, "service",
                                              name, "listen", addr, "backends", b));
            }
            if ((strcmp(type, "LoadBalancer") == 0 || strcmp(type, "NodePort") == 0) &&
                node_port > 0) {
                snprintf(key, sizeof(key), "np/%s/%s/%lld", ns, name, (long long)node_port);
                snprintf(addr, sizeof(addr), "127.0.0.1:%lld", (long long)node_port);
                json_object_set_new(ls, key,
                                    json_pack("{s:s, s:s, s:s, s:O}", "namespace", ns, "service",
                                              name, "listen", addr, "backends", b));
            }
        }
        if (cip && strcmp(cip, "None") != 0)
            json_array_append_new(snap, json_pack("{s:s, s:s, s:s, s:o}", "namespace", ns, "name",
                                                  name, "clusterIP", cip, "ports", gports));
        else
            json_decref(gports);
    }
    *listeners = st_steal_ptr(&ls);
    *snapshot = st_steal_ptr(&snap);
    return 0;
}
