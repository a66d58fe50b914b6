/* test_ctl_format.c: what stratactl prints, byte for byte: kind aliases,
 * kubectl's ages, column alignment (also when a watch adds rows later), the
 * table row of each kind, get's -A, --show-labels, --no-headers and
 * several-kinds forms, pod and node STATUS rules (Terminating), and describe
 * views (the pod's phase with reasons under containers, Warning events, a
 * node's pods and allocated resources). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_format_fixture.h"

static char *describe_with(const char *word, const char *object, const char *events,
                           const char *pods)
{
    return describe_related(word, object, events, pods, NULL);
}

static char *describe(const char *word, const char *object, const char *events)
{
    return describe_related(word, object, events, NULL, NULL);
}

/* ---- kinds, time ---------------------------------------------------------- */

static void test_kind_aliases(void **state)
{
    (void)state;
    static const struct {
        const char *word, *kind;
    } cases[] = {
        {"pods", "Pod"},
        {"pod", "Pod"},
        {"po", "Pod"},
        {"PODS", "Pod"},
        {"no", "Node"},
        {"node", "Node"},
        {"nodes", "Node"},
        {"deploy", "Deployment"},
        {"deployment", "Deployment"},
        {"deployments.apps", "Deployment"},
        {"secret", "Secret"},
        {"secrets", "Secret"},
        {"images", "Image"},
        {"services", "Service"},
        {"service", "Service"},
        {"svc", "Service"},
        {"endpoints", "Endpoints"},
        {"ep", "Endpoints"},
        {"ns", "Namespace"},
        {"namespaces", "Namespace"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(cases[i].word);
        if (k == NULL || strcmp(k->kind, cases[i].kind) != 0)
            fail_msg("%s: got %s, want %s", cases[i].word, k ? k->kind : "NULL", cases[i].kind);
    }
    assert_null(stctl_fmt_kind_lookup("ingresses"));
    assert_null(stctl_fmt_kind_lookup("p"));
    assert_null(stctl_fmt_kind_lookup(""));

    const struct stctl_fmt_kind *d = stctl_fmt_kind_by_kind("Deployment");
    assert_non_null(d);
    assert_string_equal(d->ref, "deployment.apps");
    assert_string_equal(d->api, "/apis/apps/v1");
    assert_string_equal(d->resource, "deployments");
    assert_true(d->namespaced);
    const struct stctl_fmt_kind *n = stctl_fmt_kind_by_kind("Node");
    assert_string_equal(n->api, "/api/v1");
    assert_false(n->namespaced);
    assert_null(stctl_fmt_kind_by_kind("pod")); /* the API's kinds are exact */
}

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        long long seconds;
        const char *text;
    } cases[] = {
        {0, "0s"},
        {-1, "0s"}, /* a second of clock skew is "now" */
        {-5, "<invalid>"},
        {5, "5s"},
        {119, "119s"},
        {120, "2m"},
        {125, "2m5s"},
        {599, "9m59s"},
        {600, "10m"},
        {179 * 60 + 59, "179m"},
        {3 * 3600, "3h"},
        {3 * 3600 + 20 * 60, "3h20m"},
        {8 * 3600 + 59 * 60, "8h"},
        {47 * 3600, "47h"},
        {48 * 3600, "2d"},
        {4 * 86400 + 6 * 3600, "4d6h"},
        {30 * 86400, "30d"},
        {729 * 86400, "729d"},
        {(2 * 365 + 100) * 86400LL, "2y100d"},
        {9 * 365 * 86400LL, "9y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        st_print_duration(cases[i].seconds, buf, sizeof(buf));
        if (strcmp(buf, cases[i].text) != 0)
            fail_msg("%lld s: got \"%s\", want \"%s\"", cases[i].seconds, buf, cases[i].text);
    }
}

static void test_parse_time_and_age(void **state)
{
    (void)state;
    /* parsing itself is util's (tests/util/test_time.c) */
    char buf[32];
    st_print_age("2024-05-01T11:55:00Z", NOW, buf, sizeof(buf));
    assert_string_equal(buf, "5m");
    st_print_age("2024-04-27T06:00:00Z", NOW, buf, sizeof(buf));
    assert_string_equal(buf, "4d6h");
    st_print_age(NULL, NOW, buf, sizeof(buf));
    assert_string_equal(buf, "<unknown>");
    st_print_age("not a time", NOW, buf, sizeof(buf));
    assert_string_equal(buf, "<unknown>");
}

static void test_size(void **state)
{
    (void)state;
    char buf[32];
    stctl_fmt_size(512, buf, sizeof(buf));
    assert_string_equal(buf, "512B");
    stctl_fmt_size(1536, buf, sizeof(buf));
    assert_string_equal(buf, "1.5KiB");
    stctl_fmt_size(12897484, buf, sizeof(buf));
    assert_string_equal(buf, "12.3MiB");
    stctl_fmt_size(2LL << 30, buf, sizeof(buf));
    assert_string_equal(buf, "2.0GiB");
}

/* ---- tables --------------------------------------------------------------- */

static void test_table_alignment(void **state)
{
    (void)state;
    static const char *const headers[] = {"NAME", "READY", "STATUS"};
    stctl_fmt_table *t = NULL;
    st_error err = {0};
    assert_int_equal(stctl_fmt_table_new(3, headers, &t, &err), 0);
    const char *r1[] = {"web-1", "1/1", "Running"};
    const char *r2[] = {"a", "0/1", "CrashLoopBackOff"};
    assert_int_equal(stctl_fmt_table_add(t, r1, &err), 0);
    assert_int_equal(stctl_fmt_table_add(t, r2, &err), 0);
    assert_int_equal(stctl_fmt_table_rows(t), 2);
    char *text = write_table(t);
    assert_string_equal(text, "NAME    READY   STATUS\n"
                              "web-1   1/1     Running\n"
                              "a       0/1     CrashLoopBackOff\n");
    free(text);

    /* A watch: only the new row is written, in the widths already used,
     * unless it is wider; nothing when no row was added. */
    const char *r3[] = {"b", "1/1", "Running"};
    assert_int_equal(stctl_fmt_table_add(t, r3, &err), 0);
    text = write_table(t);
    assert_string_equal(text, "b       1/1     Running\n");
    free(text);
    const char *r4[] = {"a-much-longer-name", "1/1", "Running"};
    assert_int_equal(stctl_fmt_table_add(t, r4, &err), 0);
    text = write_table(t);
    assert_string_equal(text, "a-much-longer-name   1/1     Running\n");
    free(text);
    text = write_table(t);
    assert_string_equal(text, "");
    free(text);
    stctl_fmt_table_free(t);
}

static void test_table_cells(void **state)
{
    (void)state;
    stctl_fmt_table *t = NULL;
    st_error err = {0};
    /* No header; cells narrower than 3 still get 6 columns; empty trailing
     * cells leave no trailing spaces; newlines and tabs become spaces; é is
     * one column wide; indent prefixes every line. */
    assert_int_equal(stctl_fmt_table_new(3, NULL, &t, &err), 0);
    stctl_fmt_table_set_indent(t, 2);
    const char *r1[] = {"x", "y", "two\nlines\there"};
    const char *r2[] = {"é", NULL, ""};
    const char *r3[] = {"z", "", "last"};
    assert_int_equal(stctl_fmt_table_add(t, r1, &err), 0);
    assert_int_equal(stctl_fmt_table_add(t, r2, &err), 0);
    assert_int_equal(stctl_fmt_table_add(t, r3, &err), 0);
    char *text = write_table(t);
    assert_string_equal(text, "  x     y     two lines here\n"
                              "  é\n"
                              "  z           last\n");
    free(text);
    stctl_fmt_table_free(t);

    assert_int_equal(stctl_fmt_table_new(0, NULL, &t, &err), -EINVAL);
    assert_null(t);
}

/* ---- rows of each kind ---------------------------------------------------- */

static const char pods_json[] =
    "["
    "{\"metadata\":{\"name\":\"web-1\",\"creationTimestamp\":\"2024-05-01T11:55:00Z\"},"
    " \"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"httpd\"}]},"
    " \"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
    "  \"containerStatuses\":[{\"name\":\"httpd\",\"ready\":true,\"restartCount\":2,"
    "   \"state\":{\"running\":{\"startedAt\":\"2024-05-01T11:58:00Z\"}},"
    "   \"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\","
    "    \"finishedAt\":\"2024-05-01T11:57:00Z\"}}}],\"podIP\":\"10.244.1.2\"}},"
    "{\"metadata\":{\"name\":\"crash\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"},"
    " \"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
    " \"status\":{\"phase\":\"Running\",\"containerStatuses\":["
    "  {\"name\":\"a\",\"ready\":false,\"restartCount\":5,"
    "   \"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}},"
    "  {\"name\":\"b\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}},"
    "{\"metadata\":{\"name\":\"pending\",\"creationTimestamp\":\"2024-05-01T11:59:30Z\"},"
    " \"spec\":{\"containers\":[{\"name\":\"c\"}]}}"
    "]";

static void test_pod_rows(void **state)
{
    (void)state;
    char *text = kind_table("pods", false, pods_json);
    assert_string_equal(text, "NAME      READY   STATUS             RESTARTS     AGE\n"
                              "web-1     1/1     Running            2 (3m ago)   5m\n"
                              "crash     1/2     CrashLoopBackOff   5            120m\n"
                              "pending   0/1     Pending            0            30s\n");
    free(text);
    text = kind_table("po", true, pods_json);
    /* kubectl's wide order: the pod IP before the node ("<none>" while none). */
    assert_string_equal(
        text,
        "NAME      READY   STATUS             RESTARTS     AGE    IP           NODE     REASON\n"
        "web-1     1/1     Running            2 (3m ago)   5m     10.244.1.2   n1       "
        "OOMKilled\n"
        "crash     1/2     CrashLoopBackOff   5            120m   <none>       <none>   <none>\n"
        "pending   0/1     Pending            0            30s    <none>       <none>   <none>\n");
    free(text);
}

static void test_pod_status_rules(void **state)
{
    (void)state;
    static const struct {
        const char *pod, *want;
    } cases[] = {
        {"{}", "Pending"},
        {"{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"state\":{\"terminated\":"
         "{\"exitCode\":1}}}]}}",
         "ExitCode:1"},
        {"{\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"state\":{\"terminated\":"
         "{\"exitCode\":137,\"signal\":9}}}]}}",
         "Signal:9"},
        {"{\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"state\":{\"terminated\":"
         "{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}",
         "OOMKilled"},
        {"{\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}}", "Evicted"},
        {"{\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"state\":{\"terminated\":"
         "{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}",
         "Completed"},
        /* the first container's reason wins */
        {"{\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
         "{\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}},"
         "{\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}}",
         "ContainerCreating"},
        {"{\"metadata\":{\"deletionTimestamp\":\"2024-05-01T11:59:00Z\"},"
         "\"status\":{\"phase\":\"Running\"}}",
         "Terminating"},
        {"{\"metadata\":{\"deletionTimestamp\":\"2024-05-01T11:59:00Z\"},"
         "\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}}",
         "Unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *pod = load(cases[i].pod);
        char buf[64];
        st_print_pod_status(pod, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf, cases[i].want);
        json_decref(pod);
    }
}

static const char nodes_json[] =
    "["
    "{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-05-01T11:00:00Z\","
    "  \"labels\":{\"strata.io/host\":\"hosta\"}},"
    " \"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
    "  "
    "\"capacity\":{\"cpu\":\"1\",\"memory\":\"192Mi\"},\"nodeInfo\":{\"kernelVersion\":\"6.1.0\"},"
    "  \"strata\":{\"domain\":\"strata-n1\",\"accel\":\"tcg\",\"accelReason\":\"no /dev/kvm\","
    "   \"bootMillis\":2345,\"phase\":\"Running\"}}},"
    "{\"metadata\":{\"name\":\"n2\",\"creationTimestamp\":\"2024-05-01T11:59:58Z\"},"
    " \"status\":{\"capacity\":{\"cpu\":2,\"memory\":536870912},"
    "  \"strata\":{\"phase\":\"Provisioning\"}}}"
    "]";

static void test_node_rows(void **state)
{
    (void)state;
    char *text = kind_table("nodes", false, nodes_json);
    assert_string_equal(text, "NAME   STATUS         ACCEL    CPU   MEMORY   BOOT     AGE\n"
                              "n1     Ready          tcg      1     192Mi    2.3s     60m\n"
                              "n2     Provisioning   <none>   2     512Mi    <none>   2s\n");
    free(text);
    text = kind_table("no", true, nodes_json);
    assert_has_line(text,
                    "n1     Ready          tcg      1     192Mi    2.3s     60m   strata-n1   "
                    "6.1.0            hosta");
    free(text);
}

static void test_node_status_rules(void **state)
{
    (void)state;
    static const struct {
        const char *node, *want;
    } cases[] = {
        {"{}", "Unknown"},
        {"{\"status\":{\"phase\":\"Failed\"}}", "Failed"},
        {"{\"status\":{\"strata\":{\"phase\":\"Booting\"},\"phase\":\"Provisioning\"}}", "Booting"},
        {"{\"status\":{\"strata\":{\"phase\":\"Running\"},"
         "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}",
         "NotReady"},
        {"{\"status\":{\"strata\":{\"phase\":\"Running\"},"
         "\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}}",
         "Unknown"},
        {"{\"status\":{\"strata\":{\"phase\":\"Provisioning\"},"
         "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
         "Ready"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *node = load(cases[i].node);
        char buf[64];
        stctl_fmt_node_status(node, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, buf, cases[i].want);
        json_decref(node);
    }
}

static const char deploy_json[] =
    "[{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2024-04-27T12:00:00Z\"},"
    "  \"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "   \"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"frontend\"}},"
    "    \"spec\":{\"containers\":[{\"name\":\"httpd\",\"image\":\"busybox\"}]}}},"
    "  \"status\":{\"replicas\":3,\"readyReplicas\":2,\"updatedReplicas\":3,"
    "   \"availableReplicas\":2}}]";

static void test_deployment_rows(void **state)
{
    (void)state;
    char *text = kind_table("deploy", false, deploy_json);
    assert_string_equal(text, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n"
                              "web    2/3     3            2           4d\n");
    free(text);
    text = kind_table("deployments", true, deploy_json);
    assert_string_equal(text,
                        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES    "
                        "SELECTOR\n"
                        "web    2/3     3            2           4d    httpd        busybox   "
                        "app=web\n");
    free(text);
}

static void test_secret_event_image_rows(void **state)
{
    (void)state;
    char *text = kind_table("secrets", false,
                            "[{\"metadata\":{\"name\":\"creds\","
                            "\"creationTimestamp\":\"2024-05-01T11:59:55Z\"},"
                            "\"data\":{\"token\":\"aGVsbG8=\",\"user\":\"YQ==\"}}]");
    assert_string_equal(text, "NAME    TYPE     DATA   AGE\n"
                              "creds   Opaque   2      5s\n");
    free(text);

    text = kind_table("ns", false,
                      "[{\"metadata\":{\"name\":\"shop\","
                      "\"creationTimestamp\":\"2024-05-01T11:59:55Z\"},"
                      "\"status\":{\"phase\":\"Terminating\"}}]");
    assert_string_equal(text, "NAME   STATUS        AGE\n"
                              "shop   Terminating   5s\n");
    free(text);

    text = kind_table(
        "events", false,
        "[{\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\",\"namespace\":\"default\"},"
        "\"reason\":\"BackOff\",\"message\":\"Back-off restarting\\nfailed container\","
        "\"type\":\"Warning\",\"count\":3,\"firstTimestamp\":\"2024-05-01T11:50:00Z\","
        "\"lastTimestamp\":\"2024-05-01T11:59:55Z\",\"source\":{\"component\":\"strata-node\"}},"
        "{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\"},\"reason\":\"NodeReady\","
        "\"message\":\"ready\",\"lastTimestamp\":\"2024-05-01T11:00:00Z\"}]");
    assert_string_equal(text, "LAST SEEN          TYPE      REASON      OBJECT      MESSAGE\n"
                              "5s (x3 over 10m)   Warning   BackOff     pod/web-1   Back-off "
                              "restarting failed container\n"
                              "60m                Normal    NodeReady   node/n1     ready\n");
    free(text);

    text = kind_table("images", false,
                      "[{\"name\":\"busybox\",\"tag\":\"latest\",\"digest\":\"sha256:"
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
                      "\"size\":12897484,\"created\":\"2024-05-01T11:00:00Z\",\"layers\":1},"
                      "{\"name\":\"127.0.0.1:5000/quote\",\"tag\":\"1\",\"digest\":\"sha256:"
                      "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\","
                      "\"size\":2048,\"created\":\"\",\"layers\":2}]");
    assert_string_equal(text, "NAME                   TAG      DIGEST         SIZE      CREATED\n"
                              "busybox                latest   0123456789ab   12.3MiB   60m\n"
                              "127.0.0.1:5000/quote   1        fedcba987654   2.0KiB    <none>\n");
    free(text);
}

/* ---- describe ------------------------------------------------------------- */

static const char describe_pod_json[] =
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
    " \"creationTimestamp\":\"2024-05-01T11:55:00Z\","
    " \"labels\":{\"tier\":\"frontend\",\"app\":\"web\"},"
    " \"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}],"
    " \"annotations\":{\"strata.io/exposed-ports\":\"{\\\"httpd\\\":[\\\"80/tcp\\\",\\\"443/"
    "tcp\\\"]}\"}},"
    " \"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"httpd\",\"image\":\"busybox\","
    "  \"command\":[\"/bin/busybox\",\"httpd\",\"-f\"],"
    "  \"ports\":[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}],"
    "  \"env\":[{\"name\":\"GREETING\",\"value\":\"hello\"},{\"name\":\"API_TOKEN\","
    "   \"valueFrom\":{\"secretKeyRef\":{\"name\":\"web-credentials\",\"key\":\"token\"}}}],"
    "  \"resources\":{\"limits\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
    "   \"strataNormalized\":{\"cpuLimitMillis\":250}},"
    "  \"livenessProbe\":{\"tcpSocket\":{\"port\":8080},\"initialDelaySeconds\":2,"
    "   \"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},"
    "  \"readinessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":\"http\"},\"periodSeconds\":5}}]},"
    " \"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
    "  \"containerStatuses\":[{\"name\":\"httpd\",\"ready\":true,\"restartCount\":2,"
    "   \"state\":{\"running\":{\"startedAt\":\"2024-05-01T11:58:00Z\"}},"
    "   \"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}";

static void test_describe_pod(void **state)
{
    (void)state;
    char *text = describe(
        "pod", describe_pod_json,
        "[{\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\"},\"type\":\"Normal\","
        "\"reason\":\"Scheduled\",\"message\":\"Successfully assigned default/web-1 to n1\","
        "\"lastTimestamp\":\"2024-05-01T11:55:00Z\",\"source\":{\"component\":\"scheduler\"}}]");
    assert_has_line(text, "Name:          web-1");
    assert_has_line(text, "Namespace:     default");
    assert_has_line(text, "Created:       2024-05-01T11:55:00Z (5m ago)");
    assert_has_line(text, "Labels:        app=web");
    assert_has_line(text, "               tier=frontend");
    assert_has_line(text, "Node:          n1");
    assert_has_line(text, "Status:        Running");
    assert_has_line(text, "Controlled By: Deployment/web");
    assert_has_line(text, "  httpd:");
    assert_has_line(text, "    Image:          busybox");
    assert_has_line(text, "    Port:           8080/TCP (http)");
    /* the image's own ExposedPorts, which stratad notes on the pod */
    assert_has_line(text, "    Image Ports:    80/tcp, 443/tcp");
    assert_has_line(text, "    Command:");
    assert_has_line(text, "      /bin/busybox");
    assert_has_line(text, "      httpd");
    assert_has_line(text, "      -f");
    assert_has_line(text, "    State:          Running");
    assert_has_line(text, "      Started:      2024-05-01T11:58:00Z");
    assert_has_line(text, "    Last State:     Terminated");
    assert_has_line(text, "      Reason:       OOMKilled");
    assert_has_line(text, "      Exit Code:    137");
    assert_has_line(text, "    Ready:          True");
    assert_has_line(text, "    Restart Count:  2");
    assert_has_line(text, "    Limits:");
    assert_has_line(text, "      cpu:     250m");
    assert_has_line(text, "      memory:  64Mi");
    assert_null(strstr(text, "strataNormalized"));
    assert_has_line(text, "    Liveness:       tcp-socket :8080 delay=2s timeout=1s period=10s "
                          "#success=1 #failure=3");
    /* Kubernetes' defaults for what the probe leaves out. */
    assert_has_line(text, "    Readiness:      http-get http://:http/ delay=0s timeout=1s "
                          "period=5s #success=1 #failure=3");
    assert_null(strstr(text, "Startup:"));
    assert_has_line(text, "      GREETING: hello");
    assert_has_line(text, "      API_TOKEN: <set to the key 'token' in secret 'web-credentials'>");
    assert_has_line(text, "Conditions:");
    assert_has_line(text, "  Type    Status");
    assert_has_line(text, "  Ready   True");
    assert_has_line(text, "Events:");
    assert_has_line(text, "  Type     Reason      Age    From        Message");
    assert_has_line(text, "  ----     ------      ----   ----        -------");
    assert_has_line(text, "  Normal   Scheduled   5m     scheduler   Successfully assigned "
                          "default/web-1 to n1");
    free(text);

    text = describe("pod", describe_pod_json, "[]");
    assert_has_line(text, "Events:        <none>");
    free(text);
    text = describe("pod", describe_pod_json, NULL);
    assert_has_line(text, "Events:        <unknown: the events could not be read>");
    free(text);
}

static void test_describe_others(void **state)
{
    (void)state;
    char *text = describe("deploy",
                          "{\"metadata\":{\"name\":\"web\"}, \"spec\":"
                          "{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":"
                          "\"web\"}},\"template\":{\"spec\":{\"containers\":[{\"name\":"
                          "\"httpd\",\"image\":\"busybox\"}]}}},\"status\":{\"replicas"
                          "\":3,\"updatedReplicas\":3,\"availableReplicas\":2}}",
                          "[]");
    assert_has_line(text, "Selector:      app=web");
    assert_has_line(text, "Replicas:      3 desired | 3 updated | 3 total | 2 available | 1 "
                          "unavailable");
    assert_has_line(text, "  Labels:  <none>");
    assert_has_line(text, "   httpd:");
    assert_has_line(text, "    Image:          busybox");
    assert_has_line(text, "Conditions:    <none>");
    free(text);

    json_t *nodes = load(nodes_json);
    char *node = json_dumps(json_array_get(nodes, 0), 0);
    text = describe("node", node, "[]");
    assert_has_line(text, "Status:        Ready");
    assert_has_line(text, "Phase:         Running");
    assert_has_line(text, "Accel:         tcg (no /dev/kvm)");
    assert_has_line(text, "Domain:        strata-n1");
    assert_has_line(text, "Boot:          2345 ms");
    assert_has_line(text, "Kernel:        6.1.0");
    assert_has_line(text, "  cpu:     1");
    assert_has_line(text, "  memory:  192Mi");
    assert_null(strstr(text, "Namespace:"));
    free(text);
    free(node);
    json_decref(nodes);

    text = describe("secret",
                    "{\"metadata\":{\"name\":\"creds\",\"namespace\":\"default\"},"
                    "\"data\":{\"user\":\"YQ==\",\"token\":\"aGVsbG8=\",\"key\":\"YWJj\"}}",
                    "[]");
    assert_has_line(text, "Type:          Opaque");
    assert_has_line(text, "Labels:        <none>");
    /* sizes of the decoded values, keys sorted; never the values */
    assert_non_null(strstr(text, "Data\n====\nkey:  3 bytes\ntoken:  5 bytes\nuser:  1 bytes\n"));
    assert_null(strstr(text, "aGVsbG8"));
    free(text);
}

static void test_event_is_about(void **state)
{
    (void)state;
    json_t *ev = load("{\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\","
                      "\"namespace\":\"default\"}}");
    assert_true(stctl_fmt_event_is_about(ev, "Pod", "default", "web-1"));
    assert_true(stctl_fmt_event_is_about(ev, "Pod", NULL, "web-1"));
    assert_false(stctl_fmt_event_is_about(ev, "Pod", "prod", "web-1"));
    assert_false(stctl_fmt_event_is_about(ev, "Pod", "default", "web-2"));
    assert_false(stctl_fmt_event_is_about(ev, "Deployment", "default", "web-1"));
    json_decref(ev);
    /* a node's events carry no namespace */
    ev = load("{\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\"}}");
    assert_true(stctl_fmt_event_is_about(ev, "Node", NULL, "n1"));
    assert_true(stctl_fmt_event_is_about(ev, "Node", "default", "n1"));
    json_decref(ev);
    ev = load("{\"reason\":\"x\"}");
    assert_false(stctl_fmt_event_is_about(ev, "Pod", NULL, "web-1"));
    json_decref(ev);
}

/* ---- get's flags: -A, --show-labels, --no-headers, several kinds ---------- */

static const char two_ns_pods[] =
    "[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
    "  "
    "\"creationTimestamp\":\"2024-05-01T11:55:00Z\",\"labels\":{\"tier\":\"fe\",\"app\":\"web\"}},"
    " \"spec\":{\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Pending\"}},"
    " {\"metadata\":{\"name\":\"db-0\",\"namespace\":\"prod\","
    "  \"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
    " \"spec\":{\"containers\":[{\"name\":\"c\"}]},\"status\":{\"phase\":\"Pending\"}}]";

static void test_get_columns(void **state)
{
    (void)state;
    struct stctl_fmt_columns cols = {.namespace = true};
    char *text = kind_table_with("pods", &cols, false, two_ns_pods);
    assert_string_equal(text, "NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE\n"
                              "default     web-1   0/1     Pending   0          5m\n"
                              "prod        db-0    0/1     Pending   0          60m\n");
    free(text);

    cols = (struct stctl_fmt_columns){.show_labels = true};
    text = kind_table_with("pods", &cols, true, two_ns_pods);
    assert_string_equal(text, "web-1   0/1   Pending   0     5m    app=web,tier=fe\n"
                              "db-0    0/1   Pending   0     60m   <none>\n");
    free(text);

    /* Several kinds: kind/name as kubectl; a cluster-scoped kind gets no
     * NAMESPACE column even with -A. */
    cols = (struct stctl_fmt_columns){.kind_prefix = true, .namespace = true};
    text = kind_table_with("deploy", &cols, false,
                           "[{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
                           "\"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
                           "\"spec\":{\"replicas\":1},\"status\":{\"readyReplicas\":1}}]");
    assert_string_equal(text,
                        "NAMESPACE   NAME                  READY   UP-TO-DATE   AVAILABLE   AGE\n"
                        "default     deployment.apps/web   1/1     0            0           60m\n");
    free(text);
    text = kind_table_with("nodes", &cols, false,
                           "[{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":"
                           "\"2024-05-01T11:00:00Z\"}}]");
    assert_string_equal(text, "NAME      STATUS    ACCEL    CPU      MEMORY   BOOT     AGE\n"
                              "node/n1   Unknown   <none>   <none>   <none>   <none>   60m\n");
    free(text);
}

static void test_terminating(void **state)
{
    (void)state;
    /* A pod being deleted reads Terminating in get (never Running), and its
     * describe says so with how long the deletion has left. */
    const char *pod =
        "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
        " \"creationTimestamp\":\"2024-05-01T11:55:00Z\","
        " \"deletionTimestamp\":\"2024-05-01T12:00:30Z\",\"deletionGracePeriodSeconds\":30},"
        " \"spec\":{\"containers\":[{\"name\":\"c\"}]},"
        " \"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"c\",\"ready\":true,"
        "  \"state\":{\"running\":{}}}]}}";
    char rows[1024];
    snprintf(rows, sizeof(rows), "[%s]", pod);
    char *text = kind_table("pods", false, rows);
    assert_string_equal(text, "NAME    READY   STATUS        RESTARTS   AGE\n"
                              "web-1   1/1     Terminating   0          5m\n");
    free(text);
    text = describe("pod", pod, "[]");
    assert_has_line(text, "Status:        Terminating (lasts 30s)");
    assert_has_line(text, "Termination Grace Period: 30s");
    free(text);
}

/* ---- describe: the phase, reasons under containers, warnings -------------- */

static void test_describe_pod_phase_and_warnings(void **state)
{
    (void)state;
    const char *pod = "{\"metadata\":{\"name\":\"bad\",\"namespace\":\"default\"},"
                      " \"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nope\","
                      "  \"args\":[\"-c\",\"echo one\\necho two\"]}]},"
                      " \"status\":{\"phase\":\"Pending\",\"reason\":\"ImageNotFound\","
                      "  \"message\":\"image nope is not in the image store\","
                      "  \"containerStatuses\":[{\"name\":\"c\",\"ready\":false,\"restartCount\":0,"
                      "   \"state\":{\"waiting\":{\"reason\":\"ImageNotFound\","
                      "    \"message\":\"image nope is not in the image store\"}}}]}}";
    char *text = describe(
        "pod", pod,
        "[{\"type\":\"Warning\",\"reason\":\"Failed\",\"message\":\"ImageNotFound: no image\","
        "  \"lastTimestamp\":\"2024-05-01T11:59:50Z\",\"source\":{\"component\":\"kubelet\"}},"
        " {\"type\":\"Warning\",\"reason\":\"Unhealthy\",\"message\":\"Liveness probe failed: "
        "refused\",\"count\":3,\"firstTimestamp\":\"2024-05-01T11:58:00Z\","
        "  \"lastTimestamp\":\"2024-05-01T11:59:58Z\",\"source\":{\"component\":\"kubelet\"}}]");
    /* The phase, as Kubernetes; the reason once, under the container. */
    assert_has_line(text, "Status:        Pending");
    assert_null(strstr(text, "Reason:        ImageNotFound"));
    assert_has_line(text, "Message:       image nope is not in the image store");
    assert_has_line(text, "    State:          Waiting");
    assert_has_line(text, "      Reason:       ImageNotFound");
    /* Multi-line args, one line each, indented under Args: as kubectl. */
    assert_non_null(strstr(text, "    Args:\n      -c\n      echo one\n      echo two\n"));
    assert_has_line(text, "  Warning   Failed      10s               kubelet   ImageNotFound: "
                          "no image");
    assert_has_line(text, "  Warning   Unhealthy   2s (x3 over 2m)   kubelet   Liveness probe "
                          "failed: refused");
    free(text);

    /* A pod-level reason no container shows (NodeLost) is printed. */
    text = describe("pod",
                    "{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Failed\","
                    "\"reason\":\"NodeLost\",\"message\":\"node n1 was lost\"}}",
                    "[]");
    assert_has_line(text, "Status:        Failed");
    assert_has_line(text, "Reason:        NodeLost");
    free(text);

    /* OOMKilled shows under Last State. */
    text = describe("pod", describe_pod_json, "[]");
    assert_has_line(text, "    Last State:     Terminated");
    assert_has_line(text, "      Reason:       OOMKilled");
    free(text);
}

static void test_describe_node_pods(void **state)
{
    (void)state;
    const char *node =
        "{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
        " \"status\":{\"capacity\":{\"cpu\":\"1000m\",\"memory\":\"196608Ki\"},"
        "  \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    const char *pods =
        "[{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
        "  \"creationTimestamp\":\"2024-05-01T11:55:00Z\"},"
        "  \"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{"
        "   \"requests\":{\"cpu\":\"100m\",\"memory\":\"32Mi\"},"
        "   \"limits\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"}}},"
        "   {\"name\":\"b\",\"resources\":{\"requests\":{\"cpu\":\"0.05\"}}}]},"
        "  \"status\":{\"phase\":\"Running\"}},"
        " {\"metadata\":{\"name\":\"done\",\"namespace\":\"default\"},"
        "  "
        "\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]},"
        "  \"status\":{\"phase\":\"Succeeded\"}},"
        " {\"metadata\":{\"name\":\"db-0\",\"namespace\":\"prod\","
        "  \"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
        "  \"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\"}}]";
    char *text = describe_with("node", node, "[]", pods);
    /* The finished pod is left out, as kubectl's field selector does. */
    assert_has_line(text, "Non-terminated Pods:          (2 in total)");
    assert_has_line(text, "  Namespace   Name    CPU Requests   CPU Limits   Memory Requests   "
                          "Memory Limits   Age");
    assert_has_line(text, "  ---------   ----    ------------   ----------   ---------------   "
                          "-------------   ---");
    assert_has_line(text, "  default     web-1   150m (15%)     250m (25%)   32Mi (16%)        "
                          "64Mi (33%)      5m");
    assert_has_line(text, "  prod        db-0    0 (0%)         0 (0%)       0 (0%)            "
                          "0 (0%)          60m");
    assert_null(strstr(text, "done"));
    assert_has_line(text, "Allocated resources:");
    assert_has_line(text, "  (Total limits may be over 100 percent, i.e., overcommitted.)");
    assert_has_line(text, "  Resource   Requests     Limits");
    assert_has_line(text, "  --------   --------     ------");
    assert_has_line(text, "  cpu        150m (15%)   250m (25%)");
    assert_has_line(text, "  memory     32Mi (16%)   64Mi (33%)");
    /* kubectl's order: conditions, pods, allocated, events. */
    assert_true(strstr(text, "Conditions:") < strstr(text, "Non-terminated Pods:"));
    assert_true(strstr(text, "Allocated resources:") < strstr(text, "Events:"));
    free(text);

    text = describe_with("node", node, "[]", NULL);
    assert_has_line(text, "Non-terminated Pods: <unknown: the pods could not be read>");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_aliases),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_parse_time_and_age),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_table_alignment),
        cmocka_unit_test(test_table_cells),
        cmocka_unit_test(test_pod_rows),
        cmocka_unit_test(test_pod_status_rules),
        cmocka_unit_test(test_node_rows),
        cmocka_unit_test(test_node_status_rules),
        cmocka_unit_test(test_deployment_rows),
        cmocka_unit_test(test_secret_event_image_rows),
        cmocka_unit_test(test_describe_pod),
        cmocka_unit_test(test_describe_others),
        cmocka_unit_test(test_event_is_about),
        cmocka_unit_test(test_get_columns),
        cmocka_unit_test(test_terminating),
        cmocka_unit_test(test_describe_pod_phase_and_warnings),
        cmocka_unit_test(test_describe_node_pods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
