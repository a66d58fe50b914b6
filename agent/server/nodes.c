/* nodes.c: stratad's node manager. Starts node VMs in worker threads,
 * re-adopts running ones after a restart, turns vmm events into store
 * writes (hello, heartbeats, pod status, logs, deaths), hands answers to
 * api_nodeproxy.c's questions back, and the nodes' silence to liveness.c
 * (which fences). What each live node runs is dispatch.c's; adding and
 * removing nodes is node_admin.c's. */
#include "server_priv.h"
#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/node_report.h"
#include "strata/names.h"
#include "strata/node_proto.h"
#include "strata/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "node-controller"

/* ---- the runtime table ------------------------------------------------- */

/* [lock] held by the caller. */
static struct st_server_node *rt_find(struct st_server *d, const char *name)
{
    for (struct st_server_node *n = d->nodes; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

struct st_server_node *st_server_node_find(struct st_server *d, const char *name)
{
    return rt_find(d, name);
}

struct st_server_node *st_server_node_reset(struct st_server *d, const char *name)
{
    struct st_server_node *n = rt_find(d, name);
    if (n == NULL) {
        n = calloc(1, sizeof(*n));
        if (n == NULL)
            return NULL;
        snprintf(n->name, sizeof(n->name), "%s", name);
        n->next = d->nodes;
        d->nodes = n;
    }
    json_decref(n->sent);
    json_decref(n->reported);
    n->sent = json_object();
    n->reported = json_object();
    n->provisioning = n->connected = n->dead = n->fencing = n->removing = false;
    n->unknown = n->held = false;
    n->last_msg_ns = st_server_now_ns(d);
    n->grace_from_ns = n->unknown_ns = n->ping_sent_ns = 0;
    return n;
}

void st_server_nodes_drain(struct st_server *d)
{
    /* Nodes still waiting for a start slot are not booted now. */
    st_server_node_pool_close(&d->node_pool);
    /* A worker blocks in st_vmm_node_start for at most the ready timeout;
     * the vmm and the store must outlive it. */
    int64_t end = st_vmm_now_ns() + (int64_t)(ST_VMM_READY_TIMEOUT_MS_DEFAULT + 5000) * 1000000;
    bool said = false;
    while (atomic_load(&d->workers) > 0 && st_vmm_now_ns() < end) {
        if (!said) {
            st_server_log("waiting for %d node start%s to finish", atomic_load(&d->workers),
                          atomic_load(&d->workers) == 1 ? "" : "s");
            said = true;
        }
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

void st_server_nodes_free(struct st_server *d)
{
    /* Workers still booting a VM hold no pointer into this table: they
     * look entries up under the lock and stop at d->stopping. */
    pthread_mutex_lock(&d->lock);
    struct st_server_node *n = d->nodes;
    d->nodes = NULL;
    pthread_mutex_unlock(&d->lock);
    while (n) {
        struct st_server_node *next = n->next;
        json_decref(n->sent);
        json_decref(n->reported);
        free(n);
        n = next;
    }
}

json_t *st_server_node_get(struct st_server *d, const char *name)
{
    json_t *obj = NULL;
    if (st_store_get(d->store, "Node", "", name, &obj, NULL) < 0)
        return NULL;
    return obj;
}

const char *st_server_node_phase(json_t *node)
{
    const char *p = json_string_value(
        json_object_get(json_object_get(json_object_get(node, "status"), "strata"), "phase"));
    return p ? p : "";
}

static void set_ready(struct st_server *d, const char *name, const char *status, const char *phase,
                      const char *reason, const char *message)
{
    st_error err = {0};
    if (st_control_node_set_ready(d->store, name, status, phase, reason, message, &err) < 0 &&
        err.code != ENOENT)
        st_server_log("node %s: cannot record %s: %s", name, phase, err.msg);
    st_server_kick(d);
}

void st_server_node_set_ready(struct st_server *d, const char *name, const char *status,
                              const char *phase, const char *reason, const char *message)
{
    set_ready(d, name, status, phase, reason, message);
}

void st_server_node_dead(struct st_server *d, const char *name, const char *why, bool removal)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *n = rt_find(d, name);
    bool already = n && n->dead;
    if (n) {
        n->dead = true;
        n->connected = false;
        json_object_clear(n->sent);
        json_object_clear(n->reported);
    }
    pthread_mutex_unlock(&d->lock);
    if (already)
        return;
    st_server_node_queries_fail(d, name, why);
    st_server_proxy_node_down(d, name);
    st_server_log("node %s is %s: %s", name, removal ? "removed" : "dead", why);
    set_ready(d, name, "False", removal ? "Removing" : "Dead", removal ? "Removing" : "NodeLost",
              why);
    if (!removal)
        st_event_record(d->store, "Node", "", name, "Warning", "NodeLost", COMPONENT, "Node %s: %s",
                        name, why);
    st_server_node_pods_lost(d, name, why);
    st_server_kick(d);
}

void st_server_node_pods_lost(struct st_server *d, const char *name, const char *why)
{
    int lost = 0;
    st_error err = {0};
    if (st_control_node_lost(d->store, name, why, &lost, &err) < 0)
        st_server_log("node %s: marking its pods lost: %s", name, err.msg);
    else if (lost)
        st_server_log("node %s: %d pod%s lost, to be replaced", name, lost, lost == 1 ? "" : "s");
}

/* ---- re-adoption -------------------------------------------------------- */

int st_server_nodes_readopt(struct st_server *d, st_error *err)
{
    st_store_query q = {.kind = "Node"};
    _cleanup_json_ json_t *nodes = NULL;
    int r = st_store_list(d->store, &q, &nodes, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
        const char *ph = st_server_node_phase(n);
        /* Another host's node is its stratad's (or, lost, the leader's);
         * a node requested for this host is booted by the pass. */
        if (!st_server_node_mine(d, n) || strcmp(ph, ST_NODE_PHASE_REQUESTED) == 0)
            continue;
        if (strcmp(ph, "Dead") == 0 || strcmp(ph, "Failed") == 0) {
            pthread_mutex_lock(&d->lock);
            struct st_server_node *rt = st_server_node_reset(d, name);
            if (rt)
                rt->dead = true;
            pthread_mutex_unlock(&d->lock);
            /* Its death is two writes, the Node's phase then its pods: a
             * stratad killed between them left pods Running on a dead node,
             * never replaced (bench/chaos: kill -9 20 ms into a failover).
             * Giving them up again is a no-op when it was done. */
            st_server_node_pods_lost(d, name, "it was dead when stratad started");
            /* Declared lost while this stratad was away (a leader on
             * another host, its lease expired): its pods run elsewhere
             * now, so its VM, if it still runs, must not. */
            st_error derr = {0};
            if (d->hosts && d->vmm.ops->node_destroy(d->vmm.ctx, name, &derr) < 0 &&
                derr.code != ENOENT)
                st_server_log("node %s: destroying the VM of a node stored dead: %s", name,
                              derr.msg);
            continue;
        }
        pthread_mutex_lock(&d->lock);
        st_server_node_reset(d, name);
        pthread_mutex_unlock(&d->lock);
        /* Unknown until its hello (with the pods it runs), and fenced if
         * nothing comes within the grace. Written before the channel is
         * opened: a hello can arrive at once on the event thread, and its
         * Ready must not be overwritten by this (seen in a full-suite run:
         * a node left Adopting for good, its pods never rescheduled). */
        set_ready(d, name, "Unknown", "Adopting", "Adopting",
                  "stratad restarted; waiting for the node's hello");
        st_error aerr = {0};
        if (d->vmm.ops->node_adopt(d->vmm.ctx, name, &aerr) == 0) {
            st_server_log("node %s: re-adopted its running VM", name);
            continue;
        }
        st_server_node_dead(d, name, aerr.msg, false);
    }
    return 0;
}

/* ---- the host's clock to nodes ------------------------------------------- */

/* A node's wall clock starts from the RTC (1 s resolution) and drifts
 * under TCG; the host's goes to it on hello and then at this interval, so
 * the times a node reports (startedAt) never precede the store's own. */
#define CLOCK_EVERY_NS (30LL * 1000000000)

static void send_clock(struct st_server *d, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    _cleanup_json_ json_t *msg = NULL;
    st_error err = {0};
    if (st_proto_clock_build(ms, &msg, &err) < 0 ||
        d->vmm.ops->node_send(d->vmm.ctx, name, msg, &err) < 0) {
        st_server_log("node %s: cannot send the clock: %s", name, err.msg);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = rt_find(d, name);
    if (rt)
        rt->clock_sent_ns = st_server_now_ns(d);
    pthread_mutex_unlock(&d->lock);
}

/* Every connected node whose clock is due gets the host's. */
static void send_clocks(struct st_server *d)
{
    int64_t now = st_server_now_ns(d);
    char due[64][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *rt = d->nodes; rt && n < 64; rt = rt->next)
        if (rt->connected && !rt->dead && !rt->fencing && now - rt->clock_sent_ns >= CLOCK_EVERY_NS)
            snprintf(due[n++], sizeof(due[0]), "%s", rt->name);
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++)
        send_clock(d, due[i]);
}

/* ---- nodes whose hello is awaited ----------------------------------------- */

/* A re-adopted node greets a new host when it sees the old one hang up.
 * On virtio-serial a hangup and a reconnect close together are one event
 * the guest may never see (its loop busy starting a pod), so the node also
 * greets when the host's seq starts again (runtime/node/agent.c), and the
 * host must speak first: a ping now, and again while no hello came (the
 * first may land behind half a line the old stratad left). */
#define GREET_PING_EVERY_NS (2LL * 1000000000)

static void ping_ungreeted(struct st_server *d)
{
    int64_t now = st_server_now_ns(d);
    char due[64][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *rt = d->nodes; rt && n < 64; rt = rt->next)
        if (!rt->connected && !rt->dead && !rt->provisioning && !rt->fencing && !rt->removing &&
            (rt->ping_sent_ns == 0 || now - rt->ping_sent_ns >= GREET_PING_EVERY_NS)) {
            rt->ping_sent_ns = now;
            snprintf(due[n++], sizeof(due[0]), "%s", rt->name);
        }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++) {
        _cleanup_json_ json_t *msg = NULL;
        /* a node whose channel is not open yet is tried at the next round */
        if (st_proto_ping_build(0, &msg, NULL) == 0)
            d->vmm.ops->node_send(d->vmm.ctx, due[i], msg, NULL);
    }
}

/* ---- messages from nodes ------------------------------------------------ */

/* The pods a node reports (hello) become what was sent to it: a restarted
 * stratad then never sends them a second time. */
static void remember_pods(struct st_server *d, const char *name, json_t *pods)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = rt_find(d, name);
    if (rt) {
        json_object_clear(rt->sent);
        size_t i;
        json_t *p;
        json_array_foreach(pods, i, p)
        {
            const char *uid = json_string_value(json_object_get(p, "uid"));
            const char *pod = json_string_value(json_object_get(p, "pod"));
            if (uid)
                json_object_set_new(rt->sent, uid, json_string(pod ? pod : ""));
        }
    }
    pthread_mutex_unlock(&d->lock);
}

static void on_hello(struct st_server *d, const char *name, json_t *msg)
{
    struct st_proto_hello h;
    st_error err = {0};
    if (st_proto_hello_parse(msg, &h, &err) < 0) {
        st_server_log("node %s: bad hello: %s", name, err.msg);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = rt_find(d, name);
    if (rt) {
        rt->connected = true;
        rt->last_msg_ns = st_server_now_ns(d);
    }
    pthread_mutex_unlock(&d->lock);
    remember_pods(d, name, h.pods);
    char cpu[32], mem[32];
    snprintf(cpu, sizeof(cpu), "%lldm", (long long)h.cpu_millis);
    snprintf(mem, sizeof(mem), "%lldKi", (long long)(h.memory_bytes / 1024));
    /* nodeInfo as a kubelet reports it, so `kubectl get nodes -o wide`
     * fills its VERSION, OS-IMAGE and CONTAINER-RUNTIME columns: the node
     * agent and its runtime are strata-node's (one binary, one version). */
    const char *ver = h.version && *h.version ? h.version : "unknown";
    char agent[64], runtime[64];
    snprintf(agent, sizeof(agent), "strata-node-v%s", ver);
    snprintf(runtime, sizeof(runtime), "strata://%s", ver);
    _cleanup_json_ json_t *patch = json_pack(
        "{s:{s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:I, s:I, s:s}}}", "status",
        "capacity", "cpu", cpu, "memory", mem, "nodeInfo", "kernelVersion",
        h.kernel ? h.kernel : "", "kubeletVersion", agent, "containerRuntimeVersion", runtime,
        "osImage", "Strata node (busybox initramfs)", "operatingSystem", "linux", "architecture",
        "amd64", "strata", "cpuMillis", (json_int_t)h.cpu_millis, "memoryBytes",
        (json_int_t)h.memory_bytes, "agentVersion", h.version ? h.version : "");
    st_control_node_patch(d->store, name, patch, NULL);
    set_ready(d, name, "True", "Ready", "NodeReady", "strata-node said hello");
    st_server_log("node %s: hello (%lld mCPU, %lld MiB, kernel %s, %zu pods)", name,
                  (long long)h.cpu_millis, (long long)(h.memory_bytes >> 20), h.kernel,
                  json_array_size(h.pods));
    /* Pods it reports are running: their status is news to the store. */
    size_t i;
    json_t *p;
    json_array_foreach(h.pods, i, p)
    {
        json_t *m = json_deep_copy(p);
        json_object_set_new(m, "type", json_string(ST_PROTO_POD_STATUS));
        json_object_set_new(m, "seq", json_integer(0));
        st_server_pod_status(d, name, m, NULL);
        json_decref(m);
    }
    send_clock(d, name);
    st_server_proxy_node_up(d, name);
}

static void on_log(struct st_server *d, const char *node, json_t *msg)
{
    struct st_proto_log lg;
    if (st_proto_log_parse(msg, &lg, NULL) < 0)
        return;
    const char *ns = json_string_value(json_object_get(msg, "namespace"));
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", ns ? ns : "default", lg.pod);
    (void)node;
    pthread_mutex_lock(&d->lock);
    json_t *entry = json_object_get(d->logs, key);
    if (entry == NULL) {
        entry = json_pack("{s:I, s:[]}", "dropped", (json_int_t)0, "lines");
        json_object_set_new(d->logs, key, entry);
    }
    json_t *lines = json_object_get(entry, "lines");
    json_array_append_new(lines, json_string(lg.line));
    if (json_array_size(lines) > ST_SERVER_LOG_LINES) {
        json_array_remove(lines, 0);
        json_object_set_new(
            entry, "dropped",
            json_integer(json_integer_value(json_object_get(entry, "dropped")) + 1));
    }
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

/* What the node's kubelet-style agent saw happen to a pod (probe failures,
 * kills, back-off) becomes an Event about the pod, from the kubelet of
 * that node. The node limits how often it repeats one. */
static void on_pod_event(struct st_server *d, const char *node, json_t *msg)
{
    struct st_proto_event ev;
    st_error err = {0};
    if (st_proto_event_parse(msg, &ev, &err) < 0) {
        st_server_log("node %s: bad event: %s", node, err.msg);
        return;
    }
    char component[96];
    snprintf(component, sizeof(component), "kubelet/%s", node);
    st_event_record(d->store, "Pod", ev.ns ? ev.ns : "default", ev.pod, ev.event_type, ev.reason,
                    component, "%s", ev.message);
}

static void on_message(struct st_server *d, st_vmm_event *ev)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = rt_find(d, ev->node);
    bool dead = rt == NULL || rt->dead;
    if (rt && !dead)
        rt->last_msg_ns = ev->mono_ns;
    bool connected = rt && rt->connected;
    pthread_mutex_unlock(&d->lock);
    if (dead)
        return;
    st_server_liveness_heard(d, ev->node);
    if (strcmp(ev->type, ST_PROTO_HELLO) == 0) {
        on_hello(d, ev->node, ev->msg);
        return;
    }
    if (!connected) {
        /* Messages before hello (an adopted node mid-greeting) still prove
         * it alive; their content waits for the hello. */
        return;
    }
    if (strcmp(ev->type, ST_PROTO_POD_STATUS) == 0) {
        st_error err = {0};
        int r = st_server_pod_status(d, ev->node, ev->msg, &err);
        if (r < 0)
            st_server_log("node %s: pod status: %s", ev->node, err.msg);
        st_server_kick(d);
    } else if (strcmp(ev->type, ST_PROTO_LOG) == 0) {
        on_log(d, ev->node, ev->msg);
    } else if (strcmp(ev->type, ST_PROTO_EVENT) == 0) {
        on_pod_event(d, ev->node, ev->msg);
    } else if (strcmp(ev->type, ST_PROTO_PODS) == 0) {
        st_server_node_queries_answer(d, ev->node, ev->msg);
    }
}

int st_server_pod_status(struct st_server *d, const char *node, json_t *msg, st_error *err)
{
    int r = st_server_pod_report_apply(d->store, node, msg, err);
    const char *uid = json_string_value(json_object_get(msg, "uid"));
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = rt_find(d, node);
    if (rt && rt->reported && uid) {
        /* kept also when the store is unreachable: written when it is back
         * (server.c) */
        if (r > 0 || r == -ST_ESTORE_DOWN)
            json_object_set(rt->reported, uid, msg);
        else if (r == 0)
            json_object_del(rt->reported, uid);
    }
    pthread_mutex_unlock(&d->lock);
    return r;
}

void st_server_nodes_drain_events(struct st_server *d)
{
    st_vmm_event ev;
    st_error err = {0};
    /* Bounded per pass so the controllers run even under a message flood. */
    for (int k = 0; k < 1000 && d->vmm.ops->event_next(d->vmm.ctx, 0, &ev, &err) == 1; k++) {
        if (ev.kind == ST_VMM_EVENT_DEAD) {
            char why[256];
            const char *cause = st_node_death_name(ev.cause);
            if (ev.detail[0] && strcmp(ev.detail, cause) != 0)
                snprintf(why, sizeof(why), "%s (%s)", cause, ev.detail);
            else
                snprintf(why, sizeof(why), "%s", cause);
            pthread_mutex_lock(&d->lock);
            struct st_server_node *rt = rt_find(d, ev.node);
            bool starting = rt && rt->provisioning;
            bool others = rt && (rt->fencing || rt->removing);
            pthread_mutex_unlock(&d->lock);
            /* A VM dying before hello is the start worker's failure; one
             * dying while fenced is the fence worker's to declare, once it
             * confirmed its QEMU is gone; one being removed, node rm's. */
            if (!starting && !others)
                st_server_node_dead(d, ev.node, why, false);
        } else if (ev.kind == ST_VMM_EVENT_MESSAGE) {
            on_message(d, &ev);
        }
        st_vmm_event_clear(&ev);
    }
    send_clocks(d);
    ping_ungreeted(d);
}

void st_server_nodes_events(struct st_server *d)
{
    st_server_nodes_drain_events(d);
    st_server_node_queries_send(d);
    st_server_liveness_check(d);
}
