/* test_api_faults.c: the server when its store fails, without PostgreSQL:
 * the in-memory store behind a backend that can be made unreachable
 * (-ST_ESTORE_DOWN) or full (-ST_ESTORE_FULL, writes only). The API answers
 * 503 with the store's message and Retry-After, or 507; the loop pauses
 * (no controller reads the store, no fencing, no pod_stop) and resumes, a
 * node that died meanwhile recorded dead then. Also the API's answers to
 * bad input that need no HTTP: a JSON error's position, a name too long to
 * be one. (The 413 before the body and the deadlines are api_http.c's:
 * tests/agent/itest_faults.c.) */
#include "fake_server.h"
#include "store_backend.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a store that fails on demand ------------------------------------------ */

struct faulty {
    st_store base;
    st_store *inner;
    int fail;     /* 0, ST_ESTORE_DOWN (everything) or ST_ESTORE_FULL (writes) */
    size_t calls; /* operations asked of it, ping aside */
};

static struct faulty *faulty_of(st_store *s)
{
    return (struct faulty *)s;
}

static int failing(st_store *s, bool write, st_error *err)
{
    struct faulty *f = faulty_of(s);
    f->calls++;
    if (f->fail == ST_ESTORE_DOWN)
        return st_error_set(err, ST_ESTORE_DOWN,
                            "the store (PostgreSQL) is unreachable: test; stratad retries every "
                            "%d s",
                            ST_STORE_RETRY_S);
    if (f->fail == ST_ESTORE_FULL && write)
        return st_error_set(err, ST_ESTORE_FULL,
                            "the store's filesystem is full (test): free space there, then "
                            "retry: nothing was written");
    return 0;
}

static int f_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                 st_error *err)
{
    int r = failing(s, false, err);
    return r < 0 ? r : st_store_get(faulty_of(s)->inner, kind, ns, name, out, err);
}

static int f_list(st_store *s, const st_store_query *q, bool by_rv, json_t **out, st_error *err)
{
    int r = failing(s, false, err);
    if (r < 0)
        return r;
    return by_rv ? st_store_list_events(faulty_of(s)->inner, q, out, err)
                 : st_store_list(faulty_of(s)->inner, q, out, err);
}

static int f_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    int r = failing(s, true, err);
    return r < 0 ? r : st_store_create(faulty_of(s)->inner, obj, out, err);
}

static int f_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    int r = failing(s, true, err);
    return r < 0 ? r : st_store_update(faulty_of(s)->inner, obj, out, err);
}

static int f_remove(st_store *s, const char *kind, const char *ns, const char *name, const char *rv,
                    st_error *err)
{
    int r = failing(s, true, err);
    return r < 0 ? r : st_store_delete(faulty_of(s)->inner, kind, ns, name, rv, err);
}

static int f_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    int r = failing(s, true, err);
    return r < 0 ? r : st_store_apply_batch(faulty_of(s)->inner, ops, n, err);
}

static int f_bind(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    int r = failing(s, true, err);
    return r < 0 ? r : st_store_bind_pods(faulty_of(s)->inner, b, n, err);
}

static int f_ping(st_store *s, st_error *err)
{
    struct faulty *f = faulty_of(s);
    if (f->fail == ST_ESTORE_DOWN)
        return st_error_set(err, ST_ESTORE_DOWN, "the store (PostgreSQL) is unreachable: test");
    return 0;
}

static void f_close(st_store *s)
{
    st_store_close(faulty_of(s)->inner);
    free(s);
}

static const st_store_ops faulty_ops = {
    .get = f_get,
    .list = f_list,
    .create = f_create,
    .update = f_update,
    .remove = f_remove,
    .batch = f_batch,
    .bind_pods = f_bind,
    .ping = f_ping,
    .close = f_close,
};

struct fixture {
    struct fake_server fs;
    struct faulty *store;
};

/* The fake server, its store wrapped (the watch hook stays on the inner
 * one, which is where the writes happen). */
static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (fx == NULL || fake_server_open(&fx->fs) < 0)
        return -1;
    fx->store = calloc(1, sizeof(*fx->store));
    if (fx->store == NULL)
        return -1;
    st_store_init(&fx->store->base, &faulty_ops);
    fx->store->inner = fx->fs.d->store;
    fx->fs.d->store = &fx->store->base;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    fake_server_close(&fx->fs);
    free(fx);
    return 0;
}

#define DEPLOY "/apis/apps/v1/namespaces/default/deployments"

static const char *apply_body =
    "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
    "\"web\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
    "\"name\":\"c\",\"image\":\"busybox\"}]}}}}]}";

/* method path body: the status, and *msg (may be NULL) the Status's
 * message, malloc'd; *retry_after its header ("" when none). */
static unsigned call(struct fixture *fx, const char *method, const char *path, const char *body,
                     char **msg, char *retry_after, size_t ra_len)
{
    struct fake_request r = {.method = method, .path = path, .body = body};
    struct st_server_response resp = {0};
    fake_server_respond(&fx->fs, &r, &resp);
    unsigned status = resp.status;
    if (msg) {
        json_t *j = resp.body ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(j, "message"));
        *msg = strdup(m ? m : "");
        json_decref(j);
    }
    if (retry_after) {
        const char *v = json_string_value(json_object_get(resp.headers, "Retry-After"));
        snprintf(retry_after, ra_len, "%s", v ? v : "");
    }
    st_server_api_response_clear(&resp);
    return status;
}

static void test_unreachable_is_503(void **state)
{
    struct fixture *fx = *state;
    fx->store->fail = ST_ESTORE_DOWN;
    char *msg = NULL, ra[16];
    assert_int_equal(call(fx, "GET", DEPLOY, NULL, &msg, ra, sizeof(ra)), 503);
    assert_non_null(strstr(msg, "the store (PostgreSQL) is unreachable"));
    assert_non_null(strstr(msg, "retries every"));
    char want[16];
    snprintf(want, sizeof(want), "%d", ST_STORE_RETRY_S);
    assert_string_equal(ra, want);
    free(msg);
    assert_int_equal(call(fx, "POST", "/apply", apply_body, &msg, ra, sizeof(ra)), 503);
    assert_non_null(strstr(msg, "unreachable"));
    free(msg);
    /* back: the same request works */
    fx->store->fail = 0;
    assert_int_equal(call(fx, "POST", "/apply", apply_body, NULL, NULL, 0), 200);
    assert_int_equal(call(fx, "GET", DEPLOY "/web", NULL, NULL, NULL, 0), 200);
}

static void test_full_is_507(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(call(fx, "POST", "/apply", apply_body, NULL, NULL, 0), 200);
    fx->store->fail = ST_ESTORE_FULL;
    char *msg = NULL, ra[16];
    const char *scaled = "{\"spec\":{\"replicas\":3}}";
    struct fake_request r = {.method = "PATCH",
                             .path = DEPLOY "/web/scale",
                             .body = scaled,
                             .content_type = "application/merge-patch+json"};
    json_t *reply = NULL;
    assert_int_equal(fake_server_request(&fx->fs, &r, &reply, NULL), 507);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "message")), "is full"));
    json_decref(reply);
    assert_int_equal(call(fx, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"more\"}}",
                          &msg, ra, sizeof(ra)),
                     507);
    assert_non_null(strstr(msg, "the store's filesystem is full"));
    assert_string_equal(ra, ""); /* no retrying by itself: someone must free space */
    free(msg);
    /* what is stored still reads */
    assert_int_equal(call(fx, "GET", DEPLOY "/web", NULL, NULL, NULL, 0), 200);
    fx->store->fail = 0;
    assert_int_equal(fake_server_request(&fx->fs, &r, NULL, NULL), 200);
}

/* Node add and remove when the store fails keep the store's answer (503,
 * 507), never a 500 that says nothing of what to do. */
static void test_node_admin_keeps_store_status(void **state)
{
    struct fixture *fx = *state;
    const char *body = "{\"metadata\":{\"name\":\"n9\"},\"spec\":{\"cpus\":1,"
                       "\"memoryMiB\":256,\"accel\":\"tcg\"}}";
    fx->store->fail = ST_ESTORE_DOWN;
    char *msg = NULL, ra[16];
    assert_int_equal(call(fx, "POST", "/api/v1/nodes", body, &msg, ra, sizeof(ra)), 503);
    assert_non_null(strstr(msg, "unreachable"));
    assert_string_not_equal(ra, "");
    free(msg);
    fx->store->fail = ST_ESTORE_FULL;
    assert_int_equal(call(fx, "POST", "/api/v1/nodes", body, &msg, NULL, 0), 507);
    assert_non_null(strstr(msg, "is full"));
    free(msg);
    /* nothing was made: with the store back, the same add works */
    fx->store->fail = 0;
    assert_int_equal(call(fx, "POST", "/api/v1/nodes", body, NULL, NULL, 0), 201);
    fake_server_workers_done(&fx->fs);
    fx->store->fail = ST_ESTORE_DOWN;
    assert_int_equal(call(fx, "DELETE", "/api/v1/nodes/n9", NULL, NULL, NULL, 0), 503);
    fx->store->fail = 0;
}

/* The pod the Deployment made, bound to n1 and sent to it. */
static char *running_pod(struct fixture *fx)
{
    fake_server_node_ready(&fx->fs, "n1");
    assert_int_equal(call(fx, "POST", "/apply", apply_body, NULL, NULL, 0), 200);
    fake_server_passes(&fx->fs, 3, 10);
    st_store_query q = {.kind = "Pod"};
    json_t *pods = NULL;
    assert_int_equal(st_store_list(fx->store->inner, &q, &pods, NULL), 0);
    assert_int_equal(json_array_size(pods), 1);
    char *uid = strdup(json_string_value(
        json_object_get(json_object_get(json_array_get(pods, 0), "metadata"), "uid")));
    json_decref(pods);
    assert_int_equal(fake_vmm_sent(fx->fs.vmm, "n1", "pod_run", uid), 1);
    return uid;
}

static void test_loop_pauses(void **state)
{
    struct fixture *fx = *state;
    char *uid = running_pod(fx);
    fake_server_node_ready(&fx->fs, "n2");
    fx->store->fail = ST_ESTORE_DOWN;
    fx->store->calls = 0;
    /* n2 falls silent during the outage: far past the grace, nothing is
     * fenced, nothing is asked of the store, n1 keeps its pod */
    fake_vmm_silence(fx->fs.vmm, "n2");
    fake_server_passes(&fx->fs, 20, FAKE_GRACE_MS / 2);
    assert_int_equal(fx->store->calls, 0);
    assert_int_equal(fake_vmm_fences_total(fx->fs.vmm), 0);
    assert_int_equal(fake_vmm_sent(fx->fs.vmm, "n1", "pod_stop", uid), 0);
    /* back: the controllers run again, the pod is still wanted */
    fx->store->fail = 0;
    fake_server_passes(&fx->fs, 2, 10);
    assert_true(fx->store->calls > 0);
    assert_int_equal(fake_vmm_sent(fx->fs.vmm, "n1", "pod_stop", uid), 0);
    assert_int_equal(fake_vmm_sent(fx->fs.vmm, "n1", "pod_run", uid), 1);
    /* n2's silence is judged from the resume on: a fresh grace, then fenced */
    assert_int_equal(fake_vmm_fences_total(fx->fs.vmm), 0);
    fake_server_passes(&fx->fs, 6, FAKE_GRACE_MS);
    assert_int_equal(fake_vmm_fenced(fx->fs.vmm, "n2"), 1);
    assert_int_equal(fake_vmm_fenced(fx->fs.vmm, "n1"), 0);
    free(uid);
}

static void test_node_dead_meanwhile(void **state)
{
    struct fixture *fx = *state;
    char *uid = running_pod(fx);
    fx->store->fail = ST_ESTORE_DOWN;
    fake_vmm_kill(fx->fs.vmm, "n1");
    fake_server_passes(&fx->fs, 3, 10);
    fx->store->fail = 0;
    fake_server_passes(&fx->fs, 2, 10);
    json_t *node = fake_server_get(&fx->fs, "Node", "", "n1");
    assert_non_null(node);
    assert_string_equal(st_server_node_phase(node), "Dead");
    json_decref(node);
    /* its pod was given up (and replaced by the Deployment) */
    json_t *pod = NULL;
    st_store_query q = {.kind = "Pod"};
    assert_int_equal(st_store_list(fx->store->inner, &q, &pod, NULL), 0);
    size_t i;
    json_t *p;
    bool old_bound = false;
    json_array_foreach(pod, i, p)
    {
        const char *u = json_string_value(json_object_get(json_object_get(p, "metadata"), "uid"));
        const char *on = json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        if (strcmp(u, uid) == 0 && on && strcmp(on, "n1") == 0 &&
            strcmp(json_string_value(json_object_get(json_object_get(p, "status"), "phase")) ?: "",
                   "Running") == 0)
            old_bound = true;
    }
    assert_false(old_bound);
    json_decref(pod);
    free(uid);
}

static void test_bad_json_position(void **state)
{
    struct fixture *fx = *state;
    char *msg = NULL;
    assert_int_equal(call(fx, "POST", "/api/v1/namespaces/default/pods",
                          "{\"kind\":\"Pod\",\n \"metadata\": {,}}", &msg, NULL, 0),
                     400);
    assert_non_null(strstr(msg, "line 2, column 15"));
    free(msg);
}

static void test_long_name(void **state)
{
    struct fixture *fx = *state;
    char path[10200], *msg = NULL;
    int n = snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/");
    memset(path + n, 'a', 10000);
    path[n + 10000] = '\0';
    assert_int_equal(call(fx, "GET", path, NULL, &msg, NULL, 0), 404);
    assert_true(strlen(msg) < 300);
    assert_non_null(strstr(msg, "at most 253 characters"));
    assert_non_null(strstr(msg, "this one 10000"));
    free(msg);
    assert_int_equal(call(fx, "PUT", path, "{}", &msg, NULL, 0), 422);
    free(msg);
    /* in a body: the manifest reader's rule, not 10,000 characters of name */
    char *body = malloc(10200);
    assert_non_null(body);
    n = snprintf(body, 10200, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"");
    memset(body + n, 'a', 10000);
    snprintf(body + n + 10000, 10200 - (size_t)n - 10000,
             "\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}");
    assert_int_equal(call(fx, "POST", "/api/v1/namespaces/default/pods", body, &msg, NULL, 0), 422);
    assert_non_null(strstr(msg, "it has 10000 characters, a name has at most 63"));
    assert_true(strlen(msg) < 400);
    free(msg);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreachable_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_is_507, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_admin_keeps_store_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_pauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_dead_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_json_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
