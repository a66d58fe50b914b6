/* test_cgroup.c: unit tests of the cgroup facility's pure parts: OCI resource
 * checks and the v1 -> v2 conversions (cpu.shares -> cpu.weight, quota/period
 * -> cpu.max, memory+swap -> memory.swap.max), and path validation, which
 * fails before any cgroup is touched. No cgroup is created here. */
#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "strata/cgroup.h"

static void test_resources_init_unset(void **state)
{
    (void)state;
    struct st_resources r;
    memset(&r, 0x5a, sizeof(r));
    st_resources_init(&r);
    assert_int_equal(r.memory_limit, -1);
    assert_int_equal(r.memory_swap, -1);
    assert_int_equal(r.cpu_quota, -1);
    assert_int_equal(r.cpu_period, 0);
    assert_int_equal(r.cpu_shares, 0);
    assert_int_equal(r.pids_limit, -1);
    st_error err = {0};
    assert_int_equal(st_resources_check(&r, &err), 0);
}

static void expect_check_fails(const struct st_resources *r, const char *field)
{
    st_error err = {0};
    assert_int_equal(st_resources_check(r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, field));
}

static void test_resources_check_names_field(void **state)
{
    (void)state;
    struct st_resources r;

    st_resources_init(&r);
    r.memory_limit = -2;
    expect_check_fails(&r, "linux.resources.memory.limit");

    st_resources_init(&r);
    r.memory_limit = 64 << 20;
    r.memory_swap = 32 << 20;
    expect_check_fails(&r, "linux.resources.memory.swap");

    st_resources_init(&r);
    r.cpu_quota = 0;
    expect_check_fails(&r, "linux.resources.cpu.quota");

    st_resources_init(&r);
    r.cpu_shares = 1;
    expect_check_fails(&r, "linux.resources.cpu.shares");
    r.cpu_shares = 262145;
    expect_check_fails(&r, "linux.resources.cpu.shares");

    st_resources_init(&r);
    r.pids_limit = -5;
    expect_check_fails(&r, "linux.resources.pids.limit");

    /* Valid edges pass. */
    st_resources_init(&r);
    r.memory_limit = 16 << 20;
    r.memory_swap = 16 << 20;
    r.cpu_shares = 2;
    r.cpu_quota = 1000;
    r.cpu_period = 100000;
    r.pids_limit = 0;
    st_error err = {0};
    assert_int_equal(st_resources_check(&r, &err), 0);
}

static void test_shares_to_weight(void **state)
{
    (void)state;
    assert_int_equal(st_cgroup_shares_to_weight(0), 0); /* unset stays unset */
    assert_int_equal(st_cgroup_shares_to_weight(2), 1);
    assert_int_equal(st_cgroup_shares_to_weight(262144), 10000);
    /* The default 1024 shares: 1 + 1022 * 9999 / 262142 = 39 (runc, crun agree). */
    assert_int_equal(st_cgroup_shares_to_weight(1024), 39);
    assert_int_equal(st_cgroup_shares_to_weight(512), 20);
    /* Clamped to the v1 range first. */
    assert_int_equal(st_cgroup_shares_to_weight(1), 1);
    assert_int_equal(st_cgroup_shares_to_weight(1000000), 10000);
    /* Monotonic across the range. */
    uint64_t prev = 0;
    for (uint64_t s = 2; s <= 262144; s += 997) {
        uint64_t w = st_cgroup_shares_to_weight(s);
        assert_true(w >= prev);
        assert_in_range(w, 1, 10000);
        prev = w;
    }
}

static void test_cpu_max(void **state)
{
    (void)state;
    char buf[64];
    st_error err = {0};
    assert_int_equal(st_cgroup_cpu_max(50000, 100000, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "50000 100000");
    assert_int_equal(st_cgroup_cpu_max(-1, 250000, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "max 250000");
    /* period 0 = the kernel default */
    assert_int_equal(st_cgroup_cpu_max(20000, 0, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "20000 100000");
    assert_int_equal(st_cgroup_cpu_max(-1, 0, buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "max 100000");

    assert_int_equal(st_cgroup_cpu_max(0, 100000, buf, sizeof(buf), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.quota"));
    st_error_clear(&err);
    assert_int_equal(st_cgroup_cpu_max(-7, 100000, buf, sizeof(buf), &err), -EINVAL);
    st_error_clear(&err);
    char tiny[6];
    assert_int_equal(st_cgroup_cpu_max(50000, 100000, tiny, sizeof(tiny), &err), -ERANGE);
}

static void test_swap_max(void **state)
{
    (void)state;
    int64_t out = 12345;
    st_error err = {0};
    assert_int_equal(st_cgroup_swap_max(-1, -1, &out, &err), 0);
    assert_int_equal(out, -1);
    assert_int_equal(st_cgroup_swap_max(100 << 20, -1, &out, &err), 0);
    assert_int_equal(out, -1);
    assert_int_equal(st_cgroup_swap_max(100 << 20, 300 << 20, &out, &err), 0);
    assert_int_equal(out, 200 << 20);
    assert_int_equal(st_cgroup_swap_max(16 << 20, 16 << 20, &out, &err), 0);
    assert_int_equal(out, 0); /* memory+swap == memory: no swap at all */

    assert_int_equal(st_cgroup_swap_max(-1, 300 << 20, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.resources.memory.swap"));
    st_error_clear(&err);
    assert_int_equal(st_cgroup_swap_max(300 << 20, 100 << 20, &out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "below"));
}

static void test_bad_paths_refused_before_any_cgroup(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "/", "//", "a/../b", "..", "./x", "a/."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct st_cgroup *cg = NULL;
        st_error err = {0};
        assert_int_equal(st_cgroup_open(bad[i], &cg, &err), -EINVAL);
        assert_null(cg);
        assert_true(strlen(err.msg) > 0);
        st_error_clear(&err);
        assert_int_equal(st_cgroup_create(bad[i], NULL, &cg, &err), -EINVAL);
        assert_null(cg);
    }
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    assert_int_equal(st_cgroup_open(NULL, &cg, &err), -EINVAL);
}

static void test_bad_resources_refused_before_any_cgroup(void **state)
{
    (void)state;
    struct st_resources r;
    st_resources_init(&r);
    r.cpu_shares = 1;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    assert_int_equal(st_cgroup_create("strata-test-never", &r, &cg, &err), -EINVAL);
    assert_null(cg);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.shares"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resources_init_unset),
        cmocka_unit_test(test_resources_check_names_field),
        cmocka_unit_test(test_shares_to_weight),
        cmocka_unit_test(test_cpu_max),
        cmocka_unit_test(test_swap_max),
        cmocka_unit_test(test_bad_paths_refused_before_any_cgroup),
        cmocka_unit_test(test_bad_resources_refused_before_any_cgroup),
    };
    return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
