/* clock.h: the monotonic clock, for durations, deadlines and back-offs (a
 * wall clock step never moves them). Wall-clock timestamps are time.h's. */
#ifndef STRATA_CLOCK_H
#define STRATA_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now, in nanoseconds and in milliseconds. */
int64_t st_clock_ns(void);
int64_t st_clock_ms(void);

/* ms from now on clock (CLOCK_REALTIME for a condition variable with the
 * default attributes, CLOCK_MONOTONIC for one set to it), as the absolute
 * time pthread_cond_timedwait takes. */
struct timespec st_clock_deadline(clockid_t clock, int64_t ms);

#endif
