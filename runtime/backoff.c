/* backoff.c: CrashLoopBackOff delays (see backoff.h). No clock reads and no
 * I/O: the caller supplies times, so the unit tests run on a fake clock. */
#include "strata/backoff.h"

void st_backoff_init(struct st_backoff *b, long long base_ms, long long cap_ms, long long reset_ms)
{
    b->base_ms = base_ms > 0 ? base_ms : ST_BACKOFF_DEFAULT_BASE_MS;
    b->cap_ms = cap_ms > 0 ? cap_ms : ST_BACKOFF_DEFAULT_CAP_MS;
    if (b->cap_ms < b->base_ms)
        b->cap_ms = b->base_ms;
    b->reset_ms = reset_ms > 0 ? reset_ms : ST_BACKOFF_DEFAULT_RESET_MS;
    st_backoff_reset(b);
}

void st_backoff_reset(struct st_backoff *b)
{
    b->last_ms = 0;
    b->restarts = 0;
}

long long st_backoff_next(struct st_backoff *b, long long now_ms, long long ran_since_ms)
{
    if (now_ms - ran_since_ms >= b->reset_ms)
        st_backoff_reset(b);
    long long delay;
    if (b->last_ms == 0)
        delay = b->base_ms;
    else if (b->last_ms >= b->cap_ms / 2) /* doubling would pass the cap (or overflow) */
        delay = b->cap_ms;
    else
        delay = b->last_ms * 2;
    if (delay > b->cap_ms)
        delay = b->cap_ms;
    b->last_ms = delay;
    b->restarts++;
    return delay;
}
