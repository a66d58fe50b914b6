/* test_node_liveness.c: the fencing rules of agent/node_liveness.c: a node
 * past the grace is fenced, the longest silent first and one at a time;
 * mass silence fences nothing; the only node is judged alone; nodes that
 * stop together are seen together although their last heartbeats differ;
 * a stall of stratad is noticed; the next deadline is the right one. */
#include "testutil.h"

#include "strata/node_liveness.h"

#define MS 1000000LL

static st_liveness_params params(int64_t now_ms)
{
    return (st_liveness_params){
        .now_ns = now_ms * MS, .grace_ns = 3000 * MS, .fence_interval_ns = 1000 * MS};
}

/* Nodes last heard at the given times (ms); *n is their count. */
static void nodes_at(st_liveness_node *nodes, const int64_t *heard_ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nodes[i] = (st_liveness_node){.heard_ns = heard_ms[i] * MS};
}

/* Judges nodes last heard at heard_ms, at now_ms, with params(now_ms). */
static st_liveness_summary judge_at(int64_t now_ms, st_liveness_node *nodes,
                                    const int64_t *heard_ms, size_t n)
{
    nodes_at(nodes, heard_ms, n);
    st_liveness_params p = params(now_ms);
    st_liveness_summary s;
    st_liveness_judge(&p, nodes, n, &s);
    return s;
}

static void test_all_alive(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){9000, 9500, 9900}, 3);
    assert_int_equal(s.judged, 3);
    assert_int_equal(s.late, 0);
    assert_false(s.hold);
    assert_int_equal(s.fence, -1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nodes[i].verdict, ST_LIVENESS_ALIVE);
}

static void test_one_silent_of_three_is_fenced(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){9800, 6900, 9900}, 3);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.silent, 1);
    assert_false(s.hold);
    assert_int_equal(s.fence, 1);
    assert_int_equal(nodes[1].verdict, ST_LIVENESS_FENCE);
    assert_int_equal(nodes[0].verdict, ST_LIVENESS_ALIVE);
}

static void test_exactly_at_the_grace_is_late(void **state)
{
    (void)state;
    st_liveness_node nodes[2];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){7000, 9999}, 2);
    assert_int_equal(s.fence, 0);
    s = judge_at(10000, nodes, (int64_t[]){7001, 9999}, 2);
    assert_int_equal(s.fence, -1);
}

static void test_all_silent_fences_none(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){5000, 5100, 5200}, 3);
    assert_true(s.hold);
    assert_int_equal(s.silent, 3);
    assert_int_equal(s.fence, -1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(nodes[i].verdict, ST_LIVENESS_HOLD);
}

static void test_more_than_half_holds_half_does_not(void **state)
{
    (void)state;
    /* 2 of 3: more than half. */
    st_liveness_node three[3];
    st_liveness_summary s = judge_at(10000, three, (int64_t[]){5000, 5000, 9900}, 3);
    assert_true(s.hold);
    assert_int_equal(s.fence, -1);
    /* 2 of 4: half, not more: judged one by one, the longest silent first. */
    st_liveness_node four[4];
    s = judge_at(10000, four, (int64_t[]){5000, 4000, 9900, 9800}, 4);
    assert_false(s.hold);
    assert_int_equal(s.late, 2);
    assert_int_equal(s.fence, 1);
    assert_int_equal(four[0].verdict, ST_LIVENESS_LATE);
    assert_int_equal(four[1].verdict, ST_LIVENESS_FENCE);
}

static void test_two_of_two_hold(void **state)
{
    (void)state;
    st_liveness_node nodes[2];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){5000, 5000}, 2);
    assert_true(s.hold);
    assert_int_equal(s.fence, -1);
}

static void test_only_node_is_judged_alone(void **state)
{
    (void)state;
    st_liveness_node nodes[1];
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){5000}, 1);
    assert_false(s.hold);
    assert_int_equal(s.fence, 0);
}

static void test_nodes_stopping_together_are_seen_together(void **state)
{
    (void)state;
    /* All three stopped at t=7000, their last heartbeats 700 ms apart
     * (heartbeats every 750 ms): when the first crosses the grace, the
     * others are past grace / 2, so none is fenced alone. */
    st_liveness_node nodes[3];
    st_liveness_summary s = judge_at(9300, nodes, (int64_t[]){6300, 6800, 7000}, 3);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.silent, 3);
    assert_true(s.hold);
    assert_int_equal(s.fence, -1);
    /* A healthy node heard 750 ms ago is not counted. */
    s = judge_at(9300, nodes, (int64_t[]){6300, 8550, 9000}, 3);
    assert_int_equal(s.silent, 1);
    assert_int_equal(s.fence, 0);
}

static void test_fencing_counts_as_silent_and_is_not_picked(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    nodes_at(nodes, (int64_t[]){1000, 6000, 9900}, 3);
    nodes[0].fencing = true;
    st_liveness_params p = params(10000);
    st_liveness_summary s;
    st_liveness_judge(&p, nodes, 3, &s);
    /* The one in flight and the late one: 2 of 3. */
    assert_int_equal(s.silent, 2);
    assert_int_equal(s.late, 1);
    assert_true(s.hold);
    assert_int_equal(nodes[0].verdict, ST_LIVENESS_ALIVE);
}

static void test_rate_limit(void **state)
{
    (void)state;
    st_liveness_node nodes[5];
    nodes_at(nodes, (int64_t[]){6000, 9900, 9900, 9900, 9900}, 5);
    st_liveness_params p = params(10000);
    p.last_fence_ns = 9500 * MS;
    st_liveness_summary s;
    st_liveness_judge(&p, nodes, 5, &s);
    assert_int_equal(s.fence, -1);
    assert_int_equal(nodes[0].verdict, ST_LIVENESS_LATE);
    /* The limit lets it go 500 ms later. */
    assert_int_equal(st_liveness_next_ns(&p, nodes, 5, 10000 * MS), 500 * MS);
    p.now_ns = 10500 * MS;
    st_liveness_judge(&p, nodes, 5, &s);
    assert_int_equal(s.fence, 0);
}

static void test_suspect_is_clamped_to_the_grace(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    nodes_at(nodes, (int64_t[]){6000, 6500, 9900}, 3);
    st_liveness_params p = params(10000);
    p.suspect_ns = 9000 * MS;
    st_liveness_summary s;
    st_liveness_judge(&p, nodes, 3, &s);
    assert_int_equal(s.silent, 2);
    assert_true(s.hold);
}

static void test_stall(void **state)
{
    (void)state;
    int64_t th = st_liveness_stall_threshold_ns(3000 * MS, 500 * MS);
    assert_int_equal(th, 2500 * MS);
    int64_t gap = -1;
    assert_false(st_liveness_stalled(0, 10000 * MS, th, &gap));
    assert_int_equal(gap, 0);
    assert_false(st_liveness_stalled(9500 * MS, 10000 * MS, th, &gap));
    assert_int_equal(gap, 500 * MS);
    assert_false(st_liveness_stalled(7500 * MS, 10000 * MS, th, NULL));
    assert_true(st_liveness_stalled(4000 * MS, 10000 * MS, th, &gap));
    assert_int_equal(gap, 6000 * MS);
}

static void test_next_deadline(void **state)
{
    (void)state;
    st_liveness_node nodes[3];
    st_liveness_params p = params(10000);
    st_liveness_summary s = judge_at(10000, nodes, (int64_t[]){9000, 8000, 9500}, 3);
    /* node 1 reaches the grace at 11000. */
    assert_int_equal(st_liveness_next_ns(&p, nodes, 3, 500 * MS), 500 * MS);
    assert_int_equal(st_liveness_next_ns(&p, nodes, 3, 5000 * MS), 1000 * MS);
    /* Held nodes wait for messages, not for the clock. */
    s = judge_at(10000, nodes, (int64_t[]){5000, 5000, 9500}, 3);
    assert_true(s.hold);
    assert_int_equal(st_liveness_next_ns(&p, nodes, 3, 5000 * MS), 2500 * MS);
    /* A fence due now is due now. */
    s = judge_at(10000, nodes, (int64_t[]){5000, 9000, 9500}, 3);
    assert_int_equal(st_liveness_next_ns(&p, nodes, 3, 5000 * MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_alive),
        cmocka_unit_test(test_one_silent_of_three_is_fenced),
        cmocka_unit_test(test_exactly_at_the_grace_is_late),
        cmocka_unit_test(test_all_silent_fences_none),
        cmocka_unit_test(test_more_than_half_holds_half_does_not),
        cmocka_unit_test(test_two_of_two_hold),
        cmocka_unit_test(test_only_node_is_judged_alone),
        cmocka_unit_test(test_nodes_stopping_together_are_seen_together),
        cmocka_unit_test(test_fencing_counts_as_silent_and_is_not_picked),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_suspect_is_clamped_to_the_grace),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_next_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
