/* itest_strata_run.c: the strata-run CLI on real containers: verbs, exit
 * codes, state JSON, and bad inputs that must fail with one clear line and
 * leave nothing behind. Bundles come from `strata-run spec`, edited with
 * jansson, on the busybox fixture rootfs (read-only, never changed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "srun_fx.h"
#include "testutil.h"

static int setup(void **state)
{
    struct st_srunfx *f = calloc(1, sizeof(*f));
    st_srunfx_init(f, "itr", "r");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    st_srunfx_fini(*state);
    free(*state);
    return 0;
}

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

/* ---- tests ---- */

static void test_spec_refuses_overwrite(void **state)
{
    struct st_srunfx *f = *state;
    json_decref(st_srunfx_make_spec(f, "true"));
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "spec", "--bundle", f->bundle), 1);
    st_srunfx_assert_one_line(err, "already exists");
    free(err);
    /* The default spec is what runc's would be, minus terminal and seccomp. */
    char *path = st_srunfx_config_path(f);
    json_t *j = json_load_file(path, 0, NULL);
    free(path);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(json_object_get(j, "process"), "terminal")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "root"), "path")),
                        "rootfs");
    assert_null(json_object_get(json_object_get(j, "linux"), "seccomp"));
    json_decref(j);
}

static void test_run_exit_status(void **state)
{
    struct st_srunfx *f = *state;
    st_srunfx_save_spec(f, st_srunfx_make_spec(f, "echo hello from $$; exit 3"));
    char *out = NULL, *err = NULL;
    assert_int_equal(ST_SRUN(f, &out, &err, "run", "--bundle", f->bundle, f->id), 3);
    assert_string_equal(out, "hello from 1\n");
    free(out);
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
}

static void test_run_oom(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = st_srunfx_make_spec(f, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64");
    json_object_set_new(json_object_get(spec, "linux"), "resources",
                        json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)(16 << 20)));
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "run", "--bundle", f->bundle, f->id), 137);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "strata-run: container %s was OOMKilled (memory limit %d bytes)", f->id, 16 << 20);
    if (strstr(err, expect) == NULL)
        fail_msg("no OOM line in \"%s\"", err);
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
}

static void test_lifecycle(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = st_srunfx_make_spec(f, "sleep 100");
    json_object_set_new(spec, "hostname", json_string("cli-host"));
    json_object_set_new(spec, "annotations", json_pack("{s:s}", "team", "strata"));
    st_srunfx_save_spec(f, spec);
    char *out = NULL, *err = NULL;
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 0);
    free(err);
    assert_true(st_srunfx_cgroup_exists(f->id));

    json_t *j = st_srunfx_state(f);
    assert_string_equal(status_of(j), "created");
    assert_string_equal(json_string_value(json_object_get(j, "id")), f->id);
    assert_string_equal(json_string_value(json_object_get(j, "bundle")), f->bundle);
    assert_string_equal(json_string_value(json_object_get(j, "ociVersion")), "1.0.2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "annotations"), "team")), "strata");
    int pid = (int)json_integer_value(json_object_get(j, "pid"));
    assert_true(pid > 1);
    json_decref(j);

    assert_int_equal(ST_SRUN(f, &out, NULL, "list"), 0);
    assert_non_null(strstr(out, f->id));
    assert_non_null(strstr(out, "created"));
    free(out);

    assert_int_equal(ST_SRUN(f, NULL, NULL, "start", f->id), 0);
    j = st_srunfx_state(f);
    assert_string_equal(status_of(j), "running");
    json_decref(j);
    /* start twice is an error */
    assert_int_equal(ST_SRUN(f, NULL, &err, "start", f->id), 1);
    st_srunfx_assert_one_line(err, "not created");
    free(err);

    assert_int_equal(ST_SRUN(f, &out, NULL, "exec", "-e", "FOO=bar", f->id, "--", "sh", "-c",
                             "echo $(hostname) $FOO $$"),
                     0);
    char host[64], foo[64];
    int inner = 0;
    if (sscanf(out, "%63s %63s %d", host, foo, &inner) != 3)
        fail_msg("exec output \"%s\"", out);
    free(out);
    assert_string_equal(host, "cli-host");
    assert_string_equal(foo, "bar");
    assert_true(inner > 1 && inner < 10);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "exec", f->id, "sh", "-c", "exit 4"), 4);

    assert_int_equal(ST_SRUN(f, NULL, &err, "delete", f->id), 1);
    st_srunfx_assert_one_line(err, "is running");
    free(err);
    assert_int_equal(ST_SRUN(f, NULL, &err, "kill", f->id, "NOSUCHSIG"), 1);
    st_srunfx_assert_one_line(err, "NOSUCHSIG");
    free(err);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "kill", f->id, "SIGKILL"), 0);
    assert_true(st_test_wait_until(st_srunfx_is_stopped, f, 5000, 10));
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", f->id), 0);
    st_srunfx_assert_nothing_left(f, 0);
    assert_int_equal(ST_SRUN(f, NULL, &err, "state", f->id), 1);
    st_srunfx_assert_one_line(err, "does not exist");
    free(err);
}

static void test_delete_force_and_kill_names(void **state)
{
    struct st_srunfx *f = *state;
    st_srunfx_save_spec(f, st_srunfx_make_spec(f, "trap 'exit 9' TERM; while :; do sleep 1; done"));
    assert_int_equal(ST_SRUN_Q(f, NULL, "run", "--detach", "--bundle", f->bundle, f->id), 0);
    json_t *j = st_srunfx_state(f);
    assert_string_equal(status_of(j), "running");
    json_decref(j);
    /* A number is accepted as well as names. */
    assert_int_equal(ST_SRUN(f, NULL, NULL, "kill", f->id, "15"), 0);
    assert_true(st_test_wait_until(st_srunfx_is_stopped, f, 5000, 10));
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", f->id), 0);
    st_srunfx_assert_nothing_left(f, 0);

    assert_int_equal(ST_SRUN_Q(f, NULL, "run", "-d", "--bundle", f->bundle, f->id), 0);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", "--force", f->id), 0);
    st_srunfx_assert_nothing_left(f, 0);
}

static void expect_bad(struct st_srunfx *f, const char *what, const char *const *args)
{
    char *err = NULL;
    int rc = st_srun(f, NULL, &err, args);
    if (rc != 1)
        fail_msg("expected exit 1 for %s, got %d: %s", what, rc, err);
    st_srunfx_assert_one_line(err, what);
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
}

static void test_bad_inputs(void **state)
{
    struct st_srunfx *f = *state;
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope", f->bundle);
    expect_bad(f, "bundle", (const char *[]){"run", "--bundle", missing, f->id, NULL});

    char *path = st_srunfx_config_path(f);
    st_test_write_file(path, "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [1,}\n");
    expect_bad(f, "config.json:3:", (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    json_t *spec = st_srunfx_make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "process"), "args", json_string("sh"));
    st_srunfx_save_spec(f, spec);
    expect_bad(f, "process.args: expected an array of strings",
               (const char *[]){"create", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    spec = st_srunfx_make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "root"), "path", json_string("no-rootfs-here"));
    st_srunfx_save_spec(f, spec);
    expect_bad(f, "root.path", (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    spec = st_srunfx_make_spec(f, "true");
    json_object_set_new(
        json_object_get(spec, "linux"), "resources",
        json_pack("{s:{s:I, s:I}}", "cpu", "quota", (json_int_t)100, "period", (json_int_t)100000));
    st_srunfx_save_spec(f, spec);
    expect_bad(f, "linux.resources.cpu",
               (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);
    free(path);

    expect_bad(f, "does not exist", (const char *[]){"start", "unknown-id", NULL});
    expect_bad(f, "does not exist", (const char *[]){"kill", "unknown-id", "KILL", NULL});
    expect_bad(f, "container id", (const char *[]){"create", "--bundle", f->bundle, "../x", NULL});
    expect_bad(f, "unknown command", (const char *[]){"frobnicate", NULL});

    /* An id in use: the second create fails, the first container is intact. */
    st_srunfx_save_spec(f, st_srunfx_make_spec(f, "sleep 100"));
    assert_int_equal(ST_SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "create", "--bundle", f->bundle, f->id), 1);
    st_srunfx_assert_one_line(err, "already in use");
    free(err);
    json_t *j = st_srunfx_state(f);
    assert_string_equal(status_of(j), "created");
    json_decref(j);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", f->id), 0);
    st_srunfx_assert_nothing_left(f, 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_strata_run: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_refuses_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_exit_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_force_and_kill_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
