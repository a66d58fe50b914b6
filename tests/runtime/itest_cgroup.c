/* itest_cgroup.c: the cgroup facility on this host's real cgroups, as root:
 * limits read back through libcgroup, attach/list/kill, an OOM kill, the pids
 * limit, destroy, a refused value leaving nothing. The unified (v2) path runs
 * in a re-executed copy of this binary inside a private mount namespace with
 * cgroup2 mounted on /sys/fs/cgroup; limit checks needing controllers this
 * host binds to v1 are skipped there. Every cgroup is named strata-test-*,
 * and teardown removes cgroups and processes even when an assertion fails. */
#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "strata/cgroup.h"

#define MIB (1024 * 1024)

/* cmocka's skip() jumps out of the test; say why first. */
#define SKIP_BECAUSE(why)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "SKIPPED: %s\n", why);                                                     \
        skip();                                                                                    \
    } while (0)

/* ---- fixture: names to remove and children to reap ---- */

struct fx {
    char name[96];    /* the test's cgroup */
    char parent[128]; /* a parent made by a nested test, removed after name */
    pid_t kids[8];
    int nkids;
};

static int fx_setup(void **state)
{
    static int seq;
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->name, sizeof(f->name), "strata-test-%d-%d", (int)getpid(), ++seq);
    *state = f;
    return 0;
}

static void remove_if_there(const char *name)
{
    if (name[0] == '\0')
        return;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_open(name, &cg, &err) == 0) {
        if (st_cgroup_destroy(cg, &err) < 0)
            fprintf(stderr, "teardown: %s\n", err.msg);
        st_cgroup_free(cg);
    }
}

static bool all_reaped(void *arg)
{
    (void)arg;
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p > 0)
            continue;
        return p < 0 && errno == ECHILD;
    }
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < f->nkids; i++)
        kill(f->kids[i], SIGKILL);
    remove_if_there(f->name);
    remove_if_there(f->parent);
    /* Reap our children and the orphans we are subreaper for; bounded, so a
     * survivor cannot hang the suite. */
    if (!st_test_wait_until(all_reaped, NULL, 5000, 10))
        fprintf(stderr, "teardown: some child processes did not exit\n");
    free(f);
    return 0;
}

/* ---- children that wait for "go" so they are attached before they act ---- */

enum kid_job { KID_IDLE, KID_HOG_64M, KID_FORK_BOMB };

struct kid {
    pid_t pid;
    int go;     /* write end: one byte starts the job */
    int report; /* read end: what the job reports */
};

static void kid_run(enum kid_job job, int report)
{
    switch (job) {
    case KID_IDLE:
        for (;;)
            pause();
    case KID_HOG_64M: {
        /* volatile: the compiler may not drop an allocation nobody reads */
        size_t sz = 64 * MIB;
        volatile char *p = malloc(sz);
        if (p == NULL)
            _exit(3);
        for (size_t i = 0; i < sz; i += 4096)
            p[i] = (char)0xa5;
        _exit(p[sz - 4096] == (char)0xa5 ? 0 : 4);
    }
    case KID_FORK_BOMB: {
        int made = 0, first_errno = 0;
        for (int i = 0; i < 10; i++) {
            pid_t p = fork();
            if (p == 0) {
                for (;;)
                    pause();
            }
            if (p < 0) {
                first_errno = errno;
                break;
            }
            made++;
        }
        int msg[2] = {made, first_errno};
        if (write(report, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
            _exit(5);
        for (;;)
            pause();
    }
    }
    _exit(6);
}

static struct kid kid_spawn(struct fx *f, enum kid_job job)
{
    int go[2], rep[2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(rep[0]);
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(7);
        kid_run(job, rep[1]);
    }
    close(go[0]);
    close(rep[1]);
    f->kids[f->nkids++] = pid;
    return (struct kid){.pid = pid, .go = go[1], .report = rep[0]};
}

static void kid_go(struct kid *k)
{
    assert_int_equal(write(k->go, "g", 1), 1);
    close(k->go);
    k->go = -1;
}

/* ---- reading values back through libcgroup ---- */

/* The value of file in controller ctrl of cgroup name, via cgroup_get_cgroup
 * and cgroup_get_value_string; malloc'd. */
static char *lcg_value(const char *name, const char *ctrl, const char *file)
{
    struct cgroup *g = cgroup_new_cgroup(name);
    assert_non_null(g);
    int r = cgroup_get_cgroup(g);
    if (r != 0) {
        cgroup_free(&g);
        fail_msg("cgroup_get_cgroup(%s): %s", name, cgroup_strerror(r));
    }
    struct cgroup_controller *c = cgroup_get_controller(g, ctrl);
    char *v = NULL;
    if (c == NULL || cgroup_get_value_string(c, file, &v) != 0) {
        cgroup_free(&g);
        fail_msg("%s: no %s in controller %s", name, file, ctrl);
    }
    cgroup_free(&g);
    return v;
}

static void assert_value(const char *name, const char *ctrl, const char *file, const char *want)
{
    char *v = lcg_value(name, ctrl, file);
    if (strcmp(v, want) != 0) {
        char got[128];
        snprintf(got, sizeof(got), "%s", v);
        free(v);
        fail_msg("%s %s: got \"%s\", want \"%s\"", name, file, got, want);
    }
    free(v);
}

/* Is name a directory in the hierarchy of ctrl (asked via libcgroup's mount table)? */
static bool dir_in(const char *ctrl, const char *name)
{
    char *mnt = NULL;
    if (cgroup_get_subsys_mount_point(ctrl, &mnt) != 0)
        return false;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", mnt, name);
    free(mnt);
    struct stat st;
    return stat(path, &st) == 0;
}

static const char *const all_ctrls[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

static void assert_gone(const char *name)
{
    for (size_t i = 0; i < sizeof(all_ctrls) / sizeof(all_ctrls[0]); i++)
        if (dir_in(all_ctrls[i], name))
            fail_msg("cgroup %s still exists in %s", name, all_ctrls[i]);
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    assert_int_equal(st_cgroup_open(name, &cg, &err), -ENOENT);
}

static bool pid_listed(struct st_cgroup *cg, pid_t pid)
{
    pid_t *pids = NULL;
    size_t n = 0;
    st_error err = {0};
    if (st_cgroup_pids(cg, &pids, &n, &err) < 0)
        fail_msg("st_cgroup_pids: %s", err.msg);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= pids[i] == pid;
    free(pids);
    return found;
}

static enum st_cgroup_layout layout(void)
{
    enum st_cgroup_layout l;
    st_error err = {0};
    if (st_cgroup_layout(&l, &err) < 0)
        fail_msg("st_cgroup_layout: %s", err.msg);
    return l;
}

/* Unified v2 without the resource controllers (this host's namespace test):
 * creating with a memory limit says so with ENODEV. */
static bool v2_without_limits(void)
{
    if (layout() != ST_CGROUP_UNIFIED_V2)
        return false;
    char *mnt = NULL;
    if (cgroup_get_subsys_mount_point("memory", &mnt) == 0) {
        free(mnt);
        return false;
    }
    return true;
}

/* ---- tests (both layouts) ---- */

static void test_create_reads_back(void **state)
{
    struct fx *f = *state;
    if (v2_without_limits())
        SKIP_BECAUSE("memory/cpu/pids are bound to cgroup v1 on this host: no v2 limits");
    struct st_resources r;
    st_resources_init(&r);
    r.memory_limit = 32 * MIB;
    r.pids_limit = 16;
    r.cpu_quota = 50000;
    r.cpu_period = 100000;
    r.cpu_shares = 512;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    int rc = st_cgroup_create(f->name, &r, &cg, &err);
    if (rc < 0)
        fail_msg("create: %s", err.msg);
    assert_string_equal(st_cgroup_path(cg), f->name);
    st_cgroup_free(cg);

    char mem[32];
    snprintf(mem, sizeof(mem), "%d", 32 * MIB);
    if (layout() == ST_CGROUP_HYBRID_V1) {
        assert_value(f->name, "memory", "memory.limit_in_bytes", mem);
        assert_value(f->name, "pids", "pids.max", "16");
        assert_value(f->name, "cpu", "cpu.cfs_quota_us", "50000");
        assert_value(f->name, "cpu", "cpu.cfs_period_us", "100000");
        assert_value(f->name, "cpu", "cpu.shares", "512");
        /* The cgroup exists in every v1 controller it should. */
        for (size_t i = 0; i < sizeof(all_ctrls) / sizeof(all_ctrls[0]); i++)
            assert_true(dir_in(all_ctrls[i], f->name));
    } else {
        assert_value(f->name, "memory", "memory.max", mem);
        assert_value(f->name, "pids", "pids.max", "16");
        assert_value(f->name, "cpu", "cpu.max", "50000 100000");
        char w[16];
        snprintf(w, sizeof(w), "%llu", (unsigned long long)st_cgroup_shares_to_weight(512));
        assert_value(f->name, "cpu", "cpu.weight", w);
    }
}

static void test_attach_lists_and_kills(void **state)
{
    struct fx *f = *state;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_create(f->name, NULL, &cg, &err) < 0)
        fail_msg("create: %s", err.msg);
    struct kid k = kid_spawn(f, KID_IDLE);
    int rc = st_cgroup_attach(cg, k.pid, &err);
    if (rc < 0) {
        st_cgroup_free(cg);
        fail_msg("attach: %s", err.msg);
    }
    kid_go(&k);
    bool listed = pid_listed(cg, k.pid);
    pid_t *pids = NULL;
    size_t n = 0;
    rc = st_cgroup_pids(cg, &pids, &n, &err);
    free(pids);

    /* Another handle on the same cgroup (as strata-run exec would open it). */
    struct st_cgroup *again = NULL;
    int orc = st_cgroup_open(f->name, &again, &err);
    bool listed_again = orc == 0 && pid_listed(again, k.pid);
    st_cgroup_free(again);

    int krc = st_cgroup_kill(cg, SIGTERM, &err);
    st_cgroup_free(cg);
    int status = 0;
    pid_t w = waitpid(k.pid, &status, 0);
    close(k.report);

    assert_true(listed);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);
    assert_int_equal(orc, 0);
    assert_true(listed_again);
    assert_int_equal(krc, 0);
    assert_int_equal(w, k.pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
}

static void test_oom_kill_detected(void **state)
{
    struct fx *f = *state;
    if (v2_without_limits())
        SKIP_BECAUSE("no v2 memory controller on this host: cannot limit memory");
    struct st_resources r;
    st_resources_init(&r);
    r.memory_limit = 16 * MIB;
    r.memory_swap = 16 * MIB; /* memory+swap = memory: swap cannot hide the overrun */
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_create(f->name, &r, &cg, &err) < 0)
        fail_msg("create: %s", err.msg);
    bool before = true;
    int brc = st_cgroup_oom_killed(cg, &before, &err);

    struct kid k = kid_spawn(f, KID_HOG_64M);
    int arc = st_cgroup_attach(cg, k.pid, &err);
    kid_go(&k);
    int status = 0;
    pid_t w = waitpid(k.pid, &status, 0);
    close(k.report);
    bool after = false;
    int rc = st_cgroup_oom_killed(cg, &after, &err);
    st_cgroup_free(cg);

    assert_int_equal(brc, 0);
    assert_false(before);
    assert_int_equal(arc, 0);
    assert_int_equal(w, k.pid);
    if (!WIFSIGNALED(status))
        fail_msg("the 64 MiB child was not killed (exit status %d)", WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    if (rc < 0)
        fail_msg("oom_killed: %s", err.msg);
    assert_true(after);
}

static void test_pids_limit_stops_fork(void **state)
{
    struct fx *f = *state;
    if (v2_without_limits())
        SKIP_BECAUSE("no v2 pids controller on this host: cannot limit processes");
    struct st_resources r;
    st_resources_init(&r);
    r.pids_limit = 5;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_create(f->name, &r, &cg, &err) < 0)
        fail_msg("create: %s", err.msg);
    struct kid k = kid_spawn(f, KID_FORK_BOMB);
    int arc = st_cgroup_attach(cg, k.pid, &err);
    kid_go(&k);
    int msg[2] = {-1, -1};
    ssize_t got = read(k.report, msg, sizeof(msg));
    close(k.report);
    /* destroy kills the child and its 4 children; we reap them as subreaper */
    st_error derr = {0};
    int drc = st_cgroup_destroy(cg, &derr);
    st_cgroup_free(cg);

    assert_int_equal(arc, 0);
    assert_int_equal(got, (ssize_t)sizeof(msg));
    /* The child is process 1 of 5: four forks succeed, the fifth gets EAGAIN. */
    assert_int_equal(msg[0], 4);
    assert_int_equal(msg[1], EAGAIN);
    if (drc < 0)
        fail_msg("destroy: %s", derr.msg);
    assert_gone(f->name);
}

static void test_destroy_kills_and_removes(void **state)
{
    struct fx *f = *state;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_create(f->name, NULL, &cg, &err) < 0)
        fail_msg("create: %s", err.msg);
    struct kid k = kid_spawn(f, KID_IDLE);
    int arc = st_cgroup_attach(cg, k.pid, &err);
    kid_go(&k);
    close(k.report);
    /* From another handle, as a separate process would. The child is not
     * reaped yet: a zombie must not keep the cgroup alive. */
    struct st_cgroup *other = NULL;
    int orc = st_cgroup_open(f->name, &other, &err);
    int drc = orc == 0 ? st_cgroup_destroy(other, &err) : orc;
    st_cgroup_free(other);
    st_cgroup_free(cg);
    int status = 0;
    pid_t w = waitpid(k.pid, &status, 0);

    assert_int_equal(arc, 0);
    if (drc < 0)
        fail_msg("destroy: %s", err.msg);
    assert_int_equal(w, k.pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_gone(f->name);
}

static void test_refused_value_leaves_nothing(void **state)
{
    struct fx *f = *state;
    if (v2_without_limits())
        SKIP_BECAUSE("no v2 cpu controller on this host: nothing to refuse");
    struct st_resources r;
    st_resources_init(&r);
    r.memory_limit = 32 * MIB;
    r.cpu_quota = 100; /* the kernel wants >= 1000 us */
    r.cpu_period = 100000;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    int rc = st_cgroup_create(f->name, &r, &cg, &err);
    assert_int_equal(rc, -EINVAL);
    assert_null(cg);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.quota"));
    assert_non_null(strstr(err.msg, "refused 100 "));
    assert_gone(f->name);

    /* Nested: the parents this call made go too. */
    char nested[160];
    snprintf(nested, sizeof(nested), "/%s/a/b", f->name);
    st_error_clear(&err);
    rc = st_cgroup_create(nested, &r, &cg, &err);
    assert_int_equal(rc, -EINVAL);
    assert_gone(f->name);
}

static void test_nested_path_and_existing(void **state)
{
    struct fx *f = *state;
    char nested[160];
    snprintf(nested, sizeof(nested), "/%s/pod/ctr/", f->name);
    snprintf(f->parent, sizeof(f->parent), "%s/pod", f->name);
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    if (st_cgroup_create(nested, NULL, &cg, &err) < 0)
        fail_msg("create %s: %s", nested, err.msg);
    char want[200];
    snprintf(want, sizeof(want), "%s/pod/ctr", f->name);
    int same = strcmp(st_cgroup_path(cg), want);

    struct st_cgroup *dup = NULL;
    st_error derr = {0};
    int erc = st_cgroup_create(want, NULL, &dup, &derr);

    st_error xerr = {0};
    int drc = st_cgroup_destroy(cg, &xerr);
    st_cgroup_free(cg);
    struct st_cgroup *leaf = NULL;
    st_error lerr = {0};
    bool leaf_gone = st_cgroup_open(want, &leaf, &lerr) == -ENOENT;
    st_cgroup_free(leaf);
    struct st_cgroup *pod = NULL;
    st_error perr = {0};
    int prc = st_cgroup_open(f->parent, &pod, &perr); /* parents stay */
    st_cgroup_free(pod);

    assert_int_equal(same, 0);
    assert_int_equal(erc, -EEXIST);
    assert_null(dup);
    assert_int_equal(drc, 0);
    assert_true(leaf_gone);
    assert_int_equal(prc, 0);
    /* teardown removes pod, then the top */
    remove_if_there(f->parent);
    f->parent[0] = '\0';
}

static void test_open_missing(void **state)
{
    struct fx *f = *state;
    struct st_cgroup *cg = NULL;
    st_error err = {0};
    assert_int_equal(st_cgroup_open(f->name, &cg, &err), -ENOENT);
    assert_null(cg);
    assert_non_null(strstr(err.msg, f->name));
}

/* ---- the unified v2 path, run in a private mount namespace ---- */

/* With none of memory/cpu/pids on v2, cgroup_v2.c carries the cgroup on the
 * first controller the mount offers (hugetlb here), which enables it in the
 * real v2 root's cgroup.subtree_control. Remember and restore that. */
static char carrier[64];
static bool carrier_was_enabled;

static int v2_group_setup(void **state)
{
    (void)state;
    st_error err = {0};
    if (st_cgroup_init(&err) < 0) {
        fprintf(stderr, "v2: %s\n", err.msg);
        return -1;
    }
    void *h = NULL;
    struct cgroup_mount_point mp;
    int r = cgroup_get_controller_begin(&h, &mp);
    if (h)
        cgroup_get_controller_end(&h);
    if (r != 0 || !v2_without_limits())
        return 0;
    snprintf(carrier, sizeof(carrier), "%.63s", mp.name);
    char line[256] = "";
    r = cgroup_read_value_begin(carrier, "/", "cgroup.subtree_control", &h, line, sizeof(line));
    if (h)
        cgroup_read_value_end(&h);
    carrier_was_enabled = r == 0 && strstr(line, carrier) != NULL;
    return 0;
}

static int v2_group_teardown(void **state)
{
    (void)state;
    if (carrier[0] == '\0' || carrier_was_enabled)
        return 0;
    struct cgroup *g = cgroup_new_cgroup("/");
    struct cgroup_controller *c = g ? cgroup_add_controller(g, carrier) : NULL;
    char v[80];
    snprintf(v, sizeof(v), "-%s", carrier);
    if (c && cgroup_add_value_string(c, "cgroup.subtree_control", v) == 0) {
        int r = cgroup_modify_cgroup(g);
        if (r != 0)
            fprintf(stderr, "v2: cannot restore the root cgroup.subtree_control: %s\n",
                    cgroup_strerror(r));
    }
    if (g)
        cgroup_free(&g);
    return 0;
}

static void test_v2_layout(void **state)
{
    (void)state;
    assert_int_equal(layout(), ST_CGROUP_UNIFIED_V2);
}

static int run_v2_group(void)
{
    /* A private view: lazily drop the host's /sys/fs/cgroup tree and mount the
     * unified hierarchy there, as the node VMs do. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("v2: unshare/mount private");
        return 2;
    }
    umount2("/sys/fs/cgroup", MNT_DETACH);
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) < 0) {
        perror("v2: mount cgroup2 on /sys/fs/cgroup");
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_layout),
        cmocka_unit_test_setup_teardown(test_attach_lists_and_kills, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_kills_and_removes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nested_path_and_existing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_reads_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_oom_kill_detected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pids_limit_stops_fork, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_value_leaves_nothing, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("cgroup_unified_v2", tests, v2_group_setup,
                                       v2_group_teardown);
}

static void test_unified_v2_in_namespace(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *const argv[] = {"itest_cgroup", "--unified-v2", NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* Whatever happened inside, nothing of ours may stay in the host's v2 tree. */
    char *out = NULL;
    st_test_sh(&out, NULL, "ls -d /sys/fs/cgroup/unified/strata-test-* 2>/dev/null");
    bool leftover = out && out[0] != '\0';
    if (leftover)
        st_test_sh(NULL, NULL,
                   "rmdir /sys/fs/cgroup/unified/strata-test-*/*/* "
                   "/sys/fs/cgroup/unified/strata-test-*/* "
                   "/sys/fs/cgroup/unified/strata-test-* 2>/dev/null");
    free(out);
    assert_false(leftover);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    /* Orphaned grandchildren (the fork test) come back to us to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (argc > 1 && strcmp(argv[1], "--unified-v2") == 0)
        return run_v2_group();
    if (geteuid() != 0) {
        fprintf(stderr, "itest_cgroup needs root\n");
        return 77;
    }
    if (layout() != ST_CGROUP_HYBRID_V1)
        fprintf(stderr, "itest_cgroup: this host is unified v2; the v1 tests run on v2\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_reads_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_attach_lists_and_kills, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_oom_kill_detected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pids_limit_stops_fork, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_kills_and_removes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_value_leaves_nothing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_nested_path_and_existing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, fx_setup, fx_teardown),
        cmocka_unit_test(test_unified_v2_in_namespace),
    };
    return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
