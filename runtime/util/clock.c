/* clock.c: the monotonic clock (clock.h). */
#include "strata/clock.h"

#include <time.h>

int64_t st_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t st_clock_ms(void)
{
    return st_clock_ns() / 1000000;
}
