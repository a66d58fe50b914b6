/* self_fence.c: the guest half of a host's self-fence. When a host's
 * stratad dies (kill -9) its VMs keep running, and once the host's lease
 * has expired another host's leader starts their pods elsewhere: two
 * copies of a pod must not run, so strata-node stops its pods itself when
 * it has heard nothing from its host for hostGraceMs (kernel cmdline
 * strata.host_grace_ms=, or the host's `settings`; 0 = off, as on a single
 * host, where pods outlive a stratad restart).
 *
 * A watchdog thread of its own keeps the deadline, apart from the agent
 * loop, which may spend seconds starting pods under QEMU TCG: at the
 * deadline it SIGKILLs every container it tracks through a pidfd of its
 * own (race-free against the loop reaping it; each container is the init
 * of its PID namespace, so its whole tree goes), then wakes the loop,
 * which marks the pods Failed (reason HostLost) and keeps them from
 * restarting. A container started while a fence is in force is killed as
 * it is tracked. Only the host's next pod_run starts such a pod again.
 *
 * "Heard" is the loop reading bytes from the host (any message). A busy
 * loop leaves them unread: the watchdog asks the channel before it fires
 * (st_node_host_out_unread), and bytes that arrived since its last look
 * count as the host speaking (a unix socket counts them; a virtio-serial
 * port only says it is readable, so there unread bytes always count and
 * a busy loop delays the fence until it reads). */
#include "node.h"
#include "strata/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000LL

struct tracked {
    const void *key;
    int pidfd; /* our own duplicate */
    char uid[65];
};

struct st_node_self_fence {
    pthread_mutex_t mu;
    pthread_cond_t cond;            /* CLOCK_MONOTONIC: the watchdog's sleep */
    int64_t grace_ms;               /* [mu] 0 = off */
    int64_t last_ns;                /* [mu] the host was last heard (st_clock_ns) */
    int last_unread;                /* [mu] unread bytes at the watchdog's last look */
    bool in_force;                  /* [mu] fired, and the host has not spoken since */
    bool stop;                      /* [mu] */
    struct st_node_fence_fire fire; /* [mu] the latest firing */
    uint64_t taken;                 /* [mu] epoch of the firing the loop took */
    struct tracked *t;              /* [mu] */
    size_t n, cap;                  /* [mu] */
    st_node_unread_fn unread;
    void *unread_ctx;
    int wake_fd; /* eventfd: the loop has a firing to take */
    pthread_t thread;
};

bool st_node_host_silent(int64_t last_ns, int64_t now_ns, int64_t grace_ms)
{
    return grace_ms > 0 && now_ns - last_ns >= grace_ms * NS_PER_MS;
}

/* ---- the watchdog thread ---------------------------------------------- */

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

/* SIGKILLs every tracked container and tells the loop (mu held). */
static void fire_locked(struct st_node_self_fence *f, int64_t now, int64_t deadline)
{
    int killed = 0, pods = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (pidfd_send_signal(f->t[i].pidfd, SIGKILL, NULL, 0) == 0)
            killed++;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(f->t[k].uid, f->t[i].uid) == 0;
        pods += !seen;
    }
    f->in_force = true;
    f->fire = (struct st_node_fence_fire){
        .epoch = f->fire.epoch + 1,
        .deadline_ns = deadline,
        .fired_ns = now,
        .silent_ms = (now - f->last_ns) / NS_PER_MS,
        .grace_ms = f->grace_ms,
        .killed = killed,
        .pods = pods,
    };
    uint64_t one = 1;
    if (write(f->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        st_node_log("self-fence: cannot wake the agent loop: %s", strerror(errno));
}

static void *watchdog_main(void *arg)
{
    struct st_node_self_fence *f = arg;
    st_node_thread_raise_priority("self-fence watchdog");
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        if (f->grace_ms <= 0 || f->in_force) {
            /* off, or fired: nothing to keep until a setting or the host */
            pthread_cond_wait(&f->cond, &f->mu);
            continue;
        }
        int64_t deadline = f->last_ns + f->grace_ms * NS_PER_MS;
        int64_t now = st_clock_ns();
        if (!st_node_host_silent(f->last_ns, now, f->grace_ms)) {
            struct timespec ts;
            ns_to_ts(deadline, &ts);
            pthread_cond_timedwait(&f->cond, &f->mu, &ts);
            continue;
        }
        /* Silent as far as the loop read. Bytes may wait behind a busy
         * loop: ask the channel, without holding mu (the output queue has
         * its own lock; never both at once). */
        int64_t last = f->last_ns;
        pthread_mutex_unlock(&f->mu);
        int unread = f->unread ? f->unread(f->unread_ctx) : -1;
        pthread_mutex_lock(&f->mu);
        if (f->stop || f->last_ns != last || f->grace_ms <= 0)
            continue; /* heard meanwhile, or changed: look again */
        if (unread > 0 && (unread == INT_MAX || unread != f->last_unread)) {
            f->last_unread = unread;
            f->last_ns = now; /* the host wrote since the last look */
            continue;
        }
        fire_locked(f, now, deadline);
        struct st_node_fence_fire fire = f->fire;
        pthread_mutex_unlock(&f->mu);
        /* after the kills: the console may be slow */
        st_node_log("host silent for %lld ms: stopped %d pods (self-fence); %d containers "
                    "SIGKILLed %.1f ms after the deadline (hostGraceMs %lld); they stay stopped "
                    "until the host sends pod_run",
                    (long long)fire.silent_ms, fire.pods, fire.killed,
                    (double)(fire.fired_ns - fire.deadline_ns) / 1e6, (long long)fire.grace_ms);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* ---- API -------------------------------------------------------------- */

int st_node_self_fence_new(int64_t grace_ms, st_node_unread_fn unread, void *ctx,
                           struct st_node_self_fence **out, st_error *err)
{
    struct st_node_self_fence *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    f->grace_ms = grace_ms > 0 ? grace_ms : 0;
    f->last_ns = st_clock_ns(); /* a host that never speaks: silent from the start */
    f->unread = unread;
    f->unread_ctx = ctx;
    f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->wake_fd < 0) {
        int e = errno;
        free(f);
        return st_error_sys(err, e, "eventfd for the self-fence");
    }
    int r = st_node_mutex_init_pi(&f->mu);
    if (r != 0) {
        close(f->wake_fd);
        free(f);
        return st_error_set(err, r, "cannot create the self-fence's mutex: %s", strerror(r));
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    r = pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (r == 0 && (r = pthread_create(&f->thread, NULL, watchdog_main, f)) != 0)
        pthread_cond_destroy(&f->cond);
    if (r != 0) {
        pthread_mutex_destroy(&f->mu);
        close(f->wake_fd);
        free(f);
        return st_error_set(err, r, "cannot start the self-fence's watchdog thread: %s",
                            strerror(r));
    }
    *out = f;
    return 0;
}

void st_node_self_fence_free(struct st_node_self_fence *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    for (size_t i = 0; i < f->n; i++)
        close(f->t[i].pidfd);
    free(f->t);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mu);
    close(f->wake_fd);
    free(f);
}

void st_node_self_fence_set_grace(struct st_node_self_fence *f, int64_t grace_ms)
{
    pthread_mutex_lock(&f->mu);
    f->grace_ms = grace_ms > 0 ? grace_ms : 0;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mu);
}

int64_t st_node_self_fence_grace(struct st_node_self_fence *f)
{
    pthread_mutex_lock(&f->mu);
    int64_t g = f->grace_ms;
    pthread_mutex_unlock(&f->mu);
    return g;
}

bool st_node_self_fence_heard(struct st_node_self_fence *f, int64_t now_ns)
{
    pthread_mutex_lock(&f->mu);
    if (now_ns > f->last_ns)
        f->last_ns = now_ns;
    f->last_unread = 0; /* the loop read what was there */
    bool ended = f->in_force;
    if (ended) {
        f->in_force = false;
        pthread_cond_signal(&f->cond); /* keep the next deadline */
    }
    pthread_mutex_unlock(&f->mu);
    return ended;
}

int st_node_self_fence_wake_fd(const struct st_node_self_fence *f)
{
    return f->wake_fd;
}

bool st_node_self_fence_take(struct st_node_self_fence *f, struct st_node_fence_fire *fire)
{
    uint64_t n;
    while (read(f->wake_fd, &n, sizeof(n)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&f->mu);
    bool fresh = f->fire.epoch != f->taken;
    if (fresh) {
        *fire = f->fire;
        f->taken = f->fire.epoch;
    }
    pthread_mutex_unlock(&f->mu);
    return fresh;
}

bool st_node_self_fence_track(struct st_node_self_fence *f, const void *key, int pidfd,
                              const char *uid)
{
    if (f == NULL)
        return false;
    pthread_mutex_lock(&f->mu);
    bool in_force = f->in_force;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct tracked *nt = realloc(f->t, cap * sizeof(*nt));
        if (nt == NULL) {
            pthread_mutex_unlock(&f->mu);
            st_node_log("self-fence: out of memory: pod %s's container is not watched", uid);
            return in_force;
        }
        f->t = nt;
        f->cap = cap;
    }
    int fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
        int e = errno;
        pthread_mutex_unlock(&f->mu);
        st_node_log("self-fence: cannot keep a pidfd of pod %s's container (%s): it is not "
                    "watched",
                    uid, strerror(e));
        return in_force;
    }
    struct tracked *t = &f->t[f->n++];
    t->key = key;
    t->pidfd = fd;
    snprintf(t->uid, sizeof(t->uid), "%s", uid);
    if (in_force)
        pidfd_send_signal(fd, SIGKILL, NULL, 0);
    pthread_mutex_unlock(&f->mu);
    return in_force;
}

void st_node_self_fence_untrack(struct st_node_self_fence *f, const void *key)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        if (f->t[i].key != key)
            continue;
        close(f->t[i].pidfd);
        f->t[i] = f->t[--f->n];
        break;
    }
    pthread_mutex_unlock(&f->mu);
}
