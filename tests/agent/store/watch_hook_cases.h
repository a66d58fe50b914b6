/* watch_hook_cases.h: the change feed's contract, run on every backend
 * (test_store_watch.c on memory, itest_store_pg.c on PostgreSQL) so they
 * cannot differ: each committed write reaches the hook once, in
 * resourceVersion order, with the object as stored; a failed write
 * reaches it not at all; a delete takes a version of its own. */
#ifndef STRATA_TEST_WATCH_HOOK_CASES_H
#define STRATA_TEST_WATCH_HOOK_CASES_H

#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/cleanup.h"
#include "strata/store.h"

/* What the hook was given: [[type, object], ...]. */
static void watch_hook_record(void *arg, const char *type, json_t *obj)
{
    json_array_append_new(arg, json_pack("[s, O]", type, obj));
}

static unsigned long long watch_hook_rv(json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    assert_non_null(rv);
    return strtoull(rv, NULL, 10);
}

/* The change at i is type on ns/name; its object. */
static json_t *watch_hook_at(json_t *seen, size_t i, const char *type, const char *name)
{
    json_t *ch = json_array_get(seen, i);
    assert_non_null(ch);
    assert_string_equal(json_string_value(json_array_get(ch, 0)), type);
    json_t *obj = json_array_get(ch, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), name);
    return obj;
}

static json_t *watch_hook_pod(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1",
                     "kind", "Pod", "metadata", "name", name, "namespace", "watch", "labels", "app",
                     "web", "spec", "containers", "name", "c", "image", "busybox");
}

static void watch_hook_cases(st_store *s)
{
    st_error err = {0};
    _cleanup_json_ json_t *seen = json_array();
    st_store_set_watch_hook(s, watch_hook_record, seen);

    /* create, update: ADDED then MODIFIED, as stored */
    _cleanup_json_ json_t *a = watch_hook_pod("a");
    _cleanup_json_ json_t *stored = NULL;
    assert_int_equal(st_store_create(s, a, &stored, &err), 0);
    assert_int_equal(json_array_size(seen), 1);
    assert_true(json_equal(watch_hook_at(seen, 0, "ADDED", "a"), stored));
    json_object_set_new(json_object_get(json_object_get(stored, "metadata"), "labels"), "app",
                        json_string("db"));
    _cleanup_json_ json_t *updated = NULL;
    assert_int_equal(st_store_update(s, stored, &updated, &err), 0);
    assert_true(json_equal(watch_hook_at(seen, 1, "MODIFIED", "a"), updated));

    /* a write that fails reports nothing */
    assert_int_equal(st_store_update(s, stored, NULL, &err), -ST_ECONFLICT);
    assert_int_equal(st_store_create(s, a, NULL, &err), -EEXIST);
    assert_int_equal(json_array_size(seen), 2);

    /* a batch: its items in order; a failed batch: nothing */
    _cleanup_json_ json_t *b = watch_hook_pod("b");
    _cleanup_json_ json_t *c = watch_hook_pod("c");
    st_store_op ok[] = {{.op = ST_STORE_CREATE, .object = b}, {.op = ST_STORE_APPLY, .object = c}};
    assert_int_equal(st_store_apply_batch(s, ok, 2, &err), 0);
    st_store_ops_release(ok, 2);
    assert_int_equal(json_array_size(seen), 4);
    watch_hook_at(seen, 2, "ADDED", "b");
    watch_hook_at(seen, 3, "ADDED", "c");
    _cleanup_json_ json_t *d = watch_hook_pod("d");
    st_store_op bad[] = {{.op = ST_STORE_CREATE, .object = d},
                         {.op = ST_STORE_CREATE, .object = b}};
    assert_int_equal(st_store_apply_batch(s, bad, 2, &err), -EEXIST);
    assert_int_equal(json_array_size(seen), 4);

    /* binding: MODIFIED with the node */
    st_store_binding bind[] = {{"watch", "b", "n1"}, {"watch", "c", "n2"}};
    assert_int_equal(st_store_bind_pods(s, bind, 2, &err), 0);
    assert_int_equal(json_array_size(seen), 6);
    json_t *bb = watch_hook_at(seen, 4, "MODIFIED", "b");
    assert_string_equal(json_string_value(json_object_get(json_object_get(bb, "spec"), "nodeName")),
                        "n1");
    watch_hook_at(seen, 5, "MODIFIED", "c");

    /* delete: the object, with a version newer than every change before */
    assert_int_equal(st_store_delete(s, "Pod", "watch", "a", NULL, &err), 0);
    json_t *gone = watch_hook_at(seen, 6, "DELETED", "a");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(gone, "metadata"), "labels"), "app")),
                        "db");
    for (size_t i = 1; i < json_array_size(seen); i++)
        assert_true(watch_hook_rv(json_array_get(json_array_get(seen, i), 1)) >
                    watch_hook_rv(json_array_get(json_array_get(seen, i - 1), 1)));

    /* an event is a change too */
    _cleanup_json_ json_t *ev =
        json_pack("{s:{s:s, s:s, s:s}, s:s, s:s}", "involvedObject", "kind", "Pod", "name", "b",
                  "namespace", "watch", "reason", "Scheduled", "message", "bound");
    assert_int_equal(st_store_append_event(s, ev, NULL, &err), 0);
    json_t *last = json_array_get(json_array_get(seen, 7), 1);
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "Event");

    /* a list says where the feed goes on from */
    _cleanup_json_ json_t *items = NULL;
    unsigned long long at = 0;
    st_store_query q = {.kind = "Pod", .namespace = "watch"};
    assert_int_equal(st_store_list_at(s, &q, &items, &at, &err), 0);
    assert_int_equal(json_array_size(items), 2);
    assert_true(at == watch_hook_rv(last));

    /* clean up for the next test on a shared store */
    assert_int_equal(st_store_delete(s, "Pod", "watch", "b", NULL, &err), 0);
    assert_int_equal(st_store_delete(s, "Pod", "watch", "c", NULL, &err), 0);
    st_store_set_watch_hook(s, NULL, NULL);
    assert_int_equal(st_store_create(s, d, NULL, &err), 0);
    assert_int_equal(json_array_size(seen), 10); /* no hook: not reported */
    assert_int_equal(st_store_delete(s, "Pod", "watch", "d", NULL, &err), 0);
}

#endif
