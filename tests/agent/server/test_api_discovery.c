/* test_api_discovery.c: what kubectl reads before any object: /version,
 * the health checks, the discovery documents and the OpenAPI v3 documents,
 * on the fake server. The documents are compared as JSON with golden files
 * in tests/agent/server/golden/; STRATA_UPDATE_GOLDEN=1 rewrites them
 * (review the diff: a change there is a change kubectl sees). */
#include "fake_server.h"
#include "testutil.h"
#include "strata/jsonpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What kubectl 1.32 sends: the aggregated form first, the plain one after. */
#define KUBECTL_ACCEPT                                                                             \
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g="     \
    "apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

/* GET path as kubectl asks for it: 200 and a JSON body (the Content-Type
 * said application/json, else the reply would not have been parsed). */
static json_t *get_json(struct fake_server *fs, const char *path)
{
    json_t *reply = NULL;
    struct fake_request r = {.method = "GET", .path = path, .accept = KUBECTL_ACCEPT};
    assert_int_equal(fake_server_request(fs, &r, &reply, NULL), 200);
    assert_non_null(reply);
    return reply;
}

static void check_golden(const char *name, json_t *doc)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/agent/server/golden/%s",
             st_test_env("STRATA_SOURCE_DIR"), name);
    const char *update = getenv("STRATA_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0)
        assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    json_error_t je;
    json_t *want = json_load_file(path, 0, &je);
    if (want == NULL)
        fail_msg("golden file %s is missing or not JSON (%s; STRATA_UPDATE_GOLDEN=1 writes it)",
                 path, je.text);
    if (!json_equal(want, doc)) {
        char *got = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        fail_msg("%s differs from what the server answers (STRATA_UPDATE_GOLDEN=1 rewrites "
                 "it); the answer:\n%s",
                 path, got);
    }
    json_decref(want);
}

static const char *str_at(json_t *o, const char *path)
{
    return st_json_str_at(o, path) ?: "";
}

/* The entry of list whose "name" is name, or NULL. */
static json_t *named(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (strcmp(str_at(e, "name"), name) == 0) return e;
    return NULL;
}

static void test_discovery_documents(void **state)
{
    struct fake_server *fs = *state;
    static const struct {
        const char *path, *golden;
    } docs[] = {
        {"/api", "discovery_api.json"},
        {"/api/v1", "discovery_api_v1.json"},
        {"/apis", "discovery_apis.json"},
        {"/apis/apps", "discovery_apis_apps.json"},
        {"/apis/apps/v1", "discovery_apis_apps_v1.json"},
        {"/apis/coordination.k8s.io", "discovery_apis_coordination.json"},
        {"/apis/coordination.k8s.io/v1", "discovery_apis_coordination_v1.json"},
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *doc = get_json(fs, docs[i].path);
        check_golden(docs[i].golden, doc);
        json_decref(doc);
    }

    /* what kubectl get/api-resources rely on, beside the golden files */
    json_t *v1 = get_json(fs, "/api/v1");
    json_t *res = json_object_get(v1, "resources");
    json_t *pods = named(res, "pods");
    assert_non_null(pods);
    assert_string_equal(str_at(pods, "kind"), "Pod");
    assert_true(json_is_true(json_object_get(pods, "namespaced")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(pods, "shortNames"), 0)),
                        "po");
    assert_non_null(named(res, "pods/log"));
    assert_non_null(named(res, "namespaces"));
    assert_true(json_is_false(json_object_get(named(res, "nodes"), "namespaced")));
    json_decref(v1);
    json_t *apps = get_json(fs, "/apis/apps/v1");
    json_t *scale = named(json_object_get(apps, "resources"), "deployments/scale");
    assert_string_equal(str_at(scale, "group"), "autoscaling");
    assert_string_equal(str_at(scale, "kind"), "Scale");
    json_decref(apps);

    /* Leases: read-only (stratad alone writes them), in the group list */
    json_t *coord = get_json(fs, "/apis/coordination.k8s.io/v1");
    json_t *leases = named(json_object_get(coord, "resources"), "leases");
    assert_non_null(leases);
    assert_string_equal(str_at(leases, "kind"), "Lease");
    assert_string_equal(str_at(leases, "singularName"), "lease");
    assert_true(json_is_true(json_object_get(leases, "namespaced")));
    json_t *verbs = json_object_get(leases, "verbs");
    assert_int_equal(json_array_size(verbs), 3);
    assert_string_equal(json_string_value(json_array_get(verbs, 0)), "get");
    assert_string_equal(json_string_value(json_array_get(verbs, 1)), "list");
    assert_string_equal(json_string_value(json_array_get(verbs, 2)), "watch");
    json_decref(coord);
    json_t *groups = get_json(fs, "/apis");
    json_t *g = named(json_object_get(groups, "groups"), "coordination.k8s.io");
    assert_non_null(g);
    assert_string_equal(str_at(g, "preferredVersion.groupVersion"), "coordination.k8s.io/v1");
    json_decref(groups);
}

static void test_version_and_health(void **state)
{
    struct fake_server *fs = *state;
    json_t *v = get_json(fs, "/version");
    assert_string_equal(str_at(v, "major"), "1");
    assert_string_equal(str_at(v, "minor"), "32");
    assert_true(strncmp(str_at(v, "gitVersion"), "v1.32.", 6) == 0);
    assert_true(strncmp(str_at(v, "platform"), "linux/", 6) == 0);
    json_decref(v);
    static const char *const checks[] = {"/healthz", "/livez", "/readyz"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fake_server_call(fs, "GET", checks[i], NULL, NULL), 200);
}

/* The operation method of path in an OpenAPI document. */
static json_t *operation(json_t *doc, const char *path, const char *method)
{
    return json_object_get(json_object_get(st_json_at(doc, "paths"), path), method);
}

static bool has_query_param(json_t *op, const char *name)
{
    json_t *p = named(json_object_get(op, "parameters"), name);
    return p && strcmp(str_at(p, "in"), "query") == 0;
}

static void test_openapi(void **state)
{
    struct fake_server *fs = *state;
    json_t *root = get_json(fs, "/openapi/v3");
    json_t *paths = json_object_get(root, "paths");
    assert_int_equal(json_object_size(paths), 4);
    assert_non_null(json_object_get(paths, "apis/discovery.k8s.io/v1"));
    const char *coord_url =
        str_at(json_object_get(paths, "apis/coordination.k8s.io/v1"), "serverRelativeURL");
    assert_true(strncmp(coord_url, "/openapi/v3/apis/coordination.k8s.io/v1?hash=", 45) == 0);
    const char *url = str_at(json_object_get(paths, "apis/apps/v1"), "serverRelativeURL");
    assert_true(strncmp(url, "/openapi/v3/apis/apps/v1?hash=", 30) == 0);
    assert_true(strlen(url) > 30);
    assert_non_null(json_object_get(paths, "api/v1"));

    /* kubectl fetches the URL as given, hash and all */
    json_t *apps = get_json(fs, url);
    json_t *coord = get_json(fs, coord_url);
    json_decref(root);
    /* Leases: a plain schema named as Kubernetes names it, and reads only
     * (kubectl get leases finds the kind without a warning) */
    check_golden("openapi_v3_apis_coordination_v1.json", coord);
    json_t *lease = json_object_get(st_json_at(coord, "components.schemas"),
                                    "io.k8s.api.coordination.v1.Lease");
    assert_non_null(lease);
    json_t *lgvk = json_array_get(json_object_get(lease, "x-kubernetes-group-version-kind"), 0);
    assert_string_equal(str_at(lgvk, "group"), "coordination.k8s.io");
    assert_string_equal(str_at(lgvk, "version"), "v1");
    assert_string_equal(str_at(lgvk, "kind"), "Lease");
    const char *litem = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}";
    assert_string_equal(str_at(operation(coord, litem, "get"), "operationId"),
                        "getCoordinationV1NamespacedLease");
    assert_null(operation(coord, litem, "put"));
    assert_null(operation(coord, litem, "patch"));
    assert_null(operation(coord, litem, "delete"));
    assert_null(
        operation(coord, "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases", "post"));
    assert_non_null(operation(coord, "/apis/coordination.k8s.io/v1/leases", "get"));
    json_decref(coord);
    check_golden("openapi_v3_apis_apps_v1.json", apps);
    json_t *dep =
        json_object_get(st_json_at(apps, "components.schemas"), "io.k8s.api.apps.v1.Deployment");
    assert_non_null(dep);
    json_t *gvk = json_array_get(json_object_get(dep, "x-kubernetes-group-version-kind"), 0);
    assert_string_equal(str_at(gvk, "group"), "apps");
    assert_string_equal(str_at(gvk, "version"), "v1");
    assert_string_equal(str_at(gvk, "kind"), "Deployment");
    json_t *replicas = st_json_at(dep, "properties.spec.properties.replicas");
    assert_string_equal(str_at(replicas, "type"), "integer");
    assert_true(strlen(str_at(replicas, "description")) > 0);
    json_t *pod_spec = st_json_at(dep, "properties.spec.properties.template.properties.spec");
    json_t *containers = st_json_at(pod_spec, "properties.containers");
    assert_string_equal(str_at(containers, "x-kubernetes-patch-merge-key"), "name");
    assert_string_equal(str_at(containers, "x-kubernetes-patch-strategy"), "merge");
    /* a field Strata ignores says so */
    json_t *volumes = st_json_at(pod_spec, "properties.volumes");
    assert_non_null(strstr(str_at(volumes, "description"), "ignored by Strata"));
    /* kubectl leaves field validation to the server when its writes take
     * fieldValidation (and looks for it on the patch operation) */
    const char *item = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";
    json_t *patch = operation(apps, item, "patch");
    assert_true(has_query_param(patch, "fieldValidation"));
    assert_string_equal(str_at(json_object_get(patch, "x-kubernetes-group-version-kind"), "kind"),
                        "Deployment");
    assert_true(has_query_param(operation(apps, item, "put"), "fieldValidation"));
    assert_true(
        has_query_param(operation(apps, "/apis/apps/v1/namespaces/{namespace}/deployments", "post"),
                        "fieldValidation"));
    assert_false(has_query_param(operation(apps, item, "get"), "fieldValidation"));
    json_decref(apps);

    json_t *core = get_json(fs, "/openapi/v3/api/v1");
    check_golden("openapi_v3_api_v1.json", core);
    json_t *schemas = st_json_at(core, "components.schemas");
    json_t *svc = json_object_get(schemas, "io.k8s.api.core.v1.Service");
    json_t *ports = st_json_at(svc, "properties.spec.properties.ports");
    assert_string_equal(str_at(ports, "x-kubernetes-patch-merge-key"), "port");
    assert_non_null(json_object_get(schemas, "io.k8s.api.core.v1.Node"));
    /* every kind kubectl may apply has a patch operation naming it */
    assert_true(
        has_query_param(operation(core, "/api/v1/namespaces/{namespace}/endpoints/{name}", "patch"),
                        "fieldValidation"));
    json_decref(core);
}

static void test_not_served(void **state)
{
    struct fake_server *fs = *state;
    json_t *st = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/openapi/v2", NULL, &st), 404);
    assert_non_null(strstr(str_at(st, "message"), "/openapi/v3"));
    json_decref(st);
    assert_int_equal(fake_server_call(fs, "GET", "/apis/batch/v1", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "GET", "/apis/batch", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "GET", "/openapi/v3/apis/batch/v1", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1", "{}", NULL), 405);
    /* the objects below stay the object routes' */
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/apis/apps/v1/deployments", NULL, &list), 200);
    assert_string_equal(str_at(list, "kind"), "DeploymentList");
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_documents),
        cmocka_unit_test(test_version_and_health),
        cmocka_unit_test(test_openapi),
        cmocka_unit_test(test_not_served),
    };
    return cmocka_run_group_tests(tests, fake_server_setup, fake_server_teardown);
}
