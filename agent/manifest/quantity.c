/* quantity.c: Kubernetes resource quantities to integers (see quantity.h).
 * The grammar is Kubernetes' (sign, decimal number, then a binary suffix,
 * a decimal SI suffix or a decimal exponent); results round up like
 * Quantity.Value()/MilliValue(). It must never accept what Kubernetes refuses. */
#include "strata/quantity.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

typedef unsigned __int128 st_u128;

/* More significant digits than this cannot change a whole millicore or byte
 * of any value that fits in int64, but they could overflow the arithmetic. */
#define ST_QUANTITY_MAX_DIGITS 36

struct st_suffix {
    const char *text;
    int shift; /* power of two */
    int e10;   /* power of ten */
};

static const struct st_suffix st_suffixes[] = {
    {"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0}, {"Pi", 50, 0},
    {"Ei", 60, 0}, {"n", 0, -9},  {"u", 0, -6},  {"m", 0, -3},  {"k", 0, 3},
    {"M", 0, 6},   {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},  {"E", 0, 18},
};

static int st_quantity_bad(st_error *err, const char *text, const char *why)
{
    return st_error_set(err, EINVAL,
                        "invalid quantity \"%s\": %s (write e.g. \"250m\", \"0.5\", \"64Mi\", "
                        "\"1G\")",
                        text, why);
}

/* Exponent suffix "e3", "E-2": only when digits follow, since "E" alone is exa. */
static bool st_quantity_exponent(const char *s, int *e10)
{
    if (*s != 'e' && *s != 'E')
        return false;
    s++;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s))
        return false;
    long v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v < 100000)
            v = v * 10 + (*s - '0');
    }
    if (*s != '\0')
        return false;
    *e10 = (int)(sign * v);
    return true;
}

/* value = text * 10^scale, rounded up to an integer. */
static int st_quantity_parse(const char *text, int scale, int64_t *out, st_error *err)
{
    if (text == NULL || *text == '\0')
        return st_quantity_bad(err, "", "it is empty");
    const char *p = text;
    if (*p == '-')
        return st_quantity_bad(err, text, "it must not be negative");
    if (*p == '+')
        p++;

    st_u128 mant = 0;
    int digits = 0, sig = 0, e10 = scale;
    bool dot = false;
    for (;; p++) {
        if (*p == '.') {
            if (dot)
                return st_quantity_bad(err, text, "it has more than one decimal point");
            dot = true;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            break;
        digits++;
        if (mant == 0 && *p == '0') {
            if (dot)
                e10--;
            continue;
        }
        if (++sig > ST_QUANTITY_MAX_DIGITS)
            return st_quantity_bad(err, text, "it has too many digits");
        mant = mant * 10 + (st_u128)(*p - '0');
        if (dot)
            e10--;
    }
    if (digits == 0)
        return st_quantity_bad(err, text, "it does not start with a number");

    int shift = 0, exp = 0;
    if (*p != '\0') {
        const struct st_suffix *found = NULL;
        for (size_t i = 0; i < sizeof(st_suffixes) / sizeof(st_suffixes[0]); i++) {
            if (strcmp(p, st_suffixes[i].text) == 0)
                found = &st_suffixes[i];
        }
        if (found) {
            shift = found->shift;
            exp = found->e10;
        } else if (!st_quantity_exponent(p, &exp)) {
            return st_quantity_bad(err, text,
                                   "unknown suffix (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, "
                                   "Ti, Pi, Ei or an exponent such as e6)");
        }
    }
    e10 += exp;
    if (mant == 0) {
        *out = 0;
        return 0;
    }

    const st_u128 limit = (st_u128)INT64_MAX;
    for (int i = 0; i < shift; i++) {
        if (mant > ((st_u128)-1) / 2)
            return st_quantity_bad(err, text, "it is too large");
        mant *= 2;
    }
    if (e10 >= 0) {
        for (int i = 0; i < e10 && mant <= limit; i++)
            mant *= 10;
    } else if (e10 < -38) {
        mant = 1; /* far below one unit: rounds up to one */
    } else {
        st_u128 div = 1;
        for (int i = 0; i < -e10; i++)
            div *= 10;
        st_u128 q = mant / div;
        mant = q + (mant % div != 0);
    }
    if (mant > limit)
        return st_quantity_bad(err, text, "it is too large");
    *out = (int64_t)mant;
    return 0;
}

int st_quantity_parse_millis(const char *text, int64_t *millis, st_error *err)
{
    return st_quantity_parse(text, 3, millis, err);
}

int st_quantity_parse_bytes(const char *text, int64_t *bytes, st_error *err)
{
    return st_quantity_parse(text, 0, bytes, err);
}
