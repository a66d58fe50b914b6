/* itest_kubectl.c: the real kubectl (/usr/bin/kubectl) against stratad's
 * HTTPS API with the kubeconfig stratad wrote, on one TCG node VM: apply a
 * Secret, a Deployment and a Service; rollout status; get (tables, -o wide,
 * every kind); describe; logs; scale; `get pods -w` seeing a deleted pod
 * and its replacement; `get -o json` applied back with no change; explain;
 * cordon/uncordon; delete; a wrong token refused; and idle clients on the
 * HTTPS port holding nothing up. Skips (with a
 * message) where kubectl is not installed. Domains are strata-kc<pid>-*,
 * removed in teardown, pass or fail. */
#include "cluster.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct st_cluster cl;
static bool have_kubectl;
static char node[64];

#define MANIFEST                                                                                   \
    "apiVersion: v1\n"                                                                             \
    "kind: Secret\n"                                                                               \
    "metadata:\n"                                                                                  \
    "  name: kc-secret\n"                                                                          \
    "stringData:\n"                                                                                \
    "  greeting: hello-from-secret\n"                                                              \
    "---\n"                                                                                        \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: kc-web\n"                                                                             \
    "  labels: {app: kc-web}\n"                                                                    \
    "spec:\n"                                                                                      \
    "  replicas: 2\n"                                                                              \
    "  selector: {matchLabels: {app: kc-web}}\n"                                                   \
    "  template:\n"                                                                                \
    "    metadata:\n"                                                                              \
    "      labels: {app: kc-web}\n"                                                                \
    "    spec:\n"                                                                                  \
    "      containers:\n"                                                                          \
    "      - name: web\n"                                                                          \
    "        image: busybox\n"                                                                     \
    "        command: [/bin/sh, -c, 'echo \"$GREETING\"; exec sleep 100000']\n"                    \
    "        env:\n"                                                                               \
    "        - name: GREETING\n"                                                                   \
    "          valueFrom: {secretKeyRef: {name: kc-secret, key: greeting}}\n"                      \
    "        ports:\n"                                                                             \
    "        - containerPort: 8080\n"                                                              \
    "          name: http\n"                                                                       \
    "---\n"                                                                                        \
    "apiVersion: v1\n"                                                                             \
    "kind: Service\n"                                                                              \
    "metadata:\n"                                                                                  \
    "  name: kc-web\n"                                                                             \
    "spec:\n"                                                                                      \
    "  selector: {app: kc-web}\n"                                                                  \
    "  ports:\n"                                                                                   \
    "  - port: 80\n"                                                                               \
    "    targetPort: http\n"

/* `kubectl --kubeconfig STATE/kubeconfig ARGS` through sh; its status. A
 * private cache dir: nothing is left in ~/.kube. */
static int kc(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int kc(char **out, char **err, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    int rc = st_test_sh(out, err, "kubectl --kubeconfig %s/kubeconfig --cache-dir %s/kcache %s",
                        cl.state_dir, cl.state_dir, args);
    return rc;
}

/* kubectl must succeed; its stdout (malloc'd). noinline: inlined into the
 * tests, GCC 12's -Wdangling-pointer (Release) takes what it returns for a
 * pointer to its local. */
static __attribute__((noinline)) char *kc_ok(const char *args)
{
    char *out = NULL, *err = NULL;
    int rc = kc(&out, &err, "%s", args);
    if (rc != 0)
        print_error("kubectl %s: rc %d\n%s%s\n", args, rc, out ? out : "", err ? err : "");
    assert_int_equal(rc, 0);
    free(err);
    return out;
}

static void assert_has(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        print_error("expected \"%s\" in:\n%s\n", part, text ? text : "(nothing)");
    assert_non_null(text);
    assert_non_null(strstr(text, part));
}

/* Lines of `kubectl get pods -l app=kc-web --no-headers` that say Running. */
static int running_pods(void)
{
    char *out = NULL;
    if (kc(&out, NULL, "get pods -l app=kc-web --no-headers") != 0) {
        free(out);
        return -1;
    }
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        n += strstr(l, " Running ") != NULL;
    free(out);
    return n;
}

static bool pods_running_are(void *arg)
{
    return running_pods() == *(int *)arg;
}

#define SKIP_WITHOUT_KUBECTL()                                                                     \
    do {                                                                                           \
        if (!have_kubectl) {                                                                       \
            print_message("kubectl is not installed: skipped (apt/Debian has none; install "       \
                          "one from dl.k8s.io)\n");                                                \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void test_apply_and_rollout(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char path[600];
    snprintf(path, sizeof(path), "%s/kc.yaml", cl.state_dir);
    st_test_write_file(path, MANIFEST);
    char args[2200];
    snprintf(args, sizeof(args), "apply -f %s", path);
    char *out = kc_ok(args);
    assert_has(out, "secret/kc-secret created");
    assert_has(out, "deployment.apps/kc-web created");
    assert_has(out, "service/kc-web created");
    free(out);
    out = kc_ok("rollout status deployment/kc-web --timeout=300s");
    assert_has(out, "successfully rolled out");
    free(out);
    int two = 2;
    assert_true(st_test_wait_until(pods_running_are, &two, 60000, 500));
    /* the same file again: nothing to change */
    out = kc_ok(args);
    assert_has(out, "deployment.apps/kc-web unchanged");
    free(out);
}

static void test_get_tables(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *out = kc_ok("get pods -o wide");
    assert_has(out, "NAME");
    assert_has(out, "READY");
    assert_has(out, "STATUS");
    assert_has(out, "RESTARTS");
    assert_has(out, "IP");
    assert_has(out, "NODE");
    assert_has(out, "1/1");
    assert_has(out, node);
    free(out);
    out = kc_ok("get deployments");
    assert_has(out, "UP-TO-DATE");
    assert_has(out, "kc-web   2/2");
    free(out);
    out = kc_ok("get services");
    assert_has(out, "CLUSTER-IP");
    assert_has(out, "80/TCP");
    free(out);
    out = kc_ok("get endpoints kc-web");
    assert_has(out, ":8080");
    free(out);
    out = kc_ok("get nodes");
    assert_has(out, node);
    assert_has(out, "Ready");
    free(out);
    out = kc_ok("get secrets");
    assert_has(out, "kc-secret");
    assert_has(out, "Opaque");
    free(out);
    out = kc_ok("get namespaces");
    assert_has(out, "default");
    assert_has(out, "Active");
    free(out);
    char *err = NULL;
    assert_int_not_equal(kc(NULL, &err, "get pods --field-selector spec.bogus=1"), 0);
    assert_has(err, "field label not supported: spec.bogus");
    free(err);
    err = NULL;
    assert_int_not_equal(kc(NULL, &err, "get pod nosuch"), 0);
    assert_has(err, "pods \"nosuch\" not found");
    free(err);
    out = kc_ok("api-resources");
    assert_has(out, "deployments");
    assert_has(out, "apps/v1");
    free(out);
    out = kc_ok("version");
    assert_has(out, "Server Version:");
    free(out);
}

static void test_describe_logs_explain(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *out = kc_ok("describe deployment kc-web");
    assert_has(out, "Replicas:");
    assert_has(out, "kc-web");
    free(out);
    /* kubectl 1.32 reads a Service's endpoints from EndpointSlices */
    out = kc_ok("describe service kc-web");
    assert_has(out, "TargetPort:");
    assert_has(out, ":8080");
    free(out);
    out = kc_ok("get pods -l app=kc-web -o jsonpath={.items[0].metadata.name}");
    char pod[256];
    snprintf(pod, sizeof(pod), "%s", out);
    free(out);
    char args[400];
    snprintf(args, sizeof(args), "describe pod %s", pod);
    out = kc_ok(args);
    assert_has(out, "Node:");
    free(out);
    snprintf(args, sizeof(args), "logs %s", pod);
    out = kc_ok(args);
    assert_has(out, "hello-from-secret");
    free(out);
    out = kc_ok("explain deployment.spec.replicas");
    assert_has(out, "replicas");
    assert_has(out, "integer");
    free(out);
}

/* `get -o json` applied back: the spec and its generation stay. */
static void test_json_round_trip(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *before = kc_ok("get deployment kc-web -o json");
    json_t *b = json_loads(before, 0, NULL);
    assert_non_null(b);
    char path[600];
    snprintf(path, sizeof(path), "%s/kc-web.json", cl.state_dir);
    st_test_write_file(path, before);
    char args[2200];
    snprintf(args, sizeof(args), "apply -f %s", path);
    char *out = kc_ok(args);
    assert_has(out, "deployment.apps/kc-web");
    free(out);
    /* kubectl diff (a server-side dry run) of a change shows it, and
     * --dry-run=server of another changes nothing stored */
    char *err = NULL;
    snprintf(args, sizeof(args),
             "patch --local -f %s -p '{\"spec\":{\"replicas\":4}}' -o json > %s.4 && "
             "kubectl --kubeconfig %s/kubeconfig diff -f %s.4",
             path, path, cl.state_dir, path);
    assert_int_equal(kc(&out, &err, "%s", args), 1); /* 1: differences found */
    assert_has(out, "+  replicas: 4");
    free(out);
    free(err);
    assert_int_equal(kc(&out, &err, "apply --dry-run=server -f %s.4", path), 0);
    assert_has(out, "configured (server dry run)");
    free(out);
    free(err);
    char *after = kc_ok("get deployment kc-web -o json");
    json_t *a = json_loads(after, 0, NULL);
    assert_non_null(a);
    assert_true(json_equal(json_object_get(a, "spec"), json_object_get(b, "spec")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(a, "metadata"), "generation")),
        json_integer_value(json_object_get(json_object_get(b, "metadata"), "generation")));
    json_decref(a);
    json_decref(b);
    free(before);
    free(after);
}

static bool file_has_deleted_and_added(void *arg)
{
    char *text = st_test_read_file(arg);
    bool ok = text && strstr(text, "DELETED") && strstr(text, "ADDED");
    free(text);
    return ok;
}

/* `get pods -w` sees a pod deleted and its replacement come. */
static void test_watch_sees_replacement(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *out = kc_ok("get pods -l app=kc-web -o jsonpath={.items[0].metadata.name}");
    char pod[256];
    snprintf(pod, sizeof(pod), "%s", out);
    free(out);
    char log[600], kubeconfig[600], cache[600];
    snprintf(log, sizeof(log), "%s/watch.out", cl.state_dir);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", cl.state_dir);
    snprintf(cache, sizeof(cache), "%s/kcache", cl.state_dir);
    pid_t w = fork();
    assert_true(w >= 0);
    if (w == 0) {
        if (freopen(log, "w", stdout) == NULL)
            _exit(126);
        execlp("kubectl", "kubectl", "--kubeconfig", kubeconfig, "--cache-dir", cache, "get",
               "pods", "-w", "--output-watch-events", "-l", "app=kc-web", (char *)NULL);
        _exit(127);
    }
    /* the watch has listed the pods before the delete */
    bool listed = false;
    for (int i = 0; i < 100 && !listed; i++) {
        char *text = st_test_read_file(log);
        listed = text && strstr(text, pod);
        free(text);
        if (!listed)
            usleep(100000);
    }
    char args[400];
    snprintf(args, sizeof(args), "delete pod %s --wait=false", pod);
    free(kc_ok(args));
    bool seen = st_test_wait_until(file_has_deleted_and_added, log, 120000, 500);
    kill(w, SIGTERM);
    waitpid(w, NULL, 0);
    char *text = st_test_read_file(log);
    if (!seen)
        print_error("kubectl get pods -w printed:\n%s\n", text ? text : "");
    assert_true(listed);
    assert_true(seen);
    free(text);
    int two = 2;
    assert_true(st_test_wait_until(pods_running_are, &two, 180000, 1000));
}

static void test_scale_cordon_delete(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *out = kc_ok("scale deployment kc-web --replicas=1");
    assert_has(out, "deployment.apps/kc-web scaled");
    free(out);
    int one = 1;
    assert_true(st_test_wait_until(pods_running_are, &one, 120000, 1000));

    /* drain: cordoned, its pod evicted; with no other node the
     * replacement waits Pending until uncordon */
    char args[300];
    snprintf(args, sizeof(args), "drain %s --ignore-daemonsets --timeout=180s", node);
    out = kc_ok(args);
    assert_has(out, "cordoned");
    assert_has(out, "evicted");
    assert_has(out, "drained");
    free(out);
    out = kc_ok("get nodes");
    assert_has(out, "SchedulingDisabled");
    free(out);
    int zero_running = 0;
    assert_true(st_test_wait_until(pods_running_are, &zero_running, 60000, 500));
    snprintf(args, sizeof(args), "uncordon %s", node);
    out = kc_ok(args);
    assert_has(out, "uncordoned");
    free(out);
    assert_true(st_test_wait_until(pods_running_are, &one, 120000, 1000));

    out = kc_ok("delete deployment kc-web");
    assert_has(out, "deployment.apps \"kc-web\" deleted");
    free(out);
    int zero = 0;
    assert_true(st_test_wait_until(pods_running_are, &zero, 120000, 1000));
    out = kc_ok("delete service kc-web");
    assert_has(out, "deleted");
    free(out);
    char *err = NULL;
    assert_int_not_equal(kc(NULL, &err, "get deployment kc-web"), 0);
    assert_has(err, "NotFound");
    free(err);
}

/* kubectl's typed clients send protobuf: create namespace and secret,
 * then the namespace deleted with what is in it. */
static void test_imperative_create_and_namespaces(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *out = kc_ok("create namespace lab");
    assert_has(out, "namespace/lab created");
    free(out);
    out = kc_ok("create secret generic s1 --from-literal=a=b -n lab");
    assert_has(out, "secret/s1 created");
    free(out);
    out = kc_ok("get secret s1 -n lab -o jsonpath={.data.a}");
    assert_has(out, "Yg==");
    free(out);
    char *err = NULL;
    assert_int_not_equal(kc(NULL, &err, "create secret generic s2 --from-literal=a=b -n nosuch"),
                         0);
    assert_has(err, "namespaces \"nosuch\" not found");
    free(err);
    err = NULL;
    assert_int_not_equal(kc(NULL, &err, "delete namespace default"), 0);
    assert_has(err, "Forbidden");
    free(err);
    out = kc_ok("delete namespace lab");
    assert_has(out, "namespace \"lab\" deleted");
    free(out);
    err = NULL;
    assert_int_not_equal(kc(NULL, &err, "get namespace lab"), 0);
    assert_has(err, "not found");
    free(err);
}

static void test_wrong_token_refused(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    char *err = NULL;
    assert_int_not_equal(kc(NULL, &err, "--token not-the-token get pods"), 0);
    assert_has(err, "Unauthorized");
    free(err);
}

/* The HTTPS port's number, from the kubeconfig stratad wrote. */
static int api_port(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/kubeconfig", cl.state_dir);
    char *text = st_test_read_file(path);
    const char *at = text ? strstr(text, "server: https://127.0.0.1:") : NULL;
    int port = at ? atoi(at + strlen("server: https://127.0.0.1:")) : 0;
    free(text);
    return port;
}

/* Clients that connect and never send (or stop inside the TLS handshake)
 * hold nothing up: kubectl still answers and the node stays Ready, its
 * heartbeats judged as before. */
static void test_idle_clients_stall_nothing(void **state)
{
    (void)state;
    SKIP_WITHOUT_KUBECTL();
    int port = api_port();
    assert_true(port > 0);
    enum { IDLE = 64 };
    int fds[IDLE];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < IDLE; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
        /* every other one: the first bytes of a TLS record, then silence */
        if (i % 2 && write(fds[i], "\x16\x03\x01\x00", 4) != 4)
            fail_msg("write to the API port: %s", strerror(errno));
    }
    long long t0 = st_test_now_ms();
    char *out = kc_ok("get nodes --no-headers");
    assert_has(out, " Ready ");
    free(out);
    out = kc_ok("get --raw /readyz");
    assert_has(out, "ok");
    free(out);
    /* a while with them open: the node is still Ready (no heartbeat was
     * missed while every idle connection held its thread) */
    while (st_test_now_ms() - t0 < 5000)
        free(kc_ok("get --raw /healthz"));
    out = kc_ok("get nodes --no-headers");
    assert_has(out, " Ready ");
    free(out);
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
}

static int group_setup(void **state)
{
    (void)state;
    have_kubectl = st_test_sh(NULL, NULL, "command -v kubectl >/dev/null") == 0;
    if (!have_kubectl)
        return 0;
    static const char *const nodes[] = {"a"};
    if (st_cluster_up(&cl, "kc", nodes, 1) < 0)
        return -1;
    snprintf(node, sizeof(node), "%sa", cl.prefix);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (have_kubectl)
        st_cluster_teardown(&cl);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_and_rollout),
        cmocka_unit_test(test_get_tables),
        cmocka_unit_test(test_describe_logs_explain),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_watch_sees_replacement),
        cmocka_unit_test(test_scale_cordon_delete),
        cmocka_unit_test(test_imperative_create_and_namespaces),
        cmocka_unit_test(test_wrong_token_refused),
        cmocka_unit_test(test_idle_clients_stall_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
