/* itest_node_self_fence.c: strata-node's self-fence with real pods on this
 * host (tests/common/node_fx.c: the real binary over a unix socket, this
 * test as its host). A node booted with strata.host_grace_ms= keeps its
 * pods while the host speaks, kills them within the grace plus a second
 * once it goes silent (the processes and cgroups are checked, not only
 * the messages), reports them Failed with reason HostLost, and starts
 * none again until the host's pod_run; with no grace (the default) pods
 * outlive any silence, until a `settings` message sets one. Needs root. */
#include "node_fx.h"
#include "testutil.h"

#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GRACE_MS 1500
/* deadline to pods dead: the target is 1 s */
#define KILL_BOUND_MS 1000

/* a container that ignores SIGTERM: only a SIGKILL ends it in time */
#define SLEEPER_SPEC                                                                               \
    "{\"terminationGracePeriodSeconds\": 30, \"containers\": [{\"name\": \"main\","                \
    " \"image\": \"busybox\", \"command\": [\"sh\", \"-c\"],"                                      \
    " \"args\": [\"trap '' TERM; sleep 1000 & wait; sleep 1000\"]}]}"

#define MAX_PIDS 16

struct pod_procs {
    const char *uid;
    pid_t pid[MAX_PIDS];
    int n;
};

/* The processes in the pod's container cgroups (any hierarchy). */
static void procs_read(struct pod_procs *pp)
{
    char pattern[256];
    const char *where[] = {"/sys/fs/cgroup/*/strata-%s-*/cgroup.procs",
                           "/sys/fs/cgroup/strata-%s-*/cgroup.procs"};
    pp->n = 0;
    for (size_t i = 0; i < 2; i++) {
        glob_t g;
        snprintf(pattern, sizeof(pattern), where[i], pp->uid);
        if (glob(pattern, 0, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            _cleanup_free_ char *text = st_test_read_file(g.gl_pathv[k]);
            for (char *p = text; p && *p;) {
                char *end;
                long pid = strtol(p, &end, 10);
                if (end == p)
                    break;
                bool seen = false;
                for (int j = 0; j < pp->n && !seen; j++)
                    seen = pp->pid[j] == (pid_t)pid;
                if (!seen && pp->n < MAX_PIDS)
                    pp->pid[pp->n++] = (pid_t)pid;
                p = end;
            }
        }
        globfree(&g);
    }
}

/* Gone, or a zombie (dead, not reaped yet). */
static bool pid_dead(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *stat = st_test_read_file(path);
    const char *close_paren = stat ? strrchr(stat, ')') : NULL;
    return stat == NULL || (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

static bool procs_dead(void *arg)
{
    struct pod_procs *pp = arg;
    for (int i = 0; i < pp->n; i++)
        if (!pid_dead(pp->pid[i]))
            return false;
    return true;
}

static bool cgroups_gone(void *arg)
{
    return st_nodefx_count_cgroups(arg) == 0;
}

static bool cgroups_back(void *arg)
{
    return st_nodefx_count_cgroups(arg) > 0;
}

static void send_ping(struct st_nodefx *fx, int64_t id)
{
    json_t *ping = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_ping_build(id, &ping, &err), 0);
    st_nodefx_send(fx, ping);
}

/* A pod_status of uid saying Running and ready. */
static bool is_running(json_t *msg, const char *uid)
{
    const char *muid = json_string_value(json_object_get(msg, "uid"));
    const char *phase = json_string_value(json_object_get(msg, "phase"));
    return strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) == 0 && muid &&
           strcmp(muid, uid) == 0 && phase && strcmp(phase, "Running") == 0 &&
           json_is_true(json_object_get(msg, "ready"));
}

/* The pod runs; its processes (at least the container's init). The host
 * pings every 300 ms meanwhile: a slow start (a loaded host, the
 * sanitizer build) must not look like a silent host. */
static void run_sleeper(struct st_nodefx *fx, const char *pod, const char *uid,
                        struct pod_procs *pp)
{
    st_nodefx_pod_run(fx, pod, uid, SLEEPER_SPEC);
    long long give_up = st_test_now_ms() + ST_NODEFX_WAIT_MS;
    bool running = false;
    for (int64_t id = 1000; !running && st_test_now_ms() < give_up; id++) {
        long long next = st_test_now_ms() + 300;
        json_t *msg;
        while (!running && (msg = st_nodefx_recv_until(fx, next)) != NULL) {
            running = is_running(msg, uid);
            json_decref(msg);
        }
        send_ping(fx, id);
    }
    if (!running)
        st_nodefx_fail(fx, "pod %s: not Running and ready within %d ms", uid, ST_NODEFX_WAIT_MS);
    pp->uid = uid;
    procs_read(pp);
    if (pp->n == 0)
        st_nodefx_fail(fx, "pod %s runs but its cgroups list no process", uid);
}

static void send_grace(struct st_nodefx *fx, int64_t grace_ms)
{
    struct st_proto_settings s = {.has_host_grace_ms = true, .host_grace_ms = grace_ms};
    json_t *msg = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_settings_build(&s, &msg, &err), 0);
    st_nodefx_send(fx, msg);
}

/* Every message until the deadline; fails on a pod_status of uid saying
 * Failed (the node must not fence while the host speaks). */
static void read_until(struct st_nodefx *fx, const char *uid, long long deadline)
{
    json_t *msg;
    while ((msg = st_nodefx_recv_until(fx, deadline)) != NULL) {
        const char *phase = json_string_value(json_object_get(msg, "phase"));
        const char *muid = json_string_value(json_object_get(msg, "uid"));
        if (strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) == 0 && muid &&
            strcmp(muid, uid) == 0 && phase && strcmp(phase, "Failed") == 0)
            st_nodefx_fail(fx, "pod %s failed while the host was speaking: %s", uid,
                           json_string_value(json_object_get(msg, "message")));
        json_decref(msg);
    }
}

/* The host went silent at silent_at (ms): the pod's processes must be dead
 * within grace + KILL_BOUND_MS; returns how long after the deadline. */
static long long expect_fenced(struct st_nodefx *fx, struct pod_procs *pp, long long silent_at,
                               int grace_ms)
{
    long long deadline = silent_at + grace_ms;
    long long budget = deadline + KILL_BOUND_MS - st_test_now_ms();
    if (!st_test_wait_until(procs_dead, pp, (int)(budget > 0 ? budget : 0), 5))
        st_nodefx_fail(fx,
                       "pod %s: its processes still run %d ms after the host went silent "
                       "(grace %d ms)",
                       pp->uid, grace_ms + KILL_BOUND_MS, grace_ms);
    long long dead = st_test_now_ms() - deadline;
    /* and removed: the cgroups go with the container */
    if (!st_test_wait_until(cgroups_gone, (void *)pp->uid, 5000, 10))
        st_nodefx_fail(fx, "pod %s: its cgroups are left after the self-fence", pp->uid);
    json_t *st = st_nodefx_wait_status(
        fx, pp->uid, (struct st_nodefx_want){"Failed", 0, "HostLost", -1}, ST_NODEFX_WAIT_MS);
    const char *message = json_string_value(json_object_get(st, "message"));
    if (message == NULL || strstr(message, "self-fence") == NULL)
        st_nodefx_fail(fx, "HostLost status without the reason in its message: %s",
                       message ? message : "(none)");
    json_t *term =
        json_object_get(json_object_get(st_nodefx_container_status(st, 0), "state"), "terminated");
    if (term == NULL || json_integer_value(json_object_get(term, "signal")) != SIGKILL)
        st_nodefx_fail(fx, "pod %s: the container is not terminated by SIGKILL", pp->uid);
    json_decref(st);
    return dead;
}

/* A figure from the node's log: the number after the last "key", or -1. */
static double log_figure(struct st_nodefx *fx, const char *key)
{
    _cleanup_free_ char *log = st_test_read_file(fx->log);
    const char *p = NULL;
    for (const char *q = log ? strstr(log, key) : NULL; q; q = strstr(q + 1, key))
        p = q;
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* What the node says: when the watchdog sent the SIGKILLs, and when the
 * loop had reaped the pod's processes, after the deadline (ms). */
static void print_node_figures(struct st_nodefx *fx, const char *uid, long long test_ms)
{
    char key[160];
    snprintf(key, sizeof(key), "(uid %s): self-fence: its processes were gone ", uid);
    print_message("self-fence: processes dead %lld ms after the deadline as this test saw it; "
                  "the node's watchdog SIGKILLed them %.1f ms after it, its loop had reaped "
                  "them %.1f ms after it\n",
                  test_ms, log_figure(fx, "containers SIGKILLed "), log_figure(fx, key));
}

/* ---- tests ------------------------------------------------------------ */

/* strata.host_grace_ms=1500: pings keep the pod through twice the grace;
 * silence kills it by SIGKILL (it ignores SIGTERM) within the grace plus
 * KILL_BOUND_MS; the host that speaks again, and a new host after it, see
 * it Failed/HostLost and not restarted; its pod_run runs it afresh. */
static void test_silent_host_fences_pods(void **state)
{
    struct st_nodefx *fx = *state;
    fx->cmdline = "console=ttyS0 quiet strata.host_grace_ms=1500\n";
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    struct pod_procs pp = {0};
    run_sleeper(fx, "guarded", uid, &pp);

    /* a host that speaks every 300 ms, for twice the grace */
    long long until = st_test_now_ms() + 2 * GRACE_MS, silent_at = 0;
    for (int64_t id = 1; st_test_now_ms() < until; id++) {
        send_ping(fx, id);
        silent_at = st_test_now_ms();
        read_until(fx, uid, silent_at + 300);
    }
    procs_read(&pp);
    if (pp.n == 0 || procs_dead(&pp))
        st_nodefx_fail(fx, "pod %s died while the host was speaking", uid);

    /* silence (this test still reads what the node sends) */
    long long dead = expect_fenced(fx, &pp, silent_at, GRACE_MS);
    print_node_figures(fx, uid, dead);
    _cleanup_free_ char *log = st_test_read_file(fx->log);
    if (log == NULL || strstr(log, "host silent for ") == NULL ||
        strstr(log, " pods (self-fence)") == NULL || strstr(log, "host grace 1500 ms") == NULL)
        st_nodefx_fail(fx, "the node's log does not tell of the self-fence");

    /* the host speaks again: nothing restarts by itself (a restart after
     * the fixture's 100 ms back-off would be back within a second) */
    send_ping(fx, 100);
    for (int64_t id = 0; id != 100;) {
        _cleanup_json_ json_t *pong = st_nodefx_recv_type(fx, ST_PROTO_PONG);
        id = json_integer_value(json_object_get(pong, "id"));
    }
    if (st_test_wait_until(cgroups_back, uid, 1500, 20))
        st_nodefx_fail(fx, "pod %s started again without the host's pod_run", uid);
    /* off from here: the rest must not race the grace on a loaded host */
    send_grace(fx, 0);

    /* a new host finds it Failed, HostLost, in hello */
    close(fx->fd);
    st_proto_reader_reset(&fx->rd);
    fx->fd = st_nodefx_connect(fx);
    _cleanup_json_ json_t *hello = st_nodefx_recv_type(fx, ST_PROTO_HELLO);
    json_t *p0 = json_array_get(json_object_get(hello, "pods"), 0);
    assert_non_null(p0);
    assert_string_equal(json_string_value(json_object_get(p0, "uid")), uid);
    assert_string_equal(json_string_value(json_object_get(p0, "phase")), "Failed");
    assert_string_equal(json_string_value(json_object_get(p0, "reason")), "HostLost");

    /* the host still owns it: its pod_run runs it again, from scratch */
    st_nodefx_pod_run(fx, "guarded", uid, SLEEPER_SPEC);
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", 1, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    assert_int_equal(json_integer_value(json_object_get(st, "restartCount")), 0);
    assert_null(json_string_value(json_object_get(st, "reason")));
    json_decref(st);
    struct pod_procs again = {.uid = uid};
    procs_read(&again);
    assert_true(again.n > 0);
    json_decref(st_nodefx_stop_and_check(fx, "guarded", uid, 0));
    fx->passed = true;
}

/* No grace (the default, single-host Strata): pods outlive the host's
 * silence; the host's `settings` then turns the fence on at runtime, and
 * silence from there kills the pod within its grace plus KILL_BOUND_MS. */
static void test_no_grace_then_settings(void **state)
{
    struct st_nodefx *fx = *state;
    fx->cmdline = "console=ttyS0 quiet\n";
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    struct pod_procs pp = {0};
    run_sleeper(fx, "kept", uid, &pp);

    /* the negative case, bounded: 3 s of silence (twice GRACE_MS) */
    if (st_test_wait_until(procs_dead, &pp, 2 * GRACE_MS, 50))
        st_nodefx_fail(fx, "pod %s died while the self-fence is off", uid);
    _cleanup_free_ char *log = st_test_read_file(fx->log);
    if (log == NULL || strstr(log, "host grace 0 ms (off)") == NULL)
        st_nodefx_fail(fx, "the node does not say the self-fence is off");

    send_grace(fx, 1000);
    long long silent_at = st_test_now_ms();
    long long dead = expect_fenced(fx, &pp, silent_at, 1000);
    print_node_figures(fx, uid, dead);

    /* the host forgets the pod: pod_stop removes it for good */
    send_grace(fx, 0);
    json_decref(st_nodefx_stop_and_check(fx, "kept", uid, 0));
    fx->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_host_fences_pods, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_no_grace_then_settings, st_nodefx_setup,
                                        st_nodefx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
