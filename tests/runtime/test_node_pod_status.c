/* test_node_pod_status.c: runtime/node/pod_status.c, what strata-node
 * reports about a pod, from hand-made pod table entries: the phase rules
 * (Pending, Running, Failed), the summary (reason, exitCode, message), the
 * containerStatuses shape and the final "removed" status. */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <stdio.h>
#include <string.h>

static struct st_node_pod_spec *parse_ok(const char *text)
{
    json_error_t jerr;
    _cleanup_json_ json_t *spec = json_loads(text, 0, &jerr);
    if (spec == NULL)
        fail_msg("test JSON: %s", jerr.text);
    struct st_node_pod_spec *ps = NULL;
    st_error err = {0};
    if (st_node_pod_spec_parse(spec, "p", &ps, &err) < 0)
        fail_msg("parse: %s", err.msg);
    return ps;
}

/* pod_status as the node reports it, from a pod table entry. */
static void test_pod_status_phases(void **state)
{
    (void)state;
    struct st_node_pod_spec *ps = parse_ok("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", "
                                           "\"imageLayers\": [], \"command\": [\"x\"]}]}");
    struct st_node_ctr c = {.spec = &ps->containers[0], .kill_at = -1};
    struct st_node_pod pod = {.name = "p",
                              .uid = "u",
                              .started_at = "2026-11-22T10:00:00.000Z",
                              .spec = ps,
                              .ctrs = &c,
                              .n_ctrs = 1};
    c.pod = &pod;
    st_error err = {0};

    /* image missing: Pending with the waiting reason */
    c.state = ST_NODE_CTR_WAITING;
    snprintf(c.waiting_reason, sizeof(c.waiting_reason), "ImageNotFound");
    snprintf(c.waiting_message, sizeof(c.waiting_message), "image \"i\" not found");
    json_t *m = st_node_pod_status(&pod, false, &err);
    struct st_proto_pod_status got = {0};
    assert_int_equal(st_proto_pod_status_parse(m, &got, &err), 0);
    assert_string_equal(got.phase, "Pending");
    assert_string_equal(got.reason, "ImageNotFound");
    assert_string_equal(got.message, "image \"i\" not found");
    assert_false(got.ready);
    assert_false(got.has_exit_code);
    assert_false(got.removed);
    assert_null(got.pod_ip); /* no address: no podIP */
    json_t *cs = json_array_get(got.containers, 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(cs, "state"), "waiting"), "reason")),
                        "ImageNotFound");
    json_decref(m);

    /* on the pod network: its address is podIP */
    pod.sandbox.pif.addr = 0x0af40307;
    m = st_node_pod_status(&pod, false, &err);
    assert_int_equal(st_proto_pod_status_parse(m, &got, &err), 0);
    assert_string_equal(got.pod_ip, "10.244.3.7");
    json_decref(m);
    pod.sandbox.pif.addr = 0;

    /* ran, crashed, waiting to restart: Running, the last end as summary */
    c.created_once = true;
    c.restart_count = 3;
    c.last = (struct st_node_term){.set = true, .exit_code = 137, .reason = "OOMKilled"};
    snprintf(c.waiting_reason, sizeof(c.waiting_reason), "CrashLoopBackOff");
    snprintf(c.waiting_message, sizeof(c.waiting_message), "back-off 40s");
    m = st_node_pod_status(&pod, false, &err);
    assert_int_equal(st_proto_pod_status_parse(m, &got, &err), 0);
    assert_string_equal(got.phase, "Running");
    assert_int_equal(got.restart_count, 3);
    assert_true(got.has_exit_code);
    assert_int_equal(got.exit_code, 137);
    assert_string_equal(got.reason, "OOMKilled");
    assert_string_equal(got.message, "back-off 40s");
    cs = json_array_get(got.containers, 0);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(cs, "lastState"), "terminated"), "exitCode")),
        137);
    json_decref(m);

    /* ended for good with an error: Failed; after pod_stop: removed */
    c.state = ST_NODE_CTR_TERMINATED;
    c.current = (struct st_node_term){.set = true, .exit_code = 1, .reason = "Error"};
    pod.stopping = true;
    m = st_node_pod_status(&pod, true, &err);
    assert_int_equal(st_proto_pod_status_parse(m, &got, &err), 0);
    assert_string_equal(got.phase, "Failed");
    assert_int_equal(got.exit_code, 1);
    assert_string_equal(got.reason, "Error");
    assert_string_equal(got.message, "stopped by the host (pod_stop)");
    assert_true(got.removed);
    json_decref(m);

    /* a refused spec: the pod-level reason */
    pod.reason = "CreateContainerConfigError";
    pod.message = "spec.containers[0].name: bad";
    pod.n_ctrs = 0;
    pod.stopping = false;
    m = st_node_pod_status(&pod, false, &err);
    assert_int_equal(st_proto_pod_status_parse(m, &got, &err), 0);
    assert_string_equal(got.phase, "Pending");
    assert_string_equal(got.reason, "CreateContainerConfigError");
    assert_int_equal(json_array_size(got.containers), 0);
    json_decref(m);
    st_node_pod_spec_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_status_phases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
