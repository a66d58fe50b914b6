/* test_node_pod_events.c: runtime/node/pod_events.c, the kubelet-style
 * events strata-node sends about pods: the limit (an identical event once
 * per window per pod, a budget for everything else) on a fake clock, and
 * the `event` message a pod's event becomes. */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <string.h>

static bool allow(struct st_node_event_limit *l, int64_t now, const char *reason, const char *msg)
{
    return st_node_event_allow(l, now, "Warning", reason, msg);
}

/* A probe failing every second with the same output: one event per
 * window; another output, reason or type is another event. */
static void test_identical_events_once_per_window(void **state)
{
    (void)state;
    struct st_node_event_limit l;
    st_node_event_limit_init(&l);
    const char *fail = "Readiness probe failed: HTTP probe failed with statuscode: 500";
    int64_t t0 = 1000000;
    assert_true(allow(&l, t0, "Unhealthy", fail));
    for (int64_t t = t0 + 1000; t < t0 + ST_NODE_EVENT_WINDOW_MS; t += 1000)
        assert_false(allow(&l, t, "Unhealthy", fail));
    assert_true(allow(&l, t0 + 2000, "Unhealthy", "Liveness probe failed: timeout"));
    assert_true(allow(&l, t0 + 2000, "Killing", fail));
    assert_true(st_node_event_allow(&l, t0 + 2000, "Normal", "Unhealthy", fail));
    /* the window is counted from the last one that went out */
    assert_true(allow(&l, t0 + ST_NODE_EVENT_WINDOW_MS, "Unhealthy", fail));
    assert_false(allow(&l, t0 + ST_NODE_EVENT_WINDOW_MS + 1, "Unhealthy", fail));
}

/* Messages that differ each time (a counter in a probe's output) are held
 * by the budget: a burst, then one per refill period. */
static void test_budget_bounds_distinct_events(void **state)
{
    (void)state;
    struct st_node_event_limit l;
    st_node_event_limit_init(&l);
    char msg[64];
    int64_t now = 500;
    int sent = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(msg, sizeof(msg), "Readiness probe failed: attempt %d", i);
        sent += allow(&l, now, "Unhealthy", msg);
    }
    assert_int_equal(sent, ST_NODE_EVENT_BURST);
    snprintf(msg, sizeof(msg), "one more");
    assert_false(allow(&l, now + ST_NODE_EVENT_REFILL_MS - 1, "Unhealthy", msg));
    assert_true(allow(&l, now + ST_NODE_EVENT_REFILL_MS, "Unhealthy", msg));
    assert_false(allow(&l, now + ST_NODE_EVENT_REFILL_MS, "Unhealthy", "and another"));
    /* a long quiet spell refills the burst, no more */
    now += 1000 * ST_NODE_EVENT_REFILL_MS;
    sent = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(msg, sizeof(msg), "later %d", i);
        sent += allow(&l, now, "Unhealthy", msg);
    }
    assert_int_equal(sent, ST_NODE_EVENT_BURST);
}

/* More distinct events than the table remembers: the oldest is forgotten,
 * the recent ones are still held back. */
static void test_table_forgets_oldest(void **state)
{
    (void)state;
    struct st_node_event_limit l;
    st_node_event_limit_init(&l);
    char msg[64];
    for (int i = 0; i <= ST_NODE_EVENT_SEEN; i++) {
        snprintf(msg, sizeof(msg), "event %d", i);
        assert_true(allow(&l, 1000 + i, "Failed", msg));
    }
    assert_true(allow(&l, 2000, "Failed", "event 0"));
    snprintf(msg, sizeof(msg), "event %d", ST_NODE_EVENT_SEEN);
    assert_false(allow(&l, 2000, "Failed", msg));
}

struct captured {
    json_t *msgs;
};

static void capture(void *ctx, json_t *msg)
{
    struct captured *c = ctx;
    json_array_append_new(c->msgs, msg);
}

/* A pod's event is an `event` message with the pod's name, uid and
 * namespace, sent once within the window. */
static void test_pod_event_message(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-node-events");
    struct captured cap = {.msgs = json_array()};
    struct st_node_pods_opts o = {
        .images_dir = dir, .state_dir = dir, .emit = capture, .ctx = &cap};
    struct st_node_pods *pods = NULL;
    st_error err = {0};
    if (st_node_pods_new(&o, &pods, &err) < 0)
        fail_msg("st_node_pods_new: %s", err.msg);
    struct st_node_pod pod = {.pods = pods, .name = "web-1", .uid = "u-1", .ns = "shop"};
    st_node_event_limit_init(&pod.events);

    st_node_pod_event(&pod, 100, "Warning", "Unhealthy", "%s probe failed: %s", "Readiness",
                      "HTTP probe failed with statuscode: 500");
    st_node_pod_event(&pod, 1100, "Warning", "Unhealthy", "%s probe failed: %s", "Readiness",
                      "HTTP probe failed with statuscode: 500");
    pod.ns = NULL;
    st_node_pod_event(&pod, 1200, "Normal", "Started", "Started container %s", "main");
    assert_int_equal(json_array_size(cap.msgs), 2);

    struct st_proto_event ev = {0};
    assert_int_equal(st_proto_event_parse(json_array_get(cap.msgs, 0), &ev, &err), 0);
    assert_string_equal(ev.pod, "web-1");
    assert_string_equal(ev.uid, "u-1");
    assert_string_equal(ev.ns, "shop");
    assert_string_equal(ev.event_type, "Warning");
    assert_string_equal(ev.reason, "Unhealthy");
    assert_string_equal(ev.message,
                        "Readiness probe failed: HTTP probe failed with statuscode: 500");
    assert_int_equal(st_proto_event_parse(json_array_get(cap.msgs, 1), &ev, &err), 0);
    assert_null(ev.ns);
    assert_string_equal(ev.reason, "Started");
    assert_string_equal(ev.message, "Started container main");

    st_node_pods_free(pods);
    json_decref(cap.msgs);
    st_test_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_events_once_per_window),
        cmocka_unit_test(test_budget_bounds_distinct_events),
        cmocka_unit_test(test_table_forgets_oldest),
        cmocka_unit_test(test_pod_event_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
