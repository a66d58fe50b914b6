/* test_time.c: RFC 3339 written one way (UTC, seconds, "Z", whatever TZ
 * says) and read in all its forms (Z, offsets, fractions), refusing what is
 * not RFC 3339 rather than guessing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/time.h"
#include "testutil.h"

#define NOON 1714564800 /* 2024-05-01T12:00:00Z */

static void test_write(void **state)
{
    (void)state;
    /* the zone of the process must not matter */
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    char buf[ST_TIME_RFC3339_LEN];
    assert_string_equal(st_time_rfc3339(NOON, buf), "2024-05-01T12:00:00Z");
    assert_string_equal(st_time_rfc3339(0, buf), "1970-01-01T00:00:00Z");
    assert_string_equal(st_time_rfc3339(951782400, buf), "2000-02-29T00:00:00Z");
    unsetenv("TZ");
    tzset();

    time_t before = time(NULL);
    st_time_now_rfc3339(buf);
    time_t after = time(NULL), t = 0;
    st_error err = {0};
    assert_int_equal(st_time_parse_rfc3339(buf, &t, &err), 0);
    assert_true(t >= before && t <= after);
    assert_int_equal(strlen(buf), 20);
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        long long t;
    } good[] = {
        {"2024-05-01T12:00:00Z", NOON},
        {"2024-05-01t12:00:00z", NOON},
        {"2024-05-01T11:59:58.123456Z", NOON - 2},
        {"2024-05-01T11:59:59.999999999Z", NOON - 1},
        {"2024-05-01T14:00:00+02:00", NOON},
        {"2024-05-01T11:30:00-00:30", NOON},
        {"2024-05-01T07:15:00.5-04:45", NOON},
        {"2024-05-02T00:00:00+12:00", NOON},
        {"2000-02-29T00:00:00Z", 951782400},
        {"1970-01-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        st_error err = {0};
        time_t t = -1;
        int r = st_time_parse_rfc3339(good[i].text, &t, &err);
        if (r != 0 || (long long)t != good[i].t)
            fail_msg("%s: r=%d t=%lld, want %lld (%s)", good[i].text, r, (long long)t, good[i].t,
                     err.msg);
    }
}

/* Milliseconds: the fraction kept to three digits (more are dropped,
 * fewer scaled), the zone applied, and the same refusals. */
static void test_parse_ms(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(st_time_parse_rfc3339_ms("2026-12-02T02:24:15.123456Z", &ms, NULL), 0);
    assert_int_equal(ms, 1796178255123LL);
    assert_int_equal(st_time_parse_rfc3339_ms("2026-12-02T02:24:15.5Z", &ms, NULL), 0);
    assert_int_equal(ms, 1796178255500LL);
    assert_int_equal(st_time_parse_rfc3339_ms("2026-12-02T02:24:15Z", &ms, NULL), 0);
    assert_int_equal(ms, 1796178255000LL);
    assert_int_equal(st_time_parse_rfc3339_ms("2026-12-02T03:24:15.25+01:00", &ms, NULL), 0);
    assert_int_equal(ms, 1796178255250LL);
    assert_int_equal(st_time_parse_rfc3339_ms("2026-12-02T02:24:15.Z", &ms, NULL), -EINVAL);
    assert_int_equal(st_time_parse_rfc3339_ms(NULL, &ms, NULL), -EINVAL);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "yesterday",
        "",
        "2024-05-01",
        "2024-05-01 12:00:00Z",
        "2024-5-01T12:00:00Z",
        "2024-05-01T12:00:0Z",
        "2024-05-01T 2:00:00Z",
        "2024-02-30T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-05-01T12:00:60Z",
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00+2:00",
        "2024-05-01T12:00:00+02",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00+24:00",
        "2024-05-01T12:00:00ZZ",
        "2024-05-01T12:00:00Z ",
        "2024-05-01T12:00:00 UTC",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st_error err = {0};
        time_t t = 42;
        int r = st_time_parse_rfc3339(bad[i], &t, &err);
        if (r != -EINVAL || strstr(err.msg, "RFC 3339") == NULL || t != 42)
            fail_msg("\"%s\": r=%d t=%lld msg=\"%s\", want -EINVAL", bad[i], r, (long long)t,
                     err.msg);
    }
    st_error err = {0};
    time_t t = 0;
    assert_int_equal(st_time_parse_rfc3339("2024-05-01T12:00:00", &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no time zone"));
    st_error_clear(&err);
    assert_int_equal(st_time_parse_rfc3339(NULL, &t, &err), -EINVAL);
    assert_int_equal(st_time_parse_rfc3339("junk", &t, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_parse_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
