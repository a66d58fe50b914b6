/* test_controller_sched.c: the scheduling pass over hosts (issue 17): the
 * host read from a Node's label strata.io/host, the owner's pods counted
 * per host from what is bound and from what the same pass placed. */
#include "controller_fixture.h"

/* A Ready node of 1000m and mem bytes on host (NULL: no strata.io/host). */
static void add_sized_node(st_store *s, const char *name, const char *host, long long mem)
{
    json_t *labels = json_pack("{s:s}", "kubernetes.io/hostname", name);
    if (host)
        json_object_set_new(labels, "strata.io/host", json_string(host));
    add_labelled_node(s, name, true, mem, labels);
}

static void add_host_node(st_store *s, const char *name, const char *host)
{
    add_sized_node(s, name, host, 1LL << 30);
}

/* at most 1 more replica on a host than on the emptiest */
static const char *SPREAD = "      topologySpreadConstraints:\n"
                            "      - maxSkew: 1\n"
                            "        topologyKey: strata.io/host\n"
                            "        whenUnsatisfiable: DoNotSchedule\n"
                            "        labelSelector: {matchLabels: {app: web}}\n";

static void test_one_pass_spreads_by_host_first(void **state)
{
    st_store *s = *state;
    /* Host A has three nodes, B one: four replicas go 2/2 by host. */
    add_host_node(s, "a1", "A");
    add_host_node(s, "a2", "A");
    add_host_node(s, "a3", "A");
    add_host_node(s, "b1", "B");
    apply_deploy(s, 4, "busybox", "16Mi");
    int bound = 0;
    reconcile(s, &bound);
    assert_int_equal(bound, 4);
    assert_int_equal(live_on(s, "b1"), 2);
    assert_int_equal(live_on(s, "a1") + live_on(s, "a2") + live_on(s, "a3"), 2);
    assert_true(live_on(s, "a1") <= 1 && live_on(s, "a2") <= 1 && live_on(s, "a3") <= 1);
}

static void test_bound_pods_count_for_their_host(void **state)
{
    st_store *s = *state;
    /* Two replicas on host A's two nodes; then host B joins and the
     * Deployment grows to four: both new replicas go to B. */
    add_host_node(s, "a1", "A");
    add_host_node(s, "a2", "A");
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "a1"), 1);
    assert_int_equal(live_on(s, "a2"), 1);
    add_host_node(s, "b1", "B");
    apply_deploy(s, 4, "busybox", "16Mi");
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "b1"), 2);
    assert_int_equal(live_on(s, "a1") + live_on(s, "a2"), 2);
}

static void test_nodes_without_host_label_are_one_host(void **state)
{
    st_store *s = *state;
    /* No labels: one replica per node, as before. */
    add_host_node(s, "n1", NULL);
    add_host_node(s, "n2", NULL);
    add_host_node(s, "n3", NULL);
    apply_deploy(s, 3, "busybox", "16Mi");
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "n1"), 1);
    assert_int_equal(live_on(s, "n2"), 1);
    assert_int_equal(live_on(s, "n3"), 1);
}

static void test_unlabelled_nodes_form_host_of_their_own(void **state)
{
    st_store *s = *state;
    /* n1 and n2 (no label) are host "", z1 is host Z: of two replicas one
     * goes to z1, although n1 and n2 are both empty and come first by name. */
    add_host_node(s, "n1", NULL);
    add_host_node(s, "n2", NULL);
    add_host_node(s, "z1", "Z");
    apply_deploy(s, 2, "busybox", "16Mi");
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "z1"), 1);
    assert_int_equal(live_on(s, "n1") + live_on(s, "n2"), 1);
}

static void test_max_skew_holds_pods_back_and_says_why(void **state)
{
    st_store *s = *state;
    /* Host B's one node has room for one replica: with maxSkew 1, host A
     * takes at most one more than B (two), and the fourth replica waits. */
    add_host_node(s, "a1", "A");
    add_host_node(s, "a2", "A");
    add_sized_node(s, "b1", "B", 24LL << 20);
    apply_deploy_with(s, 4, "busybox", "16Mi", SPREAD);
    int bound = 0;
    reconcile(s, &bound);
    assert_int_equal(bound, 3);
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "b1"), 1);
    assert_int_equal(live_on(s, "a1") + live_on(s, "a2"), 2);
    json_t *list = live(s);
    size_t i, waiting = 0;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (pod_node(p))
            continue;
        waiting++;
        json_t *c = json_array_get(json_object_get(json_object_get(p, "status"), "conditions"), 0);
        assert_string_equal(json_string_value(json_object_get(c, "message")),
                            "0/3 nodes: 1 insufficient memory, 2 would exceed maxSkew 1 on "
                            "strata.io/host");
    }
    json_decref(list);
    assert_int_equal(waiting, 1);
    /* Room on host B: the waiting replica goes there. */
    add_sized_node(s, "b2", "B", 1LL << 30);
    reconcile(s, NULL);
    assert_int_equal(live_on(s, "b2"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_pass_spreads_by_host_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_pods_count_for_their_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_without_host_label_are_one_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unlabelled_nodes_form_host_of_their_own, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_skew_holds_pods_back_and_says_why, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
