/* test_node_manager.c: the server's node manager on the in-memory store
 * and the fake vmm, its clock moved by the test: nodes added say hello and
 * become Ready, the pods bound to them are sent once, deleted pods are
 * stopped once, a silent node is fenced after the grace but a stall of the
 * server or a mass silence fences nothing, and a dead node's pods are
 * lost. */
#include "fake_server.h"
#include "testutil.h"
#include "strata/node_proto.h"

#include <string.h>

#define STEP_MS 200

static const char *deployment =
    "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
    "\"web\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
    "\"name\":\"c\",\"image\":\"busybox\"}]}}}}]}";

/* The pods (new reference), as the API lists them. */
static json_t *pods(struct fake_server *fs)
{
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/default/pods", NULL, &list),
                     200);
    json_t *items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

static const char *pod_str(json_t *pod, const char *part, const char *key)
{
    return json_string_value(json_object_get(json_object_get(pod, part), key)) ?: "";
}

/* Node n1 Ready, running the Deployment's two pods (new reference). */
static json_t *web_on_n1(struct fake_server *fs)
{
    fake_server_node_ready(fs, "n1");
    assert_int_equal(fake_server_call(fs, "POST", "/apply", deployment, NULL), 200);
    fake_server_passes(fs, 5, STEP_MS);
    json_t *items = pods(fs);
    assert_int_equal(json_array_size(items), 2);
    return items;
}

static void test_node_add_hello_ready(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    json_t *node = fake_server_get(fs, "Node", "", "n1");
    /* The hello's capacity is the Node's. */
    assert_string_equal(pod_str(json_object_get(node, "status"), "capacity", "cpu"), "2000m");
    /* and nodeInfo is filled as a kubelet fills it (kubectl's -o wide columns) */
    json_t *info = json_object_get(json_object_get(node, "status"), "nodeInfo");
    assert_non_null(
        strstr(json_string_value(json_object_get(info, "kubeletVersion")), "strata-node-v"));
    assert_non_null(
        strstr(json_string_value(json_object_get(info, "containerRuntimeVersion")), "strata://"));
    assert_string_equal(json_string_value(json_object_get(info, "operatingSystem")), "linux");
    json_decref(node);
    /* The name is taken now; a host without the memory refuses and makes
     * nothing. */
    const char *again = "{\"metadata\":{\"name\":\"n1\"}}";
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/nodes", again, NULL), 409);
    fake_vmm_host_full(fs->vmm, true);
    const char *big = "{\"metadata\":{\"name\":\"n2\"},\"spec\":{\"memoryMiB\":4096}}";
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/nodes", big, NULL), 422);
    assert_null(fake_server_get(fs, "Node", "", "n2"));
    const char *bad = "{\"metadata\":{\"name\":\"Not_A_Name\"}}";
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/nodes", bad, NULL), 400);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/nodes/nope/kill", NULL, NULL), 404);
}

static void test_pods_sent_once_and_stopped_once(void **state)
{
    struct fake_server *fs = *state;
    json_t *items = web_on_n1(fs);
    size_t i;
    json_t *p;
    json_array_foreach(items, i, p)
    {
        assert_string_equal(pod_str(p, "spec", "nodeName"), "n1");
        assert_int_equal(
            fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, pod_str(p, "metadata", "uid")), 1);
    }
    /* More passes send nothing again. */
    fake_server_passes(fs, 5, STEP_MS);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, NULL), 2);

    /* A deleted pod is stopped on its node, once. */
    json_t *gone = json_array_get(items, 0);
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s",
             pod_str(gone, "metadata", "name"));
    assert_int_equal(fake_server_call(fs, "DELETE", path, NULL, NULL), 200);
    fake_server_passes(fs, 5, STEP_MS);
    const char *uid = pod_str(gone, "metadata", "uid");
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_STOP, uid), 1);
    fake_server_passes(fs, 5, STEP_MS);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_STOP, NULL), 1);
    json_decref(items);
}

/* The pod_run of a pod on an image whose config runs it: its command is
 * the image's Cmd (the pod gives none), its root the image's layers, its
 * user and directory resolved; an image nobody imported waits with
 * kubelet's reason and is not sent. */
static void test_pod_run_carries_the_image(void **state)
{
    struct fake_server *fs = *state;
    json_t *items = web_on_n1(fs);
    const char *uid = pod_str(json_array_get(items, 0), "metadata", "uid");
    json_t *run = fake_vmm_last_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, uid);
    assert_non_null(run);
    json_t *c = json_array_get(json_object_get(json_object_get(run, "spec"), "containers"), 0);
    char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "command"), 0)), "sh");
    assert_int_equal(json_array_size(json_object_get(c, "command")), 1);
    assert_int_equal(json_array_size(json_object_get(c, "args")), 0);
    json_t *layers = json_object_get(c, "imageLayers");
    if (json_array_size(layers) != 1 ||
        strncmp(json_string_value(json_array_get(layers, 0)), "layers/", 7) != 0)
        fail_msg("imageLayers: %s", text);
    assert_string_equal(json_string_value(json_object_get(c, "workingDir")), "/");
    json_t *sc = json_object_get(c, "securityContext");
    assert_int_equal(json_integer_value(json_object_get(sc, "runAsUser")), 0);
    assert_int_equal(json_integer_value(json_object_get(sc, "runAsGroup")), 0);
    free(text);
    json_decref(run);
    json_decref(items);

    const char *missing =
        "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"ghost\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nothere:1\"}]}}]}";
    assert_int_equal(fake_server_call(fs, "POST", "/apply", missing, NULL), 200);
    fake_server_passes(fs, 5, STEP_MS);
    json_t *ghost = fake_server_get(fs, "Pod", "default", "ghost");
    assert_non_null(ghost);
    json_t *st = json_object_get(ghost, "status");
    assert_string_equal(json_string_value(json_object_get(st, "phase")), "Pending");
    json_t *waiting = json_object_get(
        json_object_get(json_array_get(json_object_get(st, "containerStatuses"), 0), "state"),
        "waiting");
    assert_string_equal(json_string_value(json_object_get(waiting, "reason")), "ErrImageNeverPull");
    assert_non_null(strstr(json_string_value(json_object_get(waiting, "message")), "nothere:1"));
    assert_int_equal(
        fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, pod_str(ghost, "metadata", "uid")), 0);
    json_decref(ghost);
}

/* The pod's first container's waiting reason, "" when none. */
static const char *waiting_reason(struct fake_server *fs, const char *pod, char *buf, size_t len)
{
    json_t *p = fake_server_get(fs, "Pod", "default", pod);
    json_t *cs =
        json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
    const char *r = json_string_value(
        json_object_get(json_object_get(json_object_get(cs, "state"), "waiting"), "reason"));
    snprintf(buf, len, "%s", r ? r : "");
    json_decref(p);
    return buf;
}

/* Events about pod with reason (and a message containing words). */
static size_t events_of(struct fake_server *fs, const char *pod, const char *reason,
                        const char *words)
{
    json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/default/events", NULL, &list),
                     200);
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(list, "items"), i, e)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(e, "involvedObject"), "name"));
        const char *r = json_string_value(json_object_get(e, "reason"));
        const char *m = json_string_value(json_object_get(e, "message"));
        json_int_t count = json_integer_value(json_object_get(e, "count"));
        if (name && strcmp(name, pod) == 0 && r && strcmp(r, reason) == 0 &&
            (words == NULL || (m && strstr(m, words))))
            n += count > 0 ? (size_t)count : 1;
    }
    json_decref(list);
    return n;
}

/* A registry that refuses (nothing listens on 127.0.0.1:1): kubelet's
 * ErrImagePull, then ImagePullBackOff, the next try after 10 s, events
 * Pulling, Failed and BackOff; the pod is never sent. */
static void test_pull_failure_backs_off(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    const char *pod =
        "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"puller\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"127.0.0.1:1/nothing:1\"}]}}]}";
    assert_int_equal(fake_server_call(fs, "POST", "/apply", pod, NULL), 200);
    char why[64];
    /* scheduled, the pull starts and fails, the pod says so */
    fake_server_passes(fs, 3, STEP_MS);
    assert_string_equal(waiting_reason(fs, "puller", why, sizeof(why)), "ErrImagePull");
    assert_int_equal(events_of(fs, "puller", "Pulling", "Pulling image \"127.0.0.1:1/nothing:1\""),
                     1);
    assert_true(events_of(fs, "puller", "Failed", "Failed to pull image") >= 1);
    /* then backs off */
    fake_server_passes(fs, 15, STEP_MS);
    assert_string_equal(waiting_reason(fs, "puller", why, sizeof(why)), "ImagePullBackOff");
    assert_int_equal(events_of(fs, "puller", "BackOff", "Back-off pulling image"), 1);
    assert_int_equal(events_of(fs, "puller", "Pulling", NULL), 1);
    /* 10 s after the failure the next try, which fails again */
    fake_server_passes(fs, 40, STEP_MS);
    assert_int_equal(events_of(fs, "puller", "Pulling", NULL), 2);
    json_t *p = fake_server_get(fs, "Pod", "default", "puller");
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, pod_str(p, "metadata", "uid")),
                     0);
    json_decref(p);
}

static void test_silent_node_fenced_after_grace(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    fake_server_node_ready(fs, "n2");
    fake_vmm_silence(fs->vmm, "n2");
    /* Within the grace: nothing. */
    fake_server_passes(fs, FAKE_GRACE_MS / STEP_MS - 1, STEP_MS);
    assert_int_equal(fake_vmm_fenced(fs->vmm, "n2"), 0);
    /* Past it: fenced, once, and dead; the node that talks is untouched. */
    fake_server_passes(fs, 10, STEP_MS);
    assert_int_equal(fake_vmm_fenced(fs->vmm, "n2"), 1);
    assert_int_equal(fake_vmm_fenced(fs->vmm, "n1"), 0);
    json_t *n2 = fake_server_get(fs, "Node", "", "n2");
    assert_string_equal(st_server_node_phase(n2), "Dead");
    json_decref(n2);
    json_t *n1 = fake_server_get(fs, "Node", "", "n1");
    assert_string_equal(fake_server_node_ready_status(n1), "True");
    json_decref(n1);
}

static void test_stall_fences_nothing(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    fake_server_node_ready(fs, "n2");
    fake_server_passes(fs, 3, STEP_MS);
    /* The server itself did not run for ten graces: nobody was heard, and
     * that is not the nodes' fault. */
    fake_vmm_advance_ms(fs->vmm, 10 * FAKE_GRACE_MS);
    st_server_pass(fs->d);
    fake_server_workers_done(fs);
    assert_int_equal(fake_vmm_fences_total(fs->vmm), 0);
    /* Their heartbeats come again: still nothing fenced, both Ready. */
    fake_server_passes(fs, 10, STEP_MS);
    assert_int_equal(fake_vmm_fences_total(fs->vmm), 0);
    json_t *n1 = fake_server_get(fs, "Node", "", "n1");
    json_t *n2 = fake_server_get(fs, "Node", "", "n2");
    assert_string_equal(fake_server_node_ready_status(n1), "True");
    assert_string_equal(fake_server_node_ready_status(n2), "True");
    json_decref(n1);
    json_decref(n2);
}

static void test_mass_silence_holds(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    fake_server_node_ready(fs, "n2");
    fake_server_node_ready(fs, "n3");
    fake_vmm_silence(fs->vmm, "n2");
    fake_vmm_silence(fs->vmm, "n3");
    fake_server_passes(fs, 4 * FAKE_GRACE_MS / STEP_MS, STEP_MS);
    /* Two of three silent at once: the host is suspected, none is fenced,
     * both show as unknown. */
    assert_int_equal(fake_vmm_fences_total(fs->vmm), 0);
    json_t *n2 = fake_server_get(fs, "Node", "", "n2");
    assert_string_equal(fake_server_node_ready_status(n2), "Unknown");
    assert_string_not_equal(st_server_node_phase(n2), "Dead");
    json_decref(n2);
}

static void test_node_death_marks_pods_lost(void **state)
{
    struct fake_server *fs = *state;
    json_t *before = web_on_n1(fs);
    fake_vmm_kill(fs->vmm, "n1");
    st_server_pass(fs->d);
    json_t *n1 = fake_server_get(fs, "Node", "", "n1");
    assert_string_equal(st_server_node_phase(n1), "Dead");
    json_decref(n1);
    size_t i;
    json_t *p;
    json_array_foreach(before, i, p)
    {
        json_t *now = fake_server_get(fs, "Pod", "default", pod_str(p, "metadata", "name"));
        /* Failed NodeLost, or already replaced by the deployment controller. */
        if (now) {
            assert_string_equal(pod_str(now, "status", "phase"), "Failed");
            assert_string_equal(pod_str(now, "status", "reason"), "NodeLost");
        }
        json_decref(now);
    }
    json_decref(before);
    /* Nothing more is sent to a dead node. */
    size_t runs = fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, NULL);
    fake_server_passes(fs, 3, STEP_MS);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_POD_RUN, NULL), runs);
}

/* After a restart a re-adopted node is pinged until its hello comes, at
 * most every 2 s: on virtio-serial a node may not see the old stratad go,
 * and greets only a host whose messages start again (chaos found nodes
 * left Adopting for good when nothing was sent to them). */
static void test_adopted_node_pinged_until_hello(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PING, NULL), 0);
    st_error err = {0};
    assert_int_equal(st_server_nodes_readopt(fs->d, &err), 0);
    json_t *n1 = fake_server_get(fs, "Node", "", "n1");
    assert_string_equal(st_server_node_phase(n1), "Adopting");
    json_decref(n1);
    st_server_pass(fs->d);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PING, NULL), 1);
    st_server_pass(fs->d);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PING, NULL), 1);
    fake_server_passes(fs, 1, 2100);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PING, NULL), 2);
    fake_vmm_hello(fs->vmm, "n1");
    fake_server_passes(fs, 1, 10);
    n1 = fake_server_get(fs, "Node", "", "n1");
    assert_string_equal(st_server_node_phase(n1), "Ready");
    json_decref(n1);
    fake_server_passes(fs, 3, 2100);
    assert_int_equal(fake_vmm_sent(fs->vmm, "n1", ST_PROTO_PING, NULL), 2);
}

/* A node's death is two writes (its phase, then its pods): a stratad
 * killed between them restarts with the node Dead and its pods still bound
 * and not lost; the restart gives them up so they are replaced. */
static void test_restart_gives_up_a_dead_nodes_pods(void **state)
{
    struct fake_server *fs = *state;
    json_t *before = web_on_n1(fs);
    fake_vmm_kill(fs->vmm, "n1");
    /* the first write only, as the killed stratad left it */
    st_server_node_set_ready(fs->d, "n1", "False", "Dead", "NodeLost", "channel EOF");
    st_error err = {0};
    assert_int_equal(st_server_nodes_readopt(fs->d, &err), 0);
    size_t i;
    json_t *p;
    json_array_foreach(before, i, p)
    {
        json_t *now = fake_server_get(fs, "Pod", "default", pod_str(p, "metadata", "name"));
        assert_non_null(now);
        assert_string_equal(pod_str(now, "status", "phase"), "Failed");
        assert_string_equal(pod_str(now, "status", "reason"), "NodeLost");
        json_decref(now);
    }
    json_decref(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_add_hello_ready, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_pods_sent_once_and_stopped_once, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_pod_run_carries_the_image, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_pull_failure_backs_off, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_silent_node_fenced_after_grace, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_stall_fences_nothing, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_mass_silence_holds, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_restart_gives_up_a_dead_nodes_pods, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_adopted_node_pinged_until_hello, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_node_death_marks_pods_lost, fake_server_setup,
                                        fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
