/* test_yaml_out.c: JSON written as YAML reads back as the same JSON (parse ->
 * emit -> parse), and strings YAML would retype are quoted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/manifest.h"
#include "strata/yaml_out.h"
#include "testutil.h"

static json_t *parse_ok(const char *name, const char *text)
{
    json_t *objects = NULL;
    st_error err = {0};
    if (st_manifest_parse_string(name, text, strlen(text), &objects, NULL, &err) != 0)
        fail_msg("%s: %s\n--- text ---\n%s", name, err.msg, text);
    return objects;
}

static void round_trip(const char *name, const char *text)
{
    json_t *first = parse_ok(name, text);
    char *yaml = NULL;
    st_error err = {0};
    assert_int_equal(st_yaml_dumps(first, true, &yaml, &err), 0);
    json_t *second = parse_ok("emitted", yaml);
    if (!json_equal(first, second))
        fail_msg("%s: the round trip changed the objects; emitted:\n%s", name, yaml);
    free(yaml);
    json_decref(first);
    json_decref(second);
}

static void test_round_trip_examples(void **state)
{
    (void)state;
    const char *src = st_test_env("STRATA_SOURCE_DIR");
    static const char *const files[] = {"deployment", "pod", "secret"};
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/configs/examples/%s.yaml", src, files[i]);
        char *text = st_test_read_file(path);
        assert_non_null(text);
        round_trip(path, text);
        free(text);
    }
}

/* Strings that look like other YAML types must come back as strings. */
static void test_round_trip_tricky_strings(void **state)
{
    (void)state;
    round_trip("tricky", "apiVersion: v1\n"
                         "kind: Pod\n"
                         "metadata:\n"
                         "  name: p\n"
                         "  labels: {a: \"true\", b: \"8080\", c: \"\", d: \"no\", e: \"1.5\"}\n"
                         "  annotations: {x: \"null\", y: \"~\", z: \"line one\\nline two\", "
                         "w: \"- dash\", v: \"key: value\", u: \"#hash\", t: \"0x1F\"}\n"
                         "spec:\n"
                         "  containers:\n"
                         "    - name: c\n"
                         "      image: busybox\n"
                         "      args: [\"yes\", \"on\", \"0755\", \" padded \", \"[x]\", \"é\"]\n"
                         "---\n"
                         "apiVersion: v1\n"
                         "kind: Secret\n"
                         "metadata: {name: s}\n"
                         "stringData: {k: \"{}\"}\n");
}

static void test_emit_shapes(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:b, s:n, s:f, s:[s,s], s:{}, s:[]}", "num", 3, "t", 1, "z", "r",
                          2.0, "l", "a", "true", "o", "e");
    char *yaml = NULL;
    st_error err = {0};
    assert_int_equal(st_yaml_dumps(v, false, &yaml, &err), 0);
    assert_non_null(strstr(yaml, "num: 3\n"));
    assert_non_null(strstr(yaml, "t: true\n"));
    assert_non_null(strstr(yaml, "z: null\n"));
    assert_non_null(strstr(yaml, "r: 2.0\n"));
    assert_non_null(strstr(yaml, "- a\n"));
    assert_non_null(strstr(yaml, "- \"true\"\n"));
    assert_non_null(strstr(yaml, "o: {}\n"));
    assert_non_null(strstr(yaml, "e: []\n"));
    free(yaml);

    /* A key YAML 1.1 reads as a boolean is quoted too. */
    json_t *k = json_pack("{s:s}", "n", "x");
    assert_int_equal(st_yaml_dumps(k, false, &yaml, &err), 0);
    assert_string_equal(yaml, "\"n\": x\n");
    json_decref(k);
    free(yaml);

    /* Documents need an array. */
    assert_int_equal(st_yaml_dumps(v, true, &yaml, &err), -EINVAL);
    assert_null(yaml);
    assert_non_null(strstr(err.msg, "array"));
    json_decref(v);

    json_t *docs = json_pack("[{s:s},{s:s}]", "a", "1x", "b", "2x");
    st_error err2 = {0};
    assert_int_equal(st_yaml_dumps(docs, true, &yaml, &err2), 0);
    assert_string_equal(yaml, "a: 1x\n---\nb: 2x\n");
    free(yaml);
    json_decref(docs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_examples),
        cmocka_unit_test(test_round_trip_tricky_strings),
        cmocka_unit_test(test_emit_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
