/* liveness.c: stratad's node liveness: when a silent node is fenced, and
 * the fence itself. Only a node that is really silent is fenced:
 * - stratad judges silence only over time it was itself running and able
 *   to read: a long gap between its passes (it was stopped, swapped out,
 *   paused with its host) gives every node a fresh grace, and before a node
 *   is judged, what its channel already delivered is read (st_vmm_sync);
 * - when many nodes are silent at once, the host is the likelier culprit:
 *   none is fenced (agent/node_liveness.c has the rule);
 * - fences are rate-limited, and run in a worker: QEMU is killed through a
 *   pidfd and only its confirmed exit lets the node's pods go elsewhere.
 * A node silent past the grace is shown as Kubernetes shows an unreachable
 * node (Ready Unknown, its pods not ready) until it is heard again or
 * declared dead. The decisions are node_liveness.c's pure functions; this
 * file gathers their inputs and acts. */
#include "server_priv.h"
#include "strata/controller.h"
#include "strata/node_report.h"
#include "strata/node_liveness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "node-controller"
/* Nodes judged per pass (the loop's other tables hold as many). */
#define LIVENESS_NODES_MAX 64
/* Bound on waiting for the vmm event thread before judging. */
#define LIVENESS_SYNC_MS 500
/* At most one fence starts per this. */
#define LIVENESS_FENCE_INTERVAL_MS 1000
/* Heartbeats every quarter of the grace (node_liveness.h says why), within
 * these bounds. */
#define LIVENESS_HEARTBEAT_MIN_MS 100
#define LIVENESS_HEARTBEAT_MAX_MS 1000

#define MS(x) ((int64_t)(x)*1000000)

struct judged {
    char name[64];
    st_liveness_node n;
    bool unknown, held;
};

int st_server_liveness_heartbeat_ms(const struct st_server *d)
{
    int hb = d->cfg.grace_ms / 4;
    if (hb < LIVENESS_HEARTBEAT_MIN_MS)
        hb = LIVENESS_HEARTBEAT_MIN_MS;
    if (hb > LIVENESS_HEARTBEAT_MAX_MS)
        hb = LIVENESS_HEARTBEAT_MAX_MS;
    return hb;
}

static st_liveness_params params(struct st_server *d, int64_t now)
{
    return (st_liveness_params){.now_ns = now,
                                .grace_ns = MS(d->cfg.grace_ms),
                                .last_fence_ns = d->lv.last_fence_ns,
                                .fence_interval_ns = MS(LIVENESS_FENCE_INTERVAL_MS)};
}

/* Snapshots the running nodes and judges them. */
static size_t judge(struct st_server *d, int64_t now, struct judged *j, st_liveness_summary *sum)
{
    st_liveness_node nodes[LIVENESS_NODES_MAX];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *r = d->nodes; r && n < LIVENESS_NODES_MAX; r = r->next) {
        if (r->dead || r->provisioning || r->removing)
            continue;
        snprintf(j[n].name, sizeof(j[n].name), "%s", r->name);
        j[n].n = (st_liveness_node){
            .heard_ns = r->last_msg_ns > r->grace_from_ns ? r->last_msg_ns : r->grace_from_ns,
            .fencing = r->fencing};
        j[n].unknown = r->unknown;
        j[n].held = r->held;
        n++;
    }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++)
        nodes[i] = j[i].n;
    st_liveness_params p = params(d, now);
    st_liveness_judge(&p, nodes, n, sum);
    for (size_t i = 0; i < n; i++)
        j[i].n.verdict = nodes[i].verdict;
    d->lv.next_ns = now + st_liveness_next_ns(&p, nodes, n, MS(ST_SERVER_RESYNC_MS));
    return n;
}

/* ---- stratad's own stall ------------------------------------------------ */

static void restart_grace(struct st_server *d, int64_t now, int64_t gap)
{
    char names[LIVENESS_NODES_MAX][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *r = d->nodes; r && n < LIVENESS_NODES_MAX; r = r->next) {
        if (r->dead || r->provisioning)
            continue;
        r->grace_from_ns = now;
        snprintf(names[n++], sizeof(names[0]), "%s", r->name);
    }
    pthread_mutex_unlock(&d->lock);
    long long ms = (long long)(gap / 1000000);
    st_server_log("stratad stalled for %lld ms (no controller pass): the nodes' silence meanwhile "
                  "is not theirs; node grace restarted for %zu node%s",
                  ms, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        st_event_record(d->store, "Node", "", names[i], "Warning", "StratadStalled", COMPONENT,
                        "stratad stalled for %lld ms; node grace restarted", ms);
}

/* ---- silent nodes ---------------------------------------------------------- */

/* Its pods not ready, and (node_too) the node Ready Unknown: nobody can tell
 * what runs there. The pods first: they are what users watch. */
static void mark_unknown(struct st_server *d, const char *name, const char *message, bool node_too)
{
    int changed = 0;
    st_error err = {0};
    if (st_control_node_pods_unknown(d->store, name, message, &changed, &err) < 0)
        st_server_log("node %s: marking its pods not ready: %s", name, err.msg);
    if (node_too)
        st_server_node_set_ready(d, name, "Unknown", "NotReady", "NodeStatusUnknown", message);
    pthread_mutex_lock(&d->lock);
    struct st_server_node *r = st_server_node_find(d, name);
    if (r && !r->unknown) {
        r->unknown = true;
        r->unknown_ns = st_server_now_ns(d);
    }
    pthread_mutex_unlock(&d->lock);
    st_server_log("node %s: %s; %d pod%s marked not ready", name, message, changed,
                  changed == 1 ? "" : "s");
}

static void set_held(struct st_server *d, const char *name, bool held, int64_t fresh_grace_ns)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *r = st_server_node_find(d, name);
    if (r) {
        r->held = held;
        if (fresh_grace_ns)
            r->grace_from_ns = fresh_grace_ns;
    }
    pthread_mutex_unlock(&d->lock);
}

/* Many nodes silent at once: each is marked, with the count, and none is
 * fenced. The Kubernetes node lifecycle controller stops evicting in a full
 * disruption for the same reason: the fault is likelier on this side. */
static void hold(struct st_server *d, struct judged *j, size_t n, const st_liveness_summary *sum)
{
    bool news =
        !d->lv.holding || d->lv.hold_silent != sum->silent || d->lv.hold_judged != sum->judged;
    char msg[160];
    snprintf(msg, sizeof(msg), "%zu of %zu nodes silent at once: suspecting the host, not fencing",
             sum->silent, sum->judged);
    if (!d->lv.holding)
        st_server_log("%s", msg);
    d->lv.holding = true;
    d->lv.hold_silent = sum->silent;
    d->lv.hold_judged = sum->judged;
    for (size_t i = 0; i < n; i++) {
        if (j[i].n.verdict != ST_LIVENESS_HOLD)
            continue;
        if (!j[i].unknown || news)
            mark_unknown(d, j[i].name, msg, true);
        if (!j[i].held) {
            set_held(d, j[i].name, true, 0);
            st_event_record(d->store, "Node", "", j[i].name, "Warning", "FencingHeld", COMPONENT,
                            "%s", msg);
        }
    }
}

/* Fewer than half are silent now: the nodes still silent are judged one by
 * one again, each from a fresh grace, so one that resumes a moment after the
 * others is not fenced for the host's pause. */
static void hold_end(struct st_server *d, struct judged *j, size_t n, int64_t now)
{
    d->lv.holding = false;
    size_t still = 0;
    for (size_t i = 0; i < n; i++) {
        if (!j[i].held)
            continue;
        set_held(d, j[i].name, false, now);
        still++;
    }
    st_server_log("fewer than half of the nodes are silent: judging them one by one again (%zu "
                  "still silent, each with a fresh grace)",
                  still);
}

/* ---- fencing ------------------------------------------------------------- */

struct fence_job {
    struct st_server *d;
    char name[64];
    long long silent_ms;
};

static void *fence_worker(void *arg)
{
    struct fence_job *job = arg;
    struct st_server *d = job->d;
    const char *name = job->name;
    st_vmm_fence_report rep;
    st_error err = {0};
    int r = d->vmm.ops->node_fence(d->vmm.ctx, name, 0, &rep, &err);
    if (r < 0) {
        st_server_log("node %s: %s; its pods stay bound to it; retrying", name, err.msg);
        st_event_record(d->store, "Node", "", name, "Warning", "FenceFailed", COMPONENT,
                        "Cannot confirm that VM %s%s is gone (%s); its pods stay bound to it "
                        "until it is; retrying",
                        ST_NODE_DOMAIN_PREFIX, name, err.msg);
        pthread_mutex_lock(&d->lock);
        struct st_server_node *rt = st_server_node_find(d, name);
        if (rt)
            rt->fencing = false;
        pthread_mutex_unlock(&d->lock);
    } else {
        long long gone_ms = (long long)(rep.gone_ns / 1000000);
        char what[192];
        if (rep.pid)
            snprintf(what, sizeof(what), "QEMU pid %d killed (SIGKILL) and gone in %lld ms",
                     rep.pid, gone_ms);
        else
            snprintf(what, sizeof(what), "%s", rep.how);
        st_server_log("node %s: fenced: %s", name, what);
        st_event_record(d->store, "Node", "", name, "Warning", "Fenced", COMPONENT,
                        "No heartbeat for %lld ms: %s; VM %s%s destroyed", job->silent_ms, what,
                        ST_NODE_DOMAIN_PREFIX, name);
        char why[128];
        snprintf(why, sizeof(why), "fenced after %lld ms without heartbeat", job->silent_ms);
        st_server_node_dead(d, name, why, false);
        /* libvirt learns it last: with QEMU gone this is quick, and nothing
         * waits for it. */
        int64_t t0 = st_server_now_ns(d);
        st_error_clear(&err);
        if (d->vmm.ops->node_destroy(d->vmm.ctx, name, &err) < 0 && err.code != ENOENT)
            st_server_log("node %s: libvirt destroy after the fence: %s", name, err.msg);
        st_server_log("node %s: libvirt told in %lld ms", name,
                      (long long)((st_server_now_ns(d) - t0) / 1000000));
    }
    st_server_kick(d);
    free(job);
    atomic_fetch_sub(&d->workers, 1);
    return NULL;
}

static void fence_start(struct st_server *d, const char *name, int64_t now, int64_t heard_ns)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, name);
    bool go = rt && !rt->dead && !rt->fencing;
    if (go)
        rt->fencing = true;
    pthread_mutex_unlock(&d->lock);
    if (!go)
        return;
    d->lv.last_fence_ns = now;
    struct fence_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        pthread_mutex_lock(&d->lock);
        rt = st_server_node_find(d, name);
        if (rt)
            rt->fencing = false;
        pthread_mutex_unlock(&d->lock);
        return;
    }
    *job = (struct fence_job){.d = d, .silent_ms = (long long)((now - heard_ns) / 1000000)};
    snprintf(job->name, sizeof(job->name), "%s", name);
    st_server_log("node %s: no heartbeat for %lld ms: fencing (killing its QEMU)", name,
                  job->silent_ms);
    st_server_node_set_ready(d, name, "Unknown", "Fencing", "NodeStatusUnknown",
                             "heartbeats stopped; fencing the VM before its pods move");
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&d->workers, 1);
    int r = pthread_create(&th, &attr, fence_worker, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        /* No thread: fence here; the wait is bounded. */
        fence_worker(job);
    }
}

/* ---- the pass -------------------------------------------------------------- */

static bool needs_sync(const struct judged *j, size_t n, const st_liveness_summary *sum)
{
    if (sum->fence >= 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (j[i].n.verdict != ST_LIVENESS_ALIVE && !j[i].unknown)
            return true;
    return false;
}

void st_server_liveness_check(struct st_server *d)
{
    int64_t now = st_server_now_ns(d);
    int64_t gap = 0;
    int64_t threshold =
        st_liveness_stall_threshold_ns(MS(d->cfg.grace_ms), MS(ST_SERVER_RESYNC_MS));
    bool stalled = st_liveness_stalled(d->lv.last_pass_ns, now, threshold, &gap);
    d->lv.last_pass_ns = now;
    if (stalled) {
        restart_grace(d, now, gap);
        d->lv.next_ns = 0;
        return;
    }
    struct judged j[LIVENESS_NODES_MAX];
    st_liveness_summary sum;
    size_t n = judge(d, now, j, &sum);
    if (needs_sync(j, n, &sum)) {
        /* Read what the channels already delivered before calling anyone
         * silent; without that proof, judge nothing this pass. */
        st_error err = {0};
        if (d->vmm.ops->sync(d->vmm.ctx, LIVENESS_SYNC_MS, &err) < 0) {
            st_server_log("not judging node silence this pass: %s", err.msg);
            d->lv.next_ns = 0;
            return;
        }
        st_server_nodes_drain_events(d);
        now = st_server_now_ns(d);
        n = judge(d, now, j, &sum);
    }
    if (sum.hold) {
        hold(d, j, n, &sum);
        return;
    }
    if (d->lv.holding) {
        hold_end(d, j, n, now);
        d->lv.next_ns = 0;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        st_liveness_verdict v = j[i].n.verdict;
        if ((v == ST_LIVENESS_LATE || v == ST_LIVENESS_FENCE) && !j[i].unknown) {
            char msg[128];
            snprintf(msg, sizeof(msg), "no heartbeat for %lld ms",
                     (long long)((now - j[i].n.heard_ns) / 1000000));
            /* A node fenced now gets its Fencing condition from fence_start. */
            mark_unknown(d, j[i].name, msg, v != ST_LIVENESS_FENCE);
        }
    }
    if (sum.fence >= 0)
        fence_start(d, j[sum.fence].name, now, j[sum.fence].n.heard_ns);
}

int st_server_liveness_wait_ms(struct st_server *d, int max_ms)
{
    if (d->lv.next_ns == 0)
        return max_ms;
    int64_t left = (d->lv.next_ns - st_server_now_ns(d)) / 1000000 + 1;
    if (left < 0)
        return 0;
    return left < max_ms ? (int)left : max_ms;
}

void st_server_liveness_heard(struct st_server *d, const char *name)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, name);
    if (rt == NULL || rt->dead || rt->fencing || !rt->unknown) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    rt->unknown = false;
    rt->held = false;
    bool connected = rt->connected;
    long long ms = (long long)((st_server_now_ns(d) - rt->unknown_ns) / 1000000);
    json_t *reports = json_deep_copy(rt->reported);
    pthread_mutex_unlock(&d->lock);
    st_server_log("node %s: heard from again %lld ms after it was marked unknown", name, ms);
    if (connected)
        st_server_node_set_ready(d, name, "True", "Ready", "NodeReady",
                                 "heartbeats resumed after a silence");
    st_event_record(d->store, "Node", "", name, "Normal", "NodeReady", COMPONENT,
                    "Node %s is heard from again (%lld ms after it was marked unknown); its pods' "
                    "last reported status restored",
                    name, ms);
    /* The node's own last word on each pod, as the kubelet re-sends its pod
     * status after a partition. */
    const char *uid;
    json_t *msg;
    json_object_foreach(reports, uid, msg) st_server_pod_report_apply(d->store, name, msg, NULL);
    json_decref(reports);
    st_error err = {0};
    if (st_control_node_pods_known(d->store, name, NULL, &err) < 0)
        st_server_log("node %s: clearing its pods' NodeLost marks: %s", name, err.msg);
    st_server_kick(d);
}
