/* test_api_write.c: the write verbs as kubectl 1.32 sends them, without
 * HTTP, on the in-memory store: create (201, 409 AlreadyExists, 400 for a
 * body of another kind or namespace, 422 for a bad name), fieldValidation
 * Strict|Warn|Ignore, replace with resourceVersion conflicts, the three
 * patch types by Content-Type (415 otherwise), and the status, scale and
 * eviction subresources. */
#include "fake_server.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define PODS    "/api/v1/namespaces/default/pods"
#define DEPLOYS "/apis/apps/v1/namespaces/default/deployments"

#define POD_BODY(name, extra)                                                                      \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\"},"                \
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"" extra "}]}}"

#define DEPLOY_BODY(name, replicas)                                                                \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" name "\"},"    \
    "\"spec\":{\"replicas\":" #replicas ",\"selector\":{\"matchLabels\":{\"app\":\"" name "\"}},"  \
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"" name "\"}},\"spec\":{\"containers\":"     \
    "[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}"

static const char *reason(json_t *status)
{
    return json_string_value(json_object_get(status, "reason")) ?: "";
}

static const char *message(json_t *status)
{
    return json_string_value(json_object_get(status, "message")) ?: "";
}

static unsigned call(struct fake_server *fs, const char *method, const char *path, const char *body,
                     const char *type, json_t **reply, json_t **warnings)
{
    struct fake_request r = {.method = method, .path = path, .body = body, .content_type = type};
    return fake_server_request(fs, &r, reply, warnings);
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("want \"%s\" in \"%s\"", part, text);
}

static void test_create(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(call(fs, "POST",
                          PODS "?fieldManager=kubectl-client-side-apply&"
                               "fieldValidation=Strict",
                          POD_BODY("p1", ""), "application/json", &out, NULL),
                     201);
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "Pod");
    json_t *md = json_object_get(out, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "default");
    assert_non_null(json_object_get(md, "uid"));
    json_decref(out);

    assert_int_equal(call(fs, "POST", PODS, POD_BODY("p1", ""), NULL, &out, NULL), 409);
    assert_string_equal(reason(out), "AlreadyExists");
    assert_string_equal(message(out), "pods \"p1\" already exists");
    json_decref(out);

    /* a Deployment's body under pods */
    assert_int_equal(call(fs, "POST", PODS, DEPLOY_BODY("d", 1), NULL, &out, NULL), 400);
    assert_contains(message(out), "the API version in the data (apps/v1) does not match the "
                                  "expected API version (v1)");
    json_decref(out);
    /* another namespace in the body */
    assert_int_equal(call(fs, "POST", PODS,
                          "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p2\","
                          "\"namespace\":\"other\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                          "\"image\":\"busybox\"}]}}",
                          NULL, &out, NULL),
                     400);
    assert_contains(message(out), "does not match the namespace");
    json_decref(out);
    /* not a DNS label */
    assert_int_equal(call(fs, "POST", PODS, POD_BODY("Bad_Name", ""), NULL, &out, NULL), 422);
    assert_string_equal(reason(out), "Invalid");
    assert_contains(message(out), "Pod \"Bad_Name\" is invalid");
    assert_contains(message(out), "metadata.name");
    json_decref(out);
    /* not JSON */
    assert_int_equal(call(fs, "POST", PODS, "{\"kind\":", NULL, &out, NULL), 400);
    json_decref(out);
    /* generateName */
    assert_int_equal(call(fs, "POST", PODS,
                          "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"generateName\":"
                          "\"gen-\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                          "\"busybox\"}]}}",
                          NULL, &out, NULL),
                     201);
    const char *name = json_string_value(json_object_get(json_object_get(out, "metadata"), "name"));
    assert_int_equal(strlen(name), 9);
    assert_int_equal(strncmp(name, "gen-", 4), 0);
    json_decref(out);
    /* a Deployment, and its generation */
    assert_int_equal(call(fs, "POST", DEPLOYS, DEPLOY_BODY("web", 2), NULL, &out, NULL), 201);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(out, "metadata"), "generation")), 1);
    json_decref(out);
}

static void test_field_validation(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL, *warnings = NULL;
    assert_int_equal(call(fs, "POST", PODS "?fieldValidation=Strict", POD_BODY("s", ",\"foo\":1"),
                          NULL, &out, &warnings),
                     400);
    assert_string_equal(reason(out), "BadRequest");
    assert_string_equal(message(out),
                        "strict decoding error: unknown field \"spec.containers[0].foo\"");
    json_decref(out);
    json_decref(warnings);

    assert_int_equal(call(fs, "POST", PODS "?fieldValidation=Warn", POD_BODY("w", ",\"foo\":1"),
                          NULL, &out, &warnings),
                     201);
    assert_int_equal(json_array_size(warnings), 1);
    assert_string_equal(json_string_value(json_array_get(warnings, 0)),
                        "unknown field \"spec.containers[0].foo\"");
    json_decref(out);
    json_decref(warnings);

    /* absent: Warn, as the apiserver */
    assert_int_equal(call(fs, "POST", PODS, POD_BODY("w2", ",\"foo\":1"), NULL, &out, &warnings),
                     201);
    assert_int_equal(json_array_size(warnings), 1);
    json_decref(out);
    json_decref(warnings);

    assert_int_equal(call(fs, "POST", PODS "?fieldValidation=Ignore", POD_BODY("i", ",\"foo\":1"),
                          NULL, &out, &warnings),
                     201);
    assert_int_equal(json_array_size(warnings), 0);
    json_decref(out);
    json_decref(warnings);

    /* a field Strata ignores stays a warning under Strict */
    assert_int_equal(call(fs, "POST", PODS "?fieldValidation=Strict",
                          POD_BODY("u", ",\"volumeMounts\":[]"), NULL, &out, &warnings),
                     201);
    assert_int_equal(json_array_size(warnings), 1);
    assert_contains(json_string_value(json_array_get(warnings, 0)), "is not implemented");
    json_decref(out);
    json_decref(warnings);

    assert_int_equal(
        call(fs, "POST", PODS "?fieldValidation=Sometimes", POD_BODY("x", ""), NULL, &out, NULL),
        400);
    json_decref(out);
}

static void test_replace(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(call(fs, "POST", DEPLOYS, DEPLOY_BODY("web", 1), NULL, &out, NULL), 201);
    char *rv = strdup(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")));
    json_decref(out);

    /* at the version read */
    json_t *body = json_loads(DEPLOY_BODY("web", 3), 0, NULL);
    json_object_set_new(json_object_get(body, "metadata"), "resourceVersion", json_string(rv));
    char *text = json_dumps(body, JSON_COMPACT);
    assert_int_equal(call(fs, "PUT", DEPLOYS "/web", text, NULL, &out, NULL), 200);
    json_t *md = json_object_get(out, "metadata");
    assert_int_equal(json_integer_value(json_object_get(md, "generation")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     3);
    json_decref(out);
    /* the same version again: stale */
    assert_int_equal(call(fs, "PUT", DEPLOYS "/web", text, NULL, &out, NULL), 409);
    assert_string_equal(reason(out), "Conflict");
    assert_string_equal(message(out),
                        "Operation cannot be fulfilled on deployments \"web\": the object has been "
                        "modified; please apply your changes to the latest version and try again");
    json_decref(out);
    free(text);
    json_decref(body);
    free(rv);
    /* without a version: unconditional */
    assert_int_equal(call(fs, "PUT", DEPLOYS "/web", DEPLOY_BODY("web", 4), NULL, &out, NULL), 200);
    json_decref(out);
    /* the URL's name and the body's differ */
    assert_int_equal(call(fs, "PUT", DEPLOYS "/other", DEPLOY_BODY("web", 4), NULL, &out, NULL),
                     400);
    json_decref(out);
    assert_int_equal(call(fs, "PUT", DEPLOYS "/nope", DEPLOY_BODY("nope", 4), NULL, &out, NULL),
                     404);
    json_decref(out);
}

static void test_patch_types(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(call(fs, "POST", DEPLOYS, DEPLOY_BODY("web", 1), NULL, &out, NULL), 201);
    json_decref(out);
    /* kubectl apply: a strategic merge patch keeping the annotation */
    assert_int_equal(
        call(
            fs, "PATCH", DEPLOYS "/web?fieldManager=kubectl-client-side-apply",
            "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
            "\"{}\"}},\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":"
            "\"c\"}],\"containers\":[{\"name\":\"c\",\"image\":\"busybox:2\"}]}}}}",
            "application/strategic-merge-patch+json", &out, NULL),
        200);
    json_t *c0 = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(out, "spec"), "template"), "spec"),
            "containers"),
        0);
    assert_string_equal(json_string_value(json_object_get(c0, "image")), "busybox:2");
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "c");
    assert_non_null(
        json_object_get(json_object_get(json_object_get(out, "metadata"), "annotations"),
                        "kubectl.kubernetes.io/last-applied-configuration"));
    json_decref(out);
    /* JSON patch, and a failing test naming its index */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web",
                          "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]",
                          "application/json-patch+json", &out, NULL),
                     200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     2);
    json_decref(out);
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web",
                          "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":9}]",
                          "application/json-patch+json", &out, NULL),
                     422);
    assert_contains(message(out), "operation 0");
    json_decref(out);
    /* merge patch */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web", "{\"spec\":{\"replicas\":1}}",
                          "application/merge-patch+json", &out, NULL),
                     200);
    json_decref(out);
    /* a patch with an unknown field under Strict */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web?fieldValidation=Strict",
                          "{\"spec\":{\"bogus\":1}}", "application/merge-patch+json", &out, NULL),
                     400);
    assert_contains(message(out), "strict decoding error: unknown field \"spec.bogus\"");
    json_decref(out);
    /* the uid cannot change */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web", "{\"metadata\":{\"uid\":\"x\"}}",
                          "application/merge-patch+json", &out, NULL),
                     422);
    json_decref(out);
    /* server-side apply and others: 415 */
    assert_int_equal(
        call(fs, "PATCH", DEPLOYS "/web", "{}", "application/apply-patch+yaml", &out, NULL), 415);
    assert_string_equal(reason(out), "UnsupportedMediaType");
    assert_contains(message(out), "client-side apply");
    json_decref(out);
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web", "{}", "text/plain", &out, NULL), 415);
    json_decref(out);
}

static void test_subresources(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(call(fs, "POST", DEPLOYS, DEPLOY_BODY("web", 1), NULL, &out, NULL), 201);
    json_decref(out);
    /* kubectl scale: a merge patch of the Scale */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web/scale", "{\"spec\":{\"replicas\":4}}",
                          "application/merge-patch+json", &out, NULL),
                     200);
    assert_string_equal(json_string_value(json_object_get(out, "apiVersion")), "autoscaling/v1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     4);
    json_decref(out);
    assert_int_equal(call(fs, "GET", DEPLOYS "/web/scale", NULL, NULL, &out, NULL), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "status"), "selector")), "app=web");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     4);
    json_decref(out);

    /* status: only status changes */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/web/status",
                          "{\"spec\":{\"replicas\":9},\"status\":{\"replicas\":7}}",
                          "application/merge-patch+json", &out, NULL),
                     200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     4);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(out, "status"), "replicas")), 7);
    json_decref(out);
    assert_int_equal(call(fs, "GET", DEPLOYS "/web/status", NULL, NULL, &out, NULL), 200);
    json_decref(out);

    /* eviction: a graceful delete */
    assert_int_equal(call(fs, "POST", PODS, POD_BODY("p", ""), NULL, &out, NULL), 201);
    json_decref(out);
    assert_int_equal(call(fs, "POST", PODS "/p/eviction",
                          "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{"
                          "\"name\":\"p\",\"namespace\":\"default\"}}",
                          NULL, &out, NULL),
                     201);
    json_decref(out);
    json_t *pod = fake_server_get(fs, "Pod", "default", "p");
    /* unscheduled: gone at once; else Terminating */
    assert_true(pod == NULL ||
                json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"));
    json_decref(pod);
}

static void test_cordon(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    json_t *out = NULL;
    /* kubectl cordon */
    assert_int_equal(call(fs, "PATCH", "/api/v1/nodes/n1", "{\"spec\":{\"unschedulable\":true}}",
                          "application/strategic-merge-patch+json", &out, NULL),
                     200);
    assert_true(json_is_true(json_object_get(json_object_get(out, "spec"), "unschedulable")));
    json_decref(out);
    /* a pod waits: the only node is cordoned */
    assert_int_equal(call(fs, "POST", PODS, POD_BODY("p", ""), NULL, &out, NULL), 201);
    json_decref(out);
    fake_server_passes(fs, 2, 10);
    json_t *pod = fake_server_get(fs, "Pod", "default", "p");
    const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    assert_true(node == NULL || node[0] == '\0');
    json_decref(pod);
    /* kubectl uncordon: then it is scheduled */
    assert_int_equal(call(fs, "PATCH", "/api/v1/nodes/n1", "{\"spec\":{\"unschedulable\":null}}",
                          "application/strategic-merge-patch+json", &out, NULL),
                     200);
    json_decref(out);
    fake_server_passes(fs, 2, 10);
    pod = fake_server_get(fs, "Pod", "default", "p");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")), "n1");
    json_decref(pod);
}

/* ?dryRun=All (kubectl diff, apply/create/delete --dry-run=server): the
 * answer of the write, nothing stored; other values and places refused
 * before anything happens. */
static void test_dry_run(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(
        call(fs, "POST", DEPLOYS "?dryRun=All", DEPLOY_BODY("dry", 2), NULL, &out, NULL), 201);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     2);
    json_decref(out);
    assert_null(fake_server_get(fs, "Deployment", "default", "dry"));

    assert_int_equal(call(fs, "POST", DEPLOYS, DEPLOY_BODY("dry", 2), NULL, NULL, NULL), 201);
    json_t *before = fake_server_get(fs, "Deployment", "default", "dry");
    const char *rv =
        json_string_value(json_object_get(json_object_get(before, "metadata"), "resourceVersion"));
    /* a dry create of a name taken is still 409 */
    assert_int_equal(
        call(fs, "POST", DEPLOYS "?dryRun=All", DEPLOY_BODY("dry", 2), NULL, &out, NULL), 409);
    json_decref(out);
    /* patch: the patched object in the answer, the stored one untouched */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/dry?dryRun=All", "{\"spec\":{\"replicas\":7}}",
                          "application/merge-patch+json", &out, NULL),
                     200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     7);
    json_decref(out);
    /* replace and delete */
    assert_int_equal(
        call(fs, "PUT", DEPLOYS "/dry?dryRun=All", DEPLOY_BODY("dry", 5), NULL, &out, NULL), 200);
    json_decref(out);
    assert_int_equal(call(fs, "DELETE", DEPLOYS "/dry?dryRun=All", NULL, NULL, &out, NULL), 200);
    json_decref(out);
    json_t *after = fake_server_get(fs, "Deployment", "default", "dry");
    assert_non_null(after);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(after, "metadata"), "resourceVersion")),
        rv);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(after, "spec"), "replicas")), 2);
    json_decref(after);
    json_decref(before);

    /* refused: another value, a subresource, a node */
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/dry?dryRun=Some", "{}",
                          "application/merge-patch+json", &out, NULL),
                     400);
    assert_contains(message(out), "the only value is All");
    json_decref(out);
    assert_int_equal(call(fs, "PATCH", DEPLOYS "/dry/scale?dryRun=All",
                          "{\"spec\":{\"replicas\":9}}", "application/merge-patch+json", &out,
                          NULL),
                     400);
    assert_contains(message(out), "this PATCH did nothing");
    json_decref(out);
    assert_int_equal(call(fs, "DELETE", "/api/v1/nodes/n1?dryRun=All", NULL, NULL, &out, NULL),
                     400);
    json_decref(out);
    after = fake_server_get(fs, "Deployment", "default", "dry");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(after, "spec"), "replicas")), 2);
    json_decref(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_field_validation, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_replace, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_patch_types, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_subresources, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_cordon, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, fake_server_setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
