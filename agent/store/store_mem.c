/* store_mem.c: the in-memory store backend, for the controller and
 * scheduler unit tests and the in-memory benchmark. Same semantics as
 * PostgreSQL (store_object.c and store_lease.c hold the shared rules);
 * batches are all or none through an undo log. Nothing is persisted;
 * Secrets stay plaintext. Leases are judged on the store's own clock,
 * CLOCK_REALTIME or one a unit test sets (st_store_mem_set_clock). */
#include "store_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/cleanup.h"
#include "strata/time.h"
#include "store_object.h"

typedef struct undo_entry {
    json_t *map;
    char *key;
    json_t *prev; /* NULL: the key did not exist */
} undo_entry;

typedef struct undo_log {
    undo_entry *v;
    size_t n, cap;
} undo_log;

typedef struct mem_store {
    st_store base;
    /* per kind: "namespace/name" -> stored object (jansson's hash table) */
    json_t *maps[ST_STORE_KIND_COUNT];
    undo_log *undo; /* the running batch's log; NULL outside a batch */
    long long rv;
    st_store_clock_fn clock; /* NULL: CLOCK_REALTIME */
    void *clock_arg;
} mem_store;

static mem_store *mem_of(st_store *s)
{
    return (mem_store *)s;
}

static json_t *map_of(mem_store *m, const st_store_kind *k)
{
    return m->maps[k - st_store_kinds];
}

static void key_of(char *buf, size_t len, const char *ns, const char *name)
{
    snprintf(buf, len, "%s/%s", ns, name);
}

/* ---- undo log ---- */

static int undo_record(undo_log *u, json_t *map, const char *key, st_error *err)
{
    if (u == NULL) /* not in a batch: nothing to undo */
        return 0;
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        undo_entry *v = realloc(u->v, cap * sizeof(*v));
        if (v == NULL)
            return st_error_set(err, ENOMEM, "out of memory recording a batch");
        u->v = v;
        u->cap = cap;
    }
    undo_entry *e = &u->v[u->n];
    e->key = strdup(key);
    if (e->key == NULL)
        return st_error_set(err, ENOMEM, "out of memory recording a batch");
    e->map = map;
    e->prev = json_incref(json_object_get(map, key));
    u->n++;
    return 0;
}

static void undo_rollback(undo_log *u)
{
    for (size_t i = u->n; i > 0; i--) {
        undo_entry *e = &u->v[i - 1];
        if (e->prev)
            json_object_set(e->map, e->key, e->prev);
        else
            json_object_del(e->map, e->key);
    }
}

/* A batch: every write between begin and end is undone when r < 0. */
static void undo_begin(mem_store *m, undo_log *u)
{
    *u = (undo_log){0};
    m->undo = u;
}

static int undo_end(mem_store *m, int r)
{
    undo_log *u = m->undo;
    if (r < 0)
        undo_rollback(u);
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].key);
        json_decref(u->v[i].prev);
    }
    free(u->v);
    m->undo = NULL;
    return r;
}

static void next_rv(mem_store *m, char buf[32])
{
    snprintf(buf, 32, "%lld", ++m->rv);
}

/* ---- the operations ---- */

/* Where an object lives: its kind's map, and its key there. */
typedef struct slot {
    const st_store_kind *k;
    const char *ns, *name;
    json_t *map;
    json_t *cur; /* what is stored there; NULL: nothing */
    char key[600];
} slot;

static void slot_fill(mem_store *m, slot *sl)
{
    key_of(sl->key, sizeof(sl->key), sl->ns, sl->name);
    sl->map = map_of(m, sl->k);
    sl->cur = json_object_get(sl->map, sl->key);
}

/* The slot of an object to write (checked as the store checks objects). */
static int slot_of(mem_store *m, json_t *obj, slot *sl, st_error *err)
{
    int r = st_store_object_check(obj, &sl->k, &sl->ns, &sl->name, err);
    if (r == 0)
        slot_fill(m, sl);
    return r;
}

/* The slot of kind ns/name, to read or delete. */
static int slot_at(mem_store *m, const char *kind, const char *ns, const char *name, slot *sl,
                   st_error *err)
{
    if ((sl->k = st_store_kind_find(kind, err)) == NULL)
        return -EINVAL;
    sl->ns = st_store_ns_normalize(sl->k, ns);
    sl->name = name ? name : "";
    slot_fill(m, sl);
    return 0;
}

/* Stores obj (taking the reference) in the slot, with uid and creation
 * time, and a new resourceVersion; reports it as a change of type. Stored
 * objects are replaced, never changed, so the feed shares them. */
static int put(mem_store *m, slot *sl, json_t *obj, const char *uid, const char *created,
               const char *type, json_t **out, st_error *err)
{
    char rv[32];
    next_rv(m, rv);
    st_store_object_stamp(obj, sl->ns, uid, rv, created);
    int r = undo_record(m->undo, sl->map, sl->key, err);
    if (r < 0) {
        json_decref(obj);
        return r;
    }
    json_object_set_new(sl->map, sl->key, obj);
    st_store_changed(&m->base, type, json_incref(obj));
    if (out)
        *out = json_deep_copy(obj);
    return 0;
}

static int mem_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    slot sl;
    int r = slot_of(mem_of(s), obj, &sl, err);
    if (r < 0)
        return r;
    if (sl.cur)
        return st_store_err_exists(err, sl.k->kind, sl.ns, sl.name);
    char uid[ST_STORE_UID_LEN], now[32];
    st_store_uid_new(uid);
    st_time_now_rfc3339(now);
    return put(mem_of(s), &sl, st_store_object_content(obj), uid, now, "ADDED", out, err);
}

/* Replaces what the slot holds with content, keeping the uid and
 * creationTimestamp. */
static int replace(mem_store *m, slot *sl, json_t *content, json_t **out, st_error *err)
{
    json_t *cmd = json_object_get(sl->cur, "metadata");
    return put(m, sl, content, json_string_value(json_object_get(cmd, "uid")),
               json_string_value(json_object_get(cmd, "creationTimestamp")), "MODIFIED", out, err);
}

static const char *rv_of(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int mem_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    slot sl;
    const char *want;
    int r = slot_of(mem_of(s), obj, &sl, err);
    if (r < 0 || (r = st_store_update_rv(obj, sl.k, sl.name, &want, err)) < 0)
        return r;
    if (sl.cur == NULL)
        return st_store_err_not_found(err, sl.k->kind, sl.ns, sl.name);
    if (strcmp(rv_of(sl.cur), want) != 0)
        return st_store_err_conflict(err, sl.k->kind, sl.ns, sl.name);
    return replace(mem_of(s), &sl, st_store_object_content(obj), out, err);
}

static int mem_remove(st_store *s, const char *kind, const char *ns, const char *name,
                      const char *expected_rv, st_error *err)
{
    mem_store *m = mem_of(s);
    slot sl;
    int r = slot_at(m, kind, ns, name, &sl, err);
    if (r < 0)
        return r;
    if (sl.cur == NULL)
        return st_store_err_not_found(err, sl.k->kind, sl.ns, sl.name);
    if (expected_rv && strcmp(rv_of(sl.cur), expected_rv) != 0)
        return st_store_err_conflict(err, sl.k->kind, sl.ns, sl.name);
    if ((r = undo_record(m->undo, sl.map, sl.key, err)) < 0)
        return r;
    /* A delete is a change of its own: a new resourceVersion, as in
     * Kubernetes, so it sorts after everything before it. */
    char rv[32];
    next_rv(m, rv);
    if (st_store_watched(s)) {
        json_t *gone = json_deep_copy(sl.cur);
        json_object_set_new(json_object_get(gone, "metadata"), "resourceVersion", json_string(rv));
        st_store_changed(s, "DELETED", gone);
    }
    json_object_del(sl.map, sl.key);
    return 0;
}

/* kubectl apply: create, or replace the stored content. Status belongs to
 * the controllers: an applied object without status keeps the stored one. */
static int mem_apply(st_store *s, json_t *obj, json_t **out, st_store_action *action, st_error *err)
{
    slot sl;
    int r = slot_of(mem_of(s), obj, &sl, err);
    if (r < 0)
        return r;
    if (sl.cur == NULL) {
        *action = ST_STORE_CREATED;
        return mem_create(s, obj, out, err);
    }
    json_t *content = st_store_apply_content(obj, sl.cur, sl.k, sl.ns);
    _cleanup_json_ json_t *old = st_store_object_content(sl.cur);
    if (json_equal(old, content)) {
        json_decref(content);
        *action = ST_STORE_UNCHANGED;
        if (out)
            *out = json_deep_copy(sl.cur);
        return 0;
    }
    *action = ST_STORE_CONFIGURED;
    return replace(mem_of(s), &sl, content, out, err);
}

/* ---- leases: the database's clock is this store's ---- */

static int64_t mem_now_ms(mem_store *m)
{
    if (m->clock)
        return m->clock(m->clock_arg);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stores next (taken) in the Lease's slot: created, or replacing it. */
static int lease_put(mem_store *m, slot *sl, json_t *next, int64_t now_ms, json_t **out,
                     st_error *err)
{
    if (sl->cur)
        return replace(m, sl, next, out, err);
    char uid[ST_STORE_UID_LEN], created[ST_TIME_RFC3339_LEN];
    st_store_uid_new(uid);
    st_time_rfc3339((time_t)(now_ms / 1000), created);
    return put(m, sl, next, uid, created, "ADDED", out, err);
}

static int mem_lease_try(st_store *s, const char *ns, const char *name, const char *holder,
                         int duration_ms, st_lease_state *out, st_error *err)
{
    mem_store *m = mem_of(s);
    _cleanup_json_ json_t *skel = NULL;
    slot sl;
    int r = st_store_lease_args(ns, name, holder, duration_ms, &skel, err);
    if (r < 0 || (r = slot_at(m, "Lease", ns, name, &sl, err)) < 0)
        return r;
    int64_t now = mem_now_ms(m);
    json_t *next = st_store_lease_next(sl.cur, skel, holder, duration_ms, now);
    _cleanup_json_ json_t *stored = NULL;
    if (next && (r = lease_put(m, &sl, next, now, &stored, err)) < 0)
        return r;
    st_store_lease_state_of(stored ? stored : sl.cur, now, out);
    return strcmp(out->holder, holder) == 0;
}

static int mem_lease_release(st_store *s, const char *ns, const char *name, const char *holder,
                             st_lease_state *out, st_error *err)
{
    mem_store *m = mem_of(s);
    slot sl;
    int r = st_store_lease_args(ns, name, holder, -1, NULL, err);
    if (r < 0 || (r = slot_at(m, "Lease", ns, name, &sl, err)) < 0)
        return r;
    int64_t now = mem_now_ms(m);
    json_t *next = st_store_lease_released(sl.cur, holder, now);
    _cleanup_json_ json_t *stored = NULL;
    if (next && (r = replace(m, &sl, next, &stored, err)) < 0)
        return r;
    st_store_lease_state_of(stored ? stored : sl.cur, now, out);
    return next != NULL;
}

static int mem_lease_get(st_store *s, const char *ns, const char *name, st_lease_state *out,
                         st_error *err)
{
    mem_store *m = mem_of(s);
    slot sl;
    int r = st_store_lease_args(ns, name, NULL, -1, NULL, err);
    if (r < 0 || (r = slot_at(m, "Lease", ns, name, &sl, err)) < 0)
        return r;
    st_store_lease_state_of(sl.cur, mem_now_ms(m), out);
    return sl.cur ? 0 : st_store_err_not_found(err, "Lease", sl.ns, sl.name);
}

static int mem_db_now(st_store *s, int64_t *ms, st_error *err)
{
    (void)err;
    *ms = mem_now_ms(mem_of(s));
    return 0;
}

/* ---- the ops table ---- */

static int mem_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                   st_error *err)
{
    slot sl;
    int r = slot_at(mem_of(s), kind, ns, name, &sl, err);
    if (r < 0)
        return r;
    if (sl.cur == NULL)
        return st_store_err_not_found(err, sl.k->kind, sl.ns, sl.name);
    *out = json_deep_copy(sl.cur);
    return 0;
}

static int list_into(mem_store *m, const st_store_query *q, json_t *arr, st_error *err)
{
    const st_store_kind *k = st_store_kind_find(q->kind, err);
    if (k == NULL)
        return -EINVAL;
    const char *key;
    json_t *obj;
    json_object_foreach(map_of(m, k), key, obj)
    {
        int r = st_store_query_match(q, obj, err);
        if (r < 0)
            return r;
        if (r)
            json_array_append_new(arr, json_deep_copy(obj));
    }
    return 0;
}

static int mem_list(st_store *s, const st_store_query *q, bool by_rv, json_t **out, st_error *err)
{
    mem_store *m = mem_of(s);
    json_t *arr = json_array();
    int r = list_into(m, q, arr, err);
    if (r < 0) {
        json_decref(arr);
        return r;
    }
    st_store_array_sort(arr, by_rv);
    *out = arr;
    return 0;
}

static int mem_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    mem_store *m = mem_of(s);
    undo_log u;
    undo_begin(m, &u);
    return undo_end(m, st_store_batch_run(s, ops, n, err));
}

static int bind_one(mem_store *m, const st_store_binding *b, st_error *err)
{
    slot sl;
    int r = slot_at(m, "Pod", b->namespace, b->name, &sl, err);
    if (r < 0)
        return r;
    if (sl.cur == NULL)
        return st_store_err_not_found(err, "Pod", sl.ns, sl.name);
    const char *node = st_store_object_node(sl.cur);
    if (node && *node)
        return st_store_err_bound(err, sl.ns, sl.name, node);
    json_t *next = json_deep_copy(sl.cur);
    json_t *spec = json_object_get(next, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(next, "spec", spec);
    }
    json_object_set_new(spec, "nodeName", json_string(b->node_name));
    return replace(m, &sl, next, NULL, err);
}

static int mem_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    mem_store *m = mem_of(s);
    undo_log u;
    undo_begin(m, &u);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = bind_one(m, &b[i], err);
    return undo_end(m, r);
}

static void mem_close(st_store *s)
{
    mem_store *m = mem_of(s);
    for (size_t i = 0; i < ST_STORE_KIND_COUNT; i++)
        json_decref(m->maps[i]);
    free(m);
}

static const st_store_ops mem_ops = {
    .get = mem_get,
    .list = mem_list,
    .create = mem_create,
    .update = mem_update,
    .remove = mem_remove,
    .apply = mem_apply,
    .batch = mem_batch,
    .bind_pods = mem_bind_pods,
    .lease_try = mem_lease_try,
    .lease_release = mem_lease_release,
    .lease_get = mem_lease_get,
    .db_now_ms = mem_db_now,
    .close = mem_close,
};

int st_store_mem_set_clock(st_store *s, st_store_clock_fn fn, void *arg, st_error *err)
{
    if (s == NULL || s->ops != &mem_ops)
        return st_error_set(err, EINVAL, "only the in-memory store takes a test clock");
    pthread_mutex_lock(&s->lock);
    mem_of(s)->clock = fn;
    mem_of(s)->clock_arg = arg;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int st_store_mem_open(st_store **out, st_error *err)
{
    mem_store *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return st_error_set(err, ENOMEM, "out of memory opening the in-memory store");
    st_store_init(&m->base, &mem_ops);
    for (size_t i = 0; i < ST_STORE_KIND_COUNT; i++)
        m->maps[i] = json_object();
    *out = &m->base;
    return 0;
}
