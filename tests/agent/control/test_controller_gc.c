/* test_controller_gc.c: deletion as Kubernetes does it, over the in-memory
 * store: cascading to owned pods (background, foreground, orphan), the
 * garbage collector finding orphans by uid after a restart, and graceful
 * pod deletion (Terminating until the node says the pod stopped). */
#include "controller_fixture.h"

#include <time.h>

#include "strata/time.h"

static json_t *get(st_store *s, const char *kind, const char *name)
{
    json_t *o = NULL;
    st_error err = {0};
    int r = st_store_get(s, kind, "default", name, &o, &err);
    return r == 0 ? o : NULL;
}

static const char *deploy_uid_of(json_t *pod)
{
    json_t *ref =
        json_array_get(json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), 0);
    return json_string_value(json_object_get(ref, "uid"));
}

/* The name of a replica on node. */
static void first_on(st_store *s, const char *node, char *out, size_t len)
{
    json_t *l = live(s);
    size_t i;
    json_t *p;
    out[0] = 0;
    json_array_foreach(l, i, p)
    {
        if (!out[0] && pod_node(p) && strcmp(pod_node(p), node) == 0)
            snprintf(out, len, "%s", pod_field(p, "name"));
    }
    json_decref(l);
    assert_true(out[0] != 0);
}

/* Three replicas of web on n1 and n2, reported running. */
static void three_running(st_store *s)
{
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "16Mi");
    reconcile(s, NULL);
    report_all_ready(s);
    assert_int_equal(count_live(s), 3);
}

/* Deletes web with policy; returns what stays of it (a new reference), or
 * NULL when it was removed. */
static json_t *delete_web(st_store *s, st_propagation policy)
{
    st_error err = {0};
    json_t *left = NULL;
    assert_int_equal(st_control_delete(s, "Deployment", "default", "web", policy, -1, &left, &err),
                     0);
    return left;
}

static void test_delete_deployment_removes_its_pods(void **state)
{
    st_store *s = *state;
    three_running(s);
    json_t *left = delete_web(s, ST_PROPAGATE_BACKGROUND);
    assert_null(left);
    assert_null(get(s, "Deployment", "web"));
    /* The collector's pass: every pod Terminating (their nodes are live),
     * and nothing creates replacements. */
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) assert_true(terminating(p));
    json_decref(list);
    assert_int_equal(count_events(s, "GarbageCollected"), 3);
    nodes_stop_terminating(s);
    reconcile(s, NULL);
    assert_int_equal(count_all(s), 0);
}

static void test_collector_finds_orphans_by_uid_after_a_restart(void **state)
{
    st_store *s = *state;
    three_running(s);
    json_t *list = pods(s);
    char old_uid[64];
    snprintf(old_uid, sizeof(old_uid), "%s", deploy_uid_of(json_array_get(list, 0)));
    json_decref(list);
    /* stratad removed the owner and died before any collector pass; a new
     * web (same name, new uid) is applied before it comes back. */
    st_error err = {0};
    assert_int_equal(st_store_delete(s, "Deployment", "default", "web", NULL, &err), 0);
    apply_deploy(s, 3, "busybox", "16Mi");
    /* The restarted stratad's first pass: old pods go, none is adopted. */
    reconcile(s, NULL);
    json_t *l = live(s);
    assert_int_equal(json_array_size(l), 3);
    size_t i;
    json_t *p;
    json_array_foreach(l, i, p) assert_string_not_equal(deploy_uid_of(p), old_uid);
    json_decref(l);
    list = pods(s);
    int old = 0;
    json_array_foreach(list, i, p)
    {
        if (strcmp(deploy_uid_of(p), old_uid) == 0) {
            assert_true(terminating(p));
            old++;
        }
    }
    json_decref(list);
    assert_int_equal(old, 3);
    nodes_stop_terminating(s);
    reconcile(s, NULL);
    assert_int_equal(count_all(s), 3);
}

static void test_orphan_keeps_pods_without_owner(void **state)
{
    st_store *s = *state;
    three_running(s);
    json_t *left = delete_web(s, ST_PROPAGATE_ORPHAN);
    /* Until the collector has released its pods, it waits on a finalizer. */
    assert_non_null(left);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(left, "metadata"), "finalizers"), 0)),
                        "orphan");
    json_decref(left);
    reconcile(s, NULL);
    assert_null(get(s, "Deployment", "web"));
    reconcile(s, NULL);
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        assert_false(terminating(p));
        assert_null(json_object_get(json_object_get(p, "metadata"), "ownerReferences"));
    }
    json_decref(list);
    assert_int_equal(count_events(s, "Orphaned"), 1);
}

static void test_foreground_deletes_pods_before_the_owner(void **state)
{
    st_store *s = *state;
    three_running(s);
    json_t *left = delete_web(s, ST_PROPAGATE_FOREGROUND);
    assert_non_null(left);
    assert_non_null(json_object_get(json_object_get(left, "metadata"), "deletionTimestamp"));
    json_decref(left);
    reconcile(s, NULL);
    /* Owner still there while its pods terminate; no replacement made. */
    json_t *d = get(s, "Deployment", "web");
    assert_non_null(d);
    json_decref(d);
    assert_int_equal(count_live(s), 0);
    nodes_stop_terminating(s);
    reconcile(s, NULL);
    assert_null(get(s, "Deployment", "web"));
    assert_int_equal(count_all(s), 0);
}

static void test_owner_without_dependents_goes_at_once(void **state)
{
    st_store *s = *state;
    apply_deploy(s, 0, "busybox", "16Mi");
    json_t *left = delete_web(s, ST_PROPAGATE_ORPHAN);
    assert_null(left);
    assert_null(get(s, "Deployment", "web"));
    st_error err = {0};
    assert_int_equal(
        st_control_delete(s, "Deployment", "default", "web", ST_PROPAGATE_ORPHAN, -1, &left, &err),
        -ENOENT);
}

static void test_graceful_pod_deletion(void **state)
{
    st_store *s = *state;
    three_running(s);
    json_t *list = live(s);
    char victim[256], uid[64], node[64];
    json_t *v = json_array_get(list, 0);
    snprintf(victim, sizeof(victim), "%s", pod_field(v, "name"));
    snprintf(uid, sizeof(uid), "%s", pod_field(v, "uid"));
    snprintf(node, sizeof(node), "%s", pod_node(v));
    json_decref(list);

    st_error err = {0};
    json_t *left = NULL;
    time_t before = time(NULL);
    assert_int_equal(
        st_control_delete(s, "Pod", "default", victim, ST_PROPAGATE_BACKGROUND, -1, &left, &err),
        0);
    /* Marked, not removed: deletionTimestamp is when the grace ends. */
    assert_non_null(left);
    json_t *md = json_object_get(left, "metadata");
    assert_int_equal(json_integer_value(json_object_get(md, "deletionGracePeriodSeconds")),
                     ST_POD_GRACE_DEFAULT_S);
    time_t at = 0;
    assert_int_equal(st_time_parse_rfc3339(
                         json_string_value(json_object_get(md, "deletionTimestamp")), &at, &err),
                     0);
    assert_in_range(at - before, ST_POD_GRACE_DEFAULT_S - 1, ST_POD_GRACE_DEFAULT_S + 2);
    char first[32];
    snprintf(first, sizeof(first), "%s",
             json_string_value(json_object_get(md, "deletionTimestamp")));
    json_decref(left);

    /* The replacement is made at once; the Terminating pod is not a replica. */
    reconcile(s, NULL);
    assert_int_equal(count_live(s), 3);
    assert_int_equal(count_all(s), 4);
    json_t *d = get(s, "Deployment", "web");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "status"), "replicas")),
                     3);
    json_decref(d);

    /* Deleting again does not push the deadline out. */
    assert_int_equal(
        st_control_delete(s, "Pod", "default", victim, ST_PROPAGATE_BACKGROUND, -1, &left, &err),
        0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(left, "metadata"), "deletionTimestamp")),
        first);
    json_decref(left);

    /* While it stops the node still reports it: it stays Terminating. */
    st_control_pod_report m = report(uid, "Running", false, 0, NULL);
    assert_int_equal(st_control_pod_status(s, node, &m, &err), 1);
    reconcile(s, NULL);
    json_t *p = get(s, "Pod", victim);
    assert_non_null(p);
    assert_true(terminating(p));
    json_decref(p);

    /* Its last report: stopped and forgotten. The object goes. */
    m = report(uid, "Succeeded", false, 0, NULL);
    m.removed = true;
    assert_int_equal(st_control_pod_status(s, node, &m, &err), 1);
    assert_null(get(s, "Pod", victim));
    assert_int_equal(st_control_pod_stopped(s, "default", victim, uid, &err), 0);
}

static void test_pod_nothing_runs_goes_at_once(void **state)
{
    st_store *s = *state;
    /* Unscheduled (no node fits). */
    add_node(s, "n1", true, 8LL << 20);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    json_t *list = pods(s);
    char name[256];
    snprintf(name, sizeof(name), "%s", pod_field(json_array_get(list, 0), "name"));
    assert_null(pod_node(json_array_get(list, 0)));
    json_decref(list);
    st_error err = {0};
    json_t *left = NULL;
    assert_int_equal(
        st_control_delete(s, "Pod", "default", name, ST_PROPAGATE_BACKGROUND, -1, &left, &err), 0);
    assert_null(left);
    assert_null(get(s, "Pod", name));
}

static void test_terminating_pod_removed_when_its_node_cannot_report(void **state)
{
    st_store *s = *state;
    three_running(s);
    char a[256], b[256];
    first_on(s, "n1", a, sizeof(a));
    first_on(s, "n2", b, sizeof(b));
    st_error err = {0};
    assert_int_equal(
        st_control_delete(s, "Pod", "default", a, ST_PROPAGATE_BACKGROUND, -1, NULL, &err), 0);
    assert_int_equal(
        st_control_delete(s, "Pod", "default", b, ST_PROPAGATE_BACKGROUND, -1, NULL, &err), 0);
    /* a: its grace and the slack have long passed without a report. */
    json_t *p = get(s, "Pod", a);
    json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
                        json_string("2000-01-01T00:00:00Z"));
    /* (n1 stays Ready: only the deadline lets it go.) */
    json_t *out = NULL;
    assert_int_equal(st_store_update(s, p, &out, &err), 0);
    json_decref(out);
    json_decref(p);
    /* b: its node died. */
    assert_int_equal(st_control_node_set_ready(s, "n2", "False", "Dead", "NodeLost", "gone", &err),
                     0);
    assert_int_equal(st_control_gc(s, &err), 0);
    assert_null(get(s, "Pod", a));
    assert_null(get(s, "Pod", b));
    /* A grace period of 0 removes at once (kubectl --force). */
    char c[256];
    first_on(s, "n1", c, sizeof(c));
    assert_int_equal(
        st_control_delete(s, "Pod", "default", c, ST_PROPAGATE_BACKGROUND, 0, NULL, &err), 0);
    assert_null(get(s, "Pod", c));
}

static void test_delete_options(void **state)
{
    (void)state;
    st_propagation p;
    int grace = 7;
    st_error err = {0};
    assert_int_equal(st_delete_options_parse(NULL, NULL, NULL, &p, &grace, &err), 0);
    assert_int_equal(p, ST_PROPAGATE_BACKGROUND);
    assert_int_equal(grace, -1);
    json_t *body = json_pack("{s:s, s:i}", "propagationPolicy", "Orphan", "gracePeriodSeconds", 5);
    assert_int_equal(st_delete_options_parse(NULL, NULL, body, &p, &grace, &err), 0);
    assert_int_equal(p, ST_PROPAGATE_ORPHAN);
    assert_int_equal(grace, 5);
    /* The query wins over the body, as in the Kubernetes API. */
    assert_int_equal(st_delete_options_parse("Foreground", "0", body, &p, &grace, &err), 0);
    assert_int_equal(p, ST_PROPAGATE_FOREGROUND);
    assert_int_equal(grace, 0);
    json_decref(body);
    assert_int_equal(st_propagation_parse("orphan", &p, &err), 0);
    assert_int_equal(p, ST_PROPAGATE_ORPHAN);
    assert_int_equal(st_delete_options_parse("Sideways", NULL, NULL, &p, &grace, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Background, Foreground or Orphan"));
    assert_int_equal(st_delete_options_parse(NULL, "soon", NULL, &p, &grace, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delete_deployment_removes_its_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collector_finds_orphans_by_uid_after_a_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_orphan_keeps_pods_without_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreground_deletes_pods_before_the_owner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_owner_without_dependents_goes_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_graceful_pod_deletion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_nothing_runs_goes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminating_pod_removed_when_its_node_cannot_report,
                                        setup, teardown),
        cmocka_unit_test(test_delete_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
