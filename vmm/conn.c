/* conn.c: the libvirt connection, the process's one libvirt event thread,
 * lifecycle events, the node registry and the event queue. Code on the event
 * thread only records and queues: it never waits on a consumer, never makes
 * a libvirt RPC, and never blocks on anything but vmm->lock (held briefly). */
#include "vmm_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include <libvirt/virterror.h>

/* Keepalive: a dead libvirtd is noticed after ~15 s instead of never. */
#define ST_VMM_KEEPALIVE_INTERVAL_S 5
#define ST_VMM_KEEPALIVE_COUNT      3

struct st_vmm_qitem {
    struct st_vmm_qitem *next;
    st_vmm_event ev;
};

int64_t st_vmm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void st_vmm_deadline(struct timespec *dl, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, dl);
    dl->tv_sec += timeout_ms / 1000;
    dl->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl->tv_nsec >= 1000000000) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000;
    }
}

const char *st_node_death_name(st_node_death cause)
{
    switch (cause) {
    case ST_NODE_DEATH_CHANNEL_EOF:
        return "channel EOF";
    case ST_NODE_DEATH_STOPPED:
        return "libvirt STOPPED";
    case ST_NODE_DEATH_CRASHED:
        return "libvirt CRASHED";
    case ST_NODE_DEATH_NONE:
        break;
    }
    return "none";
}

const char *st_vmm_virt_error(void)
{
    const char *m = virGetLastErrorMessage();
    return m ? m : "unknown libvirt error";
}

/* ---- the event thread ------------------------------------------------- */

static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_init_rc;
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static int loop_users;
static pthread_t loop_thread;
static atomic_bool loop_quit;
/* Iterations the event thread completed; st_vmm_sync waits on it. */
static pthread_mutex_t iter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t iter_cond;
static unsigned long iterations; /* [iter_lock] */

/* libvirt prints every error to stderr by default; ours are returned. */
static void quiet_errors(void *opaque, virErrorPtr e)
{
    (void)opaque;
    (void)e;
}

static void loop_register(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&iter_cond, &ca);
    pthread_condattr_destroy(&ca);
    virSetErrorFunc(NULL, quiet_errors);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
        loop_init_rc = -1;
}

static void *loop_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&loop_quit)) {
        if (virEventRunDefaultImpl() < 0)
            break;
        pthread_mutex_lock(&iter_lock);
        iterations++;
        pthread_cond_broadcast(&iter_cond);
        pthread_mutex_unlock(&iter_lock);
    }
    return NULL;
}

static void loop_wake_cb(int timer, void *opaque)
{
    (void)opaque;
    virEventRemoveTimeout(timer);
}

/* st_vmm_sync's timer: due at once, so the loop does not block in poll
 * while a sync waits; it goes after its second firing. */
static void sync_timer_cb(int timer, void *opaque)
{
    int *fired = opaque;
    if (++*fired >= 2)
        virEventRemoveTimeout(timer);
}

int st_vmm_sync(st_vmm *vmm, int timeout_ms, st_error *err)
{
    (void)vmm;
    if (timeout_ms < 0)
        return st_error_set(err, EINVAL, "st_vmm_sync: timeout_ms %d: give a bound", timeout_ms);
    int *fired = calloc(1, sizeof(*fired));
    if (fired == NULL)
        return st_error_set(err, ENOMEM, "vmm: out of memory");
    pthread_mutex_lock(&iter_lock);
    unsigned long want = iterations + 2;
    pthread_mutex_unlock(&iter_lock);
    /* Adding a timer interrupts the loop's poll. The iteration under way may
     * have polled before what we wait for arrived; the one after it polls
     * after this call and reads every channel that was readable then. */
    if (virEventAddTimeout(0, sync_timer_cb, fired, free) < 0) {
        free(fired);
        return st_error_set(err, EIO, "vmm: cannot wake the libvirt event thread");
    }
    struct timespec dl;
    st_vmm_deadline(&dl, timeout_ms);
    int r = 0;
    pthread_mutex_lock(&iter_lock);
    while ((long)(iterations - want) < 0 && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&iter_cond, &iter_lock, &dl);
    bool done = (long)(iterations - want) >= 0;
    pthread_mutex_unlock(&iter_lock);
    if (!done)
        return st_error_set(err, ETIMEDOUT,
                            "the libvirt event thread did not complete an iteration within %d ms",
                            timeout_ms);
    return 0;
}

static int loop_start(st_error *err)
{
    pthread_once(&loop_once, loop_register);
    if (loop_init_rc < 0)
        return st_error_set(err, EIO, "libvirt: cannot set up the event loop: %s",
                            st_vmm_virt_error());
    pthread_mutex_lock(&loop_lock);
    if (loop_users++ == 0) {
        atomic_store(&loop_quit, false);
        int r = pthread_create(&loop_thread, NULL, loop_main, NULL);
        if (r != 0) {
            loop_users--;
            pthread_mutex_unlock(&loop_lock);
            return st_error_set(err, r, "libvirt: cannot start the event thread: %s", strerror(r));
        }
    }
    pthread_mutex_unlock(&loop_lock);
    return 0;
}

static void loop_stop(void)
{
    pthread_mutex_lock(&loop_lock);
    if (--loop_users == 0) {
        atomic_store(&loop_quit, true);
        /* A zero-delay timer makes the blocked poll return, so the thread
         * sees loop_quit; the timer removes itself when it fires. */
        virEventAddTimeout(0, loop_wake_cb, NULL, NULL);
        pthread_join(loop_thread, NULL);
    }
    pthread_mutex_unlock(&loop_lock);
}

/* ---- the queue -------------------------------------------------------- */

static void queue_push(st_vmm *vmm, struct st_vmm_qitem *it)
{
    /* [lock] held by the caller */
    it->ev.mono_ns = st_vmm_now_ns();
    if (vmm->qtail)
        vmm->qtail->next = it;
    else
        vmm->qhead = it;
    vmm->qtail = it;
    uint64_t one = 1;
    if (write(vmm->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN only when the counter is saturated: it is nonzero anyway. */
    }
}

void st_vmm_queue_message(st_vmm *vmm, const char *node, json_t *msg)
{
    struct st_vmm_qitem *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        json_decref(msg);
        return;
    }
    it->ev.kind = ST_VMM_EVENT_MESSAGE;
    snprintf(it->ev.node, sizeof(it->ev.node), "%s", node);
    it->ev.msg = msg;
    json_t *t = json_object_get(msg, "type");
    it->ev.type = json_string_value(t);
    pthread_mutex_lock(&vmm->lock);
    queue_push(vmm, it);
    pthread_mutex_unlock(&vmm->lock);
}

int st_vmm_event_fd(st_vmm *vmm)
{
    return vmm->efd;
}

void st_vmm_event_clear(st_vmm_event *ev)
{
    if (ev->msg)
        json_decref(ev->msg);
    memset(ev, 0, sizeof(*ev));
}

int st_vmm_event_next(st_vmm *vmm, int timeout_ms, st_vmm_event *ev, st_error *err)
{
    memset(ev, 0, sizeof(*ev));
    if (timeout_ms < 0)
        return st_error_set(err, EINVAL, "st_vmm_event_next: timeout_ms %d: give a bound",
                            timeout_ms);
    struct pollfd p = {.fd = vmm->efd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return st_error_sys(err, errno, "vmm events: poll");
    pthread_mutex_lock(&vmm->lock);
    struct st_vmm_qitem *it = vmm->qhead;
    if (it) {
        vmm->qhead = it->next;
        if (vmm->qhead == NULL) {
            vmm->qtail = NULL;
            uint64_t n;
            if (read(vmm->efd, &n, sizeof(n)) < 0) {
                /* EAGAIN: already zero */
            }
        }
    }
    pthread_mutex_unlock(&vmm->lock);
    if (it == NULL)
        return 0;
    *ev = it->ev;
    free(it);
    return 1;
}

/* ---- the registry ----------------------------------------------------- */

st_vmm_node *st_vmm_node_new(st_vmm *vmm, const char *name, const char *sock_path,
                             const char *console_path, const char *data_path)
{
    st_vmm_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    atomic_init(&n->refs, 1);
    n->vmm = vmm;
    snprintf(n->name, sizeof(n->name), "%s", name);
    snprintf(n->domain, sizeof(n->domain), "%s%s", ST_NODE_DOMAIN_PREFIX, name);
    n->sock_path = strdup(sock_path);
    n->console_path = strdup(console_path);
    n->data_path = strdup(data_path);
    n->chan_fd = -1;
    n->watch = -1;
    pthread_mutex_init(&n->send_lock, NULL);
    st_proto_reader_init(&n->reader);
    if (n->sock_path == NULL || n->console_path == NULL || n->data_path == NULL) {
        st_vmm_node_unref(n);
        return NULL;
    }
    return n;
}

void st_vmm_node_unref(st_vmm_node *node)
{
    if (node == NULL || atomic_fetch_sub(&node->refs, 1) != 1)
        return;
    if (node->chan_fd >= 0)
        close(node->chan_fd);
    st_proto_reader_free(&node->reader);
    pthread_mutex_destroy(&node->send_lock);
    if (node->hello)
        json_decref(node->hello);
    free(node->sock_path);
    free(node->data_path);
    free(node->console_path);
    free(node);
}

int st_vmm_registry_add(st_vmm *vmm, st_vmm_node *node, st_error *err)
{
    pthread_mutex_lock(&vmm->lock);
    for (st_vmm_node *n = vmm->nodes; n; n = n->next)
        if (strcmp(n->name, node->name) == 0) {
            pthread_mutex_unlock(&vmm->lock);
            return st_error_set(err, EEXIST,
                                "node %s: already managed by this process; destroy and "
                                "undefine it first, or pick another name",
                                node->name);
        }
    atomic_fetch_add(&node->refs, 1);
    node->next = vmm->nodes;
    vmm->nodes = node;
    pthread_mutex_unlock(&vmm->lock);
    return 0;
}

void st_vmm_registry_remove(st_vmm *vmm, st_vmm_node *node)
{
    bool found = false;
    pthread_mutex_lock(&vmm->lock);
    for (st_vmm_node **pp = &vmm->nodes; *pp; pp = &(*pp)->next)
        if (*pp == node) {
            *pp = node->next;
            found = true;
            break;
        }
    pthread_mutex_unlock(&vmm->lock);
    st_vmm_channel_close(node);
    if (found)
        st_vmm_node_unref(node);
}

st_vmm_node *st_vmm_registry_get(st_vmm *vmm, const char *name)
{
    st_vmm_node *found = NULL;
    pthread_mutex_lock(&vmm->lock);
    for (st_vmm_node *n = vmm->nodes; n; n = n->next)
        if (strcmp(n->name, name) == 0) {
            atomic_fetch_add(&n->refs, 1);
            found = n;
            break;
        }
    pthread_mutex_unlock(&vmm->lock);
    return found;
}

void st_vmm_node_mark_dead(st_vmm_node *node, st_node_death cause, int64_t ts, const char *detail)
{
    st_vmm *vmm = node->vmm;
    struct st_vmm_qitem *it = calloc(1, sizeof(*it));
    pthread_mutex_lock(&vmm->lock);
    if (cause == ST_NODE_DEATH_CHANNEL_EOF) {
        if (node->eof_ns == 0)
            node->eof_ns = ts;
    } else if (node->stopped_ns == 0) {
        node->stopped_ns = ts;
    }
    if (!node->dead) {
        node->dead = true;
        node->cause = cause;
        if (it) {
            it->ev.kind = ST_VMM_EVENT_DEAD;
            snprintf(it->ev.node, sizeof(it->ev.node), "%s", node->name);
            it->ev.cause = cause;
            it->ev.sign_ns = ts;
            snprintf(it->ev.detail, sizeof(it->ev.detail), "%s", detail ? detail : "");
            queue_push(vmm, it);
            node->dead_ns = it->ev.mono_ns;
            it = NULL;
        }
        pthread_cond_broadcast(&vmm->cond);
    }
    pthread_mutex_unlock(&vmm->lock);
    free(it);
}

int st_vmm_node_signs_get(st_vmm *vmm, const char *name, st_vmm_node_signs *out, st_error *err)
{
    memset(out, 0, sizeof(*out));
    st_vmm_node *n = st_vmm_registry_get(vmm, name);
    if (n == NULL)
        return st_error_set(err, ENOENT, "node %s: not started by this process", name);
    pthread_mutex_lock(&vmm->lock);
    out->ready = n->ready;
    out->dead = n->dead;
    out->cause = n->cause;
    out->eof_ns = n->eof_ns;
    out->stopped_ns = n->stopped_ns;
    out->dead_ns = n->dead_ns;
    pthread_mutex_unlock(&vmm->lock);
    st_vmm_node_unref(n);
    return 0;
}

/* ---- lifecycle events (event thread) ------------------------------------ */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    (void)conn;
    int64_t ts = st_vmm_now_ns();
    st_vmm *vmm = opaque;
    st_node_death cause;
    if (event == VIR_DOMAIN_EVENT_STOPPED)
        cause = ST_NODE_DEATH_STOPPED;
    else if (event == VIR_DOMAIN_EVENT_CRASHED)
        cause = ST_NODE_DEATH_CRASHED;
    else
        return 0;
    const char *dname = virDomainGetName(dom);
    size_t plen = strlen(ST_NODE_DOMAIN_PREFIX);
    if (dname == NULL || strncmp(dname, ST_NODE_DOMAIN_PREFIX, plen) != 0)
        return 0;
    st_vmm_node *n = st_vmm_registry_get(vmm, dname + plen);
    if (n == NULL)
        return 0;
    char why[96];
    snprintf(why, sizeof(why), "%s (detail %d)", st_node_death_name(cause), detail);
    st_vmm_node_mark_dead(n, cause, ts, why);
    st_vmm_node_unref(n);
    return 0;
}

/* ---- open / close ----------------------------------------------------- */

int st_vmm_open(const st_vmm_options *opts, st_vmm **out, st_error *err)
{
    const char *uri = opts && opts->uri ? opts->uri : ST_VMM_URI_DEFAULT;
    int r = loop_start(err);
    if (r < 0)
        return r;
    st_vmm *vmm = calloc(1, sizeof(*vmm));
    if (vmm == NULL) {
        loop_stop();
        return st_error_set(err, ENOMEM, "vmm: out of memory");
    }
    vmm->lifecycle_cb = -1;
    vmm->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&vmm->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&vmm->lock, NULL);
    pthread_mutex_init(&vmm->template_lock, NULL);
    vmm->uri = strdup(uri);
    if (vmm->efd < 0 || vmm->uri == NULL) {
        r = st_error_sys(err, errno ? errno : ENOMEM, "vmm: eventfd");
        st_vmm_close(vmm);
        return r;
    }
    vmm->conn = virConnectOpen(uri);
    if (vmm->conn == NULL) {
        r = st_error_set(err, ECONNREFUSED,
                         "cannot connect to libvirt at %s: %s; is libvirtd running? "
                         "(scripts/setup starts it)",
                         uri, st_vmm_virt_error());
        st_vmm_close(vmm);
        return r;
    }
    if (virConnectSetKeepAlive(vmm->conn, ST_VMM_KEEPALIVE_INTERVAL_S, ST_VMM_KEEPALIVE_COUNT) <
        0) {
        /* Local drivers (test:///) have no keepalive; not an error. */
    }
    vmm->lifecycle_cb =
        virConnectDomainEventRegisterAny(vmm->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), vmm, NULL);
    if (vmm->lifecycle_cb < 0) {
        r = st_error_set(err, EIO, "libvirt at %s: cannot subscribe to lifecycle events: %s", uri,
                         st_vmm_virt_error());
        st_vmm_close(vmm);
        return r;
    }
    *out = vmm;
    return 0;
}

void st_vmm_close(st_vmm *vmm)
{
    if (vmm == NULL)
        return;
    if (vmm->conn && vmm->lifecycle_cb >= 0)
        virConnectDomainEventDeregisterAny(vmm->conn, vmm->lifecycle_cb);
    for (;;) {
        pthread_mutex_lock(&vmm->lock);
        st_vmm_node *n = vmm->nodes;
        pthread_mutex_unlock(&vmm->lock);
        if (n == NULL)
            break;
        st_vmm_registry_remove(vmm, n);
    }
    if (vmm->conn)
        virConnectClose(vmm->conn);
    /* Stopping the loop runs the free callbacks of removed channel watches,
     * which drop the last node references. */
    loop_stop();
    st_vmm_event ev;
    while (st_vmm_event_next(vmm, 0, &ev, NULL) == 1)
        st_vmm_event_clear(&ev);
    if (vmm->efd >= 0)
        close(vmm->efd);
    pthread_mutex_destroy(&vmm->lock);
    pthread_mutex_destroy(&vmm->template_lock);
    pthread_cond_destroy(&vmm->cond);
    free(vmm->uri);
    free(vmm);
}
