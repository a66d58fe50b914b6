/* itest_oci_hooks.c: the OCI lifecycle pieces of strata-run on real
 * containers (the busybox fixture rootfs): the six hook kinds in their order,
 * each with the state on stdin, in the namespace the spec names; the failure
 * rules (a failing create-time hook leaves nothing, a timeout kills, poststart
 * and poststop only warn); a bad user, capability set or rlimit failing
 * create with its cause; the config checks at create; `strata-run features`.
 * Hooks are small sh scripts appending "KIND STATE" lines to a log in a
 * folder the container also sees, bind-mounted on its /tmp. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "strata/state.h"
#include "srun_fx.h"
#include "testutil.h"

static int setup(void **state)
{
    struct st_srunfx *f = calloc(1, sizeof(*f));
    st_srunfx_init(f, "ith", "h");
    /* The container's user may be another than root (test_user_checked_at_create). */
    chmod(f->dir, 0777);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    st_srunfx_fini(*state);
    free(*state);
    return 0;
}

/* The hooks' log, "<dir>/log" (malloc'd): the container sees it as /tmp/log. */
static char *log_path(struct st_srunfx *f)
{
    char *p = NULL;
    if (asprintf(&p, "%s/log", f->dir) < 0)
        fail_msg("oom");
    return p;
}

/* The fixture's spec with f->dir on /tmp. */
static json_t *make_spec(struct st_srunfx *f, const char *script)
{
    json_t *spec = st_srunfx_make_spec(f, script);
    json_array_append_new(json_object_get(spec, "mounts"),
                          json_pack("{s:s, s:s, s:s, s:[s,s]}", "destination", "/tmp", "type",
                                    "bind", "source", f->dir, "options", "rbind", "rw"));
    return spec;
}

/* A hook: /bin/sh -c SCRIPT KIND (so $0 is the kind); timeout 0 = none. */
static json_t *sh_hook(const char *kind, const char *script, int timeout)
{
    json_t *h =
        json_pack("{s:s, s:[s,s,s,s]}", "path", "/bin/sh", "args", "sh", "-c", script, kind);
    if (timeout > 0)
        json_object_set_new(h, "timeout", json_integer(timeout));
    return h;
}

/* Appends "KIND STATE" to LOG: the script of the hooks that log. */
static char *log_script(const char *log)
{
    char *s = NULL;
    if (asprintf(&s, "echo \"$0 $(cat)\" >> %s", log) < 0)
        fail_msg("oom");
    return s;
}

static void add_hook(json_t *spec, const char *kind, json_t *hook)
{
    json_t *hooks = json_object_get(spec, "hooks");
    if (hooks == NULL) {
        json_object_set_new(spec, "hooks", json_object());
        hooks = json_object_get(spec, "hooks");
    }
    if (json_object_get(hooks, kind) == NULL)
        json_object_set_new(hooks, kind, json_array());
    json_array_append_new(json_object_get(hooks, kind), hook);
}

/* Adds a hook of kind that logs; in_container: the container's /bin/sh and
 * /tmp/log (startContainer resolves there), else the host's and log_path(f). */
static void add_log_hook(struct st_srunfx *f, json_t *spec, const char *kind, bool in_container)
{
    char *log = log_path(f);
    char *script = log_script(in_container ? "/tmp/log" : log);
    add_hook(spec, kind, sh_hook(kind, script, 10));
    free(script);
    free(log);
}

static void assert_contains(const char *text, const char *what)
{
    if (text == NULL || strstr(text, what) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", what, text ? text : "(nothing)");
}

/* The log's lines: kinds[i] and the state each hook read (parsed). */
struct entry {
    char kind[32];
    json_t *state;
};

static size_t read_log(struct st_srunfx *f, struct entry *e, size_t max)
{
    char *log = log_path(f);
    char *text = st_test_read_file(log);
    free(log);
    size_t n = 0;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (sp == NULL)
            fail_msg("log line without state: \"%s\"", line);
        *sp = '\0';
        snprintf(e[n].kind, sizeof(e[n].kind), "%s", line);
        json_error_t jerr;
        e[n].state = json_loads(sp + 1, 0, &jerr);
        if (e[n].state == NULL)
            fail_msg("%s read a state that is not JSON: \"%s\" (%s)", line, sp + 1, jerr.text);
        n++;
    }
    free(text);
    return n;
}

static void free_log(struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(e[i].state);
}

static const char *str(json_t *state, const char *key)
{
    const char *s = json_string_value(json_object_get(state, key));
    return s ? s : "";
}

static long long num(json_t *state, const char *key)
{
    json_t *v = json_object_get(state, key);
    return v ? json_integer_value(v) : -1;
}

/* ---- tests ---- */

/* Every kind runs, in the lifecycle's order, each once, with the state on
 * stdin: status per step, the pid as seen from where it runs (the host's for
 * the runtime's hooks, 1 for the container's), id, bundle, annotations. */
static void test_every_hook_in_order(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "exec sleep 100");
    json_object_set_new(spec, "annotations", json_pack("{s:s}", "team", "hooks"));
    add_log_hook(f, spec, "prestart", false);
    add_log_hook(f, spec, "createRuntime", false);
    add_log_hook(f, spec, "createContainer", false);
    add_log_hook(f, spec, "startContainer", true);
    add_log_hook(f, spec, "poststart", false);
    add_log_hook(f, spec, "poststop", false);
    /* env given: the hook gets exactly it. */
    char *script = NULL;
    assert_true(asprintf(&script, "echo \"$HOOK_VAR:${HOME:-nohome}\" > %s/env", f->dir) > 0);
    json_t *envhook = sh_hook("poststart", script, 0);
    free(script);
    json_object_set_new(envhook, "env", json_pack("[s]", "HOOK_VAR=given"));
    add_hook(spec, "poststart", envhook);
    st_srunfx_save_spec(f, spec);

    char *err = NULL;
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 0);
    assert_string_equal(err, "");
    free(err);
    json_t *st = st_srunfx_state(f);
    long long pid = num(st, "pid");
    assert_true(pid > 1);
    json_decref(st);

    struct entry e[16];
    size_t n = read_log(f, e, 16);
    assert_int_equal(n, 3);
    const char *create_kinds[] = {"prestart", "createRuntime", "createContainer"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(e[i].kind, create_kinds[i]);
        assert_string_equal(str(e[i].state, "status"), "creating");
        assert_string_equal(str(e[i].state, "id"), f->id);
        assert_string_equal(str(e[i].state, "bundle"), f->bundle);
        assert_string_equal(str(e[i].state, "ociVersion"), "1.0.2");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e[i].state, "annotations"), "team")),
            "hooks");
    }
    assert_int_equal(num(e[0].state, "pid"), pid);
    assert_int_equal(num(e[1].state, "pid"), pid);
    assert_int_equal(num(e[2].state, "pid"), 1); /* in the container's pid namespace */
    free_log(e, n);

    assert_int_equal(ST_SRUN(f, NULL, &err, "start", f->id), 0);
    assert_string_equal(err, "");
    free(err);
    n = read_log(f, e, 16);
    assert_int_equal(n, 5);
    assert_string_equal(e[3].kind, "startContainer");
    assert_string_equal(str(e[3].state, "status"), "created");
    assert_int_equal(num(e[3].state, "pid"), 1);
    assert_string_equal(e[4].kind, "poststart");
    assert_string_equal(str(e[4].state, "status"), "running");
    assert_int_equal(num(e[4].state, "pid"), pid);
    free_log(e, n);
    char path[600];
    snprintf(path, sizeof(path), "%s/env", f->dir);
    char *text = st_test_read_file(path);
    assert_string_equal(text, "given:nohome\n");
    free(text);

    assert_int_equal(ST_SRUN(f, NULL, NULL, "kill", f->id, "KILL"), 0);
    assert_true(st_test_wait_until(st_srunfx_is_stopped, f, 5000, 10));
    assert_int_equal(ST_SRUN(f, NULL, &err, "delete", f->id), 0);
    assert_string_equal(err, "");
    free(err);
    n = read_log(f, e, 16);
    assert_int_equal(n, 6);
    assert_string_equal(e[5].kind, "poststop");
    assert_string_equal(str(e[5].state, "status"), "stopped");
    assert_string_equal(str(e[5].state, "id"), f->id);
    free_log(e, n);
    st_srunfx_assert_nothing_left(f, (int)pid);
}

/* A failing prestart, createRuntime or createContainer hook fails create
 * with its cause and leaves no state dir, cgroup, mount or process; the
 * poststop hooks still run, to undo what the others set up. */
static void test_failing_create_hook_leaves_nothing(void **state)
{
    struct st_srunfx *f = *state;
    static const char *const kinds[] = {"prestart", "createRuntime", "createContainer"};
    for (size_t k = 0; k < 3; k++) {
        char *log = log_path(f);
        unlink(log);
        free(log);
        json_t *spec = make_spec(f, "true");
        /* prestart records the process's pid first (when it is not the one failing). */
        if (k > 0)
            add_log_hook(f, spec, "prestart", false);
        add_hook(spec, kinds[k], sh_hook(kinds[k], "echo boom-$0 >&2; exit 3", 0));
        add_log_hook(f, spec, "startContainer", true);
        add_log_hook(f, spec, "poststop", false);
        st_srunfx_save_spec(f, spec);
        char *err = NULL;
        assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 1);
        char what[160];
        snprintf(what, sizeof(what),
                 "hooks.%s[0] /bin/sh: exited with status 3 (it printed \"boom-%s\")", kinds[k],
                 kinds[k]);
        assert_contains(err, what);
        assert_true(strncmp(err, "strata-run: ", 12) == 0);
        free(err);
        struct entry e[8];
        size_t n = read_log(f, e, 8);
        int pid = 0;
        if (k > 0) {
            assert_int_equal(n, 2);
            assert_string_equal(e[0].kind, "prestart");
            pid = (int)num(e[0].state, "pid");
            assert_true(pid > 1);
        }
        assert_true(n >= 1);
        assert_string_equal(e[n - 1].kind, "poststop");
        free_log(e, n);
        st_srunfx_assert_nothing_left(f, pid);
    }
}

/* A failing startContainer hook fails start, and the spec then stops and
 * destroys the container: nothing is left, poststop ran. */
static void test_failing_start_container_hook(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "echo ran >> /tmp/ran");
    add_hook(spec, "startContainer", sh_hook("startContainer", "echo nope; exit 2", 0));
    add_log_hook(f, spec, "poststart", false);
    add_log_hook(f, spec, "poststop", false);
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    json_t *st = st_srunfx_state(f);
    int pid = (int)num(st, "pid");
    json_decref(st);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "start", f->id), 1);
    st_srunfx_assert_one_line(err,
                              "hooks.startContainer[0] /bin/sh: exited with status 2 (it printed "
                              "\"nope\"); container");
    assert_contains(err, "was stopped and deleted");
    free(err);
    struct entry e[4];
    size_t n = read_log(f, e, 4);
    assert_int_equal(n, 1); /* poststop, never poststart */
    assert_string_equal(e[0].kind, "poststop");
    free_log(e, n);
    char ran[600];
    snprintf(ran, sizeof(ran), "%s/ran", f->dir);
    assert_int_equal(access(ran, F_OK), -1); /* the process never ran */
    st_srunfx_assert_nothing_left(f, pid);
}

/* A hook still running at its timeout is killed, with what it started,
 * and counts as a failure. */
static void test_hook_timeout(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "true");
    char *script = NULL;
    assert_true(asprintf(&script, "sleep 60 & echo $! > %s/sleeper; wait", f->dir) > 0);
    add_hook(spec, "createRuntime", sh_hook("createRuntime", script, 1));
    free(script);
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 1);
    st_srunfx_assert_one_line(
        err, "hooks.createRuntime[0] /bin/sh: still running after its timeout of 1 s: "
             "killed");
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/sleeper", f->dir);
    char *sleeper = st_test_read_file(path);
    assert_non_null(sleeper);
    int pid = atoi(sleeper);
    free(sleeper);
    assert_true(pid > 1);
    /* Its process group got SIGKILL: the sleep it started is gone too. */
    assert_false(st_proc_alive(pid, 0));
}

/* poststart and poststop failures are warnings (stderr and --log): the
 * remaining hooks run and the operation succeeds. */
static void test_post_hooks_only_warn(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "exit 0");
    add_hook(spec, "poststart", sh_hook("poststart", "echo late; exit 4", 0));
    add_log_hook(f, spec, "poststart", false);
    add_hook(spec, "poststop", sh_hook("poststop", "exit 5", 0));
    add_hook(spec, "poststop", json_pack("{s:s}", "path", "/no/such/hook"));
    add_log_hook(f, spec, "poststop", false);
    st_srunfx_save_spec(f, spec);
    char logfile[600];
    snprintf(logfile, sizeof(logfile), "%s/strata-run.log", f->dir);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "--log", logfile, "run", "--bundle", f->bundle, f->id),
                     0);
    assert_contains(err, "strata-run: warning: ");
    assert_contains(err, "hooks.poststart[0] /bin/sh: exited with status 4 (it printed \"late\")");
    assert_contains(err, "hooks.poststop[0] /bin/sh: exited with status 5");
    assert_contains(err, "hooks.poststop[1] /no/such/hook: exited with status 127 (it printed "
                         "\"cannot execute /no/such/hook: No such file or directory\")");
    free(err);
    char *log = st_test_read_file(logfile);
    assert_contains(log, " warning strata-run: ");
    assert_contains(log, "hooks.poststop[0]");
    free(log);
    struct entry e[4];
    size_t n = read_log(f, e, 4);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].kind, "poststart");
    assert_string_equal(e[1].kind, "poststop");
    free_log(e, n);
    st_srunfx_assert_nothing_left(f, 0);
}

/* start and delete read the hooks back from the state dir: a damaged copy
 * costs the hooks (with a warning), never the ability to delete. */
static void test_damaged_hooks_file(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "true");
    add_log_hook(f, spec, "poststop", false);
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/hooks.json", f->root, f->id);
    assert_int_equal(access(path, F_OK), 0);
    st_test_write_file(path, "{\"hooks\": [");
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "delete", f->id), 0);
    assert_contains(err, "strata-run: warning: ");
    assert_contains(err, "hooks.json: unreadable");
    assert_contains(err, "its poststop hooks, if any, did not run");
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
}

/* Setting the user, the capabilities and the rlimits happens at create, and
 * a failure there is create's error with its cause, never an exit 0. */
static void test_user_caps_rlimits_fail_create(void **state)
{
    struct st_srunfx *f = *state;

    /* effective must be within permitted: the kernel refuses. */
    json_t *spec = make_spec(f, "true");
    json_t *process = json_object_get(spec, "process");
    json_object_set_new(json_object_get(process, "capabilities"), "effective",
                        json_pack("[s]", "CAP_SYS_ADMIN"));
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 1);
    st_srunfx_assert_one_line(err,
                              "process.capabilities: cannot set effective/permitted/inheritable");
    free(err);
    st_srunfx_assert_nothing_left(f, 0);

    /* A hard limit above fs.nr_open. */
    spec = make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "process"), "rlimits",
                        json_pack("[{s:s, s:I, s:I}]", "type", "RLIMIT_NOFILE", "soft",
                                  (json_int_t)1024, "hard", (json_int_t)1 << 40));
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 1);
    st_srunfx_assert_one_line(err, "process.rlimits[0]: the kernel refused soft 1024");
    free(err);
    st_srunfx_assert_nothing_left(f, 0);

    /* A uid the user namespace does not map. */
    spec = make_spec(f, "true");
    json_t *linux = json_object_get(spec, "linux");
    json_array_append_new(json_object_get(linux, "namespaces"), json_pack("{s:s}", "type", "user"));
    json_object_set_new(
        linux, "uidMappings",
        json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
    json_object_set_new(
        linux, "gidMappings",
        json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID", 100000, "size", 65536));
    json_object_set_new(json_object_get(spec, "process"), "user",
                        json_pack("{s:i, s:i}", "uid", 70000, "gid", 0));
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, &err, "create", "--bundle", f->bundle, f->id), 1);
    st_srunfx_assert_one_line(err, "process.user.uid 70000: setuid failed");
    free(err);
    st_srunfx_assert_nothing_left(f, 0);
}

/* The good case of the same: a non-root user set at create still gets
 * through start (the FIFO is opened after the switch), and a program that
 * cannot be executed fails `start` run from another process than create. */
static void test_user_checked_at_create(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = make_spec(f, "id -u > /tmp/uid; id -G > /tmp/groups");
    json_object_set_new(
        json_object_get(spec, "process"), "user",
        json_pack("{s:i, s:i, s:[i]}", "uid", 1000, "gid", 1000, "additionalGids", 5));
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "start", f->id), 0);
    assert_true(st_test_wait_until(st_srunfx_is_stopped, f, 5000, 10));
    char path[600];
    snprintf(path, sizeof(path), "%s/uid", f->dir);
    char *uid = st_test_read_file(path);
    assert_string_equal(uid, "1000\n");
    free(uid);
    snprintf(path, sizeof(path), "%s/groups", f->dir);
    char *groups = st_test_read_file(path);
    assert_string_equal(groups, "1000 5\n");
    free(groups);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", f->id), 0);

    spec = make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "process"), "args",
                        json_pack("[s]", "no-such-program"));
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN_Q(f, NULL, "create", "--bundle", f->bundle, f->id), 0);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "start", f->id), 1);
    st_srunfx_assert_one_line(
        err, "process.args[0] \"no-such-program\": cannot execute it in the container");
    free(err);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", f->id), 0);
    st_srunfx_assert_nothing_left(f, 0);
}

/* Checks at create: each one line naming the field, nothing left. */
static void test_config_refused_at_create(void **state)
{
    struct st_srunfx *f = *state;
    struct {
        const char *object, *key, *value, *what;
    } cases[] = {
        {"", "ociVersion", "\"one point oh\"", "ociVersion: \"one point oh\" is not a version"},
        {"", "ociVersion", "\"2.0.0\"", "ociVersion: \"2.0.0\": major version 2 is not supported"},
        {"", "hooks", "{\"poststop\": [{\"path\": \"cleanup.sh\"}]}",
         "hooks.poststop[0].path: expected an absolute path"},
        {"", "hooks", "{\"poststart\": [{\"path\": \"/bin/true\", \"timeout\": 0}]}",
         "hooks.poststart[0].timeout: expected a number of seconds greater than 0"},
        {"process", "apparmorProfile", "\"docker-default\"",
         "process.apparmorProfile: AppArmor profiles are not supported"},
        {"", "vm", "{\"hypervisor\": {\"path\": \"/usr/bin/qemu\"}}",
         "vm: a virtual-machine container"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *spec = make_spec(f, "true");
        json_t *obj = cases[i].object[0] ? json_object_get(spec, cases[i].object) : spec;
        json_object_set_new(obj, cases[i].key, json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
        st_srunfx_save_spec(f, spec);
        char *err = NULL;
        int rc = ST_SRUN(f, NULL, &err, "create", "--bundle", f->bundle, f->id);
        if (rc != 1)
            fail_msg("case %zu: exit %d: %s", i, rc, err);
        st_srunfx_assert_one_line(err, cases[i].what);
        free(err);
        st_srunfx_assert_nothing_left(f, 0);
    }
    /* A field the spec does not define is ignored, as the spec requires. */
    json_t *spec = make_spec(f, "exit 7");
    json_object_set_new(spec, "org.example.future", json_pack("{s:b}", "on", 1));
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "run", "--bundle", f->bundle, f->id), 7);
    st_srunfx_assert_nothing_left(f, 0);
}

/* `strata-run features` is the runtime-spec document, and what it lists is
 * what a real container accepts: a config at ociVersionMax with every listed
 * capability in its bounding set runs. */
static void test_features(void **state)
{
    struct st_srunfx *f = *state;
    char *out = NULL, *err = NULL;
    assert_int_equal(ST_SRUN(f, &out, &err, "features"), 0);
    assert_string_equal(err, "");
    free(err);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    if (doc == NULL)
        fail_msg("features is not JSON: %s: \"%s\"", jerr.text, out);
    free(out);
    const char *max = json_string_value(json_object_get(doc, "ociVersionMax"));
    assert_non_null(max);
    assert_non_null(json_string_value(json_object_get(doc, "ociVersionMin")));
    json_t *hooks = json_object_get(doc, "hooks");
    static const char *const kinds[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};
    assert_int_equal(json_array_size(hooks), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_array_get(hooks, i)), kinds[i]);
    json_t *linux = json_object_get(doc, "linux");
    json_t *caps = json_object_get(linux, "capabilities");
    assert_true(json_array_size(caps) >= 38);
    assert_true(json_is_true(json_object_get(json_object_get(linux, "seccomp"), "enabled")));
    assert_true(json_is_true(json_object_get(json_object_get(linux, "cgroup"), "v1")));
    assert_true(json_is_false(json_object_get(json_object_get(linux, "apparmor"), "enabled")));
    bool has_mount = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(linux, "namespaces"), i, v) has_mount |=
        strcmp(json_string_value(v), "mount") == 0;
    assert_true(has_mount);
    assert_non_null(json_object_get(json_object_get(doc, "annotations"), "org.strata.run.version"));

    json_t *spec = make_spec(f, "exit 3");
    json_object_set_new(spec, "ociVersion", json_string(max));
    json_object_set(json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding",
                    caps);
    st_srunfx_save_spec(f, spec);
    assert_int_equal(ST_SRUN(f, NULL, &err, "run", "--bundle", f->bundle, f->id), 3);
    assert_string_equal(err, "");
    free(err);
    json_decref(doc);
    st_srunfx_assert_nothing_left(f, 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_oci_hooks: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_hook_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_create_hook_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_start_container_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_hooks_only_warn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_hooks_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_caps_rlimits_fail_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_checked_at_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refused_at_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
