/* itest_examples.c: every manifest shipped in configs/ does what its opening
 * comment promises, on the busybox image and real node VMs (TCG here): one
 * cluster of two nodes, every example applied first, then one check per
 * example, each polling with a bound. The examples are found by globbing
 * the YAML files of configs/ and configs/examples/, and an example without
 * a check (or a check without its example) fails the run: nobody can ship
 * an example that is not tried. Domains are strata-ex<pid>-*, removed in
 * teardown, pass or fail. */
#include "cluster.h"
#include "testutil.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct st_cluster cl;

#define NODES 2

/* ---- reading pods ---- */

static long long restarts(json_t *p)
{
    return json_integer_value(json_object_get(st_pod_container0(p), "restartCount"));
}

static bool ready(json_t *p)
{
    return st_json_condition(p, "Ready");
}

static bool phase_is(json_t *p, const char *phase)
{
    const char *ph = st_json_str(p, "status", "phase");
    return ph && strcmp(ph, phase) == 0;
}

/* `stratactl logs NAME` contains text. */
static bool logs_have(const char *name, const char *text)
{
    char *out = NULL;
    bool ok = st_cluster_ctl(&cl, &out, NULL, "logs %s", name) == 0 && out && strstr(out, text);
    free(out);
    return ok;
}

/* The pods of deployment name (by their "<name>-" prefix) that are not
 * Failed. */
static json_t *replicas(const char *name)
{
    json_t *list = st_cluster_get(&cl, "pods");
    json_t *out = json_array();
    size_t len = strlen(name), i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *pname = st_json_str(p, "metadata", "name");
        if (pname && strncmp(pname, name, len) == 0 && pname[len] == '-' && !phase_is(p, "Failed"))
            json_array_append(out, p);
    }
    json_decref(list);
    return out;
}

struct spread {
    const char *deployment;
    int replicas;
};

/* All replicas ready, on as many nodes as can hold them, evenly (counts
 * per node differ by at most one): "spread over the VM nodes". */
static bool ready_and_spread(void *arg)
{
    const struct spread *s = arg;
    json_t *pods = replicas(s->deployment);
    const char *node[16];
    int count[16], nnodes = 0, nready = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *n = st_json_str(p, "spec", "nodeName");
        if (!ready(p) || n == NULL)
            continue;
        nready++;
        int k = 0;
        while (k < nnodes && strcmp(node[k], n) != 0)
            k++;
        if (k == nnodes && nnodes < 16) {
            node[nnodes] = n;
            count[nnodes++] = 0;
        }
        if (k < 16)
            count[k]++;
    }
    int lo = s->replicas, hi = 0;
    for (int k = 0; k < nnodes; k++) {
        lo = count[k] < lo ? count[k] : lo;
        hi = count[k] > hi ? count[k] : hi;
    }
    int want_nodes = s->replicas < NODES ? s->replicas : NODES;
    bool ok = (int)json_array_size(pods) == s->replicas && nready == s->replicas &&
              nnodes == want_nodes && hi - lo <= 1;
    json_decref(pods);
    return ok;
}

/* Polls cond with a bound; on timeout fails with what was awaited and the
 * pods as they stood. */
static void wait_for(const char *what, bool (*cond)(void *), void *arg, int timeout_ms)
{
    if (st_test_wait_until(cond, arg, timeout_ms, 500))
        return;
    char *out = NULL;
    st_cluster_ctl(&cl, &out, NULL, "get pods -o wide");
    fail_msg("%s: not within %d s; the pods:\n%s", what, timeout_ms / 1000, out ? out : "");
}

/* ---- the examples ---- */

static const char *example_path(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/configs/%s", st_test_env("STRATA_SOURCE_DIR"), rel);
    return path;
}

/* examples/secret.yaml: data kept as given, stringData merged into data
 * base64-encoded and gone. The web Deployment reading it is checked with
 * the Deployment. */
static void check_secret(void **state)
{
    (void)state;
    json_t *s = st_cluster_get(&cl, "secret web-credentials");
    assert_non_null(s);
    json_t *data = json_object_get(s, "data");
    assert_string_equal(json_string_value(json_object_get(data, "username")), "YWRtaW4=");
    assert_string_equal(json_string_value(json_object_get(data, "token")),
                        "czNjcjN0LXQwa2Vu"); /* base64 of s3cr3t-t0ken */
    assert_null(json_object_get(s, "stringData"));
    json_decref(s);
}

struct log_wait {
    const char *deployment;
    const char *text;
};

static bool every_replica_logged(void *arg)
{
    const struct log_wait *w = arg;
    json_t *pods = replicas(w->deployment);
    bool ok = json_array_size(pods) > 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        ok = ok && logs_have(st_json_str(p, "metadata", "name"), w->text);
    }
    json_decref(pods);
    return ok;
}

/* Deployment name's replicas ready and spread, each having logged text. */
static void replicas_ready_and_logging(const char *name, int n, const char *text)
{
    char what[200];
    struct spread s = {name, n};
    snprintf(what, sizeof(what), "%d %s replicas ready and spread", n, name);
    wait_for(what, ready_and_spread, &s, 120000);
    struct log_wait w = {name, text};
    snprintf(what, sizeof(what), "\"%s\" in the log of every %s replica", text, name);
    wait_for(what, every_replica_logged, &w, 30000);
}

/* examples/deployment.yaml: three httpd replicas ready (the HTTP readiness
 * probe on the named port passes) and spread over both nodes, with the
 * template's limits, never restarted by the tcpSocket liveness probe, and
 * the API token from the Secret in their environment (12 characters). */
static void check_deployment(void **state)
{
    (void)state;
    replicas_ready_and_logging("web", 3,
                               "hello: API_TOKEN has 12 characters; serving /var/www on :8080");
    json_t *pods = replicas("web");
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        json_t *lim = json_object_get(
            json_object_get(
                json_array_get(json_object_get(json_object_get(p, "spec"), "containers"), 0),
                "resources"),
            "limits");
        assert_string_equal(json_string_value(json_object_get(lim, "cpu")), "250m");
        assert_string_equal(json_string_value(json_object_get(lim, "memory")), "64Mi");
        assert_int_equal(restarts(p), 0);
    }
    json_decref(pods);
    json_t *d = st_cluster_get(&cl, "deployment web");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(d, "status"), "readyReplicas")), 3);
    json_decref(d);
}

static bool oom_restarted(void *arg)
{
    (void)arg;
    json_t *p = st_cluster_pod(&cl, "hog");
    const char *why =
        st_json_str(json_object_get(st_pod_container0(p), "lastState"), "terminated", "reason");
    bool ok = why && strcmp(why, "OOMKilled") == 0 && restarts(p) >= 1;
    json_decref(p);
    return ok;
}

/* examples/oom.yaml: ends OOMKilled (not a plain signal) and is restarted,
 * after a BackOff. */
static void check_oom(void **state)
{
    (void)state;
    /* The first restart waits out the 10 s back-off base. */
    wait_for("hog OOMKilled and restarted", oom_restarted, NULL, 120000);
    char *ev = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &ev, NULL, "events --for pod/hog"), 0);
    assert_non_null(strstr(ev, "BackOff"));
    free(ev);
}

/* examples/probes.yaml: liveness-fails is restarted; all the while
 * readiness-fails runs, is never Ready and is never restarted. */
static int readiness_violations;

static bool liveness_restarted(void *arg)
{
    (void)arg;
    json_t *r = st_cluster_pod(&cl, "readiness-fails");
    if (r && (ready(r) || restarts(r) != 0))
        readiness_violations++;
    json_decref(r);
    json_t *l = st_cluster_pod(&cl, "liveness-fails");
    bool ok = restarts(l) >= 1;
    json_decref(l);
    return ok;
}

static void check_probes(void **state)
{
    (void)state;
    readiness_violations = 0;
    wait_for("liveness-fails restarted", liveness_restarted, NULL, 120000);
    assert_int_equal(readiness_violations, 0);
    json_t *r = st_cluster_pod(&cl, "readiness-fails");
    assert_non_null(r);
    assert_true(phase_is(r, "Running"));
    assert_false(ready(r));
    assert_int_equal(restarts(r), 0);
    json_decref(r);
}

/* One log line a second: at least this many lines is that many seconds of
 * the loop, here more than two liveness periods (10 s). */
#define TICKER_LINES 25

static bool ticker_ran(void *arg)
{
    (void)arg;
    char *out = NULL;
    int lines = 0;
    if (st_cluster_ctl(&cl, &out, NULL, "logs ticker") == 0 && out) {
        for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
            lines++;
    }
    free(out);
    return lines >= TICKER_LINES;
}

/* examples/pod.yaml: the loop runs (its log grows every second) past two
 * liveness periods without a restart; requests default to the limits;
 * restart on failure. */
static void check_pod(void **state)
{
    (void)state;
    wait_for("ticker to log a line a second for 25 s", ticker_ran, NULL, 120000);
    json_t *p = st_cluster_pod(&cl, "ticker");
    assert_non_null(p);
    assert_true(phase_is(p, "Running"));
    assert_true(ready(p));
    assert_int_equal(restarts(p), 0);
    json_t *spec = json_object_get(p, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "restartPolicy")), "OnFailure");
    json_t *res =
        json_object_get(json_array_get(json_object_get(spec, "containers"), 0), "resources");
    json_t *want = json_pack("{s:s, s:s}", "cpu", "0.5", "memory", "32Mi");
    assert_true(json_equal(json_object_get(res, "requests"), want));
    assert_true(json_equal(json_object_get(res, "limits"), want));
    json_decref(want);
    json_decref(p);
}

/* Applied in this order (the Secret before the Deployment that reads it);
 * each file is checked by its test. One needs more than busybox and two
 * nodes, and is checked where it has them: elsewhere names that test. */
static const struct example {
    const char *file; /* under configs/ */
    CMUnitTestFunction check;
    const char *elsewhere;
} examples[] = {
    {"examples/secret.yaml", check_secret, NULL},
    {"examples/deployment.yaml", check_deployment, NULL},
    {"examples/oom.yaml", check_oom, NULL},
    {"examples/probes.yaml", check_probes, NULL},
    /* the quote image and its database on the host, three nodes */
    {"quote-app.yaml", NULL, "agent/itest_services"},
    {"examples/pod.yaml", check_pod, NULL}, /* last: its check wants 25 s of running */
};
#define NEXAMPLES (sizeof(examples) / sizeof(examples[0]))

static void test_every_example_has_a_check(void **state)
{
    (void)state;
    glob_t g = {0};
    int rc = glob(example_path("*.yaml"), 0, NULL, &g);
    if (rc == 0)
        rc = glob(example_path("examples/*.yaml"), GLOB_APPEND, NULL, &g);
    assert_int_equal(rc, 0);
    size_t prefix = strlen(example_path(""));
    int missing = 0;
    bool found[NEXAMPLES] = {false};
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *rel = g.gl_pathv[i] + prefix;
        size_t k = 0;
        while (k < NEXAMPLES && strcmp(examples[k].file, rel) != 0)
            k++;
        if (k == NEXAMPLES) {
            print_error("configs/%s has no check: add one to tests/agent/itest_examples.c\n", rel);
            missing++;
        } else {
            found[k] = true;
        }
    }
    globfree(&g);
    for (size_t k = 0; k < NEXAMPLES; k++) {
        if (!found[k]) {
            print_error("configs/%s is checked but does not exist\n", examples[k].file);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

/* As their comments say: `stratactl apply -f FILE`, every file. */
static void test_apply_every_example(void **state)
{
    (void)state;
    for (size_t k = 0; k < NEXAMPLES; k++) {
        if (examples[k].elsewhere)
            continue;
        char *err = NULL;
        int rc = st_cluster_ctl(&cl, NULL, &err, "apply -f %s", example_path(examples[k].file));
        if (rc != 0)
            print_error("apply -f configs/%s: %s\n", examples[k].file, err ? err : "");
        free(err);
        assert_int_equal(rc, 0);
    }
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const ab[NODES] = {"a", "b"};
    return st_cluster_up(&cl, "ex", ab, NODES);
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    return 0;
}

int main(void)
{
    /* Before any VM boots: a missing check fails at once. */
    const struct CMUnitTest discovery[] = {
        cmocka_unit_test(test_every_example_has_a_check),
    };
    int failed = cmocka_run_group_tests(discovery, NULL, NULL);
    if (failed)
        return failed;
    struct CMUnitTest tests[NEXAMPLES + 1] = {
        cmocka_unit_test(test_apply_every_example),
    };
    size_t n = 1;
    for (size_t k = 0; k < NEXAMPLES; k++)
        if (examples[k].check)
            tests[n++] =
                (struct CMUnitTest){.name = examples[k].file, .test_func = examples[k].check};
    return _cmocka_run_group_tests("itest_examples", tests, n, group_setup, group_teardown);
}
