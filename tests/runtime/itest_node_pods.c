/* itest_node_pods.c: strata-node running real pods. The test starts the
 * real binary with --listen unix:PATH --images DIR --state-dir DIR, both on
 * a tmpfs the test mounts itself (overlayfs takes no upper layer on an
 * overlay; the images dir holds a copy of the busybox fixture), talks the
 * node protocol as the host does, and waits for messages with bounded
 * timeouts, never with sleeps. The teardown stops the node, removes
 * whatever a failed test left (mounts, cgroups) and unmounts the tmpfs,
 * whatever the assertions did; tests check /proc/mounts and the cgroup
 * trees themselves after each pod_stop. Needs root. */
#include "testutil.h"

#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 20000

struct fixture {
    char *dir; /* mkdtemp on the ordinary disk: socket and node log */
    char *fs;  /* dir/fs: the tmpfs with images/ and state/ */
    char *images, *state, *sock, *log;
    bool mounted;
    bool passed; /* set at the end of each test: otherwise teardown shows the log */
    pid_t pid;
    int fd; /* our connection as the host */
    struct st_proto_reader rd;
    uint64_t seq;
    char *logs;          /* every log message so far: "pod/container/stream: line\n" */
    int64_t hb_pods;     /* "pods" of the last heartbeat, -1 before one */
    int64_t hb_count;    /* heartbeats seen */
    char uid_prefix[32]; /* pod uids of this process: cgroups and mounts are named after them */
    int n_pods;
};

/* ---- plumbing ------------------------------------------------------- */

static void show_log(struct fixture *fx)
{
    _cleanup_free_ char *log = fx->log ? st_test_read_file(fx->log) : NULL;
    if (log)
        print_message("---- strata-node log ----\n%s---- end of log ----\n", log);
}

/* A failure about the node: the teardown shows its log. */
#define fail_node(fx, ...)                                                                         \
    do {                                                                                           \
        (void)(fx);                                                                                \
        fail_msg(__VA_ARGS__);                                                                     \
    } while (0)

static bool sock_exists(void *arg)
{
    struct stat st;
    return stat(arg, &st) == 0 && S_ISSOCK(st.st_mode);
}

struct connect_try {
    const char *path;
    int fd;
    int err;
};

static bool try_connect(void *arg)
{
    struct connect_try *t = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        t->fd = fd;
        return true;
    }
    t->err = errno;
    if (fd >= 0)
        close(fd);
    return false;
}

static int connect_node(struct fixture *fx)
{
    struct connect_try t = {.path = fx->sock, .fd = -1};
    if (!st_test_wait_until(try_connect, &t, 10000, 10))
        fail_node(fx, "connect %s: %s", fx->sock, strerror(t.err));
    return t.fd;
}

static void send_json(struct fixture *fx, json_t *msg)
{
    st_error err = {0};
    _cleanup_free_ char *line = NULL;
    if (st_proto_encode(msg, &fx->seq, &line, &err) < 0)
        fail_msg("encode: %s", err.msg);
    json_decref(msg);
    size_t n = strlen(line);
    assert_int_equal(write(fx->fd, line, n), (ssize_t)n);
}

static void note_message(struct fixture *fx, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    st_error err = {0};
    if (strcmp(type, ST_PROTO_LOG) == 0) {
        struct st_proto_log lg;
        if (st_proto_log_parse(msg, &lg, &err) < 0)
            fail_node(fx, "bad log message: %s", err.msg);
        /* the namespace pod_run gave comes back on every line */
        const char *ns = json_string_value(json_object_get(msg, "namespace"));
        if (ns == NULL || strcmp(ns, "itest") != 0)
            fail_node(fx, "log message without namespace \"itest\": %s", lg.line);
        char *more = NULL;
        assert_true(asprintf(&more, "%s%s/%s/%s: %s\n", fx->logs ? fx->logs : "", lg.pod,
                             lg.container, lg.stream, lg.line) > 0);
        free(fx->logs);
        fx->logs = more;
    } else if (strcmp(type, ST_PROTO_HEARTBEAT) == 0) {
        struct st_proto_heartbeat hb;
        if (st_proto_heartbeat_parse(msg, &hb, &err) < 0)
            fail_node(fx, "bad heartbeat: %s", err.msg);
        fx->hb_pods = hb.pods;
        fx->hb_count++;
    }
}

/* Next message within the deadline, or NULL when it passed. */
static json_t *recv_until(struct fixture *fx, long long deadline)
{
    st_error err = {0};
    for (;;) {
        const char *line = NULL;
        int rc = st_proto_reader_next(&fx->rd, &line, &err);
        if (rc < 0)
            fail_node(fx, "reading from strata-node: %s", err.msg);
        if (rc == 1) {
            json_t *msg = NULL;
            if (st_proto_decode(line, &msg, NULL, &err) < 0)
                fail_node(fx, "strata-node sent a bad line '%s': %s", line, err.msg);
            note_message(fx, msg);
            return msg;
        }
        long long left = deadline - st_test_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = fx->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (p.revents) {
            rc = st_proto_reader_fill(&fx->rd, fx->fd, &err);
            if (rc == 0)
                fail_node(fx, "strata-node closed the connection");
            if (rc < 0 && rc != -EAGAIN)
                fail_node(fx, "read: %s", err.msg);
        }
    }
}

static const char *type_of(json_t *msg)
{
    return json_string_value(json_object_get(msg, "type"));
}

/* Reads until a message of type arrives (the others are noted). */
static json_t *recv_type(struct fixture *fx, const char *type)
{
    long long deadline = st_test_now_ms() + WAIT_MS;
    json_t *msg;
    while ((msg = recv_until(fx, deadline)) != NULL) {
        if (strcmp(type_of(msg), type) == 0)
            return msg;
        json_decref(msg);
    }
    fail_node(fx, "no %s message from strata-node within %d ms", type, WAIT_MS);
    return NULL;
}

/* What a pod_status must show; NULL / -1 = anything. */
struct want {
    const char *phase;
    int ready;
    const char *reason;
    int min_restarts;
};

static bool status_matches(json_t *msg, const char *uid, const struct want *w)
{
    struct st_proto_pod_status ps = {0};
    st_error err = {0};
    if (strcmp(type_of(msg), ST_PROTO_POD_STATUS) != 0)
        return false;
    if (st_proto_pod_status_parse(msg, &ps, &err) < 0)
        fail_msg("bad pod_status: %s", err.msg);
    if (strcmp(ps.uid, uid) != 0)
        return false;
    return (w->phase == NULL || strcmp(ps.phase, w->phase) == 0) &&
           (w->ready < 0 || ps.ready == (w->ready != 0)) &&
           (w->reason == NULL || (ps.reason && strcmp(ps.reason, w->reason) == 0)) &&
           ps.restart_count >= w->min_restarts;
}

/* The first pod_status of uid that matches; fails after timeout_ms. */
static json_t *wait_status(struct fixture *fx, const char *uid, struct want w, int timeout_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    json_t *msg, *last = NULL;
    while ((msg = recv_until(fx, deadline)) != NULL) {
        if (status_matches(msg, uid, &w)) {
            json_decref(last);
            return msg;
        }
        if (strcmp(type_of(msg), ST_PROTO_POD_STATUS) == 0) {
            json_decref(last);
            last = msg;
        } else {
            json_decref(msg);
        }
    }
    _cleanup_free_ char *seen = last ? json_dumps(last, JSON_COMPACT) : NULL;
    json_decref(last);
    fail_node(fx,
              "pod %s: no pod_status with phase %s ready %d reason %s restarts >= %d within %d "
              "ms; last status: %s",
              uid, w.phase ? w.phase : "*", w.ready, w.reason ? w.reason : "*", w.min_restarts,
              timeout_ms, seen ? seen : "(none)");
    return NULL;
}

/* Waits until the log line "pod/container/stream: line" arrived. */
static void wait_log(struct fixture *fx, const char *entry)
{
    _cleanup_free_ char *want = NULL;
    assert_true(asprintf(&want, "%s\n", entry) > 0);
    long long deadline = st_test_now_ms() + WAIT_MS;
    while (fx->logs == NULL || strstr(fx->logs, want) == NULL) {
        json_t *msg = recv_until(fx, deadline);
        if (msg == NULL)
            fail_node(fx, "no log line \"%s\" within %d ms; lines so far:\n%s", entry, WAIT_MS,
                      fx->logs ? fx->logs : "(none)");
        json_decref(msg);
    }
}

/* Waits for a heartbeat (after the current one) saying pods == n. */
static void wait_heartbeat_pods(struct fixture *fx, int64_t n)
{
    long long deadline = st_test_now_ms() + WAIT_MS;
    int64_t seen = fx->hb_count;
    while (fx->hb_count == seen || fx->hb_pods != n) {
        json_t *msg = recv_until(fx, deadline);
        if (msg == NULL)
            fail_node(fx, "no heartbeat with pods = %lld within %d ms (last: %lld)", (long long)n,
                      WAIT_MS, (long long)fx->hb_pods);
        json_decref(msg);
    }
}

static char *new_uid(struct fixture *fx)
{
    char *uid = NULL;
    assert_true(asprintf(&uid, "%s-%d", fx->uid_prefix, ++fx->n_pods) > 0);
    return uid;
}

/* pod_run with the spec given as JSON text, in namespace "itest" (an
 * extra field stratad sends; the node echoes it). */
static void pod_run(struct fixture *fx, const char *pod, const char *uid, const char *spec_text)
{
    json_error_t jerr;
    _cleanup_json_ json_t *spec = json_loads(spec_text, 0, &jerr);
    if (spec == NULL)
        fail_msg("test spec: %s: %s", jerr.text, spec_text);
    struct st_proto_pod_run pr = {.pod = pod, .uid = uid, .spec = spec};
    json_t *msg = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_run_build(&pr, &msg, &err), 0);
    json_object_set_new(msg, "namespace", json_string("itest"));
    send_json(fx, msg);
}

static void pod_stop(struct fixture *fx, const char *pod, const char *uid)
{
    struct st_proto_pod_stop ps = {.pod = pod, .uid = uid};
    json_t *msg = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_stop_build(&ps, &msg, &err), 0);
    send_json(fx, msg);
}

/* cgroup folders of the pod's containers, in every hierarchy. */
static size_t count_cgroups(const char *uid)
{
    char pattern[256];
    size_t n = 0;
    const char *where[] = {"/sys/fs/cgroup/*/strata-%s-*", "/sys/fs/cgroup/strata-%s-*"};
    for (size_t i = 0; i < 2; i++) {
        glob_t g;
        snprintf(pattern, sizeof(pattern), where[i], uid);
        if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0)
            n += g.gl_pathc;
        globfree(&g);
    }
    return n;
}

static bool mounts_mention(const char *what)
{
    _cleanup_free_ char *mounts = st_test_read_file("/proc/self/mounts");
    assert_non_null(mounts);
    return strstr(mounts, what) != NULL;
}

/* After the final status of a stopped pod: nothing of it is left. */
static void assert_pod_gone(struct fixture *fx, const char *uid)
{
    char name[128];
    snprintf(name, sizeof(name), "strata-%s-", uid);
    if (mounts_mention(name))
        fail_node(fx, "pod %s: a mount is left in /proc/mounts", uid);
    if (count_cgroups(uid) != 0)
        fail_node(fx, "pod %s: cgroups are left", uid);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/pods/%s", fx->state, uid);
    struct stat st;
    if (stat(dir, &st) == 0)
        fail_node(fx, "pod %s: %s is left", uid, dir);
}

/* pod_stop, then the final status ("removed"), then a heartbeat without
 * the pod; nothing of it may be left. Returns the final status. */
static json_t *stop_and_check(struct fixture *fx, const char *pod, const char *uid,
                              int64_t pods_left)
{
    pod_stop(fx, pod, uid);
    long long deadline = st_test_now_ms() + WAIT_MS;
    json_t *msg;
    while ((msg = recv_until(fx, deadline)) != NULL) {
        if (strcmp(type_of(msg), ST_PROTO_POD_STATUS) == 0 &&
            strcmp(json_string_value(json_object_get(msg, "uid")), uid) == 0 &&
            json_is_true(json_object_get(msg, "removed")))
            break;
        json_decref(msg);
    }
    if (msg == NULL)
        fail_node(fx, "pod %s: no final status within %d ms of pod_stop", uid, WAIT_MS);
    assert_false(json_is_true(json_object_get(msg, "ready")));
    json_t *cs;
    size_t i;
    json_array_foreach(json_object_get(msg, "containerStatuses"), i, cs)
    {
        if (json_object_get(json_object_get(cs, "state"), "running") != NULL)
            fail_node(fx, "pod %s: final status with a running container", uid);
    }
    wait_heartbeat_pods(fx, pods_left);
    assert_pod_gone(fx, uid);
    return msg;
}

static json_t *container_status(json_t *st, size_t i)
{
    json_t *c = json_array_get(json_object_get(st, "containerStatuses"), i);
    assert_non_null(c);
    return c;
}

/* ---- setup and teardown ----------------------------------------------
 * cmocka skips the teardown when a setup fails, so setup only allocates;
 * each test starts its node with start(), whose failures teardown cleans. */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    *state = fx;
    if (fx == NULL)
        return -1;
    fx->fd = -1;
    fx->hb_pods = -1;
    st_proto_reader_init(&fx->rd);
    snprintf(fx->uid_prefix, sizeof(fx->uid_prefix), "itp%d", (int)getpid());
    return 0;
}

/* Mounts the tmpfs, fills the image store, starts strata-node and
 * connects as the host (hello with no pods). */
static void start(struct fixture *fx)
{
    fx->dir = st_test_mkdtemp("strata-node-pods");
    assert_true(asprintf(&fx->fs, "%s/fs", fx->dir) > 0);
    assert_true(asprintf(&fx->images, "%s/images", fx->fs) > 0);
    assert_true(asprintf(&fx->state, "%s/state", fx->fs) > 0);
    assert_true(asprintf(&fx->sock, "%s/node.sock", fx->dir) > 0);
    assert_true(asprintf(&fx->log, "%s/node.log", fx->dir) > 0);
    assert_int_equal(mkdir(fx->fs, 0755), 0);
    if (mount("strata-itest-pods", fx->fs, "tmpfs", 0, "size=256m,mode=0755") < 0)
        fail_msg("mount tmpfs on %s: %s (run as root)", fx->fs, strerror(errno));
    fx->mounted = true;
    char *out = NULL, *err = NULL;
    int rc = st_test_sh(&out, &err, "mkdir -p '%s/busybox' '%s' && cp -a '%s' '%s/busybox/rootfs'",
                        fx->images, fx->state, st_test_env("STRATA_TEST_ROOTFS"), fx->images);
    if (rc != 0)
        fail_msg("copying the busybox rootfs: %s", err ? err : "");
    free(out);
    free(err);

    _cleanup_free_ char *bin = st_test_bin("strata-node");
    _cleanup_free_ char *listen = NULL;
    assert_true(asprintf(&listen, "unix:%s", fx->sock) > 0);
    char *argv[] = {bin,        "--listen",          listen,        "--name",  "pods1",
                    "--images", fx->images,          "--state-dir", fx->state, "--heartbeat-ms",
                    "200",      "--backoff-base-ms", "100",         NULL};
    fx->pid = fork();
    assert_true(fx->pid >= 0);
    if (fx->pid == 0) {
        /* stdout too: a node left behind must not hold the test's pipes */
        int fd = open(fx->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    if (!st_test_wait_until(sock_exists, fx->sock, 10000, 10))
        fail_node(fx, "strata-node did not create %s within 10 s", fx->sock);
    fx->fd = connect_node(fx);
    json_t *hello = recv_type(fx, ST_PROTO_HELLO);
    assert_int_equal(json_array_size(json_object_get(hello, "pods")), 0);
    json_decref(hello);
}

static bool node_exited(void *arg)
{
    struct fixture *fx = arg;
    return waitpid(fx->pid, NULL, WNOHANG) == fx->pid;
}

/* Whatever a failed test left: mounts under the tmpfs, then our cgroups
 * (their processes killed first). */
static void remove_leftovers(struct fixture *fx)
{
    if (fx->fs == NULL)
        return;
    for (int round = 0; round < 8; round++) {
        _cleanup_free_ char *mounts = st_test_read_file("/proc/self/mounts");
        bool any = false;
        char *save = NULL;
        for (char *line = mounts ? strtok_r(mounts, "\n", &save) : NULL; line;
             line = strtok_r(NULL, "\n", &save)) {
            char src[512], dst[512];
            if (sscanf(line, "%511s %511s", src, dst) == 2 &&
                strncmp(dst, fx->fs, strlen(fx->fs)) == 0 && dst[strlen(fx->fs)] == '/') {
                umount2(dst, MNT_DETACH);
                any = true;
            }
        }
        if (!any)
            break;
    }
    char pattern[256];
    const char *where[] = {"/sys/fs/cgroup/*/strata-%s-*", "/sys/fs/cgroup/strata-%s-*"};
    for (size_t i = 0; i < 2; i++) {
        glob_t g;
        snprintf(pattern, sizeof(pattern), where[i], fx->uid_prefix);
        if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                char procs[600];
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", g.gl_pathv[k]);
                _cleanup_free_ char *pids = st_test_read_file(procs);
                for (char *p = pids; p && *p;) {
                    char *end;
                    long pid = strtol(p, &end, 10);
                    if (end == p)
                        break;
                    kill((pid_t)pid, SIGKILL);
                    p = end;
                }
                for (int tries = 0; tries < 100 && rmdir(g.gl_pathv[k]) < 0 && errno == EBUSY;
                     tries++)
                    usleep(20000); /* bounded: the kernel frees a killed cgroup in ms */
            }
        }
        globfree(&g);
    }
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    if (!fx->passed)
        show_log(fx);
    if (fx->fd >= 0)
        close(fx->fd);
    if (fx->pid > 0) {
        /* SIGTERM: strata-node removes its pods itself */
        kill(fx->pid, SIGTERM);
        if (!st_test_wait_until(node_exited, fx, 20000, 10)) {
            kill(fx->pid, SIGKILL);
            waitpid(fx->pid, NULL, 0);
        }
    }
    remove_leftovers(fx);
    bool unmounted = !fx->mounted;
    if (fx->mounted)
        unmounted = umount2(fx->fs, 0) == 0 || umount2(fx->fs, MNT_DETACH) == 0;
    if (unmounted && fx->dir) /* never rm -rf through a mount */
        st_test_rmrf(fx->dir);
    st_proto_reader_free(&fx->rd);
    free(fx->dir);
    free(fx->fs);
    free(fx->images);
    free(fx->state);
    free(fx->sock);
    free(fx->log);
    free(fx->logs);
    free(fx);
    return 0;
}

/* ---- tests ------------------------------------------------------------ */

/* A pod runs, its output arrives as log lines with env expanded, its cgroup
 * has the limits, heartbeats count it; pod_stop's SIGTERM reaches the
 * container (a trap ends it: Succeeded) and nothing is left. */
static void test_pod_runs_logs_and_stops(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "hello", uid,
            "{\"terminationGracePeriodSeconds\": 30, \"containers\": [{\"name\": \"main\","
            " \"image\": \"busybox\", \"command\": [\"sh\", \"-c\"],"
            " \"args\": [\"trap 'echo bye; exit 0' TERM; echo hi; echo \\\"greeting=$GREETING\\\";"
            " echo $(X) >&2; while :; do sleep 0.1; done\"],"
            " \"env\": [{\"name\": \"GREETING\", \"value\": \"hello $(HOSTNAME)\"},"
            "           {\"name\": \"X\", \"value\": \"to stderr\"}],"
            " \"resources\": {\"limits\": {\"cpu\": \"250m\", \"memory\": \"64Mi\"},"
            "   \"requests\": {\"cpu\": \"100m\", \"memory\": \"16Mi\"},"
            "   \"strataNormalized\": {\"cpuRequestMillis\": 100, \"memoryRequestBytes\": 16777216,"
            "     \"cpuLimitMillis\": 250, \"memoryLimitBytes\": 67108864}}}]}");
    json_t *st = wait_status(fx, uid, (struct want){"Running", 1, NULL, 0}, WAIT_MS);
    json_t *cs = container_status(st, 0);
    assert_string_equal(json_string_value(json_object_get(cs, "name")), "main");
    assert_non_null(json_object_get(json_object_get(cs, "state"), "running"));
    assert_true(json_is_string(json_object_get(st, "startedAt")));
    assert_string_equal(json_string_value(json_object_get(st, "namespace")), "itest");
    json_decref(st);

    wait_log(fx, "hello/main/stdout: hi");
    wait_log(fx, "hello/main/stdout: greeting=hello hello");
    wait_log(fx, "hello/main/stderr: to stderr");
    wait_heartbeat_pods(fx, 1);

    /* the limits: v1 (this host) or v2 (the VMs) files */
    char path[512];
    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/strata-%s-main/memory.limit_in_bytes", uid);
    _cleanup_free_ char *mem = st_test_read_file(path);
    if (mem) {
        assert_int_equal(strtoll(mem, NULL, 10), 64 << 20);
        snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/strata-%s-main/cpu.cfs_quota_us", uid);
        _cleanup_free_ char *quota = st_test_read_file(path);
        assert_non_null(quota);
        assert_int_equal(strtoll(quota, NULL, 10), 25000);
        snprintf(path, sizeof(path), "/sys/fs/cgroup/cpu/strata-%s-main/cpu.shares", uid);
        _cleanup_free_ char *shares = st_test_read_file(path);
        assert_non_null(shares);
        assert_int_equal(strtoll(shares, NULL, 10), 102);
    } else {
        snprintf(path, sizeof(path), "/sys/fs/cgroup/strata-%s-main/memory.max", uid);
        _cleanup_free_ char *max = st_test_read_file(path);
        assert_non_null(max);
        assert_int_equal(strtoll(max, NULL, 10), 64 << 20);
    }
    assert_true(count_cgroups(uid) > 0);
    char name[128];
    snprintf(name, sizeof(name), "strata-%s-main", uid);
    assert_true(mounts_mention(name));

    json_t *final = stop_and_check(fx, "hello", uid, 0);
    assert_string_equal(json_string_value(json_object_get(final, "phase")), "Succeeded");
    json_t *term =
        json_object_get(json_object_get(container_status(final, 0), "state"), "terminated");
    assert_non_null(term);
    assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 0);
    assert_string_equal(json_string_value(json_object_get(term, "reason")), "Completed");
    json_decref(final);
    wait_log(fx, "hello/main/stdout: bye");
    fx->passed = true;
}

/* A host that reconnects (a restarted stratad) finds the pod in hello and
 * may send pod_run again: it gets the status, never a second copy. */
static void test_readopt_no_second_copy(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "keep", uid,
            "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
            " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"]}]}");
    json_t *st = wait_status(fx, uid, (struct want){"Running", 1, NULL, 0}, WAIT_MS);
    json_t *started = json_object_get(json_object_get(container_status(st, 0), "state"), "running");
    _cleanup_free_ char *started_at =
        strdup(json_string_value(json_object_get(started, "startedAt")));
    json_decref(st);

    close(fx->fd);
    st_proto_reader_reset(&fx->rd);
    fx->fd = connect_node(fx);
    json_t *hello = recv_type(fx, ST_PROTO_HELLO);
    json_t *pods = json_object_get(hello, "pods");
    assert_int_equal(json_array_size(pods), 1);
    json_t *p0 = json_array_get(pods, 0);
    st_error err = {0};
    struct st_proto_pod_status ps = {0};
    if (st_proto_pod_status_parse(p0, &ps, &err) < 0)
        fail_msg("hello pods[0] is not a pod_status: %s", err.msg);
    assert_string_equal(ps.uid, uid);
    assert_string_equal(ps.phase, "Running");
    json_decref(hello);

    pod_run(fx, "keep", uid,
            "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
            " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"]}]}");
    st = wait_status(fx, uid, (struct want){"Running", 1, NULL, 0}, WAIT_MS);
    json_t *again = json_object_get(json_object_get(container_status(st, 0), "state"), "running");
    assert_non_null(again);
    assert_string_equal(json_string_value(json_object_get(again, "startedAt")), started_at);
    assert_int_equal(json_integer_value(json_object_get(st, "restartCount")), 0);
    json_decref(st);
    wait_heartbeat_pods(fx, 1);
    /* one container: its cgroup in each controller of one hierarchy layout */
    char pattern[256];
    glob_t g;
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/memory/strata-%s-*", uid);
    if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0)
        assert_int_equal(g.gl_pathc, 1);
    globfree(&g);

    json_decref(stop_and_check(fx, "keep", uid, 0));
    fx->passed = true;
}

/* An httpGet readiness probe on a named port makes the pod ready; a second
 * container of the pod reaches the first over the pod's shared loopback,
 * and its exec startup probe sees the file it writes then. */
static void test_readiness_and_shared_network(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "web", uid,
            "{\"terminationGracePeriodSeconds\": 1, \"containers\": ["
            " {\"name\": \"httpd\", \"image\": \"busybox\","
            "  \"command\": [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/var/www\"],"
            "  \"ports\": [{\"name\": \"http\", \"containerPort\": 8080}],"
            "  \"readinessProbe\": {\"httpGet\": {\"path\": \"/index.html\", \"port\": \"http\"},"
            "    \"periodSeconds\": 1}},"
            " {\"name\": \"client\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\","
            "  \"until wget -qO- http://127.0.0.1:8080/index.html; do sleep 0.1; done;"
            "   touch /tmp/fetched; exec sleep 1000\"],"
            "  \"startupProbe\": {\"exec\": {\"command\": [\"test\", \"-f\", \"/tmp/fetched\"]},"
            "    \"periodSeconds\": 1, \"failureThreshold\": 30}}]}");
    json_t *st = wait_status(fx, uid, (struct want){"Running", 1, NULL, 0}, WAIT_MS);
    for (size_t i = 0; i < 2; i++) {
        json_t *c = container_status(st, i);
        assert_true(json_is_true(json_object_get(c, "ready")));
        assert_true(json_is_true(json_object_get(c, "started")));
    }
    json_decref(st);
    wait_log(fx, "web/client/stdout: hello from strata");
    json_decref(stop_and_check(fx, "web", uid, 0));
    fx->passed = true;
}

/* A failing liveness probe gets the container killed and restarted, with
 * the back-off (100 ms base here); restartCount grows. */
static void test_liveness_restarts(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "sick", uid,
            "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
            " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"],"
            " \"livenessProbe\": {\"tcpSocket\": {\"port\": 9}, \"periodSeconds\": 1,"
            "   \"failureThreshold\": 1}}]}");
    json_t *st = wait_status(fx, uid, (struct want){"Running", -1, NULL, 2}, 30000);
    json_t *last =
        json_object_get(json_object_get(container_status(st, 0), "lastState"), "terminated");
    assert_non_null(last);
    assert_int_equal(json_integer_value(json_object_get(last, "exitCode")), 137);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "Error");
    const char *why = json_string_value(json_object_get(last, "message"));
    if (why == NULL || strstr(why, "Liveness probe failed") == NULL)
        fail_node(fx, "lastState.terminated.message \"%s\"", why ? why : "(null)");
    json_decref(st);
    json_decref(stop_and_check(fx, "sick", uid, 0));
    fx->passed = true;
}

/* A container over its memory limit ends OOMKilled; with restartPolicy
 * Never the pod is Failed. */
static void test_oom_killed(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "hog", uid,
            "{\"restartPolicy\": \"Never\", \"containers\": [{\"name\": \"main\","
            " \"image\": \"busybox\","
            " \"command\": [\"dd\", \"if=/dev/zero\", \"of=/dev/shm/fill\", \"bs=1M\","
            "   \"count=64\"],"
            " \"resources\": {\"limits\": {\"memory\": \"16Mi\"},"
            "   \"strataNormalized\": {\"memoryLimitBytes\": 16777216}}}]}");
    json_t *st = wait_status(fx, uid, (struct want){"Failed", 0, NULL, 0}, WAIT_MS);
    assert_string_equal(json_string_value(json_object_get(st, "reason")), "OOMKilled");
    assert_int_equal(json_integer_value(json_object_get(st, "exitCode")), 137);
    json_t *term = json_object_get(json_object_get(container_status(st, 0), "state"), "terminated");
    assert_string_equal(json_string_value(json_object_get(term, "reason")), "OOMKilled");
    json_decref(st);
    json_decref(stop_and_check(fx, "hog", uid, 0));
    fx->passed = true;
}

/* Pods the node cannot run fail with a reason; the node keeps going. */
static void test_unrunnable_pods(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *missing = new_uid(fx), *bad = new_uid(fx), *tiny = new_uid(fx);
    pod_run(fx, "ghost", missing,
            "{\"containers\": [{\"name\": \"main\", \"image\": \"no-such-image\","
            " \"command\": [\"true\"]}]}");
    json_t *st = wait_status(fx, missing, (struct want){"Pending", 0, "ImageNotFound", 0}, WAIT_MS);
    const char *msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "no-such-image") == NULL || strstr(msg, fx->images) == NULL)
        fail_node(fx, "ImageNotFound message \"%s\" names neither the image nor %s",
                  msg ? msg : "(null)", fx->images);
    json_decref(st);

    pod_run(fx, "broken", bad,
            "{\"containers\": [{\"name\": \"main\", \"image\": \"busybox\","
            " \"command\": [\"true\"], \"livenessProbe\": {\"httpGet\": {\"port\": \"nope\"}}}]}");
    st =
        wait_status(fx, bad, (struct want){"Pending", 0, "CreateContainerConfigError", 0}, WAIT_MS);
    msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "livenessProbe.httpGet.port") == NULL)
        fail_node(fx, "CreateContainerConfigError message \"%s\"", msg ? msg : "(null)");
    json_decref(st);

    /* a limit no process can start under: the kernel's OOM killer ends the
     * setup, and the pod says so (retried after the back-off, as k8s does) */
    pod_run(fx, "tiny", tiny,
            "{\"containers\": [{\"name\": \"main\", \"image\": \"busybox\","
            " \"command\": [\"true\"], \"resources\": {\"limits\": {\"memory\": \"4Ki\"},"
            "   \"strataNormalized\": {\"memoryLimitBytes\": 4096}}}]}");
    st = wait_status(fx, tiny, (struct want){"Pending", 0, "CreateContainerError", 0}, WAIT_MS);
    msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "memory.limit 4096 bytes") == NULL)
        fail_node(fx, "CreateContainerError message \"%s\"", msg ? msg : "(null)");
    json_decref(st);

    /* the node goes on: heartbeats count them, pings are answered */
    wait_heartbeat_pods(fx, 3);
    wait_heartbeat_pods(fx, 3);
    json_t *ping = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_ping_build(77, &ping, &err), 0);
    send_json(fx, ping);
    json_t *pong = recv_type(fx, ST_PROTO_PONG);
    json_decref(pong);

    json_decref(stop_and_check(fx, "ghost", missing, 2));
    json_decref(stop_and_check(fx, "broken", bad, 1));
    json_decref(stop_and_check(fx, "tiny", tiny, 0));
    fx->passed = true;
}

/* RuntimeDefault seccomp unless Unconfined; the runtime's default
 * capabilities (the containerd/Docker set, 0xa80425fb) only. */
static void test_security_defaults(void **state)
{
    struct fixture *fx = *state;
    start(fx);
    _cleanup_free_ char *uid = new_uid(fx);
    pod_run(fx, "sec", uid,
            "{\"restartPolicy\": \"Never\", \"containers\": ["
            " {\"name\": \"confined\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\","
            "  \"grep -E '^(Seccomp|CapEff):' /proc/self/status\"]},"
            " {\"name\": \"open\", \"image\": \"busybox\","
            "  \"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\"}},"
            "  \"command\": [\"sh\", \"-c\", \"grep -E '^Seccomp:' /proc/self/status\"]}]}");
    json_decref(wait_status(fx, uid, (struct want){"Succeeded", 0, "Completed", 0}, WAIT_MS));
    wait_log(fx, "sec/confined/stdout: Seccomp:\t2");
    wait_log(fx, "sec/confined/stdout: CapEff:\t00000000a80425fb");
    wait_log(fx, "sec/open/stdout: Seccomp:\t0");
    json_decref(stop_and_check(fx, "sec", uid, 0));
    fx->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pod_runs_logs_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readopt_no_second_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readiness_and_shared_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_liveness_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrunnable_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_defaults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
