/* itest_pods_failover.c: pods in real node VMs (TCG here) with a real
 * PostgreSQL, end to end through stratad and stratactl: a 3-replica
 * Deployment with an HTTP readiness probe ready one per node; OOMKilled and
 * restarted with back-off; liveness restarts while readiness only clears
 * ready; a missing image; a killed node's replica moved with no duplicate
 * at any moment; a hung node (QEMU stopped) fenced before its pods move.
 * Domains are strata-pf<pid>-*, removed in teardown, pass or fail. */
#include "cluster.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct st_cluster cl;

static const char *WEB =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: web}\n"
    "spec:\n"
    "  replicas: 3\n"
    "  selector: {matchLabels: {app: web}}\n"
    "  template:\n"
    "    metadata: {labels: {app: web}}\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: httpd\n"
    "        image: busybox\n"
    "        command: [/bin/sh, -c, 'mkdir -p /www && echo ok >/www/index.html "
    "&& echo serving on 8080 && exec httpd -f -p 8080 -h /www']\n"
    "        resources: {requests: {cpu: 100m, memory: 16Mi}, limits: "
    "{memory: 32Mi}}\n"
    "        readinessProbe: {httpGet: {path: /index.html, port: 8080}, "
    "periodSeconds: 1}\n";

static void apply_text(const char *name, const char *text)
{
    st_cluster_apply_text(&cl, name, text);
}

/* The web pods that are not Failed; *ready counts the Ready ones, *nodes
 * the distinct nodes of those. */
static json_t *web_pods(int *ready, int *nodes)
{
    json_t *list = st_cluster_get(&cl, "pods");
    if (list == NULL)
        return NULL;
    json_t *out = json_array();
    const char *seen[16];
    int nseen = 0;
    *ready = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *name = st_json_str(p, "metadata", "name");
        const char *phase = st_json_str(p, "status", "phase");
        if (strncmp(name, "web-", 4) != 0 || (phase && strcmp(phase, "Failed") == 0))
            continue;
        json_array_append(out, p);
        if (!st_json_condition(p, "Ready"))
            continue;
        (*ready)++;
        const char *node = st_json_str(p, "spec", "nodeName");
        bool dup = false;
        for (int k = 0; k < nseen; k++)
            dup |= strcmp(seen[k], node) == 0;
        if (!dup && nseen < 16)
            seen[nseen++] = node;
    }
    *nodes = nseen;
    /* seen[] points into list: count before it goes. */
    json_decref(list);
    return out;
}

static bool web_ready_spread(void *arg)
{
    (void)arg;
    int ready = 0, nodes = 0;
    json_t *pods = web_pods(&ready, &nodes);
    bool ok = pods && json_array_size(pods) == 3 && ready == 3 && nodes == 3;
    json_decref(pods);
    return ok;
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const abc[] = {"a", "b", "c"};
    return st_cluster_up(&cl, "pf", abc, 3);
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    return 0;
}

static void test_ready_one_replica_per_node(void **state)
{
    (void)state;
    apply_text("web", WEB);
    assert_true(st_test_wait_until(web_ready_spread, NULL, 120000, 250));
    json_t *d = st_cluster_get(&cl, "deployment web");
    assert_non_null(d);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(d, "status"), "readyReplicas")), 3);
    json_decref(d);
    /* The container's stdout came back from the VM as log lines. */
    int ready = 0, nodes = 0;
    json_t *pods = web_pods(&ready, &nodes);
    char *out = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &out, NULL, "logs %s",
                                    st_json_str(json_array_get(pods, 0), "metadata", "name")),
                     0);
    assert_non_null(strstr(out, "serving on 8080"));
    free(out);
    json_decref(pods);
}

static bool oom_restarted(void *arg)
{
    (void)arg;
    json_t *p = st_cluster_pod(&cl, "hog");
    json_t *cs = st_pod_container0(p);
    const char *why = st_json_str(json_object_get(cs, "lastState"), "terminated", "reason");
    bool ok = why && strcmp(why, "OOMKilled") == 0 &&
              json_integer_value(json_object_get(cs, "restartCount")) >= 1;
    json_decref(p);
    return ok;
}

static void test_oom_killed_and_restarted(void **state)
{
    (void)state;
    apply_text("hog", "apiVersion: v1\nkind: Pod\nmetadata: {name: hog}\nspec:\n"
                      "  containers:\n  - name: hog\n    image: busybox\n"
                      "    command: [/bin/sh, -c, 'x=0123456789abcdef; while true; do x=$x$x; "
                      "done']\n"
                      "    resources: {limits: {memory: 24Mi}}\n");
    /* The first restart waits out the 10 s back-off base. */
    assert_true(st_test_wait_until(oom_restarted, NULL, 90000, 500));
    char *ev = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &ev, NULL, "events"), 0);
    assert_non_null(strstr(ev, "BackOff"));
    free(ev);
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "delete pod hog"), 0);
}

static bool liveness_restarted(void *arg)
{
    (void)arg;
    json_t *p = st_cluster_pod(&cl, "liveness-fails");
    bool ok = json_integer_value(json_object_get(st_pod_container0(p), "restartCount")) >= 1;
    json_decref(p);
    return ok;
}

static void test_liveness_restarts_readiness_only_unreadies(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof(path), "%s/configs/examples/probes.yaml",
             st_test_env("STRATA_SOURCE_DIR"));
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "apply -f %s", path), 0);
    assert_true(st_test_wait_until(liveness_restarted, NULL, 90000, 500));
    json_t *p = st_cluster_pod(&cl, "readiness-fails");
    assert_non_null(p);
    assert_string_equal(st_json_str(p, "status", "phase"), "Running");
    assert_false(st_json_condition(p, "Ready"));
    assert_int_equal(json_integer_value(json_object_get(st_pod_container0(p), "restartCount")), 0);
    json_decref(p);
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "delete -f %s", path), 0);
}

static bool image_not_found(void *arg)
{
    (void)arg;
    json_t *p = st_cluster_pod(&cl, "ghost");
    const char *why =
        st_json_str(json_object_get(st_pod_container0(p), "state"), "waiting", "reason");
    /* as the kubelet says of an image it may not pull (none names no
     * registry here) and does not have */
    bool ok = why && strcmp(why, "ErrImageNeverPull") == 0 &&
              strcmp(st_json_str(p, "status", "phase"), "Pending") == 0;
    json_decref(p);
    return ok;
}

static void test_missing_image(void **state)
{
    (void)state;
    apply_text("ghost", "apiVersion: v1\nkind: Pod\nmetadata: {name: ghost}\nspec:\n"
                        "  containers:\n  - name: c\n    image: no-such-image\n"
                        "    command: [/bin/true]\n");
    assert_true(st_test_wait_until(image_not_found, NULL, 30000, 250));
    /* The node is fine: the web replicas are still all ready. */
    assert_true(web_ready_spread(NULL));
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "delete pod ghost"), 0);
}

/* Watches until 3 web replicas are ready again, failing if more than 3
 * live web pods are ever seen: a replica never runs twice. */
static void watch_recovery(int timeout_ms)
{
    long long end = st_test_now_ms() + timeout_ms;
    for (;;) {
        int ready = 0, nodes = 0;
        json_t *pods = web_pods(&ready, &nodes);
        assert_non_null(pods);
        assert_true(json_array_size(pods) <= 3);
        json_decref(pods);
        if (ready == 3)
            return;
        assert_true(st_test_now_ms() < end);
        usleep(50 * 1000); /* the polling interval of the watch, not a wait */
    }
}

/* A node that runs a web replica. */
static void replica_node(char *out, size_t len)
{
    int ready = 0, nodes = 0;
    json_t *pods = web_pods(&ready, &nodes);
    assert_non_null(pods);
    snprintf(out, len, "%s", st_json_str(json_array_get(pods, 0), "spec", "nodeName"));
    json_decref(pods);
}

static bool node_phase_is(const char *node, const char *phase)
{
    char what[200];
    snprintf(what, sizeof(what), "node %s", node);
    json_t *n = st_cluster_get(&cl, what);
    const char *ph = st_json_str(json_object_get(n, "status"), "strata", "phase");
    bool ok = ph && strcmp(ph, phase) == 0;
    json_decref(n);
    return ok;
}

static bool node_dead(void *arg)
{
    return node_phase_is(arg, "Dead");
}

static void test_killed_node_replica_moves(void **state)
{
    (void)state;
    char victim[64];
    replica_node(victim, sizeof(victim));
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "node kill %s", victim), 0);
    assert_true(st_test_wait_until(node_dead, victim, 10000, 50));
    watch_recovery(90000);
    char *ev = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &ev, NULL, "events"), 0);
    assert_non_null(strstr(ev, "NodeLost"));
    free(ev);
    int ready = 0, nodes = 0;
    json_t *pods = web_pods(&ready, &nodes);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
        assert_string_not_equal(st_json_str(p, "spec", "nodeName"), victim);
    json_decref(pods);
}

static void test_hung_node_is_fenced(void **state)
{
    (void)state;
    char victim[64];
    replica_node(victim, sizeof(victim));
    /* The VM stops running but its domain stays up: only the missing
     * heartbeats tell. */
    char *pid = NULL;
    st_test_sh(&pid, NULL, "cat /run/libvirt/qemu/strata-%s.pid", victim);
    assert_non_null(pid);
    assert_true(atoi(pid) > 1);
    assert_int_equal(kill(atoi(pid), SIGSTOP), 0);
    free(pid);
    assert_true(st_test_wait_until(node_dead, victim, 20000, 100));
    char *ev = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &ev, NULL, "events"), 0);
    assert_non_null(strstr(ev, "Fenced"));
    free(ev);
    /* Fenced: its domain is destroyed, not merely forgotten (libvirt learns
     * it right after the node is declared dead). */
    assert_true(st_cluster_domain_shut_off(&cl, victim, 10000));
    watch_recovery(90000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_one_replica_per_node),
        cmocka_unit_test(test_oom_killed_and_restarted),
        cmocka_unit_test(test_liveness_restarts_readiness_only_unreadies),
        cmocka_unit_test(test_missing_image),
        cmocka_unit_test(test_killed_node_replica_moves),
        cmocka_unit_test(test_hung_node_is_fenced),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
