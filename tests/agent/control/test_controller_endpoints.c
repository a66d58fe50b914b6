/* test_controller_endpoints.c: the endpoints controller on the in-memory
 * store: ready pods in addresses, unready ones in notReadyAddresses, a
 * node lost takes its pods out in the next pass, named target ports
 * resolved per pod, no write when nothing changed; and the Service
 * environment variables kubelet gives containers. */
#include "controller_fixture.h"
#include "strata/service_env.h"

static void put_yaml(st_store *s, const char *text)
{
    json_t *objs = NULL;
    st_error err = {0};
    if (st_manifest_parse_string("t.yaml", text, strlen(text), &objs, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    st_store_op op = {.op = ST_STORE_APPLY, .object = json_array_get(objs, 0)};
    assert_int_equal(st_store_apply_batch(s, &op, 1, &err), 0);
    st_store_ops_release(&op, 1);
    json_decref(objs);
}

/* Runs pods web-* on n1 and n2 with addresses 10.244.K.M, ready or not. */
static void report_pod(st_store *s, json_t *p, const char *ip, bool ready)
{
    st_control_pod_report m = report(pod_field(p, "uid"), "Running", ready, 0, NULL);
    m.pod_ip = ip;
    st_error err = {0};
    assert_int_equal(st_control_pod_status(s, pod_node(p), &m, &err), 1);
}

static json_t *endpoints(st_store *s, const char *name)
{
    json_t *o = NULL;
    st_error err = {0};
    return st_store_get(s, "Endpoints", "default", name, &o, &err) == 0 ? o : NULL;
}

static size_t count(json_t *ep, const char *list)
{
    size_t n = 0, i;
    json_t *sub;
    json_array_foreach(json_object_get(ep, "subsets"), i, sub) n +=
        json_array_size(json_object_get(sub, list));
    return n;
}

static void test_ready_unready_and_node_lost(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    add_node(s, "n1", true, 1LL << 30);
    add_node(s, "n2", true, 1LL << 30);
    apply_deploy(s, 3, "busybox", "64Mi");
    reconcile(s, NULL);
    put_yaml(s, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n"
                "  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n");
    json_t *list = pods(s);
    assert_int_equal(json_array_size(list), 3);
    char ip[3][32];
    for (size_t i = 0; i < 3; i++) {
        snprintf(ip[i], sizeof(ip[i]), "10.244.%c.%zu", pod_node(json_array_get(list, i))[1],
                 i + 2);
        report_pod(s, json_array_get(list, i), ip[i], i != 2);
    }
    int written = 0;
    assert_int_equal(st_control_endpoints(s, &written, &err), 0);
    assert_int_equal(written, 1);
    json_t *ep = endpoints(s, "web");
    assert_non_null(ep);
    assert_int_equal(count(ep, "addresses"), 2);
    assert_int_equal(count(ep, "notReadyAddresses"), 1);
    json_t *sub = json_array_get(json_object_get(ep, "subsets"), 0);
    json_t *port = json_array_get(json_object_get(sub, "ports"), 0);
    assert_int_equal(json_integer_value(json_object_get(port, "port")), 8080);
    json_t *nr = json_array_get(json_object_get(sub, "notReadyAddresses"), 0);
    assert_string_equal(json_string_value(json_object_get(nr, "ip")), ip[2]);
    json_t *ref = json_object_get(nr, "targetRef");
    assert_string_equal(json_string_value(json_object_get(ref, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(ref, "uid")),
                        pod_field(json_array_get(list, 2), "uid"));
    json_t *owner =
        json_array_get(json_object_get(json_object_get(ep, "metadata"), "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(owner, "kind")), "Service");
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", pod_field(ep, "resourceVersion"));
    json_decref(ep);

    /* Nothing changed: nothing written. */
    assert_int_equal(st_control_endpoints(s, &written, &err), 0);
    assert_int_equal(written, 0);
    ep = endpoints(s, "web");
    assert_string_equal(pod_field(ep, "resourceVersion"), rv);
    json_decref(ep);

    /* A node marked dead: its pods leave the addresses in the next pass. */
    const char *lost = pod_node(json_array_get(list, 0));
    assert_int_equal(
        st_control_node_set_ready(s, lost, "Unknown", "NotReady", "NodeLost", "silent", &err), 0);
    assert_int_equal(st_control_node_pods_unknown(s, lost, "silent", NULL, &err), 0);
    assert_int_equal(st_control_endpoints(s, &written, &err), 0);
    assert_int_equal(written, 1);
    ep = endpoints(s, "web");
    size_t on_lost = 0, i;
    json_array_foreach(list, i, owner) on_lost += i != 2 && strcmp(pod_node(owner), lost) == 0;
    assert_int_equal(count(ep, "addresses"), 2 - on_lost);
    json_t *a;
    sub = json_array_get(json_object_get(ep, "subsets"), 0);
    json_array_foreach(json_object_get(sub, "addresses"), i, a)
        assert_string_not_equal(json_string_value(json_object_get(a, "nodeName")), lost);
    json_decref(ep);
    json_decref(list);
}

static void test_named_port_and_selectorless(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    add_node(s, "n1", true, 1LL << 30);
    put_yaml(s, "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: q}}\nspec:\n"
                "  containers: [{name: c, image: busybox, ports: [{name: web, containerPort: "
                "8080}]}]\n");
    put_yaml(s, "apiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {app: q}}\nspec:\n"
                "  containers: [{name: c, image: busybox}]\n");
    put_yaml(s, "apiVersion: v1\nkind: Service\nmetadata: {name: q}\nspec:\n"
                "  selector: {app: q}\n  ports: [{port: 80, targetPort: web}]\n");
    /* A selector-less Service keeps the Endpoints a person wrote. */
    put_yaml(s, "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n"
                "  ports: [{port: 5433}]\n");
    put_yaml(s, "apiVersion: v1\nkind: Endpoints\nmetadata: {name: db}\nsubsets:\n"
                "  - addresses: [{ip: 127.0.0.1}]\n    ports: [{port: 5433}]\n");
    int bound = 0;
    assert_int_equal(st_control_schedule(s, &bound, &err), 0);
    json_t *list = pods(s);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) report_pod(s, p, i == 0 ? "10.244.1.2" : "10.244.1.3", true);
    json_decref(list);
    assert_int_equal(st_control_endpoints(s, NULL, &err), 0);
    json_t *ep = endpoints(s, "q");
    assert_int_equal(count(ep, "addresses"), 1); /* b declares no "web" port */
    json_t *sub = json_array_get(json_object_get(ep, "subsets"), 0);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(sub, "ports"), 0), "port")),
                     8080);
    json_decref(ep);
    ep = endpoints(s, "db");
    assert_int_equal(count(ep, "addresses"), 1);
    assert_null(json_object_get(json_object_get(ep, "metadata"), "ownerReferences"));
    json_decref(ep);
}

static void test_service_env(void **state)
{
    (void)state;
    json_t *svcs = json_pack(
        "[{s:{s:s, s:s}, s:{s:s, s:[{s:s, s:i}, {s:s, s:i}]}},"
        " {s:{s:s, s:s}, s:{s:s, s:[{s:i}]}}, {s:{s:s, s:s}, s:{s:[{s:i}]}}]",
        "metadata", "name", "quote-db", "namespace", "default", "spec", "clusterIP", "10.96.0.11",
        "ports", "name", "pg", "port", 5432, "name", "admin-port", "port", 9000, "metadata", "name",
        "other", "namespace", "team", "spec", "clusterIP", "10.96.0.12", "ports", "port", 80,
        "metadata", "name", "pending", "namespace", "default", "spec", "ports", "port", 81);
    json_t *env = st_service_env(svcs, "default");
    static const char *const want[][2] = {
        {"QUOTE_DB_SERVICE_HOST", "10.96.0.11"},
        {"QUOTE_DB_SERVICE_PORT", "5432"},
        {"QUOTE_DB_SERVICE_PORT_PG", "5432"},
        {"QUOTE_DB_SERVICE_PORT_ADMIN_PORT", "9000"},
        {"QUOTE_DB_PORT", "tcp://10.96.0.11:5432"},
        {"QUOTE_DB_PORT_5432_TCP", "tcp://10.96.0.11:5432"},
        {"QUOTE_DB_PORT_5432_TCP_PROTO", "tcp"},
        {"QUOTE_DB_PORT_5432_TCP_PORT", "5432"},
        {"QUOTE_DB_PORT_5432_TCP_ADDR", "10.96.0.11"},
        {"QUOTE_DB_PORT_9000_TCP", "tcp://10.96.0.11:9000"},
        {"QUOTE_DB_PORT_9000_TCP_PROTO", "tcp"},
        {"QUOTE_DB_PORT_9000_TCP_PORT", "9000"},
        {"QUOTE_DB_PORT_9000_TCP_ADDR", "10.96.0.11"},
    };
    assert_int_equal(json_array_size(env), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_t *e = json_array_get(env, i);
        assert_string_equal(json_string_value(json_object_get(e, "name")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(e, "value")), want[i][1]);
    }
    /* The container's own value wins. */
    json_t *spec = json_pack("{s:[{s:s, s:[{s:s, s:s}]}, {s:s}]}", "containers", "name", "a", "env",
                             "name", "QUOTE_DB_SERVICE_HOST", "value", "mine", "name", "b");
    st_service_env_merge(spec, env);
    json_t *a = json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "env");
    json_t *b = json_object_get(json_array_get(json_object_get(spec, "containers"), 1), "env");
    assert_int_equal(json_array_size(a), json_array_size(env));
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "value")), "mine");
    assert_int_equal(json_array_size(b), json_array_size(env));
    json_decref(spec);
    json_decref(env);
    json_decref(svcs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_unready_and_node_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_port_and_selectorless, setup, teardown),
        cmocka_unit_test(test_service_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
