/* agent.c: strata-node's event loop: wait for the host on the transport,
 * greet it (hello), send a heartbeat every interval, answer pings, and hand
 * pod_run / pod_stop to the pod table, whose fds and timers share the same
 * poll. One thread, poll() with deadlines; it must never block on the host:
 * writes go through an output buffer flushed when the channel is writable. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* A host that reads nothing while this much piles up is dropped. */
#define OUT_MAX (8u * 1024 * 1024)
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
    uint64_t seq; /* monotonic for the whole run, across reconnects */
    char *out;
    size_t out_len, out_cap;
    int64_t next_hb;  /* monotonic ms */
    int64_t retry_at; /* monotonic ms */
    int retry_ms;
    struct st_node_pods *pods;
    struct st_node_pollset ps;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void host_drop(struct agent *a, const char *why)
{
    if (a->conn < 0)
        return;
    st_node_log("host disconnected (%s)", why);
    a->t.ops->disconnect(&a->t);
    a->conn = -1;
    a->out_len = 0;
    st_proto_reader_reset(&a->rd);
    a->retry_ms = RETRY_MIN_MS;
    a->retry_at = now_ms() + a->retry_ms;
}

/* Writes what the channel takes now; the rest waits for POLLOUT. */
static void out_flush(struct agent *a)
{
    size_t done = 0;
    while (a->conn >= 0 && done < a->out_len) {
        ssize_t n = write(a->conn, a->out + done, a->out_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "write: %s", n < 0 ? strerror(errno) : "short write");
            host_drop(a, why);
            return;
        }
        done += (size_t)n;
    }
    if (a->conn < 0)
        return;
    memmove(a->out, a->out + done, a->out_len - done);
    a->out_len -= done;
}

/* Encodes msg (consumed) and queues it for the host. */
static void send_msg(struct agent *a, json_t *msg)
{
    _cleanup_json_ json_t *m = msg;
    _cleanup_free_ char *line = NULL;
    st_error err = {0};
    if (a->conn < 0 || m == NULL)
        return;
    if (st_proto_encode(m, &a->seq, &line, &err) < 0) {
        st_node_log("cannot send a message: %s", err.msg);
        return;
    }
    size_t n = strlen(line);
    if (a->out_len + n > OUT_MAX) {
        host_drop(a, "host stopped reading: output buffer full");
        return;
    }
    if (a->out_len + n > a->out_cap) {
        size_t cap = a->out_cap ? a->out_cap : 4096;
        while (cap < a->out_len + n)
            cap *= 2;
        char *nb = realloc(a->out, cap);
        if (nb == NULL) {
            host_drop(a, "out of memory buffering output");
            return;
        }
        a->out = nb;
        a->out_cap = cap;
    }
    memcpy(a->out + a->out_len, line, n);
    a->out_len += n;
    out_flush(a);
}

static int64_t uptime_or_zero(void)
{
    int64_t ms = 0;
    st_error err = {0};
    if (st_node_uptime_ms(&ms, &err) < 0)
        st_node_log("%s", err.msg);
    return ms;
}

static void send_hello(struct agent *a)
{
    st_error err = {0};
    json_t *msg = NULL;
    struct st_proto_hello h = {
        .node = a->cfg->name,
        .version = ST_NODE_VERSION,
        .cpu_millis = a->si.cpu_millis,
        .memory_bytes = a->si.memory_bytes,
        .kernel = a->si.kernel,
        .uptime_ms = uptime_or_zero(),
        .pods = st_node_pods_states(a->pods),
    };
    if (st_proto_hello_build(&h, &msg, &err) < 0)
        st_node_log("cannot build hello: %s", err.msg);
    send_msg(a, msg);
}

static void send_heartbeat(struct agent *a)
{
    st_error err = {0};
    char digest[ST_PROTO_DIGEST_LEN];
    json_t *msg = NULL;
    json_t *states = st_node_pods_states(a->pods);
    if (st_proto_pods_digest(states, digest, &err) < 0) {
        st_node_log("cannot hash pod states: %s", err.msg);
        return;
    }
    struct st_proto_heartbeat hb = {
        .uptime_ms = uptime_or_zero(),
        .pods_digest = digest,
        .pods = (int64_t)json_array_size(states),
    };
    if (st_proto_heartbeat_build(&hb, &msg, &err) < 0)
        st_node_log("cannot build heartbeat: %s", err.msg);
    send_msg(a, msg);
}

static void host_attach(struct agent *a, int fd)
{
    a->conn = fd;
    a->out_len = 0;
    st_proto_reader_reset(&a->rd);
    st_node_log("host connected over %s; sending hello as %s", a->t.ops->name, a->cfg->name);
    send_hello(a);
    a->next_hb = now_ms() + a->cfg->heartbeat_ms;
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
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            host_drop(a, n == 0 ? "end of stream" : err.msg);
            return;
        }
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
    a->retry_at = now_ms() + a->retry_ms;
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

/* The pod table's messages go to the host like the agent's own. */
static void emit_to_host(void *ctx, json_t *msg)
{
    send_msg(ctx, msg);
}

static int agent_loop(struct agent *a, st_error *err)
{
    int fatal = 0;
    for (;;) {
        int64_t now = now_ms();
        int wait_fd = a->t.ops->wait_fd(&a->t);
        if (a->conn < 0 && wait_fd < 0 && now >= a->retry_at) {
            try_connect(a, err, &fatal);
            if (fatal < 0)
                return fatal;
            continue;
        }
        if (a->conn >= 0 && now >= a->next_hb) {
            send_heartbeat(a);
            a->next_hb += a->cfg->heartbeat_ms;
            if (a->next_hb <= now) /* fell behind (suspended VM): no burst */
                a->next_hb = now + a->cfg->heartbeat_ms;
            continue;
        }

        /* The signal fd and the host come first in the set; the pods add
         * their pidfds, output pipes, probe pipes and timers after them. */
        struct st_node_pollset *ps = &a->ps;
        short sig_rev = 0, host_rev = 0;
        int host_fd = -1;
        short host_events = POLLIN;
        st_node_pollset_reset(ps);
        if (a->conn >= 0) {
            host_fd = a->conn;
            host_events |= a->out_len ? POLLOUT : 0;
            st_node_pollset_deadline(ps, a->next_hb);
        } else if (wait_fd >= 0) {
            host_fd = wait_fd;
        } else {
            st_node_pollset_deadline(ps, a->retry_at);
        }
        if (st_node_pollset_add(ps, a->sigfd, POLLIN, &sig_rev) < 0 ||
            (host_fd >= 0 && st_node_pollset_add(ps, host_fd, host_events, &host_rev) < 0))
            return st_error_set(err, ENOMEM, "out of memory");
        int rc = st_node_pods_watch(a->pods, ps, err);
        if (rc < 0)
            return rc;
        int timeout = ps->deadline < 0 ? -1 : (int)(ps->deadline > now ? ps->deadline - now : 0);
        int n = poll(ps->fds, (nfds_t)ps->n, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "poll");
        st_node_pollset_dispatch(ps);

        if (sig_rev & POLLIN) {
            struct signalfd_siginfo si;
            if (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                st_node_log("signal %u received; exiting", si.ssi_signo);
                return 0;
            }
        }
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
            out_flush(a);
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
    if (rc >= 0)
        rc = a.sigfd = signals_open(err);
    if (rc >= 0)
        rc = st_node_pods_new(&po, &a.pods, err);
    if (rc >= 0)
        rc = a.t.ops->open(&a.t, cfg, err);
    if (rc >= 0) {
        st_node_log("strata-node %s: node %s, %lld millicpu, %lld bytes, kernel %s, heartbeat "
                    "every %d ms, images %s, state %s",
                    ST_NODE_VERSION, cfg->name, (long long)a.si.cpu_millis,
                    (long long)a.si.memory_bytes, a.si.kernel, cfg->heartbeat_ms, cfg->images_dir,
                    cfg->state_dir);
        rc = agent_loop(&a, err);
    }
    /* pods first: their processes must not outlive the agent */
    st_node_pods_free(a.pods);
    if (a.conn >= 0)
        a.t.ops->disconnect(&a.t);
    a.t.ops->close(&a.t);
    if (a.sigfd >= 0)
        close(a.sigfd);
    st_proto_reader_free(&a.rd);
    st_node_pollset_free(&a.ps);
    free(a.out);
    return rc < 0 ? rc : 0;
}
