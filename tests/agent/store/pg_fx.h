/* pg_fx.h: a REAL PostgreSQL for the integration tests of the store and
 * of the servers on it (itest_store_pg.c, itest_store_changes.c,
 * itest_store_lease_pg.c, tests/agent/server/itest_change_tail.c):
 * pg_embedded started in a temporary state dir with a secret key there,
 * store handles on its database, and a teardown that stops the server and
 * removes the dir. Header-only (static inline) so each test program takes
 * it without a library of its own.
 *
 * A test's group setup starts it and opens its handles; on a failure it
 * returns pg_fx_setup_failed(state, group_teardown), because cmocka skips
 * the group teardown when the group setup fails. The group teardown closes
 * the test's own handles, then calls pg_fx_stop. */
#ifndef STRATA_TEST_PG_FX_H
#define STRATA_TEST_PG_FX_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "testutil.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/store.h"
#include "strata/store_changes.h"

typedef struct pg_fx {
    char *dir; /* the state dir: PostgreSQL's data and the secret key */
    st_pg_embedded *pg;
    st_secret_key *key;
} pg_fx;

/* Stops PostgreSQL, frees the key, removes the dir; safe on a half-started
 * (or stopped) fixture. */
static inline void pg_fx_stop(pg_fx *fx)
{
    st_error err = {0};
    if (fx->pg && st_pg_embedded_stop(fx->pg, &err) < 0)
        fprintf(stderr, "stopping PostgreSQL: %s\n", err.msg);
    st_pg_embedded_free(fx->pg);
    st_secret_key_free(fx->key);
    st_test_rmrf(fx->dir);
    free(fx->dir);
    *fx = (pg_fx){0};
}

/* PostgreSQL in a new temporary dir named after prefix, and a secret key
 * there. 0, or -1 said on stderr (what was started is left for
 * pg_fx_stop). */
static inline int pg_fx_start(pg_fx *fx, const char *prefix)
{
    st_error err = {0};
    fx->dir = st_test_mkdtemp(prefix); /* fails the test itself */
    if (st_pg_embedded_start(fx->dir, &fx->pg, &err) < 0) {
        fprintf(stderr, "pg_embedded: %s\n", err.msg);
        return -1;
    }
    if (st_secret_key_load(fx->dir, &fx->key, &err) < 0) {
        fprintf(stderr, "secret key: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static inline const char *pg_fx_dsn(const pg_fx *fx)
{
    return st_pg_embedded_dsn(fx->pg);
}

/* A store handle on the database, with the key; shared: its writes record
 * their changes, as a database shared by several stratad's handles do.
 * 0, or -1 said on stderr. */
static inline int pg_fx_open(const pg_fx *fx, bool shared, st_store **out)
{
    st_error err = {0};
    if (st_store_pg_open(pg_fx_dsn(fx), fx->key, NULL, out, &err) < 0 ||
        (shared && st_store_changes_record(*out, true, &err) < 0)) {
        fprintf(stderr, "store: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* For a failed group setup: runs the group teardown cmocka will skip,
 * and returns -1. */
static inline int pg_fx_setup_failed(void **state, int (*group_teardown)(void **state))
{
    group_teardown(state);
    return -1;
}

/* One SQL query through a separate connection: its first cell, malloc'd,
 * or NULL said on stderr. */
static inline char *pg_fx_sql_cell(const pg_fx *fx, const char *sql)
{
    PGconn *c = PQconnectdb(pg_fx_dsn(fx));
    PGresult *r = PQexec(c, sql);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        v = strdup(PQgetvalue(r, 0, 0));
    else
        fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return v;
}

#endif
