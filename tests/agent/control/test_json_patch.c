/* test_json_patch.c: JSON Patch (RFC 6902) as `kubectl patch --type=json`
 * sends it: each operation, pointers with ~0 ~1 and "-", and failures that
 * name the operation's index. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/object_patch.h"

/* Patches doc (JSON text) with patch; want: the result, or NULL for a
 * failure whose message holds want_err. */
static void check(const char *doc, const char *patch, const char *want, const char *want_err)
{
    _cleanup_json_ json_t *d = json_loads(doc, 0, NULL);
    _cleanup_json_ json_t *p = json_loads(patch, 0, NULL);
    assert_non_null(d);
    assert_non_null(p);
    st_error err = {0};
    int r = st_json_patch_apply(d, p, &err);
    if (want == NULL) {
        assert_int_equal(r, -EINVAL);
        if (strstr(err.msg, want_err) == NULL)
            fail_msg("want an error with \"%s\", got \"%s\"", want_err, err.msg);
        return;
    }
    if (r != 0)
        fail_msg("patch failed: %s", err.msg);
    _cleanup_json_ json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal(d, w)) {
        _cleanup_free_ char *got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("want %s, got %s", want, got);
    }
}

static void test_add_remove_replace(void **state)
{
    (void)state;
    check("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":{\"c\":2}}]",
          "{\"a\":1,\"b\":{\"c\":2}}", NULL);
    check("{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}", NULL);
    check("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[1]}]", "{\"a\":[1]}", NULL);
    /* add over an existing member replaces it */
    check("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":3}]", "{\"a\":3}", NULL);
    /* the whole document */
    check("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"z\":0}}]", "{\"z\":0}",
          NULL);
}

static void test_arrays(void **state)
{
    (void)state;
    check("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":3}]", "{\"l\":[1,2,3]}",
          NULL);
    check("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/0\",\"value\":0}]", "{\"l\":[0,1,2]}",
          NULL);
    check("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":3}]", "{\"l\":[1,2,3]}",
          NULL);
    check("{\"l\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/l/1\"}]", "{\"l\":[1,3]}", NULL);
    check("{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l/1\",\"value\":9}]", "{\"l\":[1,9]}",
          NULL);
    check("{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/3\",\"value\":3}]", NULL,
          "operation 0 (add \"/l/3\"): the array index is out of range");
    check("{\"l\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/l/01\"}]", NULL,
          "the path does not exist");
}

static void test_escapes(void **state)
{
    (void)state;
    check("{\"metadata\":{\"labels\":{\"a/b\":\"1\",\"c~d\":\"2\"}}}",
          "[{\"op\":\"remove\",\"path\":\"/metadata/labels/a~1b\"},"
          "{\"op\":\"replace\",\"path\":\"/metadata/labels/c~0d\",\"value\":\"3\"}]",
          "{\"metadata\":{\"labels\":{\"c~d\":\"3\"}}}", NULL);
    check("{}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]", NULL, "not a JSON pointer");
    check("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, "not a JSON pointer");
}

static void test_move_copy_test(void **state)
{
    (void)state;
    check("{\"a\":{\"x\":1},\"b\":{}}", "[{\"op\":\"move\",\"from\":\"/a/x\",\"path\":\"/b/y\"}]",
          "{\"a\":{},\"b\":{\"y\":1}}", NULL);
    check("{\"a\":[1,2]}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]",
          "{\"a\":[1,2],\"b\":[1,2]}", NULL);
    check("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/c\"}]", NULL,
          "moved into itself");
    check("{\"a\":\"x\"}",
          "[{\"op\":\"test\",\"path\":\"/a\",\"value\":\"x\"},"
          "{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"y\"}]",
          "{\"a\":\"y\"}", NULL);
    check("{\"a\":\"x\"}",
          "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"y\"},"
          "{\"op\":\"test\",\"path\":\"/a\",\"value\":\"x\"}]",
          NULL, "operation 1 (test \"/a\"): test failed");
}

static void test_bad_operations(void **state)
{
    (void)state;
    check("{}", "{\"op\":\"add\"}", NULL, "an array of operations");
    check("{}", "[{\"op\":\"remove\",\"path\":\"/nope\"}]", NULL,
          "operation 0 (remove \"/nope\"): the path does not exist");
    check("{}", "[{\"op\":\"replace\",\"path\":\"/nope\",\"value\":1}]", NULL,
          "the path does not exist");
    check("{}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", NULL,
          "the path does not exist");
    check("{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, "unknown op");
    check("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, "\"value\" is required");
    check("{}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/a\"}]", NULL,
          "the \"from\" path does not exist");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_remove_replace),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_move_copy_test),
        cmocka_unit_test(test_bad_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
