/* test_controller.c: the controllers (deployments, scheduler, node loss, pod
 * status) as passes over the in-memory store: what each pass writes, and
 * that a second pass over a settled store writes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/controller.h"
#include "strata/manifest.h"
#include "strata/store.h"

static const char *DEPLOY_YAML = "apiVersion: apps/v1\n"
                                 "kind: Deployment\n"
                                 "metadata: {name: web}\n"
                                 "spec:\n"
                                 "  replicas: %d\n"
                                 "  selector: {matchLabels: {app: web}}\n"
                                 "  template:\n"
                                 "    metadata: {labels: {app: web}}\n"
                                 "    spec:\n"
                                 "      containers:\n"
                                 "      - name: httpd\n"
                                 "        image: %s\n"
                                 "        resources: {requests: {cpu: 100m, memory: %s}}\n";

static void apply_deploy(st_store *s, int replicas, const char *image, const char *mem)
{
    char text[1024];
    snprintf(text, sizeof(text), DEPLOY_YAML, replicas, image, mem);
    json_t *objs = NULL;
    st_error err = {0};
    assert_int_equal(st_manifest_parse_string("t.yaml", text, strlen(text), &objs, NULL, &err), 0);
    st_store_op op = {.op = ST_STORE_APPLY, .object = json_array_get(objs, 0)};
    assert_int_equal(st_store_apply_batch(s, &op, 1, &err), 0);
    st_store_ops_release(&op, 1);
    json_decref(objs);
}

static void add_node(st_store *s, const char *name, bool ready, long long mem)
{
    json_t *n =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}], s:{s:I, s:I, s:s}}}", "apiVersion", "v1",
                  "kind", "Node", "metadata", "name", name, "status", "conditions", "type", "Ready",
                  "status", ready ? "True" : "False", "strata", "cpuMillis", (json_int_t)1000,
                  "memoryBytes", (json_int_t)mem, "phase", ready ? "Ready" : "NotReady");
    st_error err = {0};
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, n, &out, &err), 0);
    json_decref(out);
    json_decref(n);
}

static json_t *pods(st_store *s)
{
    st_store_query q = {.kind = "Pod"};
    json_t *list = NULL;
    st_error err = {0};
    assert_int_equal(st_store_list(s, &q, &list, &err), 0);
    return list;
}

static const char *pod_node(json_t *p)
{
    return json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
}

static const char *pod_field(json_t *p, const char *f)
{
    return json_string_value(json_object_get(json_object_get(p, "metadata"), f));
}

static int count_events(st_store *s, const char *reason)
{
    st_store_query q = {.kind = "Event"};
    json_t *evs = NULL;
    st_error err = {0};
    assert_int_equal(st_store_list_events(s, &q, &evs, &err), 0);
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        const char *r = json_string_value(json_object_get(e, "reason"));
        n += r && strcmp(r, reason) == 0;
    }
    json_decref(evs);
    return n;
}

static int setup(void **state)
{
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

static void reconcile(st_store *s, int *bound)
{
    st_error err = {0};
    assert_int_equal(st_ctl_deployments(s, &err), 0);
    assert_int_equal(st_ctl_schedule(s, bound, &err), 0);
    assert_int_equal(st_ctl_deployments(s, &err), 0);
}

static void test_deployment_creates_and_spreads(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    add_node(s, "n3", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "16Mi");
    int bound = 0;
    reconcile(s, &bound);
    assert_int_equal(bound, 3);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    int seen[3] = {0};
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        const char *n = pod_node(p);
        assert_non_null(n);
        seen[n[1] - '1']++;
        assert_string_equal(
            json_string_value(json_object_get(
                json_array_get(json_object_get(json_object_get(p, "metadata"), "ownerReferences"),
                               0),
                "name")),
            "web");
        assert_non_null(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"),
                                        "pod-template-hash"));
    }
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
    json_decref(list);
    assert_int_equal(count_events(s, "SuccessfulCreate"), 3);
    assert_int_equal(count_events(s, "Scheduled"), 3);

    /* Settled: another pass creates, binds and records nothing. */
    reconcile(s, &bound);
    assert_int_equal(bound, 0);
    list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    assert_int_equal(count_events(s, "SuccessfulCreate"), 3);

    json_t *d = NULL;
    st_error err = {0};
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &d, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "status"), "replicas")),
                     3);
    json_decref(d);
}

static void test_scale_down_then_up(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 5, "busybox", "16Mi");
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 5);
    json_decref(list);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    list = pods(s);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(count_events(s, "SuccessfulDelete"), 4);
}

static void test_deleted_pod_is_recreated(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    json_t *list = pods(s);
    char victim[256];
    snprintf(victim, sizeof(victim), "%s", pod_field(json_array_get(list, 0), "name"));
    json_decref(list);
    st_error err = {0};
    assert_int_equal(st_store_delete(s, "Pod", "default", victim, NULL, &err), 0);
    reconcile(s, NULL);
    list = pods(s);
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) assert_string_not_equal(pod_field(p, "name"), victim);
    json_decref(list);
}

static void test_unschedulable_says_why_once(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 32LL << 20);
    add_node(s, "n2", false, 1LL << 30);
    apply_deploy(s, 1, "busybox", "64Mi");
    reconcile(s, NULL);
    reconcile(s, NULL);
    json_t *list = pods(s);
    json_t *p = json_array_get(list, 0);
    assert_null(pod_node(p));
    json_t *c = json_array_get(json_object_get(json_object_get(p, "status"), "conditions"), 0);
    const char *msg = json_string_value(json_object_get(c, "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "0/2 nodes"));
    assert_non_null(strstr(msg, "insufficient memory"));
    assert_non_null(strstr(msg, "not ready"));
    json_decref(list);
    assert_int_equal(count_events(s, "FailedScheduling"), 1);
}

static void test_node_lost_replaces_pods_elsewhere(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    st_error err = {0};
    assert_int_equal(
        st_ctl_node_set_ready(s, "n1", "False", "Dead", "NodeLost", "VM stopped", &err), 0);
    int lost = 0;
    assert_int_equal(st_ctl_node_lost(s, "n1", "VM stopped", &lost, &err), 0);
    assert_int_equal(lost, 1);
    assert_int_equal(count_events(s, "NodeLost"), 1);
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) assert_string_equal(pod_node(p), "n2");
    json_decref(list);
    /* Losing it again finds nothing left to lose. */
    assert_int_equal(st_ctl_node_lost(s, "n1", "again", &lost, &err), 0);
    assert_int_equal(lost, 0);
}

static json_t *status_msg(const char *uid, const char *phase, bool ready, int restarts,
                          const char *reason)
{
    struct st_proto_pod_status ps = {.pod = "x",
                                     .uid = uid,
                                     .phase = phase,
                                     .ready = ready,
                                     .restart_count = restarts,
                                     .has_exit_code = reason != NULL,
                                     .exit_code = 137,
                                     .reason = reason};
    json_t *m = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_status_build(&ps, &m, &err), 0);
    return m;
}

static void test_pod_status_from_node(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    json_t *list = pods(s);
    char uid[64], name[256];
    snprintf(uid, sizeof(uid), "%s", pod_field(json_array_get(list, 0), "uid"));
    snprintf(name, sizeof(name), "%s", pod_field(json_array_get(list, 0), "name"));
    json_decref(list);
    st_error err = {0};
    json_t *m = status_msg(uid, "Running", true, 0, NULL);
    assert_int_equal(st_ctl_pod_status(s, "n1", m, &err), 1);
    json_decref(m);
    reconcile(s, NULL);
    json_t *d = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &d, &err), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(d, "status"), "readyReplicas")), 1);
    json_decref(d);

    m = status_msg(uid, "Running", false, 1, "OOMKilled");
    assert_int_equal(st_ctl_pod_status(s, "n1", m, &err), 1);
    json_decref(m);
    json_t *p = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", name, &p, &err), 0);
    json_t *cs =
        json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
    assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(cs, "lastState"), "terminated"), "reason")),
        "OOMKilled");
    json_decref(p);
    assert_int_equal(count_events(s, "BackOff"), 1);

    /* A pod the store does not know (deleted, or from before a restart). */
    m = status_msg("00000000-0000-4000-8000-000000000000", "Running", true, 0, NULL);
    assert_int_equal(st_ctl_pod_status(s, "n1", m, &err), 0);
    json_decref(m);
}

/* Reports every pod on n1 Running and ready, as the node would. */
static void all_ready(st_store *s)
{
    json_t *list = pods(s);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        json_t *m = status_msg(pod_field(p, "uid"), "Running", true, 0, NULL);
        st_error err = {0};
        assert_true(st_ctl_pod_status(s, "n1", m, &err) >= 0);
        json_decref(m);
    }
    json_decref(list);
}

static json_t *pod_on(st_store *s, const char *node)
{
    json_t *list = pods(s);
    json_t *found = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) if (strcmp(pod_node(p), node) == 0) found = json_incref(p);
    json_decref(list);
    assert_non_null(found);
    return found;
}

static const char *status_str(json_t *p, const char *key)
{
    return json_string_value(json_object_get(json_object_get(p, "status"), key));
}

static bool container_ready(json_t *p)
{
    json_t *cs =
        json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
    return json_is_true(json_object_get(cs, "ready"));
}

static void test_silent_node_pods_not_ready_until_heard(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    all_ready(s);
    json_t *p = pod_on(s, "n1");
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", pod_field(p, "uid"));
    assert_true(st_pod_is_ready(p) && container_ready(p));
    json_decref(p);

    st_error err = {0};
    int changed = -1;
    assert_int_equal(st_ctl_node_pods_unknown(s, "n1", "no heartbeat for 3000 ms", &changed, &err),
                     0);
    assert_int_equal(changed, 1);
    p = pod_on(s, "n1");
    /* Still bound and Running, but nobody vouches for it: READY 0/1. */
    assert_string_equal(status_str(p, "phase"), "Running");
    assert_string_equal(status_str(p, "reason"), "NodeLost");
    assert_non_null(strstr(status_str(p, "message"), "no heartbeat for 3000 ms"));
    assert_false(st_pod_is_ready(p));
    assert_false(container_ready(p));
    json_decref(p);
    assert_int_equal(count_events(s, "NodeNotReady"), 1);
    /* Idempotent, and nothing is replaced while the node may still run it. */
    assert_int_equal(st_ctl_node_pods_unknown(s, "n1", "no heartbeat for 3000 ms", &changed, &err),
                     0);
    assert_int_equal(changed, 0);
    assert_int_equal(count_events(s, "NodeNotReady"), 1);
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    /* Heard again: its report (replayed) restores the pod; nothing is left
     * for st_ctl_node_pods_known to clear. */
    json_t *m = status_msg(uid, "Running", true, 0, NULL);
    assert_int_equal(st_ctl_pod_status(s, "n1", m, &err), 1);
    json_decref(m);
    assert_int_equal(st_ctl_node_pods_known(s, "n1", &changed, &err), 0);
    assert_int_equal(changed, 0);
    p = pod_on(s, "n1");
    assert_null(status_str(p, "reason"));
    assert_true(st_pod_is_ready(p) && container_ready(p));
    json_decref(p);

    /* Without a report, only the NodeLost marks go: readiness waits for
     * the node. */
    assert_int_equal(st_ctl_node_pods_unknown(s, "n1", "silent", &changed, &err), 0);
    assert_int_equal(st_ctl_node_pods_known(s, "n1", &changed, &err), 0);
    assert_int_equal(changed, 1);
    p = pod_on(s, "n1");
    assert_null(status_str(p, "reason"));
    assert_null(status_str(p, "message"));
    assert_false(st_pod_is_ready(p));
    json_decref(p);

    /* Declared dead: Failed, and still no container shown ready. */
    all_ready(s);
    int lost = 0;
    assert_int_equal(st_ctl_node_lost(s, "n1", "fenced", &lost, &err), 0);
    assert_int_equal(lost, 1);
    p = pod_on(s, "n1");
    assert_string_equal(status_str(p, "phase"), "Failed");
    assert_false(container_ready(p));
    json_decref(p);
}

static int count_image(st_store *s, const char *image)
{
    json_t *list = pods(s);
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        json_t *c = json_array_get(json_object_get(json_object_get(p, "spec"), "containers"), 0);
        n += strcmp(json_string_value(json_object_get(c, "image")), image) == 0;
    }
    json_decref(list);
    return n;
}

static void test_template_change_rolls_one_at_a_time(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "16Mi");
    reconcile(s, NULL);
    all_ready(s);
    apply_deploy(s, 3, "busybox-v2", "16Mi");
    reconcile(s, NULL);
    /* maxSurge 1: one new pod, and no old one goes before it is ready. */
    assert_int_equal(count_image(s, "busybox"), 3);
    assert_int_equal(count_image(s, "busybox-v2"), 1);
    reconcile(s, NULL);
    assert_int_equal(count_image(s, "busybox"), 3);
    /* Each new pod that turns ready lets one old pod go, until none is left. */
    for (int round = 0; round < 6 && count_image(s, "busybox") > 0; round++) {
        all_ready(s);
        reconcile(s, NULL);
        json_t *list = pods(s);
        assert_true(json_array_size(list) <= 4);
        json_decref(list);
    }
    all_ready(s);
    reconcile(s, NULL);
    assert_int_equal(count_image(s, "busybox"), 0);
    assert_int_equal(count_image(s, "busybox-v2"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deployment_creates_and_spreads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_pod_is_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unschedulable_says_why_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_lost_replaces_pods_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_status_from_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_node_pods_not_ready_until_heard, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_template_change_rolls_one_at_a_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
