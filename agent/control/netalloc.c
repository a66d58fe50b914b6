/* netalloc.c: picking addresses (see netalloc.h). Pure: the callers pass
 * every object that holds an address, so the rule "never two on one" is
 * decided here in one place, and freeing is nothing more than the object
 * being gone from the next call's list. */
#include "strata/netalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"

/* ---- IPv4 ------------------------------------------------------------------ */

static bool ip_parse(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static void ip_format(uint32_t ip, char out[INET_ADDRSTRLEN])
{
    struct in_addr a = {.s_addr = htonl(ip)};
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

static bool cidr_parse(const char *cidr, uint32_t *net, uint32_t *mask)
{
    char ip[INET_ADDRSTRLEN];
    const char *slash = cidr ? strchr(cidr, '/') : NULL;
    if (slash == NULL || (size_t)(slash - cidr) >= sizeof(ip))
        return false;
    memcpy(ip, cidr, (size_t)(slash - cidr));
    ip[slash - cidr] = '\0';
    char *end = NULL;
    long bits = strtol(slash + 1, &end, 10);
    if (!ip_parse(ip, net) || *end != '\0' || bits < 0 || bits > 32)
        return false;
    *mask = bits == 0 ? 0 : UINT32_MAX << (32 - bits);
    return true;
}

bool st_netalloc_cidr_contains(const char *cidr, const char *ip)
{
    uint32_t net, mask, a;
    return cidr_parse(cidr, &net, &mask) && ip_parse(ip, &a) && (a & mask) == (net & mask);
}

/* ---- pod CIDRs ------------------------------------------------------------- */

int st_netalloc_pod_cidr(json_t *nodes, char out[ST_NET_CIDR_LEN], st_error *err)
{
    uint32_t net = 0, mask = 0;
    cidr_parse(ST_NET_CLUSTER_CIDR, &net, &mask);
    bool used[256] = {false};
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *c = json_string_value(json_object_get(json_object_get(n, "spec"), "podCIDR"));
        uint32_t cnet, cmask;
        if (c && cidr_parse(c, &cnet, &cmask) && (cnet & mask) == net)
            used[(cnet >> 8) & 0xff] = true;
    }
    for (unsigned k = 1; k < 256; k++) {
        if (used[k])
            continue;
        char ip[INET_ADDRSTRLEN];
        ip_format(net | (k << 8), ip);
        snprintf(out, ST_NET_CIDR_LEN, "%s/24", ip);
        return 0;
    }
    return st_error_set(err, ENOSPC,
                        "every pod CIDR of %s is taken (255 nodes): remove a node before adding "
                        "another",
                        ST_NET_CLUSTER_CIDR);
}

/* ---- Services -------------------------------------------------------------- */

/* Who holds what: key -> {"who": "ns/name", "older": bool}. A new pick
 * avoids every holder; a kept or given address yields only to older ones. */
struct held {
    json_t *ips;   /* cluster IPs */
    json_t *ports; /* node ports, as text */
    json_t *lbs;   /* ingress IPs */
};

static const char *md_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), key));
}

static json_t *lb_ingress(json_t *svc)
{
    return json_array_get(
        json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"), "ingress"),
        0);
}

static void held_add(json_t *set, const char *key, const char *who, bool older)
{
    json_t *e = key ? json_object_get(set, key) : NULL;
    if (key && (e == NULL || (older && !json_is_true(json_object_get(e, "older")))))
        json_object_set_new(set, key, json_pack("{s:s, s:b}", "who", who, "older", older));
}

/* The older Service holding key, NULL when none. */
static const char *held_by(json_t *set, const char *key)
{
    json_t *e = json_object_get(set, key);
    return json_is_true(json_object_get(e, "older")) ? json_string_value(json_object_get(e, "who"))
                                                     : NULL;
}

/* Whether o was stored after svc (by creationTimestamp, then namespace and
 * name). When two stored Services claim one address (two writes raced),
 * the older keeps it; a Service not yet stored defers to every one. */
static bool younger(json_t *o, json_t *svc)
{
    const char *a = md_str(svc, "creationTimestamp"), *b = md_str(o, "creationTimestamp");
    if (a == NULL || b == NULL)
        return false;
    int c = strcmp(b, a);
    if (c == 0)
        c = strcmp(md_str(o, "namespace"), md_str(svc, "namespace"));
    if (c == 0)
        c = strcmp(md_str(o, "name"), md_str(svc, "name"));
    return c > 0;
}

static void held_collect(struct held *h, json_t *svc, json_t *others)
{
    const char *ns = md_str(svc, "namespace"), *name = md_str(svc, "name");
    size_t i, j;
    json_t *o, *p;
    json_array_foreach(others, i, o)
    {
        const char *ons = md_str(o, "namespace"), *oname = md_str(o, "name");
        if (!ons || !oname || (ns && name && strcmp(ns, ons) == 0 && strcmp(name, oname) == 0))
            continue;
        bool older = !younger(o, svc);
        char who[320];
        snprintf(who, sizeof(who), "%s/%s", ons, oname);
        json_t *spec = json_object_get(o, "spec");
        held_add(h->ips, json_string_value(json_object_get(spec, "clusterIP")), who, older);
        json_array_foreach(json_object_get(spec, "ports"), j, p)
        {
            json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
            char key[24]; /* any json_int_t */
            snprintf(key, sizeof(key), "%lld", (long long)np);
            if (np > 0)
                held_add(h->ports, key, who, older);
        }
        held_add(h->lbs, json_string_value(json_object_get(lb_ingress(o), "ip")), who, older);
    }
}

/* The first address in [first, last] nobody holds, -ENOSPC when none. */
static int pick_ip(json_t *taken, const char *first, const char *last, char out[INET_ADDRSTRLEN])
{
    uint32_t a = 1, z = 0;
    ip_parse(first, &a);
    ip_parse(last, &z);
    for (uint32_t ip = a; ip <= z; ip++) {
        ip_format(ip, out);
        if (!json_object_get(taken, out))
            return 0;
    }
    return -ENOSPC;
}

static int cluster_ip(json_t *spec, struct held *h, const char *self, st_error *err)
{
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    char picked[INET_ADDRSTRLEN];
    if (ip && *ip) {
        const char *who = held_by(h->ips, ip);
        uint32_t first = 0, v = 0;
        ip_parse(ST_NET_SERVICE_IP_FIRST, &first);
        if (!st_netalloc_cidr_contains(ST_NET_SERVICE_CIDR, ip) || !ip_parse(ip, &v) || v < first ||
            (v & 0xff) == 0xff)
            return st_error_set(err, EINVAL,
                                "Service %s: spec.clusterIP %s is not in the service range "
                                "%s..10.96.255.254: remove it to get one",
                                self, ip, ST_NET_SERVICE_IP_FIRST);
        if (who)
            return st_error_set(err, EEXIST,
                                "Service %s: spec.clusterIP %s is already allocated to Service "
                                "%s: choose another or remove it to get a free one",
                                self, ip, who);
        snprintf(picked, sizeof(picked), "%s", ip);
    } else if (pick_ip(h->ips, ST_NET_SERVICE_IP_FIRST, "10.96.255.254", picked) < 0) {
        return st_error_set(err, ENOSPC,
                            "Service %s: every cluster IP of %s is allocated: delete a Service",
                            self, ST_NET_SERVICE_CIDR);
    }
    json_object_set_new(spec, "clusterIP", json_string(picked));
    json_object_set_new(spec, "clusterIPs", json_pack("[s]", picked));
    return 0;
}

static int node_ports(json_t *spec, struct held *h, bool wanted, const char *self, st_error *err)
{
    size_t i;
    json_t *p;
    _cleanup_json_ json_t *mine = json_object(); /* this Service's, given or picked */
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        if (!wanted) {
            json_object_del(p, "nodePort");
            continue;
        }
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        char key[24]; /* any json_int_t */
        snprintf(key, sizeof(key), "%lld", (long long)np);
        if (np == 0)
            continue;
        const char *who = held_by(h->ports, key);
        if (np < ST_NET_NODE_PORT_MIN || np > ST_NET_NODE_PORT_MAX)
            return st_error_set(err, EINVAL,
                                "Service %s: spec.ports[%zu].nodePort %s is outside %d-%d", self, i,
                                key, ST_NET_NODE_PORT_MIN, ST_NET_NODE_PORT_MAX);
        if (who || json_object_get(mine, key))
            return st_error_set(err, EEXIST,
                                "Service %s: spec.ports[%zu].nodePort %s is already allocated to "
                                "Service %s: choose another or remove it to get a free one",
                                self, i, key, who ? who : self);
        json_object_set_new(mine, key, json_true());
    }
    json_int_t next = ST_NET_NODE_PORT_MIN;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        if (!wanted || json_object_get(p, "nodePort"))
            continue;
        char key[24]; /* any json_int_t */
        for (;; next++) {
            if (next > ST_NET_NODE_PORT_MAX)
                return st_error_set(err, ENOSPC,
                                    "Service %s: every node port %d-%d is allocated: delete a "
                                    "NodePort or LoadBalancer Service",
                                    self, ST_NET_NODE_PORT_MIN, ST_NET_NODE_PORT_MAX);
            snprintf(key, sizeof(key), "%lld", (long long)next);
            if (!json_object_get(h->ports, key) && !json_object_get(mine, key))
                break;
        }
        json_object_set_new(p, "nodePort", json_integer(next++));
    }
    return 0;
}

static int lb_address(json_t *svc, struct held *h, bool wanted, const char *self, st_error *err)
{
    json_t *st = json_object_get(svc, "status");
    if (!wanted) {
        json_object_del(json_object_get(st, "loadBalancer"), "ingress");
        return 0;
    }
    const char *ip = json_string_value(json_object_get(lb_ingress(svc), "ip"));
    if (ip && st_netalloc_cidr_contains("127.0.0.0/8", ip) && !held_by(h->lbs, ip))
        return 0;
    char picked[INET_ADDRSTRLEN];
    if (pick_ip(h->lbs, ST_NET_LB_FIRST, ST_NET_LB_LAST, picked) < 0)
        return st_error_set(err, ENOSPC,
                            "Service %s: every load balancer address %s..%s is allocated", self,
                            ST_NET_LB_FIRST, ST_NET_LB_LAST);
    if (!json_is_object(st))
        json_object_set_new(svc, "status", st = json_object());
    json_object_set_new(st, "loadBalancer", json_pack("{s:[{s:s}]}", "ingress", "ip", picked));
    return 0;
}

int st_netalloc_service(json_t *svc, json_t *others, st_error *err)
{
    json_t *spec = json_object_get(svc, "spec");
    char self[320];
    snprintf(self, sizeof(self), "%s/%s", md_str(svc, "namespace") ? md_str(svc, "namespace") : "",
             md_str(svc, "name") ? md_str(svc, "name") : "");
    if (!json_is_object(spec))
        return st_error_set(err, EINVAL, "Service %s has no spec", self);
    const char *type = json_string_value(json_object_get(spec, "type"));
    bool lb = type && strcmp(type, "LoadBalancer") == 0;
    bool np = lb || (type && strcmp(type, "NodePort") == 0);
    _cleanup_json_ json_t *before = json_deep_copy(svc);
    struct held h = {json_object(), json_object(), json_object()};
    held_collect(&h, svc, others);
    int r = cluster_ip(spec, &h, self, err);
    if (r == 0)
        r = node_ports(spec, &h, np, self, err);
    if (r == 0)
        r = lb_address(svc, &h, lb, self, err);
    json_decref(h.ips);
    json_decref(h.ports);
    json_decref(h.lbs);
    if (r < 0)
        return r;
    return !json_equal(before, svc);
}
