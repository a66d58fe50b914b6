/* clock.c: the two clocks strata-node reads: the monotonic one for every
 * timer and deadline (a wall clock step must not fire or stall them), and
 * the wall clock only for the timestamps pod statuses show a person. */
#include "node.h"

#include <stdio.h>
#include <time.h>

int64_t st_node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void st_node_rfc3339_now(char buf[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 40 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}
