/* test_names.c: the one rule for DNS labels and subdomains (RFC 1123);
 * image references are tested with the image store (test_image_ref.c). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_label),
        cmocka_unit_test(test_dns_subdomain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
