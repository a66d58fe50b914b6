/* test_deploy_plan.c: the deployment controller's decisions: scale up and
 * down, replacing gone pods, and the rolling update (maxSurge 1,
 * maxUnavailable 0). */
#include "testutil.h"

#include <string.h>

#include "strata/deploy_plan.h"

#define P(n, h, r, t)                                                                              \
    {                                                                                              \
        .name = n, .template_hash = h, .node = "n1", .phase = ST_DP_RUNNING, .ready = r,           \
        .created_ms = t                                                                            \
    }

static void test_creates_missing_replicas(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "h1", true, 1)};
    struct st_dp_plan plan;
    st_deploy_plan(3, "h1", pods, 1, &plan);
    assert_int_equal(plan.create, 2);
    assert_int_equal(plan.n_delete, 0);
    assert_false(plan.rolling);
}

static void test_steady_state_does_nothing(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "h1", true, 1), P("b", "h1", true, 2), P("c", "h1", true, 3)};
    struct st_dp_plan plan;
    st_deploy_plan(3, "h1", pods, 3, &plan);
    assert_int_equal(plan.create, 0);
    assert_int_equal(plan.n_delete, 0);
}

static void test_scale_down_deletes_newest(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "h1", true, 1), P("b", "h1", true, 5), P("c", "h1", true, 3),
                               P("d", "h1", true, 4), P("e", "h1", true, 2)};
    struct st_dp_plan plan;
    st_deploy_plan(1, "h1", pods, 5, &plan);
    assert_int_equal(plan.create, 0);
    assert_int_equal(plan.n_delete, 4);
    /* Newest first: b(5), d(4), c(3), e(2); a survives. */
    assert_string_equal(pods[plan.delete_idx[0]].name, "b");
    assert_string_equal(pods[plan.delete_idx[1]].name, "d");
    assert_string_equal(pods[plan.delete_idx[2]].name, "c");
    assert_string_equal(pods[plan.delete_idx[3]].name, "e");
}

static void test_scale_down_prefers_unready_and_unscheduled(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("old-ready", "h1", true, 1), P("new-ready", "h1", true, 9),
                               P("unready", "h1", false, 2), P("pending", "h1", false, 3)};
    pods[3].node = NULL;
    struct st_dp_plan plan;
    st_deploy_plan(2, "h1", pods, 4, &plan);
    assert_int_equal(plan.n_delete, 2);
    assert_string_equal(pods[plan.delete_idx[0]].name, "pending");
    assert_string_equal(pods[plan.delete_idx[1]].name, "unready");
}

/* Scaling one down from each pair: the rule under test decides, every
 * other attribute being equal. */
static const char *victim_of(struct st_dp_pod *a, struct st_dp_pod *b)
{
    struct st_dp_pod pods[2] = {*a, *b};
    struct st_dp_plan plan;
    st_deploy_plan(1, "h1", pods, 2, &plan);
    assert_int_equal(plan.n_delete, 1);
    return pods[plan.delete_idx[0]].name;
}

static void test_scale_down_ranks_pending_before_running(void **state)
{
    (void)state;
    struct st_dp_pod a = P("running", "h1", false, 1), b = P("pending", "h1", false, 1);
    b.phase = ST_DP_PENDING;
    assert_string_equal(victim_of(&a, &b), "pending");
    struct st_dp_pod u = P("unknown", "h1", false, 1);
    u.phase = ST_DP_UNKNOWN;
    assert_string_equal(victim_of(&a, &u), "unknown");
    assert_string_equal(victim_of(&u, &b), "pending");
}

static void test_scale_down_ranks_most_colocated_first(void **state)
{
    (void)state;
    /* The reproduced bug: 4 -> 3 removed n1's only replica and kept two on
     * n2. The pod on n1 is the newest, but n2 holds two. */
    struct st_dp_pod pods[] = {P("a", "h1", true, 1), P("b", "h1", true, 2), P("c", "h1", true, 3),
                               P("d", "h1", true, 9)};
    pods[0].node = "n2";
    pods[1].node = "n2";
    pods[2].node = "n3";
    pods[3].node = "n1";
    struct st_dp_plan plan;
    st_deploy_plan(3, "h1", pods, 4, &plan);
    assert_int_equal(plan.n_delete, 1);
    assert_string_equal(pods[plan.delete_idx[0]].node, "n2");
    assert_string_equal(pods[plan.delete_idx[0]].name, "b"); /* the newer of the two */
    /* Down to one: n2 loses one first, then the nodes are even and the
     * newest goes (d on n1, then c on n3): a (oldest) is kept. */
    st_deploy_plan(1, "h1", pods, 4, &plan);
    assert_int_equal(plan.n_delete, 3);
    assert_string_equal(pods[plan.delete_idx[0]].name, "b");
    assert_string_equal(pods[plan.delete_idx[1]].name, "d");
    assert_string_equal(pods[plan.delete_idx[2]].name, "c");
}

static void test_scale_down_ranks_readiness_time_restarts_then_age(void **state)
{
    (void)state;
    /* Ready for less time first. */
    struct st_dp_pod a = P("ready-long", "h1", true, 5), b = P("ready-briefly", "h1", true, 1);
    a.ready_ms = 1000;
    b.ready_ms = 9000;
    assert_string_equal(victim_of(&a, &b), "ready-briefly");
    /* Same ready time: more restarts first, though older. */
    struct st_dp_pod c = P("calm", "h1", true, 9), d = P("crashy", "h1", true, 1);
    d.restarts = 4;
    assert_string_equal(victim_of(&c, &d), "crashy");
    /* All else equal: the newest. */
    struct st_dp_pod e = P("old", "h1", true, 1), f = P("new", "h1", true, 2);
    assert_string_equal(victim_of(&e, &f), "new");
    /* Not ready goes before any ready one, however co-located. */
    struct st_dp_pod pods[] = {P("x", "h1", true, 1), P("y", "h1", true, 2),
                               P("z", "h1", false, 3)};
    pods[2].node = "n9";
    struct st_dp_plan plan;
    st_deploy_plan(2, "h1", pods, 3, &plan);
    assert_string_equal(pods[plan.delete_idx[0]].name, "z");
}

static void test_gone_pod_is_removed_and_replaced(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "h1", true, 1), P("b", "h1", true, 2), P("c", "h1", true, 3)};
    pods[1].gone = true;
    struct st_dp_plan plan;
    st_deploy_plan(3, "h1", pods, 3, &plan);
    assert_int_equal(plan.create, 1);
    assert_int_equal(plan.n_delete, 1);
    assert_string_equal(pods[plan.delete_idx[0]].name, "b");
}

static void test_rolling_update_surges_one(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "old", true, 1), P("b", "old", true, 2),
                               P("c", "old", true, 3)};
    struct st_dp_plan plan;
    st_deploy_plan(3, "new", pods, 3, &plan);
    assert_true(plan.rolling);
    assert_int_equal(plan.create, 1);
    /* All 3 ready and needed: no old pod may go before the new one is ready. */
    assert_int_equal(plan.n_delete, 0);
}

static void test_rolling_update_waits_for_new_pod_ready(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "old", true, 1), P("b", "old", true, 2),
                               P("c", "old", true, 3), P("d", "new", false, 4)};
    struct st_dp_plan plan;
    st_deploy_plan(3, "new", pods, 4, &plan);
    assert_int_equal(plan.create, 0); /* surge is used up */
    assert_int_equal(plan.n_delete, 0);
}

static void test_rolling_update_replaces_old_when_new_ready(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "old", true, 1), P("b", "old", true, 2),
                               P("c", "old", true, 3), P("d", "new", true, 4)};
    struct st_dp_plan plan;
    st_deploy_plan(3, "new", pods, 4, &plan);
    assert_int_equal(plan.n_delete, 1);
    assert_string_equal(pods[plan.delete_idx[0]].template_hash, "old");
    assert_int_equal(plan.create, 0);
}

static void test_rolling_update_drops_unready_old_first(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "old", true, 1), P("b", "old", false, 2),
                               P("c", "new", false, 3)};
    struct st_dp_plan plan;
    st_deploy_plan(2, "new", pods, 3, &plan);
    assert_int_equal(plan.n_delete, 1);
    assert_string_equal(pods[plan.delete_idx[0]].name, "b");
}

static void test_rolling_update_finishes(void **state)
{
    (void)state;
    struct st_dp_pod pods[] = {P("a", "old", true, 1), P("b", "new", true, 2),
                               P("c", "new", true, 3)};
    struct st_dp_plan plan;
    st_deploy_plan(2, "new", pods, 3, &plan);
    assert_int_equal(plan.n_delete, 1);
    assert_string_equal(pods[plan.delete_idx[0]].name, "a");
    assert_int_equal(plan.create, 0);
}

static void test_template_hash_is_stable_and_distinct(void **state)
{
    (void)state;
    char a[11], b[11], c[11];
    st_template_hash("{\"spec\":1}", a);
    st_template_hash("{\"spec\":1}", b);
    st_template_hash("{\"spec\":2}", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_creates_missing_replicas),
        cmocka_unit_test(test_steady_state_does_nothing),
        cmocka_unit_test(test_scale_down_deletes_newest),
        cmocka_unit_test(test_scale_down_prefers_unready_and_unscheduled),
        cmocka_unit_test(test_scale_down_ranks_pending_before_running),
        cmocka_unit_test(test_scale_down_ranks_most_colocated_first),
        cmocka_unit_test(test_scale_down_ranks_readiness_time_restarts_then_age),
        cmocka_unit_test(test_gone_pod_is_removed_and_replaced),
        cmocka_unit_test(test_rolling_update_surges_one),
        cmocka_unit_test(test_rolling_update_waits_for_new_pod_ready),
        cmocka_unit_test(test_rolling_update_replaces_old_when_new_ready),
        cmocka_unit_test(test_rolling_update_drops_unready_old_first),
        cmocka_unit_test(test_rolling_update_finishes),
        cmocka_unit_test(test_template_hash_is_stable_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
