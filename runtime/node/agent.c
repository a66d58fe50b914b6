/* agent.c: strata-node's event loop: wait for the host on the transport,
 * greet it (hello), answer pings and pods queries, follow the host's
 * clock, and hand pod_run / pod_stop to the pod table, whose fds and
 * timers share the same poll.
 * One thread owns the connection, the reads and the pod table; poll() with
 * deadlines. Heartbeats go out from their own thread (host_out.c), so pod
 * work here never delays them; all writes share its output queue, which
 * never blocks on the host. With the pod network on (strata.podcidr=), the
 * host's `services` snapshots go to the pods' hosts files and the service
 * proxy (svcproxy.c, whose relay has its own thread and data port).
 * Every read from the host feeds the self-fence (self_fence.c), whose
 * watchdog thread kills the pods' containers when the host stays silent
 * past hostGraceMs; the loop then marks those pods (st_node_pods_fence). */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/clock.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* Retry delays while waiting for a host on a transport without a wait fd. */
#define RETRY_MIN_MS 10
#define RETRY_MAX_MS 100

struct agent {
    const struct st_node_config *cfg;
    struct st_node_transport t;
    struct st_node_sysinfo si;
    int sigfd;
    int conn; /* connected host stream, -1 when none */
    struct st_proto_reader rd;
    struct st_node_host_out *out; /* the queue to the host; seq lives there */
    uint64_t digest_gen;          /* pod states generation of the heartbeat's digest */
    /* The host's bytes were read by then, or arrived no earlier than this
     * (monotonic ms): how stale a `clock` may be when handled. */
    int64_t host_empty_at, host_fresh_since;
    bool clock_seen;  /* a clock came on this connection */
    int64_t host_seq; /* seq of the host's last message (0: none on this connection) */
    int64_t retry_at; /* monotonic ms */
    int retry_ms;
    struct st_node_pods *pods;
    struct st_node_self_fence *fence;
    struct st_node_podnet *net;     /* NULL: no pod network */
    struct st_node_svcproxy *proxy; /* NULL: no pod network */
    struct st_node_pollset ps;
};

static void host_drop(struct agent *a, const char *why)
{
    if (a->conn < 0)
        return;
    st_node_log("host disconnected (%s)", why);
    /* the heartbeat thread stops writing before the transport closes it */
    st_node_host_out_detach(a->out);
    a->t.ops->disconnect(&a->t);
    a->conn = -1;
    st_proto_reader_reset(&a->rd);
    a->retry_ms = RETRY_MIN_MS;
    a->retry_at = st_node_now_ms() + a->retry_ms;
}

/* Queues msg (consumed) for the host; dropped when none is connected. */
static void send_msg(struct agent *a, json_t *msg)
{
    if (a->conn < 0) {
        json_decref(msg);
        return;
    }
    st_node_host_out_send(a->out, msg);
}

/* The heartbeat thread reports the digest the loop computed last: it must
 * not read the pod table, and hashing every state for each heartbeat would
 * cost the loop too. Recomputed only when the states changed. */
static void digest_refresh(struct agent *a)
{
    uint64_t gen = st_node_pods_generation(a->pods);
    if (gen == a->digest_gen)
        return;
    st_error err = {0};
    char digest[ST_PROTO_DIGEST_LEN];
    json_t *states = st_node_pods_states(a->pods);
    if (st_proto_pods_digest(states, digest, &err) < 0) {
        st_node_log("cannot hash pod states: %s", err.msg);
        return;
    }
    st_node_host_out_set_pods(a->out, digest, (int64_t)json_array_size(states));
    a->digest_gen = gen;
}

/* What tells clones of one template apart, for the host to check: the
 * machine id (Kubernetes' nodeInfo.machineID) and 8 bytes fresh from the
 * kernel RNG (two clones that share RNG state would send the same). */
static void hello_identity(json_t *hello)
{
    char mid[64] = "";
    _cleanup_fclose_ FILE *f = fopen("/etc/machine-id", "re");
    if (f && fgets(mid, sizeof(mid), f)) {
        mid[strcspn(mid, "\n")] = '\0';
        json_object_set_new(hello, "machineId", json_string(mid));
    }
    unsigned char r[8];
    char hex[2 * sizeof(r) + 1];
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r)) {
        for (size_t i = 0; i < sizeof(r); i++)
            snprintf(hex + 2 * i, 3, "%02x", r[i]);
        json_object_set_new(hello, "randomSample", json_string(hex));
    }
}

/* hello (with the pods it runs) as the first thing the host on fd reads
 * from us: anything queued for an earlier host is dropped. */
static void greet(struct agent *a, int fd)
{
    st_error err = {0};
    json_t *hello = NULL;
    struct st_proto_hello h = {
        .node = a->cfg->name,
        .version = ST_NODE_VERSION,
        .cpu_millis = a->si.cpu_millis,
        .memory_bytes = a->si.memory_bytes,
        .kernel = a->si.kernel,
        .uptime_ms = st_node_uptime_or_zero(),
        .pods = st_node_pods_states(a->pods),
    };
    if (st_proto_hello_build(&h, &hello, &err) < 0)
        st_node_log("cannot build hello: %s", err.msg);
    else
        hello_identity(hello);
    a->clock_seen = false;
    digest_refresh(a);
    /* hello first: heartbeats follow it in seq and on the wire */
    st_node_host_out_detach(a->out);
    st_node_host_out_attach(a->out, fd, hello);
}

static void host_attach(struct agent *a, int fd)
{
    a->conn = fd;
    a->host_empty_at = a->host_fresh_since = st_node_now_ms();
    a->host_seq = 0;
    st_proto_reader_reset(&a->rd);
    st_node_log("host connected over %s; sending hello as %s", a->t.ops->name, a->cfg->name);
    greet(a, fd);
}

/* The host numbers its messages from 1 up. One whose seq is not above the
 * last one's comes from a new host: on virtio-serial a restarted stratad
 * that reconnects while this loop is busy (a pod starting under TCG) is
 * never seen as a hangup, only as its first message, and it waits for a
 * hello that would never come (issue 14's chaos: a stratad killed and
 * restarted in 0.4 s left every node Adopting for good). */
static void host_seq_check(struct agent *a, json_t *msg)
{
    int64_t seq = st_proto_seq(msg);
    if (seq < 0)
        return;
    if (seq <= a->host_seq) {
        st_node_log("the host's messages start again (seq %lld after %lld): a new host is on the "
                    "channel; sending hello",
                    (long long)seq, (long long)a->host_seq);
        greet(a, a->conn);
    }
    a->host_seq = seq;
}

/* The host asks what runs here (pods_query): the pod table as it is now,
 * answered on the loop that owns it. */
static void on_pods_query(struct agent *a, json_t *msg)
{
    st_error err = {0};
    int64_t id = 0;
    json_t *answer = NULL;
    if (st_proto_pods_query_parse(msg, &id, &err) < 0 ||
        st_proto_pods_build(id, st_node_pods_states(a->pods), &answer, &err) < 0) {
        st_node_log("ignoring a pods_query: %s", err.msg);
        return;
    }
    send_msg(a, answer);
}

/* Only strata-node as its VM's agent sets the clock; on a host (--listen,
 * the tests) it must leave the machine's clock alone. */
static void on_clock(struct agent *a, json_t *msg)
{
    st_error err = {0};
    int64_t host_ms = 0;
    if (st_proto_clock_parse(msg, &host_ms, &err) < 0) {
        st_node_log("ignoring a clock message: %s", err.msg);
        return;
    }
    st_node_clock_sync(host_ms, st_node_now_ms() - a->host_fresh_since,
                       a->t.ops == &st_node_transport_virtio, !a->clock_seen);
    a->clock_seen = true;
}

/* The host's settings: each field it sends replaces the node's. */
static void on_settings(struct agent *a, json_t *msg)
{
    st_error err = {0};
    struct st_proto_settings s;
    if (st_proto_settings_parse(msg, &s, &err) < 0) {
        st_node_log("ignoring a settings message: %s", err.msg);
        return;
    }
    if (s.has_host_grace_ms && s.host_grace_ms != st_node_self_fence_grace(a->fence)) {
        st_node_self_fence_set_grace(a->fence, s.host_grace_ms);
        if (s.host_grace_ms > 0)
            st_node_log("settings: hostGraceMs %lld: pods are stopped when the host is silent "
                        "that long (self-fence)",
                        (long long)s.host_grace_ms);
        else
            st_node_log("settings: hostGraceMs 0: the self-fence is off");
    }
}

/* A full snapshot of the Services: hosts files and listeners follow it. */
static void on_services(struct agent *a, json_t *msg)
{
    st_error err = {0};
    json_t *services = NULL;
    if (st_proto_services_parse(msg, &services, &err) < 0) {
        st_node_log("ignoring a services message: %s", err.msg);
        return;
    }
    if (a->net == NULL) {
        st_node_log("services: %zu Services, but this node has no pod network (no %s= on the "
                    "kernel cmdline); its pods cannot reach them",
                    json_array_size(services), ST_PROTO_CMDLINE_PODCIDR);
        return;
    }
    st_node_pods_set_services(a->pods, services);
    if (st_node_svcproxy_update(a->proxy, services, &err) < 0)
        st_node_log("services: %s", err.msg);
}

static void handle_line(struct agent *a, const char *line)
{
    st_error err = {0};
    _cleanup_json_ json_t *msg = NULL;
    const char *type = NULL;
    if (st_proto_decode(line, &msg, &type, &err) < 0) {
        st_node_log("ignoring a line from the host: %s", err.msg);
        return;
    }
    host_seq_check(a, msg);
    if (strcmp(type, ST_PROTO_PING) == 0) {
        int64_t id = 0;
        json_t *pong = NULL;
        if (st_proto_ping_parse(msg, &id, &err) < 0 || st_proto_pong_build(id, &pong, &err) < 0) {
            st_node_log("ignoring a ping: %s", err.msg);
            return;
        }
        send_msg(a, pong);
    } else if (strcmp(type, ST_PROTO_POD_RUN) == 0) {
        st_node_pods_run(a->pods, msg);
    } else if (strcmp(type, ST_PROTO_POD_STOP) == 0) {
        st_node_pods_stop(a->pods, msg);
    } else if (strcmp(type, ST_PROTO_CLOCK) == 0) {
        on_clock(a, msg);
    } else if (strcmp(type, ST_PROTO_SERVICES) == 0) {
        on_services(a, msg);
    } else if (strcmp(type, ST_PROTO_SETTINGS) == 0) {
        on_settings(a, msg);
    } else if (strcmp(type, ST_PROTO_PODS_QUERY) == 0) {
        on_pods_query(a, msg);
    } else if (strcmp(type, ST_NODE_BENCH_EXEC) == 0 && st_node_bench_exec_enabled()) {
        json_t *reply = NULL;
        if (st_node_bench_exec(msg, &reply, &err) < 0) {
            st_node_log("ignoring a bench_exec: %s", err.msg);
            return;
        }
        send_msg(a, reply);
    } else if (strcmp(type, ST_PROTO_PONG) != 0) {
        st_node_log("ignoring a message of unknown type \"%s\"", type);
    }
}

/* Reads everything available, then handles complete lines. */
static void host_read(struct agent *a)
{
    st_error err = {0};
    for (;;) {
        int n = st_proto_reader_fill(&a->rd, a->conn, &err);
        if (n == -EAGAIN) {
            a->host_empty_at = st_node_now_ms();
            break;
        }
        if (n <= 0) {
            host_drop(a, n == 0 ? "end of stream" : err.msg);
            return;
        }
        /* any bytes of the host's: it is alive (the message they carry
         * may not be complete yet) */
        if (st_node_self_fence_heard(a->fence, st_clock_ns()))
            st_node_log("the host speaks again after the self-fence: the pods it stopped stay "
                        "stopped until the host sends pod_run (or pod_stop)");
        const char *line = NULL;
        int rc;
        while (a->conn >= 0 && (rc = st_proto_reader_next(&a->rd, &line, &err)) != 0) {
            if (rc < 0) {
                st_node_log("%s", err.msg);
                st_error_clear(&err);
                continue;
            }
            handle_line(a, line);
        }
        if (a->conn < 0)
            return;
    }
}

static void try_connect(struct agent *a, st_error *err, int *fatal)
{
    int fd = -1;
    int rc = a->t.ops->connect(&a->t, &fd, err);
    if (rc < 0) {
        *fatal = rc;
        return;
    }
    if (rc == 1) {
        host_attach(a, fd);
        return;
    }
    /* back off while nobody is there, so a VM without a host stays idle */
    a->retry_at = st_node_now_ms() + a->retry_ms;
    if (a->retry_ms < RETRY_MAX_MS)
        a->retry_ms = a->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : a->retry_ms * 2;
}

static int signals_open(st_error *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return st_error_sys(err, errno, "blocking SIGTERM/SIGINT");
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "signalfd");
    /* a host that hangs up must be a return value from write, not a kill */
    signal(SIGPIPE, SIG_IGN);
    return fd;
}

/* The self-fence's watchdog asks the channel for unread bytes. */
static int host_unread(void *ctx)
{
    return st_node_host_out_unread(ctx);
}

/* The pod table's messages go to the host like the agent's own. */
static void emit_to_host(void *ctx, json_t *msg)
{
    send_msg(ctx, msg);
}

static int agent_loop(struct agent *a, st_error *err)
{
    int fatal = 0;
    for (;;) {
        int64_t now = st_node_now_ms();
        int wait_fd = a->t.ops->wait_fd(&a->t);
        if (a->conn < 0 && wait_fd < 0 && now >= a->retry_at) {
            try_connect(a, err, &fatal);
            if (fatal < 0)
                return fatal;
            continue;
        }
        char why[160];
        if (a->conn >= 0 && st_node_host_out_broken(a->out, why, sizeof(why))) {
            host_drop(a, why);
            continue;
        }
        digest_refresh(a);

        /* The signal fd, the heartbeat thread's wake-up and the host come
         * first in the set; the pods add their pidfds, output pipes, probe
         * pipes and timers after them. */
        struct st_node_pollset *ps = &a->ps;
        short sig_rev = 0, wake_rev = 0, fence_rev = 0, host_rev = 0;
        int host_fd = -1;
        short host_events = POLLIN;
        st_node_pollset_reset(ps);
        if (a->conn >= 0) {
            host_fd = a->conn;
            host_events |= st_node_host_out_pending(a->out) ? POLLOUT : 0;
        } else if (wait_fd >= 0) {
            host_fd = wait_fd;
        } else {
            st_node_pollset_deadline(ps, a->retry_at);
        }
        if (st_node_pollset_add(ps, a->sigfd, POLLIN, &sig_rev) < 0 ||
            st_node_pollset_add(ps, st_node_host_out_wake_fd(a->out), POLLIN, &wake_rev) < 0 ||
            st_node_pollset_add(ps, st_node_self_fence_wake_fd(a->fence), POLLIN, &fence_rev) < 0 ||
            (host_fd >= 0 && st_node_pollset_add(ps, host_fd, host_events, &host_rev) < 0))
            return st_error_set(err, ENOMEM, "out of memory");
        int rc = st_node_pods_watch(a->pods, ps, err);
        if (rc < 0)
            return rc;
        int timeout = ps->deadline < 0 ? -1 : (int)(ps->deadline > now ? ps->deadline - now : 0);
        int64_t entered = st_node_now_ms();
        int n = poll(ps->fds, (nfds_t)ps->n, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "poll");
        st_node_pollset_dispatch(ps);
        /* Host bytes that woke a poll that waited arrived just now; after a
         * poll that returned at once they may have waited since the host
         * was last read empty (the turn before was busy). */
        int64_t woke = st_node_now_ms();
        if (host_rev)
            a->host_fresh_since = woke > entered ? woke : a->host_empty_at;
        if (wake_rev & POLLIN)
            st_node_host_out_wake_clear(a->out);

        if (sig_rev & POLLIN) {
            struct signalfd_siginfo si;
            if (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                st_node_log("signal %u received; exiting", si.ssi_signo);
                return 0;
            }
        }
        /* the self-fence first: its killed containers must not restart */
        struct st_node_fence_fire fire;
        if ((fence_rev & POLLIN) && st_node_self_fence_take(a->fence, &fire))
            st_node_pods_fence(a->pods, &fire);
        /* before the host's messages: they may remove a pod whose fds
         * fired in this turn */
        st_node_pods_process(a->pods);
        if (host_fd < 0 || host_rev == 0)
            continue;
        if (a->conn < 0) {
            try_connect(a, err, &fatal);
            if (fatal < 0)
                return fatal;
            continue;
        }
        if (host_rev & POLLOUT)
            st_node_host_out_flush(a->out);
        if (a->conn >= 0 && (host_rev & (POLLIN | POLLHUP | POLLERR)))
            host_read(a);
    }
}

int st_node_agent_run(const struct st_node_config *cfg, st_error *err)
{
    struct agent a = {.cfg = cfg, .sigfd = -1, .conn = -1, .retry_ms = RETRY_MIN_MS};
    a.t.fd = a.t.conn = -1;
    a.t.ops = cfg->listen_path ? &st_node_transport_unix : &st_node_transport_virtio;
    st_proto_reader_init(&a.rd);
    struct st_node_pods_opts po = {
        .images_dir = cfg->images_dir,
        .state_dir = cfg->state_dir,
        .backoff_base_ms = cfg->backoff_base_ms,
        .emit = emit_to_host,
        .ctx = &a,
    };
    int rc = st_node_sysinfo_read(&a.si, err);
    if (rc >= 0 && cfg->podnet &&
        (rc = st_node_podnet_new(&cfg->pod_cidr, &cfg->svc_cidr, &a.net, err)) >= 0)
        po.net = a.net;
    if (rc >= 0)
        rc = a.sigfd = signals_open(err);
    /* after signals_open: the heartbeat thread inherits the blocked mask */
    if (rc >= 0)
        rc = st_node_host_out_new(cfg->heartbeat_ms, &a.out, err);
    if (rc >= 0)
        rc = st_node_self_fence_new(cfg->host_grace_ms, host_unread, a.out, &a.fence, err);
    po.fence = a.fence;
    if (rc >= 0)
        rc = st_node_pods_new(&po, &a.pods, err);
    /* after signals_open: the relay's thread inherits the blocked mask */
    if (rc >= 0 && a.net)
        rc = st_node_svcproxy_new(&cfg->pod_cidr, NULL, NULL, &a.proxy, err);
    if (rc >= 0)
        rc = a.t.ops->open(&a.t, cfg, err);
    if (rc >= 0) {
        st_node_log("strata-node %s: node %s, %lld millicpu, %lld bytes, kernel %s, heartbeat "
                    "every %d ms, host grace %lld ms%s, images %s, state %s",
                    ST_NODE_VERSION, cfg->name, (long long)a.si.cpu_millis,
                    (long long)a.si.memory_bytes, a.si.kernel, cfg->heartbeat_ms,
                    (long long)cfg->host_grace_ms, cfg->host_grace_ms > 0 ? "" : " (off)",
                    cfg->images_dir, cfg->state_dir);
        rc = agent_loop(&a, err);
    }
    /* pods first: their processes must not outlive the agent; then the
     * heartbeat thread, before the transport closes the fd it writes to */
    st_node_pods_free(a.pods);
    st_node_svcproxy_free(a.proxy);
    st_node_podnet_free(a.net);
    /* the watchdog asks the output queue about the channel */
    st_node_self_fence_free(a.fence);
    st_node_host_out_free(a.out);
    if (a.conn >= 0)
        a.t.ops->disconnect(&a.t);
    a.t.ops->close(&a.t);
    if (a.sigfd >= 0)
        close(a.sigfd);
    st_proto_reader_free(&a.rd);
    st_node_pollset_free(&a.ps);
    return rc < 0 ? rc : 0;
}
