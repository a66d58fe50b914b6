/* test_manifest_spread.c: a pod template's topologySpreadConstraints
 * (issue 17): what is kept, the keys and values refused with their
 * FILE:LINE:COLUMN, one constraint per topologyKey and whenUnsatisfiable,
 * and the warnings for what Strata does not do with them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/manifest.h"
#include "manifest_fx.h"
#include "testutil.h"

/* Lines 1-15; the constraints' entries start on line 16, column 9. */
#define DEPLOY_HEAD                                                                                \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: web\n"                                                                                \
    "spec:\n"                                                                                      \
    "  replicas: 4\n"                                                                              \
    "  selector:\n"                                                                                \
    "    matchLabels: {app: web}\n"                                                                \
    "  template:\n"                                                                                \
    "    metadata:\n"                                                                              \
    "      labels: {app: web}\n"                                                                   \
    "    spec:\n"                                                                                  \
    "      containers:\n"                                                                          \
    "      - {name: c, image: busybox}\n"                                                          \
    "      topologySpreadConstraints:\n"

static json_t *constraints(json_t *objects)
{
    json_t *tmpl = json_object_get(json_object_get(json_array_get(objects, 0), "spec"), "template");
    return json_object_get(json_object_get(tmpl, "spec"), "topologySpreadConstraints");
}

static void test_constraints_are_kept(void **state)
{
    (void)state;
    struct st_manifest_diag *diags = NULL;
    json_t *o = parse_ok(DEPLOY_HEAD "      - maxSkew: 1\n"
                                     "        topologyKey: strata.io/host\n"
                                     "        whenUnsatisfiable: DoNotSchedule\n"
                                     "        labelSelector: {matchLabels: {app: web}}\n"
                                     "      - maxSkew: 2\n"
                                     "        topologyKey: kubernetes.io/hostname\n"
                                     "        whenUnsatisfiable: DoNotSchedule\n"
                                     "        labelSelector: {matchLabels: {app: web}}\n",
                         &diags);
    assert_null(diags);
    json_t *list = constraints(o);
    assert_int_equal(json_array_size(list), 2);
    json_t *c0 = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(c0, "maxSkew")), 1);
    assert_string_equal(json_string_value(json_object_get(c0, "topologyKey")), "strata.io/host");
    assert_string_equal(json_string_value(json_object_get(c0, "whenUnsatisfiable")),
                        "DoNotSchedule");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(c0, "labelSelector"), "matchLabels"), "app")),
        "web");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "topologyKey")),
                        "kubernetes.io/hostname");
    json_decref(o);
}

static void test_constraint_errors(void **state)
{
    (void)state;
    expect_error(DEPLOY_HEAD "      - maxSkew: 1\n"
                             "        topologyKey: topology.kubernetes.io/zone\n"
                             "        whenUnsatisfiable: DoNotSchedule\n",
                 "t.yaml:17:22: spec.template.spec.topologySpreadConstraints[0].topologyKey: "
                 "unsupported value \"topology.kubernetes.io/zone\": use one of strata.io/host, "
                 "kubernetes.io/hostname");
    expect_error(DEPLOY_HEAD "      - maxSkew: 0\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: DoNotSchedule\n",
                 "t.yaml:16:18: spec.template.spec.topologySpreadConstraints[0].maxSkew");
    expect_error(DEPLOY_HEAD "      - maxSkew: 1\n"
                             "        topologyKey: strata.io/host\n",
                 "t.yaml:16:9: missing required field "
                 "\"spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable\"");
    expect_error(DEPLOY_HEAD "      - maxSkew: 1\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: Sometimes\n",
                 "t.yaml:18:28: spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable: "
                 "unsupported value \"Sometimes\"");
    expect_error(DEPLOY_HEAD "      - maxSkew: 1\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: DoNotSchedule\n"
                             "      - maxSkew: 2\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: DoNotSchedule\n",
                 "t.yaml:19:9: spec.template.spec.topologySpreadConstraints[1]: duplicate of [0] "
                 "(strata.io/host, DoNotSchedule)");
}

static void test_constraint_warnings(void **state)
{
    (void)state;
    struct st_manifest_diag *diags = NULL;
    json_t *o = parse_ok(DEPLOY_HEAD "      - maxSkew: 1\n"
                                     "        topologyKey: strata.io/host\n"
                                     "        whenUnsatisfiable: ScheduleAnyway\n"
                                     "        minDomains: 2\n",
                         &diags);
    assert_non_null(diags);
    assert_non_null(strstr(diags->text, "t.yaml:18:28: warning: "
                                        "spec.template.spec.topologySpreadConstraints[0]."
                                        "whenUnsatisfiable: ScheduleAnyway is not scored"));
    assert_non_null(diags->next);
    assert_non_null(strstr(diags->next->text, "minDomains is not implemented by Strata"));
    /* Same key, other whenUnsatisfiable: allowed, as in Kubernetes. */
    json_decref(o);
    st_manifest_diag_free(diags);
    diags = NULL;
    o = parse_ok(DEPLOY_HEAD "      - maxSkew: 1\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: ScheduleAnyway\n"
                             "      - maxSkew: 1\n"
                             "        topologyKey: strata.io/host\n"
                             "        whenUnsatisfiable: DoNotSchedule\n",
                 &diags);
    assert_int_equal(json_array_size(constraints(o)), 2);
    json_decref(o);
    st_manifest_diag_free(diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constraints_are_kept),
        cmocka_unit_test(test_constraint_errors),
        cmocka_unit_test(test_constraint_warnings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
