/* conflict_store.h: a store backend that loses races on purpose, for the
 * tests of what a writer does about a conflict. It wraps the in-memory
 * store; as asked, "another writer" changes an object just before an update
 * or a conditional delete of it lands (so the store itself answers
 * -ST_ECONFLICT), or a binding fails as a concurrent binding would make it.
 * Header-only, built on the backends' contract (agent/store/store_backend.h). */
#ifndef STRATA_TEST_CONFLICT_STORE_H
#define STRATA_TEST_CONFLICT_STORE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "store_backend.h"

typedef struct conflict_store {
    st_store base;
    st_store *inner;       /* the in-memory store holding everything */
    const char *race_kind; /* updates and conditional deletes of this kind race... */
    int races;             /* ...this many more times (-1: always) */
    int bind_races;        /* bindings fail this many more times (-1: always) */
    int raced, bind_raced; /* how often each happened */
} conflict_store;

static inline conflict_store *cs_of(st_store *s)
{
    return (conflict_store *)s;
}

/* Another writer changes kind ns/name (an annotation counts its writes). */
static inline void cs_race(conflict_store *c, const char *kind, const char *ns, const char *name)
{
    if (c->races == 0 || c->race_kind == NULL || strcmp(kind, c->race_kind) != 0)
        return;
    json_t *cur = NULL;
    if (st_store_get(c->inner, kind, ns, name, &cur, NULL) < 0)
        return;
    json_t *md = json_object_get(cur, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    json_object_set_new(ann, "test/other-writer", json_integer(++c->raced));
    assert_int_equal(st_store_update(c->inner, cur, NULL, NULL), 0);
    json_decref(cur);
    if (c->races > 0)
        c->races--;
}

static inline int cs_get(st_store *s, const char *kind, const char *ns, const char *name,
                         json_t **out, st_error *err)
{
    return st_store_get(cs_of(s)->inner, kind, ns, name, out, err);
}

static inline int cs_list(st_store *s, const st_store_query *q, bool by_rv, json_t **out,
                          st_error *err)
{
    return by_rv ? st_store_list_events(cs_of(s)->inner, q, out, err)
                 : st_store_list(cs_of(s)->inner, q, out, err);
}

static inline int cs_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    return st_store_create(cs_of(s)->inner, obj, out, err);
}

static inline int cs_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    json_t *md = json_object_get(obj, "metadata");
    cs_race(cs_of(s), json_string_value(json_object_get(obj, "kind")),
            json_string_value(json_object_get(md, "namespace")),
            json_string_value(json_object_get(md, "name")));
    return st_store_update(cs_of(s)->inner, obj, out, err);
}

static inline int cs_remove(st_store *s, const char *kind, const char *ns, const char *name,
                            const char *expected_rv, st_error *err)
{
    if (expected_rv)
        cs_race(cs_of(s), kind, ns, name);
    return st_store_delete(cs_of(s)->inner, kind, ns, name, expected_rv, err);
}

static inline int cs_apply(st_store *s, json_t *obj, json_t **out, st_store_action *action,
                           st_error *err)
{
    (void)s, (void)obj, (void)out, (void)action;
    return st_error_set(err, ENOTSUP, "conflict_store: apply runs only inside a batch");
}

static inline int cs_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    return st_store_apply_batch(cs_of(s)->inner, ops, n, err);
}

static inline int cs_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    conflict_store *c = cs_of(s);
    if (c->bind_races != 0) {
        if (c->bind_races > 0)
            c->bind_races--;
        c->bind_raced++;
        return st_error_set(err, ST_ECONFLICT, "pod %s is already bound (another binding)",
                            b[0].name);
    }
    return st_store_bind_pods(c->inner, b, n, err);
}

static inline void cs_close(st_store *s)
{
    st_store_close(cs_of(s)->inner);
    free(s);
}

static const st_store_ops conflict_store_ops = {
    .get = cs_get,
    .list = cs_list,
    .create = cs_create,
    .update = cs_update,
    .remove = cs_remove,
    .apply = cs_apply,
    .batch = cs_batch,
    .bind_pods = cs_bind_pods,
    .close = cs_close,
};

/* A new, empty store that races as *c says (all fields zero: never). */
static inline conflict_store *conflict_store_open(void)
{
    conflict_store *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&c->inner, &err), 0);
    st_store_init(&c->base, &conflict_store_ops);
    return c;
}

#endif
