/* itest_store_lease_pg.c: Leases on a REAL PostgreSQL (pg_embedded in a
 * temporary state dir, stopped in the group teardown, which cmocka runs
 * also when a test fails), through several st_store handles, each its own
 * connection, as several stratads would hold them:
 * - racing: threads on four connections try one lease thousands of times
 *   for 5 s, stalling now and then so it changes hands; in the order PostgreSQL
 *   serialized the writes (resourceVersion), a new holder only ever took
 *   it after the old one's renewTime + duration on the database's clock,
 *   and a refused try always saw a valid lease held by someone else;
 * - the times are the database's: a connection whose now() runs an hour
 *   ahead (a function shadowing pg_catalog.now on its search_path) stamps
 *   and judges leases an hour ahead of this host's clock;
 * - expiry, transitions, release, the watch hook, and -ST_ESTORE_DOWN
 *   while the server is stopped. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "testutil.h"
#include "strata/pg_embedded.h"
#include "strata/store.h"
#include "strata/store_lease.h"
#include "pg_fx.h"

#define NS      "kube-node-lease"
#define STORES  4
#define HOUR_MS 3600000LL

typedef struct fixture {
    pg_fx db;
    st_store *s[STORES];
    st_store *ahead; /* its now() is an hour ahead */
} fixture;

static fixture fx;

static int group_teardown(void **state);

static int group_setup(void **state)
{
    if (pg_fx_start(&fx.db, "strata-leasetest") < 0)
        return pg_fx_setup_failed(state, group_teardown);
    for (int i = 0; i < STORES; i++)
        if (pg_fx_open(&fx.db, false, &fx.s[i]) < 0)
            return pg_fx_setup_failed(state, group_teardown);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < STORES; i++) {
        st_store_close(fx.s[i]);
        fx.s[i] = NULL;
    }
    st_store_close(fx.ahead);
    fx.ahead = NULL;
    pg_fx_stop(&fx.db);
    return 0;
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int try_on(st_store *s, const char *name, const char *holder, int duration_ms,
                  st_lease_state *l)
{
    st_error err = {0};
    int r = st_store_lease_try(s, NS, name, holder, duration_ms, l, &err);
    if (r < 0)
        fail_msg("try %s as %s: %s", name, holder, err.msg);
    return r;
}

static void record(void *arg, const char *type, json_t *obj)
{
    json_array_append_new(arg, json_pack("[s, O]", type, obj));
}

/* host-b tries "life"; a refusal must come from host-a's valid lease. */
typedef struct takeover {
    st_lease_state *a, *b;
    int refused, early;
} takeover;

static bool take_b(void *arg)
{
    takeover *tk = arg;
    if (try_on(fx.s[1], "life", "host-b", 1000, tk->b) == 1)
        return true;
    tk->refused++;
    if (strcmp(tk->b->holder, "host-a") != 0 || tk->b->db_now_ms > tk->a->renew_ms + 1000)
        tk->early++;
    return false;
}

/* Taken, refused, renewed, expired and taken over, released; the hook sees
 * each write, never a refused try. */
static void test_lifecycle(void **state)
{
    (void)state;
    assert_non_null(fx.s[0]);
    json_t *seen = json_array();
    st_store_set_watch_hook(fx.s[0], record, seen);
    st_lease_state a, b;
    assert_int_equal(try_on(fx.s[0], "life", "host-a", 1000, &a), 1);
    assert_int_equal(a.transitions, 0);
    assert_int_equal(a.acquire_ms, a.renew_ms);
    assert_int_equal(a.duration_ms, 1000);
    assert_int_equal(try_on(fx.s[1], "life", "host-b", 1000, &b), 0);
    assert_string_equal(b.holder, "host-a");
    assert_int_equal(b.resource_version, a.resource_version);
    assert_int_equal(try_on(fx.s[0], "life", "host-a", 1000, &a), 1);
    assert_int_equal(json_array_size(seen), 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(seen, 0), 0)), "ADDED");
    assert_string_equal(json_string_value(json_array_get(json_array_get(seen, 1), 0)), "MODIFIED");

    /* host-a stops renewing: host-b gets it once a second has passed on the
     * database's clock, and not before */
    takeover tk = {.a = &a, .b = &b};
    assert_true(st_test_wait_until(take_b, &tk, 10000, 20));
    assert_int_equal(tk.early, 0);
    assert_true(tk.refused > 0);
    assert_true(b.acquire_ms >= a.renew_ms + 1000);
    assert_int_equal(b.acquire_ms, b.renew_ms);
    assert_int_equal(b.transitions, 1);
    /* the hook is on s[0]: host-b's write went through s[1] */
    assert_int_equal(json_array_size(seen), 2);

    st_error err = {0};
    assert_int_equal(st_store_lease_release(fx.s[0], NS, "life", "host-a", &a, &err), 0);
    assert_string_equal(a.holder, "host-b");
    assert_int_equal(json_array_size(seen), 2);
    assert_int_equal(st_store_lease_release(fx.s[1], NS, "life", "host-b", &b, &err), 1);
    assert_false(b.held);
    assert_int_equal(try_on(fx.s[0], "life", "host-a", 1000, &a), 1);
    assert_int_equal(a.transitions, 2);
    assert_int_equal(json_array_size(seen), 3);

    /* a Kubernetes-shaped object with microsecond times */
    json_t *o = NULL;
    assert_int_equal(st_store_get(fx.s[2], "Lease", NS, "life", &o, &err), 0);
    json_t *spec = json_object_get(o, "spec");
    const char *renew = json_string_value(json_object_get(spec, "renewTime"));
    assert_non_null(renew);
    assert_int_equal(strlen(renew), strlen("2026-12-02T02:06:17.123456Z"));
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
                        "coordination.k8s.io/v1");
    json_decref(o);
    st_lease_state g;
    assert_int_equal(st_store_lease_get(fx.s[3], NS, "life", &g, &err), 0);
    assert_int_equal(g.renew_ms, a.renew_ms);
    assert_int_equal(g.resource_version, a.resource_version);
    st_error e2 = {0};
    assert_int_equal(st_store_lease_get(fx.s[3], NS, "none", &g, &e2), -ENOENT);
    assert_true(g.db_now_ms > 0);
    st_store_set_watch_hook(fx.s[0], NULL, NULL);
    json_decref(seen);
}

/* ---- the race ---- */

#define RACE_MS       5000
#define RACE_DURATION 1000 /* ms: the lease's */
#define RACE_HOLD_MS  300  /* a holder renews this long, then stalls */
#define RACE_STALL_MS 1300 /* longer than the lease: someone takes it */
#define RACE_MAX      20000

typedef struct outcome {
    int r;
    int who;
    st_lease_state l;
} outcome;

typedef struct racer {
    int who;
    char holder[16];
    outcome *out;
    size_t n;
    int failures;
    char failure[ST_ERROR_MSG_MAX];
} racer;

/* The workload's pauses (a stalled stratad, a retry interval), not a
 * wait for a condition. */
static void nap_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* Tries as fast as its connection allows; after holding the lease for
 * RACE_HOLD_MS it stalls (a paused stratad) so the lease changes hands. */
static void *race(void *arg)
{
    racer *rc = arg;
    int64_t end = realtime_ms() + RACE_MS, held_since = 0;
    unsigned seed = (unsigned)rc->who * 7919u;
    while (realtime_ms() < end && rc->n < RACE_MAX) {
        st_error err = {0};
        outcome *o = &rc->out[rc->n];
        o->who = rc->who;
        o->r =
            st_store_lease_try(fx.s[rc->who], NS, "race", rc->holder, RACE_DURATION, &o->l, &err);
        if (o->r < 0) {
            if (rc->failures++ == 0)
                snprintf(rc->failure, sizeof(rc->failure), "%s", err.msg);
            continue;
        }
        rc->n++;
        if (o->r == 1 && held_since == 0)
            held_since = realtime_ms();
        if (o->r == 1 && realtime_ms() - held_since > RACE_HOLD_MS) {
            nap_ms(RACE_STALL_MS);
            held_since = 0;
        } else if (o->r == 0) {
            held_since = 0;
            nap_ms((int)(rand_r(&seed) % 3)); /* 0-2 ms: keep the contention high */
        }
    }
    return NULL;
}

static int by_rv(const void *a, const void *b)
{
    const outcome *x = a, *y = b;
    unsigned long long p = x->l.resource_version, q = y->l.resource_version;
    return (p > q) - (p < q);
}

static void test_race(void **state)
{
    (void)state;
    for (int i = 0; i < STORES; i++)
        assert_non_null(fx.s[i]);
    racer rc[STORES];
    pthread_t t[STORES];
    for (int i = 0; i < STORES; i++) {
        rc[i] = (racer){.who = i};
        snprintf(rc[i].holder, sizeof(rc[i].holder), "host-%d", i);
        rc[i].out = calloc(RACE_MAX, sizeof(outcome));
        assert_non_null(rc[i].out);
    }
    for (int i = 0; i < STORES; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &rc[i]), 0);
    for (int i = 0; i < STORES; i++)
        pthread_join(t[i], NULL);

    size_t total = 0, wins = 0;
    for (int i = 0; i < STORES; i++) {
        if (rc[i].failures)
            fail_msg("racer %d: %d tries failed: %s", i, rc[i].failures, rc[i].failure);
        total += rc[i].n;
    }
    outcome *all = calloc(total, sizeof(*all));
    assert_non_null(all);
    size_t n = 0;
    for (int i = 0; i < STORES; i++) {
        for (size_t j = 0; j < rc[i].n; j++) {
            outcome *o = &rc[i].out[j];
            if (o->r == 0) {
                /* refused: someone else held a lease valid at the database's now */
                if (strcmp(o->l.holder, rc[i].holder) == 0 || !o->l.held ||
                    o->l.db_now_ms > o->l.renew_ms + RACE_DURATION)
                    fail_msg("racer %d refused by a lease it could have taken: holder %s, "
                             "renew %lld, now %lld",
                             i, o->l.holder, (long long)o->l.renew_ms, (long long)o->l.db_now_ms);
                continue;
            }
            if (strcmp(o->l.holder, rc[i].holder) != 0)
                fail_msg("racer %d got 1 for a lease held by %s", i, o->l.holder);
            all[n++] = *o;
        }
        free(rc[i].out);
    }
    wins = n;
    /* In the order PostgreSQL serialized the writes, each change of holder
     * came after the previous holder's lease ran out on the database's
     * clock: no two holders ever held it at once. */
    qsort(all, n, sizeof(*all), by_rv);
    int takeovers = 0;
    for (size_t i = 1; i < n; i++) {
        outcome *p = &all[i - 1], *c = &all[i];
        assert_true(c->l.resource_version > p->l.resource_version);
        if (c->who == p->who) {
            assert_true(c->l.renew_ms >= p->l.renew_ms);
            assert_int_equal(c->l.transitions, p->l.transitions);
            continue;
        }
        takeovers++;
        if (c->l.acquire_ms < p->l.renew_ms + RACE_DURATION)
            fail_msg("host-%d took the lease at %lld while host-%d held it until %lld", c->who,
                     (long long)c->l.acquire_ms, p->who,
                     (long long)(p->l.renew_ms + RACE_DURATION));
        assert_int_equal(c->l.transitions, p->l.transitions + 1);
    }
    free(all);
    fprintf(stderr, "race: %zu tries, %zu won, %d takeovers\n", total, wins, takeovers);
    /* the test proves something only if the lease changed hands */
    assert_true(takeovers >= 2);
    assert_true(total > wins);
}

/* ---- whose clock ---- */

/* Around a try on store s: the lease's times lie within the database's
 * clock read just before and just after. */
static void times_between(st_store *s, const char *name, st_lease_state *l)
{
    st_error err = {0};
    int64_t before = 0, after = 0;
    assert_int_equal(st_store_db_now_ms(s, &before, &err), 0);
    assert_int_equal(try_on(s, name, "clock", 6000, l), 1);
    assert_int_equal(st_store_db_now_ms(s, &after, &err), 0);
    assert_true(l->renew_ms >= before && l->renew_ms <= after);
    assert_true(l->db_now_ms >= before && l->db_now_ms <= after);
}

static void test_times_are_the_dbs(void **state)
{
    (void)state;
    assert_non_null(fx.s[0]);
    st_lease_state l;
    times_between(fx.s[0], "clock", &l);

    /* a connection whose now() is an hour ahead (pg_catalog.now shadowed
     * on its search_path; the tables stay in public) */
    PGconn *c = PQconnectdb(pg_fx_dsn(&fx.db));
    PGresult *r = PQexec(c, "CREATE SCHEMA lease_clock; CREATE FUNCTION lease_clock.now() "
                            "RETURNS timestamptz LANGUAGE sql STABLE AS "
                            "$$ SELECT pg_catalog.now() + interval '1 hour' $$");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "lease_clock: %s\n", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    assert_true(ok);
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "%s options='-c search_path=public,lease_clock,pg_catalog'",
             pg_fx_dsn(&fx.db));
    st_error err = {0};
    assert_int_equal(st_store_pg_open(dsn, NULL, NULL, &fx.ahead, &err), 0);

    int64_t local = realtime_ms(), db = 0;
    assert_int_equal(st_store_db_now_ms(fx.ahead, &db, &err), 0);
    assert_true(llabs(db - local - HOUR_MS) < 5000);
    times_between(fx.ahead, "ahead", &l);
    assert_true(llabs(l.renew_ms - local - HOUR_MS) < 5000);

    /* judged on that clock: the lease "clock" renewed a moment ago on the
     * true clock has long expired an hour later ... */
    st_lease_state t;
    assert_int_equal(try_on(fx.ahead, "clock", "other", 6000, &t), 1);
    assert_int_equal(t.transitions, 1);
    /* ... and on the true clock, that renewal (an hour ahead) is valid for
     * an hour yet */
    assert_int_equal(try_on(fx.s[1], "clock", "clock", 6000, &t), 0);
    assert_string_equal(t.holder, "other");
    assert_true(t.renew_ms - t.db_now_ms > HOUR_MS - 5000);
}

/* ---- the store down ---- */

static bool try_works(void *arg)
{
    (void)arg;
    st_error err = {0};
    return st_store_lease_try(fx.s[0], NS, "down", "host-a", 6000, NULL, &err) == 1;
}

static void test_store_down(void **state)
{
    (void)state;
    assert_non_null(fx.s[0]);
    st_error err = {0};
    assert_int_equal(try_on(fx.s[0], "down", "host-a", 6000, NULL), 1);
    assert_int_equal(st_pg_embedded_stop(fx.db.pg, &err), 0);
    st_error e1 = {0}, e2 = {0}, e3 = {0}, e4 = {0};
    st_lease_state l;
    int64_t ms;
    int r1 = st_store_lease_try(fx.s[0], NS, "down", "host-a", 6000, &l, &e1);
    int r2 = st_store_db_now_ms(fx.s[0], &ms, &e2);
    int r3 = st_store_lease_get(fx.s[1], NS, "down", &l, &e3);
    int r4 = st_store_lease_release(fx.s[2], NS, "down", "host-a", &l, &e4);
    bool started = false;
    assert_int_equal(st_pg_embedded_revive(fx.db.pg, &started, &err), 0);
    assert_true(started);
    assert_int_equal(r1, -ST_ESTORE_DOWN);
    assert_non_null(strstr(e1.msg, "unreachable"));
    assert_int_equal(r2, -ST_ESTORE_DOWN);
    assert_int_equal(r3, -ST_ESTORE_DOWN);
    assert_int_equal(r4, -ST_ESTORE_DOWN);
    /* back: the store reconnects on its own (after ST_STORE_RETRY_S) */
    assert_true(st_test_wait_until(try_works, NULL, (ST_STORE_RETRY_S + 10) * 1000, 100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_race),
        cmocka_unit_test(test_times_are_the_dbs),
        cmocka_unit_test(test_store_down),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
