/* itest_dashboard.c: stratad's dashboard (/ui/) in a real browser (Debian's
 * chromium driven by playwright-core, tests/ui/dashboard.js) against a real
 * cluster of 3 TCG node VMs: a Deployment `web` of 3 replicas, one per node,
 * and a pod that logs <script>alert(1)</script>. The browser script uses the
 * one-time link of `stratactl dashboard` (and sees it refused the second
 * time), sees a wrong token refused, logs in with the token, scales web to 5,
 * reads the script pod's log as text, and kills a node from the page until
 * the timeline shows the failover time. Screenshots go to BUILD/Testing/dashboard-shots/ (next to
 * ctest's LastTest.log), kept pass or fail. Skips, saying why, where chromium,
 * node or tests/ui/node_modules (scripts/setup installs them) are missing.
 * Domains are strata-ui<pid>-*, removed in teardown, pass or fail. */
#include "cluster.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHROMIUM    "/usr/bin/chromium"
#define SCRIPT_LINE "<script>alert(1)</script>"

static struct st_cluster cl;
/* why the browser test cannot run here, or NULL */
static const char *missing;

static const char *WEB = "apiVersion: apps/v1\n"
                         "kind: Deployment\n"
                         "metadata: {name: web}\n"
                         "spec:\n"
                         "  replicas: 3\n"
                         "  selector: {matchLabels: {app: web}}\n"
                         "  template:\n"
                         "    metadata: {labels: {app: web}}\n"
                         "    spec:\n"
                         "      containers:\n"
                         "      - name: web\n"
                         "        image: busybox\n"
                         "        command: [/bin/sh, -c, 'echo web up; exec sleep 100000']\n"
                         "        resources: {requests: {cpu: 10m, memory: 8Mi}}\n"
                         "        ports: [{containerPort: 8080}]\n"
                         "---\n"
                         "apiVersion: v1\n"
                         "kind: Service\n"
                         "metadata: {name: web}\n"
                         "spec:\n"
                         "  selector: {app: web}\n"
                         "  ports: [{port: 80, targetPort: 8080}]\n";

static const char *SCRIPTY =
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata: {name: scripty}\n"
    "spec:\n"
    "  containers:\n"
    "  - name: scripty\n"
    "    image: busybox\n"
    "    command: [/bin/sh, -c, 'echo \"" SCRIPT_LINE "\"; exec sleep 100000']\n"
    "    resources: {requests: {cpu: 10m, memory: 8Mi}}\n";

#define SKIP_WITHOUT_BROWSER()                                                                     \
    do {                                                                                           \
        if (missing) {                                                                             \
            print_message("%s: skipped (bash scripts/setup installs it)\n", missing);              \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* What the browser test needs that this machine lacks, or NULL. */
static const char *browser_missing(void)
{
    if (access(CHROMIUM, X_OK) != 0)
        return CHROMIUM " (Debian's chromium) is not installed";
    if (st_test_sh(NULL, NULL, "command -v node >/dev/null") != 0)
        return "node is not installed";
    char path[600];
    snprintf(path, sizeof(path), "%s/tests/ui/node_modules/playwright-core/package.json",
             st_test_env("STRATA_SOURCE_DIR"));
    if (access(path, R_OK) != 0)
        return "tests/ui/node_modules (playwright-core, `npm ci` in tests/ui) is missing";
    return NULL;
}

/* Ready web replicas on 3 distinct nodes, and scripty running with its
 * line logged: what the browser is to see first. */
static bool workloads_ready(void *arg)
{
    (void)arg;
    json_t *list = st_cluster_get(&cl, "pods");
    if (list == NULL)
        return false;
    const char *nodes[3];
    int ready = 0;
    bool scripty = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *name = st_json_str(p, "metadata", "name");
        const char *node = st_json_str(p, "spec", "nodeName");
        if (!st_json_condition(p, "Ready") || node == NULL)
            continue;
        if (strcmp(name, "scripty") == 0)
            scripty = true;
        if (strncmp(name, "web-", 4) != 0)
            continue;
        bool dup = false;
        for (int k = 0; k < ready && k < 3; k++)
            dup |= strcmp(nodes[k], node) == 0;
        if (!dup && ready < 3)
            nodes[ready++] = node;
    }
    json_decref(list);
    if (ready != 3 || !scripty)
        return false;
    char *out = NULL;
    bool logged = st_cluster_ctl(&cl, &out, NULL, "logs scripty") == 0 && out &&
                  strstr(out, SCRIPT_LINE) != NULL;
    free(out);
    return logged;
}

static void test_workloads_one_web_per_node(void **state)
{
    (void)state;
    SKIP_WITHOUT_BROWSER();
    st_cluster_apply_text(&cl, "web", WEB);
    st_cluster_apply_text(&cl, "scripty", SCRIPTY);
    assert_true(st_test_wait_until(workloads_ready, NULL, 180000, 500));
}

/* STATE/pki/NAME, its last newline cut; fails the test when unreadable. */
static char *pki_file(const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/pki/%s", cl.state_dir, name);
    char *text = st_test_read_file(path);
    if (text == NULL)
        fail_msg("%s: not readable", path);
    text[strcspn(text, "\n")] = '\0';
    return text;
}

static void test_dashboard_in_chromium(void **state)
{
    (void)state;
    SKIP_WITHOUT_BROWSER();
    const char *src = st_test_env("STRATA_SOURCE_DIR");
    char shots[600], cert[600], nodes[300];
    snprintf(shots, sizeof(shots), "%s/Testing/dashboard-shots", st_test_env("STRATA_BUILD_DIR"));
    st_test_rmrf(shots);
    snprintf(cert, sizeof(cert), "%s/pki/apiserver.crt", cl.state_dir);
    snprintf(nodes, sizeof(nodes), "%sa,%sb,%sc", cl.prefix, cl.prefix, cl.prefix);
    char *token = pki_file("admin.token");

    /* The one-time link (good for a minute: taken right before the browser
     * starts); its first line is the URL, https://127.0.0.1:PORT/ui/login?once=. */
    char *out = NULL, *err = NULL;
    int rc = st_cluster_ctl(&cl, &out, &err, "dashboard");
    if (rc != 0)
        fail_msg("stratactl dashboard: rc %d: %s%s", rc, out ? out : "", err ? err : "");
    out[strcspn(out, "\r\n")] = '\0';
    char *ui = strstr(out, "/ui/");
    assert_true(strncmp(out, "https://127.0.0.1:", 18) == 0 && ui != NULL);
    char url[300];
    snprintf(url, sizeof(url), "%.*s/ui/", (int)(ui - out), out);

    setenv("STRATA_UI_URL", url, 1);
    setenv("STRATA_TOKEN", token, 1);
    setenv("STRATA_LINK", out, 1);
    setenv("STRATA_CERT", cert, 1);
    setenv("STRATA_SHOTS", shots, 1);
    setenv("STRATA_NODES", nodes, 1);
    setenv("STRATA_SCRIPT_POD", "scripty", 1);
    setenv("STRATA_CHROMIUM", CHROMIUM, 1);
    free(out);
    free(err);
    free(token);

    /* The script bounds each of its waits; timeout bounds the whole, well
     * inside ctest's, so its output is still printed. */
    char *log = NULL;
    rc = st_test_sh(&log, NULL, "timeout -k 10 420 node %s/tests/ui/dashboard.js 2>&1", src);
    print_message("tests/ui/dashboard.js (rc %d; screenshots in %s):\n%s", rc, shots,
                  log ? log : "");
    free(log);
    assert_int_equal(rc, 0);
}

static int group_setup(void **state)
{
    (void)state;
    missing = browser_missing();
    if (missing)
        return 0;
    static const char *const abc[] = {"a", "b", "c"};
    return st_cluster_up(&cl, "ui", abc, 3);
}

static int group_teardown(void **state)
{
    (void)state;
    if (!missing)
        st_cluster_teardown(&cl);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workloads_one_web_per_node),
        cmocka_unit_test(test_dashboard_in_chromium),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
