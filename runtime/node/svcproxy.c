/* svcproxy.c: the guest side of the Services' data path. strata-node's
 * relay (strata/relay.h) listens on every clusterIP:port of the host's
 * snapshot (the service CIDR is local on lo, see podnet.c) and sends each
 * connection to a ready backend, round-robin: a backend on this node's pod
 * network is connected directly, any other goes to the host as a stream on
 * the data port (org.strata.data.0, channel "host"), and stratad takes it
 * on (another node's pod, or a host service on loopback). Streams the host
 * opens towards this node may only reach this node's pods.
 *
 * The data port is not the node channel: heartbeats never wait for it.
 * The relay runs on its own thread and calls pick/resolve there; the
 * listener table is changed only on strata-node's loop thread and read
 * under a mutex, which is never held across a call into the relay. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct listener {
    char key[ST_RELAY_NAME_MAX + 16]; /* "ns/name:port" */
    char addr[ST_RELAY_ADDR_MAX];     /* "clusterIP:port" */
    struct st_relay_target *targets;  /* one per backend, in snapshot order */
    size_t n_targets;
    unsigned next; /* round-robin position */
    bool listening;
    bool seen; /* in the snapshot being applied */
    struct listener *next_l;
};

struct st_node_svcproxy {
    pthread_mutex_t lock; /* the listeners' targets and positions */
    struct st_node_cidr pod_cidr;
    const struct st_node_svcproxy_ops *ops;
    void *ops_ctx;
    struct listener *head;
    st_relay *relay;
    bool no_port_logged;
};

static void listener_free(struct listener *l)
{
    if (l) {
        free(l->targets);
        free(l);
    }
}

static struct listener *listener_find(struct st_node_svcproxy *sp, const char *key)
{
    for (struct listener *l = sp->head; l; l = l->next_l)
        if (strcmp(l->key, key) == 0)
            return l;
    return NULL;
}

/* A backend of this node's pod network is reached directly; any other
 * through the host. */
static void target_for(const struct st_node_svcproxy *sp, const char *backend,
                       struct st_relay_target *t)
{
    uint32_t a = 0;
    int port = 0;
    bool mine = st_proto_ipv4_parse(backend, &a, &port) && st_node_cidr_contains(&sp->pod_cidr, a);
    snprintf(t->channel, sizeof(t->channel), "%s", mine ? "" : ST_NODE_SVCPROXY_HOST_CHANNEL);
    snprintf(t->addr, sizeof(t->addr), "%s", backend);
}

int st_node_svcproxy_pick(void *opaque, const char *key, const char *from,
                          struct st_relay_target *out, int max, st_error *err)
{
    (void)from;
    struct st_node_svcproxy *sp = opaque;
    pthread_mutex_lock(&sp->lock);
    struct listener *l = listener_find(sp, key);
    int n = 0;
    if (l && l->n_targets > 0) {
        size_t start = l->next++ % l->n_targets;
        /* from the next in turn, then the others in order: the relay tries
         * them one after another when one cannot be reached */
        for (size_t i = 0; i < l->n_targets && n < max; i++)
            out[n++] = l->targets[(start + i) % l->n_targets];
    }
    pthread_mutex_unlock(&sp->lock);
    if (n == 0)
        return st_error_set(err, ECONNREFUSED,
                            "service %s has no ready endpoint (no pod behind it is Ready)", key);
    return n;
}

int st_node_svcproxy_resolve(void *opaque, const char *key, const char *from,
                             struct st_relay_target *out, int max, st_error *err)
{
    struct st_node_svcproxy *sp = opaque;
    uint32_t a = 0;
    int port = 0;
    if (max < 1 || !st_proto_ipv4_parse(key, &a, &port) ||
        !st_node_cidr_contains(&sp->pod_cidr, a)) {
        char net[16];
        st_node_ipv4_str(sp->pod_cidr.addr, net);
        return st_error_set(err, EACCES,
                            "this node connects streams from %s only to its own pods (%s/%d); "
                            "%s is not one of them",
                            from ? from : "a channel", net, sp->pod_cidr.prefix, key);
    }
    memset(&out[0], 0, sizeof(out[0]));
    snprintf(out[0].addr, sizeof(out[0].addr), "%s", key);
    return 1;
}

/* ---- the relay -------------------------------------------------------- */

static int relay_listen(void *ctx, const char *key, const char *addr, st_error *err)
{
    struct st_node_svcproxy *sp = ctx;
    return st_relay_listen(sp->relay, key, addr, st_node_svcproxy_pick, sp, err);
}

static void relay_unlisten(void *ctx, const char *key)
{
    struct st_node_svcproxy *sp = ctx;
    st_relay_unlisten(sp->relay, key);
}

static const struct st_node_svcproxy_ops relay_ops = {relay_listen, relay_unlisten};

int st_node_svcproxy_new(const struct st_node_cidr *pod_cidr,
                         const struct st_node_svcproxy_ops *ops, void *ops_ctx,
                         struct st_node_svcproxy **out, st_error *err)
{
    struct st_node_svcproxy *sp = calloc(1, sizeof(*sp));
    if (sp == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&sp->lock, NULL);
    sp->pod_cidr = *pod_cidr;
    sp->ops = ops;
    sp->ops_ctx = ops_ctx;
    if (ops == NULL) {
        struct st_relay_config rc = {
            .side = ST_RELAY_SIDE_GUEST,
            .resolve = st_node_svcproxy_resolve,
            .opaque = sp,
        };
        int r = st_relay_new(&rc, &sp->relay, err);
        if (r < 0) {
            st_node_svcproxy_free(sp);
            return r;
        }
        sp->ops = &relay_ops;
        sp->ops_ctx = sp;
    }
    *out = sp;
    return 0;
}

void st_node_svcproxy_free(struct st_node_svcproxy *sp)
{
    if (sp == NULL)
        return;
    st_relay_free(sp->relay);
    while (sp->head) {
        struct listener *l = sp->head;
        sp->head = l->next_l;
        listener_free(l);
    }
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

/* (Re)opens the data port as channel "host" when it is not up: called on
 * every snapshot, which the host sends after each hello, so a port that
 * read EOF while no host was there is taken up again. */
static void data_port_ensure(struct st_node_svcproxy *sp)
{
    if (sp->relay == NULL || st_relay_channel_up(sp->relay, ST_NODE_SVCPROXY_HOST_CHANNEL))
        return;
    char dev[PATH_MAX];
    st_error err = {0};
    int fd = -1;
    if (st_node_virtio_port_find(ST_PROTO_DATA_PORT_NAME, dev, sizeof(dev), &err) == 0 &&
        (fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        st_error_sys(&err, errno, "cannot open %s", dev);
    if (fd < 0) {
        if (!sp->no_port_logged)
            st_node_log("service proxy: no data port (%s): Services backed by other nodes or "
                        "the host are unreachable from here",
                        err.msg);
        sp->no_port_logged = true;
        return;
    }
    if (st_relay_channel_add(sp->relay, ST_NODE_SVCPROXY_HOST_CHANNEL, fd, &err) < 0)
        st_node_log("service proxy: %s", err.msg);
    else
        st_node_log("service proxy: data port %s (%s) is the channel to the host", dev,
                    ST_PROTO_DATA_PORT_NAME);
}

/* Targets of one port's backends (checked by st_proto_services_parse). */
static int targets_of(struct st_node_svcproxy *sp, json_t *backends, struct st_relay_target **out,
                      size_t *n)
{
    *n = json_array_size(backends);
    *out = NULL;
    if (*n == 0)
        return 0;
    *out = calloc(*n, sizeof(**out));
    if (*out == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++)
        target_for(sp, json_string_value(json_array_get(backends, i)), &(*out)[i]);
    return 0;
}

/* Applies one port of the snapshot under the lock: an unchanged listener
 * only gets the new backends; a new one is linked (listened on later). */
static int apply_port(struct st_node_svcproxy *sp, const char *key, const char *addr,
                      json_t *backends)
{
    struct st_relay_target *t = NULL;
    size_t n = 0;
    if (targets_of(sp, backends, &t, &n) < 0)
        return -ENOMEM;
    struct listener *l = listener_find(sp, key);
    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        if (l == NULL) {
            free(t);
            return -ENOMEM;
        }
        snprintf(l->key, sizeof(l->key), "%s", key);
        l->next_l = sp->head;
        sp->head = l;
    }
    if (strcmp(l->addr, addr) != 0) {
        snprintf(l->addr, sizeof(l->addr), "%s", addr);
        l->listening = false;
    }
    free(l->targets);
    l->targets = t;
    l->n_targets = n;
    l->seen = true;
    return 0;
}

int st_node_svcproxy_update(struct st_node_svcproxy *sp, json_t *services, st_error *err)
{
    data_port_ensure(sp);
    int r = 0;
    pthread_mutex_lock(&sp->lock);
    for (struct listener *l = sp->head; l; l = l->next_l)
        l->seen = false;
    size_t i, j;
    json_t *svc, *port;
    json_array_foreach(services, i, svc)
    {
        const char *ns = json_string_value(json_object_get(svc, "namespace"));
        const char *name = json_string_value(json_object_get(svc, "name"));
        const char *ip = json_string_value(json_object_get(svc, "clusterIP"));
        json_array_foreach(json_object_get(svc, "ports"), j, port)
        {
            int p = (int)json_integer_value(json_object_get(port, "port"));
            char key[ST_RELAY_NAME_MAX + 16], addr[ST_RELAY_ADDR_MAX];
            snprintf(key, sizeof(key), "%s/%s:%d", ns, name, p);
            snprintf(addr, sizeof(addr), "%s:%d", ip, p);
            if (r == 0 && apply_port(sp, key, addr, json_object_get(port, "backends")) < 0)
                r = st_error_set(err, ENOMEM, "service proxy: out of memory");
        }
    }
    /* gone from the snapshot: out of the table now, unlistened below */
    struct listener *gone = NULL;
    for (struct listener **pp = &sp->head; *pp;) {
        struct listener *l = *pp;
        if (l->seen || r < 0) {
            pp = &l->next_l;
            continue;
        }
        *pp = l->next_l;
        l->next_l = gone;
        gone = l;
    }
    pthread_mutex_unlock(&sp->lock);

    /* the relay is called without the lock: its thread may be in pick */
    while (gone) {
        struct listener *l = gone;
        gone = l->next_l;
        if (l->listening && sp->ops)
            sp->ops->unlisten(sp->ops_ctx, l->key);
        listener_free(l);
    }
    /* only this thread changes the list, so it is walked unlocked here */
    for (struct listener *l = sp->head; l && sp->ops; l = l->next_l) {
        if (l->listening)
            continue;
        st_error lerr = {0};
        if (sp->ops->listen(sp->ops_ctx, l->key, l->addr, &lerr) < 0)
            st_node_log("service proxy: %s: cannot listen on %s: %s", l->key, l->addr, lerr.msg);
        else
            l->listening = true;
    }
    return r;
}
