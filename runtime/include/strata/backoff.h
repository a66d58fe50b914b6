/* backoff.h: the restart delay of a crashing container (Kubernetes
 * CrashLoopBackOff): base delay doubling up to a cap, forgotten once the
 * container ran long enough. Pure arithmetic: time is passed in, no clock. */
#ifndef STRATA_BACKOFF_H
#define STRATA_BACKOFF_H

#define ST_BACKOFF_DEFAULT_BASE_MS  (10LL * 1000)
#define ST_BACKOFF_DEFAULT_CAP_MS   (5LL * 60 * 1000)
#define ST_BACKOFF_DEFAULT_RESET_MS (10LL * 60 * 1000)

struct st_backoff {
    long long base_ms;  /* first delay */
    long long cap_ms;   /* the delay never exceeds this */
    long long reset_ms; /* a run at least this long forgets earlier crashes */
    long long last_ms;  /* the delay returned last, 0 = none yet */
    int restarts;       /* restarts counted since the last reset */
};

/* Zero or negative arguments take the defaults (10 s, 5 min, 10 min). A cap
 * below base is raised to base. */
void st_backoff_init(struct st_backoff *b, long long base_ms, long long cap_ms, long long reset_ms);

/* The container that started at ran_since_ms exited at now_ms: returns how
 * long to wait before starting it again (base, 2*base, ... up to cap; base
 * again when it had run for reset_ms or more). */
long long st_backoff_next(struct st_backoff *b, long long now_ms, long long ran_since_ms);

/* Forget every crash (e.g. the pod spec changed). */
void st_backoff_reset(struct st_backoff *b);

#endif
