/* clock.h: the monotonic clock, for durations, deadlines and back-offs (a
 * wall clock step never moves them). Wall-clock timestamps are time.h's. */
#ifndef STRATA_CLOCK_H
#define STRATA_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds and in milliseconds. */
int64_t st_clock_ns(void);
int64_t st_clock_ms(void);

#endif
