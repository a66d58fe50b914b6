/* test_label_selector.c: Kubernetes' label selector grammar and matching
 * rules (equality, set-based, existence), the errors a person sees for a
 * selector that is not one, and the label key and value rules. */
#include <errno.h>
#include <string.h>

#include "strata/label_selector.h"
#include "testutil.h"

static json_t *labels(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        fail_msg("bad fixture JSON: %s", text);
    return v;
}

/* Whether selector matches labels_json; fails the test on a parse error. */
static bool match(const char *selector, const char *labels_json)
{
    st_label_selector *s = NULL;
    st_error err = {0};
    if (st_label_selector_parse(selector, &s, &err) < 0)
        fail_msg("\"%s\" did not parse: %s", selector, err.msg);
    json_t *l = labels_json ? labels(labels_json) : NULL;
    bool m = st_label_selector_matches(s, l);
    json_decref(l);
    st_label_selector_free(s);
    return m;
}

static void test_parse_shapes(void **state)
{
    (void)state;
    st_label_selector *s = NULL;
    st_error err = {0};
    assert_int_equal(st_label_selector_parse(" app = web , tier!=db,env in (prod, staging),"
                                             "rel notin (canary),gpu,!legacy,x==y,e=",
                                             &s, &err),
                     0);
    assert_int_equal(s->n, 8);
    static const st_label_op ops[] = {ST_LABEL_EQ,    ST_LABEL_NEQ,    ST_LABEL_IN,
                                      ST_LABEL_NOTIN, ST_LABEL_EXISTS, ST_LABEL_NOT_EXISTS,
                                      ST_LABEL_EQ,    ST_LABEL_EQ};
    static const char *const keys[] = {"app", "tier", "env", "rel", "gpu", "legacy", "x", "e"};
    static const size_t nvals[] = {1, 1, 2, 1, 0, 0, 1, 1};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(s->reqs[i].op, ops[i]);
        assert_string_equal(s->reqs[i].key, keys[i]);
        assert_int_equal(s->reqs[i].nvalues, nvals[i]);
    }
    assert_string_equal(s->reqs[2].values[1], "staging");
    assert_string_equal(s->reqs[7].values[0], "");
    json_t *eq = st_label_selector_equalities(s);
    assert_int_equal(json_object_size(eq), 3); /* app, x, e: never the set of two */
    assert_string_equal(json_string_value(json_object_get(eq, "app")), "web");
    json_decref(eq);
    st_label_selector_free(s);

    /* Empty and NULL select everything; prefixed keys are keys. */
    assert_int_equal(st_label_selector_parse("", &s, &err), 0);
    assert_int_equal(s->n, 0);
    st_label_selector_free(s);
    assert_int_equal(st_label_selector_parse(NULL, &s, &err), 0);
    st_label_selector_free(s);
    assert_int_equal(st_label_selector_parse("app.kubernetes.io/name in (web)", &s, &err), 0);
    assert_string_equal(s->reqs[0].key, "app.kubernetes.io/name");
    st_label_selector_free(s);
}

static void test_matching(void **state)
{
    (void)state;
    const char *web = "{\"app\":\"web\",\"tier\":\"frontend\",\"env\":\"prod\"}";
    assert_true(match("app=web", web));
    assert_true(match("app==web", web));
    assert_false(match("app=api", web));
    assert_false(match("app=web,tier=db", web)); /* the comma is AND */
    assert_true(match("tier!=db", web));
    assert_true(match("missing!=x", web)); /* != holds for a missing label */
    assert_true(match("env in (prod,staging)", web));
    assert_false(match("env in (dev)", web));
    assert_false(match("nothere in (a)", web));
    assert_true(match("env notin (dev)", web));
    assert_false(match("env notin (prod)", web));
    assert_true(match("nothere notin (a)", web)); /* notin holds for a missing label */
    assert_true(match("app", web));
    assert_false(match("gpu", web));
    assert_true(match("!gpu", web));
    assert_false(match("!app", web));
    assert_true(match("", web));
    assert_true(match("!app", NULL)); /* an object without labels */
    assert_false(match("app", NULL));
    assert_true(match("e=", "{\"e\":\"\"}"));
    assert_false(match("e=", web));
}

/* The message of a selector that does not parse; fails if it parses. */
static void assert_refused(const char *selector, const char *says)
{
    st_label_selector *s = NULL;
    st_error err = {0};
    if (st_label_selector_parse(selector, &s, &err) != -EINVAL)
        fail_msg("\"%s\" parsed, want an error", selector);
    assert_null(s);
    if (strstr(err.msg, says) == NULL)
        fail_msg("\"%s\": message \"%s\" does not say \"%s\"", selector, err.msg, says);
    /* Every message quotes the selector and shows the grammar. */
    assert_non_null(strstr(err.msg, "key in (v1,v2)"));
}

static void test_errors(void **state)
{
    (void)state;
    assert_refused("app in web", "needs its values in parentheses");
    assert_refused("app in ()", "at least one value");
    assert_refused("app in (a b)", "ends with ')'");
    assert_refused("app in (a", "ends with ')'");
    assert_refused("app=web,", "missing after the last comma");
    assert_refused(",app", "a key is missing");
    assert_refused("app>3", "operator Strata does not know");
    assert_refused("app=web tier=db", "separated by commas");
    assert_refused("app is web", "\"is\" after \"app\" is not an operator");
    assert_refused("-app=x", "is not a label key");
    assert_refused("app=-x", "is not a label value");
    assert_refused("Bad_Prefix/app=x", "is not a label key");
    assert_refused("!", "a key is missing");
}

static void test_names(void **state)
{
    (void)state;
    assert_true(st_label_key_ok("app"));
    assert_true(st_label_key_ok("app.kubernetes.io/name"));
    assert_true(st_label_key_ok("A_b.c-9"));
    assert_false(st_label_key_ok(""));
    assert_false(st_label_key_ok("/name"));
    assert_false(st_label_key_ok("UPPER.io/name"));
    assert_false(st_label_key_ok("a/b/c"));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(st_label_key_ok(long_name));
    assert_true(st_label_value_ok("", 0));
    assert_true(st_label_value_ok("v1.2_x", 6));
    assert_false(st_label_value_ok("v!", 2));
    assert_true(st_label_key_ok("strata.io/x"));
    assert_false(st_label_key_ok("strata..io/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_shapes),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
