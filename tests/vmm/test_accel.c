/* test_accel.c: the accelerator choice over fake /dev and /sys trees, so the
 * rules (missing, unusable, kvm-pvm, forced) are checked without a VM. */
#include "testutil.h"

#include "strata/accel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct fake_root {
    char *dir;
} fake_root;

static int setup(void **state)
{
    fake_root *r = calloc(1, sizeof(*r));
    r->dir = st_test_mkdtemp("strata-accel");
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    fake_root *r = *state;
    st_test_rmrf(r->dir);
    free(r->dir);
    free(r);
    return 0;
}

static void add(fake_root *r, const char *rel, int is_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/dev", r->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/sys", r->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/sys/module", r->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s", r->dir, rel);
    if (is_dir)
        assert_int_equal(mkdir(path, 0755), 0);
    else
        st_test_write_file(path, "");
}

static void test_auto_without_kvm_is_tcg(void **state)
{
    fake_root *r = *state;
    st_accel_choice c;
    st_error err = {0};
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_AUTO, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_TCG);
    assert_non_null(strstr(c.reason, "/dev/kvm"));
}

static void test_auto_with_kvm_is_kvm(void **state)
{
    fake_root *r = *state;
    add(r, "dev/kvm", 0);
    st_accel_choice c;
    st_error err = {0};
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_AUTO, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_KVM);
    assert_string_equal(st_accel_name(c.accel), "kvm");
}

static void test_auto_with_kvm_pvm_is_tcg(void **state)
{
    fake_root *r = *state;
    add(r, "dev/kvm", 0);
    add(r, "sys/module/kvm_pvm", 1);
    st_accel_choice c;
    st_error err = {0};
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_AUTO, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_TCG);
    assert_string_equal(c.reason, "tcg: /dev/kvm is kvm-pvm (/sys/module/kvm_pvm), which cannot "
                                  "boot an ordinary guest kernel");
}

static void test_auto_with_unusable_kvm_is_tcg(void **state)
{
    fake_root *r = *state;
    add(r, "dev/kvm", 1); /* a directory cannot be opened read-write */
    st_accel_choice c;
    st_error err = {0};
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_AUTO, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_TCG);
    assert_non_null(strstr(c.reason, "cannot be opened"));
}

static void test_forced_kvm_without_dev_fails(void **state)
{
    fake_root *r = *state;
    st_accel_choice c;
    st_error err = {0};
    assert_true(st_accel_choose(r->dir, ST_ACCEL_KVM, &c, &err) < 0);
    assert_non_null(strstr(err.msg, "accel kvm"));
    assert_non_null(strstr(err.msg, "/dev/kvm"));
}

static void test_forced_tcg_and_kvm(void **state)
{
    fake_root *r = *state;
    add(r, "dev/kvm", 0);
    add(r, "sys/module/kvm_pvm", 1);
    st_accel_choice c;
    st_error err = {0};
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_TCG, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_TCG);
    assert_int_equal(st_accel_choose(r->dir, ST_ACCEL_KVM, &c, &err), 0);
    assert_int_equal(c.accel, ST_ACCEL_KVM);
    assert_non_null(strstr(c.reason, "kvm-pvm"));
}

static void test_parse(void **state)
{
    (void)state;
    st_accel a;
    st_error err = {0};
    assert_int_equal(st_accel_parse("tcg", &a, &err), 0);
    assert_int_equal(a, ST_ACCEL_TCG);
    assert_int_equal(st_accel_parse(NULL, &a, &err), 0);
    assert_int_equal(a, ST_ACCEL_AUTO);
    assert_true(st_accel_parse("hvf", &a, &err) < 0);
    assert_non_null(strstr(err.msg, "hvf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auto_without_kvm_is_tcg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_with_kvm_is_kvm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_with_kvm_pvm_is_tcg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_with_unusable_kvm_is_tcg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forced_kvm_without_dev_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forced_tcg_and_kvm, setup, teardown),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
