/* itest_oci_linux.c: the linux.* fields of config.json on real containers,
 * driven through strata-run on the busybox fixture: device nodes with
 * their mode and owner, the v1 devices cgroup keeping a device out, the v2
 * BPF device program loaded into this kernel (on the hybrid host's cgroup2
 * mount, where it applies too), namespaces joined by path (network, uts
 * with a hostname, ipc, pid, mount, user) from holders made with
 * unshare(1), oomScoreAdj, personality, cpuset/pids/memory values read
 * back from the cgroup files, rootfsPropagation seen in
 * /proc/self/mountinfo, and refusals at create that leave nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../../runtime/devices.h" /* private to the runtime: the v2 program's loader */
#include "srun_fx.h"
#include "testutil.h"

#define MAX_HOLDERS 2

/* A process made by unshare(1) that holds namespaces for a test. */
struct holder {
    pid_t unshare; /* our child, 0 when none */
    pid_t ns_pid;  /* the process in the namespaces (unshare itself without --fork) */
};

/* The strata-run fixture first (a test that needs nothing else takes
 * *state as a struct st_srunfx), then this file's own. */
struct fx {
    struct st_srunfx run;
    char *mnt; /* a mount point for a rootfs of the test's own */
    bool mnt_mounted;
    struct holder holders[MAX_HOLDERS];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    st_srunfx_init(&fx->run, "itl", "l");
    fx->mnt = st_test_mkdtemp("strata-itl-mnt");
    *state = fx;
    return 0;
}

static void holder_stop(struct holder *h)
{
    if (h->unshare <= 0)
        return;
    /* A pid namespace's init ignores SIGTERM: SIGKILL both, by id. */
    if (h->ns_pid > 0 && h->ns_pid != h->unshare)
        kill(h->ns_pid, SIGKILL);
    kill(h->unshare, SIGKILL);
    while (waitpid(h->unshare, NULL, 0) < 0 && errno == EINTR)
        ;
    h->unshare = h->ns_pid = 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    /* the container first: it may have joined a holder's namespaces */
    st_srunfx_fini(&fx->run);
    for (int i = 0; i < MAX_HOLDERS; i++)
        holder_stop(&fx->holders[i]);
    if (fx->mnt_mounted)
        umount2(fx->mnt, MNT_DETACH);
    rmdir(fx->mnt);
    free(fx->mnt);
    free(fx);
    return 0;
}

/* ---- holders ---- */

struct ns_wait {
    struct holder *h;
    bool forked;
    const char *ns;   /* a namespace the holder has its own of, once ready */
    const char *file; /* or a file it makes, seen through /proc/PID/root */
};

static bool holder_ready(void *arg)
{
    struct ns_wait *w = arg;
    if (w->forked && w->h->ns_pid == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)w->h->unshare,
                 (int)w->h->unshare);
        char *kids = st_test_read_file(path);
        int pid = kids ? atoi(kids) : 0;
        free(kids);
        if (pid <= 0)
            return false;
        w->h->ns_pid = pid;
    }
    pid_t p = w->forked ? w->h->ns_pid : w->h->unshare;
    char path[512], a[64] = "", b[64] = "";
    if (w->file) {
        snprintf(path, sizeof(path), "/proc/%d/root%s", (int)p, w->file);
        return access(path, F_OK) == 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)p, w->ns);
    ssize_t n = readlink(path, a, sizeof(a) - 1);
    snprintf(path, sizeof(path), "/proc/self/ns/%s", w->ns);
    ssize_t m = readlink(path, b, sizeof(b) - 1);
    return n > 0 && m > 0 && strcmp(a, b) != 0;
}

/* Starts argv (unshare ...) with stdio on /dev/null; returns when its
 * namespace ns differs from ours (or file exists in its view). */
static struct holder *holder_start(struct fx *fx, bool forked, const char *ns, const char *file,
                                   char *const argv[])
{
    struct holder *h = NULL;
    for (int i = 0; i < MAX_HOLDERS && h == NULL; i++)
        if (fx->holders[i].unshare == 0)
            h = &fx->holders[i];
    assert_non_null(h);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    h->unshare = pid;
    h->ns_pid = forked ? 0 : pid;
    struct ns_wait w = {.h = h, .forked = forked, .ns = ns, .file = file};
    if (!st_test_wait_until(holder_ready, &w, 10000, 10))
        fail_msg("%s did not make its namespaces in 10 s (is util-linux's unshare there?)",
                 argv[0]);
    return h;
}

static char *ns_of(pid_t pid, const char *ns)
{
    char path[64], buf[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    return strdup(buf);
}

/* ---- strata-run ---- */

/* create leaves a process holding stdio: no pipes, stderr through a file. */
static int create_quiet(struct st_srunfx *f, char **err)
{
    return ST_SRUN_Q(f, err, "create", "--bundle", f->bundle, f->id);
}

static json_t *linux_of(json_t *spec)
{
    return json_object_get(spec, "linux");
}

/* run: exit status, stdout in *out; fails the test on a nonzero exit.
 * noinline: inlined, GCC 12's -Wdangling-pointer (Release) takes what it
 * returns for a pointer to its local. */
static __attribute__((noinline)) char *run_ok(struct st_srunfx *f, json_t *spec)
{
    st_srunfx_save_spec(f, spec);
    char *out = NULL, *err = NULL;
    int rc = ST_SRUN(f, &out, &err, "run", "--bundle", f->bundle, f->id);
    if (rc != 0)
        fail_msg("run exited %d: stdout \"%s\" stderr \"%s\"", rc, out, err);
    free(err);
    return out;
}

/* The first line of a cgroup file of container id, wherever its
 * controller is mounted; NULL when no such file. */
static char *cg_read(const char *id, const char *ctrl, const char *file)
{
    const char *fmts[] = {"/sys/fs/cgroup/%s/strata-%s/%s", "/sys/fs/cgroup/unified/strata-%s/%s",
                          "/sys/fs/cgroup/strata-%s/%s"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        if (i == 0)
            snprintf(path, sizeof(path), fmts[0], ctrl, id, file);
        else
            snprintf(path, sizeof(path), fmts[i], id, file);
        char *s = st_test_read_file(path);
        if (s) {
            s[strcspn(s, "\n")] = '\0';
            return s;
        }
    }
    return NULL;
}

static bool v1_mounted(const char *ctrl)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", ctrl);
    return access(path, F_OK) == 0;
}

/* ---- devices ---- */

static void test_device_nodes(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec =
        st_srunfx_make_spec(f, "stat -c '%a %u %g %t %T %F' /dev/mynull /dev/myfifo /tmp/mydev; "
                               "echo x > /dev/mynull && echo written");
    json_object_set_new(
        linux_of(spec), "devices",
        json_pack("[{s:s, s:s, s:i, s:i, s:i, s:i, s:i}, {s:s, s:s, s:i}, {s:s, s:s, s:i, s:i}]",
                  "path", "/dev/mynull", "type", "c", "major", 1, "minor", 3, "fileMode", 0666,
                  "uid", 1000, "gid", 100, "path", "/dev/myfifo", "type", "p", "fileMode", 0600,
                  "path", "/tmp/mydev", "type", "u", "major", 1, "minor", 5));
    /* outside /dev needs a writable place: the fixture rootfs is shared */
    json_array_append_new(
        json_object_get(spec, "mounts"),
        json_pack("{s:s, s:s, s:s}", "destination", "/tmp", "type", "tmpfs", "source", "tmpfs"));
    char *out = run_ok(f, spec);
    assert_string_equal(out, "666 1000 100 1 3 character special file\n"
                             "600 0 0 0 0 fifo\n"
                             "666 0 0 1 5 character special file\n"
                             "written\n");
    free(out);
    assert_false(st_srunfx_cgroup_exists(f->id));
}

/* A spec running script with the host's /dev/kmsg bound in: a device the
 * rules do not allow (opened write-only, which needs no capability: only
 * the cgroup can refuse it); deny_all: linux.resources.devices denies all
 * but the runtime's defaults. */
static json_t *kmsg_spec(struct st_srunfx *f, const char *script, bool deny_all)
{
    json_t *spec = st_srunfx_make_spec(f, script);
    if (deny_all)
        json_object_set_new(linux_of(spec), "resources",
                            json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
    json_array_append_new(json_object_get(spec, "mounts"),
                          json_pack("{s:s, s:s, s:s, s:[s]}", "destination", "/dev/kmsg", "type",
                                    "bind", "source", "/dev/kmsg", "options", "bind"));
    return spec;
}

static void test_devices_cgroup_v1(void **state)
{
    struct st_srunfx *f = *state;
    if (!v1_mounted("devices"))
        skip(); /* a v2 host: test_bpf_device_program covers it */
    json_t *spec = kmsg_spec(f,
                             "echo x > /dev/null && echo null-ok; head -c 1 /dev/zero | wc -c; "
                             "(: > /dev/kmsg) 2>&1 | grep -o 'Operation not permitted'; "
                             "cat /proc/self/cgroup | grep -c devices:/strata-; sleep 100",
                             true);
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    if (create_quiet(f, &err) != 0)
        fail_msg("create: %s", err);
    free(err);
    /* The kernel's list, before the process runs: only the allowed ones. */
    char path[256];
    snprintf(path, sizeof(path), "/sys/fs/cgroup/devices/strata-%s/devices.list", f->id);
    char *list = st_test_read_file(path);
    assert_non_null(list);
    assert_null(strstr(list, "a *:* rwm"));
    assert_non_null(strstr(list, "c 1:3 rwm"));
    assert_non_null(strstr(list, "c 136:* rwm"));
    assert_null(strstr(list, "c 1:11"));
    free(list);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", "--force", f->id), 0);

    /* And from inside: /dev/null and /dev/zero work, /dev/kmsg is refused. */
    spec = kmsg_spec(f,
                     "echo x > /dev/null && echo null-ok; head -c 1 /dev/zero | wc -c; "
                     "(: > /dev/kmsg) 2>&1 | grep -o 'Operation not permitted'",
                     true);
    char *out = run_ok(f, spec);
    assert_string_equal(out, "null-ok\n1\nOperation not permitted\n");
    free(out);

    /* Control: without the rules the same device opens. */
    spec = kmsg_spec(f, "(: > /dev/kmsg) && echo kmsg-open", false);
    out = run_ok(f, spec);
    assert_string_equal(out, "kmsg-open\n");
    free(out);
}

/* The cgroup2 mount, or NULL. */
static char *cgroup2_mount(void)
{
    FILE *m = fopen("/proc/self/mounts", "r");
    char dev[256], dir[256], type[64];
    char *found = NULL;
    while (m && fscanf(m, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
        if (found == NULL && strcmp(type, "cgroup2") == 0)
            found = strdup(dir);
    if (m)
        fclose(m);
    return found;
}

/* The v2 path on this kernel: the program strata-run attaches on a v2 host,
 * loaded (so the verifier accepts it) and attached to a cgroup2 directory;
 * a process moved there may use /dev/null and is refused /dev/zero. On a
 * hybrid host the cgroup2 mount's programs apply alongside v1's devices
 * cgroup, which allows everything here. */
static void test_bpf_device_program(void **state)
{
    struct st_srunfx *f = *state;
    char *mnt = cgroup2_mount();
    if (mnt == NULL)
        skip();
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/strata-itl-bpf-%s", mnt, f->id);
    free(mnt);
    assert_int_equal(mkdir(dir, 0755), 0);
    const struct st_device_rule rules[] = {
        {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = ST_DEV_ACC_ALL},
        {.allow = true,
         .type = 'c',
         .major = 1,
         .minor = 3,
         .access = ST_DEV_ACC_READ | ST_DEV_ACC_WRITE},
    };
    st_error err = {0};
    int r = st_devices_bpf_attach(dir, rules, 2, &err);
    if (r < 0) {
        rmdir(dir);
        fail_msg("attach: %s", err.msg);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char procs[600];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        int fd = open(procs, O_WRONLY);
        if (fd < 0 || write(fd, "0", 1) != 1)
            _exit(10);
        close(fd);
        int code = 0;
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0)
            code |= 1;
        int zero = open("/dev/zero", O_RDONLY);
        if (zero < 0 && errno == EPERM)
            code |= 2;
        _exit(code);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rmdir(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 3)
        fail_msg("in the cgroup: /dev/null %s, /dev/zero %s (code %d)",
                 WEXITSTATUS(status) & 1 ? "opened" : "refused",
                 WEXITSTATUS(status) & 2 ? "refused with EPERM" : "not refused",
                 WEXITSTATUS(status));
}

/* ---- namespaces ---- */

static void test_join_net_uts_ipc_pid(void **state)
{
    struct fx *fx = *state;
    struct st_srunfx *f = &fx->run;
    char *argv[] = {"unshare", "--net",        "--uts", "--ipc", "--pid",
                    "--fork",  "--kill-child", "sleep", "1000",  NULL};
    struct holder *h = holder_start(fx, true, "net", NULL, argv);
    char path[64];
    json_t *spec = st_srunfx_make_spec(
        f, "for t in net uts ipc pid; do readlink /proc/self/ns/$t; done; hostname; "
           "echo pid=$$; tr '\\0' ' ' < /proc/1/cmdline; echo");
    json_t *nss = json_array();
    json_array_append_new(nss, json_pack("{s:s}", "type", "mount"));
    static const char *const types[][2] = {
        {"network", "net"}, {"uts", "uts"}, {"ipc", "ipc"}, {"pid", "pid"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)h->ns_pid, types[i][1]);
        json_array_append_new(nss, json_pack("{s:s, s:s}", "type", types[i][0], "path", path));
    }
    json_object_set_new(linux_of(spec), "namespaces", nss);
    json_object_set_new(spec, "hostname", json_string("joined-uts"));
    char *out = run_ok(f, spec);
    char expect[512];
    char *net = ns_of(h->ns_pid, "net"), *uts = ns_of(h->ns_pid, "uts"),
         *ipc = ns_of(h->ns_pid, "ipc"), *pid = ns_of(h->ns_pid, "pid");
    /* the holder's sleep is pid 1 there; the container's shell is another */
    snprintf(expect, sizeof(expect), "%s\n%s\n%s\n%s\njoined-uts\n", net, uts, ipc, pid);
    if (strncmp(out, expect, strlen(expect)) != 0 || strstr(out, "sleep 1000 \n") == NULL ||
        strstr(out, "pid=1\n") != NULL)
        fail_msg("expected \"%s...pid=N (not 1)...sleep 1000\", got \"%s\"", expect, out);
    free(out);
    free(net);
    free(uts);
    free(ipc);
    free(pid);
    /* The hostname was set in the joined namespace, for its other members too. */
    char *host = NULL;
    assert_int_equal(st_test_sh(&host, NULL, "nsenter -t %d -u hostname", (int)h->ns_pid), 0);
    assert_string_equal(host, "joined-uts\n");
    free(host);
}

static void test_join_mount_namespace(void **state)
{
    struct fx *fx = *state;
    struct st_srunfx *f = &fx->run;
    char script[2048], marker[600];
    /* The holder's own view: the fixture on fx->mnt, a tmpfs with a marker
     * on its /tmp, a /proc: a mount namespace someone else prepared. */
    snprintf(script, sizeof(script),
             "mount --bind %s %s && mount -t tmpfs t %s/tmp && echo joined > %s/tmp/marker && "
             "mount -t proc proc %s/proc && exec sleep 1000",
             st_test_env("STRATA_TEST_ROOTFS"), fx->mnt, fx->mnt, fx->mnt, fx->mnt);
    snprintf(marker, sizeof(marker), "%s/tmp/marker", fx->mnt);
    char *argv[] = {"unshare", "--mount", "--propagation", "private", "sh", "-c", script, NULL};
    struct holder *h = holder_start(fx, false, NULL, marker, argv);
    json_t *spec = st_srunfx_make_spec(f, "cat /tmp/marker; readlink /proc/self/ns/mnt; echo $$");
    json_object_set_new(json_object_get(spec, "root"), "path", json_string(fx->mnt));
    json_object_set_new(json_object_get(spec, "root"), "readonly", json_false());
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)h->ns_pid);
    json_object_set_new(
        linux_of(spec), "namespaces",
        json_pack("[{s:s, s:s}, {s:s}]", "type", "mount", "path", path, "type", "pid"));
    json_object_del(spec, "mounts");
    json_object_del(spec, "hostname");
    json_object_del(linux_of(spec), "maskedPaths");
    json_object_del(linux_of(spec), "readonlyPaths");
    char *out = run_ok(f, spec);
    char *mnt = ns_of(h->ns_pid, "mnt"), expect[256];
    snprintf(expect, sizeof(expect), "joined\n%s\n1\n", mnt);
    assert_string_equal(out, expect);
    free(out);
    free(mnt);
    /* Nothing was mounted in the joined namespace by strata-run. */
    char *before = NULL, *after = NULL;
    snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)h->ns_pid);
    before = st_test_read_file(path);
    spec = st_srunfx_make_spec(f, "true");
    json_object_set_new(json_object_get(spec, "root"), "path", json_string(fx->mnt));
    json_object_set_new(json_object_get(spec, "root"), "readonly", json_false());
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)h->ns_pid);
    json_object_set_new(linux_of(spec), "namespaces",
                        json_pack("[{s:s, s:s}]", "type", "mount", "path", path));
    json_object_del(spec, "mounts");
    json_object_del(spec, "hostname");
    json_object_del(linux_of(spec), "maskedPaths");
    json_object_del(linux_of(spec), "readonlyPaths");
    free(run_ok(f, spec));
    snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)h->ns_pid);
    after = st_test_read_file(path);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_join_user_namespace(void **state)
{
    struct fx *fx = *state;
    struct st_srunfx *f = &fx->run;
    char *argv[] = {"unshare", "--user", "sleep", "1000", NULL};
    struct holder *h = holder_start(fx, false, "user", NULL, argv);
    /* Its root is host uid 100000, which owns nothing of strata-run's. */
    char path[64];
    static const char *const files[] = {"uid_map", "setgroups", "gid_map"};
    static const char *const values[] = {"0 100000 65536\n", "deny\n", "0 100000 65536\n"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)h->ns_pid, files[i]);
        st_test_write_file(path, values[i]);
    }
    json_t *spec = st_srunfx_make_spec(
        f, "id -u; tr -s ' ' < /proc/self/uid_map; readlink /proc/self/ns/user");
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)h->ns_pid);
    json_object_set_new(linux_of(spec), "namespaces",
                        json_pack("[{s:s}, {s:s}, {s:s}, {s:s, s:s}]", "type", "mount", "type",
                                  "pid", "type", "ipc", "type", "user", "path", path));
    json_object_del(spec, "hostname");
    char *out = run_ok(f, spec);
    char *user = ns_of(h->ns_pid, "user"), expect[256];
    snprintf(expect, sizeof(expect), "0\n 0 100000 65536\n%s\n", user);
    assert_string_equal(out, expect);
    free(out);
    free(user);
}

/* A new cgroup namespace is rooted at the container's own cgroup: it is
 * made after the process was moved there, so every line reads "/". */
static void test_cgroup_namespace_rooted(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec =
        st_srunfx_make_spec(f, "grep -c -v ':/$' /proc/self/cgroup; grep -c . /proc/self/cgroup");
    json_array_append_new(json_object_get(linux_of(spec), "namespaces"),
                          json_pack("{s:s}", "type", "cgroup"));
    json_object_set_new(linux_of(spec), "resources", json_pack("{s:{s:i}}", "pids", "limit", 50));
    st_srunfx_save_spec(f, spec);
    char *out = NULL, *err = NULL;
    /* grep -c exits 1 when it counts 0 */
    ST_SRUN(f, &out, &err, "run", "--bundle", f->bundle, f->id);
    int outside = -1, lines = 0;
    if (sscanf(out, "%d %d", &outside, &lines) != 2 || outside != 0 || lines == 0)
        fail_msg("lines not at the namespace root: \"%s\" (stderr \"%s\")", out, err);
    free(out);
    free(err);
}

/* A path that is not a namespace of its type fails at create. */
static void test_namespace_path_checked(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = st_srunfx_make_spec(f, "true");
    json_array_append_new(json_object_get(linux_of(spec), "namespaces"),
                          json_pack("{s:s, s:s}", "type", "cgroup", "path", "/proc/self/ns/net"));
    json_array_remove(json_object_get(linux_of(spec), "namespaces"), 0); /* the new pid one */
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(create_quiet(f, &err), 1);
    if (strstr(err, "linux.namespaces[4].path /proc/self/ns/net: is a network namespace, not a "
                    "cgroup one") == NULL)
        fail_msg("got \"%s\"", err);
    free(err);
    assert_false(st_srunfx_cgroup_exists(f->id));
}

/* ---- process and resources ---- */

/* CAP_SYS_RESOURCE is in our effective set (lowering the score needs it). */
static bool have_sys_resource(void)
{
    char *st = st_test_read_file("/proc/self/status");
    char *line = st ? strstr(st, "CapEff:") : NULL;
    unsigned long long caps = line ? strtoull(line + 7, NULL, 16) : 0;
    free(st);
    return (caps >> 24) & 1;
}

static void test_oom_score_adj(void **state)
{
    struct st_srunfx *f = *state;
    json_t *spec = st_srunfx_make_spec(f, "cat /proc/self/oom_score_adj");
    json_object_set_new(json_object_get(spec, "process"), "oomScoreAdj", json_integer(321));
    char *out = run_ok(f, spec);
    assert_string_equal(out, "321\n");
    free(out);
    /* Lowering it: honoured with CAP_SYS_RESOURCE, else a clear refusal. */
    spec = st_srunfx_make_spec(f, "cat /proc/self/oom_score_adj");
    json_object_set_new(json_object_get(spec, "process"), "oomScoreAdj", json_integer(-321));
    if (have_sys_resource()) {
        out = run_ok(f, spec);
        assert_string_equal(out, "-321\n");
        free(out);
        return;
    }
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    assert_int_equal(ST_SRUN(f, NULL, &err, "run", "--bundle", f->bundle, f->id), 1);
    if (strstr(err, "process.oomScoreAdj -321: cannot set it: Permission denied") == NULL)
        fail_msg("got \"%s\"", err);
    free(err);
    assert_false(st_srunfx_cgroup_exists(f->id));
}

static void test_personality(void **state)
{
    struct st_srunfx *f = *state;
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    if (strcmp(u.machine, "x86_64") != 0)
        skip(); /* LINUX32 shows i686 only where there is a 32-bit twin */
    json_t *spec = st_srunfx_make_spec(f, "uname -m");
    json_object_set_new(linux_of(spec), "personality", json_pack("{s:s}", "domain", "LINUX32"));
    char *out = run_ok(f, spec);
    assert_string_equal(out, "i686\n");
    free(out);
}

static void test_cgroup_values(void **state)
{
    struct st_srunfx *f = *state;
    /* the first CPU this test may run on */
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
        cpu++;
    char cpus[16];
    snprintf(cpus, sizeof(cpus), "%d", cpu);
    bool v1 = v1_mounted("memory");
    json_t *mem =
        json_pack("{s:I, s:I}", "limit", (json_int_t)64 << 20, "reservation", (json_int_t)32 << 20);
    if (v1) {
        json_object_set_new(mem, "swappiness", json_integer(7));
        json_object_set_new(mem, "disableOOMKiller", json_true());
    }
    json_t *res = json_pack("{s:o, s:{s:s, s:s}, s:{s:i}}", "memory", mem, "cpu", "cpus", cpus,
                            "mems", "0", "pids", "limit", 17);
    bool huge = access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0;
    if (huge)
        json_object_set_new(
            res, "hugepageLimits",
            json_pack("[{s:s, s:I}]", "pageSize", "2MB", "limit", (json_int_t)4 << 20));
    json_t *spec = st_srunfx_make_spec(f, "sleep 100");
    json_object_set_new(linux_of(spec), "resources", res);
    st_srunfx_save_spec(f, spec);
    char *err = NULL;
    if (create_quiet(f, &err) != 0)
        fail_msg("create: %s", err);
    free(err);
    char *s = cg_read(f->id, "cpuset", "cpuset.cpus");
    assert_non_null(s);
    assert_string_equal(s, cpus);
    free(s);
    s = cg_read(f->id, "cpuset", "cpuset.mems");
    assert_string_equal(s, "0");
    free(s);
    s = cg_read(f->id, "pids", "pids.max");
    assert_string_equal(s, "17");
    free(s);
    if (v1) {
        s = cg_read(f->id, "memory", "memory.soft_limit_in_bytes");
        assert_string_equal(s, "33554432");
        free(s);
        s = cg_read(f->id, "memory", "memory.swappiness");
        assert_string_equal(s, "7");
        free(s);
        s = cg_read(f->id, "memory", "memory.oom_control");
        assert_string_equal(s, "oom_kill_disable 1");
        free(s);
    } else {
        s = cg_read(f->id, "memory", "memory.low");
        assert_string_equal(s, "33554432");
        free(s);
    }
    if (huge) {
        s = cg_read(f->id, "hugetlb", "hugetlb.2MB.limit_in_bytes");
        if (s == NULL)
            s = cg_read(f->id, "hugetlb", "hugetlb.2MB.max");
        assert_non_null(s);
        assert_string_equal(s, "4194304");
        free(s);
    }
    /* The process is in them, and they go with delete. */
    char *out = NULL;
    assert_int_equal(ST_SRUN(f, &out, NULL, "state", f->id), 0);
    json_t *st = json_loads(out, 0, NULL);
    free(out);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cgroup",
             (int)json_integer_value(json_object_get(st, "pid")));
    json_decref(st);
    char *cg = st_test_read_file(path);
    char want[128];
    snprintf(want, sizeof(want), "cpuset:/strata-%s", f->id);
    if (v1 && strstr(cg, want) == NULL)
        fail_msg("not in the cpuset cgroup: %s", cg);
    free(cg);
    assert_int_equal(ST_SRUN(f, NULL, NULL, "delete", "--force", f->id), 0);
    assert_false(st_srunfx_cgroup_exists(f->id));
}

/* A limit that cannot be honoured on this host fails create cleanly. */
static void test_refused_at_create(void **state)
{
    struct st_srunfx *f = *state;
    struct {
        const char *key, *json, *expect;
    } cases[] = {
        {"intelRdt", "{\"closID\": \"gold\"}", "linux.intelRdt: Intel RDT"},
        {"resources", "{\"hugepageLimits\": [{\"pageSize\": \"16GB\", \"limit\": 1}]}",
         /* no 16GB pool here; or no hugetlb controller at all */
         "linux.resources.hugepageLimits"},
        {"resources",
         "{\"devices\": [{\"allow\": false}, {\"allow\": true, \"type\": \"c\"}, "
         "{\"allow\": false, \"type\": \"c\", \"major\": 1}]}",
         "linux.resources.devices[2]: denying \"c 1:* rwm\" inside the allowed \"c *:* rwm\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *spec = st_srunfx_make_spec(f, "true");
        json_object_set_new(linux_of(spec), cases[i].key, json_loads(cases[i].json, 0, NULL));
        st_srunfx_save_spec(f, spec);
        char *err = NULL;
        assert_int_equal(create_quiet(f, &err), 1);
        if (strncmp(err, "strata-run: ", 12) != 0 || strstr(err, cases[i].expect) == NULL ||
            strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("case %zu: expected one line naming \"%s\", got \"%s\"", i, cases[i].expect,
                     err);
        free(err);
        assert_false(st_srunfx_cgroup_exists(f->id));
        char *ls = NULL;
        st_test_sh(&ls, NULL, "ls -A %s", f->root);
        assert_string_equal(ls, "");
        free(ls);
    }
}

/* ---- rootfsPropagation ---- */

static void test_rootfs_propagation(void **state)
{
    struct fx *fx = *state;
    struct st_srunfx *f = &fx->run;
    /* A shared mount to be the rootfs (the host's / is private here): the
     * container's root can then be a slave of it, or cut off. */
    assert_int_equal(mount(st_test_env("STRATA_TEST_ROOTFS"), fx->mnt, NULL, MS_BIND, NULL), 0);
    fx->mnt_mounted = true;
    assert_int_equal(mount(NULL, fx->mnt, NULL, MS_SHARED, NULL), 0);
    static const struct {
        const char *prop;
        const char *has, *lacks; /* optional fields of the root's mountinfo line */
    } cases[] = {
        {"slave", "master:", "shared:"},
        {"private", NULL, "master:"},
        {"shared", "shared:", NULL},
        {"unbindable", "unbindable", "master:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *spec = st_srunfx_make_spec(f, "awk '$5 == \"/\"' /proc/self/mountinfo");
        json_object_set_new(json_object_get(spec, "root"), "path", json_string(fx->mnt));
        json_object_set_new(linux_of(spec), "rootfsPropagation", json_string(cases[i].prop));
        char *out = run_ok(f, spec);
        /* the optional fields sit between the options and " - " */
        char *dash = strstr(out, " - ");
        assert_non_null(dash);
        *dash = '\0';
        if ((cases[i].has && strstr(out, cases[i].has) == NULL) ||
            (cases[i].lacks && strstr(out, cases[i].lacks) != NULL))
            fail_msg("%s: root line \"%s\"", cases[i].prop, out);
        free(out);
    }
    /* Nothing the containers mounted came back to the host's shared mount. */
    char *info = st_test_read_file("/proc/self/mountinfo");
    int n = 0;
    for (char *p = info; (p = strstr(p, fx->mnt)) != NULL; p++)
        n++;
    free(info);
    assert_int_equal(n, 1);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_oci_linux: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_cgroup_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bpf_device_program, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_net_uts_ipc_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_mount_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_user_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_namespace_rooted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_namespace_path_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_score_adj, setup, teardown),
        cmocka_unit_test_setup_teardown(test_personality, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_at_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_propagation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
