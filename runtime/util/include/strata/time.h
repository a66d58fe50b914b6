/* time.h: timestamps as Kubernetes writes them (RFC 3339), with one rule
 * for every layer: UTC, whole seconds, a "Z" ("2024-05-01T12:00:00Z", as
 * metav1.Time). Parsing takes any RFC 3339 time: "Z" or a +hh:mm/-hh:mm
 * offset, with or without fractional seconds (dropped).
 * It must not read a time zone from the environment (TZ) nor write local
 * time: what it writes is compared as text (creation order) and read back by
 * other programs. Durations and monotonic deadlines are not its business. */
#ifndef STRATA_TIME_H
#define STRATA_TIME_H

#include <stdint.h>
#include <time.h>

#include "strata/error.h"

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL, with space to spare for a
 * five-digit year. */
#define ST_TIME_RFC3339_LEN 32

/* t as RFC 3339 in out; returns out. */
char *st_time_rfc3339(time_t t, char out[ST_TIME_RFC3339_LEN]);

/* The wall clock now, as st_time_rfc3339; returns out. */
char *st_time_now_rfc3339(char out[ST_TIME_RFC3339_LEN]);

/* Parses an RFC 3339 time into seconds since the epoch. -EINVAL (err says
 * which text) for anything else, a missing zone included. */
int st_time_parse_rfc3339(const char *text, time_t *out, st_error *err);
/* The same, in milliseconds since the epoch, the fraction kept to the
 * millisecond (a Lease's renewTime is "2026-12-02T02:24:15.123456Z"). */
int st_time_parse_rfc3339_ms(const char *text, int64_t *out, st_error *err);

#endif
