/* test_store_lock.c: the locking shim in front of every backend. A probe
 * backend records how many of its operations run at once while threads call
 * every public function: never more than one. And what the shim does for all
 * backends alike: bindings checked before the backend sees them, Events
 * prepared, events listed oldest first, a failed batch's results released. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "store_backend.h"

typedef struct probe {
    st_store base;
    atomic_int inside; /* operations running now */
    atomic_int most;   /* the most that ever ran at once */
    atomic_int calls;
    bool last_by_rv;     /* what the last list asked for */
    char last_kind[32];  /* the kind of the last list or create */
    json_t *last_create; /* what the last create got (a copy) */
} probe;

/* Every operation: counted, and long enough (yielding the CPU) that two
 * running at once would be seen. */
static void enter(st_store *s)
{
    probe *p = (probe *)s;
    atomic_fetch_add(&p->calls, 1);
    int now = atomic_fetch_add(&p->inside, 1) + 1;
    int most = atomic_load(&p->most);
    while (now > most && !atomic_compare_exchange_weak(&p->most, &most, now)) {
    }
    for (int i = 0; i < 20; i++)
        sched_yield();
    atomic_fetch_sub(&p->inside, 1);
}

static int p_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                 st_error *err)
{
    (void)kind, (void)ns, (void)name, (void)err;
    enter(s);
    *out = json_object();
    return 0;
}

static int p_list(st_store *s, const st_store_query *q, bool by_rv, json_t **out, st_error *err)
{
    (void)err;
    enter(s);
    probe *p = (probe *)s;
    p->last_by_rv = by_rv;
    snprintf(p->last_kind, sizeof(p->last_kind), "%s", q->kind ? q->kind : "");
    *out = json_array();
    return 0;
}

static int p_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    (void)out, (void)err;
    enter(s);
    probe *p = (probe *)s;
    json_decref(p->last_create);
    p->last_create = json_deep_copy(obj);
    return 0;
}

static int p_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    (void)obj, (void)out, (void)err;
    enter(s);
    return 0;
}

static int p_remove(st_store *s, const char *kind, const char *ns, const char *name, const char *rv,
                    st_error *err)
{
    (void)kind, (void)ns, (void)name, (void)rv, (void)err;
    enter(s);
    return 0;
}

static int p_apply(st_store *s, json_t *obj, json_t **out, st_store_action *action, st_error *err)
{
    (void)obj, (void)out, (void)action, (void)err;
    enter(s);
    return 0;
}

/* Fails after producing a result, as a backend whose last item failed. */
static int p_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    enter(s);
    if (n > 0) {
        ops[0].result = json_object();
        ops[0].action = ST_STORE_CREATED;
    }
    return st_error_set(err, EIO, "batch item %zu: the probe fails every batch", n);
}

static int p_bind(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    (void)b, (void)n, (void)err;
    enter(s);
    return 0;
}

static void p_close(st_store *s)
{
    json_decref(((probe *)s)->last_create);
    free(s);
}

static const st_store_ops probe_ops = {
    .get = p_get,
    .list = p_list,
    .create = p_create,
    .update = p_update,
    .remove = p_remove,
    .apply = p_apply,
    .batch = p_batch,
    .bind_pods = p_bind,
    .close = p_close,
};

static int setup(void **state)
{
    probe *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    st_store_init(&p->base, &probe_ops);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

#define THREADS 4
#define ROUNDS  200

/* One round calls every public function once: 8 backend operations. */
static void *hammer(void *arg)
{
    st_store *s = arg;
    json_t *obj = json_pack("{s:s, s:{s:s, s:s}}", "kind", "Pod", "metadata", "name", "p",
                            "resourceVersion", "1");
    json_t *ev = json_pack("{s:{s:s, s:s}, s:s, s:s}", "involvedObject", "kind", "Pod", "name", "p",
                           "reason", "Tested", "message", "hammered");
    st_store_query q = {.kind = "Pod"};
    st_store_binding b = {.namespace = "default", .name = "p", .node_name = "n1"};
    for (int i = 0; i < ROUNDS; i++) {
        json_t *out = NULL;
        st_store_get(s, "Pod", "default", "p", &out, NULL);
        json_decref(out);
        st_store_list(s, &q, &out, NULL);
        json_decref(out);
        st_store_list_events(s, &q, &out, NULL);
        json_decref(out);
        st_store_create(s, obj, NULL, NULL);
        st_store_update(s, obj, NULL, NULL);
        st_store_delete(s, "Pod", "default", "p", "1", NULL);
        st_store_bind_pods(s, &b, 1, NULL);
        st_store_append_event(s, ev, NULL, NULL);
    }
    json_decref(obj);
    json_decref(ev);
    return NULL;
}

static void test_one_operation_at_a_time(void **state)
{
    probe *p = *state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &p->base), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&p->calls), THREADS * ROUNDS * 8);
    assert_int_equal(atomic_load(&p->most), 1);
}

static void test_bindings_checked_before_the_backend(void **state)
{
    probe *p = *state;
    st_error err = {0};
    st_store_binding b[2] = {{.name = "a", .node_name = "n1"}, {.name = "b", .node_name = ""}};
    assert_int_equal(st_store_bind_pods(&p->base, b, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "binding 2"));
    assert_int_equal(st_store_bind_pods(&p->base, b, 0, &err), 0);
    assert_int_equal(atomic_load(&p->calls), 0);
}

static void test_events_prepared_and_listed_oldest_first(void **state)
{
    probe *p = *state;
    st_error err = {0};
    json_t *ev =
        json_pack("{s:{s:s, s:s, s:s}, s:s, s:s}", "involvedObject", "kind", "Pod", "name", "web-1",
                  "namespace", "shop", "reason", "Pulled", "message", "image pulled");
    assert_int_equal(st_store_append_event(&p->base, ev, NULL, &err), 0);
    json_decref(ev);
    json_t *got = p->last_create;
    assert_string_equal(json_string_value(json_object_get(got, "kind")), "Event");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(got, "metadata"), "namespace")), "shop");
    assert_int_equal(json_integer_value(json_object_get(got, "count")), 1);
    assert_non_null(json_object_get(got, "firstTimestamp"));

    st_store_query q = {.kind = "Pod"};
    json_t *out = NULL;
    assert_int_equal(st_store_list_events(&p->base, &q, &out, &err), 0);
    json_decref(out);
    assert_true(p->last_by_rv);
    assert_string_equal(p->last_kind, "Event");
    assert_int_equal(st_store_list(&p->base, &q, &out, &err), 0);
    json_decref(out);
    assert_false(p->last_by_rv);
    assert_string_equal(p->last_kind, "Pod");
}

static void test_failed_batch_leaves_no_result(void **state)
{
    probe *p = *state;
    st_error err = {0};
    json_t *obj = json_pack("{s:s}", "kind", "Pod");
    json_t *stale = json_object();
    st_store_op op = {.op = ST_STORE_APPLY, .object = obj, .result = stale};
    assert_int_equal(st_store_apply_batch(&p->base, &op, 1, &err), -EIO);
    assert_non_null(strstr(err.msg, "the probe fails"));
    assert_null(op.result);
    assert_int_equal(op.action, ST_STORE_NONE);
    json_decref(stale); /* a caller's leftover is not the store's to free */
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_operation_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bindings_checked_before_the_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_prepared_and_listed_oldest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_leaves_no_result, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
