/* hosts.c: several stratad on one PostgreSQL (issue 17). Each stratad holds
 * its host's lease (kube-node-lease/strata-host-HOST) and tries the leader
 * lease (kube-system/strata-leader); both are renewed by a thread of their
 * own on a connection of their own, with the database's clock. A second
 * thread fences this host (kills its VMs) when the host lease has not been
 * renewed for fence_after_ms, whatever the loop or the store are doing.
 * The loop asks st_server_hosts_leading() before running the controllers
 * and st_server_hosts_may_run() before sending pods, and, as leader, marks
 * the nodes of a host whose lease expired (plus the margin) lost. The
 * timing argument is in ARCHITECTURE.md ("Several hosts"). */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/clock.h"
#include "strata/controller.h"
#include "strata/fs.h"
#include "strata/lease.h"
#include "strata/node_proto.h"
#include "strata/store_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "host-lease"
/* How often the fence thread looks at the clock. */
#define FENCE_CHECK_NS (50LL * 1000000)
/* A renew failing again and again is said at most this often. */
#define RENEW_LOG_EVERY_NS (10LL * 1000000000)
/* A clock skew is reported at most this often. */
#define SKEW_REPORT_NS (60LL * 1000000000)

/* The timings, all from the lease duration D (stratad --lease-ms): renew
 * every D/6, self-fence after D/2, nodes stop their pods after D/3 of
 * silence (within D/6), the leader waits a margin of D/6 past expiry:
 * D/2 + D/3 + D/6 = D <= D + D/6 (strata/lease.h's rule). */
struct timing {
    int duration_ms, renew_ms, fence_after_ms, margin_ms, guest_grace_ms, guest_stop_ms;
};

static void timing_for(int duration_ms, struct timing *t)
{
    *t = (struct timing){.duration_ms = duration_ms,
                         .renew_ms = duration_ms / 6,
                         .fence_after_ms = duration_ms / 2,
                         .margin_ms = duration_ms / 6,
                         .guest_grace_ms = duration_ms / 3,
                         .guest_stop_ms = duration_ms / 6};
}

struct st_server_hosts {
    struct st_server *d;
    st_store *store; /* its own connection: a busy loop never delays a renew */
    struct timing t;
    char holder[ST_LEASE_HOLDER_MAX + 1]; /* HOST/INSTANCE (the state dir's id) */
    char lease[128];                      /* strata-host-HOST */
    pthread_t renew_th, fence_th;
    bool renew_started, fence_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;                    /* [lock] */
    _Atomic int64_t host_ok_ns;   /* send time of the last renew that held the host lease */
    _Atomic int64_t leader_ok_ns; /* the same for the leader lease; 0: not leader */
    atomic_bool fenced;           /* this host fenced itself since it last held its lease */
    _Atomic int64_t skew_ms;      /* db clock - ours, at the last renew */
    int64_t skew_reported_ns;     /* loop only */
    bool was_leader;              /* loop only: for the log line when it changes */
    int64_t renew_logged_ns;      /* renew thread: when it last said a failure */
    int64_t acquire_ms;           /* renew thread: the lease's acquireTime at our last renew */
};

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state dir's own id, made once: a stratad restarted on the same state
 * dir (which it holds locked) is the same holder and takes its lease back
 * at once; another stratad claiming the same host name is not. */
static int instance_id(const char *state_dir, char *out, size_t len, st_error *err)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/host-instance", state_dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    char buf[64] = {0};
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n == 16) {
            snprintf(out, len, "%.16s", buf);
            return 0;
        }
    }
    unsigned char raw[8];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return st_error_sys(err, errno, "cannot make this state dir's host instance id");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    int r = st_fs_write_atomic(path, buf, 16, 0600, err);
    if (r < 0)
        return r;
    snprintf(out, len, "%s", buf);
    return 0;
}

static void self_fence(struct st_server_hosts *h, int64_t silent_ms);

/* ---- the renew thread --------------------------------------------------------- */

static void renew_once(struct st_server_hosts *h)
{
    st_error err = {0};
    st_lease_state st = {0};
    int64_t sent = st_clock_ns(), before = real_ms();
    int r = st_store_lease_try(h->store, ST_LEASE_HOST_NS, h->lease, h->holder, h->t.duration_ms,
                               &st, &err);
    int64_t after = real_ms();
    if (r == 1) {
        /* Taken again rather than renewed (a new acquireTime): it expired
         * since our last renew, so the leader may have replaced this
         * host's pods (a host frozen, SIGSTOP, longer than the lease, and
         * its renew thread first to wake). Fence before the renew counts:
         * otherwise the fence thread would find the lease current and
         * ping the nodes back to life. */
        bool lapsed = h->acquire_ms != 0 && st.acquire_ms != h->acquire_ms;
        h->acquire_ms = st.acquire_ms;
        if (lapsed && !atomic_exchange(&h->fenced, true))
            self_fence(h, (st_clock_ns() - atomic_load(&h->host_ok_ns)) / 1000000);
        atomic_store(&h->host_ok_ns, sent);
        atomic_store(&h->skew_ms, st_lease_clock_skew_ms(before, after, st.db_now_ms));
        if (atomic_exchange(&h->fenced, false))
            st_server_log("host %s: holds its lease again; its VMs were fenced while it could "
                          "not renew (add nodes again with `stratactl node add`)",
                          h->d->host_name);
    } else if (r == 0) {
        st_server_log("host %s: its lease %s/%s is held by %s, not by this stratad (%s): another "
                      "stratad uses this host name",
                      h->d->host_name, ST_LEASE_HOST_NS, h->lease, st.holder, h->holder);
    } else if (st_clock_ns() - h->renew_logged_ns >= RENEW_LOG_EVERY_NS) {
        h->renew_logged_ns = st_clock_ns();
        st_server_log("host %s: cannot renew its lease (said again at most every %lld s): %s",
                      h->d->host_name, RENEW_LOG_EVERY_NS / 1000000000, err.msg);
    }
    /* Leading needs the host's own lease first: a host that may have to
     * fence itself leads nothing. */
    if (r != 1) {
        atomic_store(&h->leader_ok_ns, 0);
        return;
    }
    st_error_clear(&err);
    sent = st_clock_ns();
    r = st_store_lease_try(h->store, ST_LEASE_LEADER_NS, ST_LEASE_LEADER_NAME, h->holder,
                           h->t.duration_ms, &st, &err);
    if (r == 1)
        atomic_store(&h->leader_ok_ns, sent);
    else
        atomic_store(&h->leader_ok_ns, 0);
    if (r < 0 && st_clock_ns() - h->renew_logged_ns >= RENEW_LOG_EVERY_NS) {
        h->renew_logged_ns = st_clock_ns();
        st_server_log("host %s: cannot renew the leader lease: %s", h->d->host_name, err.msg);
    }
}

static void wait_until(struct st_server_hosts *h, int64_t deadline_ns)
{
    /* the condition variable waits on CLOCK_MONOTONIC, st_clock_ns's */
    struct timespec at = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    pthread_mutex_lock(&h->lock);
    while (!h->stop && st_clock_ns() < deadline_ns)
        pthread_cond_timedwait(&h->wake, &h->lock, &at);
    pthread_mutex_unlock(&h->lock);
}

static bool stopping(struct st_server_hosts *h)
{
    pthread_mutex_lock(&h->lock);
    bool s = h->stop;
    pthread_mutex_unlock(&h->lock);
    return s;
}

static void *renew_main(void *arg)
{
    struct st_server_hosts *h = arg;
    while (!stopping(h)) {
        int64_t start = st_clock_ns();
        renew_once(h);
        wait_until(h, start + (int64_t)h->t.renew_ms * 1000000);
    }
    return NULL;
}

/* ---- the fence thread --------------------------------------------------------- */

/* Kills every VM of this host that may run pods: its lease is about to be
 * taken as lost by the leader, which then starts its pods elsewhere. The
 * kill goes to QEMU through a pidfd (the vmm's fence), confirmed, without
 * the store; the deaths are recorded by the loop when the store answers. */
static void self_fence(struct st_server_hosts *h, int64_t silent_ms)
{
    struct st_server *d = h->d;
    char names[64][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *rt = d->nodes; rt && n < 64; rt = rt->next) {
        if (rt->dead)
            continue;
        rt->fencing = true; /* the dispatch sends it nothing any more */
        snprintf(names[n++], sizeof(names[0]), "%s", rt->name);
    }
    pthread_mutex_unlock(&d->lock);
    st_server_log("host %s: its lease was not renewed for %lld ms (fence at %d ms): fencing its "
                  "%zu VM%s before the leader may replace their pods",
                  d->host_name, (long long)silent_ms, h->t.fence_after_ms, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        st_vmm_fence_report rep = {0};
        st_error err = {0};
        if (d->vmm.ops->node_fence(d->vmm.ctx, names[i], 0, &rep, &err) < 0)
            st_server_log("node %s: self-fence: %s", names[i], err.msg);
        else
            st_server_log("node %s: self-fenced (host lease lost): %s", names[i],
                          rep.pid ? "QEMU killed" : rep.how);
    }
    st_server_log(
        "host %s: self-fence done %lld ms after the deadline", d->host_name,
        (long long)((st_clock_ns() - atomic_load(&h->host_ok_ns)) / 1000000 - h->t.fence_after_ms));
    /* Recorded dead (the store may not answer: then when it does). */
    for (size_t i = 0; i < n; i++)
        st_server_node_dead(d, names[i], "self-fenced: its host lost its lease", false);
    st_server_kick(d);
}

/* Pings every node of this host while it holds its lease, and only then:
 * a node that hears nothing for guest_grace_ms stops its pods
 * (runtime/node), so its pods never outlive this host's lease by more
 * than that, even when this stratad is killed and cannot fence. */
static void ping_nodes(struct st_server_hosts *h)
{
    struct st_server *d = h->d;
    char names[64][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *rt = d->nodes; rt && n < 64; rt = rt->next)
        if (rt->connected && !rt->dead && !rt->fencing)
            snprintf(names[n++], sizeof(names[0]), "%s", rt->name);
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++) {
        _cleanup_json_ json_t *msg = NULL;
        if (st_proto_ping_build(0, &msg, NULL) == 0)
            d->vmm.ops->node_send(d->vmm.ctx, names[i], msg, NULL);
    }
}

static void *fence_main(void *arg)
{
    struct st_server_hosts *h = arg;
    int64_t pinged = 0;
    while (!stopping(h)) {
        int64_t now = st_clock_ns();
        int64_t ok = atomic_load(&h->host_ok_ns);
        if (st_lease_self_fence_due(ok, now, h->t.fence_after_ms) &&
            !atomic_exchange(&h->fenced, true)) {
            self_fence(h, (now - ok) / 1000000);
        } else if (!atomic_load(&h->fenced) &&
                   now - pinged >= (int64_t)h->t.guest_grace_ms * 1000000 / 4) {
            pinged = now;
            ping_nodes(h);
        }
        wait_until(h, now + FENCE_CHECK_NS);
    }
    return NULL;
}

/* ---- what the loop asks --------------------------------------------------------- */

bool st_server_hosts_may_run(struct st_server *d)
{
    struct st_server_hosts *h = d->hosts;
    if (h == NULL)
        return true;
    return !atomic_load(&h->fenced) && !st_lease_self_fence_due(atomic_load(&h->host_ok_ns),
                                                                st_clock_ns(), h->t.fence_after_ms);
}

bool st_server_hosts_leading(struct st_server *d)
{
    struct st_server_hosts *h = d->hosts;
    if (h == NULL)
        return true;
    int64_t ok = atomic_load(&h->leader_ok_ns);
    /* Another stratad may take the lease duration_ms after our renew was
     * sent (the database's clock); we stop a renew interval before. */
    return ok != 0 && st_server_hosts_may_run(d) &&
           st_clock_ns() - ok < (int64_t)(h->t.duration_ms - h->t.renew_ms) * 1000000;
}

int st_server_hosts_grace_ms(struct st_server *d)
{
    return d->hosts ? d->hosts->t.guest_grace_ms : 0;
}

/* The Nodes of host (its label strata.io/host). */
static int host_nodes(struct st_server *d, const char *host, json_t **nodes, st_error *err)
{
    char sel[160];
    snprintf(sel, sizeof(sel), ST_HOST_LABEL "=%s", host);
    st_store_query q = {.kind = "Node", .label_selector = sel};
    return st_store_list(d->store, &q, nodes, err);
}

/* A host's nodes are lost once its lease expired plus the margin, by the
 * database's clock: by then its stratad fenced them (or died, and the
 * nodes stopped their pods on their own). */
static void judge_hosts(struct st_server *d)
{
    struct st_server_hosts *h = d->hosts;
    st_store_query q = {.kind = "Lease", .namespace = ST_LEASE_HOST_NS};
    _cleanup_json_ json_t *leases = NULL;
    st_error err = {0};
    if (st_store_list(d->store, &q, &leases, &err) < 0) {
        st_server_log("hosts: %s", err.msg);
        return;
    }
    size_t i;
    json_t *l;
    json_array_foreach(leases, i, l)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(l, "metadata"), "name"));
        if (name == NULL ||
            strncmp(name, ST_LEASE_HOST_PREFIX, strlen(ST_LEASE_HOST_PREFIX)) != 0 ||
            strcmp(name, h->lease) == 0)
            continue;
        const char *host = name + strlen(ST_LEASE_HOST_PREFIX);
        st_lease_state st = {0};
        if (st_store_lease_get(d->store, ST_LEASE_HOST_NS, name, &st, &err) < 0) {
            st_server_log("hosts: %s", err.msg);
            st_error_clear(&err);
            continue;
        }
        if (!st_lease_host_lost(&st, h->t.margin_ms))
            continue;
        _cleanup_json_ json_t *nodes = NULL;
        if (host_nodes(d, host, &nodes, &err) < 0) {
            st_server_log("hosts: %s", err.msg);
            st_error_clear(&err);
            continue;
        }
        size_t k;
        json_t *n;
        json_array_foreach(nodes, k, n)
        {
            const char *node =
                json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
            const char *ph = st_server_node_phase(n);
            if (node == NULL || strcmp(ph, "Dead") == 0 || strcmp(ph, "Failed") == 0)
                continue;
            char why[256];
            snprintf(why, sizeof(why),
                     "host %s lost: its lease was last renewed %lld ms ago (lease %d ms + margin "
                     "%d ms); its stratad fenced its VMs or they stopped their pods",
                     host, (long long)(st.db_now_ms - st.renew_ms), st.duration_ms, h->t.margin_ms);
            st_server_log("node %s: %s", node, why);
            int lost = 0;
            if (st_control_node_set_ready(d->store, node, "False", "Dead", "HostLost", why, &err) <
                    0 ||
                st_control_node_lost(d->store, node, why, &lost, &err) < 0) {
                st_server_log("node %s: marking it lost: %s", node, err.msg);
                st_error_clear(&err);
                continue;
            }
            st_event_record(d->store, "Node", "", node, "Warning", "HostLost", COMPONENT, "%s",
                            why);
            st_server_log("node %s: %d pod%s lost with host %s, to be replaced", node, lost,
                          lost == 1 ? "" : "s", host);
        }
    }
}

/* Nodes `node add --host` recorded for this host on another stratad: this
 * one boots them. */
static void claim_requested(struct st_server *d)
{
    _cleanup_json_ json_t *nodes = NULL;
    st_error err = {0};
    if (host_nodes(d, d->host_name, &nodes, &err) < 0)
        return;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        if (strcmp(st_server_node_phase(n), ST_NODE_PHASE_REQUESTED) != 0)
            continue;
        const char *name =
            json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
        if (name && st_server_node_boot_requested(d, n, &err) < 0) {
            st_server_log("node %s: booting it for host %s: %s", name, d->host_name, err.msg);
            st_error_clear(&err);
        }
    }
}

void st_server_hosts_pass(struct st_server *d)
{
    struct st_server_hosts *h = d->hosts;
    if (h == NULL)
        return;
    bool leading = st_server_hosts_leading(d);
    if (leading != h->was_leader) {
        st_server_log("host %s: %s", d->host_name,
                      leading ? "leads the cluster (holds kube-system/" ST_LEASE_LEADER_NAME ")"
                              : "does not lead: another stratad runs the controllers");
        h->was_leader = leading;
    }
    int64_t skew = atomic_load(&h->skew_ms);
    int64_t now = st_clock_ns();
    if ((skew > h->t.margin_ms / 2 || skew < -h->t.margin_ms / 2) &&
        (h->skew_reported_ns == 0 || now - h->skew_reported_ns >= SKEW_REPORT_NS)) {
        h->skew_reported_ns = now;
        st_server_log("host %s: its clock is %lld ms off the database's (more than half the "
                      "%d ms margin): leases use the database's clock, but the times this host "
                      "writes are off; fix its time sync",
                      d->host_name, (long long)skew, h->t.margin_ms);
        st_event_record(d->store, "Lease", ST_LEASE_HOST_NS, h->lease, "Warning", "ClockSkew",
                        COMPONENT, "host %s: clock %lld ms off the database's", d->host_name,
                        (long long)skew);
    }
    if (!st_server_hosts_may_run(d))
        return;
    claim_requested(d);
    if (leading)
        judge_hosts(d);
}

/* ---- open and close -------------------------------------------------------------- */

int st_server_hosts_open(struct st_server *d, const char *dsn, st_error *err)
{
    struct st_server_hosts *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    h->d = d;
    timing_for(d->cfg.lease_ms > 0 ? d->cfg.lease_ms : ST_LEASE_DURATION_MS, &h->t);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    d->hosts = h;
    char why[256];
    if (st_lease_timing_check(h->t.duration_ms, h->t.renew_ms, h->t.fence_after_ms, h->t.margin_ms,
                              h->t.guest_grace_ms, h->t.guest_stop_ms, why, sizeof(why)) < 0)
        return st_error_set(err, EINVAL, "--lease-ms %d: %s", h->t.duration_ms, why);
    char inst[32];
    int r = instance_id(d->cfg.state_dir, inst, sizeof(inst), err);
    if (r < 0)
        return r;
    snprintf(h->holder, sizeof(h->holder), "%s/%s", d->host_name, inst);
    if ((r = st_lease_host_name(d->host_name, h->lease, sizeof(h->lease), err)) < 0)
        return r;
    int applied = 0;
    if ((r = st_store_pg_open(dsn, d->key, &applied, &h->store, err)) < 0)
        return r;
    /* The host name is this stratad's alone: a live holder that is not us
     * refuses the start. */
    st_lease_state st = {0};
    int64_t sent = st_clock_ns();
    r = st_store_lease_try(h->store, ST_LEASE_HOST_NS, h->lease, h->holder, h->t.duration_ms, &st,
                           err);
    if (r < 0)
        return r;
    if (r == 0)
        return st_error_set(err, EADDRINUSE,
                            "host name %s is in use by another stratad (lease %s/%s held by %s, "
                            "renewed %lld ms ago, valid %d ms): give this one its own "
                            "--host-name, or stop the other",
                            d->host_name, ST_LEASE_HOST_NS, h->lease, st.holder,
                            (long long)(st.db_now_ms - st.renew_ms), st.duration_ms);
    atomic_store(&h->host_ok_ns, sent);
    h->acquire_ms = st.acquire_ms;
    st_server_log("host %s: holds %s/%s as %s (lease %d ms, renewed every %d ms, self-fence after "
                  "%d ms, nodes stop pods after %d ms without their host)",
                  d->host_name, ST_LEASE_HOST_NS, h->lease, h->holder, h->t.duration_ms,
                  h->t.renew_ms, h->t.fence_after_ms, h->t.guest_grace_ms);
    if (pthread_create(&h->renew_th, NULL, renew_main, h) != 0)
        return st_error_set(err, EAGAIN, "cannot start the lease thread");
    h->renew_started = true;
    if (pthread_create(&h->fence_th, NULL, fence_main, h) != 0)
        return st_error_set(err, EAGAIN, "cannot start the fence thread");
    h->fence_started = true;
    return 0;
}

void st_server_hosts_close(struct st_server *d)
{
    struct st_server_hosts *h = d->hosts;
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->renew_started)
        pthread_join(h->renew_th, NULL);
    if (h->fence_started)
        pthread_join(h->fence_th, NULL);
    /* A clean stop gives leadership up at once, so another host leads
     * without waiting out the lease. The host lease stays: this host's VMs
     * keep running (re-adopted at the next start). */
    if (h->store && atomic_load(&h->leader_ok_ns) != 0) {
        st_error err = {0};
        st_store_lease_release(h->store, ST_LEASE_LEADER_NS, ST_LEASE_LEADER_NAME, h->holder, NULL,
                               &err);
    }
    st_store_close(h->store);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    d->hosts = NULL;
}
