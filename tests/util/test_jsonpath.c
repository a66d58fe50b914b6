/* test_jsonpath.c: dotted paths through nested objects (strings and numbers
 * read at them), and NULL or the default (never a crash) for a missing key,
 * a step through a non-object, or no document. */
#include <string.h>

#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "testutil.h"

static json_t *doc(void)
{
    json_error_t je;
    json_t *j = json_loads("{\"metadata\": {\"name\": \"web\", \"labels\": {\"app\": \"x\"}},"
                           " \"status\": {\"strata\": {\"phase\": \"Running\", \"n\": 3},"
                           "            \"list\": [1, 2]},"
                           " \"\": {\"empty\": true}}",
                           0, &je);
    if (j == NULL)
        fail_msg("fixture: %s", je.text);
    return j;
}

static void test_lookup(void **state)
{
    (void)state;
    _cleanup_json_ json_t *j = doc();
    assert_string_equal(st_json_str_at(j, "metadata.name"), "web");
    assert_string_equal(st_json_str_at(j, "status.strata.phase"), "Running");
    assert_int_equal(json_integer_value(st_json_at(j, "status.strata.n")), 3);
    assert_ptr_equal(st_json_at(j, "metadata.labels"),
                     json_object_get(json_object_get(j, "metadata"), "labels"));
    assert_ptr_equal(st_json_at(j, ""), j);
    assert_true(json_is_array(st_json_at(j, "status.list")));
    assert_true(json_is_true(st_json_at(j, ".empty")));
    /* a key longer than any fixed buffer */
    char key[300];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_object_set_new(j, key, json_string("long"));
    assert_string_equal(st_json_str_at(j, key), "long");
}

static void test_missing(void **state)
{
    (void)state;
    _cleanup_json_ json_t *j = doc();
    assert_null(st_json_at(j, "metadata.namespace"));
    assert_null(st_json_at(j, "spec.replicas"));
    assert_null(st_json_at(j, "metadata.name.first")); /* through a string */
    assert_null(st_json_at(j, "status.list.0"));       /* no array indexes */
    assert_null(st_json_str_at(j, "status.strata.n")); /* not a string */
    assert_null(st_json_at(NULL, "metadata.name"));
    assert_null(st_json_str_at(NULL, "a"));
    assert_null(st_json_at(j, "metadata.nam"));
    assert_null(st_json_at(j, "metadata.namex"));
}

static void test_int(void **state)
{
    (void)state;
    _cleanup_json_ json_t *j = doc();
    assert_int_equal(st_json_int_at(j, "status.strata.n", -1), 3);
    json_object_set_new(j, "real", json_real(2.75));
    assert_int_equal(st_json_int_at(j, "real", -1), 2);
    /* missing, or not a number: the default */
    assert_int_equal(st_json_int_at(j, "spec.replicas", 1), 1);
    assert_int_equal(st_json_int_at(j, "metadata.name", 7), 7);
    assert_int_equal(st_json_int_at(NULL, "a", 5), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
