/* test_hex.c: lower-case hex of known bytes (the empty string too), and
 * random hex of the length asked, differing between calls. */
#include <errno.h>
#include <string.h>

#include "strata/hex.h"
#include "testutil.h"

static void test_encode(void **state)
{
    (void)state;
    char out[16];
    st_hex_encode("", 0, out);
    assert_string_equal(out, "");
    static const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
    st_hex_encode(bytes, sizeof(bytes), out);
    assert_string_equal(out, "000fa5ff10");
}

static void test_random(void **state)
{
    (void)state;
    char a[65], b[65];
    st_error err = {0};
    assert_int_equal(st_hex_random(32, a, &err), 0);
    assert_int_equal(st_hex_random(32, b, &err), 0);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_not_equal(a, b);
    char big[200];
    assert_int_equal(st_hex_random(65, big, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
