/* test_api_namespaces.c: the Namespace kind as kubectl 1.32 uses it,
 * without HTTP, on the in-memory store: the well-known namespaces exist from
 * the start, create/get/list (label selectors)/replace/patch, objects only in
 * a namespace that exists (404) and is not being deleted (403), the
 * protected namespaces (403), and deletion: Terminating, its content deleted
 * by the collector (a bound pod gracefully), then the namespace goes. */
#include "fake_server.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "strata/controller.h"

#define NS_BODY(name, labels)                                                                      \
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" name "\"" labels "}" \
    "}"

#define POD_BODY(name)                                                                             \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name "\"},"                \
    "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"

#define DEPLOY_BODY(name, replicas)                                                                \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" name "\"},"    \
    "\"spec\":{\"replicas\":" #replicas ",\"selector\":{\"matchLabels\":{\"app\":\"" name "\"}},"  \
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"" name "\"}},\"spec\":{\"containers\":"     \
    "[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}"

#define SVC_BODY(name)                                                                             \
    "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" name "\"},"            \
    "\"spec\":{\"selector\":{\"app\":\"" name "\"},\"ports\":[{\"port\":80}]}}"

#define SECRET_BODY(name)                                                                          \
    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"" name "\"},"             \
    "\"stringData\":{\"k\":\"v\"}}"

static const char *str_at(json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b)) ?: "";
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("want \"%s\" in \"%s\"", part, text);
}

static size_t count(struct fake_server *fs, const char *kind, const char *ns)
{
    json_t *items = NULL;
    st_store_query q = {.kind = kind, .namespace = ns};
    assert_int_equal(st_store_list(fs->d->store, &q, &items, NULL), 0);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

static void test_defaults(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces", NULL, &out), 200);
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "NamespaceList");
    json_t *items = json_object_get(out, "items");
    const char *want[] = {"default", "kube-node-lease", "kube-public", "kube-system"};
    assert_int_equal(json_array_size(items), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *ns = json_array_get(items, i);
        assert_string_equal(str_at(ns, "metadata", "name"), want[i]);
        assert_string_equal(str_at(ns, "status", "phase"), "Active");
        assert_string_equal(json_string_value(json_object_get(ns, "kind")), "Namespace");
        assert_null(json_object_get(json_object_get(ns, "metadata"), "namespace"));
    }
    json_decref(out);
    /* opening again (a restart) keeps them as they are */
    json_t *before = fake_server_get(fs, "Namespace", "", "default");
    assert_int_equal(st_control_namespaces_ensure(fs->d->store, NULL), 0);
    json_t *after = fake_server_get(fs, "Namespace", "", "default");
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}

static void test_create_get_list(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces",
                                      NS_BODY("shop", ",\"labels\":{\"team\":\"a\"}"), &out),
                     201);
    assert_string_equal(str_at(out, "status", "phase"), "Active");
    assert_string_equal(str_at(out, "metadata", "name"), "shop");
    assert_null(json_object_get(json_object_get(out, "metadata"), "namespace"));
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces", NS_BODY("shop", ""), &out),
                     409);
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "namespaces \"shop\" already exists");
    json_decref(out);
    /* what `kubectl create namespace cli` sends */
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces?fieldValidation=Strict",
                                      "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
                                      "{\"name\":\"cli\",\"creationTimestamp\":null},\"spec\":{},"
                                      "\"status\":{}}",
                                      &out),
                     201);
    assert_string_equal(str_at(out, "status", "phase"), "Active");
    json_decref(out);
    /* not a DNS-1123 label */
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces", NS_BODY("Bad.Name", ""), &out), 422);
    json_decref(out);

    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/shop", NULL, &out), 200);
    assert_string_equal(str_at(out, "metadata", "name"), "shop");
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/nope", NULL, &out), 404);
    json_decref(out);
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/namespaces?labelSelector=team=a", NULL, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);

    /* patch and replace keep the status stratad set */
    struct fake_request patch = {.method = "PATCH",
                                 .path = "/api/v1/namespaces/shop",
                                 .body = "{\"metadata\":{\"labels\":{\"team\":\"b\"}}}",
                                 .content_type = "application/strategic-merge-patch+json"};
    assert_int_equal(fake_server_request(fs, &patch, &out, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(out, "metadata"), "labels"), "team")),
                        "b");
    assert_string_equal(str_at(out, "status", "phase"), "Active");
    json_decref(out);
    assert_int_equal(
        fake_server_call(fs, "PUT", "/api/v1/namespaces/shop", NS_BODY("shop", ""), &out), 200);
    assert_string_equal(str_at(out, "status", "phase"), "Active");
    json_decref(out);

    /* objects go in it, through create and through /apply */
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/shop/pods", POD_BODY("p"), &out), 201);
    assert_string_equal(str_at(out, "metadata", "namespace"), "shop");
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/shop/pods", NULL, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
}

static void test_missing_namespace(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/ghost/pods", POD_BODY("p"), &out), 404);
    assert_string_equal(json_string_value(json_object_get(out, "reason")), "NotFound");
    assert_contains(json_string_value(json_object_get(out, "message")),
                    "namespaces \"ghost\" not found");
    json_decref(out);
    assert_int_equal(count(fs, "Pod", "ghost"), 0);
    assert_int_equal(
        fake_server_call(
            fs, "POST", "/apply",
            "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
            "\"namespace\":\"ghost\"},\"stringData\":{\"k\":\"v\"}}]}",
            &out),
        404);
    assert_contains(json_string_value(json_object_get(out, "message")),
                    "namespaces \"ghost\" not found");
    json_decref(out);
    /* a Namespace and what goes in it, in one apply */
    assert_int_equal(
        fake_server_call(
            fs, "POST", "/apply",
            "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
            "\"ghost\"}},{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
            "\"namespace\":\"ghost\"},\"stringData\":{\"k\":\"v\"}}]}",
            &out),
        200);
    json_decref(out);
    assert_int_equal(count(fs, "Secret", "ghost"), 1);
    json_t *ns = fake_server_get(fs, "Namespace", "", "ghost");
    assert_string_equal(str_at(ns, "status", "phase"), "Active");
    json_decref(ns);
}

static void test_protected(void **state)
{
    struct fake_server *fs = *state;
    const char *names[] = {"default", "kube-system", "kube-public"};
    for (size_t i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s", names[i]);
        json_t *out = NULL;
        assert_int_equal(fake_server_call(fs, "DELETE", path, NULL, &out), 403);
        assert_string_equal(json_string_value(json_object_get(out, "reason")), "Forbidden");
        assert_contains(json_string_value(json_object_get(out, "message")),
                        "this namespace may not be deleted");
        json_decref(out);
        json_t *ns = fake_server_get(fs, "Namespace", "", names[i]);
        assert_non_null(ns);
        assert_null(json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp"));
        json_decref(ns);
    }
}

static void test_delete_cascades(void **state)
{
    struct fake_server *fs = *state;
    json_t *out = NULL;
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces", NS_BODY("shop", ""), NULL),
                     201);
    assert_int_equal(fake_server_call(fs, "POST", "/apis/apps/v1/namespaces/shop/deployments",
                                      DEPLOY_BODY("web", 2), NULL),
                     201);
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/shop/services", SVC_BODY("web"), NULL),
        201);
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/shop/secrets", SECRET_BODY("s"), NULL),
        201);
    /* the same names in default are not touched */
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/default/secrets", SECRET_BODY("s"), NULL),
        201);
    fake_server_passes(fs, 2, 10);
    assert_int_equal(count(fs, "Pod", "shop"), 2);
    assert_int_equal(count(fs, "Endpoints", "shop"), 1);

    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/namespaces/shop", NULL, &out), 200);
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "Namespace");
    assert_string_equal(str_at(out, "status", "phase"), "Terminating");
    assert_non_null(json_object_get(json_object_get(out, "metadata"), "deletionTimestamp"));
    json_decref(out);

    /* nothing new goes into a namespace being deleted */
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/shop/pods", POD_BODY("late"), &out), 403);
    assert_string_equal(json_string_value(json_object_get(out, "reason")), "Forbidden");
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "pods \"late\" is forbidden: unable to create new content in namespace "
                        "shop because it is being terminated");
    json_decref(out);

    fake_server_passes(fs, 2, 10);
    assert_int_equal(count(fs, "Deployment", "shop"), 0);
    assert_int_equal(count(fs, "Pod", "shop"), 0);
    assert_int_equal(count(fs, "Service", "shop"), 0);
    assert_int_equal(count(fs, "Endpoints", "shop"), 0);
    assert_int_equal(count(fs, "Secret", "shop"), 0);
    assert_int_equal(count(fs, "Event", "shop"), 0);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/shop", NULL, NULL), 404);
    assert_int_equal(count(fs, "Secret", "default"), 1);
    /* and it can be made again */
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces", NS_BODY("shop", ""), NULL),
                     201);
}

static void test_delete_waits_for_running_pods(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces", NS_BODY("shop", ""), NULL),
                     201);
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/namespaces/shop/pods", POD_BODY("p"), NULL), 201);
    fake_server_passes(fs, 2, 10);
    json_t *pod = fake_server_get(fs, "Pod", "shop", "p");
    assert_string_equal(str_at(pod, "spec", "nodeName"), "n1");
    json_decref(pod);

    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/namespaces/shop", NULL, NULL), 200);
    fake_server_passes(fs, 2, 10);
    /* the pod is stopped gracefully: Terminating, and the namespace waits */
    pod = fake_server_get(fs, "Pod", "shop", "p");
    assert_non_null(pod);
    assert_true(st_pod_is_terminating(pod));
    json_t *ns = fake_server_get(fs, "Namespace", "", "shop");
    assert_non_null(ns);
    assert_string_equal(str_at(ns, "status", "phase"), "Terminating");
    json_decref(ns);
    /* the node says it stopped: the pod goes, then the namespace */
    assert_int_equal(
        st_control_pod_stopped(fs->d->store, "shop", "p", str_at(pod, "metadata", "uid"), NULL), 1);
    json_decref(pod);
    fake_server_passes(fs, 1, 10);
    assert_null(fake_server_get(fs, "Namespace", "", "shop"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_create_get_list, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_missing_namespace, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_protected, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascades, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_delete_waits_for_running_pods, fake_server_setup,
                                        fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
