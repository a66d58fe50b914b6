/* store_pg.h (private to the PostgreSQL backend): its state, and its
 * connection (store_pg_conn.c): the prepared statements, reconnecting,
 * running one statement or one transaction so that a lost connection
 * re-runs it at most once (store_pg.c says why that is safe). */
#ifndef STRATA_STORE_PG_H
#define STRATA_STORE_PG_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "store_backend.h"
#include "store_object.h"

#define ST_PG_RV_SEQ "nextval('strata_resource_version')"
#define ST_PG_TS_COL "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* Taken by every write transaction before its first resourceVersion and
 * held to its commit (pg_advisory_xact_lock), by every stratad on the
 * database: commits, and so the change feed's rows, become visible in
 * resourceVersion order. Any constant all agree on ("strata" + 1; the
 * migration lock is "strata"). */
#define ST_PG_CHANGES_LOCK "125780071854178"
/* A session idle inside a transaction longer than this (ms) is ended by
 * the server, and the order lock with it (st_store_pg_prepare_all). */
#define ST_PG_IDLE_TXN_MS "5000"
/* The columns every row query returns, in this order. */
#define ST_PG_COLS "resource_version, uid, " ST_PG_TS_COL ", object"

typedef struct st_store_pg {
    st_store base;
    PGconn *conn;
    const st_secret_key *key;
    bool in_txn; /* inside st_store_pg_txn: a lost connection is the transaction's to re-run */
    /* The last failure's code (ST_ESTORE_DOWN, ST_ESTORE_FULL, EIO): what a
     * caller that got no result returns (st_store_pg_failed). */
    int fail_code;
    /* The server could not be reached: not tried again before retry_ns
     * (monotonic), so a store that is down answers at once, and why. */
    bool down;
    int64_t retry_ns;
    char down_msg[512];
    char data_dir[256]; /* the server's data_directory, when it tells us ("" if not) */
    /* The change feed (store_pg_changes.c): what the running transaction
     * wrote, [[type, object], ...] as the hook gets it, recorded in
     * strata_changes before its COMMIT. */
    json_t *changes;
    bool feed; /* record changes and take the order lock (st_store_changes_record) */
    char *dsn; /* for the LISTEN connection */
    pthread_mutex_t listen_lock; /* changes_wait runs without the store's lock */
    PGconn *listen;
    bool listening; /* LISTEN went through on listen */
} st_store_pg;

/* -fail_code: the return of a function whose statement failed (err is
 * already set). */
static inline int st_store_pg_failed(const st_store_pg *s)
{
    return -(s->fail_code ? s->fail_code : EIO);
}

/* store_pg_errors.c: what a PostgreSQL failure means to the store's callers.
 * ST_ESTORE_DOWN when the connection is gone or the server will not take
 * one (SQLSTATE class 08, 57P01 admin_shutdown, 57P02 crash_shutdown,
 * 57P03 cannot_connect_now, 53300 too_many_connections, or conn_bad: no
 * answer at all); ST_ESTORE_FULL when its disk is full (53100 disk_full,
 * or "No space left on device" in message, as an io_error carries it);
 * EIO for anything else. sqlstate and message may be NULL. */
int st_store_pg_error_code(const char *sqlstate, const char *message, bool conn_bad);
/* Fills err for code with a message a person can act on: what failed
 * (a statement's name, may be NULL), PostgreSQL's words (pgmsg, its
 * "ERROR:" and line breaks dropped), where its data lives (data_dir, ""
 * when unknown), and what to do. Returns -code. */
int st_store_pg_error_set(st_error *err, int code, const char *what, const char *pgmsg,
                          const char *data_dir);

/* Indexed columns beyond the common ones, per kind (same order as
 * st_store_kinds: Pod, Deployment, Secret, Node, Event); NULL: none. */
extern const char *const st_store_pg_extra_cols[ST_STORE_KIND_COUNT][2];

/* Row (resource_version, uid, created, object: ST_PG_COLS) to the object
 * callers see, Secrets unsealed. */
int st_store_pg_row_object(st_store_pg *s, const st_store_kind *k, PGresult *r, int row,
                           json_t **out, st_error *err);

/* store_pg_lease.c: the lease operations of the ops table (store_backend.h). */
int st_store_pg_lease_try(st_store *s, const char *ns, const char *name, const char *holder,
                          int duration_ms, st_lease_state *out, st_error *err);
int st_store_pg_lease_release(st_store *s, const char *ns, const char *name, const char *holder,
                              st_lease_state *out, st_error *err);
int st_store_pg_lease_get(st_store *s, const char *ns, const char *name, st_lease_state *out,
                          st_error *err);
int st_store_pg_db_now_ms(st_store *s, int64_t *ms, st_error *err);

/* Sets the session up (idle_in_transaction_session_timeout) and prepares
 * every statement; they live in the session, so after every (re)connect:
 * KIND_get, KIND_getx (FOR UPDATE), KIND_ins, KIND_upd,
 * KIND_del per table, and pods_bind. */
int st_store_pg_prepare_all(st_store_pg *s, st_error *err);

/* Runs a prepared statement (stmt) or a parameterized one (sql). With
 * may_retry (a read or one statement outside a transaction), a lost
 * connection is re-established and the statement re-run once. NULL with
 * err set on failure. */
PGresult *st_store_pg_exec(st_store_pg *s, const char *stmt, const char *sql, int n,
                           const char *const *params, bool may_retry, st_error *err);
/* A statement without parameters or retry (BEGIN, COMMIT). */
int st_store_pg_exec_simple(st_store_pg *s, const char *sql, st_error *err);

/* BEGIN; fn; a marker; COMMIT, re-run once after a lost connection unless
 * the marker shows the COMMIT went through. reset() drops what a failed
 * attempt produced. s->in_txn is set while fn runs. */
typedef int (*st_store_pg_txn_fn)(st_store_pg *s, void *ctx, st_error *err);
int st_store_pg_txn(st_store_pg *s, st_store_pg_txn_fn fn, void (*reset)(void *), void *ctx,
                    st_error *err);

/* store_pg_changes.c. A write reports a change it made (obj stolen): kept
 * for strata_changes and handed to the store's hook when one is set. */
void st_store_pg_note(st_store_pg *s, const char *type, json_t *obj);
/* The end of a transaction, as one simple query (*sql, malloc'd): the
 * changes noted (Secrets sealed) and a notification for the tails, when
 * there are any; the marker (strata_txn); COMMIT. */
int st_store_pg_changes_commit_sql(st_store_pg *s, const char *marker, char **sql, st_error *err);
int st_store_pg_changes_record(st_store *st, bool on, st_error *err);
int st_store_pg_changes_head(st_store *st, unsigned long long *rv, st_error *err);
int st_store_pg_changes_since(st_store *st, unsigned long long after_rv, size_t limit, json_t **out,
                              unsigned long long *last_rv, st_error *err);
int st_store_pg_changes_wait(st_store *st, int timeout_ms, st_error *err);
int st_store_pg_changes_trim(st_store *st, int keep_s, st_error *err);
/* Frees what the change feed holds (the store is closing). */
void st_store_pg_changes_free(st_store_pg *s);

#endif
