/* itest_store_changes.c: the change feed (strata/store_changes.h) on a REAL
 * PostgreSQL (pg_embedded in a temporary state dir, stopped in the group
 * teardown, which cmocka runs also when a test fails), read as a second
 * stratad on the same database reads it: through a second store handle.
 * Writes through one handle reach the other in order, with the types and
 * objects the writer's own hook got; a Secret is never plain in the table;
 * the LISTEN wait wakes on a write; two handles writing from threads at
 * once never show a tail a version out of order or skipped; a trim is
 * reported, never a silent gap. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "testutil.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/store.h"
#include "strata/store_changes.h"
#include "pg_fx.h"

typedef struct fixture {
    pg_fx db;
    st_store *a, *b, *c; /* three "stratad" on one database */
} fixture;

static fixture fx;

static int group_teardown(void **state);

static int group_setup(void **state)
{
    /* shared handles: their writes record their changes */
    if (pg_fx_start(&fx.db, "strata-chtest") < 0 || pg_fx_open(&fx.db, true, &fx.a) < 0 ||
        pg_fx_open(&fx.db, true, &fx.b) < 0 || pg_fx_open(&fx.db, true, &fx.c) < 0)
        return pg_fx_setup_failed(state, group_teardown);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_store_close(fx.a);
    st_store_close(fx.b);
    st_store_close(fx.c);
    fx.a = fx.b = fx.c = NULL;
    pg_fx_stop(&fx.db);
    return 0;
}

static json_t *pod(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind", "Pod",
                     "metadata", "name", name, "spec", "containers", "name", "c", "image",
                     "busybox");
}

static const char *md(json_t *o, const char *f)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

static unsigned long long rv_of(json_t *o)
{
    const char *rv = md(o, "resourceVersion");
    return rv ? strtoull(rv, NULL, 10) : 0;
}

/* Every change handed, as [type, object]. */
static void collect(void *arg, const char *type, json_t *obj)
{
    json_array_append_new(arg, json_pack("[s, O]", type, obj));
}

/* Everything after rv, read through h in pages of 3 (so paging is used). */
static json_t *read_all(st_store *h, unsigned long long after)
{
    json_t *got = json_array();
    st_error err = {0};
    for (;;) {
        unsigned long long last = 0;
        int n = st_store_changes_since(h, after, 3, collect, got, &last, &err);
        assert_true(n >= 0);
        if (n == 0)
            return got;
        assert_true(last > after);
        after = last;
    }
}

/* What A's hook was handed is what B reads from the feed: same order,
 * types and objects, through single writes, a batch, bindings, a delete
 * and a Secret. */
static void test_feed_matches_hook(void **state)
{
    (void)state;
    assert_non_null(fx.a);
    st_error err = {0};
    unsigned long long head = 0;
    assert_int_equal(st_store_changes_head(fx.b, &head, &err), 0);
    json_t *hooked = json_array();
    st_store_set_watch_hook(fx.a, collect, hooked);

    json_t *p = pod("feed-1"), *out = NULL;
    assert_int_equal(st_store_create(fx.a, p, &out, &err), 0);
    json_object_set_new(out, "status", json_pack("{s:s}", "phase", "Pending"));
    json_t *upd = NULL;
    assert_int_equal(st_store_update(fx.a, out, &upd, &err), 0);
    json_t *p2 = pod("feed-2"), *p3 = pod("feed-3");
    st_store_op ops[2] = {{.op = ST_STORE_CREATE, .object = p2},
                          {.op = ST_STORE_APPLY, .object = p3}};
    assert_int_equal(st_store_apply_batch(fx.a, ops, 2, &err), 0);
    st_store_ops_release(ops, 2);
    st_store_binding b[2] = {{NULL, "feed-2", "n1"}, {NULL, "feed-3", "n1"}};
    assert_int_equal(st_store_bind_pods(fx.a, b, 2, &err), 0);
    assert_int_equal(st_store_delete(fx.a, "Pod", "default", "feed-1", NULL, &err), 0);
    json_t *sec = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                            "Secret", "metadata", "name", "feed-pass", "namespace", "default",
                            "data", "password", "aHVudGVyMg==");
    assert_int_equal(st_store_create(fx.a, sec, NULL, &err), 0);
    st_store_set_watch_hook(fx.a, NULL, NULL);

    json_t *read = read_all(fx.b, head);
    /* create, update, batch 2, bind 2, delete, secret */
    assert_int_equal(json_array_size(hooked), 8);
    assert_int_equal(json_array_size(read), json_array_size(hooked));
    static const char *const types[] = {"ADDED",    "MODIFIED", "ADDED",   "ADDED",
                                        "MODIFIED", "MODIFIED", "DELETED", "ADDED"};
    for (size_t i = 0; i < json_array_size(read); i++) {
        json_t *r = json_array_get(read, i), *h = json_array_get(hooked, i);
        assert_string_equal(json_string_value(json_array_get(r, 0)), types[i]);
        assert_string_equal(json_string_value(json_array_get(h, 0)), types[i]);
        if (!json_equal(json_array_get(r, 1), json_array_get(h, 1))) {
            char *x = json_dumps(json_array_get(r, 1), 0), *y = json_dumps(json_array_get(h, 1), 0);
            fprintf(stderr, "change %zu differs:\n feed %s\n hook %s\n", i, x, y);
            free(x);
            free(y);
            fail();
        }
    }
    /* the Secret reached B with its data (unsealed with the key)... */
    json_t *last = json_array_get(json_array_get(read, 7), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(last, "data"), "password")),
        "aHVudGVyMg==");
    /* ...but the table holds it sealed, never plain */
    char *row =
        pg_fx_sql_cell(&fx.db, "SELECT object::text FROM strata_changes WHERE name = 'feed-pass'");
    assert_non_null(row);
    int clear = strstr(row, "aHVudGVyMg") != NULL || strstr(row, "password") != NULL;
    int sealed = strstr(row, ST_SECRET_SEALED_FIELD) != NULL;
    free(row);
    assert_false(clear);
    assert_true(sealed);
    /* a failed write leaves no change behind */
    unsigned long long before = 0, after = 0;
    assert_int_equal(st_store_changes_head(fx.b, &before, &err), 0);
    st_error e2 = {0};
    assert_int_equal(st_store_create(fx.a, p2, NULL, &e2), -EEXIST);
    assert_int_equal(st_store_changes_head(fx.b, &after, &err), 0);
    assert_int_equal(after, before);

    json_decref(read);
    json_decref(hooked);
    json_decref(p);
    json_decref(out);
    json_decref(upd);
    json_decref(p2);
    json_decref(p3);
    json_decref(sec);
}

/* B's LISTEN wakes when A writes. */
static void test_wait_wakes(void **state)
{
    (void)state;
    assert_non_null(fx.a);
    st_error err = {0};
    /* the first wait opens the LISTEN connection: "may have missed some" */
    assert_int_equal(st_store_changes_wait(fx.b, 0, &err), 1);
    assert_int_equal(st_store_changes_wait(fx.b, 50, &err), 0); /* nothing written */
    unsigned long long head = 0;
    assert_int_equal(st_store_changes_head(fx.b, &head, &err), 0);
    json_t *p = pod("wake-1"), *out = NULL;
    assert_int_equal(st_store_create(fx.a, p, &out, &err), 0);
    assert_int_equal(st_store_changes_wait(fx.b, 10000, &err), 1);
    json_t *got = read_all(fx.b, head);
    assert_int_equal(json_array_size(got), 1);
    assert_int_equal(rv_of(json_array_get(json_array_get(got, 0), 1)), rv_of(out));
    json_decref(got);
    json_decref(out);
    json_decref(p);
}

/* ---- two writers at once, one tail ---- */

#define PER_WRITER 150

typedef struct writer {
    st_store *h;
    const char *prefix;
    unsigned long long rvs[PER_WRITER * 2];
    size_t n;
    int failed;
} writer;

static void *write_many(void *arg)
{
    writer *w = arg;
    st_error err = {0};
    for (int i = 0; i < PER_WRITER && !w->failed; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-%d", w->prefix, i);
        json_t *p = pod(name), *out = NULL;
        if (st_store_create(w->h, p, &out, &err) < 0) {
            fprintf(stderr, "writer %s: %s\n", w->prefix, err.msg);
            w->failed = 1;
        } else {
            w->rvs[w->n++] = rv_of(out);
            /* every other pod is deleted again: DELETED takes its own rv */
            if (i % 2 == 0) {
                st_error e2 = {0};
                if (st_store_delete(w->h, "Pod", "default", name, NULL, &e2) < 0) {
                    fprintf(stderr, "writer %s: %s\n", w->prefix, e2.msg);
                    w->failed = 1;
                }
            }
        }
        json_decref(out);
        json_decref(p);
    }
    return NULL;
}

typedef struct tail {
    unsigned long long start;
    unsigned long long *seen;
    size_t n, cap;
    int bad;
    atomic_int stop;
} tail;

static void tail_note(void *arg, const char *type, json_t *obj)
{
    (void)type;
    tail *t = arg;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->seen = realloc(t->seen, t->cap * sizeof(*t->seen));
    }
    t->seen[t->n++] = rv_of(obj);
}

static void *tail_run(void *arg)
{
    tail *t = arg;
    unsigned long long after = t->start;
    st_error err = {0};
    for (;;) {
        int done = atomic_load(&t->stop); /* read before: the last pass reads all */
        unsigned long long last = 0;
        int n;
        do {
            n = st_store_changes_since(fx.b, after, 5, tail_note, t, &last, &err);
            if (n < 0) {
                fprintf(stderr, "tail: %s\n", err.msg);
                t->bad = 1;
                return NULL;
            }
            after = last;
        } while (n > 0);
        if (done)
            return NULL;
    }
}

static int cmp_rv(const void *x, const void *y)
{
    unsigned long long a = *(const unsigned long long *)x, b = *(const unsigned long long *)y;
    return a < b ? -1 : a > b;
}

static void test_concurrent_writers_in_order(void **state)
{
    (void)state;
    assert_non_null(fx.a);
    st_error err = {0};
    tail t = {0};
    assert_int_equal(st_store_changes_head(fx.b, &t.start, &err), 0);
    static writer w1, w2;
    w1 = (writer){.h = fx.a, .prefix = "wa"};
    w2 = (writer){.h = fx.c, .prefix = "wc"};
    pthread_t th1, th2, tt;
    assert_int_equal(pthread_create(&tt, NULL, tail_run, &t), 0);
    assert_int_equal(pthread_create(&th1, NULL, write_many, &w1), 0);
    assert_int_equal(pthread_create(&th2, NULL, write_many, &w2), 0);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    atomic_store(&t.stop, 1);
    pthread_join(tt, NULL);
    assert_false(w1.failed || w2.failed || t.bad);

    /* the tail's sequence is strictly increasing... */
    for (size_t i = 1; i < t.n; i++)
        if (t.seen[i] <= t.seen[i - 1]) {
            fprintf(stderr, "tail saw %llu after %llu\n", t.seen[i], t.seen[i - 1]);
            fail();
        }
    /* ...and is exactly every committed change after its start, sorted */
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(rv::text, ',' ORDER BY rv) FROM strata_changes WHERE rv > %llu",
             t.start);
    char *all = pg_fx_sql_cell(&fx.db, sql);
    assert_non_null(all);
    char *p = all;
    for (size_t i = 0; i < t.n; i++) {
        unsigned long long want = strtoull(p, &p, 10);
        if (t.seen[i] != want) {
            fprintf(stderr, "tail read %llu where %llu was committed (change %zu): skipped\n",
                    t.seen[i], want, i);
            fail();
        }
        p += *p == ',';
    }
    assert_true(*p == '\0'); /* and nothing committed after what the tail read */
    /* 150 creates and 75 deletes per writer */
    assert_int_equal(t.n, 2 * (PER_WRITER + PER_WRITER / 2));
    /* every create a writer was answered is among them */
    for (size_t i = 0; i < w1.n + w2.n; i++) {
        unsigned long long rv = i < w1.n ? w1.rvs[i] : w2.rvs[i - w1.n];
        assert_non_null(bsearch(&rv, t.seen, t.n, sizeof(rv), cmp_rv));
    }
    free(all);
    free(t.seen);
}

/* A trim keeps the newest change and says what it dropped. */
static void test_trim_reported(void **state)
{
    (void)state;
    assert_non_null(fx.a);
    st_error err = {0};
    unsigned long long head = 0, last = 0;
    assert_int_equal(st_store_changes_head(fx.b, &head, &err), 0);
    assert_true(head > 0);
    assert_int_equal(st_store_changes_trim(fx.b, 3600, &err), 0); /* all younger than 1 h */
    int n = st_store_changes_trim(fx.b, 0, &err);
    assert_true(n > 0);
    char *left = pg_fx_sql_cell(&fx.db, "SELECT count(*) FROM strata_changes");
    assert_string_equal(left, "1");
    free(left);
    unsigned long long head2 = 0;
    assert_int_equal(st_store_changes_head(fx.b, &head2, &err), 0);
    assert_int_equal(head2, head);
    json_t *got = json_array();
    st_error e2 = {0};
    assert_int_equal(st_store_changes_since(fx.b, 0, 10, collect, got, &last, &e2), -ERANGE);
    assert_non_null(strstr(e2.msg, "trimmed"));
    assert_int_equal(json_array_size(got), 0);
    assert_true(last < head);
    /* from the floor on, the newest is still there */
    assert_int_equal(st_store_changes_since(fx.b, last, 10, collect, got, &last, &err), 1);
    assert_int_equal(last, head);
    json_decref(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_matches_hook),
        cmocka_unit_test(test_wait_wakes),
        cmocka_unit_test(test_concurrent_writers_in_order),
        cmocka_unit_test(test_trim_reported),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
