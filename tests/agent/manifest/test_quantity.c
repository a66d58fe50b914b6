/* test_quantity.c: Kubernetes quantities to millicores and bytes, including
 * Kubernetes' rounding up and the inputs it refuses. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "strata/quantity.h"
#include "testutil.h"

struct good {
    const char *text;
    int64_t value;
};

static void test_cpu_good(void **state)
{
    (void)state;
    static const struct good cases[] = {
        {"250m", 250},    {"0.5", 500}, {"1", 1000},      {"2.5", 2500},   {"0.1", 100},
        {"1.0001", 1001}, {"0", 0},     {"100m", 100},    {"1500u", 2},    {"1n", 1},
        {"+2", 2000},     {".5", 500},  {"1e3", 1000000}, {"2k", 2000000}, {"0.0000", 0},
        {"1Ki", 1024000}, {"5.", 5000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st_error err = {0};
        int64_t v = -1;
        int r = st_quantity_parse_millis(cases[i].text, &v, &err);
        if (r != 0 || v != cases[i].value)
            fail_msg("cpu %s: r=%d value=%lld, want %lld (%s)", cases[i].text, r, (long long)v,
                     (long long)cases[i].value, err.msg);
    }
}

static void test_bytes_good(void **state)
{
    (void)state;
    static const struct good cases[] = {
        {"64Mi", 67108864},
        {"1Gi", 1073741824},
        {"128974848", 128974848},
        {"129e6", 129000000},
        {"129M", 129000000},
        {"123k", 123000},
        {"1Ti", 1099511627776LL},
        {"0", 0},
        {"0.5", 1},
        {"1.5Ki", 1536},
        {"100m", 1},
        {"1E", 1000000000000000000LL},
        {"7Ei", 8070450532247928832LL},
        {"1E-3", 1},
        {"9223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st_error err = {0};
        int64_t v = -1;
        int r = st_quantity_parse_bytes(cases[i].text, &v, &err);
        if (r != 0 || v != cases[i].value)
            fail_msg("bytes %s: r=%d value=%lld, want %lld (%s)", cases[i].text, r, (long long)v,
                     (long long)cases[i].value, err.msg);
    }
}

struct bad {
    const char *text;
    const char *why;
};

static void test_bad(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"12Q", "unknown suffix"},
        {"-1", "negative"},
        {"", "empty"},
        {"1.5.3", "more than one decimal point"},
        {"8Ei", "too large"},
        {"9223372036854775808", "too large"},
        {"1e400", "too large"},
        {"Mi", "does not start with a number"},
        {"1K", "unknown suffix"},
        {"1 Mi", "unknown suffix"},
        {"1e", "unknown suffix"},
        {"1000000000000000000000000000000000000000", "too many digits"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        st_error err = {0};
        int64_t v = 0;
        int r = st_quantity_parse_bytes(cases[i].text, &v, &err);
        if (r != -EINVAL || strstr(err.msg, cases[i].why) == NULL ||
            strstr(err.msg, "invalid quantity") == NULL)
            fail_msg("bytes \"%s\": r=%d msg=\"%s\", want -EINVAL mentioning \"%s\"", cases[i].text,
                     r, err.msg, cases[i].why);
    }
    st_error err = {0};
    int64_t v = 0;
    assert_int_equal(st_quantity_parse_millis("9223372036854776", &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "too large"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_good),
        cmocka_unit_test(test_bytes_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
