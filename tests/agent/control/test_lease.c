/* test_lease.c: the lease arithmetic of multi-host mode (strata/lease.h):
 * the self-fence deadline, when the leader may call a host lost, the
 * timing rules stratad refuses bad flags with, the clock skew estimate and
 * the host lease's name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "strata/lease.h"

#define MS 1000000LL /* ns */

static void test_self_fence_due(void **state)
{
    (void)state;
    int64_t sent = 5000 * MS;
    assert_false(st_lease_self_fence_due(sent, sent, 3000));
    assert_false(st_lease_self_fence_due(sent, sent + 2999 * MS, 3000));
    assert_false(st_lease_self_fence_due(sent, sent + 3000 * MS - 1, 3000));
    assert_true(st_lease_self_fence_due(sent, sent + 3000 * MS, 3000));
    assert_true(st_lease_self_fence_due(sent, sent + 60000 * MS, 3000));
    /* large monotonic values (days of uptime) do not overflow */
    int64_t late = 40LL * 24 * 3600 * 1000 * MS;
    assert_false(st_lease_self_fence_due(late, late + 2 * MS, ST_LEASE_FENCE_AFTER_MS));
    assert_true(st_lease_self_fence_due(late, late + ST_LEASE_FENCE_AFTER_MS * MS,
                                        ST_LEASE_FENCE_AFTER_MS));
}

static void test_host_lost(void **state)
{
    (void)state;
    int64_t renew = 1764640000000LL; /* a December 2025 epoch in ms */
    st_lease_state l = {.held = true, .renew_ms = renew, .duration_ms = 6000};
    strcpy(l.holder, "host-a");
    l.db_now_ms = renew + 6000;
    assert_false(st_lease_host_lost(&l, 0)); /* expiry is strictly after */
    l.db_now_ms = renew + 6001;
    assert_true(st_lease_host_lost(&l, 0));
    assert_false(st_lease_host_lost(&l, ST_LEASE_MARGIN_MS));
    l.db_now_ms = renew + 6000 + ST_LEASE_MARGIN_MS;
    assert_false(st_lease_host_lost(&l, ST_LEASE_MARGIN_MS));
    l.db_now_ms++;
    assert_true(st_lease_host_lost(&l, ST_LEASE_MARGIN_MS));
    /* a lease renewed after db_now was read (a later stamp) is not lost */
    l.db_now_ms = renew - 10;
    assert_false(st_lease_host_lost(&l, 0));
    /* released: judged from the release, margin and all */
    st_lease_state r = {.held = false, .renew_ms = renew, .duration_ms = 6000};
    r.db_now_ms = renew + 7000;
    assert_false(st_lease_host_lost(&r, ST_LEASE_MARGIN_MS));
    r.db_now_ms = renew + 7501;
    assert_true(st_lease_host_lost(&r, ST_LEASE_MARGIN_MS));
    /* no lease at all: only the database's clock is known */
    st_lease_state none = {.db_now_ms = renew};
    assert_true(st_lease_host_lost(&none, ST_LEASE_MARGIN_MS));
}

static void test_timing_defaults_safe(void **state)
{
    (void)state;
    char why[512] = "unset";
    assert_int_equal(st_lease_timing_check(ST_LEASE_DURATION_MS, ST_LEASE_RENEW_MS,
                                           ST_LEASE_FENCE_AFTER_MS, ST_LEASE_MARGIN_MS,
                                           ST_GUEST_HOST_GRACE_MS, ST_GUEST_STOP_MS, why,
                                           sizeof(why)),
                     0);
    assert_string_equal(why, "");
    /* the inequality at equality holds: 3000 + 2000 + 2500 = 6000 + 1500 */
    assert_int_equal(st_lease_timing_check(6000, 1000, 3000, 1500, 2000, 2500, NULL, 0), 0);
}

/* Each broken rule is refused, naming itself. */
static void test_timing_refused(void **state)
{
    (void)state;
    char why[512];
    struct {
        int d, r, f, m, g, k;
        const char *says;
    } cases[] = {
        {6000, 1000, 3000, 1500, 2000, 2501, "unsafe lease timings"}, /* one ms over */
        {6000, 1000, 5000, 0, 2000, 1000, "unsafe lease timings"},
        {4000, 1000, 3000, 1500, 2000, 1000, "unsafe lease timings"},
        {6000, 3000, 3000, 1500, 2000, 1000, "renew more often"},
        {6000, 4000, 3000, 1500, 2000, 1000, "renew more often"},
        {6000, 1000, 6000, 9000, 2000, 1000, "shorter than the lease"},
        {6500, 1000, 3000, 1500, 2000, 1000, "whole number of seconds"},
        {0, 1000, 3000, 1500, 2000, 1000, "positive"},
        {6000, 1000, 3000, -1, 2000, 1000, "positive"},
        {6000, 1000, 3000, 1500, 0, 1000, "positive"},
        {6000, 1000, 3000, 1500, 2000, -5, "positive"},
        /* figures near INT_MAX do not overflow into "safe" */
        {2000000000, 1000, 1000000000, 0, 2000000000, 2000000000, "unsafe lease timings"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        int r = st_lease_timing_check(cases[i].d, cases[i].r, cases[i].f, cases[i].m, cases[i].g,
                                      cases[i].k, why, sizeof(why));
        if (r != -EINVAL || strstr(why, cases[i].says) == NULL)
            fail_msg("case %zu: %d, \"%s\" (wanted -EINVAL and \"%s\")", i, r, why, cases[i].says);
    }
    /* the reason carries the figures */
    st_lease_timing_check(6000, 1000, 3000, 1500, 2000, 2501, why, sizeof(why));
    assert_non_null(strstr(why, "7501 ms"));
    assert_non_null(strstr(why, "7500 ms"));
    /* a short buffer is cut, not overrun; NULL is fine */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(st_lease_timing_check(0, 0, 0, 0, 0, 0, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(st_lease_timing_check(0, 0, 0, 0, 0, 0, NULL, 0), -EINVAL);
}

static void test_clock_skew(void **state)
{
    (void)state;
    /* asked between 1000 and 1100 locally, the database said 1050: none */
    assert_int_equal(st_lease_clock_skew_ms(1000, 1100, 1050), 0);
    /* the database is 2 s ahead, 0.5 s behind */
    assert_int_equal(st_lease_clock_skew_ms(1000, 1100, 3050), 2000);
    assert_int_equal(st_lease_clock_skew_ms(1000, 1100, 550), -500);
    /* real epoch figures */
    int64_t t = 1764640000000LL;
    assert_int_equal(st_lease_clock_skew_ms(t, t + 8, t + 4 + 250), 250);
}

static void test_host_lease_name(void **state)
{
    (void)state;
    char name[300];
    st_error err = {0};
    assert_int_equal(st_lease_host_name("host-1", name, sizeof(name), &err), 0);
    assert_string_equal(name, "strata-host-host-1");
    assert_int_equal(st_lease_host_name("rack2.lab", name, sizeof(name), &err), 0);
    assert_string_equal(name, ST_LEASE_HOST_PREFIX "rack2.lab");
    st_error e2 = {0};
    assert_int_equal(st_lease_host_name("Host_1", name, sizeof(name), &e2), -EINVAL);
    assert_non_null(strstr(e2.msg, "--host-name"));
    st_error e3 = {0};
    assert_int_equal(st_lease_host_name("", name, sizeof(name), &e3), -EINVAL);
    st_error e4 = {0};
    char small[10];
    assert_int_equal(st_lease_host_name("host-1", small, sizeof(small), &e4), -ENAMETOOLONG);
    /* 241 bytes fit a 253-byte subdomain with the prefix; 242 do not */
    char host[300];
    memset(host, 'a', 241);
    host[241] = '\0';
    for (int i = 50; i < 241; i += 61) /* labels of at most 63 with the prefix */
        host[i] = '.';
    st_error e5 = {0};
    assert_int_equal(st_lease_host_name(host, name, sizeof(name), &e5), 0);
    strcat(host, "a");
    st_error e6 = {0};
    assert_int_equal(st_lease_host_name(host, name, sizeof(name), &e6), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_fence_due),       cmocka_unit_test(test_host_lost),
        cmocka_unit_test(test_timing_defaults_safe), cmocka_unit_test(test_timing_refused),
        cmocka_unit_test(test_clock_skew),           cmocka_unit_test(test_host_lease_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
