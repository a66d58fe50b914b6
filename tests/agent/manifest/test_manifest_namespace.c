/* test_manifest_namespace.c: v1 Namespace manifests (issue 13): the name
 * is a DNS-1123 label, spec.finalizers defaults to Kubernetes' "kubernetes",
 * and what the cluster owns (metadata.namespace, status) is accepted and
 * dropped, never an error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/manifest.h"
#include "testutil.h"

static int parse(const char *text, json_t **objects, st_error *err)
{
    *objects = NULL;
    return st_manifest_parse_string("t.yaml", text, strlen(text), objects, NULL, err);
}

static void test_namespace_defaults(void **state)
{
    (void)state;
    json_t *objs = NULL;
    st_error err = {0};
    assert_int_equal(parse("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
                           "  namespace: elsewhere\n  labels:\n    team: a\n"
                           "status:\n  phase: Terminating\n",
                           &objs, &err),
                     0);
    json_t *ns = json_array_get(objs, 0);
    json_t *md = json_object_get(ns, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "name")), "shop");
    assert_null(json_object_get(md, "namespace"));
    assert_null(json_object_get(ns, "status"));
    json_t *want = json_pack("[s]", "kubernetes");
    assert_true(json_equal(json_object_get(json_object_get(ns, "spec"), "finalizers"), want));
    json_decref(want);
    json_decref(objs);
}

static void test_namespace_name_is_a_label(void **state)
{
    (void)state;
    json_t *objs = NULL;
    st_error err = {0};
    /* a subdomain (dots) is not a namespace name */
    assert_int_equal(
        parse("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n", &objs, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "t.yaml:4:9"));
    assert_null(objs);
    st_error_clear(&err);
    assert_int_equal(parse("apiVersion: v1\nkind: Namespace\nmetadata: {}\n", &objs, &err),
                     -EINVAL);
    assert_null(objs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespace_defaults),
        cmocka_unit_test(test_namespace_name_is_a_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
