/* itest_node_pods.c: strata-node running real pods on this host (the
 * fixture is tests/common/node_fx.c: the real binary with --listen, an image
 * store and state dir on a tmpfs, this test as its host). Tests check
 * /proc/mounts and the cgroup trees themselves after each pod_stop. Needs
 * root. */
#include "node_fx.h"
#include "testutil.h"

#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- tests ------------------------------------------------------------ */

/* Events of uid with reason, as the node sent them so far. */
static size_t count_events(struct st_nodefx *fx, const char *uid, const char *reason,
                           json_t **first)
{
    size_t n = 0, i;
    json_t *ev;
    json_array_foreach(fx->events, i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "uid")), uid) != 0 ||
            strcmp(json_string_value(json_object_get(ev, "reason")), reason) != 0)
            continue;
        if (n++ == 0 && first)
            *first = ev;
    }
    return n;
}

static size_t count_substr(const char *s, const char *sub)
{
    size_t n = 0;
    for (const char *p = s ? strstr(s, sub) : NULL; p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* pods_query: the node's answer (new reference to its pods array), which
 * must carry the query's id. */
static json_t *query_pods(struct st_nodefx *fx, int64_t id)
{
    st_error err = {0};
    json_t *q = NULL;
    assert_int_equal(st_proto_pods_query_build(id, &q, &err), 0);
    st_nodefx_send(fx, q);
    _cleanup_json_ json_t *answer = st_nodefx_recv_type(fx, ST_PROTO_PODS);
    int64_t got = -1;
    json_t *pods = NULL;
    if (st_proto_pods_parse(answer, &got, &pods, &err) < 0)
        st_nodefx_fail(fx, "bad pods answer: %s", err.msg);
    assert_int_equal(got, id);
    return json_incref(pods);
}

/* A pod runs, its output arrives as log lines with env expanded, its cgroup
 * has the limits, heartbeats count it, a pods_query lists it; pod_stop's
 * SIGTERM reaches the container (a trap ends it: Succeeded) and nothing is
 * left, nor listed. */
static void test_pod_runs_logs_and_stops(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(
        fx, "hello", uid,
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
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", 1, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    json_t *cs = st_nodefx_container_status(st, 0);
    assert_string_equal(json_string_value(json_object_get(cs, "name")), "main");
    assert_non_null(json_object_get(json_object_get(cs, "state"), "running"));
    assert_true(json_is_string(json_object_get(st, "startedAt")));
    assert_string_equal(json_string_value(json_object_get(st, "namespace")), "itest");
    json_decref(st);

    st_nodefx_wait_log(fx, "hello/main/stdout: hi");
    st_nodefx_wait_log(fx, "hello/main/stdout: greeting=hello hello");
    st_nodefx_wait_log(fx, "hello/main/stderr: to stderr");
    st_nodefx_wait_heartbeat_pods(fx, 1);
    _cleanup_json_ json_t *running = query_pods(fx, 7);
    assert_int_equal(json_array_size(running), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(running, 0), "uid")), uid);
    assert_string_equal(json_string_value(json_object_get(json_array_get(running, 0), "phase")),
                        "Running");

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
    assert_true(st_nodefx_count_cgroups(uid) > 0);
    char name[128];
    snprintf(name, sizeof(name), "strata-%s-main", uid);
    assert_true(st_nodefx_mounts_mention(name));

    json_t *final = st_nodefx_stop_and_check(fx, "hello", uid, 0);
    assert_string_equal(json_string_value(json_object_get(final, "phase")), "Succeeded");
    json_t *term = json_object_get(json_object_get(st_nodefx_container_status(final, 0), "state"),
                                   "terminated");
    assert_non_null(term);
    assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 0);
    assert_string_equal(json_string_value(json_object_get(term, "reason")), "Completed");
    json_decref(final);
    st_nodefx_wait_log(fx, "hello/main/stdout: bye");
    _cleanup_json_ json_t *none = query_pods(fx, 8);
    assert_int_equal(json_array_size(none), 0);
    fx->passed = true;
}

/* A host that reconnects (a restarted stratad) finds the pod in hello and
 * may send pod_run again: it gets the status, never a second copy. */
static void test_readopt_no_second_copy(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(fx, "keep", uid,
                      "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
                      " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"]}]}");
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", 1, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    json_t *started =
        json_object_get(json_object_get(st_nodefx_container_status(st, 0), "state"), "running");
    _cleanup_free_ char *started_at =
        strdup(json_string_value(json_object_get(started, "startedAt")));
    json_decref(st);

    close(fx->fd);
    st_proto_reader_reset(&fx->rd);
    fx->fd = st_nodefx_connect(fx);
    json_t *hello = st_nodefx_recv_type(fx, ST_PROTO_HELLO);
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

    st_nodefx_pod_run(fx, "keep", uid,
                      "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
                      " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"]}]}");
    st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", 1, NULL, 0},
                               ST_NODEFX_WAIT_MS);
    json_t *again =
        json_object_get(json_object_get(st_nodefx_container_status(st, 0), "state"), "running");
    assert_non_null(again);
    assert_string_equal(json_string_value(json_object_get(again, "startedAt")), started_at);
    assert_int_equal(json_integer_value(json_object_get(st, "restartCount")), 0);
    json_decref(st);
    st_nodefx_wait_heartbeat_pods(fx, 1);
    /* one container: its cgroup in each controller of one hierarchy layout */
    char pattern[256];
    glob_t g;
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/memory/strata-%s-*", uid);
    if (glob(pattern, GLOB_ONLYDIR, NULL, &g) == 0)
        assert_int_equal(g.gl_pathc, 1);
    globfree(&g);

    json_decref(st_nodefx_stop_and_check(fx, "keep", uid, 0));
    fx->passed = true;
}

/* An httpGet readiness probe on a named port makes the pod ready; a second
 * container of the pod reaches the first over the pod's shared loopback,
 * and its exec startup probe sees the file it writes then. */
static void test_readiness_and_shared_network(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(
        fx, "web", uid,
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
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", 1, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    for (size_t i = 0; i < 2; i++) {
        json_t *c = st_nodefx_container_status(st, i);
        assert_true(json_is_true(json_object_get(c, "ready")));
        assert_true(json_is_true(json_object_get(c, "started")));
    }
    json_decref(st);
    st_nodefx_wait_log(fx, "web/client/stdout: hello from strata");
    json_decref(st_nodefx_stop_and_check(fx, "web", uid, 0));
    fx->passed = true;
}

/* A failing liveness probe gets the container killed and restarted, with
 * the back-off (100 ms base here); restartCount grows; the node reports it
 * as the kubelet's events. */
static void test_liveness_restarts(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(fx, "sick", uid,
                      "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
                      " \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"],"
                      " \"livenessProbe\": {\"tcpSocket\": {\"port\": 9}, \"periodSeconds\": 1,"
                      "   \"failureThreshold\": 1}}]}");
    json_t *st =
        st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Running", -1, NULL, 2}, 30000);
    json_t *last = json_object_get(json_object_get(st_nodefx_container_status(st, 0), "lastState"),
                                   "terminated");
    assert_non_null(last);
    assert_int_equal(json_integer_value(json_object_get(last, "exitCode")), 137);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "Error");
    const char *why = json_string_value(json_object_get(last, "message"));
    if (why == NULL || strstr(why, "Liveness probe failed") == NULL)
        st_nodefx_fail(fx, "lastState.terminated.message \"%s\"", why ? why : "(null)");
    json_decref(st);
    /* and the kubelet's events for it: the failure, the kill, the back-off */
    const char *want[][2] = {{"Unhealthy", "Liveness probe failed: "},
                             {"Killing", "Container main failed liveness probe, will be restarted"},
                             {"BackOff", "Back-off restarting failed container main in pod sick"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *ev = NULL;
        if (count_events(fx, uid, want[i][0], &ev) == 0)
            st_nodefx_fail(fx, "no %s event", want[i][0]);
        const char *text = json_string_value(json_object_get(ev, "message"));
        if (strncmp(text, want[i][1], strlen(want[i][1])) != 0)
            st_nodefx_fail(fx, "%s event \"%s\"", want[i][0], text);
    }
    json_decref(st_nodefx_stop_and_check(fx, "sick", uid, 0));
    fx->passed = true;
}

/* A container over its memory limit ends OOMKilled; with restartPolicy
 * Never the pod is Failed. */
static void test_oom_killed(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(fx, "hog", uid,
                      "{\"restartPolicy\": \"Never\", \"containers\": [{\"name\": \"main\","
                      " \"image\": \"busybox\","
                      " \"command\": [\"dd\", \"if=/dev/zero\", \"of=/dev/shm/fill\", \"bs=1M\","
                      "   \"count=64\"],"
                      " \"resources\": {\"limits\": {\"memory\": \"16Mi\"},"
                      "   \"strataNormalized\": {\"memoryLimitBytes\": 16777216}}}]}");
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Failed", 0, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    assert_string_equal(json_string_value(json_object_get(st, "reason")), "OOMKilled");
    assert_int_equal(json_integer_value(json_object_get(st, "exitCode")), 137);
    json_t *term =
        json_object_get(json_object_get(st_nodefx_container_status(st, 0), "state"), "terminated");
    assert_string_equal(json_string_value(json_object_get(term, "reason")), "OOMKilled");
    json_decref(st);
    json_decref(st_nodefx_stop_and_check(fx, "hog", uid, 0));
    fx->passed = true;
}

/* An image of two layers, stacked as overlay lowers: the top one deletes a
 * file of the base (a whiteout, a 0:0 character device) and replaces a
 * directory whole (opaque: user.overlay.opaque, which the node reads with
 * userxattr); the container runs as the uid:gid it was sent and sees the
 * merged root. */
static void test_layers_stack(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    char *out = NULL, *err = NULL;
    int rc = st_test_sh(
        &out, &err,
        "set -e; t='%s/layers/top'; mkdir -p \"$t/etc\" \"$t/var/www\" && "
        "mknod \"$t/etc/group\" c 0 0 && echo new >\"$t/var/www/new.html\" && "
        "python3 -c 'import os,sys; os.setxattr(sys.argv[1], \"user.overlay.opaque\", b\"y\")' "
        "\"$t/var/www\"",
        fx->images);
    if (rc != 0)
        st_nodefx_fail(fx, "making the top layer: %s", err ? err : "");
    free(out);
    free(err);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(
        fx, "layered", uid,
        "{\"restartPolicy\": \"Never\", \"containers\": [{\"name\": \"main\","
        " \"image\": \"two-layers\", \"imageLayers\": [\"layers/busybox\", \"layers/top\"],"
        " \"securityContext\": {\"runAsUser\": 1234, \"runAsGroup\": 56},"
        " \"command\": [\"sh\", \"-c\", \"test ! -e /etc/group && test -e /etc/passwd &&"
        " test -e /var/www/new.html && test ! -e /var/www/index.html &&"
        " test $(id -u):$(id -g) = 1234:56\"]}]}");
    json_t *st = st_nodefx_wait_status(fx, uid, (struct st_nodefx_want){"Succeeded", 0, NULL, 0},
                                       ST_NODEFX_WAIT_MS);
    json_decref(st);
}

/* Pods the node cannot run fail with a reason; the node keeps going. */
static void test_unrunnable_pods(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *missing = st_nodefx_new_uid(fx), *bad = st_nodefx_new_uid(fx),
                        *tiny = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(fx, "ghost", missing,
                      "{\"containers\": [{\"name\": \"main\", \"image\": \"no-such-image\","
                      " \"command\": [\"true\"]}]}");
    json_t *st = st_nodefx_wait_status(
        fx, missing, (struct st_nodefx_want){"Pending", 0, "ImageNotFound", 0}, ST_NODEFX_WAIT_MS);
    const char *msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "no-such-image") == NULL || strstr(msg, fx->images) == NULL)
        st_nodefx_fail(fx, "ImageNotFound message \"%s\" names neither the image nor %s",
                       msg ? msg : "(null)", fx->images);
    json_decref(st);

    st_nodefx_pod_run(
        fx, "broken", bad,
        "{\"containers\": [{\"name\": \"main\", \"image\": \"busybox\","
        " \"command\": [\"true\"], \"livenessProbe\": {\"httpGet\": {\"port\": \"nope\"}}}]}");
    st = st_nodefx_wait_status(
        fx, bad, (struct st_nodefx_want){"Pending", 0, "CreateContainerConfigError", 0},
        ST_NODEFX_WAIT_MS);
    msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "livenessProbe.httpGet.port") == NULL)
        st_nodefx_fail(fx, "CreateContainerConfigError message \"%s\"", msg ? msg : "(null)");
    json_decref(st);

    /* a limit no process can start under: the kernel's OOM killer ends the
     * setup, and the pod says so (retried after the back-off, as k8s does) */
    st_nodefx_pod_run(fx, "tiny", tiny,
                      "{\"containers\": [{\"name\": \"main\", \"image\": \"busybox\","
                      " \"command\": [\"true\"], \"resources\": {\"limits\": {\"memory\": \"4Ki\"},"
                      "   \"strataNormalized\": {\"memoryLimitBytes\": 4096}}}]}");
    st = st_nodefx_wait_status(fx, tiny,
                               (struct st_nodefx_want){"Pending", 0, "CreateContainerError", 0},
                               ST_NODEFX_WAIT_MS);
    msg = json_string_value(json_object_get(st, "message"));
    if (msg == NULL || strstr(msg, "memory.limit 4096 bytes") == NULL)
        st_nodefx_fail(fx, "CreateContainerError message \"%s\"", msg ? msg : "(null)");
    json_decref(st);

    /* each said so as the kubelet does: a Failed event with the message */
    const char *failed[][2] = {{missing, "no-such-image"},
                               {bad, "livenessProbe.httpGet.port"},
                               {tiny, "memory.limit 4096 bytes"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *ev = NULL;
        if (count_events(fx, failed[i][0], "Failed", &ev) == 0)
            st_nodefx_fail(fx, "pod %s: no Failed event", failed[i][0]);
        const char *text = json_string_value(json_object_get(ev, "message"));
        if (strstr(text, failed[i][1]) == NULL ||
            strcmp(json_string_value(json_object_get(ev, "eventType")), "Warning") != 0)
            st_nodefx_fail(fx, "pod %s: Failed event \"%s\"", failed[i][0], text);
    }

    /* the node goes on: heartbeats count them, pings are answered */
    st_nodefx_wait_heartbeat_pods(fx, 3);
    st_nodefx_wait_heartbeat_pods(fx, 3);
    json_t *ping = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_ping_build(77, &ping, &err), 0);
    st_nodefx_send(fx, ping);
    json_t *pong = st_nodefx_recv_type(fx, ST_PROTO_PONG);
    json_decref(pong);

    json_decref(st_nodefx_stop_and_check(fx, "ghost", missing, 2));
    json_decref(st_nodefx_stop_and_check(fx, "broken", bad, 1));
    json_decref(st_nodefx_stop_and_check(fx, "tiny", tiny, 0));
    fx->passed = true;
}

/* RuntimeDefault seccomp unless Unconfined; the runtime's default
 * capabilities (the containerd/Docker set, 0xa80425fb) only. */
static void test_security_defaults(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(
        fx, "sec", uid,
        "{\"restartPolicy\": \"Never\", \"containers\": ["
        " {\"name\": \"confined\", \"image\": \"busybox\", \"command\": [\"sh\", \"-c\","
        "  \"grep -E '^(Seccomp|CapEff):' /proc/self/status\"]},"
        " {\"name\": \"open\", \"image\": \"busybox\","
        "  \"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\"}},"
        "  \"command\": [\"sh\", \"-c\", \"grep -E '^Seccomp:' /proc/self/status\"]}]}");
    json_decref(st_nodefx_wait_status(
        fx, uid, (struct st_nodefx_want){"Succeeded", 0, "Completed", 0}, ST_NODEFX_WAIT_MS));
    st_nodefx_wait_log(fx, "sec/confined/stdout: Seccomp:\t2");
    st_nodefx_wait_log(fx, "sec/confined/stdout: CapEff:\t00000000a80425fb");
    st_nodefx_wait_log(fx, "sec/open/stdout: Seccomp:\t0");
    json_decref(st_nodefx_stop_and_check(fx, "sec", uid, 0));
    fx->passed = true;
}

/* Starting many pods at once keeps the node's loop busy (each pod is a
 * sandbox, an overlay, a cgroup and a clone: some 5 ms each on a host, far
 * more under TCG), but heartbeats go on at their interval: no gap between
 * two longer than three intervals (or a third of the burst, on a busy
 * host). The interval is short here so that the
 * burst outlasts three of them on a fast host too. Gaps are measured on the
 * node's own uptimeMillis, so the pace at which this test reads does not
 * count. */
#define MANY_PODS  30
#define MANY_HB_MS 25

static void test_heartbeats_while_starting_many_pods(void **state)
{
    struct st_nodefx *fx = *state;
    fx->heartbeat_ms = MANY_HB_MS;
    st_nodefx_start(fx);
    st_nodefx_wait_heartbeat_pods(fx, 0);
    fx->hb_max_gap = 0;
    int64_t hb_before = fx->hb_count;
    char *uids[MANY_PODS];
    char names[MANY_PODS][32];
    bool running[MANY_PODS] = {0};
    long long t0 = st_test_now_ms();
    /* one write after another: the node reads them in one go */
    for (int i = 0; i < MANY_PODS; i++) {
        uids[i] = st_nodefx_new_uid(fx);
        snprintf(names[i], sizeof(names[i]), "many-%d", i);
        st_nodefx_pod_run(
            fx, names[i], uids[i],
            "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\":"
            " \"main\", \"image\": \"busybox\", \"command\": [\"sleep\", \"1000\"]}]}");
    }
    int left = MANY_PODS;
    long long deadline = t0 + 3 * ST_NODEFX_WAIT_MS;
    while (left > 0) {
        json_t *msg = st_nodefx_recv_until(fx, deadline);
        if (msg == NULL)
            st_nodefx_fail(fx, "%d of %d pods not Running within %d ms", left, MANY_PODS,
                           3 * ST_NODEFX_WAIT_MS);
        const char *uid = json_string_value(json_object_get(msg, "uid"));
        const char *phase = json_string_value(json_object_get(msg, "phase"));
        if (strcmp(st_nodefx_type(msg), ST_PROTO_POD_STATUS) == 0 && uid && phase &&
            strcmp(phase, "Running") == 0)
            for (int i = 0; i < MANY_PODS; i++)
                if (!running[i] && strcmp(uids[i], uid) == 0) {
                    running[i] = true;
                    left--;
                }
        json_decref(msg);
    }
    long long took = st_test_now_ms() - t0;
    /* and the heartbeats right after the burst */
    st_nodefx_wait_heartbeat_pods(fx, MANY_PODS);
    print_message("%d pods Running in %lld ms; %lld heartbeats meanwhile, longest gap %lld ms "
                  "(interval %d ms)\n",
                  MANY_PODS, took, (long long)(fx->hb_count - hb_before), (long long)fx->hb_max_gap,
                  MANY_HB_MS);
    /* Heartbeats held up by the burst would leave one gap about as long as
     * the burst; a host busy with other work (2 cores, CI's other builds)
     * may delay any thread by more than three short intervals, so the
     * bound is whichever is larger: three intervals or a third of the
     * burst. */
    long long allowed = took / 3 > 3 * MANY_HB_MS ? took / 3 : 3 * MANY_HB_MS;
    if (fx->hb_max_gap > allowed)
        st_nodefx_fail(fx,
                       "a gap of %lld ms between heartbeats while %d pods started in %lld ms "
                       "(interval %d ms, allowed %lld)",
                       (long long)fx->hb_max_gap, MANY_PODS, took, MANY_HB_MS, allowed);
    for (int i = MANY_PODS - 1; i >= 0; i--) {
        json_decref(st_nodefx_stop_and_check(fx, names[i], uids[i], i));
        free(uids[i]);
    }
    fx->passed = true;
}

/* A readiness probe failing every second: the kubelet's Unhealthy event
 * with the probe's output, once per rate-limit window however often it
 * fails; Created and Started once the container runs. Each probe run adds
 * a line the container prints, so the test sees how many ran. */
static void test_probe_failure_events(void **state)
{
    struct st_nodefx *fx = *state;
    st_nodefx_start(fx);
    _cleanup_free_ char *uid = st_nodefx_new_uid(fx);
    st_nodefx_pod_run(
        fx, "unready", uid,
        "{\"terminationGracePeriodSeconds\": 0, \"containers\": [{\"name\": \"main\","
        " \"image\": \"busybox\","
        " \"command\": [\"sh\", \"-c\", \"touch /tmp/runs; exec tail -f /tmp/runs\"],"
        " \"readinessProbe\": {\"exec\": {\"command\": [\"sh\", \"-c\","
        "   \"echo run >> /tmp/runs; echo not ready; exit 1\"]}, \"periodSeconds\": 1}}]}");
    /* four runs printed: at least three failures were handled */
    long long deadline = st_test_now_ms() + ST_NODEFX_WAIT_MS, first_at = -1;
    while (count_substr(fx->logs, "unready/main/stdout: run\n") < 4) {
        json_t *msg = st_nodefx_recv_until(fx, deadline);
        if (msg == NULL)
            st_nodefx_fail(fx, "fewer than 4 probe runs within %d ms; lines:\n%s",
                           ST_NODEFX_WAIT_MS, fx->logs ? fx->logs : "(none)");
        if (first_at < 0 && count_events(fx, uid, "Unhealthy", NULL) > 0)
            first_at = st_test_now_ms();
        json_decref(msg);
    }
    if (first_at < 0)
        st_nodefx_fail(fx, "no Unhealthy event after 3 failed readiness probes");
    /* all of it within one window, or a second event would be right */
    if (st_test_now_ms() - first_at >= 9000)
        st_nodefx_fail(fx, "probes ran too slowly (%lld ms) to judge the 10 s window",
                       st_test_now_ms() - first_at);
    json_t *ev = NULL;
    size_t n = count_events(fx, uid, "Unhealthy", &ev);
    if (n != 1)
        st_nodefx_fail(fx, "%zu Unhealthy events for 3+ identical failures in one window", n);
    struct st_proto_event e = {0};
    st_error err = {0};
    assert_int_equal(st_proto_event_parse(ev, &e, &err), 0);
    assert_string_equal(e.pod, "unready");
    assert_string_equal(e.ns, "itest");
    assert_string_equal(e.event_type, "Warning");
    if (strncmp(e.message, "Readiness probe failed: ", 24) != 0 ||
        strstr(e.message, "not ready") == NULL)
        st_nodefx_fail(fx, "Unhealthy message \"%s\"", e.message);
    json_t *started = NULL;
    assert_int_equal(count_events(fx, uid, "Created", NULL), 1);
    assert_int_equal(count_events(fx, uid, "Started", &started), 1);
    assert_string_equal(json_string_value(json_object_get(started, "eventType")), "Normal");
    assert_string_equal(json_string_value(json_object_get(started, "message")),
                        "Started container main");
    json_decref(st_nodefx_stop_and_check(fx, "unready", uid, 0));
    fx->passed = true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pod_runs_logs_and_stops, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_readopt_no_second_copy, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_readiness_and_shared_network, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_liveness_restarts, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_oom_killed, st_nodefx_setup, st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_unrunnable_pods, st_nodefx_setup, st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_layers_stack, st_nodefx_setup, st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_security_defaults, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_while_starting_many_pods, st_nodefx_setup,
                                        st_nodefx_teardown),
        cmocka_unit_test_setup_teardown(test_probe_failure_events, st_nodefx_setup,
                                        st_nodefx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
