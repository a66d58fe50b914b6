/* test_api_route.c: the API's routing (agent/API.md) without HTTP, on the
 * in-memory store and the fake vmm: apply, get, list with a label
 * selector, delete with propagation, scale, patch, images, read-only
 * Leases, and the statuses errors map to (400, 404, 405, 409, 413, 422). */
#include "fake_server.h"
#include "testutil.h"
#include "strata/fs.h"
#include "strata/store_lease.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPLOY_PATH "/apis/apps/v1/namespaces/default/deployments"

/* An apply body with one Deployment of app=NAME. */
static char *deployment(const char *name, int replicas)
{
    char *body = NULL;
    assert_true(asprintf(&body,
                         "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                         "\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"%s\"}},"
                         "\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":{\"app\":"
                         "\"%s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
                         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}]}",
                         name, name, replicas, name, name) > 0);
    return body;
}

static unsigned apply(struct fake_server *fs, const char *name, int replicas, const char *action)
{
    char *body = deployment(name, replicas);
    json_t *reply = NULL;
    unsigned status = fake_server_call(fs, "POST", "/apply", body, &reply);
    if (action)
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(reply, "items"), 0), "action")),
                            action);
    json_decref(reply);
    free(body);
    return status;
}

static size_t count(struct fake_server *fs, const char *path)
{
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", path, NULL, &list), 200);
    size_t n = json_array_size(json_object_get(list, "items"));
    json_decref(list);
    return n;
}

static const char *reason(json_t *status)
{
    return json_string_value(json_object_get(status, "reason")) ?: "";
}

static void test_apply_get_list(void **state)
{
    struct fake_server *fs = *state;
    assert_int_equal(apply(fs, "web", 1, "created"), 200);
    assert_int_equal(apply(fs, "db", 1, "created"), 200);
    assert_int_equal(apply(fs, "web", 1, "unchanged"), 200);
    assert_int_equal(apply(fs, "web", 2, "configured"), 200);

    json_t *obj = NULL;
    assert_int_equal(fake_server_call(fs, "GET", DEPLOY_PATH "/web", NULL, &obj), 200);
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "Deployment");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")),
                     2);
    json_decref(obj);
    /* Without a namespace, a named object is looked up in default. */
    assert_int_equal(fake_server_call(fs, "GET", "/apis/apps/v1/deployments/db", NULL, NULL), 200);

    assert_int_equal(count(fs, DEPLOY_PATH), 2);
    assert_int_equal(count(fs, DEPLOY_PATH "?labelSelector=app=web"), 1);
    assert_int_equal(count(fs, DEPLOY_PATH "?labelSelector=app!=web"), 1);
    assert_int_equal(count(fs, DEPLOY_PATH "?labelSelector=app=nothing"), 0);
    json_t *st = NULL;
    assert_int_equal(
        fake_server_call(fs, "GET", DEPLOY_PATH "?labelSelector=app in (web", NULL, &st), 400);
    assert_string_equal(reason(st), "BadRequest");
    json_decref(st);

    assert_int_equal(fake_server_call(fs, "GET", DEPLOY_PATH "/nope", NULL, &st), 404);
    assert_string_equal(reason(st), "NotFound");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 404);
    json_decref(st);
}

static void test_scale_and_patch(void **state)
{
    struct fake_server *fs = *state;
    assert_int_equal(apply(fs, "web", 1, NULL), 200);
    json_t *out = NULL;
    assert_int_equal(
        fake_server_call(fs, "PUT", DEPLOY_PATH "/web/scale", "{\"spec\":{\"replicas\":3}}", &out),
        200);
    /* The answer is an autoscaling/v1 Scale, as kubectl scale reads it. */
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "Scale");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")),
                     3);
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "GET", DEPLOY_PATH "/web", NULL, &out), 200);
    json_t *md = json_object_get(out, "metadata");
    assert_int_equal(json_integer_value(json_object_get(md, "generation")), 2);
    json_decref(out);
    assert_int_equal(
        fake_server_call(fs, "PUT", DEPLOY_PATH "/web/scale", "{\"spec\":{\"replicas\":-1}}", NULL),
        422);
    assert_int_equal(
        fake_server_call(fs, "PUT", DEPLOY_PATH "/nope/scale", "{\"spec\":{\"replicas\":1}}", NULL),
        404);

    assert_int_equal(fake_server_call(fs, "PATCH", DEPLOY_PATH "/web",
                                      "{\"metadata\":{\"labels\":{\"tier\":\"front\"}}}", &out),
                     200);
    json_t *labels = json_object_get(json_object_get(out, "metadata"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "tier")), "front");
    assert_string_equal(json_string_value(json_object_get(labels, "app")), "web");
    json_decref(out);
    /* Validated as apply validates: 422; a body that is no JSON: 400. */
    assert_int_equal(fake_server_call(fs, "PATCH", DEPLOY_PATH "/web",
                                      "{\"spec\":{\"replicas\":\"many\"}}", &out),
                     422);
    assert_string_equal(reason(out), "Invalid");
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "PATCH", DEPLOY_PATH "/web", "{not json", NULL), 400);
    assert_int_equal(fake_server_call(fs, "PATCH", DEPLOY_PATH "/nope", "{}", NULL), 404);
}

static void test_delete_propagation(void **state)
{
    struct fake_server *fs = *state;
    const char *pods = "/api/v1/namespaces/default/pods";
    assert_int_equal(apply(fs, "keep", 2, NULL), 200);
    st_server_pass(fs->d);
    assert_int_equal(count(fs, pods), 2);
    /* Orphan: the pods stay. */
    assert_int_equal(
        fake_server_call(fs, "DELETE", DEPLOY_PATH "/keep?propagationPolicy=Orphan", NULL, NULL),
        200);
    for (int i = 0; i < 3; i++)
        st_server_pass(fs->d);
    assert_int_equal(fake_server_call(fs, "GET", DEPLOY_PATH "/keep", NULL, NULL), 404);
    assert_int_equal(count(fs, pods), 2);

    /* Background: the garbage collector takes its pods. */
    assert_int_equal(apply(fs, "drop", 1, NULL), 200);
    st_server_pass(fs->d);
    assert_int_equal(count(fs, pods), 3);
    assert_int_equal(fake_server_call(fs, "DELETE",
                                      DEPLOY_PATH "/drop?propagationPolicy=Background", NULL, NULL),
                     200);
    for (int i = 0; i < 3; i++)
        st_server_pass(fs->d);
    assert_int_equal(count(fs, pods), 2);

    assert_int_equal(
        fake_server_call(fs, "DELETE", DEPLOY_PATH "/keep?propagationPolicy=Sideways", NULL, NULL),
        400);
    assert_int_equal(fake_server_call(fs, "DELETE", DEPLOY_PATH "/nope", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "DELETE", DEPLOY_PATH "/keep", "{oops", NULL), 400);
}

/* EndpointSlices: a read-only view of the Endpoints, found by the
 * service-name label as kubectl describe service looks for them. */
static void test_endpointslices(void **state)
{
    struct fake_server *fs = *state;
    const char *body =
        "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
        "\"db\"},\"spec\":{\"ports\":[{\"port\":5432}]}},{\"apiVersion\":\"v1\",\"kind\":"
        "\"Endpoints\",\"metadata\":{\"name\":\"db\"},\"subsets\":[{\"addresses\":[{\"ip\":"
        "\"127.0.0.1\"}],\"ports\":[{\"port\":5433}]}]}]}";
    assert_int_equal(fake_server_call(fs, "POST", "/apply", body, NULL), 200);
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET",
                                      "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                      "?labelSelector=kubernetes.io/service-name=db",
                                      NULL, &list),
                     200);
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "EndpointSliceList");
    json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *s = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(s, "addressType")), "IPv4");
    json_t *ep = json_array_get(json_object_get(s, "endpoints"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(ep, "addresses"), 0)),
                        "127.0.0.1");
    assert_true(json_is_true(json_object_get(json_object_get(ep, "conditions"), "ready")));
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(s, "ports"), 0), "port")),
        5433);
    json_decref(list);
    /* another service's label selects none; writes are refused */
    assert_int_equal(fake_server_call(fs, "GET",
                                      "/apis/discovery.k8s.io/v1/endpointslices?labelSelector="
                                      "kubernetes.io/service-name=web",
                                      NULL, &list),
                     200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    assert_int_equal(fake_server_call(fs, "DELETE",
                                      "/apis/discovery.k8s.io/v1/namespaces/default/"
                                      "endpointslices/db",
                                      NULL, NULL),
                     405);
}

/* Leases (coordination.k8s.io/v1): read with GET on either door, never
 * written through the API (stratad alone writes them, 405 whatever the
 * write); the unix socket's request and the HTTPS port's (with the bearer
 * token) route alike. */
#define LEASES     "/apis/coordination.k8s.io/v1"
#define HOST_LEASE LEASES "/namespaces/kube-node-lease/leases/strata-host-h1"
#define TOKEN      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void assert_read_only(struct fake_server *fs, const char *method, const char *path,
                             const char *body, bool tcp)
{
    json_t *st = NULL;
    struct fake_request r = {.method = method,
                             .path = path,
                             .body = body,
                             .content_type = body ? "application/merge-patch+json" : NULL,
                             .tcp = tcp,
                             .authorization = tcp ? "Bearer " TOKEN : NULL};
    assert_int_equal(fake_server_request(fs, &r, &st, NULL), 405);
    assert_string_equal(reason(st), "MethodNotAllowed");
    const char *msg = json_string_value(json_object_get(st, "message")) ?: "";
    if (strstr(msg, "leases") == NULL || strstr(msg, "written by stratad only") == NULL)
        fail_msg("%s %s: the 405 says \"%s\"", method, path, msg);
    json_decref(st);
}

static void test_leases(void **state)
{
    struct fake_server *fs = *state;
    snprintf(fs->d->pki.token, sizeof(fs->d->pki.token), "%s", TOKEN);
    st_error err = {0};
    assert_int_equal(st_store_lease_try(fs->d->store, "kube-node-lease", "strata-host-h1", "h1/i1",
                                        6000, NULL, &err),
                     1);
    assert_int_equal(
        st_store_lease_try(fs->d->store, "kube-system", "strata-leader", "h1/i1", 6000, NULL, &err),
        1);

    /* every namespace, then one */
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", LEASES "/leases", NULL, &list), 200);
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "LeaseList");
    assert_string_equal(json_string_value(json_object_get(list, "apiVersion")),
                        "coordination.k8s.io/v1");
    assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
    json_decref(list);
    assert_int_equal(count(fs, LEASES "/namespaces/kube-system/leases"), 1);
    assert_int_equal(count(fs, LEASES "/namespaces/default/leases"), 0);

    /* one, as kubectl get lease -o yaml reads it, on both doors */
    for (int tcp = 0; tcp < 2; tcp++) {
        json_t *l = NULL;
        struct fake_request r = {.method = "GET",
                                 .path = HOST_LEASE,
                                 .tcp = tcp,
                                 .authorization = tcp ? "Bearer " TOKEN : NULL};
        assert_int_equal(fake_server_request(fs, &r, &l, NULL), 200);
        assert_string_equal(json_string_value(json_object_get(l, "apiVersion")),
                            "coordination.k8s.io/v1");
        assert_string_equal(json_string_value(json_object_get(l, "kind")), "Lease");
        json_t *spec = json_object_get(l, "spec");
        assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")), "h1/i1");
        assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 6);
        assert_non_null(json_string_value(json_object_get(spec, "renewTime")));
        json_decref(l);
    }
    json_t *st = NULL;
    assert_int_equal(
        fake_server_call(fs, "GET", LEASES "/namespaces/kube-node-lease/leases/nope", NULL, &st),
        404);
    assert_string_equal(reason(st), "NotFound");
    json_decref(st);
    /* the HTTPS port still wants its token */
    assert_int_equal(fake_server_request(
                         fs,
                         &(struct fake_request){.method = "GET", .path = HOST_LEASE, .tcp = true},
                         NULL, NULL),
                     401);

    /* no write, on either door, dry run or not */
    const char *lease = "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                        "\"metadata\":{\"name\":\"mine\"},\"spec\":{\"holderIdentity\":\"me\"}}";
    for (int tcp = 0; tcp < 2; tcp++) {
        assert_read_only(fs, "POST", LEASES "/namespaces/kube-node-lease/leases", lease, tcp);
        assert_read_only(fs, "PUT", HOST_LEASE, lease, tcp);
        assert_read_only(fs, "PATCH", HOST_LEASE, "{\"spec\":{\"holderIdentity\":\"me\"}}", tcp);
        assert_read_only(fs, "DELETE", HOST_LEASE, NULL, tcp);
        assert_read_only(fs, "DELETE", HOST_LEASE "?dryRun=All", NULL, tcp);
    }
    /* Events are read-only by the same rule */
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces/default/events", "{}", &st),
                     405);
    assert_non_null(strstr(json_string_value(json_object_get(st, "message")), "events"));
    json_decref(st);
    /* and the lease is as stratad left it */
    json_t *l = fake_server_get(fs, "Lease", "kube-node-lease", "strata-host-h1");
    assert_non_null(l);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(l, "spec"), "holderIdentity")), "h1/i1");
    json_decref(l);
    assert_null(fake_server_get(fs, "Lease", "kube-node-lease", "mine"));
}

static void test_bad_requests(void **state)
{
    struct fake_server *fs = *state;
    json_t *st = NULL;
    assert_int_equal(fake_server_call(fs, "POST", "/apply", "not json", &st), 400);
    assert_string_equal(reason(st), "BadRequest");
    json_decref(st);
    assert_int_equal(fake_server_call(fs, "POST", "/apply", "{\"objects\":[]}", NULL), 400);
    /* A Deployment without containers: the manifest reader refuses it. */
    const char *invalid = "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
                          "\"metadata\":{\"name\":\"x\"},\"spec\":{\"template\":{\"spec\":{}}}}]}";
    assert_int_equal(fake_server_call(fs, "POST", "/apply", invalid, &st), 422);
    assert_string_equal(reason(st), "Invalid");
    json_decref(st);
    assert_int_equal(fake_server_call(fs, "GET", "/nowhere", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/widgets", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/deployments", NULL, NULL), 404);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/namespaces/default/events", "{}", &st),
                     405);
    json_decref(st);
    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/events/e1", NULL, NULL), 405);
    assert_int_equal(fake_server_call(fs, "GET", "/healthz", NULL, NULL), 200);

    /* Field selectors: only the fields the apiserver selects by, per kind;
     * a typo is a 400 that names it, never an empty list. */
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/pods?fieldSelector=spec.nodeName=n1", NULL, NULL),
        200);
    assert_int_equal(fake_server_call(fs, "GET",
                                      "/api/v1/namespaces/default/pods?fieldSelector="
                                      "status.phase!=Failed,metadata.name=x",
                                      NULL, NULL),
                     200);
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/pods?fieldSelector=spec.bogus=1", NULL, &st), 400);
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "field label not supported: spec.bogus");
    json_decref(st);
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/secrets?fieldSelector=spec.nodeName=n1", NULL, NULL),
        400);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/pods?fieldSelector=nonsense", NULL, NULL),
                     400);
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/pods?watch=1&fieldSelector=spec.bogus=1", NULL, NULL),
        400);
    /* Missing objects read as the apiserver words them. */
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/namespaces/default/pods/nosuch", NULL, &st), 404);
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "pods \"nosuch\" not found");
    json_decref(st);

    /* Over the body limit: 413, whatever the path. */
    size_t big = ST_SERVER_API_BODY_MAX + 1;
    char *body = malloc(big + 1);
    assert_non_null(body);
    memset(body, ' ', big);
    body[big] = 0;
    assert_int_equal(fake_server_call(fs, "POST", "/apply", body, &st), 413);
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 413);
    json_decref(st);
    free(body);
}

static void test_images(void **state)
{
    struct fake_server *fs = *state;
    char dir[] = "/tmp/strata-test-images-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char root[600], body[1400];
    snprintf(root, sizeof(root), "%s/root", dir);
    st_error err = {0};
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(body, sizeof(body), "%s/hello", root);
    st_test_write_file(body, "hi\n");

    /* a rootfs folder becomes a one-layer image, tag latest */
    json_t *out = NULL;
    snprintf(body, sizeof(body), "{\"name\":\"base\",\"source\":\"%s\"}", root);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/images", body, &out), 201);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "base");
    assert_string_equal(json_string_value(json_object_get(out, "tag")), "latest");
    assert_int_equal(json_integer_value(json_object_get(out, "layers")), 1);
    assert_int_equal(strncmp(json_string_value(json_object_get(out, "digest")), "sha256:", 7), 0);
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/images", NULL, &out), 200);
    assert_string_equal(json_string_value(json_object_get(out, "kind")), "ImageList");
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2); /* and busybox */
    json_decref(out);

    snprintf(body, sizeof(body), "{\"name\":\"Bad/Name\",\"source\":\"%s\"}", root);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/images", body, NULL), 400);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/images",
                                      "{\"name\":\"other\",\"source\":\"/nonexistent/x\"}", NULL),
                     404);
    /* a local name cannot be pulled */
    assert_int_equal(
        fake_server_call(fs, "POST", "/api/v1/images", "{\"name\":\"base\",\"pull\":true}", NULL),
        400);
    assert_int_equal(fake_server_call(fs, "PUT", "/api/v1/images", NULL, NULL), 405);

    /* a pod using it holds it; once the pod is gone it can go */
    assert_int_equal(
        fake_server_call(fs, "POST", "/apply",
                         "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
                         "{\"name\":\"user\"},\"spec\":{\"containers\":[{\"name\":"
                         "\"c\",\"image\":\"base:latest\"}]}}]}",
                         NULL),
        200);
    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/images/base", NULL, &out), 409);
    if (strstr(json_string_value(json_object_get(out, "message")), "base") == NULL)
        fail_msg("the refusal does not name the image: %s",
                 json_string_value(json_object_get(out, "message")));
    json_decref(out);
    assert_int_equal(
        fake_server_call(fs, "DELETE", "/api/v1/namespaces/default/pods/user", NULL, NULL), 200);
    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/images/base", NULL, NULL), 200);
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/images", NULL, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    assert_int_equal(fake_server_call(fs, "DELETE", "/api/v1/images/base", NULL, NULL), 404);

    assert_int_equal(st_fs_rmtree(dir, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_get_list, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_scale_and_patch, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_delete_propagation, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_endpointslices, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_images, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_leases, fake_server_setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
