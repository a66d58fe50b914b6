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

struct timespec st_clock_deadline(clockid_t clock, int64_t ms)
{
    struct timespec dl;
    clock_gettime(clock, &dl);
    dl.tv_sec += (time_t)(ms / 1000);
    dl.tv_nsec += (long)(ms % 1000) * 1000000;
    dl.tv_sec += dl.tv_nsec / 1000000000;
    dl.tv_nsec %= 1000000000;
    return dl;
}
