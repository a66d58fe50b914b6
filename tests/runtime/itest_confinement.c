/* itest_confinement.c: containers of strata-run trying to break out, on the
 * host. Each container runs confine-probe (tests/runtime/confine_probe.c,
 * in the busybox fixture rootfs) under the configuration `strata-run spec`
 * writes (runc's: three capabilities, no_new_privs, masked and read-only
 * paths, its own pid/mount/net/ipc/uts namespaces) with the RuntimeDefault
 * seccomp profile (configs/seccomp/default.json) added, as a pod gets it.
 * The probe prints one line per attempt ("mount: EPERM"); the tests assert
 * on those exact outcomes, and where a refusal could have two causes a
 * control run without the filter shows which one answered. The fixture
 * rootfs is never changed; bundles, state and cgroups go in teardown. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "strata/cleanup.h"
#include "strata/seccomp.h"
#include "srun_fx.h"
#include "probe_out.h"
#include "testutil.h"

#define PROBE      "/bin/confine-probe"
#define PROBE_SUID "/bin/confine-probe-suid"
/* CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE: what `strata-run spec` keeps */
#define SPEC_CAPS "0000000020000420"

/* The strata-run fixture (f->run.bundle holds one bundle folder per
 * container), then a container run in the background, or -1. */
struct fx {
    struct st_srunfx run;
    pid_t bg;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_srunfx_init(&f->run, "conf", "conf");
    f->bg = -1;
    *state = f;
    return 0;
}

/* Every container this test made has an id starting with f->run.id. */
static void delete_all(struct fx *f)
{
    char *out = NULL;
    ST_SRUN(&f->run, &out, NULL, "list");
    for (char *line = out ? strtok(out, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char id[128];
        if (sscanf(line, "%127s", id) != 1 || strncmp(id, f->run.id, strlen(f->run.id)) != 0)
            continue;
        ST_SRUN(&f->run, NULL, NULL, "delete", "--force", id);
    }
    free(out);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    delete_all(f);
    if (f->bg > 0) {
        kill(f->bg, SIGKILL);
        waitpid(f->bg, NULL, 0);
    }
    st_srunfx_fini(&f->run);
    free(f);
    return 0;
}

/* ---- bundles ---- */

/* `strata-run spec`, then the fixture as root.path, RuntimeDefault as
 * linux.seccomp (unless unconfined) and args as process.args. */
static json_t *probe_spec(struct fx *f, bool unconfined, const char *const *args)
{
    static int n;
    char *bundle = NULL;
    if (asprintf(&bundle, "%s/b%d", f->run.bundle, ++n) < 0 || mkdir(bundle, 0700) < 0)
        fail_msg("bundle dir: %s", strerror(errno));
    char *err = NULL;
    char *argv[] = {f->run.bin, "spec", "--bundle", bundle, NULL};
    if (st_test_run(argv, NULL, NULL, &err) != 0)
        fail_msg("strata-run spec: %s", err);
    free(err);
    char path[700];
    snprintf(path, sizeof(path), "%s/config.json", bundle);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    if (spec == NULL)
        fail_msg("spec wrote bad JSON: %s", jerr.text);
    json_object_set_new(spec, "strata.test.bundle", json_string(bundle));
    free(bundle);
    json_object_set_new(json_object_get(spec, "root"), "path",
                        json_string(st_test_env("STRATA_TEST_ROOTFS")));
    json_t *a = json_array();
    for (; *args; args++)
        json_array_append_new(a, json_string(*args));
    json_object_set_new(json_object_get(spec, "process"), "args", a);
    if (!unconfined) {
        json_t *sec = NULL;
        st_error e = {0};
        if (st_seccomp_default_spec(&sec, &e) < 0)
            fail_msg("RuntimeDefault: %s", e.msg);
        json_object_set_new(json_object_get(spec, "linux"), "seccomp", sec);
    }
    return spec;
}
#define PROBE_SPEC(f, unconfined, ...)                                                             \
    probe_spec(f, unconfined, (const char *const[]){PROBE, __VA_ARGS__, NULL})

/* Saves spec in its bundle; returns the bundle's path (malloc'd). */
static char *save_spec(json_t *spec)
{
    char *bundle = strdup(json_string_value(json_object_get(spec, "strata.test.bundle")));
    json_object_del(spec, "strata.test.bundle");
    char path[700];
    snprintf(path, sizeof(path), "%s/config.json", bundle);
    assert_int_equal(json_dump_file(spec, path, JSON_INDENT(1)), 0);
    json_decref(spec);
    return bundle;
}

static void set_user(json_t *spec, int uid, int gid)
{
    json_object_set_new(json_object_get(spec, "process"), "user",
                        json_pack("{s:i, s:i}", "uid", uid, "gid", gid));
}

static void set_resources(json_t *spec, json_t *resources)
{
    json_object_set_new(json_object_get(spec, "linux"), "resources", resources);
}

/* `strata-run run` of spec as container id; returns the exit code and
 * what the container printed (malloc'd). */
static int run_spec(struct fx *f, const char *id, json_t *spec, char **out, char **err)
{
    char *bundle = save_spec(spec);
    int rc = ST_SRUN(&f->run, out, err, "run", "--bundle", bundle, id);
    free(bundle);
    return rc;
}

/* Runs spec as f->run.id; fails unless it exits 0; returns its output. */
static char *probe_output(struct fx *f, json_t *spec)
{
    char *out = NULL, *err = NULL;
    int rc = run_spec(f, f->run.id, spec, &out, &err);
    if (rc != 0)
        fail_msg("the probe's container exited %d: %s%s", rc, out, err);
    free(err);
    print_message("%s", out); /* what was tried and how it ended, for ctest -V */
    return out;
}

/* "EMPTY" for a path the host has (the mask hides it), "ENOENT" otherwise. */
static const char *masked_outcome(const char *path)
{
    return access(path, F_OK) == 0 ? "EMPTY" : "ENOENT";
}

/* A file of the container's cgroup (v1: under the controller's tree; v2:
 * the unified tree), malloc'd, or NULL when there is none. */
static char *cgroup_file(const char *id, const char *ctrl, const char *file)
{
    char pattern[512];
    const char *forms[] = {"/sys/fs/cgroup/%s/strata-%s/%s", "/sys/fs/cgroup/%s/*/strata-%s/%s",
                           "/sys/fs/cgroup/%s/*/*/strata-%s/%s"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(pattern, sizeof(pattern), forms[i], ctrl, id, file);
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            char *p = strdup(g.gl_pathv[0]);
            globfree(&g);
            return p;
        }
        globfree(&g);
    }
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/strata-%s/%s", id, file);
    return access(pattern, F_OK) == 0 ? strdup(pattern) : NULL;
}

static long cgroup_value(const char *id, const char *ctrl, const char *file, const char *key)
{
    _cleanup_free_ char *path = cgroup_file(id, ctrl, file);
    if (path == NULL)
        fail_msg("no %s/%s for container %s", ctrl, file, id);
    _cleanup_free_ char *text = st_test_read_file(path);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    if (key == NULL)
        return strtol(text, NULL, 10);
    char *at = strstr(text, key);
    if (at == NULL)
        fail_msg("%s has no \"%s\": %s", path, key, text);
    return strtol(at + strlen(key), NULL, 10);
}

/* ---- a container in the background, its output in a file ---- */

static char *bg_out_path(struct fx *f)
{
    char *p = NULL;
    if (asprintf(&p, "%s/bg.out", f->run.bundle) < 0)
        fail_msg("oom");
    return p;
}

static void run_background(struct fx *f, const char *id, json_t *spec)
{
    char *bundle = save_spec(spec);
    char *out = bg_out_path(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(f->run.bin, f->run.bin, "--root", f->run.root, "run", "--bundle", bundle, id,
              (char *)NULL);
        _exit(127);
    }
    f->bg = pid;
    free(bundle);
    free(out);
}

struct said {
    struct fx *f;
    const char *text;
};

static bool bg_said(void *arg)
{
    struct said *s = arg;
    _cleanup_free_ char *path = bg_out_path(s->f);
    _cleanup_free_ char *text = st_test_read_file(path);
    return text && strstr(text, s->text);
}

static char *bg_output(struct fx *f)
{
    _cleanup_free_ char *path = bg_out_path(f);
    char *text = st_test_read_file(path);
    return text ? text : strdup("");
}

static void wait_bg_said(struct fx *f, const char *text, int timeout_ms)
{
    struct said s = {f, text};
    if (!st_test_wait_until(bg_said, &s, timeout_ms, 50)) {
        _cleanup_free_ char *out = bg_output(f);
        fail_msg("the background container did not print \"%s\" within %d s:\n%s", text,
                 timeout_ms / 1000, out);
    }
}

static int wait_bg_exit(struct fx *f)
{
    int status = 0;
    assert_int_equal(waitpid(f->bg, &status, 0), f->bg);
    f->bg = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool is_status(struct fx *f, const char *id, const char *status)
{
    _cleanup_free_ char *out = NULL;
    if (ST_SRUN(&f->run, &out, NULL, "state", id) != 0)
        return false;
    _cleanup_json_ json_t *j = json_loads(out, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "status"));
    return s && strcmp(s, status) == 0;
}

/* A sleeping neighbour container, detached: <f->run.id>-n. */
static void start_neighbour(struct fx *f, char *id, size_t len, json_t *resources)
{
    snprintf(id, len, "%s-n", f->run.id);
    json_t *spec = probe_spec(f, false, (const char *const[]){"sleep", "1000", NULL});
    if (resources)
        set_resources(spec, resources);
    char *bundle = save_spec(spec);
    int rc = ST_SRUN_Q(&f->run, NULL, "run", "--detach", "--bundle", bundle, id);
    free(bundle);
    assert_int_equal(rc, 0);
    assert_true(is_status(f, id, "running"));
}

static bool file_exists(void *path)
{
    return access(path, F_OK) == 0;
}

/* ---- tests ---- */

/* mount, unshare of a user namespace, keyctl, bpf and ptrace of another
 * process all fail with EPERM under RuntimeDefault; umount of a mask too. */
static void test_denied_syscalls(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *out =
        probe_output(f, PROBE_SPEC(f, false, "mount", "umount", "/proc/keys", "unshare-user",
                                   "keyctl", "bpf", "ptrace", "privs"));
    st_probe_expect_line(out, "mount", "EPERM");
    st_probe_expect_line(out, "umount /proc/keys", "EPERM");
    st_probe_expect_line(out, "unshare-user", "EPERM");
    st_probe_expect_line(out, "keyctl", "EPERM");
    st_probe_expect_line(out, "bpf", "EPERM");
    st_probe_expect_line(out, "ptrace", "EPERM");
    st_probe_expect_has(out, "privs", " seccomp=2 "); /* a filter is in force */
}

/* The control: without the filter, keyctl, ptrace of a child and a user
 * namespace work (the last one last: it changes what privs would show), so the EPERMs above are the
 * filter's. mount and bpf are refused twice over: they also need capabilities the container lacks.
 */
static void test_denied_syscalls_control(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *out = probe_output(
        f, PROBE_SPEC(f, true, "privs", "keyctl", "ptrace", "mount", "bpf", "unshare-user"));
    st_probe_expect_line(out, "keyctl", "OK");
    st_probe_expect_line(out, "ptrace", "OK");
    st_probe_expect_line(out, "unshare-user", "OK");
    st_probe_expect_line(out, "mount", "EPERM");
    st_probe_expect_line(out, "bpf", "EPERM");
    st_probe_expect_has(out, "privs", " seccomp=0 ");
}

/* Root in the container holds only the spec's three capabilities, cannot
 * raise CAP_SYS_ADMIN or use it, cannot make device nodes, and runs with
 * no_new_privs. */
static void test_caps_stay_dropped(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *out =
        probe_output(f, PROBE_SPEC(f, false, "privs", "sethostname", "capset", "mknod", "c:1:11"));
    st_probe_expect_line(out, "privs",
                         "uid=0 euid=0 nnp=1 seccomp=2 capeff=" SPEC_CAPS " capprm=" SPEC_CAPS
                         " capbnd=" SPEC_CAPS " capamb=0000000000000000 sys_admin=none");
    st_probe_expect_line(out, "sethostname", "EPERM");
    st_probe_expect_line(out, "capset", "EPERM");
    /* /dev/kmsg made by hand: CAP_MKNOD is not among the three */
    st_probe_expect_line(out, "mknod c:1:11", "mknod EPERM");
}

/* A setuid-root binary run by nobody: no_new_privs keeps its euid and its
 * capabilities at nobody's (none). */
static void test_setuid_raises_nothing(void **state)
{
    struct fx *f = *state;
    json_t *spec = probe_spec(f, false, (const char *const[]){PROBE_SUID, "privs", NULL});
    set_user(spec, 65534, 65534);
    _cleanup_free_ char *out = probe_output(f, spec);
    st_probe_expect_line(out, "privs",
                         "uid=65534 euid=65534 nnp=1 seccomp=2 capeff=0000000000000000 "
                         "capprm=0000000000000000 capbnd=" SPEC_CAPS
                         " capamb=0000000000000000 sys_admin=none");
}

/* The control: with noNewPrivileges false the same binary does become
 * root, and still gets no capability the bounding set dropped. */
static void test_setuid_control_bounded(void **state)
{
    struct fx *f = *state;
    json_t *spec = probe_spec(f, false, (const char *const[]){PROBE_SUID, "privs", NULL});
    set_user(spec, 65534, 65534);
    json_object_set_new(json_object_get(spec, "process"), "noNewPrivileges", json_false());
    _cleanup_free_ char *out = probe_output(f, spec);
    st_probe_expect_line(out, "privs",
                         "uid=65534 euid=0 nnp=0 seccomp=2 capeff=" SPEC_CAPS " capprm=" SPEC_CAPS
                         " capbnd=" SPEC_CAPS " capamb=0000000000000000 sys_admin=none");
}

/* maskedPaths read as empty (or are absent where the host lacks them);
 * readonlyPaths and /sys refuse to be opened for writing. */
static void test_masked_and_readonly_paths(void **state)
{
    struct fx *f = *state;
    static const char *const masked[] = {"/proc/kcore", "/proc/keys",        "/proc/timer_list",
                                         "/proc/acpi",  "/proc/sched_debug", "/sys/firmware"};
    static const char *const ro[] = {"/proc/sys/vm/drop_caches", "/proc/sys/kernel/core_pattern",
                                     "/proc/sysrq-trigger", "/proc/irq/default_smp_affinity",
                                     "/sys/kernel/mm/transparent_hugepage/enabled"};
    const char *args[40] = {PROBE};
    size_t n = 1;
    for (size_t i = 0; i < sizeof(masked) / sizeof(*masked); i++) {
        args[n++] = "read";
        args[n++] = masked[i];
    }
    for (size_t i = 0; i < sizeof(ro) / sizeof(*ro); i++) {
        args[n++] = "write";
        args[n++] = ro[i];
    }
    args[n++] = "read";
    args[n++] = "/proc/self/status"; /* not masked: the probe can read */
    args[n] = NULL;
    _cleanup_free_ char *out = probe_output(f, probe_spec(f, false, args));
    char check[300];
    for (size_t i = 0; i < sizeof(masked) / sizeof(*masked); i++) {
        snprintf(check, sizeof(check), "read %s", masked[i]);
        st_probe_expect_line(out, check, masked_outcome(masked[i]));
    }
    for (size_t i = 0; i < sizeof(ro) / sizeof(*ro); i++) {
        if (access(ro[i], F_OK) != 0)
            continue; /* this host's kernel lacks it */
        snprintf(check, sizeof(check), "write %s", ro[i]);
        st_probe_expect_line(out, check, "EROFS");
    }
    st_probe_expect_has(out, "read /proc/self/status", "DATA ");
}

/* A fork bomb stops at linux.resources.pids.limit; meanwhile the host
 * forks, a second container runs, and the bomb's cgroup holds exactly the
 * limit; on SIGTERM the probe kills the bomb and exits 0. */
static void test_fork_bomb(void **state)
{
    struct fx *f = *state;
    const long limit = 64;
    json_t *spec = PROBE_SPEC(f, false, "forkbomb");
    set_resources(spec, json_pack("{s:{s:I}}", "pids", "limit", (json_int_t)limit));
    run_background(f, f->run.id, spec);
    wait_bg_said(f, "forkbomb: EAGAIN", 60000);
    _cleanup_free_ char *out = bg_output(f);
    char want[64];
    snprintf(want, sizeof(want), "EAGAIN procs=%ld ", limit);
    st_probe_expect_has(out, "forkbomb", want);
    assert_int_equal(cgroup_value(f->run.id, "pids", "pids.current", NULL), limit);

    /* the host is fine: it forks and runs another container */
    assert_int_equal(st_test_sh(NULL, NULL, "true"), 0);
    char other[80];
    snprintf(other, sizeof(other), "%s-other", f->run.id);
    _cleanup_free_ char *ps = NULL;
    assert_int_equal(run_spec(f, other, PROBE_SPEC(f, false, "ps"), &ps, NULL), 0);
    st_probe_expect_has(ps, "ps", "n=1 ");

    assert_int_equal(ST_SRUN(&f->run, NULL, NULL, "kill", f->run.id, "TERM"), 0);
    assert_int_equal(wait_bg_exit(f), 0);
    free(out);
    out = bg_output(f);
    st_probe_expect_line(out, "forkbomb-end", "cleaned procs=1");
}

/* Memory over the limit: the hog is OOMKilled (strata-run says so, exit
 * 137); a neighbour container, with a limit of its own, and this process
 * are untouched. */
static void test_oom_kills_only_the_hog(void **state)
{
    struct fx *f = *state;
    char neighbour[80];
    start_neighbour(f, neighbour, sizeof(neighbour),
                    json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)(32 << 20)));
    char hog[80];
    snprintf(hog, sizeof(hog), "%s-hog", f->run.id);
    json_t *spec = PROBE_SPEC(f, false, "hog", "512");
    set_resources(spec, json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)(32 << 20)));
    _cleanup_free_ char *out = NULL, *err = NULL;
    assert_int_equal(run_spec(f, hog, spec, &out, &err), 137);
    char want[200];
    snprintf(want, sizeof(want), "strata-run: container %s was OOMKilled", hog);
    if (strstr(err, want) == NULL)
        fail_msg("no OOMKilled line from strata-run: \"%s\"", err);
    if (strstr(out, "hog: survived"))
        fail_msg("the hog got all it asked for past its limit:\n%s", out);
    assert_true(is_status(f, neighbour, "running"));
    assert_int_equal(cgroup_value(neighbour, "memory", "memory.oom_control", "oom_kill "), 0);
    assert_int_equal(ST_SRUN(&f->run, NULL, NULL, "delete", "--force", neighbour), 0);
}

/* A container sees neither another container's processes, files nor
 * secret env, nor the host's (this test's own environment stands for the
 * node agent's secrets), nor strata-run's state. */
static void test_isolation(void **state)
{
    struct fx *f = *state;
    char secret[64], marker[64], host_secret[64];
    snprintf(secret, sizeof(secret), "pod-secret-%d-a8c1", (int)getpid());
    snprintf(marker, sizeof(marker), "confine-marker-%d", (int)getpid());
    snprintf(host_secret, sizeof(host_secret), "host-secret-%d-77e2", (int)getpid());
    setenv("CONFINE_HOST_SECRET", host_secret, 1);

    /* the holder: its secret in its env and in a file on its own /tmp */
    char holder[80];
    snprintf(holder, sizeof(holder), "%s-holder", f->run.id);
    char script[300];
    snprintf(script, sizeof(script), "echo \"$SECRET\" >/tmp/%s && exec sleep 1000", marker);
    json_t *spec = probe_spec(f, false, (const char *const[]){"sh", "-c", script, NULL});
    json_t *tmpfs = json_pack("{s:s, s:s, s:s, s:[s,s]}", "destination", "/tmp", "type", "tmpfs",
                              "source", "tmpfs", "options", "nosuid", "nodev");
    json_array_append_new(json_object_get(spec, "mounts"), tmpfs);
    char env[100];
    snprintf(env, sizeof(env), "SECRET=%s", secret);
    json_array_append_new(json_object_get(json_object_get(spec, "process"), "env"),
                          json_string(env));
    char *bundle = save_spec(spec);
    assert_int_equal(ST_SRUN_Q(&f->run, NULL, "run", "--detach", "--bundle", bundle, holder), 0);
    free(bundle);
    /* the holder wrote its file (seen from the host, through its root) */
    _cleanup_free_ char *st = NULL;
    assert_int_equal(ST_SRUN(&f->run, &st, NULL, "state", holder), 0);
    _cleanup_json_ json_t *sj = json_loads(st, 0, NULL);
    int hpid = (int)json_integer_value(json_object_get(sj, "pid"));
    char hpath[200];
    snprintf(hpath, sizeof(hpath), "/proc/%d/root/tmp/%s", hpid, marker);
    assert_true(st_test_wait_until(file_exists, hpath, 10000, 20));

    /* the prober: its own /tmp too, so a shared /tmp would have shown */
    spec = PROBE_SPEC(f, false, "ps", "find-env", secret, "find-env", host_secret, "find-file",
                      marker, "grep-fs", secret, "find-file", "state.json");
    json_array_append_new(json_object_get(spec, "mounts"),
                          json_pack("{s:s, s:s, s:s, s:[s,s]}", "destination", "/tmp", "type",
                                    "tmpfs", "source", "tmpfs", "options", "nosuid", "nodev"));
    _cleanup_free_ char *out = probe_output(f, spec);
    unsetenv("CONFINE_HOST_SECRET");
    st_probe_expect_has(out, "ps", "n=1 1/confine-probe");
    st_probe_expect_has(out, "find-env", "absent");
    st_probe_expect_line(out, "find-file", "absent");
    st_probe_expect_line(out, "grep-fs", "absent");
    /* every find-env and find-file line said absent */
    for (const char *p = out; (p = strstr(p, "present")) != NULL; p++)
        fail_msg("the prober found something:\n%s", out);
    assert_int_equal(ST_SRUN(&f->run, NULL, NULL, "delete", "--force", holder), 0);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_confinement: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_denied_syscalls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_syscalls_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_stay_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuid_raises_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuid_control_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_masked_and_readonly_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_kills_only_the_hog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
