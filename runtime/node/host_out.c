/* host_out.c: the way out to the host, shared by the agent loop and the
 * heartbeat thread (see node.h). The host fences a node whose heartbeats
 * stop for its grace period (3 s), and the loop may spend seconds starting
 * pods under QEMU TCG; so the heartbeat has its own thread and timer, and a
 * send path the loop cannot block: one queue under a mutex, non-blocking
 * writes, nothing slow done while holding it.
 *
 * The mutex is priority-inheriting because the heartbeat thread asks for
 * SCHED_FIFO: while the loop (normal priority, competing with every
 * container) holds the queue, it runs at the heartbeat's priority. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* A host that reads nothing while this much piles up is dropped. */
#define OUT_MAX (8u * 1024 * 1024)

struct st_node_host_out {
    pthread_mutex_t mu;
    int conn;                         /* [mu] the host stream, -1 = none */
    bool greeted;                     /* [mu] hello is queued: heartbeats may follow it */
    bool broken;                      /* [mu] a write failed; the loop drops the host */
    char why[160];                    /* [mu] why it broke */
    uint64_t seq;                     /* [mu] the last seq sent: monotonic for the whole run */
    char *buf;                        /* [mu] bytes the channel has not taken yet */
    size_t len, cap;                  /* [mu] */
    char digest[ST_PROTO_DIGEST_LEN]; /* [mu] the pods, as the loop last saw them */
    int64_t pods;                     /* [mu] */
    int wake_fd;                      /* eventfd: the loop has something to do */

    /* the heartbeat thread: tmu and tcond only time its sleep and stop it */
    int heartbeat_ms;
    pthread_mutex_t tmu;
    pthread_cond_t tcond; /* CLOCK_MONOTONIC */
    bool stop;            /* [tmu] */
    pthread_t thread;
};

/* ---- the queue (callers hold mu) ------------------------------------- */

static void wake_loop(struct st_node_host_out *o)
{
    uint64_t one = 1;
    /* EAGAIN: the counter is full, the loop wakes anyway */
    if (write(o->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        st_node_log("cannot wake the agent loop: %s", strerror(errno));
}

static void mark_broken(struct st_node_host_out *o, const char *why)
{
    if (o->broken)
        return;
    o->broken = true;
    snprintf(o->why, sizeof(o->why), "%s", why);
}

/* Writes what the channel takes now; the rest waits for POLLOUT. */
static void flush_locked(struct st_node_host_out *o)
{
    size_t done = 0;
    while (o->conn >= 0 && !o->broken && done < o->len) {
        ssize_t n = write(o->conn, o->buf + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            char why[128];
            snprintf(why, sizeof(why), "write: %s", n < 0 ? strerror(errno) : "short write");
            mark_broken(o, why);
            return;
        }
        done += (size_t)n;
    }
    memmove(o->buf, o->buf + done, o->len - done);
    o->len -= done;
}

/* Numbers msg and appends it. The encoding happens here, under the mutex,
 * so seq order is the order on the wire whichever thread sends. */
static void queue_locked(struct st_node_host_out *o, json_t *msg)
{
    _cleanup_free_ char *line = NULL;
    st_error err = {0};
    if (st_proto_encode(msg, &o->seq, &line, &err) < 0) {
        st_node_log("cannot send a message: %s", err.msg);
        return;
    }
    size_t n = strlen(line);
    if (o->len + n > OUT_MAX) {
        mark_broken(o, "host stopped reading: output buffer full");
        return;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (nb == NULL) {
            mark_broken(o, "out of memory buffering output");
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, line, n);
    o->len += n;
}

/* ---- the heartbeat thread --------------------------------------------- */

/* In the VM the heartbeat (and the self-fence's watchdog) must win the one
 * vCPU from pod work; on a developer's host (tests) this may be refused,
 * which is fine. */
void st_node_thread_raise_priority(const char *who)
{
    struct sched_param sp = {.sched_priority = 1};
    int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (r == 0) {
        st_node_log("%s thread runs at SCHED_FIFO priority 1", who);
        return;
    }
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), -20) == 0) {
        st_node_log("%s thread runs at nice -20 (SCHED_FIFO: %s)", who, strerror(r));
        return;
    }
    st_node_log("%s thread runs at normal priority (SCHED_FIFO: %s; nice -20: %s)", who,
                strerror(r), strerror(errno));
}

static void heartbeat_send(struct st_node_host_out *o)
{
    int64_t uptime = st_node_uptime_or_zero();
    st_error err = {0};
    pthread_mutex_lock(&o->mu);
    if (o->conn >= 0 && o->greeted && !o->broken) {
        struct st_proto_heartbeat hb = {
            .uptime_ms = uptime, .pods_digest = o->digest, .pods = o->pods};
        _cleanup_json_ json_t *msg = NULL;
        if (st_proto_heartbeat_build(&hb, &msg, &err) < 0)
            st_node_log("cannot build a heartbeat: %s", err.msg);
        else
            queue_locked(o, msg);
        flush_locked(o);
        /* the loop polls for POLLOUT only when it knows bytes wait */
        if (o->len > 0 || o->broken)
            wake_loop(o);
    }
    pthread_mutex_unlock(&o->mu);
}

static void ts_add_ms(struct timespec *ts, int64_t ms)
{
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static int64_t ts_ms(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* Sleeps to absolute deadlines on CLOCK_MONOTONIC (a wall clock step, e.g.
 * from the host's `clock`, must not stall it). The sleep is a timed wait on
 * a condition rather than clock_nanosleep so that stopping needs neither
 * pthread_cancel (glibc loads libgcc_s for it, which the VM image may lack)
 * nor a signal that could arrive just before the sleep. */
static void *heartbeat_main(void *arg)
{
    struct st_node_host_out *o = arg;
    st_node_thread_raise_priority("heartbeat");
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&o->tmu);
    for (;;) {
        ts_add_ms(&next, o->heartbeat_ms);
        int r = 0;
        while (!o->stop && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&o->tcond, &o->tmu, &next);
        if (o->stop)
            break;
        pthread_mutex_unlock(&o->tmu);
        heartbeat_send(o);
        pthread_mutex_lock(&o->tmu);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (ts_ms(&next) + o->heartbeat_ms <= ts_ms(&now))
            next = now; /* fell behind (a suspended VM): no burst */
    }
    pthread_mutex_unlock(&o->tmu);
    return NULL;
}

/* ---- API -------------------------------------------------------------- */

static void locks_destroy(struct st_node_host_out *o)
{
    pthread_mutex_destroy(&o->mu);
    pthread_mutex_destroy(&o->tmu);
    pthread_cond_destroy(&o->tcond);
}

int st_node_mutex_init_pi(pthread_mutex_t *mu)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* ENOTSUP on a kernel without PI futexes: a plain mutex still works */
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    int r = pthread_mutex_init(mu, &ma);
    if (r != 0) {
        pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_NONE);
        r = pthread_mutex_init(mu, &ma);
    }
    pthread_mutexattr_destroy(&ma);
    return r;
}

/* All three or none. */
static int locks_init(struct st_node_host_out *o, st_error *err)
{
    pthread_condattr_t ca;
    int r = st_node_mutex_init_pi(&o->mu);
    if (r != 0)
        return st_error_set(err, r, "cannot create the output queue's mutex: %s", strerror(r));
    if ((r = pthread_mutex_init(&o->tmu, NULL)) != 0) {
        pthread_mutex_destroy(&o->mu);
        return st_error_set(err, r, "cannot create the heartbeat timer: %s", strerror(r));
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    r = pthread_cond_init(&o->tcond, &ca);
    pthread_condattr_destroy(&ca);
    if (r != 0) {
        pthread_mutex_destroy(&o->mu);
        pthread_mutex_destroy(&o->tmu);
        return st_error_set(err, r, "cannot create the heartbeat timer: %s", strerror(r));
    }
    return 0;
}

int st_node_host_out_new(int heartbeat_ms, struct st_node_host_out **out, st_error *err)
{
    struct st_node_host_out *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    o->conn = -1;
    o->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : ST_NODE_HEARTBEAT_MS_DEFAULT;
    /* the digest of no pods until the loop says otherwise */
    int r = st_proto_pods_digest(NULL, o->digest, err);
    if (r < 0) {
        free(o);
        return r;
    }
    o->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->wake_fd < 0) {
        int e = errno;
        free(o);
        return st_error_sys(err, e, "eventfd for the heartbeat thread");
    }
    if ((r = locks_init(o, err)) < 0) {
        close(o->wake_fd);
        free(o);
        return r;
    }
    if ((r = pthread_create(&o->thread, NULL, heartbeat_main, o)) != 0) {
        locks_destroy(o);
        close(o->wake_fd);
        free(o);
        return st_error_set(err, r, "cannot start the heartbeat thread: %s", strerror(r));
    }
    *out = o;
    return 0;
}

void st_node_host_out_free(struct st_node_host_out *o)
{
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->tmu);
    o->stop = true;
    pthread_cond_signal(&o->tcond);
    pthread_mutex_unlock(&o->tmu);
    pthread_join(o->thread, NULL);
    locks_destroy(o);
    close(o->wake_fd);
    free(o->buf);
    free(o);
}

int st_node_host_out_wake_fd(const struct st_node_host_out *o)
{
    return o->wake_fd;
}

void st_node_host_out_wake_clear(struct st_node_host_out *o)
{
    uint64_t n;
    while (read(o->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
}

void st_node_host_out_attach(struct st_node_host_out *o, int fd, json_t *hello)
{
    pthread_mutex_lock(&o->mu);
    o->conn = fd;
    o->len = 0;
    o->broken = false;
    o->why[0] = '\0';
    if (hello)
        queue_locked(o, hello);
    o->greeted = true;
    flush_locked(o);
    pthread_mutex_unlock(&o->mu);
    json_decref(hello);
}

void st_node_host_out_detach(struct st_node_host_out *o)
{
    pthread_mutex_lock(&o->mu);
    o->conn = -1;
    o->greeted = false;
    o->broken = false;
    o->len = 0;
    pthread_mutex_unlock(&o->mu);
}

void st_node_host_out_send(struct st_node_host_out *o, json_t *msg)
{
    if (msg == NULL)
        return;
    pthread_mutex_lock(&o->mu);
    if (o->conn >= 0 && !o->broken) {
        queue_locked(o, msg);
        flush_locked(o);
    }
    pthread_mutex_unlock(&o->mu);
    json_decref(msg);
}

void st_node_host_out_flush(struct st_node_host_out *o)
{
    pthread_mutex_lock(&o->mu);
    flush_locked(o);
    pthread_mutex_unlock(&o->mu);
}

bool st_node_host_out_pending(struct st_node_host_out *o)
{
    pthread_mutex_lock(&o->mu);
    bool pending = o->conn >= 0 && !o->broken && o->len > 0;
    pthread_mutex_unlock(&o->mu);
    return pending;
}

bool st_node_host_out_broken(struct st_node_host_out *o, char *why, size_t len)
{
    pthread_mutex_lock(&o->mu);
    bool broken = o->conn >= 0 && o->broken;
    if (broken)
        snprintf(why, len, "%s", o->why);
    pthread_mutex_unlock(&o->mu);
    return broken;
}

int st_node_host_out_unread(struct st_node_host_out *o)
{
    int n = -1;
    pthread_mutex_lock(&o->mu);
    if (o->conn >= 0) {
        /* a unix socket counts its bytes; a virtio-serial port has no
         * ioctl: readable and not hung up is all it tells */
        int avail = 0;
        if (ioctl(o->conn, FIONREAD, &avail) == 0) {
            n = avail > 0 ? avail : 0;
        } else {
            struct pollfd p = {.fd = o->conn, .events = POLLIN};
            n = poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && !(p.revents & POLLHUP) ? INT_MAX : 0;
        }
    }
    pthread_mutex_unlock(&o->mu);
    return n;
}

void st_node_host_out_set_pods(struct st_node_host_out *o, const char *digest, int64_t pods)
{
    pthread_mutex_lock(&o->mu);
    snprintf(o->digest, sizeof(o->digest), "%s", digest);
    o->pods = pods;
    pthread_mutex_unlock(&o->mu);
}
