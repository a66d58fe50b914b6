/* store_pg_conn.c: the PostgreSQL backend's one connection: the prepared
 * statements per kind, reconnecting after the server restarted, and
 * running a statement or a transaction so that a lost connection re-runs it
 * once and a COMMIT whose answer was lost is never blindly sent again. */
#include "store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
};

static int prepare(st_store_pg *s, const char *name, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQprepare(s->conn, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return st_error_set(err, EIO, "preparing %s: %s", name, PQerrorMessage(s->conn));
    return 0;
}

int st_store_pg_prepare_all(st_store_pg *s, st_error *err)
{
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

static int reconnect(st_store_pg *s, st_error *err)
{
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return st_error_set(err, EIO,
                            "lost the connection to PostgreSQL and cannot reconnect: %s; is the "
                            "server running?",
                            PQerrorMessage(s->conn));
    return st_store_pg_prepare_all(s, err);
}

static bool conn_lost(st_store_pg *s)
{
    return PQstatus(s->conn) == CONNECTION_BAD;
}

PGresult *st_store_pg_exec(st_store_pg *s, const char *stmt, const char *sql, int n,
                           const char *const *params, bool may_retry, bool *retried, st_error *err)
{
    if (retried)
        *retried = false;
    if (may_retry && conn_lost(s) && reconnect(s, err) < 0)
        return NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *r = stmt ? PQexecPrepared(s->conn, stmt, n, params, NULL, NULL, 0)
                           : PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return r;
        PQclear(r);
        if (may_retry && attempt == 0 && conn_lost(s)) {
            if (reconnect(s, err) < 0)
                return NULL;
            if (retried)
                *retried = true;
            continue;
        }
        st_error_set(err, EIO, "PostgreSQL %s: %s", stmt ? stmt : "query", PQerrorMessage(s->conn));
        return NULL;
    }
}

int st_store_pg_exec_simple(st_store_pg *s, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return st_error_set(err, EIO, "PostgreSQL %s: %s", sql, PQerrorMessage(s->conn));
    return 0;
}

int st_store_pg_txn(st_store_pg *s, st_store_pg_txn_fn fn, void (*reset)(void *), void *ctx,
                    st_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (conn_lost(s) && reconnect(s, err) < 0)
            return -EIO;
        char marker[ST_STORE_UID_LEN];
        st_store_uid_new(marker);
        st_error local = {0};
        int r = st_store_pg_exec_simple(s, "BEGIN", &local);
        if (r == 0) {
            s->in_txn = true;
            r = fn(s, ctx, &local);
            s->in_txn = false;
        }
        if (r == 0) {
            const char *p[1] = {marker};
            _cleanup_pgresult_ PGresult *m = st_store_pg_exec(
                s, NULL, "INSERT INTO strata_txn (id) VALUES ($1)", 1, p, false, NULL, &local);
            r = m ? st_store_pg_exec_simple(s, "COMMIT", &local) : -EIO;
            if (r == 0)
                return 0;
            if (conn_lost(s)) {
                /* COMMIT's outcome is unknown: ask the marker. */
                if (reconnect(s, err) < 0)
                    return -EIO;
                _cleanup_pgresult_ PGresult *chk = st_store_pg_exec(
                    s, NULL, "SELECT 1 FROM strata_txn WHERE id = $1", 1, p, false, NULL, err);
                if (chk == NULL)
                    return -EIO;
                if (PQntuples(chk) == 1)
                    return 0;
                if (attempt > 0)
                    return st_error_set(err, EIO, "lost the connection to PostgreSQL twice: %s",
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
            return st_error_set(err, EIO, "lost the connection to PostgreSQL twice: %s", local.msg);
        reset(ctx);
    }
}
