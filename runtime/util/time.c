/* time.c: see time.h. Written with gmtime_r and strftime; read by hand
 * rather than with strptime, which takes single digits and blanks where RFC
 * 3339 requires two digits, and stops before the fraction and the zone. */
#include "strata/time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

char *st_time_rfc3339(time_t t, char out[ST_TIME_RFC3339_LEN])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, ST_TIME_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, ST_TIME_RFC3339_LEN, "1970-01-01T00:00:00Z");
    return out;
}

char *st_time_now_rfc3339(char out[ST_TIME_RFC3339_LEN])
{
    return st_time_rfc3339(time(NULL), out);
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int bad_time(const char *s, st_error *err)
{
    return st_error_set(err, EINVAL, "\"%s\" is not an RFC 3339 time (like 2024-05-01T12:00:00Z)",
                        s);
}

/* The time in *out, and the fraction's first three digits (milliseconds)
 * in *ms. */
static int parse(const char *text, time_t *out, int *ms, st_error *err)
{
    const char *s = text ? text : "";
    /* YYYY-MM-DDTHH:MM:SS, then [.fraction], then Z or +hh:mm / -hh:mm */
    if (strnlen(s, 19) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return bad_time(s, err);
    struct tm tm = {.tm_year = digits(s, 4) - 1900,
                    .tm_mon = digits(s + 5, 2) - 1,
                    .tm_mday = digits(s + 8, 2),
                    .tm_hour = digits(s + 11, 2),
                    .tm_min = digits(s + 14, 2),
                    .tm_sec = digits(s + 17, 2)};
    if (tm.tm_year < -1900 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour < 0 ||
        tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 59)
        return bad_time(s, err);
    const char *rest = s + 19;
    *ms = 0;
    if (*rest == '.') {
        const char *frac = ++rest;
        for (int scale = 100; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
            *ms += (*rest - '0') * scale;
        if (rest == frac)
            return bad_time(s, err);
    }
    long offset = 0;
    if (*rest == 'Z' || *rest == 'z') {
        rest++;
    } else if ((*rest == '+' || *rest == '-') && strnlen(rest, 6) == 6 && rest[3] == ':') {
        int hh = digits(rest + 1, 2), mm = digits(rest + 4, 2);
        if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
            return bad_time(s, err);
        offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
        rest += 6;
    } else if (*rest == '\0') {
        return st_error_set(err, EINVAL,
                            "\"%s\" is not an RFC 3339 time: it has no time zone (end it with Z "
                            "or +hh:mm)",
                            s);
    }
    int mday = tm.tm_mday, mon = tm.tm_mon;
    time_t t = timegm(&tm);
    /* timegm moves 31 February to March: a day the month lacks is refused */
    if (*rest != '\0' || tm.tm_mday != mday || tm.tm_mon != mon)
        return bad_time(s, err);
    *out = t - offset;
    return 0;
}

int st_time_parse_rfc3339(const char *text, time_t *out, st_error *err)
{
    int ms;
    return parse(text, out, &ms, err);
}

int st_time_parse_rfc3339_ms(const char *text, int64_t *out, st_error *err)
{
    time_t t;
    int ms;
    int r = parse(text, &t, &ms, err);
    if (r == 0)
        *out = (int64_t)t * 1000 + ms;
    return r;
}
