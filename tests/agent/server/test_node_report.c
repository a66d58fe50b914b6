/* test_node_report.c: a node's pod_status message becomes the control
 * plane's typed report field by field (namespace, exit code, containers,
 * removal), a malformed one is refused before it reaches the store, and a
 * parsed report is applied to the pod with that uid on the in-memory store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/node_proto.h"
#include "strata/node_report.h"

/* A pod_status message as strata-node sends it. */
static json_t *message(const char *uid, const char *phase, bool ready, const char *reason,
                       json_t *containers)
{
    struct st_proto_pod_status ps = {.pod = "web-1",
                                     .uid = uid,
                                     .phase = phase,
                                     .ready = ready,
                                     .restart_count = 3,
                                     .has_exit_code = reason != NULL,
                                     .exit_code = 137,
                                     .reason = reason,
                                     .message = reason ? "killed for memory" : NULL,
                                     .containers = containers};
    json_t *m = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_pod_status_build(&ps, &m, &err), 0);
    return m;
}

static void test_parse_every_field(void **state)
{
    (void)state;
    json_t *ctrs = json_pack("[{s:s, s:b, s:i}]", "name", "httpd", "ready", 0, "restartCount", 3);
    json_t *m = message("u-1", "Running", false, "OOMKilled", ctrs);
    json_object_set_new(m, "namespace", json_string("shop"));
    json_object_set_new(m, "removed", json_true());
    st_control_pod_report rep;
    st_error err = {0};
    assert_int_equal(st_server_pod_report_parse(m, &rep, &err), 0);
    assert_string_equal(rep.pod, "web-1");
    assert_string_equal(rep.uid, "u-1");
    assert_string_equal(rep.ns, "shop");
    assert_string_equal(rep.phase, "Running");
    assert_false(rep.ready);
    assert_int_equal(rep.restarts, 3);
    assert_true(rep.has_exit_code);
    assert_int_equal(rep.exit_code, 137);
    assert_string_equal(rep.reason, "OOMKilled");
    assert_string_equal(rep.message, "killed for memory");
    assert_true(rep.removed);
    assert_true(json_equal(rep.containers, ctrs));
    json_decref(ctrs);
    json_decref(m);
}

/* What an older node leaves out reads as absent, not as a value. */
static void test_parse_absent_fields(void **state)
{
    (void)state;
    json_t *m = message("u-2", "Pending", false, NULL, NULL);
    st_control_pod_report rep;
    st_error err = {0};
    assert_int_equal(st_server_pod_report_parse(m, &rep, &err), 0);
    assert_null(rep.ns);
    assert_false(rep.has_exit_code);
    assert_null(rep.reason);
    assert_null(rep.message);
    assert_false(rep.removed);
    assert_null(rep.containers);
    json_decref(m);
}

static void test_parse_refuses_malformed(void **state)
{
    (void)state;
    json_t *m = message("u-3", "Running", true, NULL, NULL);
    json_object_set_new(m, "restartCount", json_string("three"));
    st_control_pod_report rep;
    st_error err = {0};
    assert_int_equal(st_server_pod_report_parse(m, &rep, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "restartCount"));
    json_decref(m);

    m = json_pack("{s:s, s:s}", "type", "hello", "node", "n1");
    st_error_clear(&err);
    assert_int_equal(st_server_pod_report_parse(m, &rep, &err), -EPROTO);
    json_decref(m);
}

/* A Pod bound to n1; its uid in uid. */
static st_store *store_with_pod(char uid[64])
{
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    json_t *pod = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:[{s:s, s:s}]}}", "apiVersion", "v1",
                            "kind", "Pod", "metadata", "name", "web-1", "namespace", "shop", "spec",
                            "nodeName", "n1", "containers", "name", "httpd", "image", "busybox");
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, pod, &out, &err), 0);
    snprintf(uid, 64, "%s",
             json_string_value(json_object_get(json_object_get(out, "metadata"), "uid")));
    json_decref(out);
    json_decref(pod);
    return s;
}

static const char *status_str(json_t *pod, const char *key)
{
    return json_string_value(json_object_get(json_object_get(pod, "status"), key));
}

static void test_status_applied_to_the_pod(void **state)
{
    (void)state;
    char uid[64];
    st_store *s = store_with_pod(uid);
    st_error err = {0};
    json_t *m = message(uid, "Failed", false, "OOMKilled", NULL);
    json_object_set_new(m, "namespace", json_string("shop"));
    assert_int_equal(st_server_pod_report_apply(s, "n1", m, &err), 1);
    json_decref(m);
    json_t *pod = NULL;
    assert_int_equal(st_store_get(s, "Pod", "shop", "web-1", &pod, &err), 0);
    assert_string_equal(status_str(pod, "phase"), "Failed");
    assert_string_equal(status_str(pod, "reason"), "OOMKilled");
    assert_string_equal(status_str(pod, "message"), "killed for memory");
    json_t *cs =
        json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0);
    json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
    assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 137);
    assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 3);
    json_decref(pod);

    /* Another incarnation, or a pod the store never had: nothing changes. */
    m = message("00000000-0000-4000-8000-000000000000", "Running", true, NULL, NULL);
    assert_int_equal(st_server_pod_report_apply(s, "n1", m, &err), 0);
    json_decref(m);
    st_store_close(s);
}

static void test_malformed_status_not_applied(void **state)
{
    (void)state;
    char uid[64];
    st_store *s = store_with_pod(uid);
    json_t *m = message(uid, "Running", true, NULL, NULL);
    json_object_set_new(m, "ready", json_string("yes"));
    st_error err = {0};
    assert_int_equal(st_server_pod_report_apply(s, "n1", m, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "ready"));
    json_decref(m);
    json_t *pod = NULL;
    assert_int_equal(st_store_get(s, "Pod", "shop", "web-1", &pod, &err), 0);
    assert_null(status_str(pod, "phase"));
    json_decref(pod);
    st_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_every_field),
        cmocka_unit_test(test_parse_absent_fields),
        cmocka_unit_test(test_parse_refuses_malformed),
        cmocka_unit_test(test_status_applied_to_the_pod),
        cmocka_unit_test(test_malformed_status_not_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
