/* clock.c: the two clocks strata-node reads: the monotonic one for every
 * timer and deadline (a wall clock step must not fire or stall them), and
 * the wall clock only for the timestamps pod statuses show a person. In a
 * VM the wall clock starts from the RTC (1 s resolution), so it can be up
 * to a second behind the host's, and a container would seem to start
 * before the host created its pod: the host's `clock` message steps it. */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t st_node_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Moves CLOCK_REALTIME by step_ms (the time it takes to read and set it
 * is microseconds, far below the tolerance). */
static int clock_step(int64_t step_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + step_ms * 1000000;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return clock_settime(CLOCK_REALTIME, &ts) < 0 ? -errno : 0;
}

void st_node_clock_sync(int64_t host_ms, int64_t age_ms, bool may_step, bool first)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ours = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* > 0: we are behind. The host's time now is at least host_ms, and at
     * most host_ms + age_ms (plus the channel's delay, which only makes us
     * more behind): a step never takes us past the host. */
    int64_t offset = host_ms - ours;
    if (age_ms < 0)
        age_ms = 0;
    int64_t step = offset > 0 ? offset : (offset + age_ms < 0 ? offset + age_ms : 0);
    if (step <= ST_NODE_CLOCK_TOLERANCE_MS && step >= -ST_NODE_CLOCK_TOLERANCE_MS) {
        if (offset > ST_NODE_CLOCK_TOLERANCE_MS || offset < -ST_NODE_CLOCK_TOLERANCE_MS)
            st_node_log("host clock differs by %+lld ms, but its message may have waited %lld "
                        "ms here: not stepping",
                        (long long)offset, (long long)age_ms);
        else if (first)
            st_node_log("clock within %+lld ms of the host's", (long long)offset);
        return;
    }
    if (!may_step) {
        st_node_log("host clock differs by %+lld ms; not stepping the clock: strata-node sets it "
                    "only as the agent of its VM (not with --listen)",
                    (long long)offset);
        return;
    }
    int r = clock_step(step);
    if (r < 0)
        st_node_log("cannot step the clock by %+lld ms to the host's: %s", (long long)step,
                    strerror(-r));
    else
        st_node_log("clock stepped by %+lld ms to the host's (offset %+lld ms, message up to %lld "
                    "ms old)",
                    (long long)step, (long long)offset, (long long)age_ms);
}
