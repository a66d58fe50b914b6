/* server.c: the server's life: opening it (the state dir lock, the store
 * with its private PostgreSQL, libvirt, re-adopting running nodes),
 * closing it, the controller pass the program's loop runs (paused while
 * the store cannot be reached, the private PostgreSQL started again if it
 * died), and what every part shares at run time: the log line format and
 * the kick that wakes the loop and the watchers after a write. */
#include "server_priv.h"
#include "watch_ring.h"
#include "change_tail.h"
#include "strata/store_changes.h"
#include "strata/controller.h"
#include "strata/netalloc.h"
#include "strata/fs.h"
#include "strata/statedir.h"
#include "strata/cleanup.h"
#include "strata/names.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

void st_server_log(const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fprintf(stderr, "stratad %s.%03ld ", ts, now.tv_nsec / 1000000);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void st_server_kick(struct st_server *d)
{
    uint64_t one = 1;
    atomic_fetch_add(&d->generation, 1);
    if (write(d->kick_fd, &one, sizeof(one)) < 0) {
        /* The counter is only full when the loop is already due to wake. */
    }
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

int64_t st_server_now_ns(struct st_server *d)
{
    return d->vmm.ops->now_ns(d->vmm.ctx);
}

/* ---- open and close ------------------------------------------------------- */

/* This host's name: --host-name, or the machine's (its first label). It
 * names the host's lease and labels its nodes (strata.io/host). */
static int host_name_set(struct st_server *d, st_error *err)
{
    char buf[256] = {0};
    if (d->cfg.host_name)
        d->cfg.multi_host = true;
    if (d->cfg.multi_host && d->cfg.db_dsn == NULL)
        return st_error_set(err, EINVAL,
                            "several hosts share one PostgreSQL: give it with --db DSN (without "
                            "--db, stratad runs its own cluster and is alone)");
    if (d->cfg.host_name)
        snprintf(buf, sizeof(buf), "%s", d->cfg.host_name);
    else if (gethostname(buf, sizeof(buf) - 1) == 0) {
        char *dot = strchr(buf, '.');
        if (dot)
            *dot = 0;
        for (char *c = buf; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    if (!st_name_dns_label_ok(buf) || strlen(buf) >= sizeof(d->host_name) - 16)
        return st_error_set(err, EINVAL,
                            "host name \"%s\": give --host-name NAME, lowercase letters, digits "
                            "and '-', at most %zu characters",
                            buf, sizeof(d->host_name) - 17);
    memcpy(d->host_name, buf, strlen(buf) + 1); /* checked shorter above */
    d->cfg.host_name = d->host_name;
    return 0;
}

static int server_alloc(const st_server_config *cfg, struct st_server **out, st_error *err)
{
    struct st_server *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    d->cfg = *cfg;
    if (d->cfg.grace_ms <= 0)
        d->cfg.grace_ms = ST_SERVER_GRACE_MS_DEFAULT;
    d->lock_fd = d->listen_fd = -1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->changed, NULL);
    st_server_node_pool_init(&d->node_pool, 0);
    d->logs = json_object();
    int r = st_server_ui_new(&d->ui);
    d->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    *out = d;
    if (d->kick_fd < 0)
        return st_error_sys(err, errno, "eventfd");
    if (d->logs == NULL || r < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    return host_name_set(d, err);
}

int st_server_new(const st_server_config *cfg, st_store *store, struct st_server_vmm vmm,
                  struct st_server **out, st_error *err)
{
    struct st_server *d = NULL;
    int r = server_alloc(cfg, &d, err);
    if (d) {
        d->store = store;
        d->vmm = vmm;
    }
    if (r == 0)
        r = st_server_watch_attach(d, ST_SERVER_WATCH_RING_DEFAULT, err);
    /* issue 17: on a shared store the ring is fed by the change feed */
    if (r == 0 && d->cfg.shared_store)
        r = st_server_change_tail_start(d, err);
    if (r == 0)
        r = st_control_namespaces_ensure(store, err);
    if (r < 0) {
        st_server_close(d);
        return r;
    }
    *out = d;
    return 0;
}

/* A PostgreSQL server given with --db that is not up yet (stratad started
 * first, or both at boot) is waited for, with back-off up to 10 s, as a
 * kubelet waits for its API server; a private cluster that will not start,
 * or a --db that refuses us (password, database), is an error at once.
 * SIGINT or SIGTERM (blocked by stratad's main, read here) ends the wait. */
static int open_store_waiting(struct st_server *d, const char *dsn, int *applied, st_error *err)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    for (unsigned delay = 1;; delay = delay * 2 > 10 ? 10 : delay * 2) {
        int r = st_store_pg_open(dsn, d->key, applied, &d->store, err);
        if (r != -ST_ESTORE_DOWN || d->pg)
            return r;
        st_server_log("store: %s; trying again in %u s (stratad serves once it connects; "
                      "start that PostgreSQL server, or stop stratad and fix --db)",
                      err->msg, delay);
        st_error_clear(err);
        struct timespec ts = {.tv_sec = delay};
        if (sigtimedwait(&stop, NULL, &ts) > 0)
            return st_error_set(err, ECANCELED,
                                "stopped while waiting for the PostgreSQL server given with --db");
    }
}

static int open_store(struct st_server *d, st_error *err)
{
    int r;
    const char *dsn = d->cfg.db_dsn;
    if (dsn == NULL) {
        st_server_log("starting the private PostgreSQL cluster in %s/pg", d->cfg.state_dir);
        if ((r = st_pg_embedded_start(d->cfg.state_dir, &d->pg, err)) < 0)
            return r;
        dsn = st_pg_embedded_dsn(d->pg);
    }
    if ((r = d->cfg.secret_key ? st_secret_key_load_file(d->cfg.secret_key, &d->key, err)
                               : st_secret_key_load(d->cfg.state_dir, &d->key, err)) < 0)
        return r;
    int applied = 0;
    /* With --multi-host, the --db store is shared with the stratad of
     * other hosts (issue 17): every write records its change for them,
     * and this one's ring follows theirs. A private cluster, or a --db
     * without --multi-host, is this stratad's alone. */
    if (d->pg == NULL && d->cfg.multi_host)
        d->cfg.shared_store = true;
    if ((r = open_store_waiting(d, dsn, &applied, err)) < 0 ||
        (d->cfg.shared_store && (r = st_store_changes_record(d->store, true, err)) < 0) ||
        (r = st_server_watch_attach(d, ST_SERVER_WATCH_RING_DEFAULT, err)) < 0)
        return r;
    /* issue 17: on a shared store the ring is fed by the change feed */
    if (d->cfg.shared_store && (r = st_server_change_tail_start(d, err)) < 0)
        return r;
    st_server_log("store ready (%s; %d migration%s applied)", d->pg ? "private cluster" : "--db",
                  applied, applied == 1 ? "" : "s");
    /* A shared database: this host's lease before any node is touched. */
    if (d->cfg.shared_store && (r = st_server_hosts_open(d, dsn, err)) < 0)
        return r;
    return 0;
}

static int setup(struct st_server *d, st_error *err)
{
    int r;
    char host[64];
    unsigned port;
    /* A wrong flag or a second server on a socket in use refuses before it
     * makes a state dir or runs initdb in it. */
    if ((r = st_server_api_listen_check(&d->cfg, host, sizeof(host), &port, err)) < 0 ||
        (r = st_server_api_socket_check(d->cfg.socket_path, err)) < 0 ||
        (r = st_statedir_lock(d->cfg.state_dir, &d->lock_fd, err)) < 0)
        return r;
    struct stat st;
    if (stat(d->cfg.state_dir, &st) == 0)
        chmod(d->cfg.state_dir, (st.st_mode & 07777) | S_IXOTH);
    if (asprintf(&d->nodes_dir, "%s/nodes", d->cfg.state_dir) < 0) {
        d->nodes_dir = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    /* in the state dir, which one stratad holds locked: two stratad never
     * share a template */
    if (asprintf(&d->templates_dir, "%s/templates", d->cfg.state_dir) < 0) {
        d->templates_dir = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    if (d->cfg.images_dir)
        d->images_dir = strdup(d->cfg.images_dir);
    else if (asprintf(&d->images_dir, "%s/images", d->cfg.state_dir) < 0)
        d->images_dir = NULL;
    if (d->images_dir == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    /* The image store: its folder is also the nodes' read-only 9p share. */
    if ((r = st_fs_mkdir_mode(d->nodes_dir, 0755, err)) < 0 ||
        (r = st_fs_mkdir_mode(d->images_dir, 0755, err)) < 0 ||
        (r = st_image_store_open(d->images_dir, &d->images, err)) < 0)
        return r;
    if ((r = open_store(d, err)) < 0 || (r = st_control_namespaces_ensure(d->store, err)) < 0)
        return r;
    if ((r = st_server_vmm_real_open(d->cfg.libvirt_uri, &d->vmm, err)) < 0 ||
        (r = st_server_proxy_open(d, err)) < 0)
        return r;
    return st_server_nodes_readopt(d, err);
}

int st_server_open(const st_server_config *cfg, st_server **out, st_error *err)
{
    struct st_server *d = NULL;
    int r = server_alloc(cfg, &d, err);
    if (r == 0)
        r = setup(d, err);
    if (r < 0) {
        st_server_close(d);
        *out = NULL;
        return r;
    }
    *out = d;
    return 0;
}

void st_server_stop(st_server *d)
{
    atomic_store(&d->stopping, true);
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
    st_server_watch_wake(d);
}

void st_server_close(st_server *d)
{
    if (d == NULL)
        return;
    atomic_store(&d->stopping, true);
    st_server_api_stop(d);
    st_server_hosts_close(d);
    st_server_nodes_drain(d);
    st_server_proxy_close(d);
    st_server_nodes_free(d);
    st_server_pulls_free(d);
    if (d->images)
        st_image_store_close(d->images);
    if (d->vmm.ops)
        d->vmm.ops->close(d->vmm.ctx);
    st_server_change_tail_stop(d); /* issue 17: it reads the store into the ring */
    st_server_watch_detach(d);
    st_store_close(d->store);
    if (d->pg_worker_joinable)
        pthread_join(d->pg_worker, NULL); /* pg_ctl start, bounded by its -t */
    if (d->pg) {
        st_error err = {0};
        if (st_pg_embedded_stop(d->pg, &err) < 0)
            st_server_log("stopping PostgreSQL: %s", err.msg);
        st_pg_embedded_free(d->pg);
    }
    st_secret_key_free(d->key);
    json_decref(d->logs);
    st_server_ui_free(d->ui);
    if (d->kick_fd >= 0)
        close(d->kick_fd);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d->nodes_dir);
    free(d->templates_dir);
    free(d->images_dir);
    pthread_cond_destroy(&d->changed);
    pthread_mutex_destroy(&d->lock);
    st_server_node_pool_destroy(&d->node_pool);
    free(d);
}

/* ---- the store gone and back -------------------------------------------------- */

/* Between attempts to start the private PostgreSQL again, at most. */
#define PG_BACKOFF_MAX_S 30

static void *pg_revive_main(void *arg)
{
    struct st_server *d = arg;
    st_error err = {0};
    bool started = false;
    if (st_pg_embedded_revive(d->pg, &started, &err) < 0) {
        st_server_log("the private PostgreSQL (%s/pg) did not start: %s", d->cfg.state_dir,
                      err.msg);
        /* It shuts itself down when it cannot write its WAL, and cannot
         * start on a full disk either: say so where the reader looks. */
        struct statvfs fs;
        if (statvfs(d->cfg.state_dir, &fs) == 0 &&
            (unsigned long long)fs.f_bavail * fs.f_frsize < 64ull << 20)
            st_server_log("the state dir's filesystem is full (%s: %llu KiB free): PostgreSQL "
                          "cannot start there; free space there and it starts at the next try",
                          d->cfg.state_dir, (unsigned long long)fs.f_bavail * fs.f_frsize / 1024);
    } else if (started) {
        st_server_log("the private PostgreSQL (%s/pg) was not running: started it again",
                      d->cfg.state_dir);
    }
    atomic_store(&d->pg_working, false);
    st_server_kick(d); /* the loop asks the store again at once */
    return NULL;
}

/* stratad started the private cluster, so it starts it again when it died
 * (crashed, stopped by hand, or shut down by a PANIC on a full disk): the
 * first try ST_STORE_RETRY_S after the store went away (a restart by hand
 * has that long to finish), then 2, 4 ... 30 s apart, each in a worker as
 * pg_ctl waits for the server. A --db server is its owner's to start:
 * stratad only connects again every ST_STORE_RETRY_S. */
static void pg_revive(struct st_server *d)
{
    if (d->pg == NULL || atomic_load(&d->pg_working) || atomic_load(&d->stopping))
        return;
    int64_t now = st_server_now_ns(d);
    if (now < d->pg_next_ns)
        return;
    if (d->pg_worker_joinable) {
        pthread_join(d->pg_worker, NULL);
        d->pg_worker_joinable = false;
    }
    d->pg_attempts++;
    d->pg_backoff_s = d->pg_backoff_s ? d->pg_backoff_s * 2 : ST_STORE_RETRY_S;
    if (d->pg_backoff_s > PG_BACKOFF_MAX_S)
        d->pg_backoff_s = PG_BACKOFF_MAX_S;
    d->pg_next_ns = now + (int64_t)d->pg_backoff_s * 1000000000;
    st_server_log("the private PostgreSQL does not answer: making sure it runs (attempt %d, the "
                  "next in %d s; its log: %s/pg/postgresql.log)",
                  d->pg_attempts, d->pg_backoff_s, d->cfg.state_dir);
    atomic_store(&d->pg_working, true);
    if (pthread_create(&d->pg_worker, NULL, pg_revive_main, d) != 0) {
        atomic_store(&d->pg_working, false);
        st_server_log("cannot start a thread to start PostgreSQL again; trying later");
        return;
    }
    d->pg_worker_joinable = true;
}

/* The store answers again: what nodes reported meanwhile is written (each
 * pod's last status, kept in memory while it could not be), and nodes that
 * died meanwhile are recorded dead, their pods lost, as they would have
 * been. */
static void store_back(struct st_server *d)
{
    long long ms = (long long)((st_server_now_ns(d) - d->store_down_ns) / 1000000);
    st_server_log("the store (PostgreSQL) answers again after %lld ms: controllers resume", ms);
    d->store_down = false;
    d->pg_backoff_s = d->pg_attempts = 0;
    _cleanup_json_ json_t *reports = json_object(), *dead = json_array();
    /* Silence was not judged while the store was away: every node gets a
     * fresh grace from now, as after a stall of stratad's own (liveness.c),
     * which the pause is not. */
    int64_t now = st_server_now_ns(d);
    d->lv.last_pass_ns = now;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *n = d->nodes; n; n = n->next) {
        if (!n->dead && !n->provisioning)
            n->grace_from_ns = now;
        if (n->dead && !n->removing)
            json_array_append_new(dead, json_string(n->name));
        else if (n->connected && !n->dead && n->reported)
            json_object_set_new(reports, n->name, json_deep_copy(n->reported));
    }
    pthread_mutex_unlock(&d->lock);
    const char *node, *uid;
    json_t *msgs, *msg;
    json_object_foreach(reports, node, msgs)
    {
        json_object_foreach(msgs, uid, msg)
        {
            st_error err = {0};
            if (st_server_pod_status(d, node, msg, &err) < 0)
                st_server_log("node %s: pod status: %s", node, err.msg);
        }
    }
    size_t i;
    json_t *name;
    json_array_foreach(dead, i, name)
    {
        const char *nm = json_string_value(name);
        _cleanup_json_ json_t *obj = st_server_node_get(d, nm);
        const char *ph = obj ? st_server_node_phase(obj) : "Dead";
        if (strcmp(ph, "Dead") == 0 || strcmp(ph, "Failed") == 0 || strcmp(ph, "Removing") == 0)
            continue;
        const char *why = "it died while the store was unreachable";
        st_server_node_set_ready(d, nm, "False", "Dead", "NodeLost", why);
        st_server_node_pods_lost(d, nm, why);
    }
    st_server_kick(d);
}

/* Whether the loop waits for the store: while it cannot be reached,
 * nothing is decided from it (no fencing, no rescheduling, no pod_stop: the
 * nodes keep running what they run); node messages are still read. */
static bool store_paused(struct st_server *d)
{
    st_error err = {0};
    if (st_store_ping(d->store, &err) != -ST_ESTORE_DOWN) {
        if (d->store_down)
            store_back(d);
        return false;
    }
    if (!d->store_down) {
        d->store_down = true;
        d->store_down_ns = st_server_now_ns(d);
        d->pg_next_ns = d->store_down_ns + (int64_t)ST_STORE_RETRY_S * 1000000000;
        st_server_log("%s. Controllers paused (no fencing, no rescheduling); nodes keep running "
                      "their pods%s",
                      err.msg,
                      d->pg ? "" : "; start the PostgreSQL server stratad was given (--db)");
    }
    pg_revive(d);
    return true;
}

/* ---- the loop's side ------------------------------------------------------ */

int st_server_kick_fd(st_server *d)
{
    return d->kick_fd;
}

int st_server_event_fd(st_server *d)
{
    return d->vmm.ops->event_fd(d->vmm.ctx);
}

int st_server_wait_ms(st_server *d, int max_ms)
{
    return st_server_liveness_wait_ms(d, max_ms);
}

void st_server_pass(st_server *d)
{
    uint64_t v;
    if (read(d->kick_fd, &v, sizeof(v)) < 0) {
        /* nonblocking: no kick pending */
    }
    if (store_paused(d)) {
        st_server_nodes_drain_events(d);
        return;
    }
    st_error err = {0};
    st_server_nodes_events(d);
    unsigned long before = atomic_load(&d->generation);
    int bound = 0;
    st_server_hosts_pass(d);
    /* With several stratad on one database the leader alone runs the
     * controllers (each writes with optimistic concurrency, so a moment
     * with two leaders costs conflicts, never a wrong object). */
    if (st_server_hosts_leading(d) &&
        (st_control_gc(d->store, &err) < 0 || st_control_deployments(d->store, &err) < 0 ||
         st_control_schedule(d->store, &bound, &err) < 0 ||
         st_control_deployments(d->store, &err) < 0 ||
         st_control_services(d->store, NULL, &err) < 0 ||
         st_control_endpoints(d->store, NULL, &err) < 0)) {
        st_server_log("controllers: %s", err.msg);
        st_error_clear(&err);
    }
    /* The relay's routes follow the Endpoints just written, before the
     * dispatch's node messages: a client that reads the Endpoints and then
     * connects finds the relay already there (no pass-long lag). */
    st_server_proxy_sync(d);
    /* A host that may have to fence itself starts nothing. */
    if (st_server_hosts_may_run(d))
        st_server_nodes_dispatch(d);
    /* Watchers learn of what the controllers wrote. */
    if (atomic_load(&d->generation) == before) {
        atomic_fetch_add(&d->generation, 1);
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
    }
}
