/* test_strategic_patch.c: the strategic merge patch as kubectl apply,
 * cordon and edit send it: lists merged by their Kubernetes merge keys,
 * lists without one replaced, and the $patch, $retainKeys,
 * $deleteFromPrimitiveList and $setElementOrder directives. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/object_patch.h"

static void check(const char *doc, const char *patch, const char *want)
{
    _cleanup_json_ json_t *d = json_loads(doc, 0, NULL);
    _cleanup_json_ json_t *p = json_loads(patch, 0, NULL);
    _cleanup_json_ json_t *w = json_loads(want, 0, NULL);
    assert_non_null(d);
    assert_non_null(p);
    assert_non_null(w);
    st_error err = {0};
    if (st_strategic_merge_patch(d, p, &err) != 0)
        fail_msg("patch failed: %s", err.msg);
    if (!json_equal(d, w)) {
        _cleanup_free_ char *got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("want %s, got %s", want, got);
    }
}

static void test_maps_merge_and_null_removes(void **state)
{
    (void)state;
    check("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{\"unschedulable\":true}}",
          "{\"metadata\":{\"labels\":{\"b\":null,\"c\":\"3\"}},\"spec\":{\"unschedulable\":null}}",
          "{\"metadata\":{\"labels\":{\"a\":\"1\",\"c\":\"3\"}},\"spec\":{}}");
}

static void test_containers_merge_by_name(void **state)
{
    (void)state;
    check("{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\",\"args\":[\"1\"]},"
          "{\"name\":\"b\",\"image\":\"y\"}]}",
          "{\"containers\":[{\"name\":\"a\",\"image\":\"x:2\"},{\"name\":\"c\",\"image\":\"z\"}]}",
          "{\"containers\":[{\"name\":\"a\",\"image\":\"x:2\",\"args\":[\"1\"]},"
          "{\"name\":\"b\",\"image\":\"y\"},{\"name\":\"c\",\"image\":\"z\"}]}");
    /* args has no merge key: replaced */
    check("{\"containers\":[{\"name\":\"a\",\"args\":[\"1\",\"2\"]}]}",
          "{\"containers\":[{\"name\":\"a\",\"args\":[\"3\"]}]}",
          "{\"containers\":[{\"name\":\"a\",\"args\":[\"3\"]}]}");
}

static void test_ports_env_mounts_conditions(void **state)
{
    (void)state;
    /* a container's ports by containerPort */
    check("{\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]}",
          "{\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"},{\"containerPort\":443}]}",
          "{\"ports\":[{\"containerPort\":80,\"name\":\"http\",\"protocol\":\"TCP\"},"
          "{\"containerPort\":443}]}");
    /* a Service's by port */
    check("{\"ports\":[{\"port\":80,\"targetPort\":8080}]}",
          "{\"ports\":[{\"port\":80,\"targetPort\":9090}]}",
          "{\"ports\":[{\"port\":80,\"targetPort\":9090}]}");
    check("{\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}",
          "{\"env\":[{\"name\":\"B\",\"value\":\"3\"}]}",
          "{\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"}]}");
    check("{\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"v\"}]}",
          "{\"volumeMounts\":[{\"mountPath\":\"/a\",\"readOnly\":true}]}",
          "{\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"v\",\"readOnly\":true}]}");
    check("{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}",
          "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}",
          "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}");
    /* finalizers: a set */
    check("{\"finalizers\":[\"a\"]}", "{\"finalizers\":[\"a\",\"b\"]}",
          "{\"finalizers\":[\"a\",\"b\"]}");
}

static void test_directives(void **state)
{
    (void)state;
    /* delete one element by its key */
    check("{\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}]}",
          "{\"env\":[{\"name\":\"A\",\"$patch\":\"delete\"}]}", "{\"env\":[{\"name\":\"B\"}]}");
    /* replace a list */
    check("{\"env\":[{\"name\":\"A\"},{\"name\":\"B\"}]}",
          "{\"env\":[{\"$patch\":\"replace\"},{\"name\":\"C\"}]}", "{\"env\":[{\"name\":\"C\"}]}");
    /* replace and delete a map */
    check("{\"spec\":{\"a\":1,\"b\":2}}", "{\"spec\":{\"$patch\":\"replace\",\"c\":3}}",
          "{\"spec\":{\"c\":3}}");
    check("{\"spec\":{\"a\":1},\"x\":1}", "{\"spec\":{\"$patch\":\"delete\"}}", "{\"x\":1}");
    /* $retainKeys */
    check("{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}",
          "{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}",
          "{\"strategy\":{\"type\":\"Recreate\"}}");
    /* $deleteFromPrimitiveList */
    check("{\"finalizers\":[\"a\",\"b\"]}", "{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}",
          "{\"finalizers\":[\"b\"]}");
    /* $setElementOrder (kubectl apply sends it with the containers) */
    check("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
          "{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}],"
          "\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}",
          "{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\",\"image\":\"x\"}]}");
}

static void test_failures(void **state)
{
    (void)state;
    _cleanup_json_ json_t *d = json_loads("{\"env\":[{\"name\":\"A\"}]}", 0, NULL);
    _cleanup_json_ json_t *nokey = json_loads("{\"env\":[{\"value\":\"1\"}]}", 0, NULL);
    _cleanup_json_ json_t *arr = json_loads("[1]", 0, NULL);
    _cleanup_json_ json_t *bad = json_loads("{\"spec\":{\"$patch\":\"frob\"}}", 0, NULL);
    st_error err = {0};
    assert_int_equal(st_strategic_merge_patch(d, nokey, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "has no \"name\""));
    err = (st_error){0};
    assert_int_equal(st_strategic_merge_patch(d, arr, &err), -EINVAL);
    err = (st_error){0};
    assert_int_equal(st_strategic_merge_patch(d, bad, &err), -EINVAL);
    if (strstr(err.msg, "unknown $patch \"frob\"") == NULL)
        fail_msg("got %s", err.msg);
}

/* An element of a keyed list that is not an object, or whose key is null,
 * matched nothing and was appended again at every apply (the status
 * subresource stores such a patch unvalidated): refused, as Kubernetes
 * does. Found by applying the fuzzer's patches twice (tests/fuzz/). */
static void test_keyless_elements_refused(void **state)
{
    (void)state;
    static const char *const patches[] = {
        "{\"status\":{\"conditions\":[5]}}",
        "{\"status\":{\"conditions\":[{\"type\":null,\"status\":\"True\"}]}}",
        "{\"ports\":[0]}",
    };
    for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
        _cleanup_json_ json_t *d =
            json_loads("{\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}", 0, NULL);
        _cleanup_json_ json_t *p = json_loads(patches[i], 0, NULL);
        st_error err = {0};
        if (st_strategic_merge_patch(d, p, &err) != -EINVAL ||
            (strstr(err.msg, "is not an object") == NULL && strstr(err.msg, "has no") == NULL))
            fail_msg("%s: want a refusal, got \"%s\"", patches[i], err.msg);
    }
    /* replaced lists take anything */
    check("{\"ports\":[{\"port\":1}]}", "{\"ports\":[{\"$patch\":\"replace\"},0]}",
          "{\"ports\":[0]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maps_merge_and_null_removes),
        cmocka_unit_test(test_containers_merge_by_name),
        cmocka_unit_test(test_ports_env_mounts_conditions),
        cmocka_unit_test(test_directives),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_keyless_elements_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
