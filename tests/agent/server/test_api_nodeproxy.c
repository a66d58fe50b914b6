/* test_api_nodeproxy.c: GET /api/v1/nodes/NAME/proxy/pods on the fake
 * server: the question goes to the node over its channel (the fake node
 * answers with what it was told to run), the answer comes back as a
 * PodList of what the node runs; a node that is gone, unknown or silent
 * gets a clear 503, 404 or 504. The request waits on its own thread, as
 * on libmicrohttpd's, while this thread runs the controller loop. */
#include "fake_server.h"
#include "testutil.h"
#include "strata/node_proto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static const char *deployment =
    "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
    "\"web\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
    "\"name\":\"c\",\"image\":\"busybox\"}]}}}}]}";

struct asking {
    struct fake_server *fs;
    char path[128];
    unsigned status;
    json_t *reply;
    atomic_bool done;
};

static void *ask(void *arg)
{
    struct asking *a = arg;
    a->status = fake_server_call(a->fs, "GET", a->path, NULL, &a->reply);
    atomic_store(&a->done, true);
    return NULL;
}

/* GET path on a thread of its own while the loop runs here (bounded):
 * the status, and *reply the answer. */
static unsigned ask_node(struct fake_server *fs, const char *node, json_t **reply)
{
    struct asking a = {.fs = fs};
    snprintf(a.path, sizeof(a.path), "/api/v1/nodes/%s/proxy/pods", node);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, ask, &a), 0);
    long long end = st_test_now_ms() + 20000;
    while (!atomic_load(&a.done) && st_test_now_ms() < end) {
        st_server_pass(fs->d);
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
    *reply = a.reply;
    return a.status;
}

static const char *str2(json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b)) ?: "";
}

/* The node's answer lists exactly the pods the store bound to it, as Pods
 * on that node; once it is stopped, it lists none. */
static void test_node_says_what_it_runs(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    assert_int_equal(fake_server_call(fs, "POST", "/apply", deployment, NULL), 200);
    fake_server_passes(fs, 5, 200);
    json_t *stored = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/default/pods", NULL, &stored),
                     200);
    json_t *items = json_object_get(stored, "items");
    assert_int_equal(json_array_size(items), 2);

    json_t *list = NULL;
    assert_int_equal(ask_node(fs, "n1", &list), 200);
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "PodList");
    json_t *running = json_object_get(list, "items");
    assert_int_equal(json_array_size(running), 2);
    size_t i, j;
    json_t *p, *s;
    json_array_foreach(running, i, p)
    {
        assert_string_equal(str2(p, "spec", "nodeName"), "n1");
        assert_string_equal(str2(p, "status", "phase"), "Running");
        bool found = false;
        json_array_foreach(items, j, s) found |=
            strcmp(str2(s, "metadata", "uid"), str2(p, "metadata", "uid")) == 0 &&
            strcmp(str2(s, "metadata", "name"), str2(p, "metadata", "name")) == 0;
        assert_true(found);
    }
    /* the question went over the channel, once */
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PODS_QUERY, NULL), 1);
    json_decref(list);
    json_decref(stored);

    fake_server_workers_done(fs);
    assert_int_equal(fake_server_call(fs, "DELETE",
                                      "/apis/apps/v1/namespaces/default/deployments/web", NULL,
                                      NULL),
                     200);
    fake_server_passes(fs, 5, 200);
    assert_int_equal(ask_node(fs, "n1", &list), 200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
}

/* No such node: 404; a dead one: 503 saying so, and nothing was sent to
 * it; a silent one (its VM runs, it answers nothing): 504 in bounded
 * time. */
static void test_node_that_cannot_answer(void **state)
{
    struct fake_server *fs = *state;
    json_t *reply = NULL;
    assert_int_equal(ask_node(fs, "nope", &reply), 404);
    json_decref(reply);

    fake_server_node_ready(fs, "n1");
    fake_vmm_kill(fs->vmm, "n1");
    st_server_pass(fs->d);
    assert_int_equal(ask_node(fs, "n1", &reply), 503);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "message")), "not connected"));
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PODS_QUERY, NULL), 0);
    json_decref(reply);

    fake_server_node_ready(fs, "n2");
    fake_vmm_silence(fs->vmm, "n2");
    long long t0 = st_test_now_ms();
    assert_int_equal(ask_node(fs, "n2", &reply), 504);
    assert_true(st_test_now_ms() - t0 < 15000);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "message")), "did not say"));
    json_decref(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_says_what_it_runs, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_node_that_cannot_answer, fake_server_setup,
                                        fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
