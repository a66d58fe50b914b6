/* itest_store_pg.c: the store on a REAL PostgreSQL, started with
 * pg_embedded in a temporary state dir and stopped in the group teardown
 * (which cmocka runs also when a test fails): migrations, CRUD, the
 * resourceVersion conflict, all-or-none batches, ciphertext at rest, and a
 * server restart under an open store. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "testutil.h"
#include "strata/migrate.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/store.h"
#include "pg_fx.h"
#include "watch_hook_cases.h"

typedef struct fixture {
    pg_fx db;
    st_store *store;
} fixture;

static fixture fx;

static int group_teardown(void **state);

static int group_setup(void **state)
{
    if (pg_fx_start(&fx.db, "strata-pgtest") < 0)
        return pg_fx_setup_failed(state, group_teardown);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_store_close(fx.store);
    fx.store = NULL;
    pg_fx_stop(&fx.db);
    return 0;
}

static json_t *pod(const char *name, const char *node)
{
    json_t *p = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1",
                          "kind", "Pod", "metadata", "name", name, "labels", "app", "web", "spec",
                          "containers", "name", "c", "image", "busybox");
    if (node)
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
    return p;
}

static const char *md(json_t *o, const char *f)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

static void test_migrations_once(void **state)
{
    (void)state;
    st_error err = {0};
    int applied = -1;
    assert_int_equal(st_store_pg_open(pg_fx_dsn(&fx.db), fx.db.key, &applied, &fx.store, &err), 0);
    assert_int_equal(applied, (int)st_migrations_count);
    st_store *second = NULL;
    assert_int_equal(st_store_pg_open(pg_fx_dsn(&fx.db), fx.db.key, &applied, &second, &err), 0);
    st_store_close(second);
    assert_int_equal(applied, 0);
    char *v = pg_fx_sql_cell(&fx.db, "SELECT max(version) FROM schema_version");
    assert_non_null(v);
    assert_int_equal(atoi(v), st_migrations[st_migrations_count - 1].version);
    free(v);

    /* a binary that knows fewer migrations than the database refuses it */
    PGconn *c = PQconnectdb(pg_fx_dsn(&fx.db));
    st_error e2 = {0};
    int r = st_migrate_apply(c, st_migrations, 0, NULL, &e2);
    PQfinish(c);
    assert_int_equal(r, -EPROTO);
    assert_non_null(strstr(e2.msg, "newer than this stratad knows"));
}

/* Several stratad starting at once on a fresh shared database (issue 17):
 * one applies the migrations, the others wait on its lock and apply none,
 * and none fails. */
struct opener {
    char dsn[600];
    int applied, rc;
    st_error err;
};

static void *open_concurrently(void *arg)
{
    struct opener *o = arg;
    st_store *s = NULL;
    o->rc = st_store_pg_open(o->dsn, fx.db.key, &o->applied, &s, &o->err);
    st_store_close(s);
    return NULL;
}

static void test_migrations_concurrent(void **state)
{
    (void)state;
    PGconn *c = PQconnectdb(pg_fx_dsn(&fx.db));
    PGresult *r = PQexec(c, "CREATE DATABASE strata_race");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    enum { N = 4 };
    struct opener o[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        snprintf(o[i].dsn, sizeof(o[i].dsn), "%s dbname=strata_race", pg_fx_dsn(&fx.db));
        assert_int_equal(pthread_create(&th[i], NULL, open_concurrently, &o[i]), 0);
    }
    int total = 0, migrators = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (o[i].rc != 0)
            fail_msg("opener %d: %s", i, o[i].err.msg);
        total += o[i].applied;
        migrators += o[i].applied > 0;
    }
    assert_int_equal(migrators, 1);
    assert_int_equal(total, (int)st_migrations_count);
    r = PQexec(c, "DROP DATABASE strata_race");
    PQclear(r);
    PQfinish(c);
}

static void test_crud(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    json_t *in = pod("crud-1", NULL), *out = NULL;
    assert_int_equal(st_store_create(fx.store, in, &out, &err), 0);
    assert_int_equal(strlen(md(out, "uid")), 36);
    assert_non_null(md(out, "resourceVersion"));
    assert_string_equal(md(out, "namespace"), "default");
    st_error e2 = {0};
    assert_int_equal(st_store_create(fx.store, in, NULL, &e2), -EEXIST);

    json_t *got = NULL;
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "crud-1", &got, &err), 0);
    assert_true(json_equal(got, out));
    json_object_set_new(got, "status", json_pack("{s:s}", "phase", "Running"));
    json_t *upd = NULL;
    assert_int_equal(st_store_update(fx.store, got, &upd, &err), 0);
    assert_string_equal(md(upd, "uid"), md(out, "uid"));
    assert_true(atoll(md(upd, "resourceVersion")) > atoll(md(out, "resourceVersion")));

    json_t *list = NULL;
    st_store_query q = {
        .kind = "Pod", .label_selector = "app=web", .field_selector = "status.phase=Running"};
    assert_int_equal(st_store_list(fx.store, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);

    assert_int_equal(
        st_store_delete(fx.store, "Pod", "default", "crud-1", md(upd, "resourceVersion"), &err), 0);
    json_t *gone = NULL;
    st_error e3 = {0};
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "crud-1", &gone, &e3), -ENOENT);

    /* events, oldest first */
    for (int i = 0; i < 2; i++) {
        json_t *ev = json_pack("{s:{s:s, s:s}, s:s, s:s}", "involvedObject", "kind", "Pod", "name",
                               "crud-1", "reason", i ? "Killing" : "Scheduled", "message", "m");
        assert_int_equal(st_store_append_event(fx.store, ev, NULL, &err), 0);
        json_decref(ev);
    }
    st_store_query eq = {.field_selector = "involvedObject.name=crud-1"};
    assert_int_equal(st_store_list_events(fx.store, &eq, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "reason")),
                        "Scheduled");
    json_decref(list);
    json_decref(in);
    json_decref(out);
    json_decref(got);
    json_decref(upd);
}

/* Namespaces (migration 003) are cluster-scoped: stored under "". */
static void test_namespaces(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    json_t *in = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                           "Namespace", "metadata", "name", "pg-ns", "namespace", "ignored",
                           "labels", "team", "a", "status", "phase", "Active");
    json_t *out = NULL, *got = NULL, *list = NULL;
    assert_int_equal(st_store_create(fx.store, in, &out, &err), 0);
    assert_null(md(out, "namespace"));
    assert_int_equal(st_store_get(fx.store, "Namespace", NULL, "pg-ns", &got, &err), 0);
    assert_true(json_equal(got, out));
    st_store_query q = {.kind = "Namespace", .label_selector = "team=a"};
    assert_int_equal(st_store_list(fx.store, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(st_store_delete(fx.store, "Namespace", "", "pg-ns", NULL, &err), 0);
    json_decref(in);
    json_decref(out);
    json_decref(got);
    json_decref(list);
}

static void test_conflict(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    json_t *in = pod("race", NULL);
    assert_int_equal(st_store_create(fx.store, in, NULL, &err), 0);
    json_t *a = NULL, *b = NULL, *a2 = NULL, *now = NULL;
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "race", &a, &err), 0);
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "race", &b, &err), 0);
    json_object_set_new(a, "status", json_pack("{s:s}", "phase", "Running"));
    json_object_set_new(b, "status", json_pack("{s:s}", "phase", "Failed"));
    assert_int_equal(st_store_update(fx.store, a, &a2, &err), 0);
    st_error e2 = {0};
    assert_int_equal(st_store_update(fx.store, b, NULL, &e2), -ST_ECONFLICT);
    assert_non_null(strstr(e2.msg, "please apply your changes to the latest version"));
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "race", &now, &err), 0);
    assert_true(json_equal(now, a2));
    st_error e3 = {0};
    assert_int_equal(
        st_store_delete(fx.store, "Pod", "default", "race", md(b, "resourceVersion"), &e3),
        -ST_ECONFLICT);
    json_decref(in);
    json_decref(a);
    json_decref(b);
    json_decref(a2);
    json_decref(now);
}

static void test_batch_all_or_none(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    json_t *good = pod("batch-1", NULL);
    json_t *bad = json_pack("{s:s, s:{s:s}}", "kind", "Pod", "metadata", "name", "NOT valid");
    st_store_op ops[2] = {{.op = ST_STORE_CREATE, .object = good},
                          {.op = ST_STORE_CREATE, .object = bad}};
    assert_int_equal(st_store_apply_batch(fx.store, ops, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "batch item 2"));
    assert_null(ops[0].result);
    json_t *o = NULL;
    st_error e2 = {0};
    assert_int_equal(st_store_get(fx.store, "Pod", "default", "batch-1", &o, &e2), -ENOENT);

    /* the same batch without the bad one: written, apply is idempotent */
    st_store_op ap[1] = {{.op = ST_STORE_APPLY, .object = good}};
    st_error e3 = {0};
    assert_int_equal(st_store_apply_batch(fx.store, ap, 1, &e3), 0);
    assert_int_equal(ap[0].action, ST_STORE_CREATED);
    st_store_ops_release(ap, 1);
    assert_int_equal(st_store_apply_batch(fx.store, ap, 1, &e3), 0);
    assert_int_equal(ap[0].action, ST_STORE_UNCHANGED);
    st_store_ops_release(ap, 1);

    /* bind: all or none, and then the node query sees them */
    json_t *p2 = pod("batch-2", NULL);
    assert_int_equal(st_store_create(fx.store, p2, NULL, &e3), 0);
    st_store_binding bad_bind[2] = {{NULL, "batch-1", "n1"}, {NULL, "ghost", "n1"}};
    st_error e4 = {0};
    assert_int_equal(st_store_bind_pods(fx.store, bad_bind, 2, &e4), -ENOENT);
    assert_non_null(strstr(e4.msg, "ghost"));
    st_store_binding binds[2] = {{NULL, "batch-1", "n1"}, {"default", "batch-2", "n1"}};
    st_error e5 = {0};
    assert_int_equal(st_store_bind_pods(fx.store, binds, 2, &e5), 0);
    json_t *list = NULL;
    st_store_query q = {.kind = "Pod", .field_selector = "spec.nodeName=n1"};
    assert_int_equal(st_store_list(fx.store, &q, &list, &e5), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    st_error e6 = {0};
    assert_int_equal(st_store_bind_pods(fx.store, binds, 1, &e6), -ST_ECONFLICT);
    json_decref(good);
    json_decref(bad);
    json_decref(p2);
}

static void test_secret_ciphertext(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    json_t *sec = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                            "Secret", "metadata", "name", "db-pass", "namespace", "prod", "data",
                            "password", "aHVudGVyMg==");
    assert_int_equal(st_store_create(fx.store, sec, NULL, &err), 0);
    char *row = pg_fx_sql_cell(&fx.db, "SELECT object::text FROM secrets WHERE name = 'db-pass'");
    assert_non_null(row);
    int clear = strstr(row, "aHVudGVyMg") != NULL || strstr(row, "password") != NULL;
    int sealed = strstr(row, ST_SECRET_SEALED_FIELD "\": \"v1:") != NULL;
    free(row);
    assert_false(clear);
    assert_true(sealed);
    json_t *got = NULL;
    assert_int_equal(st_store_get(fx.store, "Secret", "prod", "db-pass", &got, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(got, "data"), "password")),
        "aHVudGVyMg==");
    json_decref(got);
    json_decref(sec);
}

static void test_restart_reconnects(void **state)
{
    (void)state;
    assert_non_null(fx.store);
    st_error err = {0};
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "durable-%d", i);
        json_t *p = pod(name, "n9");
        assert_int_equal(st_store_create(fx.store, p, NULL, &err), 0);
        json_decref(p);
    }
    char *before = pg_fx_sql_cell(&fx.db, "SELECT pg_postmaster_start_time()::text");
    assert_int_equal(st_pg_embedded_restart(fx.db.pg, &err), 0);
    char *after = pg_fx_sql_cell(&fx.db, "SELECT pg_postmaster_start_time()::text");
    int restarted = before && after && strcmp(before, after) != 0;
    free(before);
    free(after);
    assert_true(restarted);

    /* the store's connection was cut: the next operation reconnects */
    json_t *list = NULL;
    st_store_query q = {.kind = "Pod", .field_selector = "spec.nodeName=n9"};
    assert_int_equal(st_store_list(fx.store, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 20);
    json_decref(list);
    /* writes work too, prepared statements included; and a transaction */
    assert_int_equal(st_pg_embedded_restart(fx.db.pg, &err), 0);
    json_t *p = pod("after-restart", NULL);
    assert_int_equal(st_store_create(fx.store, p, NULL, &err), 0);
    json_decref(p);
    assert_int_equal(st_pg_embedded_restart(fx.db.pg, &err), 0);
    st_store_binding b = {NULL, "after-restart", "n9"};
    assert_int_equal(st_store_bind_pods(fx.store, &b, 1, &err), 0);
    assert_int_equal(st_store_list(fx.store, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 21);
    json_decref(list);
}

/* The change feed, as on memory: deletes take a version from the one
 * sequence, bindings report the rows they changed. */
static void test_watch_hook(void **state)
{
    (void)state;
    watch_hook_cases(fx.store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_once),
        cmocka_unit_test(test_migrations_concurrent),
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_batch_all_or_none),
        cmocka_unit_test(test_secret_ciphertext),
        cmocka_unit_test(test_restart_reconnects),
        cmocka_unit_test(test_watch_hook),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
