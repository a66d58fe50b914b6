/* test_store_lease.c: Leases on the in-memory store with a test clock
 * (strata/store_lease.h): taken when absent, renewed by their holder,
 * refused to another while valid, taken over after expiry with one more
 * transition, given up; every write with a new resourceVersion through the
 * watch hook, a refused try with none. itest_store_lease_pg.c proves the
 * same on PostgreSQL, racing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "strata/store.h"
#include "strata/store_lease.h"

#define NS   "kube-node-lease"
#define NAME "strata-host-a"
#define T0   1764640000000LL /* ms since the epoch: 2025-12-02T01:46:40Z */

typedef struct fx {
    st_store *s;
    int64_t now_ms; /* the store's clock */
    json_t *seen;   /* what the watch hook was given: [[type, object], ...] */
} fx;

static int64_t test_clock(void *arg)
{
    return ((fx *)arg)->now_ms;
}

static void record(void *arg, const char *type, json_t *obj)
{
    json_array_append_new(arg, json_pack("[s, O]", type, obj));
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    st_error err = {0};
    assert_non_null(f);
    assert_int_equal(st_store_mem_open(&f->s, &err), 0);
    assert_int_equal(st_store_mem_set_clock(f->s, test_clock, f, &err), 0);
    f->now_ms = T0;
    f->seen = json_array();
    st_store_set_watch_hook(f->s, record, f->seen);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    st_store_close(f->s);
    json_decref(f->seen);
    free(f);
    return 0;
}

static int try_as(fx *f, const char *holder, st_lease_state *l)
{
    st_error err = {0};
    int r = st_store_lease_try(f->s, NS, NAME, holder, 6000, l, &err);
    if (r < 0)
        fail_msg("try as %s: %s", holder, err.msg);
    return r;
}

/* The watch saw n changes; the last one is type. */
static void seen_last(fx *f, size_t n, const char *type)
{
    assert_int_equal(json_array_size(f->seen), n);
    json_t *ch = json_array_get(f->seen, n - 1);
    assert_string_equal(json_string_value(json_array_get(ch, 0)), type);
    json_t *obj = json_array_get(ch, 1);
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "Lease");
}

static void test_lifecycle(void **state)
{
    fx *f = *state;
    st_lease_state l;

    /* absent: created for a */
    assert_int_equal(try_as(f, "a", &l), 1);
    assert_true(l.held);
    assert_string_equal(l.holder, "a");
    assert_int_equal(l.acquire_ms, T0);
    assert_int_equal(l.renew_ms, T0);
    assert_int_equal(l.db_now_ms, T0);
    assert_int_equal(l.duration_ms, 6000);
    assert_int_equal(l.transitions, 0);
    assert_true(l.resource_version > 0);
    seen_last(f, 1, "ADDED");
    unsigned long long rv = l.resource_version;

    /* renewed by its holder: renewTime moves, acquireTime stays */
    f->now_ms = T0 + 1000;
    assert_int_equal(try_as(f, "a", &l), 1);
    assert_int_equal(l.renew_ms, T0 + 1000);
    assert_int_equal(l.acquire_ms, T0);
    assert_int_equal(l.transitions, 0);
    assert_true(l.resource_version > rv);
    seen_last(f, 2, "MODIFIED");
    rv = l.resource_version;

    /* refused to b while valid, to the last millisecond: nothing written */
    f->now_ms = T0 + 1000 + 6000;
    assert_int_equal(try_as(f, "b", &l), 0);
    assert_string_equal(l.holder, "a");
    assert_int_equal(l.db_now_ms, T0 + 7000);
    assert_int_equal(l.resource_version, rv);
    assert_int_equal(json_array_size(f->seen), 2);

    /* expired: b takes it over, one transition more */
    f->now_ms++;
    assert_int_equal(try_as(f, "b", &l), 1);
    assert_string_equal(l.holder, "b");
    assert_int_equal(l.acquire_ms, T0 + 7001);
    assert_int_equal(l.renew_ms, T0 + 7001);
    assert_int_equal(l.transitions, 1);
    seen_last(f, 3, "MODIFIED");
    /* and a now is refused */
    assert_int_equal(try_as(f, "a", &l), 0);
    assert_string_equal(l.holder, "b");

    /* only the holder gives it up */
    st_error err = {0};
    rv = l.resource_version;
    assert_int_equal(st_store_lease_release(f->s, NS, NAME, "a", &l, &err), 0);
    assert_string_equal(l.holder, "b");
    assert_int_equal(l.resource_version, rv);
    assert_int_equal(json_array_size(f->seen), 3);
    f->now_ms += 500;
    assert_int_equal(st_store_lease_release(f->s, NS, NAME, "b", &l, &err), 1);
    assert_false(l.held);
    assert_string_equal(l.holder, "");
    assert_int_equal(l.renew_ms, f->now_ms);
    assert_int_equal(l.transitions, 1);
    seen_last(f, 4, "MODIFIED");

    /* given up: a takes it at once (a transition: the holder changed) */
    assert_int_equal(try_as(f, "a", &l), 1);
    assert_int_equal(l.transitions, 2);
    assert_int_equal(l.acquire_ms, f->now_ms);

    /* its own lease expired and re-taken: a new acquisition, no transition */
    int64_t first = l.acquire_ms;
    f->now_ms += 6001;
    assert_int_equal(try_as(f, "a", &l), 1);
    assert_int_equal(l.transitions, 2);
    assert_true(l.acquire_ms > first);
    assert_int_equal(l.acquire_ms, l.renew_ms);
}

/* The Lease as stored is Kubernetes-shaped. */
static void test_object_shape(void **state)
{
    fx *f = *state;
    f->now_ms = T0 + 123;
    st_error err = {0};
    assert_int_equal(try_as(f, "host-a", NULL), 1);
    json_t *o = NULL;
    assert_int_equal(st_store_get(f->s, "Lease", NS, NAME, &o, &err), 0);
    json_t *spec = json_object_get(o, "spec");
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
                        "coordination.k8s.io/v1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace")), NS);
    assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")), "host-a");
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 6);
    assert_string_equal(json_string_value(json_object_get(spec, "renewTime")),
                        "2025-12-02T01:46:40.123000Z");
    assert_string_equal(json_string_value(json_object_get(spec, "acquireTime")),
                        "2025-12-02T01:46:40.123000Z");
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseTransitions")), 0);
    json_decref(o);

    json_t *list = NULL;
    st_store_query q = {.kind = "Lease", .namespace = NS};
    assert_int_equal(st_store_list(f->s, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);

    st_lease_state l;
    assert_int_equal(st_store_lease_get(f->s, NS, NAME, &l, &err), 0);
    assert_string_equal(l.holder, "host-a");
    assert_int_equal(l.renew_ms, T0 + 123);
    st_error e2 = {0};
    f->now_ms = T0 + 5;
    assert_int_equal(st_store_lease_get(f->s, NS, "nobody", &l, &e2), -ENOENT);
    assert_int_equal(l.db_now_ms, T0 + 5);
    assert_false(l.held);
    assert_non_null(strstr(e2.msg, "leases \"nobody\" not found"));
}

/* The store's clock stepping back never moves renewTime back. */
static void test_clock_back(void **state)
{
    fx *f = *state;
    st_lease_state l;
    f->now_ms = T0 + 5000;
    assert_int_equal(try_as(f, "a", &l), 1);
    f->now_ms = T0 + 4000;
    assert_int_equal(try_as(f, "a", &l), 1);
    assert_int_equal(l.renew_ms, T0 + 5000);
    assert_int_equal(l.db_now_ms, T0 + 4000);
}

static void test_bad_arguments(void **state)
{
    fx *f = *state;
    struct {
        const char *ns, *name, *holder;
        int duration_ms;
        const char *says;
    } cases[] = {
        {NS, NAME, "a", 1500, "whole number of seconds"},
        {NS, NAME, "a", 0, "whole number of seconds"},
        {NS, NAME, "a", 7200000, "whole number of seconds"},
        {NS, NAME, "", 6000, "holder identity"},
        {NS, NAME, NULL, 6000, "holder identity"},
        {NS, "Not_A_Name", "a", 6000, "metadata.name"},
        {"Bad NS", NAME, "a", 6000, "metadata.namespace"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st_error err = {0};
        int r = st_store_lease_try(f->s, cases[i].ns, cases[i].name, cases[i].holder,
                                   cases[i].duration_ms, NULL, &err);
        if (r != -EINVAL || strstr(err.msg, cases[i].says) == NULL)
            fail_msg("case %zu: %d \"%s\"", i, r, err.msg);
    }
    char longest[ST_LEASE_HOLDER_MAX + 2];
    memset(longest, 'h', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    st_error err = {0};
    assert_int_equal(st_store_lease_try(f->s, NS, NAME, longest, 6000, NULL, &err), -EINVAL);
    longest[ST_LEASE_HOLDER_MAX] = '\0';
    assert_int_equal(st_store_lease_try(f->s, NS, NAME, longest, 6000, NULL, &err), 1);
    assert_int_equal(json_array_size(f->seen), 1);
}

static void test_db_now(void **state)
{
    fx *f = *state;
    st_error err = {0};
    int64_t now = 0;
    f->now_ms = T0 + 42;
    assert_int_equal(st_store_db_now_ms(f->s, &now, &err), 0);
    assert_int_equal(now, T0 + 42);
    /* without the test clock: the real one */
    assert_int_equal(st_store_mem_set_clock(f->s, NULL, NULL, &err), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    assert_int_equal(st_store_db_now_ms(f->s, &now, &err), 0);
    clock_gettime(CLOCK_REALTIME, &b);
    assert_true(now >= (int64_t)a.tv_sec * 1000 + a.tv_nsec / 1000000);
    assert_true(now <= (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_now, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
