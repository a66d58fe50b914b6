/* store_pg.h (private to the PostgreSQL backend): its state, and its
 * connection (store_pg_conn.c): the prepared statements, reconnecting,
 * running one statement or one transaction so that a lost connection
 * re-runs it at most once (store_pg.c says why that is safe). */
#ifndef STRATA_STORE_PG_H
#define STRATA_STORE_PG_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "store_backend.h"
#include "store_object.h"

#define ST_PG_RV_SEQ "nextval('strata_resource_version')"
#define ST_PG_TS_COL "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* The columns every row query returns, in this order. */
#define ST_PG_COLS "resource_version, uid, " ST_PG_TS_COL ", object"

typedef struct st_store_pg {
    st_store base;
    PGconn *conn;
    const st_secret_key *key;
    bool in_txn; /* inside st_store_pg_txn: a lost connection is the transaction's to re-run */
} st_store_pg;

/* Indexed columns beyond the common ones, per kind (same order as
 * st_store_kinds: Pod, Deployment, Secret, Node, Event); NULL: none. */
extern const char *const st_store_pg_extra_cols[ST_STORE_KIND_COUNT][2];

/* Prepares every statement; they live in the session, so after every
 * (re)connect: KIND_get, KIND_getx (FOR UPDATE), KIND_ins, KIND_upd,
 * KIND_del per table, and pods_bind. */
int st_store_pg_prepare_all(st_store_pg *s, st_error *err);

/* Runs a prepared statement (stmt) or a parameterized one (sql). With
 * may_retry (outside a transaction), a lost connection is re-established
 * and the statement re-run once; *retried (may be NULL) then says so.
 * NULL with err set on failure. */
PGresult *st_store_pg_exec(st_store_pg *s, const char *stmt, const char *sql, int n,
                           const char *const *params, bool may_retry, bool *retried, st_error *err);
/* A statement without parameters or retry (BEGIN, COMMIT). */
int st_store_pg_exec_simple(st_store_pg *s, const char *sql, st_error *err);

/* BEGIN; fn; a marker; COMMIT, re-run once after a lost connection unless
 * the marker shows the COMMIT went through. reset() drops what a failed
 * attempt produced. s->in_txn is set while fn runs. */
typedef int (*st_store_pg_txn_fn)(st_store_pg *s, void *ctx, st_error *err);
int st_store_pg_txn(st_store_pg *s, st_store_pg_txn_fn fn, void (*reset)(void *), void *ctx,
                    st_error *err);

#endif
