/* change_tail.c: the shared store's change feed, tailed into the watch
 * ring (change_tail.h says why). One thread: it waits for the store's
 * notification (or ST_SERVER_CHANGE_POLL_MS, whichever comes first), reads
 * every change after the last one it handed on, in resourceVersion order,
 * feeds them to the ring, and kicks the loop when one came from another
 * host (this process's own writes kicked it already). It also trims the
 * feed now and then; every stratad does, which is harmless.
 *
 * The store guarantees the order (a reader that sees rv N sees every
 * smaller one), so reading "after the last rv handed on" never skips a
 * change; the ring drops a change not newer than its newest (its seed and
 * the feed may overlap at start). A feed trimmed past the tail (this host
 * away from the database for longer than ST_STORE_CHANGES_KEEP_S) is
 * logged and read on from what is kept: watches miss those changes, the
 * loop's next pass reads the store as it is. */
#include "change_tail.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "server_priv.h"
#include "strata/clock.h"
#include "strata/store_changes.h"
#include "watch_ring.h"

/* Changes read per query: a long backlog is read in pages. */
#define TAIL_PAGE 500

struct st_server_change_tail {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;                /* [lock] */
    unsigned long long after; /* the newest change handed on (thread only) */
    bool others;              /* this read saw another host's change (thread only) */
    int last_err;             /* the last error logged, so a lasting one is logged once */
};

typedef struct feed_arg {
    struct st_server *d;
    struct st_server_change_tail *t;
} feed_arg;

static void feed(void *arg, const char *type, json_t *obj)
{
    feed_arg *f = arg;
    if (st_server_watch_feed(f->d, type, obj) == 2)
        f->t->others = true;
}

static void log_once(struct st_server_change_tail *t, int code, const char *what, const char *msg)
{
    if (code == t->last_err)
        return;
    t->last_err = code;
    if (code)
        st_server_log("change feed: %s: %s", what, msg);
    else
        st_server_log("change feed: read again");
}

/* Everything after t->after, page by page. */
static void read_all(struct st_server *d, struct st_server_change_tail *t)
{
    feed_arg f = {d, t};
    t->others = false;
    for (;;) {
        st_error err = {0};
        unsigned long long last = t->after;
        int n = st_store_changes_since(d->store, t->after, TAIL_PAGE, feed, &f, &last, &err);
        if (n == -ERANGE) {
            st_server_log("change feed: %s; watches missed the changes in between", err.msg);
            t->after = last;
            t->others = true;
            continue;
        }
        if (n < 0) {
            log_once(t, -n, "reading", err.msg);
            break;
        }
        log_once(t, 0, NULL, NULL);
        t->after = last;
        if (n < TAIL_PAGE)
            break;
    }
    if (t->others)
        st_server_kick(d);
}

static bool stopping(struct st_server_change_tail *t)
{
    pthread_mutex_lock(&t->lock);
    bool s = t->stop;
    pthread_mutex_unlock(&t->lock);
    return s;
}

/* After a failed wait (the database away): a pause the stop ends. */
static void pause_ms(struct st_server_change_tail *t, int ms)
{
    struct timespec dl = st_clock_deadline(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&t->lock);
    if (!t->stop)
        pthread_cond_timedwait(&t->cond, &t->lock, &dl);
    pthread_mutex_unlock(&t->lock);
}

static void *tail_main(void *arg)
{
    struct st_server *d = arg;
    struct st_server_change_tail *t = d->change_tail;
    int64_t next_trim = st_clock_ns() + (int64_t)ST_SERVER_CHANGE_TRIM_S * 1000000000;
    while (!stopping(t)) {
        st_error err = {0};
        /* 1, 0 or an error: the feed is read in every case (a
         * notification is a hint; the poll covers a lost one). */
        int w = st_store_changes_wait(d->store, ST_SERVER_CHANGE_POLL_MS, &err);
        if (w < 0)
            log_once(t, -w, "waiting", err.msg);
        if (stopping(t))
            break;
        read_all(d, t);
        if (st_clock_ns() >= next_trim) {
            next_trim = st_clock_ns() + (int64_t)ST_SERVER_CHANGE_TRIM_S * 1000000000;
            st_error te = {0};
            if (st_store_changes_trim(d->store, ST_STORE_CHANGES_KEEP_S, &te) < 0)
                st_server_log("change feed: trimming: %s", te.msg);
        }
        if (w < 0)
            pause_ms(t, ST_SERVER_CHANGE_POLL_MS);
    }
    return NULL;
}

int st_server_change_tail_start(struct st_server *d, st_error *err)
{
    if (d->ring == NULL)
        return st_error_set(err, EINVAL, "the change feed's tail needs the watch ring");
    if (d->change_tail)
        return 0;
    /* A store without a feed says so now, not in the thread. */
    unsigned long long head = 0;
    int r = st_store_changes_head(d->store, &head, err);
    if (r < 0)
        return r;
    struct st_server_change_tail *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    /* From where the ring's knowledge ends (its seed, or what the hook
     * fed it), not the feed's head: a change between the two would be
     * lost, while one before is only dropped by the ring. */
    t->after = st_server_watch_head(d);
    d->change_tail = t;
    st_server_watch_set_external(d, true);
    r = pthread_create(&t->thread, NULL, tail_main, d);
    if (r != 0) {
        st_server_watch_set_external(d, false);
        d->change_tail = NULL;
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return st_error_sys(err, r, "starting the change feed's tail");
    }
    return 0;
}

void st_server_change_tail_stop(struct st_server *d)
{
    if (d == NULL || d->change_tail == NULL)
        return;
    struct st_server_change_tail *t = d->change_tail;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    d->change_tail = NULL;
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
