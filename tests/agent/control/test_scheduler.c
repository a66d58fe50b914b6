/* test_scheduler.c: filtering, spreading, capacity, tie-breaking and the
 * unschedulable reason of agent/scheduler.c. */
#include "testutil.h"

#include <string.h>

#include "strata/scheduler.h"

#define MI (1024LL * 1024)

static struct st_sched_node node(const char *name, int64_t cpu, int64_t mem)
{
    return (struct st_sched_node){
        .name = name, .ready = true, .cpu_capacity_m = cpu, .mem_capacity = mem};
}

static void test_spreads_replicas_one_per_node(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI),
                                    node("n3", 1000, 192 * MI)};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 32 * MI};
    int seen[3] = {0};
    for (int k = 0; k < 3; k++) {
        int i = st_schedule(&pod, nodes, 3, NULL, 0);
        assert_in_range(i, 0, 2);
        seen[i]++;
        st_sched_assume(&nodes[i], &pod, true);
    }
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
}

static void test_spread_beats_free_capacity(void **state)
{
    (void)state;
    /* n1 is much bigger but already has a replica: n2 must get the next one. */
    struct st_sched_node nodes[] = {node("n1", 8000, 8192 * MI), node("n2", 1000, 192 * MI)};
    nodes[0].owner_pods = 1;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 32 * MI};
    assert_int_equal(st_schedule(&pod, nodes, 2, NULL, 0), 1);
}

static void test_second_replica_only_when_no_empty_feasible_node(void **state)
{
    (void)state;
    /* n2 has no replica but cannot fit the pod: a second replica on n1 is right. */
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 16 * MI)};
    nodes[0].owner_pods = 1;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 32 * MI};
    assert_int_equal(st_schedule(&pod, nodes, 2, NULL, 0), 0);
}

static void test_prefers_least_allocated(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("a", 1000, 1024 * MI), node("b", 1000, 1024 * MI)};
    nodes[0].cpu_requested_m = 500;
    nodes[0].mem_requested = 512 * MI;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 10 * MI};
    assert_int_equal(st_schedule(&pod, nodes, 2, NULL, 0), 1);
}

static void test_ties_break_by_name_not_order(void **state)
{
    (void)state;
    struct st_sched_node fwd[] = {node("n1", 1000, 100 * MI), node("n2", 1000, 100 * MI)};
    struct st_sched_node rev[] = {node("n2", 1000, 100 * MI), node("n1", 1000, 100 * MI)};
    struct st_sched_pod pod = {.cpu_m = 10, .mem = MI};
    assert_string_equal(fwd[st_schedule(&pod, fwd, 2, NULL, 0)].name, "n1");
    assert_string_equal(rev[st_schedule(&pod, rev, 2, NULL, 0)].name, "n1");
}

static void test_exact_fit_is_allowed(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 250, 64 * MI)};
    struct st_sched_pod pod = {.cpu_m = 250, .mem = 64 * MI};
    assert_int_equal(st_schedule(&pod, nodes, 1, NULL, 0), 0);
    st_sched_assume(&nodes[0], &pod, true);
    char why[128];
    assert_int_equal(st_schedule(&pod, nodes, 1, why, sizeof(why)), -1);
    assert_string_equal(why, "0/1 nodes: 1 insufficient cpu, 1 insufficient memory");
}

static void test_unschedulable_reason_counts_each_cause(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 1000, 16 * MI), node("n2", 1000, 16 * MI),
                                    node("n3", 1000, 16 * MI), node("n4", 4000, 4096 * MI)};
    nodes[3].ready = false;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 64 * MI};
    char why[128];
    assert_int_equal(st_schedule(&pod, nodes, 4, why, sizeof(why)), -1);
    assert_string_equal(why, "0/4 nodes: 3 insufficient memory, 1 not ready");
}

static void test_no_nodes(void **state)
{
    (void)state;
    struct st_sched_pod pod = {.cpu_m = 1, .mem = 1};
    char why[160];
    assert_int_equal(st_schedule(&pod, NULL, 0, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "0/0 nodes"));
    assert_non_null(strstr(why, "stratactl node add"));
}

static void test_not_ready_nodes_are_skipped(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI)};
    nodes[0].ready = false;
    struct st_sched_pod pod = {.cpu_m = 1, .mem = 1};
    assert_int_equal(st_schedule(&pod, nodes, 2, NULL, 0), 1);
}

static void test_waits_for_adopting_node_with_fewer_replicas(void **state)
{
    (void)state;
    /* After a stratad restart n1 said hello first; n2 (no replica yet)
     * has not: placing now would stack a second replica on n1. */
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI)};
    nodes[0].owner_pods = 1;
    nodes[1].ready = false;
    nodes[1].adopting = true;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    char why[128];
    assert_int_equal(st_schedule(&pod, nodes, 2, why, sizeof(why)), ST_SCHED_WAIT);
    assert_non_null(strstr(why, "n2"));
    /* Once it is Ready, it gets the pod. */
    nodes[1].ready = true;
    nodes[1].adopting = false;
    assert_int_equal(st_schedule(&pod, nodes, 2, NULL, 0), 1);
}

static void test_adopting_node_no_better_does_not_hold_up(void **state)
{
    (void)state;
    /* The adopting node already holds as many replicas, or cannot fit the
     * pod: waiting for it would gain nothing. */
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI),
                                    node("n3", 1000, 8 * MI)};
    nodes[1].owner_pods = 1;
    nodes[1].ready = false;
    nodes[1].adopting = true;
    nodes[2].ready = false;
    nodes[2].adopting = true;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    nodes[0].owner_pods = 1;
    assert_int_equal(st_schedule(&pod, nodes, 3, NULL, 0), 0);
    /* No ready node fits at all, one adopting node would: wait, quietly. */
    nodes[0].ready = false;
    assert_int_equal(st_schedule(&pod, nodes, 3, NULL, 0), ST_SCHED_WAIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spreads_replicas_one_per_node),
        cmocka_unit_test(test_spread_beats_free_capacity),
        cmocka_unit_test(test_second_replica_only_when_no_empty_feasible_node),
        cmocka_unit_test(test_prefers_least_allocated),
        cmocka_unit_test(test_ties_break_by_name_not_order),
        cmocka_unit_test(test_exact_fit_is_allowed),
        cmocka_unit_test(test_unschedulable_reason_counts_each_cause),
        cmocka_unit_test(test_no_nodes),
        cmocka_unit_test(test_not_ready_nodes_are_skipped),
        cmocka_unit_test(test_waits_for_adopting_node_with_fewer_replicas),
        cmocka_unit_test(test_adopting_node_no_better_does_not_hold_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
