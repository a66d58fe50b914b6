/* test_scheduler.c: filtering, spreading (over hosts, then nodes),
 * capacity, tie-breaking and the unschedulable reason of
 * agent/control/scheduler.c. */
#include "testutil.h"

#include <string.h>

#include "strata/scheduler.h"

#define MI (1024LL * 1024)

static struct st_sched_node node(const char *name, int64_t cpu, int64_t mem)
{
    return (struct st_sched_node){
        .name = name, .ready = true, .cpu_capacity_m = cpu, .mem_capacity = mem};
}

/* One host (no hosts given), as before issue 17. */
static int sched(const struct st_sched_pod *pod, struct st_sched_node *nodes, size_t n,
                 char *reason, size_t reason_len)
{
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = n};
    return st_schedule(pod, &c, reason, reason_len);
}

static void assume(struct st_sched_node *nodes, size_t n, int i, const struct st_sched_pod *pod)
{
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = n};
    st_sched_assume(&c, (size_t)i, pod, true);
}

static void test_spreads_replicas_one_per_node(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI),
                                    node("n3", 1000, 192 * MI)};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 32 * MI};
    int seen[3] = {0};
    for (int k = 0; k < 3; k++) {
        int i = sched(&pod, nodes, 3, NULL, 0);
        assert_in_range(i, 0, 2);
        seen[i]++;
        assume(nodes, 3, i, &pod);
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
    assert_int_equal(sched(&pod, nodes, 2, NULL, 0), 1);
}

static void test_second_replica_only_when_no_empty_feasible_node(void **state)
{
    (void)state;
    /* n2 has no replica but cannot fit the pod: a second replica on n1 is right. */
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 16 * MI)};
    nodes[0].owner_pods = 1;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 32 * MI};
    assert_int_equal(sched(&pod, nodes, 2, NULL, 0), 0);
}

static void test_prefers_least_allocated(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("a", 1000, 1024 * MI), node("b", 1000, 1024 * MI)};
    nodes[0].cpu_requested_m = 500;
    nodes[0].mem_requested = 512 * MI;
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 10 * MI};
    assert_int_equal(sched(&pod, nodes, 2, NULL, 0), 1);
}

static void test_ties_break_by_name_not_order(void **state)
{
    (void)state;
    struct st_sched_node fwd[] = {node("n1", 1000, 100 * MI), node("n2", 1000, 100 * MI)};
    struct st_sched_node rev[] = {node("n2", 1000, 100 * MI), node("n1", 1000, 100 * MI)};
    struct st_sched_pod pod = {.cpu_m = 10, .mem = MI};
    assert_string_equal(fwd[sched(&pod, fwd, 2, NULL, 0)].name, "n1");
    assert_string_equal(rev[sched(&pod, rev, 2, NULL, 0)].name, "n1");
}

static void test_exact_fit_is_allowed(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 250, 64 * MI)};
    struct st_sched_pod pod = {.cpu_m = 250, .mem = 64 * MI};
    assert_int_equal(sched(&pod, nodes, 1, NULL, 0), 0);
    assume(nodes, 1, 0, &pod);
    char why[128];
    assert_int_equal(sched(&pod, nodes, 1, why, sizeof(why)), -1);
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
    assert_int_equal(sched(&pod, nodes, 4, why, sizeof(why)), -1);
    assert_string_equal(why, "0/4 nodes: 3 insufficient memory, 1 not ready");
}

static void test_no_nodes(void **state)
{
    (void)state;
    struct st_sched_pod pod = {.cpu_m = 1, .mem = 1};
    char why[160];
    assert_int_equal(sched(&pod, NULL, 0, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "0/0 nodes"));
    assert_non_null(strstr(why, "stratactl node add"));
}

static void test_not_ready_nodes_are_skipped(void **state)
{
    (void)state;
    struct st_sched_node nodes[] = {node("n1", 1000, 192 * MI), node("n2", 1000, 192 * MI)};
    nodes[0].ready = false;
    struct st_sched_pod pod = {.cpu_m = 1, .mem = 1};
    assert_int_equal(sched(&pod, nodes, 2, NULL, 0), 1);
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
    assert_int_equal(sched(&pod, nodes, 2, why, sizeof(why)), ST_SCHED_WAIT);
    assert_non_null(strstr(why, "n2"));
    /* Once it is Ready, it gets the pod. */
    nodes[1].ready = true;
    nodes[1].adopting = false;
    assert_int_equal(sched(&pod, nodes, 2, NULL, 0), 1);
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
    assert_int_equal(sched(&pod, nodes, 3, NULL, 0), 0);
    /* No ready node fits at all, one adopting node would: wait, quietly. */
    nodes[0].ready = false;
    assert_int_equal(sched(&pod, nodes, 3, NULL, 0), ST_SCHED_WAIT);
}

/* Hosts (issue 17): nodes[i].host indexes hosts; each host's owner_pods is
 * the sum over its nodes, as controller_sched.c fills them. */
static struct st_sched_node host_node(const char *name, size_t host)
{
    struct st_sched_node n = node(name, 1000, 192 * MI);
    n.host = host;
    return n;
}

/* Places replicas one after another, as a pass does, and returns how many
 * went to each node (per_node) and host (per_host). */
static void place(struct st_sched_cluster *c, int replicas, int *per_node, int *per_host)
{
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    for (int k = 0; k < replicas; k++) {
        int i = st_schedule(&pod, c, NULL, 0);
        assert_in_range(i, 0, (int)c->n_nodes - 1);
        per_node[i]++;
        per_host[c->nodes[i].host]++;
        st_sched_assume(c, (size_t)i, &pod, true);
    }
}

static void test_hosts_two_by_two_spread_by_host_then_node(void **state)
{
    (void)state;
    struct st_sched_host hosts[] = {{.name = "A"}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("b1", 1),
                                    host_node("b2", 1)};
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 4, .hosts = hosts, .n_hosts = 2};
    int per_node[4] = {0}, per_host[2] = {0};
    /* The first two replicas already land on different hosts. */
    place(&c, 2, per_node, per_host);
    assert_int_equal(per_host[0], 1);
    assert_int_equal(per_host[1], 1);
    place(&c, 2, per_node, per_host);
    assert_int_equal(per_host[0], 2);
    assert_int_equal(per_host[1], 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(per_node[i], 1);
    assert_int_equal(hosts[0].owner_pods, 2);
    assert_int_equal(hosts[1].owner_pods, 2);
}

static void test_hosts_uneven_nodes_still_spread_by_host(void **state)
{
    (void)state;
    /* Host A has three nodes, B one: by nodes alone B would get one replica
     * of four; by host it gets two (losing A then loses half, not 3/4). */
    struct st_sched_host hosts[] = {{.name = "A"}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("a3", 0),
                                    host_node("b1", 1)};
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 4, .hosts = hosts, .n_hosts = 2};
    int per_node[4] = {0}, per_host[2] = {0};
    place(&c, 4, per_node, per_host);
    assert_int_equal(per_host[0], 2);
    assert_int_equal(per_host[1], 2);
    assert_int_equal(per_node[3], 2);
    /* Within A, one per node. */
    assert_true(per_node[0] <= 1 && per_node[1] <= 1 && per_node[2] <= 1);
}

static void test_host_beats_node_spread_and_free_capacity(void **state)
{
    (void)state;
    /* a2 is empty and much bigger, but host A already holds a replica and
     * host B none: b1 (which holds nothing either) wins. */
    struct st_sched_host hosts[] = {{.name = "A", .owner_pods = 1}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("b1", 1)};
    nodes[0].owner_pods = 1;
    nodes[1].cpu_capacity_m = 8000;
    nodes[1].mem_capacity = 8192 * MI;
    nodes[2].cpu_requested_m = 800;
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 3, .hosts = hosts, .n_hosts = 2};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 2);
}

static void test_unlabelled_nodes_are_one_host_as_before(void **state)
{
    (void)state;
    /* Nodes without strata.io/host are all on host "": every decision is
     * the one made without hosts, whatever the capacities. */
    struct st_sched_node plain[] = {node("n1", 1000, 192 * MI), node("n2", 2000, 256 * MI),
                                    node("n3", 500, 128 * MI)};
    struct st_sched_node one[3];
    memcpy(one, plain, sizeof(one));
    struct st_sched_host host[] = {{.name = ""}};
    struct st_sched_cluster without = {.nodes = plain, .n_nodes = 3};
    struct st_sched_cluster with = {.nodes = one, .n_nodes = 3, .hosts = host, .n_hosts = 1};
    struct st_sched_pod pods[] = {{.cpu_m = 100, .mem = 16 * MI},
                                  {.cpu_m = 300, .mem = 64 * MI},
                                  {.cpu_m = 50, .mem = 8 * MI}};
    for (int k = 0; k < 12; k++) {
        const struct st_sched_pod *p = &pods[k % 3];
        char why_a[128] = "", why_b[128] = "";
        int a = st_schedule(p, &without, why_a, sizeof(why_a));
        int b = st_schedule(p, &with, why_b, sizeof(why_b));
        assert_int_equal(a, b);
        assert_string_equal(why_a, why_b);
        if (a < 0)
            break;
        st_sched_assume(&without, (size_t)a, p, k % 2 == 0);
        st_sched_assume(&with, (size_t)b, p, k % 2 == 0);
    }
}

static void test_host_without_ready_node_is_skipped(void **state)
{
    (void)state;
    /* Host A holds no replica but none of its nodes is ready: the pod goes
     * to B, which already holds one. */
    struct st_sched_host hosts[] = {{.name = "A"}, {.name = "B", .owner_pods = 1}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("b1", 1),
                                    host_node("b2", 1)};
    nodes[0].ready = false;
    nodes[1].ready = false;
    nodes[2].owner_pods = 1;
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 4, .hosts = hosts, .n_hosts = 2};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 3);
    /* Nor does a host whose ready nodes cannot fit the pod count. */
    nodes[0].ready = true;
    nodes[0].mem_capacity = 8 * MI;
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 3);
}

static void test_waits_for_adopting_node_on_an_emptier_host(void **state)
{
    (void)state;
    /* After a restart a2 (host A, ready, no replica) answered, b1 (host B,
     * no replica on the host) has not: a2 would stack a second replica on
     * host A, so the pod waits for b1. */
    struct st_sched_host hosts[] = {{.name = "A", .owner_pods = 1}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("b1", 1)};
    nodes[0].owner_pods = 1;
    nodes[2].ready = false;
    nodes[2].adopting = true;
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 3, .hosts = hosts, .n_hosts = 2};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI};
    char why[128];
    assert_int_equal(st_schedule(&pod, &c, why, sizeof(why)), ST_SCHED_WAIT);
    assert_non_null(strstr(why, "b1"));
    /* An adopting node on a fuller host does not hold the pod up, even
     * when the node itself is emptier. */
    hosts[0].owner_pods = 0;
    nodes[0].owner_pods = 0;
    hosts[1].owner_pods = 1;
    nodes[2].host = 1;
    struct st_sched_node more[] = {nodes[0], nodes[1], nodes[2], host_node("b2", 1)};
    more[3].owner_pods = 1;
    c.nodes = more;
    c.n_nodes = 4;
    assert_in_range(st_schedule(&pod, &c, NULL, 0), 0, 1);
}

/* topologySpreadConstraints, DoNotSchedule: counts are the matching pods
 * per domain, as controller_sched.c counts them. */
static void test_max_skew_by_host_refuses_and_says_why(void **state)
{
    (void)state;
    /* Host A holds 2 matching pods, B none: with maxSkew 1 a third on A
     * would make the skew 3; B's nodes are full. */
    struct st_sched_host hosts[] = {{.name = "A"}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("a2", 0), host_node("b1", 1),
                                    host_node("b2", 1)};
    nodes[2].mem_capacity = 8 * MI;
    nodes[3].mem_capacity = 8 * MI;
    int per_host[] = {2, 0};
    struct st_sched_spread spread = {.topology_key = "strata.io/host",
                                     .by_host = true,
                                     .max_skew = 1,
                                     .self_match = true,
                                     .count = per_host};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI, .spread = &spread, .n_spread = 1};
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 4, .hosts = hosts, .n_hosts = 2};
    char why[160];
    assert_int_equal(st_schedule(&pod, &c, why, sizeof(why)), -1);
    assert_string_equal(why, "0/4 nodes: 2 insufficient memory, 2 would exceed maxSkew 1 on "
                             "strata.io/host");
    /* With room on B, B it is, although A's nodes are emptier. */
    nodes[2].mem_capacity = 192 * MI;
    nodes[2].cpu_requested_m = 900;
    nodes[3].mem_capacity = 192 * MI;
    nodes[3].cpu_requested_m = 800;
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 3);
    /* maxSkew 2 allows A again (2 + 1 - 0 = 3 > 2 still refuses; 1 on A
     * gives 2). */
    spread.max_skew = 2;
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 3);
    per_host[0] = 1;
    assert_in_range(st_schedule(&pod, &c, NULL, 0), 0, 1);
}

static void test_max_skew_by_node(void **state)
{
    (void)state;
    /* kubernetes.io/hostname: each node is a domain. n1 holds one matching
     * pod, n2 and n3 none; n2 is full, so n3, even though n1 is bigger. */
    struct st_sched_node nodes[] = {node("n1", 8000, 8192 * MI), node("n2", 1000, 8 * MI),
                                    node("n3", 1000, 192 * MI)};
    nodes[2].cpu_requested_m = 800;
    int per_node[] = {1, 0, 0};
    struct st_sched_spread spread = {.topology_key = "kubernetes.io/hostname",
                                     .max_skew = 1,
                                     .self_match = true,
                                     .count = per_node};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI, .spread = &spread, .n_spread = 1};
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 3};
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 2);
    nodes[2].ready = false;
    char why[160];
    assert_int_equal(st_schedule(&pod, &c, why, sizeof(why)), -1);
    assert_string_equal(why, "0/3 nodes: 1 insufficient memory, 1 would exceed maxSkew 1 on "
                             "kubernetes.io/hostname, 1 not ready");
    /* A pod its own selector does not match adds nothing to the skew. */
    spread.self_match = false;
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 0);
}

static void test_max_skew_ignores_hosts_without_ready_node(void **state)
{
    (void)state;
    /* Host B (no matching pod) is down: it is not the emptiest domain, or
     * no replacement could go anywhere while it is. */
    struct st_sched_host hosts[] = {{.name = "A"}, {.name = "B"}};
    struct st_sched_node nodes[] = {host_node("a1", 0), host_node("b1", 1)};
    nodes[1].ready = false;
    int per_host[] = {3, 0};
    struct st_sched_spread spread = {.topology_key = "strata.io/host",
                                     .by_host = true,
                                     .max_skew = 1,
                                     .self_match = true,
                                     .count = per_host};
    struct st_sched_pod pod = {.cpu_m = 100, .mem = 16 * MI, .spread = &spread, .n_spread = 1};
    struct st_sched_cluster c = {.nodes = nodes, .n_nodes = 2, .hosts = hosts, .n_hosts = 2};
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), 0);
    /* An adopting node's host does count: it is about to be back, and the
     * pod waits for it rather than break the skew. */
    nodes[1].adopting = true;
    assert_int_equal(st_schedule(&pod, &c, NULL, 0), ST_SCHED_WAIT);
    /* Without hosts, a constraint by host has one domain: it never refuses. */
    struct st_sched_cluster one = {.nodes = nodes, .n_nodes = 1};
    assert_int_equal(st_schedule(&pod, &one, NULL, 0), 0);
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
        cmocka_unit_test(test_hosts_two_by_two_spread_by_host_then_node),
        cmocka_unit_test(test_hosts_uneven_nodes_still_spread_by_host),
        cmocka_unit_test(test_host_beats_node_spread_and_free_capacity),
        cmocka_unit_test(test_unlabelled_nodes_are_one_host_as_before),
        cmocka_unit_test(test_host_without_ready_node_is_skipped),
        cmocka_unit_test(test_waits_for_adopting_node_on_an_emptier_host),
        cmocka_unit_test(test_max_skew_by_host_refuses_and_says_why),
        cmocka_unit_test(test_max_skew_by_node),
        cmocka_unit_test(test_max_skew_ignores_hosts_without_ready_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
