/* test_controller.c: the controllers (deployments, scheduler, node loss, pod
 * status) as passes over the in-memory store: what each pass writes, and
 * that a second pass over a settled store writes nothing. */
#include "controller_fixture.h"

#include "strata/object_patch.h"

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
    assert_int_equal(count_all(s), 3);
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
    assert_int_equal(count_all(s), 5);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    /* Scaled down gracefully: four Terminating until their nodes stop them. */
    assert_int_equal(count_live(s), 1);
    assert_int_equal(count_all(s), 5);
    assert_int_equal(count_events(s, "SuccessfulDelete"), 4);
    nodes_stop_terminating(s);
    reconcile(s, NULL);
    assert_int_equal(count_all(s), 1);
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
        st_control_node_set_ready(s, "n1", "False", "Dead", "NodeLost", "VM stopped", &err), 0);
    int lost = 0;
    assert_int_equal(st_control_node_lost(s, "n1", "VM stopped", &lost, &err), 0);
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
    assert_int_equal(st_control_node_lost(s, "n1", "again", &lost, &err), 0);
    assert_int_equal(lost, 0);
}

static void test_pod_status_from_node(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    char uid[64], name[256];
    first_pod(s, name, uid);
    st_error err = {0};
    st_control_pod_report m = report(uid, "Running", true, 0, NULL);
    assert_int_equal(st_control_pod_status(s, "n1", &m, &err), 1);
    reconcile(s, NULL);
    json_t *d = NULL;
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &d, &err), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(d, "status"), "readyReplicas")), 1);
    json_decref(d);

    m = report(uid, "Running", false, 1, "OOMKilled");
    assert_int_equal(st_control_pod_status(s, "n1", &m, &err), 1);
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
    m = report("00000000-0000-4000-8000-000000000000", "Running", true, 0, NULL);
    assert_int_equal(st_control_pod_status(s, "n1", &m, &err), 0);
}

/* Reports every pod on n1 Running and ready, as the node would. */
static void all_ready(st_store *s)
{
    json_t *list = pods(s);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        st_control_pod_report m = report(pod_field(p, "uid"), "Running", true, 0, NULL);
        st_error err = {0};
        assert_true(st_control_pod_status(s, "n1", &m, &err) >= 0);
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
    assert_int_equal(
        st_control_node_pods_unknown(s, "n1", "no heartbeat for 3000 ms", &changed, &err), 0);
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
    assert_int_equal(
        st_control_node_pods_unknown(s, "n1", "no heartbeat for 3000 ms", &changed, &err), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(count_events(s, "NodeNotReady"), 1);
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    /* Heard again: its report (replayed) restores the pod; nothing is left
     * for st_control_node_pods_known to clear. */
    st_control_pod_report m = report(uid, "Running", true, 0, NULL);
    assert_int_equal(st_control_pod_status(s, "n1", &m, &err), 1);
    assert_int_equal(st_control_node_pods_known(s, "n1", &changed, &err), 0);
    assert_int_equal(changed, 0);
    p = pod_on(s, "n1");
    assert_null(status_str(p, "reason"));
    assert_true(st_pod_is_ready(p) && container_ready(p));
    json_decref(p);

    /* Without a report, only the NodeLost marks go: readiness waits for
     * the node. */
    assert_int_equal(st_control_node_pods_unknown(s, "n1", "silent", &changed, &err), 0);
    assert_int_equal(st_control_node_pods_known(s, "n1", &changed, &err), 0);
    assert_int_equal(changed, 1);
    p = pod_on(s, "n1");
    assert_null(status_str(p, "reason"));
    assert_null(status_str(p, "message"));
    assert_false(st_pod_is_ready(p));
    json_decref(p);

    /* Declared dead: Failed, and still no container shown ready. */
    all_ready(s);
    int lost = 0;
    assert_int_equal(st_control_node_lost(s, "n1", "fenced", &lost, &err), 0);
    assert_int_equal(lost, 1);
    p = pod_on(s, "n1");
    assert_string_equal(status_str(p, "phase"), "Failed");
    assert_false(container_ready(p));
    json_decref(p);
}

static int count_image(st_store *s, const char *image)
{
    json_t *list = live(s);
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
        assert_true(count_live(s) <= 4);
        nodes_stop_terminating(s);
    }
    all_ready(s);
    reconcile(s, NULL);
    assert_int_equal(count_image(s, "busybox"), 0);
    assert_int_equal(count_image(s, "busybox-v2"), 3);
}

/* Four replicas on three nodes: n1 2, n2 1, n3 1 (ties go by name). */
static void four_on_three(st_store *s)
{
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    add_node(s, "n3", true, 1LL << 30);
    apply_deploy(s, 4, "busybox", "16Mi");
    reconcile(s, NULL);
    report_all_ready(s);
    assert_int_equal(live_on(s, "n1"), 2);
    assert_int_equal(live_on(s, "n2"), 1);
    assert_int_equal(live_on(s, "n3"), 1);
}

static void lose(st_store *s, const char *node)
{
    st_error err = {0};
    assert_int_equal(st_control_node_set_ready(s, node, "False", "Dead", "NodeLost", "gone", &err),
                     0);
    assert_int_equal(st_control_node_lost(s, node, "gone", NULL, &err), 0);
}

static void test_replacement_goes_where_fewest(void **state)
{
    st_store *s = *state;
    four_on_three(s);
    lose(s, "n2");
    reconcile(s, NULL);
    assert_int_equal(count_live(s), 4);
    assert_int_equal(live_on(s, "n1"), 2);
    assert_int_equal(live_on(s, "n3"), 2);
}

static void test_replacement_waits_for_nodes_being_readopted(void **state)
{
    st_store *s = *state;
    four_on_three(s);
    /* stratad restarted: its nodes are re-adopted, n1 said hello first,
     * n3's VM was destroyed meanwhile; n2 (one replica) has not answered. */
    st_error err = {0};
    assert_int_equal(st_control_node_set_ready(s, "n2", "Unknown", "Adopting", "Adopting",
                                               "stratad restarted", &err),
                     0);
    lose(s, "n3");
    reconcile(s, NULL);
    json_t *list = live(s);
    int unbound = 0;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) unbound += pod_node(p) == NULL;
    json_decref(list);
    /* Not piled onto n1 (2 already); no FailedScheduling either. */
    assert_int_equal(unbound, 1);
    assert_int_equal(live_on(s, "n1"), 2);
    assert_int_equal(count_events(s, "FailedScheduling"), 0);
    assert_int_equal(
        st_control_node_set_ready(s, "n2", "True", "Ready", "NodeReady", "hello", &err), 0);
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "n1"), 2);
    assert_int_equal(live_on(s, "n2"), 2);
}

static void test_terminating_pod_is_not_counted_for_spread(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    json_t *list = live(s);
    char victim[256];
    json_t *v = json_array_get(list, 0);
    snprintf(victim, sizeof(victim), "%s", pod_field(v, "name"));
    char node[64];
    snprintf(node, sizeof(node), "%s", pod_node(v));
    json_decref(list);
    st_error err = {0};
    assert_int_equal(
        st_control_delete(s, "Pod", "default", victim, ST_PROPAGATE_BACKGROUND, -1, NULL, &err), 0);
    reconcile(s, NULL);
    /* The replacement takes the place of the pod going away. */
    assert_int_equal(live_on(s, "n1"), 1);
    assert_int_equal(live_on(s, "n2"), 1);
    assert_int_equal(live_on(s, node), 1);
}

static void test_scale_down_keeps_the_spread(void **state)
{
    st_store *s = *state;
    four_on_three(s);
    apply_deploy(s, 3, "busybox", "16Mi");
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "n1"), 1);
    assert_int_equal(live_on(s, "n2"), 1);
    assert_int_equal(live_on(s, "n3"), 1);
}

static const char *hash_of(json_t *p)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(p, "metadata"), "labels"), "pod-template-hash"));
}

static void test_rollout_restart_replaces_every_pod(void **state)
{
    st_store *s = *state;
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    add_node(s, "n3", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "16Mi");
    reconcile(s, NULL);
    report_all_ready(s);
    json_t *list = live(s);
    char old_hash[16];
    snprintf(old_hash, sizeof(old_hash), "%s", hash_of(json_array_get(list, 0)));
    json_decref(list);

    /* What `stratactl rollout restart` sends, as kubectl does. */
    json_t *patch =
        json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
                  "kubectl.kubernetes.io/restartedAt", "2026-12-01T10:00:00Z");
    st_error err = {0};
    json_t *d = NULL;
    assert_int_equal(st_object_patch(s, "Deployment", "default", "web", patch, &d, &err), 0);
    json_decref(patch);
    long long gen =
        json_integer_value(json_object_get(json_object_get(d, "metadata"), "generation"));
    assert_true(gen >= 1);
    json_decref(d);

    for (int round = 0; round < 12; round++) {
        reconcile(s, NULL);
        assert_true(count_live(s) <= 4); /* maxSurge 1 */
        report_all_ready(s);
        nodes_stop_terminating(s);
    }
    reconcile(s, NULL);
    list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) assert_string_not_equal(hash_of(p), old_hash);
    json_decref(list);
    assert_int_equal(live_on(s, "n1"), 1);
    assert_int_equal(live_on(s, "n2"), 1);
    assert_int_equal(live_on(s, "n3"), 1);
    assert_int_equal(st_store_get(s, "Deployment", "default", "web", &d, &err), 0);
    json_t *st = json_object_get(d, "status");
    assert_int_equal(json_integer_value(json_object_get(st, "updatedReplicas")), 3);
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), gen);
    json_decref(d);
}

static void test_patch_is_validated_like_apply(void **state)
{
    st_store *s = *state;
    apply_deploy(s, 1, "busybox", "16Mi");
    st_error err = {0};
    json_t *bad = json_pack("{s:{s:i}}", "spec", "replicas", -1);
    assert_int_equal(st_object_patch(s, "Deployment", "default", "web", bad, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "replicas"));
    json_decref(bad);
    json_t *rename = json_pack("{s:{s:s}}", "metadata", "name", "other");
    assert_int_equal(st_object_patch(s, "Deployment", "default", "web", rename, NULL, &err),
                     -EINVAL);
    json_decref(rename);
    /* null removes a key (RFC 7386); the rest is merged. */
    json_t *doc = json_pack("{s:{s:i, s:i}, s:i}", "a", "x", 1, "y", 2, "b", 3);
    json_t *mp = json_pack("{s:{s:n, s:i}, s:n, s:{s:n}}", "a", "x", "z", 4, "b", "c", "k");
    st_json_merge_patch(doc, mp);
    json_t *want = json_pack("{s:{s:i, s:i}, s:{}}", "a", "y", 2, "z", 4, "c");
    assert_true(json_equal(doc, want));
    json_decref(doc);
    json_decref(mp);
    json_decref(want);
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
        cmocka_unit_test_setup_teardown(test_replacement_goes_where_fewest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replacement_waits_for_nodes_being_readopted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_terminating_pod_is_not_counted_for_spread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scale_down_keeps_the_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollout_restart_replaces_every_pod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_is_validated_like_apply, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
