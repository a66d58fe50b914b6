/* store_mem.c: the in-memory store backend, for the controller and
 * scheduler unit tests and the in-memory benchmark. Same semantics as
 * PostgreSQL (store_object.c holds the shared rules); batches are all or
 * none through an undo log. Nothing is persisted; Secrets stay plaintext. */
#include "store_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    long long rv;
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
    if (u == NULL)
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

static void undo_free(undo_log *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].key);
        json_decref(u->v[i].prev);
    }
    free(u->v);
    u->v = NULL;
    u->n = u->cap = 0;
}

static void next_rv(mem_store *m, char buf[32])
{
    snprintf(buf, 32, "%lld", ++m->rv);
}

static int conflict(st_error *err, const char *kind, const char *ns, const char *name)
{
    return st_error_set(err, ST_ECONFLICT,
                        "%s %s%s%s: the object has been modified; please apply your changes to "
                        "the latest version and try again",
                        kind, ns, *ns ? "/" : "", name);
}

static int not_found(st_error *err, const char *kind, const char *ns, const char *name)
{
    return st_error_set(err, ENOENT, "%s %s%s%s not found", kind, ns, *ns ? "/" : "", name);
}

/* ---- the operations ---- */

static int do_create(mem_store *m, json_t *obj, undo_log *u, json_t **out, st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    char key[600];
    key_of(key, sizeof(key), ns, name);
    json_t *map = map_of(m, k);
    if (json_object_get(map, key))
        return st_error_set(err, EEXIST, "%s %s%s%s already exists", k->kind, ns, *ns ? "/" : "",
                            name);
    char uid[37], rv[32], now[32];
    r = st_store_uuid4(uid, err);
    if (r < 0)
        return r;
    st_time_now_rfc3339(now);
    next_rv(m, rv);
    json_t *stored = st_store_object_content(obj);
    st_store_object_stamp(stored, ns, uid, rv, now);
    r = undo_record(u, map, key, err);
    if (r < 0) {
        json_decref(stored);
        return r;
    }
    json_object_set_new(map, key, stored);
    if (out)
        *out = json_deep_copy(stored);
    return 0;
}

/* Replaces the stored object under key with obj's content, keeping the uid
 * and creationTimestamp. */
static int replace(mem_store *m, json_t *map, const char *key, json_t *cur, json_t *content,
                   const char *ns, undo_log *u, json_t **out, st_error *err)
{
    json_t *cmd = json_object_get(cur, "metadata");
    char rv[32];
    next_rv(m, rv);
    st_store_object_stamp(content, ns, json_string_value(json_object_get(cmd, "uid")), rv,
                          json_string_value(json_object_get(cmd, "creationTimestamp")));
    int r = undo_record(u, map, key, err);
    if (r < 0) {
        json_decref(content);
        return r;
    }
    json_object_set_new(map, key, content);
    if (out)
        *out = json_deep_copy(content);
    return 0;
}

static int do_update(mem_store *m, json_t *obj, undo_log *u, json_t **out, st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    const char *want =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (want == NULL)
        return st_error_set(err, EINVAL,
                            "%s %s: metadata.resourceVersion is required to update; get the "
                            "object, change it and update that",
                            k->kind, name);
    char key[600];
    key_of(key, sizeof(key), ns, name);
    json_t *map = map_of(m, k);
    json_t *cur = json_object_get(map, key);
    if (cur == NULL)
        return not_found(err, k->kind, ns, name);
    const char *have =
        json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    if (strcmp(have, want) != 0)
        return conflict(err, k->kind, ns, name);
    return replace(m, map, key, cur, st_store_object_content(obj), ns, u, out, err);
}

static int do_delete(mem_store *m, const char *kind, const char *ns_in, const char *name,
                     const char *expected_rv, undo_log *u, st_error *err)
{
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    const char *ns = st_store_ns_normalize(k, ns_in);
    char key[600];
    key_of(key, sizeof(key), ns, name ? name : "");
    json_t *map = map_of(m, k);
    json_t *cur = json_object_get(map, key);
    if (cur == NULL)
        return not_found(err, k->kind, ns, name ? name : "");
    const char *have =
        json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    if (expected_rv && strcmp(have, expected_rv) != 0)
        return conflict(err, k->kind, ns, name);
    int r = undo_record(u, map, key, err);
    if (r < 0)
        return r;
    json_object_del(map, key);
    return 0;
}

/* kubectl apply: create, or replace the stored content. Status belongs to
 * the controllers: an applied object without status keeps the stored one. */
static int do_apply(mem_store *m, json_t *obj, undo_log *u, json_t **out, st_store_action *action,
                    st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    char key[600];
    key_of(key, sizeof(key), ns, name);
    json_t *map = map_of(m, k);
    json_t *cur = json_object_get(map, key);
    if (cur == NULL) {
        *action = ST_STORE_CREATED;
        return do_create(m, obj, u, out, err);
    }
    json_t *content = st_store_object_content(obj);
    json_t *md = json_object_get(content, "metadata");
    json_object_set_new(md, "namespace", json_string(ns));
    if (!k->namespaced)
        json_object_del(md, "namespace");
    if (!json_object_get(content, "status") && json_object_get(cur, "status"))
        json_object_set(content, "status", json_object_get(cur, "status"));
    json_t *old = st_store_object_content(cur);
    int same = json_equal(old, content);
    json_decref(old);
    if (same) {
        json_decref(content);
        *action = ST_STORE_UNCHANGED;
        if (out)
            *out = json_deep_copy(cur);
        return 0;
    }
    *action = ST_STORE_CONFIGURED;
    return replace(m, map, key, cur, content, ns, u, out, err);
}

/* ---- the ops table ---- */

static int mem_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                   st_error *err)
{
    mem_store *m = mem_of(s);
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    ns = st_store_ns_normalize(k, ns);
    char key[600];
    key_of(key, sizeof(key), ns, name ? name : "");
    json_t *cur = json_object_get(map_of(m, k), key);
    if (cur == NULL)
        return not_found(err, k->kind, ns, name ? name : "");
    *out = json_deep_copy(cur);
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

static int mem_list(st_store *s, const st_store_query *q, json_t **out, st_error *err)
{
    mem_store *m = mem_of(s);
    json_t *arr = json_array();
    int r = list_into(m, q, arr, err);
    if (r < 0) {
        json_decref(arr);
        return r;
    }
    st_store_array_sort(arr, false);
    *out = arr;
    return 0;
}

static int mem_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    mem_store *m = mem_of(s);
    return do_create(m, obj, NULL, out, err);
}

static int mem_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    mem_store *m = mem_of(s);
    return do_update(m, obj, NULL, out, err);
}

static int mem_remove(st_store *s, const char *kind, const char *ns, const char *name,
                      const char *expected_rv, st_error *err)
{
    mem_store *m = mem_of(s);
    return do_delete(m, kind, ns, name, expected_rv, NULL, err);
}

static int batch_one(mem_store *m, st_store_op *op, undo_log *u, st_error *err)
{
    switch (op->op) {
    case ST_STORE_CREATE:
        op->action = ST_STORE_CREATED;
        return do_create(m, op->object, u, &op->result, err);
    case ST_STORE_UPDATE:
        op->action = ST_STORE_CONFIGURED;
        return do_update(m, op->object, u, &op->result, err);
    case ST_STORE_DELETE: {
        json_t *md = json_object_get(op->object, "metadata");
        op->action = ST_STORE_CONFIGURED;
        return do_delete(m, json_string_value(json_object_get(op->object, "kind")),
                         json_string_value(json_object_get(md, "namespace")),
                         json_string_value(json_object_get(md, "name")),
                         json_string_value(json_object_get(md, "resourceVersion")), u, err);
    }
    case ST_STORE_APPLY:
        return do_apply(m, op->object, u, &op->result, &op->action, err);
    }
    return st_error_set(err, EINVAL, "unknown batch operation %d", (int)op->op);
}

static int mem_apply_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    mem_store *m = mem_of(s);
    undo_log u = {0};
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        ops[i].result = NULL;
        ops[i].action = ST_STORE_NONE;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        r = batch_one(m, &ops[i], &u, err);
        if (r < 0)
            st_error_prefix(err, "batch item %zu: ", i + 1);
    }
    if (r < 0)
        undo_rollback(&u);
    undo_free(&u);
    if (r < 0)
        st_store_ops_release(ops, n);
    return r;
}

static int bind_one(mem_store *m, const st_store_binding *b, undo_log *u, st_error *err)
{
    const char *ns = b->namespace && *b->namespace ? b->namespace : "default";
    if (b->name == NULL || b->node_name == NULL || *b->node_name == '\0')
        return st_error_set(err, EINVAL, "binding of pod %s/%s needs a pod name and a node name",
                            ns, b->name ? b->name : "");
    char key[600];
    key_of(key, sizeof(key), ns, b->name);
    json_t *map = map_of(m, st_store_kind_find("Pod", NULL));
    json_t *cur = json_object_get(map, key);
    if (cur == NULL)
        return not_found(err, "Pod", ns, b->name);
    const char *node = st_store_object_node(cur);
    if (node && *node)
        return st_error_set(err, ST_ECONFLICT,
                            "pod %s/%s is already bound to node %s; a pod is bound once", ns,
                            b->name, node);
    json_t *next = json_deep_copy(cur);
    json_t *spec = json_object_get(next, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(next, "spec", spec);
    }
    json_object_set_new(spec, "nodeName", json_string(b->node_name));
    char rv[32];
    next_rv(m, rv);
    json_object_set_new(json_object_get(next, "metadata"), "resourceVersion", json_string(rv));
    int r = undo_record(u, map, key, err);
    if (r < 0) {
        json_decref(next);
        return r;
    }
    json_object_set_new(map, key, next);
    return 0;
}

static int mem_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    mem_store *m = mem_of(s);
    undo_log u = {0};
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        r = bind_one(m, &b[i], &u, err);
    if (r < 0)
        undo_rollback(&u);
    undo_free(&u);
    return r;
}

static int mem_append_event(st_store *s, json_t *event, json_t **out, st_error *err)
{
    json_t *ev = NULL;
    int r = st_store_event_prepare(event, &ev, err);
    if (r < 0)
        return r;
    r = mem_create(s, ev, out, err);
    json_decref(ev);
    return r;
}

static int mem_list_events(st_store *s, const st_store_query *q, json_t **out, st_error *err)
{
    st_store_query eq = *q;
    eq.kind = "Event";
    int r = mem_list(s, &eq, out, err);
    if (r == 0)
        st_store_array_sort(*out, true);
    return r;
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
    .apply_batch = mem_apply_batch,
    .bind_pods = mem_bind_pods,
    .append_event = mem_append_event,
    .list_events = mem_list_events,
    .close = mem_close,
};

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
