/* test_controller_conflict.c: what the controllers do when another writer
 * comes first. A conflict is decided again on what that writer stored (its
 * change kept, the controller's made too, in the same pass) or, when it
 * never settles, returned to the caller; it is never dropped. On a store
 * that loses races on purpose (conflict_store.h). */
#include "controller_fixture.h"

#include "../store/conflict_store.h"

static int cs_setup(void **state)
{
    *state = conflict_store_open();
    return 0;
}

static int cs_teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

static json_t *get_obj(st_store *s, const char *kind, const char *name)
{
    json_t *o = NULL;
    st_error err = {0};
    assert_int_equal(st_store_get(s, kind, "default", name, &o, &err), 0);
    return o;
}

static json_int_t status_int(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(obj, "status"), key));
}

static bool other_writer_kept(json_t *obj)
{
    return json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                           "test/other-writer") != NULL;
}

/* Someone (scale, apply) writes the Deployment while its status is being
 * written: the status still lands in this pass, over their change. */
static void test_deployment_status_survives_a_concurrent_write(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 2, "busybox", "16Mi");
    c->race_kind = "Deployment";
    c->races = 1;
    st_error err = {0};
    assert_int_equal(st_control_deployments(s, &err), 0);
    assert_int_equal(c->raced, 1);
    json_t *d = get_obj(s, "Deployment", "web");
    assert_int_equal(status_int(d, "replicas"), 2);
    assert_true(other_writer_kept(d));
    json_decref(d);
}

static void test_deployment_status_conflict_is_reported(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    apply_deploy(s, 1, "busybox", "16Mi");
    c->race_kind = "Deployment";
    c->races = -1;
    st_error err = {0};
    assert_int_equal(st_control_deployments(s, &err), -ST_ECONFLICT);
    assert_int_equal(err.code, ST_ECONFLICT);
    assert_non_null(strstr(err.msg, "web"));
}

/* A binding that lost a race (a pod deleted or bound meanwhile) fails the
 * whole transaction; the pass runs again and binds in the same call. */
static void test_schedule_runs_again_after_a_lost_binding(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "16Mi");
    st_error err = {0};
    assert_int_equal(st_control_deployments(s, &err), 0);
    c->bind_races = 1;
    int bound = 0;
    assert_int_equal(st_control_schedule(s, &bound, &err), 0);
    assert_int_equal(c->bind_raced, 1);
    assert_int_equal(bound, 3);
    assert_int_equal(live_on(s, "n1"), 3);
    assert_int_equal(count_events(s, "Scheduled"), 3);
}

static void test_schedule_reports_a_binding_that_keeps_losing(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 1, "busybox", "16Mi");
    st_error err = {0};
    assert_int_equal(st_control_deployments(s, &err), 0);
    c->bind_races = -1;
    int bound = -1;
    assert_int_equal(st_control_schedule(s, &bound, &err), -ST_ECONFLICT);
    assert_non_null(strstr(err.msg, "already bound"));
    assert_true(c->bind_raced > 1); /* tried again before giving up */
    assert_int_equal(bound, 0);
    assert_int_equal(live_on(s, "n1"), 0);
}

/* Marking a pod unschedulable races with a write to the pod: it is marked
 * anyway, with one FailedScheduling event. */
static void test_unschedulable_mark_survives_a_concurrent_write(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    add_node(s, "n1", true, 8LL << 20);
    apply_deploy(s, 1, "busybox", "64Mi");
    st_error err = {0};
    assert_int_equal(st_control_deployments(s, &err), 0);
    c->race_kind = "Pod";
    c->races = 1;
    assert_int_equal(st_control_schedule(s, NULL, &err), 0);
    assert_int_equal(c->raced, 1);
    json_t *list = pods(s);
    json_t *p = json_array_get(list, 0);
    assert_string_equal(st_condition_status(p, "PodScheduled"), "False");
    assert_true(other_writer_kept(p));
    json_decref(list);
    assert_int_equal(count_events(s, "FailedScheduling"), 1);
}

/* A node says it stopped a Terminating pod while the pod keeps changing:
 * the caller hears of it instead of the pod silently staying. */
static void test_pod_stopped_conflict_is_reported_then_retried(void **state)
{
    conflict_store *c = *state;
    st_store *s = &c->base;
    add_node(s, "n1", true, 1LL << 30);
    apply_deploy(s, 1, "busybox", "16Mi");
    reconcile(s, NULL);
    char name[256], uid[64];
    first_pod(s, name, uid);
    st_error err = {0};
    assert_int_equal(
        st_control_delete(s, "Pod", "default", name, ST_PROPAGATE_BACKGROUND, 30, NULL, &err), 0);
    c->race_kind = "Pod";
    c->races = -1;
    assert_int_equal(st_control_pod_stopped(s, "default", name, uid, &err), -ST_ECONFLICT);
    json_t *p = get_obj(s, "Pod", name);
    assert_true(terminating(p));
    json_decref(p);
    /* The race settles: the next report ends the deletion. */
    c->races = 1;
    st_error_clear(&err);
    assert_int_equal(st_control_pod_stopped(s, "default", name, uid, &err), 1);
    json_t *gone = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", name, &gone, &err), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deployment_status_survives_a_concurrent_write,
                                        cs_setup, cs_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_status_conflict_is_reported, cs_setup,
                                        cs_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_runs_again_after_a_lost_binding, cs_setup,
                                        cs_teardown),
        cmocka_unit_test_setup_teardown(test_schedule_reports_a_binding_that_keeps_losing, cs_setup,
                                        cs_teardown),
        cmocka_unit_test_setup_teardown(test_unschedulable_mark_survives_a_concurrent_write,
                                        cs_setup, cs_teardown),
        cmocka_unit_test_setup_teardown(test_pod_stopped_conflict_is_reported_then_retried,
                                        cs_setup, cs_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
