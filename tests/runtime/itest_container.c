/* itest_container.c: real containers through the library API (the way
 * strata-node uses it): configs built in memory on the busybox rootfs
 * (read-only, so the fixture is never changed), stdio captured with pipes.
 * Every test removes its container, cgroup and state even when it fails. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/container.h"
#include "strata/exec.h"
#include "strata/state.h"
#include "srun_fx.h" /* st_srunfx_cgroup_exists: the runtime names the cgroups alike */
#include "testutil.h"

struct fx {
    char *root; /* state root */
    char id[64];
    struct st_container *c;
};

static int setup(void **state)
{
    static int seq;
    struct fx *f = calloc(1, sizeof(*f));
    f->root = st_test_mkdtemp("strata-itc-root");
    snprintf(f->id, sizeof(f->id), "t%d-%d", ++seq, (int)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    if (f->c) {
        st_container_delete(f->c, true, &err);
        st_container_free(f->c);
    } else {
        struct st_container *c = NULL;
        if (st_container_load(f->root, f->id, &c, &err) == 0) {
            st_container_delete(c, true, &err);
            st_container_free(c);
        }
    }
    st_test_rmrf(f->root);
    free(f->root);
    free(f);
    return 0;
}

/* The default spec on the fixture rootfs, running args (NULL-terminated). */
static json_t *spec_for(const char *const *args)
{
    json_t *spec = st_oci_config_default_json();
    json_object_set_new(json_object_get(spec, "root"), "path",
                        json_string(st_test_env("STRATA_TEST_ROOTFS")));
    json_t *a = json_array();
    for (; *args; args++)
        json_array_append_new(a, json_string(*args));
    json_object_set_new(json_object_get(spec, "process"), "args", a);
    return spec;
}

static json_t *sh_spec(const char *script)
{
    return spec_for((const char *[]){"sh", "-c", script, NULL});
}

static void add_caps(json_t *spec, const char *cap)
{
    json_t *caps = json_object_get(json_object_get(spec, "process"), "capabilities");
    const char *sets[] = {"bounding", "effective", "permitted"};
    for (size_t i = 0; i < 3; i++)
        json_array_append_new(json_object_get(caps, sets[i]), json_string(cap));
}

static json_t *resources(json_t *spec)
{
    json_t *linux = json_object_get(spec, "linux");
    if (json_object_get(linux, "resources") == NULL)
        json_object_set_new(linux, "resources", json_object());
    return json_object_get(linux, "resources");
}

static char *drain_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

struct outcome {
    struct st_container_result res;
    char *out, *err;
};

/* Creates (config in memory), starts and waits; stdout/stderr captured. */
static void run_spec(struct fx *f, json_t *spec, struct outcome *o)
{
    struct st_oci_config *cfg = NULL;
    st_error err = {0};
    int r = st_oci_config_from_json(spec, "test-config", NULL, &cfg, &err);
    json_decref(spec);
    if (r < 0)
        fail_msg("config: %s", err.msg);
    int po[2], pe[2];
    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    struct st_container_opts opts;
    st_container_opts_init(&opts);
    opts.id = f->id;
    opts.config = cfg;
    opts.state_root = f->root;
    opts.stdin_fd = -1;
    opts.stdout_fd = po[1];
    opts.stderr_fd = pe[1];
    r = st_container_create(&opts, &f->c, &err);
    close(po[1]);
    close(pe[1]);
    if (r == 0)
        r = st_container_start(f->c, &err);
    if (r == 0)
        r = st_container_wait(f->c, &o->res, &err);
    o->out = drain_fd(po[0]);
    o->err = drain_fd(pe[0]);
    st_oci_config_free(cfg);
    if (r < 0)
        fail_msg("container: %s", err.msg);
}

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
}

/* ---- tests ---- */

static void test_exit_codes(void **state)
{
    struct fx *f = *state;
    struct outcome o;
    run_spec(f, sh_spec("exit 3"), &o);
    assert_int_equal(o.res.exit_status, 3);
    assert_string_equal(o.res.reason, "Error");
    outcome_free(&o);
    st_error err = {0};
    assert_int_equal(st_container_delete(f->c, false, &err), 0);
    st_container_free(f->c);
    f->c = NULL;
    assert_false(st_srunfx_cgroup_exists(f->id));

    /* pid 1 of a pid namespace ignores signals sent from inside it, so a
     * child kills itself and the shell passes 128+9 on. */
    run_spec(f, sh_spec("sh -c 'kill -9 $$'; exit $?"), &o);
    assert_int_equal(o.res.exit_status, 137);
    assert_int_equal(o.res.signal, 0);
    assert_false(o.res.oom_killed);
    assert_string_equal(o.res.reason, "Error");
    outcome_free(&o);
    assert_int_equal(st_container_delete(f->c, false, &err), 0);
    st_container_free(f->c);
    f->c = NULL;

    run_spec(f, spec_for((const char *[]){"true", NULL}), &o);
    assert_int_equal(o.res.exit_status, 0);
    assert_string_equal(o.res.reason, "Completed");
    outcome_free(&o);
}

static void test_pid1_hostname_proc(void **state)
{
    struct fx *f = *state;
    json_t *spec = sh_spec("echo $$ $(hostname); ls /proc | grep '^[0-9]' | sort -n | tail -n 1");
    json_object_set_new(spec, "hostname", json_string("itest-host"));
    struct outcome o;
    run_spec(f, spec, &o);
    assert_int_equal(o.res.exit_status, 0);
    int pid = 0, maxpid = 0;
    char host[64] = "";
    if (sscanf(o.out, "%d %63s %d", &pid, host, &maxpid) != 3)
        fail_msg("unexpected output \"%s\" (stderr \"%s\")", o.out, o.err);
    assert_int_equal(pid, 1);
    assert_string_equal(host, "itest-host");
    /* Only the container's own few processes are visible. */
    assert_true(maxpid >= 1 && maxpid < 10);
    outcome_free(&o);
}

static void test_memory_limit_oom(void **state)
{
    struct fx *f = *state;
    json_t *spec = spec_for(
        (const char *[]){"dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=64", NULL});
    json_object_set_new(resources(spec), "memory", json_pack("{s:I}", "limit", 16 << 20));
    struct outcome o;
    run_spec(f, spec, &o);
    assert_true(o.res.oom_killed);
    assert_string_equal(o.res.reason, "OOMKilled");
    assert_int_equal(o.res.exit_status, 137);
    assert_int_equal(st_container_memory_limit(f->c), 16 << 20);
    outcome_free(&o);
}

static void test_pids_limit(void **state)
{
    struct fx *f = *state;
    json_t *spec = sh_spec("for i in $(seq 1 20); do sleep 30 & done; echo spawned");
    json_object_set_new(resources(spec), "pids", json_pack("{s:i}", "limit", 10));
    struct outcome o;
    run_spec(f, spec, &o);
    if (strstr(o.err, "can't fork") == NULL)
        fail_msg("no fork failure under pids.limit 10: stderr \"%s\"", o.err);
    outcome_free(&o);
}

static json_t *load_default_seccomp(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/configs/seccomp/default.json",
             st_test_env("STRATA_SOURCE_DIR"));
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        fail_msg("%s: %s", path, jerr.text);
    return j;
}

static void test_seccomp_default_denies_mount(void **state)
{
    struct fx *f = *state;
    struct outcome o;
    /* Control: with CAP_SYS_ADMIN and no filter the mount works... */
    json_t *spec = sh_spec("mount -t tmpfs none /tmp");
    add_caps(spec, "CAP_SYS_ADMIN");
    run_spec(f, spec, &o);
    if (o.res.exit_status != 0)
        fail_msg("control mount failed: %s", o.err);
    outcome_free(&o);
    st_error err = {0};
    assert_int_equal(st_container_delete(f->c, false, &err), 0);
    st_container_free(f->c);
    f->c = NULL;
    /* ...and the default profile denies it with EPERM. */
    spec = sh_spec("mount -t tmpfs none /tmp");
    add_caps(spec, "CAP_SYS_ADMIN");
    json_object_set_new(json_object_get(spec, "linux"), "seccomp", load_default_seccomp());
    run_spec(f, spec, &o);
    assert_int_not_equal(o.res.exit_status, 0);
    /* busybox mount words EPERM as "permission denied (are you root?)". */
    if (strcasestr(o.err, "permission denied") == NULL &&
        strstr(o.err, "Operation not permitted") == NULL)
        fail_msg("expected EPERM, stderr \"%s\"", o.err);
    outcome_free(&o);
}

static void test_seccomp_custom_rule(void **state)
{
    struct fx *f = *state;
    json_t *spec = sh_spec("mkdir /dev/shm/d");
    json_object_set_new(json_object_get(spec, "linux"), "seccomp",
                        json_pack("{s:s, s:[{s:[s,s], s:s, s:i}]}", "defaultAction",
                                  "SCMP_ACT_ALLOW", "syscalls", "names", "mkdir", "mkdirat",
                                  "action", "SCMP_ACT_ERRNO", "errnoRet", EACCES));
    struct outcome o;
    run_spec(f, spec, &o);
    assert_int_not_equal(o.res.exit_status, 0);
    if (strstr(o.err, "Permission denied") == NULL)
        fail_msg("expected EACCES, stderr \"%s\"", o.err);
    outcome_free(&o);
}

static void test_caps_dropped(void **state)
{
    struct fx *f = *state;
    struct outcome o;
    run_spec(f, sh_spec("hostname x"), &o);
    assert_int_not_equal(o.res.exit_status, 0);
    outcome_free(&o);
    st_error err = {0};
    assert_int_equal(st_container_delete(f->c, false, &err), 0);
    st_container_free(f->c);
    f->c = NULL;
    json_t *spec = sh_spec("hostname x && hostname");
    add_caps(spec, "CAP_SYS_ADMIN");
    run_spec(f, spec, &o);
    assert_int_equal(o.res.exit_status, 0);
    assert_string_equal(o.out, "x\n");
    outcome_free(&o);
}

static void test_user_namespace(void **state)
{
    struct fx *f = *state;
    json_t *spec = sh_spec("id -u; cat /proc/self/uid_map");
    json_t *linux = json_object_get(spec, "linux");
    json_array_append_new(json_object_get(linux, "namespaces"), json_pack("{s:s}", "type", "user"));
    json_object_set_new(
        linux, "uidMappings",
        json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
    json_object_set_new(
        linux, "gidMappings",
        json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
    struct outcome o;
    run_spec(f, spec, &o);
    if (o.res.exit_status != 0)
        fail_msg("user namespace container failed: %s", o.err);
    unsigned uid = 1, inside = 1, outside = 0, size = 0;
    if (sscanf(o.out, "%u %u %u %u", &uid, &inside, &outside, &size) != 4)
        fail_msg("output \"%s\"", o.out);
    assert_int_equal(uid, 0);
    assert_int_equal(inside, 0);
    assert_int_equal(outside, 100000);
    assert_int_equal(size, 65536);
    outcome_free(&o);
}

static bool is_running(void *arg)
{
    enum st_container_status s;
    st_error err = {0};
    return st_container_state(arg, &s, NULL, &err) == 0 && s == ST_CONTAINER_RUNNING;
}

static void test_lifecycle_and_exec(void **state)
{
    struct fx *f = *state;
    json_t *spec = spec_for((const char *[]){"sleep", "100", NULL});
    json_object_set_new(spec, "hostname", json_string("exec-host"));
    struct st_oci_config *cfg = NULL;
    st_error err = {0};
    assert_int_equal(st_oci_config_from_json(spec, "test", NULL, &cfg, &err), 0);
    json_decref(spec);
    struct st_container_opts opts;
    st_container_opts_init(&opts);
    opts.id = f->id;
    opts.config = cfg;
    opts.state_root = f->root;
    opts.stdin_fd = opts.stdout_fd = opts.stderr_fd = -1;
    int r = st_container_create(&opts, &f->c, &err);
    st_oci_config_free(cfg);
    if (r < 0)
        fail_msg("create: %s", err.msg);
    assert_true(st_srunfx_cgroup_exists(f->id));

    /* Another process's view, as strata-run state would have it. */
    struct st_container *other = NULL;
    if (st_container_load(f->root, f->id, &other, &err) < 0)
        fail_msg("load: %s", err.msg);
    enum st_container_status s;
    json_t *js = NULL;
    assert_int_equal(st_container_state(other, &s, &js, &err), 0);
    assert_int_equal(s, ST_CONTAINER_CREATED);
    assert_string_equal(json_string_value(json_object_get(js, "status")), "created");
    assert_string_equal(json_string_value(json_object_get(js, "id")), f->id);
    assert_int_equal(json_integer_value(json_object_get(js, "pid")), st_container_pid(f->c));
    json_decref(js);

    assert_int_equal(st_container_start(other, &err), 0);
    assert_true(st_test_wait_until(is_running, other, 5000, 10));
    /* A running container is not deleted without force. */
    assert_int_equal(st_container_delete(other, false, &err), -EBUSY);
    st_container_free(other);

    int po[2];
    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    char *argv[] = {"sh", "-c", "hostname; echo $$; cat /proc/1/cmdline", NULL};
    struct st_exec_opts eo = {.target = st_container_pid(f->c),
                              .cgroup = st_container_cgroup_path(f->c),
                              .argv = argv,
                              .stdin_fd = -1,
                              .stdout_fd = po[1],
                              .stderr_fd = -1,
                              .timeout_ms = 10000};
    int status = -1;
    st_error_clear(&err);
    r = st_exec(&eo, &status, &err);
    close(po[1]);
    char *out = drain_fd(po[0]);
    if (r < 0)
        fail_msg("exec: %s", err.msg);
    assert_int_equal(status, 0);
    char host[64] = "", cmd[64] = "";
    int pid = 0;
    if (sscanf(out, "%63s %d %63s", host, &pid, cmd) != 3)
        fail_msg("exec output \"%s\"", out);
    free(out);
    assert_string_equal(host, "exec-host");
    assert_true(pid > 1 && pid < 10); /* inside the container's pid namespace */
    assert_string_equal(cmd, "sleep");

    char *fail_argv[] = {"sh", "-c", "exit 5", NULL};
    eo.argv = fail_argv;
    eo.stdout_fd = -1;
    assert_int_equal(st_exec(&eo, &status, &err), 0);
    assert_int_equal(status, 5);

    assert_int_equal(st_container_kill(f->c, SIGKILL, &err), 0);
    struct st_container_result res;
    assert_int_equal(st_container_wait(f->c, &res, &err), 0);
    assert_int_equal(res.exit_status, 137);
    assert_int_equal(res.signal, SIGKILL);
    assert_string_equal(res.reason, "Signaled");
    assert_int_equal(st_container_state(f->c, &s, NULL, &err), 0);
    assert_int_equal(s, ST_CONTAINER_STOPPED);
    assert_int_equal(st_container_delete(f->c, false, &err), 0);
    assert_false(st_srunfx_cgroup_exists(f->id));
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", f->root, f->id);
    assert_int_equal(access(dir, F_OK), -1);
}

static void assert_nothing_left(struct fx *f)
{
    char **ids = NULL;
    st_error err = {0};
    assert_int_equal(st_state_list(f->root, &ids, &err), 0);
    assert_null(ids[0]);
    free(ids);
    assert_false(st_srunfx_cgroup_exists(f->id));
    char *mounts = st_test_read_file("/proc/self/mounts");
    assert_non_null(mounts);
    assert_null(strstr(mounts, st_test_env("STRATA_TEST_ROOTFS")));
    free(mounts);
}

static int create_only(struct fx *f, json_t *spec, st_error *err)
{
    struct st_oci_config *cfg = NULL;
    int r = st_oci_config_from_json(spec, "test", NULL, &cfg, err);
    json_decref(spec);
    if (r < 0)
        return r;
    struct st_container_opts opts;
    st_container_opts_init(&opts);
    opts.id = f->id;
    opts.config = cfg;
    opts.state_root = f->root;
    r = st_container_create(&opts, &f->c, err);
    st_oci_config_free(cfg);
    return r;
}

static void test_bad_inputs_leave_nothing(void **state)
{
    struct fx *f = *state;
    st_error err = {0};

    json_t *spec = sh_spec("true");
    json_object_set_new(json_object_get(spec, "root"), "path", json_string("/nonexistent/rootfs"));
    assert_true(create_only(f, spec, &err) < 0);
    assert_non_null(strstr(err.msg, "root.path /nonexistent/rootfs"));
    assert_nothing_left(f);

    /* A value only the kernel refuses: cpu quota below 1 ms. */
    st_error_clear(&err);
    spec = sh_spec("true");
    json_object_set_new(
        resources(spec), "cpu",
        json_pack("{s:I, s:I}", "quota", (json_int_t)100, "period", (json_int_t)100000));
    assert_true(create_only(f, spec, &err) < 0);
    if (strstr(err.msg, "linux.resources.cpu") == NULL)
        fail_msg("message does not name the field: \"%s\"", err.msg);
    assert_nothing_left(f);

    /* A failure inside the container's setup: a bind source that vanished
     * between validation and mount cannot be staged, so use a bad cwd. */
    st_error_clear(&err);
    spec = sh_spec("true");
    json_object_set_new(json_object_get(spec, "process"), "cwd", json_string("/no/such/dir"));
    assert_true(create_only(f, spec, &err) < 0);
    assert_non_null(strstr(err.msg, "process.cwd /no/such/dir"));
    assert_nothing_left(f);

    /* A memory limit too small for the setup itself: the OOM killer ends
     * the process before it is ready, and the message says why. */
    st_error_clear(&err);
    spec = sh_spec("true");
    json_object_set_new(resources(spec), "memory", json_pack("{s:I}", "limit", (json_int_t)4096));
    assert_int_equal(create_only(f, spec, &err), -ENOMEM);
    if (strstr(err.msg, "linux.resources.memory.limit 4096 bytes") == NULL ||
        strstr(err.msg, "OOM-killed during setup") == NULL)
        fail_msg("unexpected message \"%s\"", err.msg);
    assert_nothing_left(f);

    /* The same id twice. */
    st_error_clear(&err);
    assert_int_equal(create_only(f, sh_spec("true"), &err), 0);
    struct st_container *first = f->c;
    f->c = NULL;
    assert_int_equal(create_only(f, sh_spec("true"), &err), -EEXIST);
    assert_non_null(strstr(err.msg, "already in use"));
    f->c = first;
    /* A created container is deleted without force; its process goes too. */
    pid_t pid = st_container_pid(first);
    st_error_clear(&err);
    assert_int_equal(st_container_delete(first, false, &err), 0);
    assert_false(st_proc_alive(pid, 0));
    assert_nothing_left(f);
}

static void test_exec_failure_reported(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    assert_int_equal(create_only(f, spec_for((const char *[]){"no-such-binary", NULL}), &err), 0);
    assert_int_equal(st_container_start(f->c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "process.args[0] \"no-such-binary\""));
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_container: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pid1_hostname_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pids_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seccomp_default_denies_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seccomp_custom_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_and_exec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_failure_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
