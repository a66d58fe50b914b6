/* proxy.c: the host side of Services. stratad's relay (runtime/relay)
 * listens where the host reaches a Service (a LoadBalancer's own
 * 127.1.x.y, a NodePort on 127.0.0.1) and for port-forwards, and sends each
 * connection to a ready endpoint over that endpoint's node data port; it
 * also carries streams a node opens: to a pod on another node, or to a
 * host address a selector-less Service's Endpoints publish (a database on
 * 127.0.0.1). Every pass turns the store's Services and Endpoints into
 * listeners and the `services` snapshot the nodes get (proxy_plan.c).
 * The relay runs on its own thread and asks for routes through
 * pick/resolve, which read only this file's tables under proxy->lock. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/controller.h"
#include "strata/netalloc.h"
#include "strata/node_proto.h"
#include "strata/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define COMPONENT "service-proxy"
/* Service connections open at once, at most (the relay refuses more). */
#define ST_SERVER_PROXY_STREAMS_MAX 4096
/* Descriptors kept for everything else stratad opens. */
#define ST_SERVER_PROXY_FD_RESERVE 256

struct st_server_proxy {
    st_relay *relay;
    pthread_mutex_t lock;
    json_t *routes;     /* [lock] listener key -> {backends:[{addr,node}], why, rr} */
    json_t *cidrs;      /* [lock] node -> podCIDR */
    json_t *host_addrs; /* [lock] "127.x.y.z:port" nodes may open (Endpoints publish them) */
    /* the loop thread's own */
    json_t *listening; /* key -> "IP:PORT" it listens on */
    json_t *failed;    /* key -> the error last recorded for it */
    char *snapshot;    /* the services snapshot as last sent (compact JSON) */
    unsigned long forwards;
};

/* ---- routes (relay thread, under proxy->lock) ------------------------------ */

static bool is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0;
}

/* Where one backend "IP:PORT" is reached from the host: loopback directly,
 * a pod address through its node's data port. node may name the node. */
static int route_one(struct st_server_proxy *p, const char *addr, const char *node,
                     struct st_relay_target *t)
{
    *t = (struct st_relay_target){0};
    snprintf(t->addr, sizeof(t->addr), "%s", addr);
    if (is_loopback(addr))
        return 0;
    if (node && *node) {
        snprintf(t->channel, sizeof(t->channel), "%s", node);
        return 0;
    }
    char ip[INET_ADDRSTRLEN];
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    if (n >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, addr, n);
    ip[n] = '\0';
    const char *name;
    json_t *cidr;
    json_object_foreach(p->cidrs, name, cidr)
    {
        if (st_netalloc_cidr_contains(json_string_value(cidr), ip)) {
            snprintf(t->channel, sizeof(t->channel), "%s", name);
            return 0;
        }
    }
    return -EHOSTUNREACH;
}

static int pick(void *opaque, const char *key, const char *from, struct st_relay_target *out,
                int max, st_error *err)
{
    (void)from;
    struct st_server_proxy *p = opaque;
    pthread_mutex_lock(&p->lock);
    json_t *route = json_object_get(p->routes, key);
    json_t *b = json_object_get(route, "backends");
    size_t n = json_array_size(b);
    int count = 0;
    if (n == 0) {
        const char *why = st_json_str_at(route, "why");
        st_error_set(err, EHOSTUNREACH, "%s", why ? why : "no such listener");
    } else {
        json_int_t rr = json_integer_value(json_object_get(route, "rr"));
        json_object_set_new(route, "rr", json_integer(rr + 1));
        for (size_t i = 0; i < n && count < max; i++) {
            json_t *be = json_array_get(b, ((size_t)rr + i) % n);
            if (route_one(p, st_json_str_at(be, "addr"), st_json_str_at(be, "node"), &out[count]) ==
                0)
                count++;
        }
        if (count == 0)
            st_error_set(err, EHOSTUNREACH, "no endpoint of %s is on a known node", key);
    }
    pthread_mutex_unlock(&p->lock);
    return count > 0 ? count : -EHOSTUNREACH;
}

/* An OPEN from a node: to a pod (on any node), or to a host address that
 * some Endpoints publish. Nothing else: the host connects only to loopback
 * addresses it was told about, never out. */
static int resolve(void *opaque, const char *key, const char *from, struct st_relay_target *out,
                   int max, st_error *err)
{
    struct st_server_proxy *p = opaque;
    if (max < 1)
        return 0;
    pthread_mutex_lock(&p->lock);
    int r;
    if (is_loopback(key) && json_object_get(p->host_addrs, key) == NULL)
        r = st_error_set(err, EACCES,
                         "%s on the host is not an address of any Endpoints; publish it with a "
                         "selector-less Service and Endpoints to reach it from pods",
                         key);
    else if ((r = route_one(p, key, NULL, out)) < 0)
        r = st_error_set(err, EHOSTUNREACH,
                         "%s (asked by node %s): the host connects only to pod addresses and to "
                         "the loopback addresses of Endpoints",
                         key, from ? from : "?");
    pthread_mutex_unlock(&p->lock);
    return r < 0 ? r : 1;
}

/* ---- life --------------------------------------------------------------------- */

int st_server_proxy_open(struct st_server *d, st_error *err)
{
    struct st_server_proxy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    p->routes = json_object();
    p->cidrs = json_object();
    p->host_addrs = json_object();
    p->listening = json_object();
    p->failed = json_object();
    d->proxy = p;
    if (!p->routes || !p->cidrs || !p->host_addrs || !p->listening || !p->failed)
        return st_error_set(err, ENOMEM, "out of memory");
    /* Each stream holds one descriptor here: take the hard limit, and
     * bound the streams well inside it, so thousands of clients are
     * refused (counted) before stratad runs out of descriptors for its
     * API, PostgreSQL and node channels. */
    struct rlimit nofile;
    unsigned max_streams = ST_SERVER_PROXY_STREAMS_MAX;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        if (nofile.rlim_cur < nofile.rlim_max) {
            nofile.rlim_cur = nofile.rlim_max;
            setrlimit(RLIMIT_NOFILE, &nofile);
            getrlimit(RLIMIT_NOFILE, &nofile);
        }
        if (nofile.rlim_cur != RLIM_INFINITY &&
            nofile.rlim_cur < (rlim_t)max_streams + ST_SERVER_PROXY_FD_RESERVE)
            max_streams = nofile.rlim_cur > 2 * ST_SERVER_PROXY_FD_RESERVE
                              ? (unsigned)(nofile.rlim_cur - ST_SERVER_PROXY_FD_RESERVE)
                              : (unsigned)(nofile.rlim_cur / 2);
    }
    struct st_relay_config rc = {
        .side = ST_RELAY_SIDE_HOST, .resolve = resolve, .opaque = p, .max_streams = max_streams};
    int r = st_relay_new(&rc, &p->relay, err);
    if (r < 0)
        st_error_prefix(err, "the Service proxy: ");
    return r;
}

void st_server_proxy_close(struct st_server *d)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return;
    st_relay_free(p->relay);
    json_decref(p->routes);
    json_decref(p->cidrs);
    json_decref(p->host_addrs);
    json_decref(p->listening);
    json_decref(p->failed);
    free(p->snapshot);
    pthread_mutex_destroy(&p->lock);
    free(p);
    d->proxy = NULL;
}

static void send_snapshot(struct st_server *d, const char *node)
{
    struct st_server_proxy *p = d->proxy;
    if (p->snapshot == NULL)
        return;
    _cleanup_json_ json_t *services = json_loads(p->snapshot, 0, NULL);
    _cleanup_json_ json_t *msg = NULL;
    st_error err = {0};
    if (services == NULL || st_proto_services_build(services, &msg, &err) < 0 ||
        d->vmm.ops->node_send(d->vmm.ctx, node, msg, &err) < 0)
        st_server_log("node %s: sending the Services: %s", node, err.msg);
}

void st_server_proxy_node_up(struct st_server *d, const char *name)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return;
    _cleanup_json_ json_t *node = st_server_node_get(d, name);
    const char *cidr = st_json_str_at(json_object_get(node, "spec"), "podCIDR");
    pthread_mutex_lock(&p->lock);
    if (cidr)
        json_object_set_new(p->cidrs, name, json_string(cidr));
    pthread_mutex_unlock(&p->lock);
    int fd = -1;
    st_error err = {0};
    if (d->vmm.ops->node_data_connect(d->vmm.ctx, name, &fd, &err) < 0 ||
        st_relay_channel_add(p->relay, name, fd, &err) < 0) {
        st_server_log("node %s: no data port, its pods get no Service traffic: %s", name, err.msg);
        st_event_record(d->store, "Node", "", name, "Warning", "DataPortFailed", COMPONENT,
                        "the data port (Service traffic) could not be opened: %s", err.msg);
    }
    send_snapshot(d, name);
}

void st_server_proxy_node_down(struct st_server *d, const char *name)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return;
    st_relay_channel_remove(p->relay, name);
    pthread_mutex_lock(&p->lock);
    json_object_del(p->cidrs, name);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the pass ------------------------------------------------------------------- */

struct cond_arg {
    const char *status, *reason, *message;
};

/* status.conditions[type=Listening] of a Service (metav1.Condition). */
static int set_listening(json_t *svc, void *arg, st_error *err)
{
    (void)err;
    struct cond_arg *c = arg;
    return st_condition_set(svc, "Listening", c->status, c->reason, c->message) ? ST_STORE_WRITE
                                                                                : ST_STORE_KEEP;
}

static void service_condition(struct st_server *d, const char *ns, const char *name,
                              const char *status, const char *reason, const char *message)
{
    struct cond_arg c = {status, reason, message};
    st_error err = {0};
    if (st_store_mutate(d->store, "Service", ns, name, set_listening, &c, NULL, &err) < 0 &&
        err.code != ENOENT)
        st_server_log("service %s/%s: recording its condition: %s", ns, name, err.msg);
    else
        st_server_kick(d);
}

/* A listener that cannot listen (the port is taken on the host) is an
 * Event and a condition on its Service, recorded once per message, and
 * tried again every pass. */
static void listen_failed(struct st_server *d, const char *key, json_t *l, const st_error *err)
{
    struct st_server_proxy *p = d->proxy;
    const char *last = st_json_str_at(p->failed, key);
    if (last && strcmp(last, err->msg) == 0)
        return;
    json_object_set_new(p->failed, key, json_string(err->msg));
    const char *ns = st_json_str_at(l, "namespace"), *svc = st_json_str_at(l, "service");
    st_server_log("service %s/%s: %s", ns, svc, err->msg);
    st_event_record(d->store, "Service", ns, svc, "Warning", "ListenFailed", COMPONENT,
                    "cannot listen on %s: %s", st_json_str_at(l, "listen"), err->msg);
    service_condition(d, ns, svc, "False", "ListenFailed", err->msg);
}

static void listen_ok(struct st_server *d, const char *key, json_t *l)
{
    struct st_server_proxy *p = d->proxy;
    if (json_object_get(p->failed, key) == NULL)
        return;
    json_object_del(p->failed, key);
    service_condition(d, st_json_str_at(l, "namespace"), st_json_str_at(l, "service"), "True",
                      "Listening", st_json_str_at(l, "listen"));
}

static void sync_listeners(struct st_server *d, json_t *want)
{
    struct st_server_proxy *p = d->proxy;
    const char *key;
    json_t *l, *tmp;
    void *it;
    /* gone, or moved to another address */
    json_object_foreach_safe(p->listening, it, key, tmp)
    {
        json_t *w = json_object_get(want, key);
        if (w && strcmp(st_json_str_at(w, "listen"), json_string_value(tmp)) == 0)
            continue;
        st_relay_unlisten(p->relay, key);
        json_object_del(p->listening, key);
    }
    json_object_foreach_safe(p->failed, it, key, tmp)
    {
        if (json_object_get(want, key) == NULL)
            json_object_del(p->failed, key);
    }
    json_object_foreach(want, key, l)
    {
        if (json_object_get(p->listening, key))
            continue;
        st_error err = {0};
        if (st_relay_listen(p->relay, key, st_json_str_at(l, "listen"), pick, p, &err) < 0) {
            listen_failed(d, key, l, &err);
            continue;
        }
        json_object_set_new(p->listening, key, json_string(st_json_str_at(l, "listen")));
        listen_ok(d, key, l);
    }
}

/* The routes the relay thread reads: every listener's backends (and why
 * there are none), keeping each round-robin position; port-forwards are
 * the API's and stay. */
static void set_routes(struct st_server_proxy *p, json_t *want, json_t *endpoints)
{
    _cleanup_json_ json_t *hosts = json_object();
    size_t i, j, k;
    json_t *e, *subset, *a, *port;
    json_array_foreach(endpoints, i, e) json_array_foreach(json_object_get(e, "subsets"), j, subset)
    {
        json_array_foreach(json_object_get(subset, "addresses"), k, a)
        {
            const char *ip = st_json_str_at(a, "ip");
            size_t m;
            json_array_foreach(json_object_get(subset, "ports"), m, port)
            {
                char addr[64];
                snprintf(addr, sizeof(addr), "%s:%lld", ip ? ip : "",
                         (long long)json_integer_value(json_object_get(port, "port")));
                if (ip && is_loopback(ip))
                    json_object_set_new(hosts, addr, json_true());
            }
        }
    }
    pthread_mutex_lock(&p->lock);
    const char *key;
    json_t *r, *tmp;
    void *it;
    json_object_foreach_safe(p->routes, it, key, tmp)
    {
        if (strncmp(key, "pf/", 3) != 0 && json_object_get(want, key) == NULL)
            json_object_del(p->routes, key);
    }
    json_object_foreach(want, key, r)
    {
        json_t *old = json_object_get(p->routes, key);
        json_int_t rr = json_integer_value(json_object_get(old, "rr"));
        char why[300];
        snprintf(why, sizeof(why),
                 "Service %s/%s has no ready endpoints (no pod matches its selector, or none is "
                 "ready)",
                 st_json_str_at(r, "namespace"), st_json_str_at(r, "service"));
        json_object_set_new(p->routes, key,
                            json_pack("{s:O, s:s, s:I}", "backends", json_object_get(r, "backends"),
                                      "why", why, "rr", rr));
    }
    json_decref(p->host_addrs);
    p->host_addrs = json_incref(hosts);
    pthread_mutex_unlock(&p->lock);
}

void st_server_proxy_sync(struct st_server *d)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return;
    st_error err = {0};
    _cleanup_json_ json_t *services = NULL, *endpoints = NULL, *want = NULL, *snap = NULL;
    st_store_query sq = {.kind = "Service"}, eq = {.kind = "Endpoints"};
    if (st_store_list(d->store, &sq, &services, &err) < 0 ||
        st_store_list(d->store, &eq, &endpoints, &err) < 0) {
        st_server_log("service proxy: %s", err.msg);
        return;
    }
    if (st_server_proxy_plan(services, endpoints, &want, &snap) < 0)
        return;
    set_routes(p, want, endpoints);
    sync_listeners(d, want);
    _cleanup_free_ char *text = json_dumps(snap, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL || (p->snapshot && strcmp(p->snapshot, text) == 0))
        return;
    free(p->snapshot);
    p->snapshot = st_steal_ptr(&text);
    /* every node that said hello gets it */
    _cleanup_json_ json_t *names = json_array();
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *n = d->nodes; n; n = n->next)
        if (n->connected && !n->dead)
            json_array_append_new(names, json_string(n->name));
    pthread_mutex_unlock(&d->lock);
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm) send_snapshot(d, json_string_value(nm));
}

/* ---- port-forward ---------------------------------------------------------------- */

int st_server_proxy_forward(struct st_server *d, const char *listen, const char *backend,
                            const char *node, char *key, size_t key_len, int *port, st_error *err)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return st_error_set(err, ENOTSUP, "this stratad has no Service proxy");
    pthread_mutex_lock(&p->lock);
    snprintf(key, key_len, "pf/%lu", ++p->forwards);
    json_object_set_new(p->routes, key,
                        json_pack("{s:[{s:s, s:s}], s:s, s:I}", "backends", "addr", backend, "node",
                                  node ? node : "", "why", "the port-forward's pod is gone", "rr",
                                  0));
    pthread_mutex_unlock(&p->lock);
    int r = st_relay_listen(p->relay, key, listen, pick, p, err);
    if (r == 0)
        r = st_relay_listener_port(p->relay, key);
    if (r < 0) {
        st_server_proxy_unforward(d, key);
        return r;
    }
    *port = r;
    return 0;
}

void st_server_proxy_unforward(struct st_server *d, const char *key)
{
    struct st_server_proxy *p = d->proxy;
    if (p == NULL)
        return;
    st_relay_unlisten(p->relay, key);
    pthread_mutex_lock(&p->lock);
    json_object_del(p->routes, key);
    pthread_mutex_unlock(&p->lock);
}
