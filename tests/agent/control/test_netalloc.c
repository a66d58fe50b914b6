/* test_netalloc.c: address allocation: pod CIDRs for nodes, a Service's
 * cluster IP, node ports and load balancer address: never two Services on
 * one address, a given address kept or refused, addresses freed with their
 * Service, kept across re-apply, and the pass over the in-memory store. */
#include <errno.h>
#include <string.h>

#include "controller_fixture.h"
#include "strata/netalloc.h"
#include "strata/object_patch.h"

static json_t *service(const char *name, const char *type, const char *extra_spec)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n  type: %s\n"
             "  selector: {app: web}\n  ports: [{name: http, port: 80}, {name: admin, port: 81}]\n"
             "%s",
             name, type, extra_spec ? extra_spec : "");
    json_t *objs = NULL;
    st_error err = {0};
    if (st_manifest_parse_string("t.yaml", text, strlen(text), &objs, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    json_t *svc = json_incref(json_array_get(objs, 0));
    json_decref(objs);
    return svc;
}

static const char *spec_str(json_t *svc, const char *key)
{
    return json_string_value(json_object_get(json_object_get(svc, "spec"), key));
}

static json_int_t node_port(json_t *svc, size_t i)
{
    json_t *p = json_array_get(json_object_get(json_object_get(svc, "spec"), "ports"), i);
    return json_integer_value(json_object_get(p, "nodePort"));
}

static const char *ingress(json_t *svc)
{
    json_t *lb = json_object_get(json_object_get(svc, "status"), "loadBalancer");
    return json_string_value(
        json_object_get(json_array_get(json_object_get(lb, "ingress"), 0), "ip"));
}

static void test_pod_cidr(void **state)
{
    (void)state;
    char cidr[ST_NET_CIDR_LEN];
    st_error err = {0};
    json_t *nodes = json_array();
    assert_int_equal(st_netalloc_pod_cidr(nodes, cidr, &err), 0);
    assert_string_equal(cidr, "10.244.1.0/24");
    json_array_append_new(nodes, json_pack("{s:{s:s}}", "spec", "podCIDR", "10.244.1.0/24"));
    json_array_append_new(nodes, json_pack("{s:{s:s}}", "spec", "podCIDR", "10.244.3.0/24"));
    json_array_append_new(nodes, json_pack("{s:{}}", "spec"));
    assert_int_equal(st_netalloc_pod_cidr(nodes, cidr, &err), 0);
    assert_string_equal(cidr, "10.244.2.0/24"); /* the first free, a freed one again */
    for (int k = 2; k < 256; k++) {
        char c[32];
        snprintf(c, sizeof(c), "10.244.%d.0/24", k);
        json_array_append_new(nodes, json_pack("{s:{s:s}}", "spec", "podCIDR", c));
    }
    assert_int_equal(st_netalloc_pod_cidr(nodes, cidr, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "remove a node"));
    json_decref(nodes);
    assert_true(st_netalloc_cidr_contains("10.244.3.0/24", "10.244.3.7"));
    assert_false(st_netalloc_cidr_contains("10.244.3.0/24", "10.244.4.7"));
}

static void test_node_pod_cidr_on_store(void **state)
{
    st_store *s = *state;
    char cidr[ST_NET_CIDR_LEN];
    st_error err = {0};
    add_node(s, "n1", true, 1 << 30);
    assert_int_equal(st_control_node_pod_cidr(s, cidr, &err), 0);
    assert_string_equal(cidr, "10.244.1.0/24");
}

/* Two stratad (two hosts on one database) picked the same CIDR for nodes
 * added at once: settling leaves it to the name that sorts first and
 * moves the other, whichever side settles first. */
static void test_node_pod_cidr_settle(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    for (const char *const *n = (const char *const[]){"node-b", "node-a", NULL}; *n; n++) {
        json_t *node = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "Node",
                                 "metadata", "name", *n, "spec", "podCIDR", "10.244.1.0/24");
        assert_int_equal(st_store_create(s, node, NULL, &err), 0);
        json_decref(node);
    }
    char b[ST_NET_CIDR_LEN], a[ST_NET_CIDR_LEN];
    assert_int_equal(st_control_node_pod_cidr_settle(s, "node-b", b, &err), 0);
    assert_int_equal(st_control_node_pod_cidr_settle(s, "node-a", a, &err), 0);
    assert_string_equal(a, "10.244.1.0/24");
    assert_string_not_equal(b, a);
    /* settled: asking again changes nothing */
    char again[ST_NET_CIDR_LEN];
    assert_int_equal(st_control_node_pod_cidr_settle(s, "node-b", again, &err), 0);
    assert_string_equal(again, b);
    assert_int_equal(st_control_node_pod_cidr_settle(s, "nosuch", again, &err), -ENOENT);
}

static void test_service_addresses(void **state)
{
    (void)state;
    st_error err = {0};
    json_t *others = json_array();
    json_t *a = service("a", "LoadBalancer", NULL);
    assert_int_equal(st_netalloc_service(a, others, &err), 1);
    assert_string_equal(spec_str(a, "clusterIP"), "10.96.0.10");
    assert_int_equal(node_port(a, 0), 30000);
    assert_int_equal(node_port(a, 1), 30001);
    assert_string_equal(ingress(a), "127.1.0.1");
    /* Deciding again changes nothing: allocations are kept. */
    assert_int_equal(st_netalloc_service(a, others, &err), 0);
    json_array_append(others, a);

    json_t *b = service("b", "NodePort", "  clusterIP: 10.96.0.11\n");
    json_object_set_new(json_array_get(json_object_get(json_object_get(b, "spec"), "ports"), 1),
                        "nodePort", json_integer(30005));
    assert_int_equal(st_netalloc_service(b, others, &err), 1);
    assert_string_equal(spec_str(b, "clusterIP"), "10.96.0.11");
    assert_int_equal(node_port(b, 0), 30002);
    assert_int_equal(node_port(b, 1), 30005);
    assert_null(ingress(b));
    json_array_append(others, b);

    json_t *c = service("c", "ClusterIP", NULL);
    assert_int_equal(st_netalloc_service(c, others, &err), 1);
    assert_string_equal(spec_str(c, "clusterIP"), "10.96.0.12");
    assert_int_equal(node_port(c, 0), 0);
    json_decref(c);

    /* Taken and out-of-range addresses are refused with what to do. */
    json_t *d = service("d", "ClusterIP", "  clusterIP: 10.96.0.10\n");
    st_error e1 = {0};
    assert_int_equal(st_netalloc_service(d, others, &e1), -EEXIST);
    assert_non_null(strstr(e1.msg, "already allocated to Service default/a"));
    json_decref(d);
    d = service("d", "ClusterIP", "  clusterIP: 10.97.0.1\n");
    st_error e2 = {0};
    assert_int_equal(st_netalloc_service(d, others, &e2), -EINVAL);
    json_decref(d);
    d = service("d", "NodePort", NULL);
    json_object_set_new(json_array_get(json_object_get(json_object_get(d, "spec"), "ports"), 0),
                        "nodePort", json_integer(30001));
    st_error e3 = {0};
    assert_int_equal(st_netalloc_service(d, others, &e3), -EEXIST);
    assert_non_null(strstr(e3.msg, "nodePort 30001"));
    json_decref(d);

    /* a deleted: its addresses are free again. */
    json_array_remove(others, 0);
    json_t *e = service("e", "LoadBalancer", NULL);
    assert_int_equal(st_netalloc_service(e, others, &err), 1);
    assert_string_equal(spec_str(e, "clusterIP"), "10.96.0.10");
    assert_int_equal(node_port(e, 0), 30000);
    assert_string_equal(ingress(e), "127.1.0.1");
    /* A type change drops what the new type has no use for. */
    json_object_set_new(json_object_get(e, "spec"), "type", json_string("ClusterIP"));
    assert_int_equal(st_netalloc_service(e, others, &err), 1);
    assert_int_equal(node_port(e, 0), 0);
    assert_null(ingress(e));
    json_decref(e);
    json_decref(a);
    json_decref(b);
    json_decref(others);
}

static void test_reapply_keeps_allocations(void **state)
{
    (void)state;
    st_error err = {0};
    json_t *stored = service("a", "NodePort", NULL);
    json_t *none = json_array();
    assert_int_equal(st_netalloc_service(stored, none, &err), 1);
    json_t *next = service("a", "NodePort", NULL);
    st_object_keep_server_fields(stored, next);
    assert_string_equal(spec_str(next, "clusterIP"), "10.96.0.10");
    assert_int_equal(node_port(next, 0), 30000);
    assert_int_equal(node_port(next, 1), 30001);
    assert_int_equal(st_netalloc_service(next, none, &err), 0);
    json_decref(next);
    json_decref(stored);
    json_decref(none);
}

static void put(st_store *s, json_t *svc)
{
    st_error err = {0};
    st_store_op op = {.op = ST_STORE_APPLY, .object = svc};
    assert_int_equal(st_store_apply_batch(s, &op, 1, &err), 0);
    st_store_ops_release(&op, 1);
    json_decref(svc);
}

static json_t *get_svc(st_store *s, const char *name)
{
    json_t *o = NULL;
    st_error err = {0};
    assert_int_equal(st_store_get(s, "Service", "default", name, &o, &err), 0);
    return o;
}

static void test_pass_on_store(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    put(s, service("a", "LoadBalancer", NULL));
    put(s, service("b", "LoadBalancer", NULL));
    int changed = 0;
    assert_int_equal(st_control_services(s, &changed, &err), 0);
    assert_int_equal(changed, 2);
    json_t *a = get_svc(s, "a"), *b = get_svc(s, "b");
    assert_string_not_equal(spec_str(a, "clusterIP"), spec_str(b, "clusterIP"));
    assert_string_not_equal(ingress(a), ingress(b));
    assert_int_not_equal(node_port(a, 0), node_port(b, 0));
    const char *rv =
        json_string_value(json_object_get(json_object_get(a, "metadata"), "resourceVersion"));
    char rv_a[32];
    snprintf(rv_a, sizeof(rv_a), "%s", rv);
    /* Nothing more to do: nothing written. */
    assert_int_equal(st_control_services(s, &changed, &err), 0);
    assert_int_equal(changed, 0);
    json_decref(a);
    a = get_svc(s, "a");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "metadata"), "resourceVersion")),
        rv_a);

    /* At write time, a taken address is refused. */
    json_t *c = service("c", "ClusterIP", NULL);
    json_object_set(json_object_get(c, "spec"), "clusterIP",
                    json_object_get(json_object_get(b, "spec"), "clusterIP"));
    st_error e = {0};
    json_t *batch = json_pack("[O]", c);
    assert_int_equal(st_control_service_allocate(s, batch, &e), -EEXIST);
    json_decref(batch);
    json_decref(c);
    /* Deleted: its addresses go to the next Service. */
    char ip_b[32];
    snprintf(ip_b, sizeof(ip_b), "%s", spec_str(b, "clusterIP"));
    assert_int_equal(st_store_delete(s, "Service", "default", "b", NULL, &err), 0);
    c = service("c", "ClusterIP", NULL);
    /* two new ones in one batch (one file): never the same address */
    json_t *d2 = service("d", "ClusterIP", NULL);
    batch = json_pack("[O, O]", c, d2);
    assert_int_equal(st_control_service_allocate(s, batch, &err), 0);
    assert_string_equal(spec_str(c, "clusterIP"), ip_b);
    assert_string_not_equal(spec_str(d2, "clusterIP"), ip_b);
    json_decref(batch);
    json_decref(d2);
    json_decref(c);
    json_decref(a);
    json_decref(b);
}

static void test_pass_failure_is_an_event_once(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    put(s, service("a", "ClusterIP", "  clusterIP: 10.96.0.10\n"));
    put(s, service("b", "ClusterIP", "  clusterIP: 10.96.0.10\n")); /* raced past the API */
    assert_int_equal(st_control_services(s, NULL, &err), 0);
    assert_int_equal(st_control_services(s, NULL, &err), 0);
    assert_int_equal(count_events(s, "AllocationFailed"), 1);
    json_t *b = get_svc(s, "b");
    assert_string_equal(st_condition_status(b, "Allocated"), "False");
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_cidr),
        cmocka_unit_test_setup_teardown(test_node_pod_cidr_on_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_pod_cidr_settle, setup, teardown),
        cmocka_unit_test(test_service_addresses),
        cmocka_unit_test(test_reapply_keeps_allocations),
        cmocka_unit_test_setup_teardown(test_pass_on_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pass_failure_is_an_event_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
