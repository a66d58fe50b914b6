/* test_controller_sched.c: the scheduling pass over hosts (issue 17): the
 * host read from a Node's label strata.io/host, the owner's pods counted
 * per host from what is bound and from what the same pass placed. */
#include "controller_fixture.h"

/* A Ready node of 1000m and 1 GiB on host (NULL: no strata.io/host). */
static void add_host_node(st_store *s, const char *name, const char *host)
{
    json_t *labels = json_pack("{s:s}", "kubernetes.io/hostname", name);
    if (host)
        json_object_set_new(labels, "strata.io/host", json_string(host));
    json_t *n =
        json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:[{s:s, s:s}], s:{s:I, s:I, s:s}}}", "apiVersion",
                  "v1", "kind", "Node", "metadata", "name", name, "labels", labels, "status",
                  "conditions", "type", "Ready", "status", "True", "strata", "cpuMillis",
                  (json_int_t)1000, "memoryBytes", (json_int_t)(1LL << 30), "phase", "Ready");
    st_error err = {0};
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, n, &out, &err), 0);
    json_decref(out);
    json_decref(n);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_pass_spreads_by_host_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_pods_count_for_their_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_without_host_label_are_one_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unlabelled_nodes_form_host_of_their_own, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
