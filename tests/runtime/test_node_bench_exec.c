/* test_node_bench_exec.c: runtime/node/bench_exec.c, the bench image's
 * hook: a bench_exec message runs its argv and the answer carries the id,
 * the exit status, the time and the output; a malformed message is refused
 * with nothing run. (Whether a node answers at all, the mark file, is the
 * image's: this host has none, so the agent would ignore the message.) */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"

#include <string.h>
#include <unistd.h>

static json_t *run_ok(const char *text)
{
    json_error_t jerr;
    _cleanup_json_ json_t *msg = json_loads(text, 0, &jerr);
    if (msg == NULL)
        fail_msg("test JSON: %s", jerr.text);
    json_t *reply = NULL;
    st_error err = {0};
    if (st_node_bench_exec(msg, &reply, &err) < 0)
        fail_msg("bench_exec: %s", err.msg);
    return reply;
}

static void test_bench_exec_answers(void **state)
{
    (void)state;
    _cleanup_json_ json_t *r =
        run_ok("{\"type\": \"bench_exec\", \"id\": 7, \"argv\": [\"sh\", \"-c\", "
               "\"echo out; echo err >&2; exit 3\"]}");
    assert_string_equal(json_string_value(json_object_get(r, "type")), ST_NODE_BENCH_RESULT);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 3);
    assert_true(json_real_value(json_object_get(r, "ms")) > 0);
    const char *out = json_string_value(json_object_get(r, "output"));
    assert_non_null(out);
    assert_non_null(strstr(out, "out\n"));
    assert_non_null(strstr(out, "err\n"));

    _cleanup_json_ json_t *missing =
        run_ok("{\"type\": \"bench_exec\", \"id\": 8, \"argv\": [\"/no/such/program\"]}");
    assert_int_equal(json_integer_value(json_object_get(missing, "status")), 127);
}

static void test_bench_exec_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"type\": \"bench_exec\", \"argv\": [\"true\"]}",
        "{\"type\": \"bench_exec\", \"id\": 1, \"argv\": []}",
        "{\"type\": \"bench_exec\", \"id\": 1, \"argv\": [\"true\", 3]}",
        "{\"type\": \"bench_exec\", \"id\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_error_t jerr;
        _cleanup_json_ json_t *msg = json_loads(bad[i], 0, &jerr);
        assert_non_null(msg);
        json_t *reply = NULL;
        st_error err = {0};
        assert_int_equal(st_node_bench_exec(msg, &reply, &err), -EPROTO);
        assert_null(reply);
        assert_non_null(strstr(err.msg, "bench_exec"));
    }
}

static void test_bench_exec_needs_the_mark(void **state)
{
    (void)state;
    assert_int_equal(st_node_bench_exec_enabled(), access(ST_NODE_BENCH_MARK, F_OK) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_exec_answers),
        cmocka_unit_test(test_bench_exec_refuses),
        cmocka_unit_test(test_bench_exec_needs_the_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
