/* test_names.c: the one rule for DNS labels and subdomains (RFC 1123) and
 * for image names and references (the OCI distribution grammar, one path
 * component: the image store has one folder per name). */
#include <errno.h>
#include <string.h>

#include "strata/names.h"
#include "testutil.h"

static char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_dns_label(void **state)
{
    (void)state;
    char buf[300];
    static const char *const good[] = {"a", "web", "web-1", "1abc", "a-b-c", "0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!st_name_dns_label_ok(good[i]))
            fail_msg("\"%s\" refused", good[i]);
    assert_true(st_name_dns_label_ok(repeat(buf, 'a', 63)));
    static const char *const bad[] = {"", "-a", "a-", "Web", "a.b", "a_b", "a b", "é", "a\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (st_name_dns_label_ok(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
    assert_false(st_name_dns_label_ok(repeat(buf, 'a', 64)));
    assert_false(st_name_dns_label_ok(NULL));
}

static void test_dns_subdomain(void **state)
{
    (void)state;
    char buf[300];
    assert_true(st_name_dns_subdomain_ok("example.com"));
    assert_true(st_name_dns_subdomain_ok("a"));
    assert_true(st_name_dns_subdomain_ok("kubernetes.io"));
    assert_false(st_name_dns_subdomain_ok("a..b"));
    assert_false(st_name_dns_subdomain_ok(".a"));
    assert_false(st_name_dns_subdomain_ok("a."));
    assert_false(st_name_dns_subdomain_ok("a.-b"));
    assert_false(st_name_dns_subdomain_ok("A.b"));
    assert_false(st_name_dns_subdomain_ok(""));
    assert_false(st_name_dns_subdomain_ok(NULL));
    /* 4 labels of 63 and one of 1: 253 */
    repeat(buf, 'a', 253);
    for (size_t i = 63; i < 253; i += 64)
        buf[i] = '.';
    assert_true(st_name_dns_subdomain_ok(buf));
    strcat(buf, "b");
    assert_false(st_name_dns_subdomain_ok(buf)); /* 254 */
    repeat(buf, 'a', 64);
    assert_false(st_name_dns_subdomain_ok(buf)); /* a label of 64 */
}

static void test_image_name(void **state)
{
    (void)state;
    char buf[100];
    static const char *const good[] = {"busybox", "my-app", "my--app", "a.b",    "a_b",
                                       "a__b",    "web1",   "1",       "a.b_c-d"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!st_name_image_ok(good[i]))
            fail_msg("\"%s\" refused", good[i]);
    assert_true(st_name_image_ok(repeat(buf, 'a', 63)));
    static const char *const bad[] = {"",      "Busybox", "a/b",  "library/busybox",
                                      ".a",    "a.",      "-a",   "a-",
                                      "a___b", "a..b",    "a-_b", "a:b",
                                      "a@b",   "..",      "a b",  "busybox:latest"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (st_name_image_ok(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
    assert_false(st_name_image_ok(repeat(buf, 'a', 64)));
    assert_false(st_name_image_ok(NULL));
}

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_image_ref(void **state)
{
    (void)state;
    static const struct {
        const char *ref, *name, *tag, *digest;
    } good[] = {
        {"busybox", "busybox", "", NULL},
        {"busybox:latest", "busybox", "latest", NULL},
        {"busybox:1.36.1", "busybox", "1.36.1", NULL},
        {"my-app:v2_RC-1", "my-app", "v2_RC-1", NULL},
        {"busybox@" DIGEST, "busybox", "", DIGEST},
        {"busybox:1.36@" DIGEST, "busybox", "1.36", DIGEST},
        {"a@sha256+b64.x_y-z:0123456789ABCDEF0123456789abcdef", "a", "",
         "sha256+b64.x_y-z:0123456789ABCDEF0123456789abcdef"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct st_image_ref ref;
        st_error err = {0};
        if (st_name_image_ref_parse(good[i].ref, &ref, &err) != 0)
            fail_msg("\"%s\" refused: %s", good[i].ref, err.msg);
        assert_string_equal(ref.name, good[i].name);
        assert_string_equal(ref.tag, good[i].tag);
        if (good[i].digest)
            assert_string_equal(ref.digest, good[i].digest);
        else
            assert_null(ref.digest);
    }
    static const struct {
        const char *ref, *why;
    } bad[] = {
        {"", "name"},
        {"Busybox", "name"},
        {"docker.io/library/busybox", "name"},
        {"localhost:5000/busybox", "name"},
        {":latest", "name"},
        {"busybox:", "tag"},
        {"busybox:.x", "tag"},
        {"busybox:-x", "tag"},
        {"busybox:a:b", "tag"},
        {"busybox:a/b", "/"},
        {"busybox@sha256:0123", "digest"},
        {"busybox@:0123456789abcdef0123456789abcdef", "digest"},
        {"busybox@sha256:0123456789abcdef0123456789abcdeg", "digest"},
        {"busybox@1sha:0123456789abcdef0123456789abcdef", "digest"},
        {"busybox@sha+:0123456789abcdef0123456789abcdef", "digest"},
        {"busybox@", "digest"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct st_image_ref ref;
        st_error err = {0};
        int r = st_name_image_ref_parse(bad[i].ref, &ref, &err);
        if (r != -EINVAL || strstr(err.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": r=%d msg=\"%s\", want -EINVAL about the %s", bad[i].ref, r, err.msg,
                     bad[i].why);
    }
    char tag[200] = "busybox:";
    repeat(tag + 8, 't', 128);
    struct st_image_ref ref;
    assert_int_equal(st_name_image_ref_parse(tag, &ref, NULL), 0);
    strcat(tag, "t");
    assert_int_equal(st_name_image_ref_parse(tag, &ref, NULL), -EINVAL);
    assert_int_equal(st_name_image_ref_parse(NULL, &ref, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_label),
        cmocka_unit_test(test_dns_subdomain),
        cmocka_unit_test(test_image_name),
        cmocka_unit_test(test_image_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
