/* node_fx.c: strata-node running on this host for the integration tests
 * of runtime/node/: the real binary with --listen unix:PATH --images DIR
 * --state-dir DIR, both on a tmpfs the fixture mounts itself (overlayfs
 * takes no upper layer on an overlay; the images dir holds a copy of the
 * busybox fixture as its one layer, layers/busybox, and a container of
 * image NAME gets the layers ["layers/NAME"] as stratad would send them),
 * the test talking the node protocol as the host does, waiting for
 * messages with bounded timeouts, never with sleeps. The
 * teardown stops the node, removes whatever a failed test left (mounts,
 * cgroups) and unmounts the tmpfs, whatever the assertions did. Needs
 * root. */
#include "node_fx.h"
#include "testutil.h"

#include "strata/cleanup.h"

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

/* ---- plumbing ------------------------------------------------------- */

static void show_log(struct st_nodefx *fx)
{
    _cleanup_free_ char *log = fx->log ? st_test_read_file(fx->log) : NULL;
    if (log)
        print_message("---- strata-node log ----\n%s---- end of log ----\n", log);
}

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

int st_nodefx_connect(struct st_nodefx *fx)
{
    struct connect_try t = {.path = fx->sock, .fd = -1};
    if (!st_test_wait_until(try_connect, &t, 10000, 10))
        st_nodefx_fail(fx, "connect %s: %s", fx->sock, strerror(t.err));
    return t.fd;
}

void st_nodefx_send(struct st_nodefx *fx, json_t *msg)
{
    st_error err = {0};
    _cleanup_free_ char *line = NULL;
    if (st_proto_encode(msg, &fx->seq, &line, &err) < 0)
        fail_msg("encode: %s", err.msg);
    json_decref(msg);
    size_t n = strlen(line);
    assert_int_equal(write(fx->fd, line, n), (ssize_t)n);
}

static void note_message(struct st_nodefx *fx, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    st_error err = {0};
    /* one counter for the whole run, whichever thread of the node sent it */
    int64_t seq = st_proto_seq(msg);
    if (seq <= fx->last_seq)
        st_nodefx_fail(fx, "%s message with seq %lld after seq %lld", type, (long long)seq,
                       (long long)fx->last_seq);
    fx->last_seq = seq;
    if (strcmp(type, ST_PROTO_EVENT) == 0) {
        struct st_proto_event ev;
        if (st_proto_event_parse(msg, &ev, &err) < 0)
            st_nodefx_fail(fx, "bad event message: %s", err.msg);
        json_array_append(fx->events, msg);
    } else if (strcmp(type, ST_PROTO_LOG) == 0) {
        struct st_proto_log lg;
        if (st_proto_log_parse(msg, &lg, &err) < 0)
            st_nodefx_fail(fx, "bad log message: %s", err.msg);
        /* the namespace pod_run gave comes back on every line */
        const char *ns = json_string_value(json_object_get(msg, "namespace"));
        if (ns == NULL || strcmp(ns, "itest") != 0)
            st_nodefx_fail(fx, "log message without namespace \"itest\": %s", lg.line);
        char *more = NULL;
        assert_true(asprintf(&more, "%s%s/%s/%s: %s\n", fx->logs ? fx->logs : "", lg.pod,
                             lg.container, lg.stream, lg.line) > 0);
        free(fx->logs);
        fx->logs = more;
    } else if (strcmp(type, ST_PROTO_HEARTBEAT) == 0) {
        struct st_proto_heartbeat hb;
        if (st_proto_heartbeat_parse(msg, &hb, &err) < 0)
            st_nodefx_fail(fx, "bad heartbeat: %s", err.msg);
        fx->hb_pods = hb.pods;
        fx->hb_count++;
        if (fx->hb_uptime >= 0 && hb.uptime_ms - fx->hb_uptime > fx->hb_max_gap)
            fx->hb_max_gap = hb.uptime_ms - fx->hb_uptime;
        fx->hb_uptime = hb.uptime_ms;
    }
}

/* Next message within the deadline, or NULL when it passed. */
json_t *st_nodefx_recv_until(struct st_nodefx *fx, long long deadline)
{
    st_error err = {0};
    for (;;) {
        const char *line = NULL;
        int rc = st_proto_reader_next(&fx->rd, &line, &err);
        if (rc < 0)
            st_nodefx_fail(fx, "reading from strata-node: %s", err.msg);
        if (rc == 1) {
            json_t *msg = NULL;
            if (st_proto_decode(line, &msg, NULL, &err) < 0)
                st_nodefx_fail(fx, "strata-node sent a bad line '%s': %s", line, err.msg);
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
                st_nodefx_fail(fx, "strata-node closed the connection");
            if (rc < 0 && rc != -EAGAIN)
                st_nodefx_fail(fx, "read: %s", err.msg);
        }
    }
}

const char *st_nodefx_type(json_t *msg)
{
    return json_string_value(json_object_get(msg, "type"));
}

/* Reads until a message of type arrives (the others are noted). */
json_t *st_nodefx_recv_type(struct st_nodefx *fx, const char *type)
{
    long long deadline = st_test_now_ms() + ST_NODEFX_WAIT_MS;
    json_t *msg;
    while ((msg = st_nodefx_recv_until(fx, deadline)) != NULL) {
        if (strcmp(st_nodefx_type(msg), type) == 0)
            return msg;
        json_decref(msg);
    }
    st_nodefx_fail(fx, "no %s message from strata-node within %d ms", type, ST_NODEFX_WAIT_MS);
    return NULL;
}

static bool status_matches(json_t *msg, const char *uid, const struct st_nodefx_want *w)
{
    struct st_proto_pod_status ps = {0};
    st_error err = {0};
    if (strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) != 0)
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
json_t *st_nodefx_wait_status(struct st_nodefx *fx, const char *uid, struct st_nodefx_want w,
                              int timeout_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    json_t *msg, *last = NULL;
    while ((msg = st_nodefx_recv_until(fx, deadline)) != NULL) {
        if (status_matches(msg, uid, &w)) {
            json_decref(last);
            return msg;
        }
        if (strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) == 0) {
            json_decref(last);
            last = msg;
        } else {
            json_decref(msg);
        }
    }
    _cleanup_free_ char *seen = last ? json_dumps(last, JSON_COMPACT) : NULL;
    json_decref(last);
    st_nodefx_fail(
        fx,
        "pod %s: no pod_status with phase %s ready %d reason %s restarts >= %d within %d "
        "ms; last status: %s",
        uid, w.phase ? w.phase : "*", w.ready, w.reason ? w.reason : "*", w.min_restarts,
        timeout_ms, seen ? seen : "(none)");
    return NULL;
}

/* Waits until the log line "pod/container/stream: line" arrived. */
void st_nodefx_wait_log(struct st_nodefx *fx, const char *entry)
{
    _cleanup_free_ char *want = NULL;
    assert_true(asprintf(&want, "%s\n", entry) > 0);
    long long deadline = st_test_now_ms() + ST_NODEFX_WAIT_MS;
    while (fx->logs == NULL || strstr(fx->logs, want) == NULL) {
        json_t *msg = st_nodefx_recv_until(fx, deadline);
        if (msg == NULL)
            st_nodefx_fail(fx, "no log line \"%s\" within %d ms; lines so far:\n%s", entry,
                           ST_NODEFX_WAIT_MS, fx->logs ? fx->logs : "(none)");
        json_decref(msg);
    }
}

/* Waits for a heartbeat (after the current one) saying pods == n. */
void st_nodefx_wait_heartbeat_pods(struct st_nodefx *fx, int64_t n)
{
    long long deadline = st_test_now_ms() + ST_NODEFX_WAIT_MS;
    int64_t seen = fx->hb_count;
    while (fx->hb_count == seen || fx->hb_pods != n) {
        json_t *msg = st_nodefx_recv_until(fx, deadline);
        if (msg == NULL)
            st_nodefx_fail(fx, "no heartbeat with pods = %lld within %d ms (last: %lld)",
                           (long long)n, ST_NODEFX_WAIT_MS, (long long)fx->hb_pods);
        json_decref(msg);
    }
}

char *st_nodefx_new_uid(struct st_nodefx *fx)
{
    char *uid = NULL;
    assert_true(asprintf(&uid, "%s-%d", fx->uid_prefix, ++fx->n_pods) > 0);
    return uid;
}

/* pod_run with the spec given as JSON text, in namespace "itest" (an
 * extra field stratad sends; the node echoes it). */
void st_nodefx_pod_run(struct st_nodefx *fx, const char *pod, const char *uid,
                       const char *spec_text)
{
    json_error_t jerr;
    _cleanup_json_ json_t *spec = json_loads(spec_text, 0, &jerr);
    if (spec == NULL)
        fail_msg("test spec: %s: %s", jerr.text, spec_text);
    /* as stratad resolves an image: the fixture's store has one layer per
     * image name, layers/NAME (the busybox rootfs is layers/busybox) */
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        const char *image = json_string_value(json_object_get(c, "image"));
        if (image && json_object_get(c, "imageLayers") == NULL)
            json_object_set_new(c, "imageLayers", json_pack("[s+]", "layers/", image));
    }
    struct st_proto_pod_run pr = {.pod = pod, .uid = uid, .spec = spec};
    json_t *msg = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_run_build(&pr, &msg, &err), 0);
    json_object_set_new(msg, "namespace", json_string("itest"));
    st_nodefx_send(fx, msg);
}

void st_nodefx_pod_stop(struct st_nodefx *fx, const char *pod, const char *uid)
{
    struct st_proto_pod_stop ps = {.pod = pod, .uid = uid};
    json_t *msg = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_stop_build(&ps, &msg, &err), 0);
    st_nodefx_send(fx, msg);
}

/* cgroup folders of the pod's containers, in every hierarchy. */
size_t st_nodefx_count_cgroups(const char *uid)
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

bool st_nodefx_mounts_mention(const char *what)
{
    _cleanup_free_ char *mounts = st_test_read_file("/proc/self/mounts");
    assert_non_null(mounts);
    return strstr(mounts, what) != NULL;
}

/* After the final status of a stopped pod: nothing of it is left. */
void st_nodefx_assert_pod_gone(struct st_nodefx *fx, const char *uid)
{
    char name[128];
    snprintf(name, sizeof(name), "strata-%s-", uid);
    if (st_nodefx_mounts_mention(name))
        st_nodefx_fail(fx, "pod %s: a mount is left in /proc/mounts", uid);
    if (st_nodefx_count_cgroups(uid) != 0)
        st_nodefx_fail(fx, "pod %s: cgroups are left", uid);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/pods/%s", fx->state, uid);
    struct stat st;
    if (stat(dir, &st) == 0)
        st_nodefx_fail(fx, "pod %s: %s is left", uid, dir);
}

/* pod_stop, then the final status ("removed"), then a heartbeat without
 * the pod; nothing of it may be left. Returns the final status. */
json_t *st_nodefx_stop_and_check(struct st_nodefx *fx, const char *pod, const char *uid,
                                 int64_t pods_left)
{
    st_nodefx_pod_stop(fx, pod, uid);
    long long deadline = st_test_now_ms() + ST_NODEFX_WAIT_MS;
    json_t *msg;
    while ((msg = st_nodefx_recv_until(fx, deadline)) != NULL) {
        if (strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) == 0 &&
            strcmp(json_string_value(json_object_get(msg, "uid")), uid) == 0 &&
            json_is_true(json_object_get(msg, "removed")))
            break;
        json_decref(msg);
    }
    if (msg == NULL)
        st_nodefx_fail(fx, "pod %s: no final status within %d ms of pod_stop", uid,
                       ST_NODEFX_WAIT_MS);
    assert_false(json_is_true(json_object_get(msg, "ready")));
    json_t *cs;
    size_t i;
    json_array_foreach(json_object_get(msg, "containerStatuses"), i, cs)
    {
        if (json_object_get(json_object_get(cs, "state"), "running") != NULL)
            st_nodefx_fail(fx, "pod %s: final status with a running container", uid);
    }
    st_nodefx_wait_heartbeat_pods(fx, pods_left);
    st_nodefx_assert_pod_gone(fx, uid);
    return msg;
}

json_t *st_nodefx_container_status(json_t *st, size_t i)
{
    json_t *c = json_array_get(json_object_get(st, "containerStatuses"), i);
    assert_non_null(c);
    return c;
}

/* ---- setup and teardown ----------------------------------------------
 * cmocka skips the teardown when a setup fails, so setup only allocates;
 * each test starts its node with start(), whose failures teardown cleans. */

int st_nodefx_setup(void **state)
{
    struct st_nodefx *fx = calloc(1, sizeof(*fx));
    *state = fx;
    if (fx == NULL)
        return -1;
    fx->fd = -1;
    fx->hb_pods = -1;
    fx->hb_uptime = -1;
    fx->events = json_array();
    st_proto_reader_init(&fx->rd);
    snprintf(fx->uid_prefix, sizeof(fx->uid_prefix), "itp%d", (int)getpid());
    return 0;
}

/* Mounts the tmpfs, fills the image store, starts strata-node and
 * connects as the host (hello with no pods). */
void st_nodefx_start(struct st_nodefx *fx)
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
    int rc = st_test_sh(&out, &err, "mkdir -p '%s/layers' '%s' && cp -a '%s' '%s/layers/busybox'",
                        fx->images, fx->state, st_test_env("STRATA_TEST_ROOTFS"), fx->images);
    if (rc != 0)
        fail_msg("copying the busybox rootfs: %s", err ? err : "");
    free(out);
    free(err);

    _cleanup_free_ char *bin = st_test_bin("strata-node");
    _cleanup_free_ char *listen = NULL;
    assert_true(asprintf(&listen, "unix:%s", fx->sock) > 0);
    char hb_ms[16];
    if (fx->heartbeat_ms <= 0)
        fx->heartbeat_ms = ST_NODEFX_HEARTBEAT_MS;
    snprintf(hb_ms, sizeof(hb_ms), "%d", fx->heartbeat_ms);
    char *argv[16] = {bin,        "--listen",          listen,        "--name",  "pods1",
                      "--images", fx->images,          "--state-dir", fx->state, "--heartbeat-ms",
                      hb_ms,      "--backoff-base-ms", "100"};
    int argc = 13;
    _cleanup_free_ char *cmdline = NULL;
    if (fx->cmdline) {
        /* the node's kernel cmdline, as a VM's domain would carry it */
        assert_true(asprintf(&cmdline, "%s/cmdline", fx->dir) > 0);
        st_test_write_file(cmdline, fx->cmdline);
        argv[argc++] = "--cmdline";
        argv[argc++] = cmdline;
    }
    argv[argc] = NULL;
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
        st_nodefx_fail(fx, "strata-node did not create %s within 10 s", fx->sock);
    fx->fd = st_nodefx_connect(fx);
    json_t *hello = st_nodefx_recv_type(fx, ST_PROTO_HELLO);
    assert_int_equal(json_array_size(json_object_get(hello, "pods")), 0);
    json_decref(hello);
}

static bool node_exited(void *arg)
{
    struct st_nodefx *fx = arg;
    return waitpid(fx->pid, NULL, WNOHANG) == fx->pid;
}

/* Whatever a failed test left: mounts under the tmpfs, then our cgroups
 * (their processes killed first). */
static void remove_leftovers(struct st_nodefx *fx)
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

int st_nodefx_teardown(void **state)
{
    struct st_nodefx *fx = *state;
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
    json_decref(fx->events);
    free(fx);
    return 0;
}
