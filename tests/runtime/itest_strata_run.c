/* itest_strata_run.c: the strata-run CLI on real containers: verbs, exit
 * codes, state JSON, and bad inputs that must fail with one clear line and
 * leave nothing behind. Bundles come from `strata-run spec`, edited with
 * jansson, on the busybox fixture rootfs (read-only, never changed). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

struct fx {
    char *bundle, *root, *bin;
    char id[64];
};

static int setup(void **state)
{
    static int seq;
    struct fx *f = calloc(1, sizeof(*f));
    f->bundle = st_test_mkdtemp("strata-itr-bundle");
    f->root = st_test_mkdtemp("strata-itr-root");
    f->bin = st_test_bin("strata-run");
    snprintf(f->id, sizeof(f->id), "r%d-%d", ++seq, (int)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char *argv[] = {f->bin, "--root", f->root, "delete", "--force", f->id, NULL};
    st_test_run(argv, NULL, NULL, NULL);
    st_test_rmrf(f->bundle);
    st_test_rmrf(f->root);
    free(f->bundle);
    free(f->root);
    free(f->bin);
    free(f);
    return 0;
}

/* strata-run --root ROOT ARGS...; returns the exit code. */
static int srun(struct fx *f, char **out, char **err, const char *const *args)
{
    char *argv[32] = {f->bin, "--root", f->root};
    size_t n = 3;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    return st_test_run(argv, NULL, out, err);
}
#define SRUN(f, out, err, ...) srun(f, out, err, (const char *const[]){__VA_ARGS__, NULL})

/* For verbs that leave a container behind (create, run --detach): its
 * process inherits stdio, so pipes would only close when it exits. */
static int srun_quiet(struct fx *f, char **err, const char *const *args)
{
    char cmd[2048];
    size_t n = (size_t)snprintf(cmd, sizeof(cmd), "exec %s --root %s", f->bin, f->root);
    for (; *args; args++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *args);
    snprintf(cmd + n, sizeof(cmd) - n, " </dev/null >/dev/null 2>%s/.stderr", f->root);
    int rc = st_test_sh(NULL, NULL, "%s", cmd);
    char path[600];
    snprintf(path, sizeof(path), "%s/.stderr", f->root);
    if (err)
        *err = st_test_read_file(path);
    unlink(path);
    return rc;
}
#define SRUN_Q(f, err, ...) srun_quiet(f, err, (const char *const[]){__VA_ARGS__, NULL})

static char *config_path(struct fx *f)
{
    char *p = NULL;
    if (asprintf(&p, "%s/config.json", f->bundle) < 0)
        fail_msg("oom");
    return p;
}

/* `strata-run spec` in the bundle, then root.path -> the fixture and args. */
static json_t *make_spec(struct fx *f, const char *script)
{
    char *err = NULL;
    int rc = SRUN(f, NULL, &err, "spec", "--bundle", f->bundle);
    if (rc != 0)
        fail_msg("spec: %s", err);
    free(err);
    char *path = config_path(f);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    free(path);
    if (spec == NULL)
        fail_msg("spec wrote bad JSON: %s", jerr.text);
    json_object_set_new(json_object_get(spec, "root"), "path",
                        json_string(st_test_env("STRATA_TEST_ROOTFS")));
    json_object_set_new(json_object_get(spec, "process"), "args",
                        json_pack("[s,s,s]", "sh", "-c", script));
    return spec;
}

static void save_spec(struct fx *f, json_t *spec)
{
    char *path = config_path(f);
    assert_int_equal(json_dump_file(spec, path, JSON_INDENT(1)), 0);
    free(path);
    json_decref(spec);
}

static bool cgroup_exists(const char *id)
{
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/*/strata-%s", id);
    glob_t g;
    bool found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/strata-%s", id);
    return found || access(pattern, F_OK) == 0;
}

static void assert_nothing_left(struct fx *f)
{
    char *out = NULL;
    st_test_sh(&out, NULL, "ls -A %s", f->root);
    assert_string_equal(out, "");
    free(out);
    assert_false(cgroup_exists(f->id));
    char *mounts = st_test_read_file("/proc/self/mounts");
    assert_null(strstr(mounts, st_test_env("STRATA_TEST_ROOTFS")));
    free(mounts);
}

/* One line on stderr, starting "strata-run: ", containing what. */
static void assert_one_line(const char *err, const char *what)
{
    if (strncmp(err, "strata-run: ", 12) != 0 || strchr(err, '\n') != err + strlen(err) - 1 ||
        strstr(err, what) == NULL)
        fail_msg("expected one line naming \"%s\", got \"%s\"", what, err);
}

static json_t *state_json(struct fx *f)
{
    char *out = NULL, *err = NULL;
    int rc = SRUN(f, &out, &err, "state", f->id);
    if (rc != 0)
        fail_msg("state: %s", err);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (j == NULL)
        fail_msg("state printed bad JSON \"%s\"", out);
    free(out);
    free(err);
    return j;
}

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

/* ---- tests ---- */

static void test_spec_refuses_overwrite(void **state)
{
    struct fx *f = *state;
    json_decref(make_spec(f, "true"));
    char *err = NULL;
    assert_int_equal(SRUN(f, NULL, &err, "spec", "--bundle", f->bundle), 1);
    assert_one_line(err, "already exists");
    free(err);
    /* The default spec is what runc's would be, minus terminal and seccomp. */
    char *path = config_path(f);
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
    struct fx *f = *state;
    save_spec(f, make_spec(f, "echo hello from $$; exit 3"));
    char *out = NULL, *err = NULL;
    assert_int_equal(SRUN(f, &out, &err, "run", "--bundle", f->bundle, f->id), 3);
    assert_string_equal(out, "hello from 1\n");
    free(out);
    free(err);
    assert_nothing_left(f);
}

static void test_run_oom(void **state)
{
    struct fx *f = *state;
    json_t *spec = make_spec(f, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64");
    json_object_set_new(json_object_get(spec, "linux"), "resources",
                        json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)(16 << 20)));
    save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(SRUN(f, NULL, &err, "run", "--bundle", f->bundle, f->id), 137);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "strata-run: container %s was OOMKilled (memory limit %d bytes)", f->id, 16 << 20);
    if (strstr(err, expect) == NULL)
        fail_msg("no OOM line in \"%s\"", err);
    free(err);
    assert_nothing_left(f);
}

static bool is_stopped(void *arg)
{
    json_t *j = state_json(arg);
    bool stopped = strcmp(status_of(j), "stopped") == 0;
    json_decref(j);
    return stopped;
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    json_t *spec = make_spec(f, "sleep 100");
    json_object_set_new(spec, "hostname", json_string("cli-host"));
    json_object_set_new(spec, "annotations", json_pack("{s:s}", "team", "strata"));
    save_spec(f, spec);
    char *out = NULL, *err = NULL;
    assert_int_equal(SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 0);
    free(err);
    assert_true(cgroup_exists(f->id));

    json_t *j = state_json(f);
    assert_string_equal(status_of(j), "created");
    assert_string_equal(json_string_value(json_object_get(j, "id")), f->id);
    assert_string_equal(json_string_value(json_object_get(j, "bundle")), f->bundle);
    assert_string_equal(json_string_value(json_object_get(j, "ociVersion")), "1.0.2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "annotations"), "team")), "strata");
    int pid = (int)json_integer_value(json_object_get(j, "pid"));
    assert_true(pid > 1);
    json_decref(j);

    assert_int_equal(SRUN(f, &out, NULL, "list"), 0);
    assert_non_null(strstr(out, f->id));
    assert_non_null(strstr(out, "created"));
    free(out);

    assert_int_equal(SRUN(f, NULL, NULL, "start", f->id), 0);
    j = state_json(f);
    assert_string_equal(status_of(j), "running");
    json_decref(j);
    /* start twice is an error */
    assert_int_equal(SRUN(f, NULL, &err, "start", f->id), 1);
    assert_one_line(err, "not created");
    free(err);

    assert_int_equal(SRUN(f, &out, NULL, "exec", "-e", "FOO=bar", f->id, "--", "sh", "-c",
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
    assert_int_equal(SRUN(f, NULL, NULL, "exec", f->id, "sh", "-c", "exit 4"), 4);

    assert_int_equal(SRUN(f, NULL, &err, "delete", f->id), 1);
    assert_one_line(err, "is running");
    free(err);
    assert_int_equal(SRUN(f, NULL, &err, "kill", f->id, "NOSUCHSIG"), 1);
    assert_one_line(err, "NOSUCHSIG");
    free(err);
    assert_int_equal(SRUN(f, NULL, NULL, "kill", f->id, "SIGKILL"), 0);
    assert_true(st_test_wait_until(is_stopped, f, 5000, 10));
    assert_int_equal(SRUN(f, NULL, NULL, "delete", f->id), 0);
    assert_nothing_left(f);
    assert_int_equal(SRUN(f, NULL, &err, "state", f->id), 1);
    assert_one_line(err, "does not exist");
    free(err);
}

static void test_delete_force_and_kill_names(void **state)
{
    struct fx *f = *state;
    save_spec(f, make_spec(f, "trap 'exit 9' TERM; while :; do sleep 1; done"));
    assert_int_equal(SRUN_Q(f, NULL, "run", "--detach", "--bundle", f->bundle, f->id), 0);
    json_t *j = state_json(f);
    assert_string_equal(status_of(j), "running");
    json_decref(j);
    /* A number is accepted as well as names. */
    assert_int_equal(SRUN(f, NULL, NULL, "kill", f->id, "15"), 0);
    assert_true(st_test_wait_until(is_stopped, f, 5000, 10));
    assert_int_equal(SRUN(f, NULL, NULL, "delete", f->id), 0);
    assert_nothing_left(f);

    assert_int_equal(SRUN_Q(f, NULL, "run", "-d", "--bundle", f->bundle, f->id), 0);
    assert_int_equal(SRUN(f, NULL, NULL, "delete", "--force", f->id), 0);
    assert_nothing_left(f);
}

static void expect_bad(struct fx *f, const char *what, const char *const *args)
{
    char *err = NULL;
    int rc = srun(f, NULL, &err, args);
    if (rc != 1)
        fail_msg("expected exit 1 for %s, got %d: %s", what, rc, err);
    assert_one_line(err, what);
    free(err);
    assert_nothing_left(f);
}

static void test_bad_inputs(void **state)
{
    struct fx *f = *state;
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope", f->bundle);
    expect_bad(f, "bundle", (const char *[]){"run", "--bundle", missing, f->id, NULL});

    char *path = config_path(f);
    st_test_write_file(path, "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [1,}\n");
    expect_bad(f, "config.json:3:", (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    json_t *spec = make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "process"), "args", json_string("sh"));
    save_spec(f, spec);
    expect_bad(f, "process.args: expected an array of strings",
               (const char *[]){"create", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    spec = make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "root"), "path", json_string("no-rootfs-here"));
    save_spec(f, spec);
    expect_bad(f, "root.path", (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);

    spec = make_spec(f, "true");
    json_object_set_new(
        json_object_get(spec, "linux"), "resources",
        json_pack("{s:{s:I, s:I}}", "cpu", "quota", (json_int_t)100, "period", (json_int_t)100000));
    save_spec(f, spec);
    expect_bad(f, "linux.resources.cpu",
               (const char *[]){"run", "--bundle", f->bundle, f->id, NULL});
    unlink(path);
    free(path);

    expect_bad(f, "does not exist", (const char *[]){"start", "unknown-id", NULL});
    expect_bad(f, "does not exist", (const char *[]){"kill", "unknown-id", "KILL", NULL});
    expect_bad(f, "container id", (const char *[]){"create", "--bundle", f->bundle, "../x", NULL});
    expect_bad(f, "unknown command", (const char *[]){"frobnicate", NULL});

    /* An id in use: the second create fails, the first container is intact. */
    save_spec(f, make_spec(f, "sleep 100"));
    assert_int_equal(SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    char *err = NULL;
    assert_int_equal(SRUN(f, NULL, &err, "create", "--bundle", f->bundle, f->id), 1);
    assert_one_line(err, "already in use");
    free(err);
    json_t *j = state_json(f);
    assert_string_equal(status_of(j), "created");
    json_decref(j);
    assert_int_equal(SRUN(f, NULL, NULL, "delete", f->id), 0);
    assert_nothing_left(f);
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
