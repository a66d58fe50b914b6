/* test_api_present.c: what the API shows for a stored object, byte for
 * byte: Kubernetes' key order (apiVersion, kind, metadata, spec, status),
 * no nulls, Strata's derived fields stripped, its own status moved to a
 * strata.io annotation, lists with their apiVersion, and the last object
 * a DELETED watch event carries. */
#include <string.h>

#include "strata/api_present.h"
#include "testutil.h"

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        fail_msg("bad fixture JSON (%s): %s", jerr.text, text);
    return v;
}

/* kind's stored object (text) as the API shows it, compact JSON. */
static char *present(const char *kind, const char *stored)
{
    json_t *obj = load(stored);
    st_api_present(kind, &obj);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

static void test_pod(void **state)
{
    (void)state;
    /* As jsonb hands it back: shortest keys first. */
    char *text = present(
        "Pod",
        "{\"kind\":\"Pod\",\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\","
        "\"image\":\"busybox\",\"resources\":{\"limits\":{\"memory\":\"64Mi\"},"
        "\"requests\":{\"memory\":\"64Mi\"},\"strataNormalized\":{\"memoryLimitBytes\":1}}}]},"
        "\"status\":{\"phase\":\"Running\",\"message\":null,\"lastReason\":\"OOMKilled\"},"
        "\"metadata\":{\"uid\":\"u\",\"name\":\"web-1\",\"labels\":{\"app\":\"web\"},"
        "\"namespace\":\"default\"},\"apiVersion\":\"v1\"}");
    assert_string_equal(
        text, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":"
              "{\"strata.io/last-reason\":\"OOMKilled\"},\"labels\":{\"app\":\"web\"},"
              "\"name\":\"web-1\",\"namespace\":\"default\",\"uid\":\"u\"},"
              "\"spec\":{\"containers\":[{\"image\":\"busybox\",\"name\":\"c\",\"resources\":"
              "{\"limits\":{\"memory\":\"64Mi\"},\"requests\":{\"memory\":\"64Mi\"}}}],"
              "\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}");
    free(text);

    /* An annotation the user set is kept beside Strata's; apiVersion and
     * kind are filled in when the store lacks them. */
    text = present("Pod", "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"team\":\"a\"}},"
                          "\"status\":{\"lastReason\":\"Error\"}}");
    assert_string_equal(text, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{"
                              "\"annotations\":{\"strata.io/last-reason\":\"Error\","
                              "\"team\":\"a\"},\"name\":\"p\"},\"status\":{}}");
    free(text);
}

static void test_deployment_secret_node_event(void **state)
{
    (void)state;
    char *text = present("Deployment",
                         "{\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{"
                         "\"name\":\"c\",\"resources\":{\"strataNormalized\":{}}}]}}},"
                         "\"status\":{\"readyReplicas\":null},\"metadata\":{\"name\":\"web\"}}");
    assert_string_equal(text, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
                              "{\"name\":\"web\"},\"spec\":{\"replicas\":2,\"template\":{\"spec\":"
                              "{\"containers\":[{\"name\":\"c\",\"resources\":{}}]}}},"
                              "\"status\":{}}");
    free(text);

    /* stringData folds into base64 data; the rest after status, by name. */
    text = present("Secret", "{\"type\":\"Opaque\",\"metadata\":{\"name\":\"s\"},"
                             "\"stringData\":{\"user\":\"hello\"},\"data\":{\"a\":\"YQ==\"}}");
    assert_string_equal(text, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
                              "{\"name\":\"s\"},\"data\":{\"a\":\"YQ==\",\"user\":\"aGVsbG8=\"},"
                              "\"type\":\"Opaque\"}");
    free(text);

    /* Node's named extension status.strata stays. */
    text = present("Node", "{\"status\":{\"strata\":{\"phase\":\"Running\"},\"capacity\":"
                           "{\"cpu\":\"1\"}},\"metadata\":{\"name\":\"n1\"}}");
    assert_string_equal(text, "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":"
                              "{\"name\":\"n1\"},\"status\":{\"capacity\":{\"cpu\":\"1\"},"
                              "\"strata\":{\"phase\":\"Running\"}}}");
    free(text);

    text = present("Event", "{\"type\":\"Warning\",\"reason\":\"BackOff\",\"kind\":\"Event\","
                            "\"metadata\":{\"name\":\"e\"},\"involvedObject\":{\"kind\":\"Pod\"},"
                            "\"apiVersion\":\"v1\",\"count\":2,\"series\":null}");
    assert_string_equal(text, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":"
                              "{\"name\":\"e\"},\"count\":2,\"involvedObject\":{\"kind\":\"Pod\"},"
                              "\"reason\":\"BackOff\",\"type\":\"Warning\"}");
    free(text);
}

static void test_lists(void **state)
{
    (void)state;
    json_t *items = load("[{\"metadata\":{\"name\":\"a\"}}]");
    json_t *list = st_api_present_list("Deployment", items, NULL);
    char *text = json_dumps(list, JSON_COMPACT);
    assert_string_equal(text, "{\"apiVersion\":\"apps/v1\",\"kind\":\"DeploymentList\","
                              "\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"a\"}}]}");
    free(text);
    json_decref(list);
    list = st_api_present_list("Pod", items, "42");
    text = json_dumps(list, JSON_COMPACT);
    assert_string_equal(text, "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":"
                              "{\"resourceVersion\":\"42\"},\"items\":[{\"metadata\":"
                              "{\"name\":\"a\"}}]}");
    free(text);
    json_decref(list);
    json_decref(items);
}

static void test_deleted(void **state)
{
    (void)state;
    /* A pod deleted without the mark gets it, so it never reads as running. */
    json_t *last = load("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"uid\":\"u\"},"
                        "\"status\":{\"phase\":\"Running\"}}");
    json_t *gone = st_api_present_deleted("Pod", last);
    json_t *md = json_object_get(gone, "metadata");
    const char *ts = json_string_value(json_object_get(md, "deletionTimestamp"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 20); /* 2024-05-01T12:00:00Z */
    /* keys by name again; the last object itself is left alone */
    const char *first = json_object_iter_key(json_object_iter(md));
    assert_string_equal(first, "deletionTimestamp");
    assert_null(json_object_get(json_object_get(last, "metadata"), "deletionTimestamp"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(gone, "status"), "phase")), "Running");
    json_decref(gone);
    json_decref(last);

    /* A mark already there is kept; other kinds are sent as they were. */
    last = load("{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2024-05-01T11:00:00Z\"}}");
    gone = st_api_present_deleted("Pod", last);
    assert_true(json_equal(gone, last));
    json_decref(gone);
    json_decref(last);
    last = load("{\"metadata\":{\"name\":\"web\"}}");
    gone = st_api_present_deleted("Deployment", last);
    assert_true(json_equal(gone, last));
    json_decref(gone);
    json_decref(last);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod),
        cmocka_unit_test(test_deployment_secret_node_event),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_deleted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
