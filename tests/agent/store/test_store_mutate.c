/* test_store_mutate.c: the one read-modify-write loop. A writer that came
 * first is never overwritten: the change is decided again on what it wrote;
 * a conflict that does not settle is returned, never swallowed; keeping and
 * removing follow the same rules as writing. On the in-memory store, with
 * "another writer" acting from inside the mutate function, where the loop
 * holds no lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/store.h"

static int setup(void **state)
{
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    json_t *d = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "apps/v1", "kind",
                          "Deployment", "metadata", "name", "web", "spec", "replicas", 1);
    assert_int_equal(st_store_create(s, d, NULL, &err), 0);
    json_decref(d);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

static json_int_t int_at(json_t *obj, const char *parent, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(obj, parent), key));
}

/* Another writer: bumps spec.replicas by one, through the store. */
static void other_writer(st_store *s)
{
    json_t *d = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &d, NULL), 0);
    json_t *spec = json_object_get(d, "spec");
    json_object_set_new(spec, "replicas", json_integer(int_at(d, "spec", "replicas") + 1));
    assert_int_equal(st_store_update(s, d, NULL, NULL), 0);
    json_decref(d);
}

struct label_arg {
    st_store *s;
    int races;   /* times another writer comes first */
    int calls;   /* times fn ran */
    int verdict; /* what fn decides */
};

/* Sets a label; before that, another writer may come first. */
static int label_fn(json_t *obj, void *arg, st_error *err)
{
    struct label_arg *a = arg;
    a->calls++;
    if (a->races != 0) {
        if (a->races > 0)
            a->races--;
        other_writer(a->s);
    }
    json_object_set_new(json_object_get(obj, "metadata"), "labels",
                        json_pack("{s:s}", "tier", "front"));
    if (a->verdict < 0)
        return st_error_set(err, -a->verdict, "the test refuses this change");
    return a->verdict;
}

static void test_conflict_is_retried(void **state)
{
    st_store *s = *state;
    struct label_arg a = {s, 2, 0, ST_STORE_WRITE};
    json_t *out = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "web", label_fn, &a, &out, &err),
                     ST_STORE_WRITE);
    /* Decided three times: twice the other writer came first. */
    assert_int_equal(a.calls, 3);
    /* Both writers' changes are there: none was lost. */
    assert_int_equal(int_at(out, "spec", "replicas"), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(out, "metadata"), "labels"), "tier")),
                        "front");
    json_t *stored = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &stored, &err), 0);
    assert_true(json_equal(stored, out));
    json_decref(stored);
    json_decref(out);
}

static void test_conflict_that_never_settles_is_reported(void **state)
{
    st_store *s = *state;
    struct label_arg a = {s, -1, 0, ST_STORE_WRITE};
    json_t *out = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "web", label_fn, &a, &out, &err),
                     -ST_ECONFLICT);
    assert_int_equal(err.code, ST_ECONFLICT);
    assert_non_null(strstr(err.msg, "kept changing"));
    assert_null(out);
    json_t *stored = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &stored, &err), 0);
    assert_int_equal(int_at(stored, "spec", "replicas"), 1 + a.calls);
    assert_null(json_object_get(json_object_get(stored, "metadata"), "labels"));
    json_decref(stored);
}

static void test_keep_writes_nothing(void **state)
{
    st_store *s = *state;
    json_t *before = NULL;
    st_error err = {0};
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &before, &err), 0);
    struct label_arg a = {s, 0, 0, ST_STORE_KEEP};
    json_t *out = NULL;
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "web", label_fn, &a, &out, &err),
                     ST_STORE_KEEP);
    /* *out is the object as read, and the store still holds it. */
    json_t *after = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &after, &err), 0);
    assert_true(json_equal(before, after));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")),
        json_string_value(json_object_get(json_object_get(before, "metadata"), "resourceVersion")));
    json_decref(before);
    json_decref(after);
    json_decref(out);
}

static void test_remove_is_retried_then_done(void **state)
{
    st_store *s = *state;
    struct label_arg a = {s, 1, 0, ST_STORE_REMOVE};
    json_t *out = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "web", label_fn, &a, &out, &err),
                     ST_STORE_REMOVE);
    assert_null(out);
    /* The delete raced once, then ran at the version fn was shown. */
    assert_int_equal(a.calls, 2);
    json_t *gone = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &gone, &err), -ENOENT);
}

static void test_missing_object_and_errors(void **state)
{
    st_store *s = *state;
    struct label_arg a = {s, 0, 0, ST_STORE_WRITE};
    st_error err = {0};
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "nope", label_fn, &a, NULL, &err),
                     -ENOENT);
    assert_int_equal(a.calls, 0);
    /* An error of fn is returned as it is, and nothing is written. */
    a.verdict = -EINVAL;
    st_error_clear(&err);
    assert_int_equal(st_store_mutate(s, "Deployment", "default", "web", label_fn, &a, NULL, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "the test refuses this change");
    json_t *stored = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &stored, &err), 0);
    assert_null(json_object_get(json_object_get(stored, "metadata"), "labels"));
    json_decref(stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflict_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_that_never_settles_is_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_is_retried_then_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_object_and_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
