/* fake_vmm.c: the fake vmm of fake_vmm.h. Events wait in a queue guarded
 * by a mutex (node starts run in the server's worker threads); an eventfd
 * is readable while the queue is not empty, as the real one's is. */
#include "fake_vmm.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FAKE_NODES_MAX  16
#define FAKE_EVENTS_MAX 256

struct fake_node {
    char name[ST_NODE_NAME_MAX + 1];
    bool running, silent;
    int fenced;
};

struct fake_event {
    st_vmm_event_kind kind;
    char node[ST_NODE_NAME_MAX + 1];
    int64_t mono_ns;
    json_t *msg;
};

struct fake_vmm {
    pthread_mutex_t lock;
    int64_t now_ns;
    int efd;
    bool host_full;
    struct fake_node nodes[FAKE_NODES_MAX];
    size_t nnodes;
    struct fake_event q[FAKE_EVENTS_MAX];
    size_t qlen;
    json_t *sent; /* [{node, msg}] */
};

/* [lock] */
static struct fake_node *find(struct fake_vmm *f, const char *name, bool make)
{
    for (size_t i = 0; i < f->nnodes; i++)
        if (strcmp(f->nodes[i].name, name) == 0)
            return &f->nodes[i];
    if (!make || f->nnodes == FAKE_NODES_MAX)
        return NULL;
    struct fake_node *n = &f->nodes[f->nnodes++];
    *n = (struct fake_node){0};
    snprintf(n->name, sizeof(n->name), "%s", name);
    return n;
}

/* [lock] Takes msg. */
static void push(struct fake_vmm *f, st_vmm_event_kind kind, const char *node, json_t *msg)
{
    if (f->qlen == FAKE_EVENTS_MAX) {
        json_decref(msg);
        return;
    }
    struct fake_event *e = &f->q[f->qlen++];
    *e = (struct fake_event){.kind = kind, .mono_ns = f->now_ns, .msg = msg};
    snprintf(e->node, sizeof(e->node), "%s", node);
    uint64_t one = 1;
    if (write(f->efd, &one, sizeof(one)) < 0) {
        /* the counter is full: it is readable anyway */
    }
}

static int fake_start(void *ctx, const st_node_spec *spec, const st_vmm_start_options *opts,
                      json_t **hello, st_error *err)
{
    (void)opts;
    struct fake_vmm *f = ctx;
    struct st_proto_hello h = {.node = spec->name,
                               .version = "fake",
                               .cpu_millis = (int64_t)spec->vcpus * 1000,
                               .memory_bytes = (int64_t)spec->memory_mib << 20,
                               .kernel = "fake"};
    json_t *msg = NULL;
    int r = st_proto_hello_build(&h, &msg, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, spec->name, true);
    if (n) {
        n->running = true;
        n->silent = false;
    }
    *hello = json_incref(msg);
    push(f, ST_VMM_EVENT_MESSAGE, spec->name, msg);
    pthread_mutex_unlock(&f->lock);
    return n ? 0 : st_error_set(err, ENOSPC, "fake vmm: too many nodes");
}

/* [lock] A pods_query's answer: what the node was sent with pod_run and
 * not pod_stop, Running, as a real node that did as told answers. */
static void answer_pods_query(struct fake_vmm *f, const char *name, json_t *query)
{
    int64_t id = 0;
    if (st_proto_pods_query_parse(query, &id, NULL) < 0)
        return;
    json_t *uids = json_object(); /* uid -> pod name, in the order of pod_run */
    size_t i;
    json_t *s;
    json_array_foreach(f->sent, i, s)
    {
        json_t *msg = json_object_get(s, "msg");
        const char *t = json_string_value(json_object_get(msg, "type"));
        const char *uid = json_string_value(json_object_get(msg, "uid"));
        if (strcmp(json_string_value(json_object_get(s, "node")), name) != 0 || !t || !uid)
            continue;
        if (strcmp(t, ST_PROTO_POD_RUN) == 0)
            json_object_set(uids, uid, json_object_get(msg, "pod"));
        else if (strcmp(t, ST_PROTO_POD_STOP) == 0)
            json_object_del(uids, uid);
    }
    json_t *pods = json_array();
    const char *uid;
    json_t *pod;
    json_object_foreach(uids, uid, pod)
    {
        struct st_proto_pod_status ps = {
            .pod = json_string_value(pod), .uid = uid, .phase = "Running", .ready = true};
        json_t *st = NULL;
        if (st_proto_pod_status_build(&ps, &st, NULL) == 0)
            json_array_append_new(pods, st);
    }
    json_t *answer = NULL;
    if (st_proto_pods_build(id, pods, &answer, NULL) == 0)
        push(f, ST_VMM_EVENT_MESSAGE, name, answer);
    json_decref(pods);
    json_decref(uids);
}

static int fake_send(void *ctx, const char *name, json_t *msg, st_error *err)
{
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    bool up = n && n->running;
    if (up)
        json_array_append_new(f->sent, json_pack("{s:s, s:O}", "node", name, "msg", msg));
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (up && !n->silent && type && strcmp(type, ST_PROTO_PODS_QUERY) == 0)
        answer_pods_query(f, name, msg);
    pthread_mutex_unlock(&f->lock);
    return up ? 0 : st_error_set(err, ENOTCONN, "fake vmm: node %s is not running", name);
}

/* [lock] */
static int stop(struct fake_vmm *f, const char *name, st_error *err)
{
    struct fake_node *n = find(f, name, false);
    if (n == NULL || !n->running)
        return st_error_set(err, ENOENT, "fake vmm: node %s is not running", name);
    n->running = false;
    return 0;
}

static int fake_shutdown(void *ctx, const char *name, int timeout_ms, st_error *err)
{
    (void)timeout_ms;
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    int r = stop(f, name, err);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_destroy(void *ctx, const char *name, st_error *err)
{
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    int r = stop(f, name, err);
    pthread_mutex_unlock(&f->lock);
    return r;
}

static int fake_fence(void *ctx, const char *name, int timeout_ms, st_vmm_fence_report *rep,
                      st_error *err)
{
    (void)timeout_ms;
    (void)err;
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    *rep = (st_vmm_fence_report){0};
    snprintf(rep->how, sizeof(rep->how), "fake: no QEMU");
    if (n) {
        n->running = false;
        n->fenced++;
    }
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int fake_undefine(void *ctx, const char *name, st_error *err)
{
    (void)ctx;
    (void)name;
    (void)err;
    return 0;
}

static int fake_adopt(void *ctx, const char *name, st_error *err)
{
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    bool up = n && n->running;
    pthread_mutex_unlock(&f->lock);
    return up ? 0 : st_error_set(err, ENOENT, "fake vmm: no VM for node %s", name);
}

static int fake_event_fd(void *ctx)
{
    return ((struct fake_vmm *)ctx)->efd;
}

static int fake_event_next(void *ctx, int timeout_ms, st_vmm_event *ev, st_error *err)
{
    (void)timeout_ms;
    (void)err;
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    if (f->qlen == 0) {
        uint64_t v;
        if (read(f->efd, &v, sizeof(v)) < 0) {
            /* nonblocking: already drained */
        }
        pthread_mutex_unlock(&f->lock);
        return 0;
    }
    struct fake_event e = f->q[0];
    memmove(&f->q[0], &f->q[1], (f->qlen - 1) * sizeof(f->q[0]));
    f->qlen--;
    pthread_mutex_unlock(&f->lock);
    *ev = (st_vmm_event){.kind = e.kind, .mono_ns = e.mono_ns, .msg = e.msg};
    snprintf(ev->node, sizeof(ev->node), "%s", e.node);
    if (e.kind == ST_VMM_EVENT_DEAD) {
        ev->cause = ST_NODE_DEATH_CHANNEL_EOF;
        ev->sign_ns = e.mono_ns;
    } else {
        ev->type = json_string_value(json_object_get(e.msg, "type"));
    }
    return 1;
}

static int fake_sync(void *ctx, int timeout_ms, st_error *err)
{
    (void)ctx;
    (void)timeout_ms;
    (void)err;
    return 0;
}

static int fake_boot_files_check(void *ctx, const char *kernel, const char *initramfs,
                                 st_error *err)
{
    (void)ctx;
    (void)kernel;
    (void)initramfs;
    (void)err;
    return 0;
}

static int fake_host_memory_check(void *ctx, unsigned memory_mib, st_error *err)
{
    struct fake_vmm *f = ctx;
    pthread_mutex_lock(&f->lock);
    bool full = f->host_full;
    pthread_mutex_unlock(&f->lock);
    return full ? st_error_set(err, ENOMEM, "fake vmm: no room for %u MiB", memory_mib) : 0;
}

static int64_t fake_now_ns(void *ctx)
{
    return fake_vmm_now_ns(ctx);
}

/* No data port: the node manager's tests have no Service traffic. */
static int fake_data_connect(void *ctx, const char *name, int *fd, st_error *err)
{
    (void)ctx;
    *fd = -1;
    return st_error_set(err, ENOTSUP, "fake vmm: node %s has no data port", name);
}

static void fake_close(void *ctx)
{
    (void)ctx;
}

static const struct st_server_vmm_ops fake_ops = {
    .node_start = fake_start,
    .node_send = fake_send,
    .node_shutdown = fake_shutdown,
    .node_destroy = fake_destroy,
    .node_fence = fake_fence,
    .node_undefine = fake_undefine,
    .node_adopt = fake_adopt,
    .node_data_connect = fake_data_connect,
    .event_fd = fake_event_fd,
    .event_next = fake_event_next,
    .sync = fake_sync,
    .boot_files_check = fake_boot_files_check,
    .host_memory_check = fake_host_memory_check,
    .now_ns = fake_now_ns,
    .close = fake_close,
};

struct fake_vmm *fake_vmm_new(void)
{
    struct fake_vmm *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    /* Not 0: the server reads 0 as "never". */
    f->now_ns = 1000000000;
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->sent = json_array();
    return f;
}

void fake_vmm_free(struct fake_vmm *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->qlen; i++)
        json_decref(f->q[i].msg);
    json_decref(f->sent);
    if (f->efd >= 0)
        close(f->efd);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

struct st_server_vmm fake_vmm_seam(struct fake_vmm *f)
{
    return (struct st_server_vmm){.ops = &fake_ops, .ctx = f};
}

int64_t fake_vmm_now_ns(struct fake_vmm *f)
{
    pthread_mutex_lock(&f->lock);
    int64_t now = f->now_ns;
    pthread_mutex_unlock(&f->lock);
    return now;
}

void fake_vmm_advance_ms(struct fake_vmm *f, int64_t ms)
{
    pthread_mutex_lock(&f->lock);
    f->now_ns += ms * 1000000;
    pthread_mutex_unlock(&f->lock);
}

void fake_vmm_heartbeats(struct fake_vmm *f)
{
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nnodes; i++) {
        if (!f->nodes[i].running || f->nodes[i].silent)
            continue;
        struct st_proto_heartbeat hb = {.uptime_ms = f->now_ns / 1000000,
                                        .pods_digest = "0000000000000000"};
        json_t *msg = NULL;
        if (st_proto_heartbeat_build(&hb, &msg, NULL) == 0)
            push(f, ST_VMM_EVENT_MESSAGE, f->nodes[i].name, msg);
    }
    pthread_mutex_unlock(&f->lock);
}

void fake_vmm_hello(struct fake_vmm *f, const char *name)
{
    struct st_proto_hello h = {.node = name,
                               .version = "fake",
                               .cpu_millis = 2000,
                               .memory_bytes = 1LL << 30,
                               .kernel = "fake"};
    json_t *msg = NULL;
    if (st_proto_hello_build(&h, &msg, NULL) < 0)
        return;
    pthread_mutex_lock(&f->lock);
    push(f, ST_VMM_EVENT_MESSAGE, name, msg);
    pthread_mutex_unlock(&f->lock);
}

void fake_vmm_silence(struct fake_vmm *f, const char *name)
{
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    if (n)
        n->silent = true;
    pthread_mutex_unlock(&f->lock);
}

void fake_vmm_kill(struct fake_vmm *f, const char *name)
{
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    if (n && n->running) {
        n->running = false;
        push(f, ST_VMM_EVENT_DEAD, name, NULL);
    }
    pthread_mutex_unlock(&f->lock);
}

void fake_vmm_host_full(struct fake_vmm *f, bool full)
{
    pthread_mutex_lock(&f->lock);
    f->host_full = full;
    pthread_mutex_unlock(&f->lock);
}

/* The messages sent to name of type (and for uid, unless NULL): how many,
 * and the last (borrowed). Called with the lock held. */
static size_t sent_matching(struct fake_vmm *f, const char *name, const char *type, const char *uid,
                            json_t **last)
{
    size_t count = 0, i;
    json_t *s;
    json_array_foreach(f->sent, i, s)
    {
        json_t *msg = json_object_get(s, "msg");
        const char *t = json_string_value(json_object_get(msg, "type"));
        const char *u = json_string_value(json_object_get(msg, "uid"));
        if (strcmp(json_string_value(json_object_get(s, "node")), name) == 0 && t &&
            strcmp(t, type) == 0 && (uid == NULL || (u && strcmp(u, uid) == 0))) {
            count++;
            *last = msg;
        }
    }
    return count;
}

size_t fake_vmm_sent(struct fake_vmm *f, const char *name, const char *type, const char *uid)
{
    json_t *last = NULL;
    pthread_mutex_lock(&f->lock);
    size_t count = sent_matching(f, name, type, uid, &last);
    pthread_mutex_unlock(&f->lock);
    return count;
}

json_t *fake_vmm_last_sent(struct fake_vmm *f, const char *name, const char *type, const char *uid)
{
    json_t *last = NULL;
    pthread_mutex_lock(&f->lock);
    sent_matching(f, name, type, uid, &last);
    json_incref(last);
    pthread_mutex_unlock(&f->lock);
    return last;
}

int fake_vmm_fenced(struct fake_vmm *f, const char *name)
{
    pthread_mutex_lock(&f->lock);
    struct fake_node *n = find(f, name, false);
    int k = n ? n->fenced : 0;
    pthread_mutex_unlock(&f->lock);
    return k;
}

size_t fake_vmm_fences_total(struct fake_vmm *f)
{
    size_t k = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nnodes; i++)
        k += (size_t)f->nodes[i].fenced;
    pthread_mutex_unlock(&f->lock);
    return k;
}
