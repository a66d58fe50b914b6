/* test_api_table.c: server-side tables (strata/api_table.h): which Accept
 * headers ask for one, the Table of each kind compared as JSON with
 * tests/agent/server/golden/table_*.json (the cells kubectl prints: a pod
 * in CrashLoopBackOff, a Terminating pod, a NodePort Service, a cordoned
 * node ...), what rows carry under includeObject, and a GET through the
 * API's routing with kubectl's Accept header. Ages are measured at a fixed
 * `now`, so the golden files hold them exactly.
 * STRATA_UPDATE_GOLDEN=1 rewrites the golden files (review the diff). */
#include "testutil.h"

#include "fake_server.h"
#include "strata/api_table.h"
#include "strata/store_lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-22T10:00:00Z */
#define NOW 1795341600
#define KUBECTL_ACCEPT                                                                             \
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s." \
    "io,application/json"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (j == NULL)
        fail_msg("bad test JSON at %d:%d: %s", e.line, e.column, e.text);
    return j;
}

static void check_golden(const char *name, json_t *got)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/agent/server/golden/%s",
             st_test_env("STRATA_SOURCE_DIR"), name);
    char *text = json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    assert_non_null(text);
    const char *update = getenv("STRATA_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        char *nl = NULL;
        assert_true(asprintf(&nl, "%s\n", text) > 0);
        st_test_write_file(path, nl);
        free(nl);
    }
    char *want_text = st_test_read_file(path);
    if (want_text == NULL)
        fail_msg("golden file %s is missing (STRATA_UPDATE_GOLDEN=1 writes it)", path);
    json_t *want = parse(want_text);
    if (!json_equal(want, got)) {
        print_error("got:\n%s\nwant (%s):\n%s\n", text, path, want_text);
        fail_msg("%s differs from the Table made", name);
    }
    json_decref(want);
    free(want_text);
    free(text);
}

/* The Table of the objects in items_json, checked against its golden file. */
static void check_table(const char *kind, const char *items_json, const char *golden)
{
    json_t *items = parse(items_json);
    json_t *t = st_api_table(kind, items, "42", ST_API_TABLE_METADATA, NOW);
    assert_non_null(t);
    /* Every row has one cell per column. */
    size_t ncols = json_array_size(json_object_get(t, "columnDefinitions")), i;
    json_t *row;
    assert_int_equal(json_array_size(json_object_get(t, "rows")), json_array_size(items));
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        assert_int_equal(json_array_size(json_object_get(row, "cells")), ncols);
    }
    check_golden(golden, t);
    json_decref(t);
    json_decref(items);
}

/* The cell under column name in row i of table t. */
static json_t *cell(json_t *t, size_t i, const char *name)
{
    size_t c;
    json_t *col;
    json_array_foreach(json_object_get(t, "columnDefinitions"), c, col)
    {
        if (strcmp(json_string_value(json_object_get(col, "name")), name) == 0)
            return json_array_get(
                json_object_get(json_array_get(json_object_get(t, "rows"), i), "cells"), c);
    }
    fail_msg("no column %s", name);
    return NULL;
}

static void test_wants_table(void **state)
{
    (void)state;
    assert_true(st_server_api_wants_table(KUBECTL_ACCEPT));
    assert_true(st_server_api_wants_table("application/json;as=Table;v=v1;g=meta.k8s.io"));
    assert_true(st_server_api_wants_table("application/json; as=Table; g=meta.k8s.io; v=v1beta1"));
    /* protobuf first (kubectl with --output-watch-events), then a Table */
    assert_true(
        st_server_api_wants_table("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
                                  "application/json;as=Table;v=v1;g=meta.k8s.io"));
    assert_false(st_server_api_wants_table(NULL));
    assert_false(st_server_api_wants_table(""));
    assert_false(st_server_api_wants_table("application/json"));
    assert_false(st_server_api_wants_table("*/*"));
    /* plain JSON preferred over a Table that comes later */
    assert_false(
        st_server_api_wants_table("application/json,application/json;as=Table;v=v1;g=meta.k8s.io"));
    /* wrong group or version: not a Table Strata serves */
    assert_false(st_server_api_wants_table("application/json;as=Table;v=v2;g=meta.k8s.io"));
    assert_false(st_server_api_wants_table("application/json;as=Table;v=v1;g=apps"));
    assert_false(st_server_api_wants_table("application/json;as=Table;v=v1"));
    assert_false(st_server_api_wants_table(
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"));
}

static void test_pods(void **state)
{
    (void)state;
    check_table(
        "Pod",
        "[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\",\"uid\":\"u1\","
        "\"resourceVersion\":\"7\",\"creationTimestamp\":\"2026-11-22T09:55:00Z\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.5\",\"containerStatuses\":[{"
        "\"name\":\"c\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}},"
        /* CrashLoopBackOff: restarts with how long ago the last one ended */
        "{\"metadata\":{\"name\":\"crash\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-11-22T07:00:00Z\"},"
        "\"spec\":{\"nodeName\":\"n2\",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.2.9\",\"containerStatuses\":["
        "{\"name\":\"a\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}},"
        "{\"name\":\"b\",\"ready\":false,\"restartCount\":4,\"state\":{\"waiting\":{\"reason\":"
        "\"CrashLoopBackOff\"}},\"lastState\":{\"terminated\":{\"exitCode\":1,\"reason\":"
        "\"Error\",\"finishedAt\":\"2026-11-22T09:59:30Z\"}}}]}},"
        /* Terminating: deletionTimestamp wins over Running */
        "{\"metadata\":{\"name\":\"going\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-11-19T10:00:00Z\","
        "\"deletionTimestamp\":\"2026-11-22T10:00:30Z\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.6\",\"containerStatuses\":[{"
        "\"name\":\"c\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}},"
        /* waiting for its image, not yet scheduled a node: <none> */
        "{\"metadata\":{\"name\":\"pulling\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-11-22T09:59:50Z\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\"}],"
        "\"readinessGates\":[{\"conditionType\":\"example.com/lb\"}]},"
        "\"status\":{\"phase\":\"Pending\",\"nominatedNodeName\":\"n3\","
        "\"containerStatuses\":[{\"name\":\"c\",\"ready\":false,\"restartCount\":0,"
        "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}},"
        /* done: Completed */
        "{\"metadata\":{\"name\":\"job\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-10-01T10:00:00Z\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"}]},"
        "\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"c\","
        "\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":0,"
        "\"reason\":\"Completed\"}}}]}}]",
        "table_pods.json");
}

static void test_pod_cells(void **state)
{
    (void)state;
    /* The cells people read first, checked by name beside the golden file. */
    json_t *items = parse(
        "[{\"metadata\":{\"name\":\"crash\",\"creationTimestamp\":\"2026-11-22T07:00:00Z\"},"
        "\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\","
        "\"containerStatuses\":[{\"name\":\"a\",\"ready\":false,\"restartCount\":4,"
        "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},\"lastState\":{"
        "\"terminated\":{\"finishedAt\":\"2026-11-22T09:59:30Z\"}}}]}},"
        "{\"metadata\":{\"name\":\"going\",\"creationTimestamp\":\"2026-11-22T09:59:00Z\","
        "\"deletionTimestamp\":\"2026-11-22T10:00:30Z\"},\"status\":{\"phase\":\"Running\"}}]");
    json_t *t = st_api_table("Pod", items, NULL, ST_API_TABLE_METADATA, NOW);
    assert_string_equal(json_string_value(cell(t, 0, "Status")), "CrashLoopBackOff");
    assert_string_equal(json_string_value(cell(t, 0, "Ready")), "0/1");
    assert_string_equal(json_string_value(cell(t, 0, "Restarts")), "4 (30s ago)");
    assert_string_equal(json_string_value(cell(t, 0, "Age")), "3h");
    assert_string_equal(json_string_value(cell(t, 0, "Node")), "<none>");
    assert_string_equal(json_string_value(cell(t, 1, "Status")), "Terminating");
    assert_string_equal(json_string_value(cell(t, 1, "Age")), "60s");
    /* no resourceVersion given: none shown */
    assert_null(json_object_get(json_object_get(t, "metadata"), "resourceVersion"));
    json_decref(t);
    json_decref(items);
}

static void test_deployments(void **state)
{
    (void)state;
    check_table(
        "Deployment",
        "[{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-11-22T08:00:00Z\"},"
        "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\","
        "\"tier\":\"front\"}},\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"nginx\",\"image\":\"nginx:1.27\"},"
        "{\"name\":\"log\",\"image\":\"busybox\"}]}}},"
        "\"status\":{\"replicas\":3,\"readyReplicas\":2,\"updatedReplicas\":3,"
        "\"availableReplicas\":2}},"
        /* scaled to zero: 0/0 */
        "{\"metadata\":{\"name\":\"idle\",\"namespace\":\"default\","
        "\"creationTimestamp\":\"2026-11-12T10:00:00Z\"},"
        "\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"idle\"}},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}},"
        "\"status\":{}}]",
        "table_deployments.json");
}

static void test_services(void **state)
{
    (void)state;
    check_table("Service",
                "[{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:00:00Z\"},"
                "\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.12\","
                "\"selector\":{\"app\":\"db\"},\"ports\":[{\"port\":5432,\"protocol\":\"TCP\"}]}},"
                "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"},"
                "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.20\","
                "\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80,"
                "\"nodePort\":30080,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":53,"
                "\"nodePort\":30053,\"protocol\":\"UDP\"}]}},"
                "{\"metadata\":{\"name\":\"lb\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"},"
                "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.30\","
                "\"ports\":[{\"port\":443,\"nodePort\":31443}]},\"status\":{}},"
                "{\"metadata\":{\"name\":\"lb2\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"},"
                "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.0.31\","
                "\"ports\":[{\"port\":80,\"nodePort\":31080}]},"
                "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"127.1.0.2\"}]}}}]",
                "table_services.json");
}

static void test_endpoints(void **state)
{
    (void)state;
    check_table("Endpoints",
                "[{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"},"
                "\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.5\"},{\"ip\":\"10.244.1.6\"},"
                "{\"ip\":\"10.244.2.7\"},{\"ip\":\"10.244.2.8\"},{\"ip\":\"10.244.3.2\"}],"
                "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}]},"
                "{\"metadata\":{\"name\":\"empty\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"}}]",
                "table_endpoints.json");
}

static void test_nodes(void **state)
{
    (void)state;
    check_table(
        "Node",
        "[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2026-11-20T04:00:00Z\","
        "\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\"}},\"spec\":{},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.122.10\"},"
        "{\"type\":\"Hostname\",\"address\":\"n1\"}],"
        "\"nodeInfo\":{\"kubeletVersion\":\"strata-0.1\",\"osImage\":\"Strata node\","
        "\"kernelVersion\":\"6.1.0-28-amd64\",\"containerRuntimeVersion\":\"strata://0.1\"}}},"
        /* cordoned */
        "{\"metadata\":{\"name\":\"n2\",\"creationTimestamp\":\"2026-11-22T09:40:00Z\"},"
        "\"spec\":{\"unschedulable\":true},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
        "\"nodeInfo\":{\"kernelVersion\":\"6.1.0-28-amd64\"}}},"
        /* silent: Unknown; one that said it is not ready: NotReady */
        "{\"metadata\":{\"name\":\"n3\",\"creationTimestamp\":\"2026-11-22T09:40:00Z\"},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}},"
        "{\"metadata\":{\"name\":\"n4\",\"creationTimestamp\":\"2026-11-22T09:40:00Z\"},"
        "\"spec\":{\"unschedulable\":true},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}]",
        "table_nodes.json");
}

static void test_secrets(void **state)
{
    (void)state;
    check_table("Secret",
                "[{\"metadata\":{\"name\":\"db-pass\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:59:55Z\"},\"type\":\"Opaque\","
                "\"data\":{\"user\":\"YQ==\",\"password\":\"Yg==\"}},"
                "{\"metadata\":{\"name\":\"empty\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2024-11-22T10:00:00Z\"}}]",
                "table_secrets.json");
}

static void test_events(void **state)
{
    (void)state;
    check_table("Event",
                "[{\"metadata\":{\"name\":\"crash.1\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:50:00Z\"},"
                "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"crash\","
                "\"fieldPath\":\"spec.containers{b}\"},\"reason\":\"BackOff\","
                "\"message\":\"Back-off restarting failed container b\",\"type\":\"Warning\","
                "\"source\":{\"component\":\"strata-node\",\"host\":\"n2\"},\"count\":6,"
                "\"firstTimestamp\":\"2026-11-22T09:50:00Z\","
                "\"lastTimestamp\":\"2026-11-22T09:59:30Z\"},"
                "{\"metadata\":{\"name\":\"web.2\",\"namespace\":\"default\","
                "\"creationTimestamp\":\"2026-11-22T09:58:00Z\"},"
                "\"involvedObject\":{\"kind\":\"Deployment\",\"name\":\"web\"},"
                "\"reason\":\"ScalingReplicaSet\",\"message\":\"Scaled from 1 to 3 replicas\","
                "\"type\":\"Normal\",\"source\":{\"component\":\"stratactl\"},"
                "\"firstTimestamp\":\"2026-11-22T09:58:00Z\","
                "\"lastTimestamp\":\"2026-11-22T09:58:00Z\"}]",
                "table_events.json");
}

static void test_namespaces(void **state)
{
    (void)state;
    check_table("Namespace",
                "[{\"metadata\":{\"name\":\"default\",\"creationTimestamp\":"
                "\"2026-11-01T10:00:00Z\"},\"status\":{\"phase\":\"Active\"}},"
                "{\"metadata\":{\"name\":\"old\",\"creationTimestamp\":\"2026-11-22T09:00:00Z\","
                "\"deletionTimestamp\":\"2026-11-22T09:59:00Z\"},"
                "\"status\":{\"phase\":\"Terminating\"}}]",
                "table_namespaces.json");
}

/* A host's lease held, and one given up (no holderIdentity): Holder empty,
 * as the apiserver prints it. */
static void test_leases(void **state)
{
    (void)state;
    check_table("Lease",
                "[{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                "\"metadata\":{\"name\":\"strata-host-h1\",\"namespace\":\"kube-node-lease\","
                "\"creationTimestamp\":\"2026-11-22T09:00:00Z\"},"
                "\"spec\":{\"holderIdentity\":\"h1/3f2a\",\"leaseDurationSeconds\":6,"
                "\"acquireTime\":\"2026-11-22T09:00:00.000000Z\","
                "\"renewTime\":\"2026-11-22T09:59:59.500000Z\",\"leaseTransitions\":0}},"
                "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                "\"metadata\":{\"name\":\"strata-host-h2\",\"namespace\":\"kube-node-lease\","
                "\"creationTimestamp\":\"2026-11-20T10:00:00Z\"},"
                "\"spec\":{\"leaseDurationSeconds\":6,"
                "\"renewTime\":\"2026-11-21T10:00:00.000000Z\",\"leaseTransitions\":3}}]",
                "table_leases.json");
}

static void test_include_object(void **state)
{
    (void)state;
    enum st_api_table_object inc;
    assert_int_equal(st_api_table_object_parse(NULL, &inc), 0);
    assert_int_equal(inc, ST_API_TABLE_METADATA);
    assert_int_equal(st_api_table_object_parse("Object", &inc), 0);
    assert_int_equal(inc, ST_API_TABLE_OBJECT);
    assert_int_equal(st_api_table_object_parse("None", &inc), 0);
    assert_int_equal(inc, ST_API_TABLE_NONE);
    assert_true(st_api_table_object_parse("object", &inc) < 0);

    json_t *items = parse("[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                          "\"s\",\"resourceVersion\":\"9\"},\"data\":{\"k\":\"dg==\"}}]");
    json_t *t = st_api_table("Secret", items, "9", ST_API_TABLE_METADATA, NOW);
    json_t *o = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "PartialObjectMetadata");
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "meta.k8s.io/v1");
    assert_true(json_equal(json_object_get(o, "metadata"),
                           json_object_get(json_array_get(items, 0), "metadata")));
    /* metadata only: never the secret's data */
    assert_null(json_object_get(o, "data"));
    json_decref(t);

    t = st_api_table("Secret", items, "9", ST_API_TABLE_OBJECT, NOW);
    o = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object");
    assert_true(json_equal(o, json_array_get(items, 0)));
    json_decref(t);

    t = st_api_table("Secret", items, "9", ST_API_TABLE_NONE, NOW);
    assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "resourceVersion")), "9");
    json_decref(t);

    /* a kind without its own columns: Name and Age */
    t = st_api_table("Image", items, NULL, ST_API_TABLE_NONE, NOW);
    assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 2);
    assert_string_equal(json_string_value(cell(t, 0, "Name")), "s");
    json_decref(t);
    json_decref(items);
}

/* Through the API's routing, as kubectl asks: a list and one object. */
static void test_get_as_table(void **state)
{
    struct fake_server *fs = *state;
    const char *secret = "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{"
                         "\"name\":\"db\"},\"stringData\":{\"user\":\"a\",\"pass\":\"b\"}}]}";
    assert_int_equal(fake_server_call(fs, "POST", "/apply", secret, NULL), 200);

    json_t *t = NULL;
    struct fake_request rq = {
        .method = "GET", .path = "/api/v1/namespaces/default/secrets", .accept = KUBECTL_ACCEPT};
    assert_int_equal(fake_server_request(fs, &rq, &t, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_int_equal(json_array_size(json_object_get(t, "rows")), 1);
    assert_string_equal(json_string_value(cell(t, 0, "Name")), "db");
    assert_int_equal(json_integer_value(cell(t, 0, "Data")), 2);
    json_decref(t);

    rq.path = "/api/v1/namespaces/default/secrets/db?includeObject=Object";
    assert_int_equal(fake_server_request(fs, &rq, &t, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    json_t *o = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "Secret");
    json_decref(t);

    rq.path = "/api/v1/namespaces/default/secrets?includeObject=All";
    assert_int_equal(fake_server_request(fs, &rq, NULL, NULL), 400);

    /* Leases too (read-only; stratad writes them), NAME HOLDER AGE */
    assert_int_equal(
        st_store_lease_try(fs->d->store, "kube-system", "strata-leader", "h1/i1", 6000, NULL, NULL),
        1);
    rq.path = "/apis/coordination.k8s.io/v1/leases";
    assert_int_equal(fake_server_request(fs, &rq, &t, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_int_equal(json_array_size(json_object_get(t, "rows")), 1);
    assert_string_equal(json_string_value(cell(t, 0, "Name")), "strata-leader");
    assert_string_equal(json_string_value(cell(t, 0, "Holder")), "h1/i1");
    const char *age = json_string_value(cell(t, 0, "Age")); /* "0s", or "1s" past a second */
    assert_true(age[0] >= '0' && age[0] <= '9' && age[strlen(age) - 1] == 's');
    json_decref(t);

    /* Nodes answer tables too; without the header, the plain list. */
    rq.path = "/api/v1/nodes";
    assert_int_equal(fake_server_request(fs, &rq, &t, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(t, "columnDefinitions"), 1), "name")),
                        "Status");
    json_decref(t);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/default/secrets", NULL, &t),
                     200);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "SecretList");
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants_table),
        cmocka_unit_test(test_pods),
        cmocka_unit_test(test_pod_cells),
        cmocka_unit_test(test_deployments),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_nodes),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_include_object),
        cmocka_unit_test_setup_teardown(test_get_as_table, fake_server_setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
