/* store_pg.c: the PostgreSQL store backend (libpq). One connection,
 * prepared statements per kind, optimistic concurrency on the
 * resource_version column, Secrets sealed before they reach the wire.
 *
 * Reconnecting, and why re-running is safe: a write is either one statement
 * (autocommit) or one explicit transaction. When the connection is lost,
 * the store reconnects (PQreset, prepares again) and re-runs the statement
 * or the whole transaction once. The outcome of the lost attempt may be
 * unknown (the server may have committed before the answer was lost), so:
 * - a single create carries the uid we generated: on a retry, an existing
 *   row with our uid is our own commit, reported as success;
 * - a single update is conditional on the resourceVersion: on a retry, a
 *   conflict whose stored content equals what we wrote is our own commit;
 * - a single delete whose retry finds nothing was our own delete;
 * - a transaction inserts a random marker into strata_txn before COMMIT;
 *   when COMMIT's answer is lost, the marker tells whether it committed,
 *   and only a transaction that did not commit is re-run.
 * A COMMIT is never blindly re-sent. */
#include "store_backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "strata/cleanup.h"
#include "strata/migrate.h"
#include "store_object.h"
#include "store_pg_cleanup.h"

#define RV_SEQ "nextval('strata_resource_version')"
#define TS_COL "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define COLS   "resource_version, uid, " TS_COL ", object"

typedef struct pg_store {
    st_store base;
    PGconn *conn;
    const st_secret_key *key;
} pg_store;

/* Indexed columns beyond the common ones, per kind (same order as
 * st_store_kinds: Pod, Deployment, Secret, Node, Event). */
static const char *const extra_cols[ST_STORE_KIND_COUNT][2] = {
    {"node_name", "owner"},
    {NULL, NULL},
    {NULL, NULL},
    {NULL, NULL},
    {"involved_kind", "involved_name"},
};

static pg_store *pg_of(st_store *s)
{
    return (pg_store *)s;
}

static size_t kind_index(const st_store_kind *k)
{
    return (size_t)(k - st_store_kinds);
}

static void extra_values(const st_store_kind *k, json_t *obj, const char *v[2])
{
    v[0] = v[1] = NULL;
    if (strcmp(k->kind, "Pod") == 0) {
        v[0] = st_store_object_node(obj);
        v[1] = st_store_object_owner(obj);
    } else if (strcmp(k->kind, "Event") == 0) {
        json_t *inv = json_object_get(obj, "involvedObject");
        v[0] = json_string_value(json_object_get(inv, "kind"));
        v[1] = json_string_value(json_object_get(inv, "name"));
    }
}

/* ---- connection, statements, reconnect ---- */

static int prepare(pg_store *s, const char *name, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQprepare(s->conn, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return st_error_set(err, EIO, "preparing %s: %s", name, PQerrorMessage(s->conn));
    return 0;
}

/* Prepared statements live in the session: after every (re)connect. */
static int prepare_all(pg_store *s, st_error *err)
{
    char name[64], sql[1024];
    for (size_t i = 0; i < ST_STORE_KIND_COUNT; i++) {
        const char *t = st_store_kinds[i].table;
        const char *c1 = extra_cols[i][0], *c2 = extra_cols[i][1];
        int r;
        snprintf(name, sizeof(name), "%s_get", t);
        snprintf(sql, sizeof(sql), "SELECT " COLS " FROM %s WHERE namespace = $1 AND name = $2", t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_getx", t);
        snprintf(sql, sizeof(sql),
                 "SELECT " COLS " FROM %s WHERE namespace = $1 AND name = $2 FOR UPDATE", t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_ins", t);
        if (c1)
            snprintf(sql, sizeof(sql),
                     "INSERT INTO %s (namespace, name, uid, resource_version, object, %s, %s) "
                     "VALUES ($1, $2, $3, " RV_SEQ ", $4::jsonb, $5, $6) ON CONFLICT "
                     "(namespace, name) DO NOTHING RETURNING resource_version, " TS_COL,
                     t, c1, c2);
        else
            snprintf(sql, sizeof(sql),
                     "INSERT INTO %s (namespace, name, uid, resource_version, object) "
                     "VALUES ($1, $2, $3, " RV_SEQ ", $4::jsonb) ON CONFLICT "
                     "(namespace, name) DO NOTHING RETURNING resource_version, " TS_COL,
                     t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_upd", t);
        if (c1)
            snprintf(sql, sizeof(sql),
                     "UPDATE %s SET resource_version = " RV_SEQ ", object = $4::jsonb, "
                     "%s = $5, %s = $6 WHERE namespace = $1 AND name = $2 AND "
                     "resource_version = $3::bigint RETURNING resource_version, uid, " TS_COL,
                     t, c1, c2);
        else
            snprintf(sql, sizeof(sql),
                     "UPDATE %s SET resource_version = " RV_SEQ ", object = $4::jsonb "
                     "WHERE namespace = $1 AND name = $2 AND resource_version = $3::bigint "
                     "RETURNING resource_version, uid, " TS_COL,
                     t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
        snprintf(name, sizeof(name), "%s_del", t);
        snprintf(sql, sizeof(sql),
                 "DELETE FROM %s WHERE namespace = $1 AND name = $2 AND "
                 "($3::bigint IS NULL OR resource_version = $3::bigint) RETURNING "
                 "resource_version",
                 t);
        if ((r = prepare(s, name, sql, err)) < 0)
            return r;
    }
    return prepare(s, "pods_bind",
                   "UPDATE pods p SET node_name = b.node, resource_version = " RV_SEQ ", "
                   "object = jsonb_set(p.object, '{spec}', coalesce(p.object->'spec', "
                   "'{}'::jsonb) || jsonb_build_object('nodeName', b.node)) "
                   "FROM jsonb_to_recordset($1::jsonb) AS b(ns text, name text, node text) "
                   "WHERE p.namespace = b.ns AND p.name = b.name AND "
                   "coalesce(p.node_name, '') = '' RETURNING p.namespace, p.name",
                   err);
}

static int reconnect(pg_store *s, st_error *err)
{
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return st_error_set(err, EIO,
                            "lost the connection to PostgreSQL and cannot reconnect: %s; is the "
                            "server running?",
                            PQerrorMessage(s->conn));
    return prepare_all(s, err);
}

static bool conn_lost(pg_store *s)
{
    return PQstatus(s->conn) == CONNECTION_BAD;
}

/* Runs a prepared statement (stmt) or a parameterized one (sql). With
 * may_retry (outside a transaction), a lost connection is re-established
 * and the statement re-run once; *retried then says so. */
static PGresult *pg_exec(pg_store *s, const char *stmt, const char *sql, int n,
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

static int exec_simple(pg_store *s, const char *sql, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return st_error_set(err, EIO, "PostgreSQL %s: %s", sql, PQerrorMessage(s->conn));
    return 0;
}

/* ---- objects and rows ---- */

/* The object's content as stored: system metadata out (it lives in
 * columns), namespace normalized. *plain keeps Secret data (for the
 * result), *text is what goes to the row (sealed). */
static int row_content(pg_store *s, const st_store_kind *k, const char *ns, json_t *obj,
                       json_t **plain, char **text, st_error *err)
{
    json_t *c = st_store_object_content(obj);
    json_t *md = json_object_get(c, "metadata");
    if (k->namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace");
    _cleanup_json_ json_t *sealed = json_deep_copy(c);
    if (strcmp(k->kind, "Secret") == 0) {
        int r = st_secret_seal(s->key, sealed, err);
        if (r < 0) {
            json_decref(c);
            return r;
        }
    }
    *text = json_dumps(sealed, JSON_COMPACT);
    if (*text == NULL) {
        json_decref(c);
        return st_error_set(err, ENOMEM, "out of memory serializing %s", k->kind);
    }
    *plain = c;
    return 0;
}

/* Row (resource_version, uid, created, object) to the object callers see. */
static int row_object(pg_store *s, const st_store_kind *k, PGresult *r, int row, json_t **out,
                      st_error *err)
{
    json_error_t jerr;
    json_t *o = json_loads(PQgetvalue(r, row, 3), 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return st_error_set(err, EBADMSG, "%s row holds invalid JSON: %s", k->table, jerr.text);
    }
    const char *ns =
        json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
    st_store_object_stamp(o, ns, PQgetvalue(r, row, 1), PQgetvalue(r, row, 0),
                          PQgetvalue(r, row, 2));
    if (strcmp(k->kind, "Secret") == 0) {
        int rc = st_secret_unseal(s->key, o, err);
        if (rc < 0) {
            json_decref(o);
            return rc;
        }
    }
    *out = o;
    return 0;
}

/* *out NULL when there is no such row. */
static int fetch(pg_store *s, const st_store_kind *k, const char *ns, const char *name,
                 bool for_update, bool may_retry, json_t **out, st_error *err)
{
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_%s", k->table, for_update ? "getx" : "get");
    const char *params[2] = {ns, name};
    _cleanup_pgresult_ PGresult *r = pg_exec(s, stmt, NULL, 2, params, may_retry, NULL, err);
    if (r == NULL)
        return -EIO;
    *out = NULL;
    if (PQntuples(r) == 0)
        return 0;
    return row_object(s, k, r, 0, out, err);
}

static int conflict(st_error *err, const char *kind, const char *ns, const char *name)
{
    return st_error_set(err, ST_ECONFLICT,
                        "%s %s%s%s: the object has been modified; please apply your changes to "
                        "the latest version and try again",
                        kind, ns, *ns ? "/" : "", name);
}

static int not_found(st_error *err, const char *kind, const char *ns, const char *name)
{
    return st_error_set(err, ENOENT, "%s %s%s%s not found", kind, ns, *ns ? "/" : "", name);
}

/* Same content (system metadata aside) as we meant to write? */
static bool same_content(json_t *stored, json_t *plain)
{
    _cleanup_json_ json_t *c = st_store_object_content(stored);
    return json_equal(c, plain);
}

/* ---- the writes ---- */

static int do_create(pg_store *s, json_t *obj, bool may_retry, json_t **out, st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    char uid[37];
    if ((r = st_store_uuid4(uid, err)) < 0)
        return r;
    _cleanup_json_ json_t *plain = NULL;
    _cleanup_free_ char *text = NULL;
    if ((r = row_content(s, k, ns, obj, &plain, &text, err)) < 0)
        return r;
    const char *params[6] = {ns, name, uid, text};
    extra_values(k, plain, params + 4);
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_ins", k->table);
    bool retried = false;
    _cleanup_pgresult_ PGresult *res = pg_exec(s, stmt, NULL, extra_cols[kind_index(k)][0] ? 6 : 4,
                                               params, may_retry, &retried, err);
    if (res == NULL)
        return -EIO;
    if (PQntuples(res) == 0) {
        if (retried) {
            json_t *cur = NULL;
            if ((r = fetch(s, k, ns, name, false, true, &cur, err)) < 0)
                return r;
            const char *cuid =
                json_string_value(json_object_get(json_object_get(cur, "metadata"), "uid"));
            if (cuid && strcmp(cuid, uid) == 0) {
                if (out)
                    *out = cur;
                else
                    json_decref(cur);
                return 0;
            }
            json_decref(cur);
        }
        return st_error_set(err, EEXIST, "%s %s%s%s already exists", k->kind, ns, *ns ? "/" : "",
                            name);
    }
    if (out) {
        st_store_object_stamp(plain, ns, uid, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
        *out = st_steal_ptr(&plain);
    }
    return 0;
}

/* Writes obj's content over the row at expected rv. */
static int write_update(pg_store *s, const st_store_kind *k, const char *ns, const char *name,
                        json_t *obj, const char *want, bool may_retry, json_t **out, st_error *err)
{
    char *end = NULL;
    strtoll(want, &end, 10);
    if (*want == '\0' || *end != '\0')
        return st_error_set(err, EINVAL,
                            "%s %s: metadata.resourceVersion \"%s\" was not issued by this store; "
                            "get the object again",
                            k->kind, name, want);
    _cleanup_json_ json_t *plain = NULL;
    _cleanup_free_ char *text = NULL;
    int r = row_content(s, k, ns, obj, &plain, &text, err);
    if (r < 0)
        return r;
    const char *params[6] = {ns, name, want, text};
    extra_values(k, plain, params + 4);
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_upd", k->table);
    bool retried = false;
    _cleanup_pgresult_ PGresult *res = pg_exec(s, stmt, NULL, extra_cols[kind_index(k)][0] ? 6 : 4,
                                               params, may_retry, &retried, err);
    if (res == NULL)
        return -EIO;
    if (PQntuples(res) == 0) {
        _cleanup_json_ json_t *cur = NULL;
        if ((r = fetch(s, k, ns, name, false, may_retry, &cur, err)) < 0)
            return r;
        if (cur == NULL)
            return not_found(err, k->kind, ns, name);
        if (retried && same_content(cur, plain)) {
            if (out)
                *out = st_steal_ptr(&cur);
            return 0;
        }
        return conflict(err, k->kind, ns, name);
    }
    if (out) {
        st_store_object_stamp(plain, ns, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0),
                              PQgetvalue(res, 0, 2));
        *out = st_steal_ptr(&plain);
    }
    return 0;
}

static int do_update(pg_store *s, json_t *obj, bool may_retry, json_t **out, st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    const char *want =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (want == NULL)
        return st_error_set(err, EINVAL,
                            "%s %s: metadata.resourceVersion is required to update; get the "
                            "object, change it and update that",
                            k->kind, name);
    return write_update(s, k, ns, name, obj, want, may_retry, out, err);
}

static int do_delete(pg_store *s, const char *kind, const char *ns_in, const char *name,
                     const char *expected_rv, bool may_retry, st_error *err)
{
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    const char *ns = st_store_ns_normalize(k, ns_in);
    if (name == NULL)
        return st_error_set(err, EINVAL, "delete %s: give a name", k->kind);
    if (expected_rv) {
        char *end = NULL;
        strtoll(expected_rv, &end, 10);
        if (*expected_rv == '\0' || *end != '\0')
            return conflict(err, k->kind, ns, name);
    }
    const char *params[3] = {ns, name, expected_rv};
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_del", k->table);
    bool retried = false;
    _cleanup_pgresult_ PGresult *res = pg_exec(s, stmt, NULL, 3, params, may_retry, &retried, err);
    if (res == NULL)
        return -EIO;
    if (PQntuples(res) > 0)
        return 0;
    _cleanup_json_ json_t *cur = NULL;
    int r = fetch(s, k, ns, name, false, may_retry, &cur, err);
    if (r < 0)
        return r;
    if (cur)
        return conflict(err, k->kind, ns, name);
    return retried ? 0 : not_found(err, k->kind, ns, name);
}

/* kubectl apply inside a transaction: the row is locked while compared. */
static int do_apply(pg_store *s, json_t *obj, json_t **out, st_store_action *action, st_error *err)
{
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *cur = NULL;
    if ((r = fetch(s, k, ns, name, true, false, &cur, err)) < 0)
        return r;
    if (cur == NULL) {
        *action = ST_STORE_CREATED;
        return do_create(s, obj, false, out, err);
    }
    _cleanup_json_ json_t *next = st_store_object_content(obj);
    json_t *md = json_object_get(next, "metadata");
    if (k->namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace");
    /* Status belongs to the controllers: keep it when the manifest has none. */
    if (!json_object_get(next, "status") && json_object_get(cur, "status"))
        json_object_set(next, "status", json_object_get(cur, "status"));
    if (same_content(cur, next)) {
        *action = ST_STORE_UNCHANGED;
        if (out)
            *out = st_steal_ptr(&cur);
        return 0;
    }
    *action = ST_STORE_CONFIGURED;
    const char *rv =
        json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    return write_update(s, k, ns, name, next, rv, false, out, err);
}

/* ---- transactions ---- */

typedef int (*txn_fn)(pg_store *s, void *ctx, st_error *err);

/* BEGIN; fn; marker; COMMIT, re-run once after a lost connection unless
 * the marker shows the COMMIT went through. reset() drops what a failed
 * attempt produced. */
static int run_txn(pg_store *s, txn_fn fn, void (*reset)(void *), void *ctx, st_error *err)
{
    for (int attempt = 0;; attempt++) {
        if (conn_lost(s) && reconnect(s, err) < 0)
            return -EIO;
        char marker[37];
        int r = st_store_uuid4(marker, err);
        if (r < 0)
            return r;
        st_error local = {0};
        r = exec_simple(s, "BEGIN", &local);
        if (r == 0)
            r = fn(s, ctx, &local);
        if (r == 0) {
            const char *p[1] = {marker};
            _cleanup_pgresult_ PGresult *m = pg_exec(
                s, NULL, "INSERT INTO strata_txn (id) VALUES ($1)", 1, p, false, NULL, &local);
            r = m ? exec_simple(s, "COMMIT", &local) : -EIO;
            if (r == 0)
                return 0;
            if (conn_lost(s)) {
                /* COMMIT's outcome is unknown: ask the marker. */
                if (reconnect(s, err) < 0)
                    return -EIO;
                _cleanup_pgresult_ PGresult *chk = pg_exec(
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
            exec_simple(s, "ROLLBACK", NULL);
            return st_error_set(err, local.code ? local.code : EIO, "%s", local.msg);
        }
        if (attempt > 0)
            return st_error_set(err, EIO, "lost the connection to PostgreSQL twice: %s", local.msg);
        reset(ctx);
    }
}

typedef struct batch_ctx {
    st_store_op *ops;
    size_t n;
} batch_ctx;

static void batch_reset(void *c)
{
    batch_ctx *b = c;
    st_store_ops_release(b->ops, b->n);
    for (size_t i = 0; i < b->n; i++)
        b->ops[i].action = ST_STORE_NONE;
}

static int batch_one(pg_store *s, st_store_op *op, st_error *err)
{
    json_t *md = json_object_get(op->object, "metadata");
    switch (op->op) {
    case ST_STORE_CREATE:
        op->action = ST_STORE_CREATED;
        return do_create(s, op->object, false, &op->result, err);
    case ST_STORE_UPDATE:
        op->action = ST_STORE_CONFIGURED;
        return do_update(s, op->object, false, &op->result, err);
    case ST_STORE_DELETE:
        op->action = ST_STORE_CONFIGURED;
        return do_delete(s, json_string_value(json_object_get(op->object, "kind")),
                         json_string_value(json_object_get(md, "namespace")),
                         json_string_value(json_object_get(md, "name")),
                         json_string_value(json_object_get(md, "resourceVersion")), false, err);
    case ST_STORE_APPLY:
        return do_apply(s, op->object, &op->result, &op->action, err);
    }
    return st_error_set(err, EINVAL, "unknown batch operation %d", (int)op->op);
}

static int batch_txn(pg_store *s, void *c, st_error *err)
{
    batch_ctx *b = c;
    for (size_t i = 0; i < b->n; i++) {
        int r = batch_one(s, &b->ops[i], err);
        if (r < 0) {
            st_error_prefix(err, "batch item %zu: ", i + 1);
            return r;
        }
    }
    return 0;
}

typedef struct bind_ctx {
    const st_store_binding *b;
    size_t n;
    const char *json;
} bind_ctx;

static void bind_reset(void *c)
{
    (void)c;
}

static int bind_txn(pg_store *s, void *c, st_error *err)
{
    bind_ctx *b = c;
    const char *p[1] = {b->json};
    _cleanup_pgresult_ PGresult *r = pg_exec(s, "pods_bind", NULL, 1, p, false, NULL, err);
    if (r == NULL)
        return -EIO;
    if ((size_t)PQntuples(r) == b->n)
        return 0;
    /* Name the first pod that was not bound, and why. */
    for (size_t i = 0; i < b->n; i++) {
        const char *ns = b->b[i].namespace && *b->b[i].namespace ? b->b[i].namespace : "default";
        bool bound = false;
        for (int row = 0; row < PQntuples(r) && !bound; row++)
            bound = strcmp(PQgetvalue(r, row, 0), ns) == 0 &&
                    strcmp(PQgetvalue(r, row, 1), b->b[i].name) == 0;
        if (bound)
            continue;
        const st_store_kind *k = st_store_kind_find("Pod", NULL);
        _cleanup_json_ json_t *cur = NULL;
        int rc = fetch(s, k, ns, b->b[i].name, false, false, &cur, err);
        if (rc < 0)
            return rc;
        if (cur == NULL)
            return not_found(err, "Pod", ns, b->b[i].name);
        return st_error_set(err, ST_ECONFLICT,
                            "pod %s/%s is already bound to node %s; a pod is bound once", ns,
                            b->b[i].name, st_store_object_node(cur));
    }
    return st_error_set(err, EINVAL, "the batch binds a pod more than once; bind each pod once");
}

/* ---- the ops table ---- */

static int pgs_get(st_store *st, const char *kind, const char *ns, const char *name, json_t **out,
                   st_error *err)
{
    pg_store *s = pg_of(st);
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    ns = st_store_ns_normalize(k, ns);
    json_t *o = NULL;
    int r = fetch(s, k, ns, name ? name : "", false, true, &o, err);
    if (r < 0)
        return r;
    if (o == NULL)
        return not_found(err, k->kind, ns, name ? name : "");
    *out = o;
    return 0;
}

/* The value of a plain "spec.nodeName=VALUE" term of a field selector, so
 * the indexed column does the filtering; NULL when there is none. */
static char *node_term(const char *sel)
{
    const char *pfx = "spec.nodeName=";
    for (const char *p = sel; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        if (strncmp(p, pfx, strlen(pfx)) == 0 && p[strlen(pfx)] != '=') {
            char *v = strndup(p + strlen(pfx), len - strlen(pfx));
            size_t vl = v ? strlen(v) : 0;
            while (v && vl > 0 && v[vl - 1] == ' ')
                v[--vl] = '\0';
            return v;
        }
        p += len;
    }
    return NULL;
}

static int list_query(pg_store *s, const st_store_query *q, bool by_rv, json_t **out, st_error *err)
{
    const st_store_kind *k = st_store_kind_find(q->kind, err);
    if (k == NULL)
        return -EINVAL;
    char sql[1024];
    const char *params[4];
    int n = 0;
    _cleanup_free_ char *labels = NULL;
    _cleanup_free_ char *node = NULL;
    int len = snprintf(sql, sizeof(sql), "SELECT " COLS " FROM %s WHERE true", k->table);
    if (q->namespace && *q->namespace && k->namespaced) {
        params[n++] = q->namespace;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND namespace = $%d", n);
    }
    if (q->owner && strcmp(k->kind, "Pod") == 0) {
        params[n++] = q->owner;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND owner = $%d", n);
    }
    if (strcmp(k->kind, "Pod") == 0 && (node = node_term(q->field_selector)) != NULL) {
        params[n++] = node;
        len +=
            snprintf(sql + len, sizeof(sql) - (size_t)len, " AND coalesce(node_name, '') = $%d", n);
    }
    _cleanup_json_ json_t *eq = st_store_selector_equalities(q->label_selector);
    if (json_object_size(eq) > 0) {
        labels = json_dumps(eq, JSON_COMPACT);
        params[n++] = labels;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len,
                        " AND object->'metadata'->'labels' @> $%d::jsonb", n);
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY %s",
             by_rv ? "resource_version" : "namespace, name");
    _cleanup_pgresult_ PGresult *r = pg_exec(s, NULL, sql, n, params, true, NULL, err);
    if (r == NULL)
        return -EIO;
    /* The full selector (!=, existence, other fields) is checked here, with
     * the same code as the in-memory store. */
    json_t *arr = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        json_t *o = NULL;
        int rc = row_object(s, k, r, row, &o, err);
        if (rc == 0) {
            rc = st_store_query_match(q, o, err);
            if (rc > 0)
                json_array_append(arr, o);
            json_decref(o);
        }
        if (rc < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

static int pgs_list(st_store *st, const st_store_query *q, json_t **out, st_error *err)
{
    pg_store *s = pg_of(st);
    return list_query(s, q, false, out, err);
}

static int pgs_create(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    pg_store *s = pg_of(st);
    return do_create(s, obj, true, out, err);
}

static int pgs_update(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    pg_store *s = pg_of(st);
    return do_update(s, obj, true, out, err);
}

static int pgs_remove(st_store *st, const char *kind, const char *ns, const char *name,
                      const char *expected_rv, st_error *err)
{
    pg_store *s = pg_of(st);
    return do_delete(s, kind, ns, name, expected_rv, true, err);
}

static int pgs_apply_batch(st_store *st, st_store_op *ops, size_t n, st_error *err)
{
    pg_store *s = pg_of(st);
    batch_ctx b = {ops, n};
    batch_reset(&b);
    int r = run_txn(s, batch_txn, batch_reset, &b, err);
    if (r < 0)
        batch_reset(&b);
    return r;
}

static int pgs_bind_pods(st_store *st, const st_store_binding *b, size_t n, st_error *err)
{
    pg_store *s = pg_of(st);
    if (n == 0)
        return 0;
    _cleanup_json_ json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (b[i].name == NULL || b[i].node_name == NULL || *b[i].node_name == '\0')
            return st_error_set(err, EINVAL, "binding %zu needs a pod name and a node name", i + 1);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s}", "ns",
                           b[i].namespace && *b[i].namespace ? b[i].namespace : "default", "name",
                           b[i].name, "node", b[i].node_name));
    }
    _cleanup_free_ char *text = json_dumps(arr, JSON_COMPACT);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    bind_ctx c = {b, n, text};
    return run_txn(s, bind_txn, bind_reset, &c, err);
}

static int pgs_append_event(st_store *st, json_t *event, json_t **out, st_error *err)
{
    _cleanup_json_ json_t *ev = NULL;
    int r = st_store_event_prepare(event, &ev, err);
    if (r < 0)
        return r;
    return pgs_create(st, ev, out, err);
}

static int pgs_list_events(st_store *st, const st_store_query *q, json_t **out, st_error *err)
{
    pg_store *s = pg_of(st);
    st_store_query eq = *q;
    eq.kind = "Event";
    return list_query(s, &eq, true, out, err);
}

static void pgs_close(st_store *st)
{
    pg_store *s = pg_of(st);
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

static const st_store_ops pg_ops = {
    .get = pgs_get,
    .list = pgs_list,
    .create = pgs_create,
    .update = pgs_update,
    .remove = pgs_remove,
    .apply_batch = pgs_apply_batch,
    .bind_pods = pgs_bind_pods,
    .append_event = pgs_append_event,
    .list_events = pgs_list_events,
    .close = pgs_close,
};

int st_store_pg_open(const char *dsn, const st_secret_key *key, int *migrations_applied,
                     st_store **out, st_error *err)
{
    pg_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return st_error_set(err, ENOMEM, "out of memory opening the store");
    st_store_init(&s->base, &pg_ops);
    s->key = key;
    s->conn = PQconnectdb(dsn);
    int r = 0;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        r = st_error_set(err, EIO, "cannot connect to PostgreSQL (%s): %s", dsn,
                         PQerrorMessage(s->conn));
    } else if ((r = st_migrate_apply(s->conn, st_migrations, st_migrations_count,
                                     migrations_applied, err)) == 0 &&
               (r = prepare_all(s, err)) == 0) {
        /* Markers only matter for the minutes around a lost COMMIT. */
        r = exec_simple(s, "DELETE FROM strata_txn WHERE at < now() - interval '1 hour'", err);
    }
    if (r < 0) {
        st_store_close(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}
