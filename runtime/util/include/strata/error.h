/* error.h: the one error contract every Strata library follows.
 * A fallible function takes `st_error *err` last, returns 0 on success or a
 * negative errno-style code, and fills err with a message a person can act on.
 * Building the error returns the negative code, so each failure path is one
 * statement: `return st_error_set(err, EINVAL, "...")`. Never exit() here. */
#ifndef STRATA_ERROR_H
#define STRATA_ERROR_H

#include <stdarg.h>

#define ST_ERROR_MSG_MAX 1024

typedef struct st_error {
    int code;                   /* positive errno value, 0 when no error */
    char msg[ST_ERROR_MSG_MAX]; /* what went wrong and what to do */
} st_error;

/* Fill err (if not NULL) with code and the formatted message; returns -code
 * (-EINVAL when code is 0). An error already set is kept: the first error is
 * the one reported, later rollback failures do not overwrite it. */
int st_error_set(st_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like st_error_set, and appends ": strerror(code)". Use after a failed
 * system call with errno as code. */
int st_error_sys(st_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int st_error_vset(st_error *err, int code, int with_strerror, const char *fmt, va_list ap);

/* Forget a previous error, so err can be reused. */
void st_error_clear(st_error *err);

/* Prefix the existing message with more context ("node n1: " + msg). */
void st_error_prefix(st_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
