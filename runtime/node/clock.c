/* clock.c: the monotonic clock strata-node reads for every timer and
 * deadline (a wall clock step must not fire or stall them). The wall clock
 * is read only for the timestamps pod statuses show a person, through
 * util's st_time_now_rfc3339. */
#include "node.h"

#include <time.h>

int64_t st_node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
