/* error.c: building st_error values (see error.h for the contract). */
#include "strata/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int st_error_vset(st_error *err, int code, int with_strerror, const char *fmt, va_list ap)
{
    if (code <= 0)
        code = code < 0 ? -code : EINVAL;
    if (err == NULL || err->code != 0)
        return -code;
    err->code = code;
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (with_strerror && n >= 0 && (size_t)n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
    return -code;
}

int st_error_set(st_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = st_error_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

int st_error_sys(st_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = st_error_vset(err, code, 1, fmt, ap);
    va_end(ap);
    return r;
}

void st_error_clear(st_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

void st_error_prefix(st_error *err, const char *fmt, ...)
{
    if (err == NULL || err->code == 0)
        return;
    char prefix[256], old[ST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t plen = strlen(prefix);
    if (plen >= sizeof(err->msg))
        plen = sizeof(err->msg) - 1;
    memcpy(err->msg, prefix, plen);
    size_t olen = strnlen(old, sizeof(err->msg) - 1 - plen);
    memcpy(err->msg + plen, old, olen);
    err->msg[plen + olen] = '\0';
}
