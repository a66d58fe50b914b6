/* store_pg_conn.c: the PostgreSQL backend's one connection: the prepared
 * statements per kind, reconnecting after the server restarted, and
 * running a statement or a transaction so that a lost connection re-runs it
 * once and a COMMIT whose answer was lost is never blindly sent again.
 * A server that cannot be reached is tried again at most every
 * ST_STORE_RETRY_S seconds; in between, every call fails at once with
 * -ST_ESTORE_DOWN, so the API answers 503 without waiting on it. */
#include "store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strata/clock.h"
#include "strata/cleanup.h"
#include "store_pg_cleanup.h"

const char *const st_store_pg_extra_cols[ST_STORE_KIND_COUNT][2] = {
    {"node_name", "owner"},
    {NULL, NULL},
    {NULL, NULL},
    {NULL, NULL},
    {"involved_kind", "involved_name"},
    {NULL, NULL},
    {NULL, NULL},
    {NULL, NULL},
    {NULL, NULL},
};

static bool conn_lost(st_store_pg *s)
{
    return PQstatus(s->conn) == CONNECTION_BAD;
}

/* The connection or (with r) a statement failed: err and s->fail_code say
 * what it means (store_pg_errors.c). */
static int failed(st_store_pg *s, PGresult *r, const char *what, st_error *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg =
        r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(s->conn);
    s->fail_code = st_store_pg_error_code(state, msg, conn_lost(s));
    return st_store_pg_error_set(err, s->fail_code, what, msg, s->data_dir);
}

static int prepare(st_store_pg *s, const char *name, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQprepare(s->conn, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return failed(s, r, name, err);
    return 0;
}

int st_store_pg_prepare_all(st_store_pg *s, st_error *err)
{
    /* Every write holds the change feed's order lock to its commit, for
     * every stratad on the database: one stopped mid-transaction (frozen,
     * SIGSTOP, a lost host) must not stall them all longer than this. The
     * server ends such a session; this store then sees a lost connection. */
    {
        _cleanup_pgresult_ PGresult *set =
            PQexec(s->conn, "SET idle_in_transaction_session_timeout = " ST_PG_IDLE_TXN_MS);
        if (PQresultStatus(set) != PGRES_COMMAND_OK)
            return failed(s, set, "idle_in_transaction_session_timeout", err);
    }
    char name[64], sql[1024];
    for (size_t i = 0; i < ST_STORE_KIND_COUNT; i++) {
        const char *t = st_store_kinds[i].table;
        const char *c1 = st_store_pg_extra_cols[i][0], *c2 = st_store_pg_extra_cols[i][1];
        int r;
        snprintf(name, sizeof(name), "%s_get", t);
        snprintf(sql, sizeof(sql),
                 "SELECT " ST_PG_COLS " FROM %s WHERE namespace = $1 AND name = $2", t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_getx", t);
        snprintf(sql, sizeof(sql),
                 "SELECT " ST_PG_COLS " FROM %s WHERE namespace = $1 AND name = $2 FOR UPDATE", t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_ins", t);
        if (c1)
            snprintf(sql, sizeof(sql),
                     "INSERT INTO %s (namespace, name, uid, resource_version, object, %s, %s) "
                     "VALUES ($1, $2, $3, " ST_PG_RV_SEQ ", $4::jsonb, $5, $6) ON CONFLICT "
                     "(namespace, name) DO NOTHING RETURNING resource_version, " ST_PG_TS_COL,
                     t, c1, c2);
        else
            snprintf(sql, sizeof(sql),
                     "INSERT INTO %s (namespace, name, uid, resource_version, object) "
                     "VALUES ($1, $2, $3, " ST_PG_RV_SEQ ", $4::jsonb) ON CONFLICT "
                     "(namespace, name) DO NOTHING RETURNING resource_version, " ST_PG_TS_COL,
                     t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_upd", t);
        if (c1)
            snprintf(sql, sizeof(sql),
                     "UPDATE %s SET resource_version = " ST_PG_RV_SEQ ", object = $4::jsonb, "
                     "%s = $5, %s = $6 WHERE namespace = $1 AND name = $2 AND "
                     "resource_version = $3::bigint RETURNING resource_version, uid, " ST_PG_TS_COL,
                     t, c1, c2);
        else
            snprintf(sql, sizeof(sql),
                     "UPDATE %s SET resource_version = " ST_PG_RV_SEQ ", object = $4::jsonb "
                     "WHERE namespace = $1 AND name = $2 AND resource_version = $3::bigint "
                     "RETURNING resource_version, uid, " ST_PG_TS_COL,
                     t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_del", t);
        snprintf(sql, sizeof(sql),
                 "DELETE FROM %s WHERE namespace = $1 AND name = $2 AND "
                 "($3::bigint IS NULL OR resource_version = $3::bigint) RETURNING "
                 /* a delete takes a new version: the feed's DELETED sorts last */
                 ST_PG_RV_SEQ ", uid, " ST_PG_TS_COL ", object",
                 t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
    }
    return prepare(
        s, "pods_bind",
        "UPDATE pods p SET node_name = b.node, resource_version = " ST_PG_RV_SEQ ", "
        "object = jsonb_set(p.object, '{spec}', coalesce(p.object->'spec', "
        "'{}'::jsonb) || jsonb_build_object('nodeName', b.node)) "
        "FROM jsonb_to_recordset($1::jsonb) AS b(ns text, name text, node text) "
        "WHERE p.namespace = b.ns AND p.name = b.name AND "
        "coalesce(p.node_name, '') = '' RETURNING p.resource_version, p.uid, " ST_PG_TS_COL
        ", p.object, p.namespace, p.name",
        err);
}

/* A new session (PQreset) at once after a lost one (a server restart is
 * then invisible to callers), but after a failed attempt not again for
 * ST_STORE_RETRY_S: until then, the reason it failed. */
static int reconnect(st_store_pg *s, st_error *err)
{
    if (s->down && st_clock_ns() < s->retry_ns) {
        s->fail_code = ST_ESTORE_DOWN;
        return st_store_pg_error_set(err, ST_ESTORE_DOWN, NULL, s->down_msg, s->data_dir);
    }
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->down = true;
        s->retry_ns = st_clock_ns() + (int64_t)ST_STORE_RETRY_S * 1000000000;
        snprintf(s->down_msg, sizeof(s->down_msg), "%s", PQerrorMessage(s->conn));
        return failed(s, NULL, "reconnecting", err);
    }
    int r = st_store_pg_prepare_all(s, err);
    if (r == 0)
        s->down = false;
    return r;
}

PGresult *st_store_pg_exec(st_store_pg *s, const char *stmt, const char *sql, int n,
                           const char *const *params, bool may_retry, st_error *err)
{
    if (may_retry && conn_lost(s) && reconnect(s, err) < 0)
        return NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *r = stmt ? PQexecPrepared(s->conn, stmt, n, params, NULL, NULL, 0)
                           : PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return r;
        if (may_retry && attempt == 0 && conn_lost(s)) {
            PQclear(r);
            if (reconnect(s, err) < 0)
                return NULL;
            continue;
        }
        failed(s, r, stmt ? stmt : "query", err);
        PQclear(r);
        return NULL;
    }
}

int st_store_pg_exec_simple(st_store_pg *s, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return failed(s, r, sql, err);
    return 0;
}

/* The changes, the marker and COMMIT in one round trip: the first that
 * fails stops the rest, and nothing commits. */
static int commit(st_store_pg *s, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQexec(s->conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return failed(s, r, "COMMIT", err);
    return 0;
}

static int txn_run(st_store_pg *s, st_store_pg_txn_fn fn, void (*reset)(void *), void *ctx,
                   st_error *err)
{
    for (int attempt = 0;; attempt++) {
        int r;
        if (conn_lost(s) && (r = reconnect(s, err)) < 0)
            return r;
        char marker[ST_STORE_UID_LEN];
        st_store_uid_new(marker);
        st_error local = {0};
        /* What an earlier attempt reported is not what this one writes. */
        st_store_changes_reset(&s->base);
        json_array_clear(s->changes);
        /* The feed's order lock before any resourceVersion is taken
         * (store_pg_changes.c says why); released by COMMIT or ROLLBACK. */
        r = st_store_pg_exec_simple(
            s, s->feed ? "BEGIN; SELECT pg_advisory_xact_lock(" ST_PG_CHANGES_LOCK ")" : "BEGIN",
            &local);
        if (r == 0) {
            s->in_txn = true;
            r = fn(s, ctx, &local);
            s->in_txn = false;
        }
        _cleanup_free_ char *end = NULL;
        if (r == 0)
            r = st_store_pg_changes_commit_sql(s, marker, &end, &local);
        if (r == 0) {
            const char *p[1] = {marker};
            r = commit(s, end, &local);
            if (r == 0)
                return 0;
            if (conn_lost(s)) {
                /* COMMIT's outcome is unknown: ask the marker. */
                if ((r = reconnect(s, err)) < 0)
                    return r;
                _cleanup_pgresult_ PGresult *chk = st_store_pg_exec(
                    s, NULL, "SELECT 1 FROM strata_txn WHERE id = $1", 1, p, false, err);
                if (chk == NULL)
                    return st_store_pg_failed(s);
                if (PQntuples(chk) == 1)
                    return 0;
                if (attempt > 0)
                    return st_error_set(err, ST_ESTORE_DOWN, "%s (lost twice in one write)",
                                        local.msg);
                reset(ctx);
                continue;
            }
        }
        if (!conn_lost(s)) {
            st_store_pg_exec_simple(s, "ROLLBACK", NULL);
            return st_error_set(err, local.code ? local.code : EIO, "%s", local.msg);
        }
        if (attempt > 0)
            return st_error_set(err, ST_ESTORE_DOWN, "%s (lost twice in one write)", local.msg);
        reset(ctx);
    }
}

int st_store_pg_txn(st_store_pg *s, st_store_pg_txn_fn fn, void (*reset)(void *), void *ctx,
                    st_error *err)
{
    int r = txn_run(s, fn, reset, ctx, err);
    json_array_clear(s->changes); /* recorded, or not written */
    return r;
}
