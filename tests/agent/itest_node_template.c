/* itest_node_template.c: `stratactl node add --from-template` end to end
 * (stratad, PostgreSQL, real VMs under TCG): the first add makes the
 * template, both nodes come up restored from it and Ready under their own
 * names, a pod runs on one, and when that node is killed the pod moves to
 * its sibling, as for booted nodes; `node template rm` drops the template.
 * Two VMs at most at once. Domains strata-nt<pid>-* go in teardown. */
#include "cluster.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct st_cluster cl;

static const char *ONE = "apiVersion: apps/v1\n"
                         "kind: Deployment\n"
                         "metadata: {name: one}\n"
                         "spec:\n"
                         "  replicas: 1\n"
                         "  selector: {matchLabels: {app: one}}\n"
                         "  template:\n"
                         "    metadata: {labels: {app: one}}\n"
                         "    spec:\n"
                         "      containers:\n"
                         "      - name: c\n"
                         "        image: busybox\n"
                         "        command: [/bin/sh, -c, 'echo up && exec sleep 3600']\n";

static int group_setup(void **state)
{
    (void)state;
    st_cluster_init(&cl, "nt");
    st_cluster_start(&cl);
    st_cluster_import_busybox(&cl);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    return 0;
}

/* The node of the Ready "one-" pod that is not on avoid (NULL: any), into
 * out; false when there is none yet. */
static bool one_ready_on(char *out, size_t len, const char *avoid)
{
    json_t *list = st_cluster_get(&cl, "pods");
    bool found = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *name = st_json_str(p, "metadata", "name");
        const char *node = st_json_str(p, "spec", "nodeName");
        if (name && strncmp(name, "one-", 4) == 0 && node && st_json_condition(p, "Ready") &&
            (avoid == NULL || strcmp(node, avoid) != 0)) {
            snprintf(out, len, "%s", node);
            found = true;
        }
    }
    json_decref(list);
    return found;
}

struct want {
    char node[64];
    const char *avoid;
};

static bool pod_ready(void *arg)
{
    struct want *w = arg;
    return one_ready_on(w->node, sizeof(w->node), w->avoid);
}

static void test_restored_nodes_run_pods_and_fail_over(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    for (const char *s = "ab"; *s; s++) {
        int rc = st_cluster_ctl(&cl, &out, &err, "node add %s%c --from-template --timeout 120",
                                cl.prefix, *s);
        if (rc != 0)
            fail_msg("node add %s%c: %s", cl.prefix, *s, err ? err : "");
        free(out);
        free(err);
        out = err = NULL;
    }
    char *ev = NULL;
    assert_int_equal(st_cluster_ctl(&cl, &ev, NULL, "events"), 0);
    assert_non_null(strstr(ev, "TemplateMade"));
    assert_null(strstr(ev, "TemplateUnused"));
    /* both restored, none booted cold */
    const char *p = strstr(ev, "restored from a template");
    assert_non_null(p);
    assert_non_null(strstr(p + 1, "restored from a template"));
    free(ev);

    st_cluster_apply_text(&cl, "one", ONE);
    struct want w = {.avoid = NULL};
    assert_true(st_test_wait_until(pod_ready, &w, 90000, 200));
    char first[64];
    snprintf(first, sizeof(first), "%s", w.node);
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "node kill %s", first), 0);
    struct want moved = {.avoid = first};
    assert_true(st_test_wait_until(pod_ready, &moved, 120000, 200));
    assert_string_not_equal(moved.node, first);

    assert_int_equal(st_cluster_ctl(&cl, &out, NULL, "node template rm"), 0);
    assert_non_null(strstr(out, "1 node template(s) removed"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restored_nodes_run_pods_and_fail_over),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
