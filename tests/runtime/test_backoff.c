/* test_backoff.c: CrashLoopBackOff delays on a fake clock (runtime/backoff.c):
 * doubling, the cap, the reset after a long enough run, the defaults. */
#include "testutil.h"

#include "strata/backoff.h"

static void test_defaults_are_kubernetes(void **state)
{
    (void)state;
    struct st_backoff b;
    st_backoff_init(&b, 0, 0, 0);
    assert_int_equal(b.base_ms, 10000);
    assert_int_equal(b.cap_ms, 300000);
    assert_int_equal(b.reset_ms, 600000);
    /* Crashing right after each start: 10, 20, 40, 80, 160 s, then 300 s for good. */
    long long expect[] = {10000, 20000, 40000, 80000, 160000, 300000, 300000, 300000};
    long long now = 1000000;
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        long long started = now;
        now += 500; /* ran half a second */
        long long d = st_backoff_next(&b, now, started);
        assert_int_equal(d, expect[i]);
        now += d;
    }
    assert_int_equal(b.restarts, 8);
}

static void test_small_values_and_cap(void **state)
{
    (void)state;
    struct st_backoff b;
    st_backoff_init(&b, 100, 450, 5000);
    assert_int_equal(st_backoff_next(&b, 10, 0), 100);
    assert_int_equal(st_backoff_next(&b, 20, 10), 200);
    assert_int_equal(st_backoff_next(&b, 30, 20), 400);
    /* 800 would pass the cap. */
    assert_int_equal(st_backoff_next(&b, 40, 30), 450);
    assert_int_equal(st_backoff_next(&b, 50, 40), 450);
}

static void test_long_run_resets(void **state)
{
    (void)state;
    struct st_backoff b;
    st_backoff_init(&b, 100, 10000, 5000);
    assert_int_equal(st_backoff_next(&b, 1000, 900), 100);
    assert_int_equal(st_backoff_next(&b, 2000, 1900), 200);
    assert_int_equal(st_backoff_next(&b, 3000, 2900), 400);
    /* Ran 4999 ms: one short of the window, keeps doubling. */
    assert_int_equal(st_backoff_next(&b, 9999, 5000), 800);
    /* Ran exactly the window: forgiven, back to base. */
    assert_int_equal(st_backoff_next(&b, 20000, 15000), 100);
    assert_int_equal(b.restarts, 1);
    assert_int_equal(st_backoff_next(&b, 20100, 20000), 200);
}

static void test_reset_and_odd_config(void **state)
{
    (void)state;
    struct st_backoff b;
    /* A cap below the base is raised to the base. */
    st_backoff_init(&b, 1000, 10, 100000);
    assert_int_equal(b.cap_ms, 1000);
    assert_int_equal(st_backoff_next(&b, 1, 0), 1000);
    assert_int_equal(st_backoff_next(&b, 2, 1), 1000);
    st_backoff_reset(&b);
    assert_int_equal(b.restarts, 0);
    /* A huge cap never overflows while doubling. */
    st_backoff_init(&b, 1, 0x3fffffffffffffffLL, 0x7fffffffffffffffLL);
    long long d = 0;
    for (int i = 0; i < 80; i++) {
        long long next = st_backoff_next(&b, i + 1, i);
        assert_true(next >= d);
        assert_true(next <= b.cap_ms);
        d = next;
    }
    assert_int_equal(d, b.cap_ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_kubernetes),
        cmocka_unit_test(test_small_values_and_cap),
        cmocka_unit_test(test_long_run_resets),
        cmocka_unit_test(test_reset_and_odd_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
