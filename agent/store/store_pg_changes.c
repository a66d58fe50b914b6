/* store_pg_changes.c: the PostgreSQL backend's change feed
 * (strata/store_changes.h), what lets several stratad on one database hear
 * each other's writes.
 *
 * Writing: each write reports its changes here (st_store_pg_note) as it
 * reports them to the watch hook, and st_store_pg_txn records them in
 * strata_changes in the same transaction, in the round trip that commits
 * it, with pg_notify('strata_changes', newest rv) so tails wake at once. Every write
 * transaction holds pg_advisory_xact_lock(ST_PG_CHANGES_LOCK) from before
 * its first nextval to its end, and PostgreSQL makes a commit visible
 * before it releases a transaction's locks: so the next writer's versions
 * are all larger and become visible later, and a reader that sees rv N
 * sees every smaller rv that will ever commit.
 *
 * Reading: on the store's connection, under its lock, in one statement
 * (one snapshot) with the trim floor, so a gap left by a trim is reported
 * (-ERANGE), never silent. Waiting: on a LISTEN connection of its own,
 * without the store's lock. */
#include "store_pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/clock.h"
#include "store_pg_cleanup.h"

static st_store_pg *pg_of(st_store *s)
{
    return (st_store_pg *)s;
}

static const char *md_str(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* ---- writing ---- */

void st_store_pg_note(st_store_pg *s, const char *type, json_t *obj)
{
    if (obj == NULL)
        return;
    if (s->changes == NULL)
        s->changes = json_array();
    json_array_append_new(s->changes, json_pack("[s, O]", type, obj));
    st_store_changed(&s->base, type, obj); /* the hook's copy: steals obj */
}

/* One change as its row: a Secret sealed as its own table keeps it (the
 * hook is handed it plain; the feed never holds a Secret's data plain). */
static int change_row(st_store_pg *s, const char *type, json_t *obj, json_t **row, st_error *err)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *name = md_str(obj, "name");
    const char *rv = md_str(obj, "resourceVersion");
    if (kind == NULL || name == NULL || rv == NULL)
        return st_error_set(err, EINVAL, "a change without kind, name or resourceVersion");
    _cleanup_json_ json_t *sealed = NULL;
    json_t *o = obj;
    if (strcmp(kind, "Secret") == 0) {
        sealed = json_deep_copy(obj);
        int r = sealed ? st_secret_seal(s->key, sealed, err)
                       : st_error_set(err, ENOMEM, "out of memory");
        if (r < 0)
            return r;
        o = sealed;
    }
    *row = json_pack("{s:I, s:s, s:s, s:s, s:s, s:O}", "rv", (json_int_t)strtoll(rv, NULL, 10),
                     "type", type, "kind", kind, "namespace", md_str(obj, "namespace") ?: "",
                     "name", name, "object", o);
    return *row ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

/* The rows as a literal in the statement: COMMIT goes in the same round
 * trip, and the simple query protocol that allows several statements
 * takes no parameters. */
static int changes_sql(st_store_pg *s, char **sql, st_error *err)
{
    *sql = NULL;
    if (json_array_size(s->changes) == 0)
        return 0;
    _cleanup_json_ json_t *rows = json_array();
    size_t i;
    json_t *ch;
    json_array_foreach(s->changes, i, ch)
    {
        json_t *row = NULL;
        int r = change_row(s, json_string_value(json_array_get(ch, 0)), json_array_get(ch, 1), &row,
                           err);
        if (r < 0)
            return r;
        json_array_append_new(rows, row);
    }
    _cleanup_free_ char *text = json_dumps(rows, JSON_COMPACT);
    char *lit = text ? PQescapeLiteral(s->conn, text, strlen(text)) : NULL;
    if (lit == NULL)
        return st_error_set(err, ENOMEM, "out of memory recording changes");
    int n = asprintf(
        sql,
        "WITH c AS (INSERT INTO strata_changes (rv, type, kind, namespace, name, object) "
        "SELECT rv, type, kind, namespace, name, object FROM jsonb_to_recordset(%s::jsonb) AS "
        "x(rv bigint, type text, kind text, namespace text, name text, object jsonb) "
        "RETURNING rv) SELECT pg_notify('strata_changes', max(rv)::text) FROM c; ",
        lit);
    PQfreemem(lit);
    return n < 0 ? st_error_set(err, ENOMEM, "out of memory recording changes") : 0;
}

int st_store_pg_changes_record(st_store *st, bool on, st_error *err)
{
    (void)err;
    st_store_pg *s = (st_store_pg *)st;
    s->feed = on;
    return 0;
}

int st_store_pg_changes_commit_sql(st_store_pg *s, const char *marker, char **sql, st_error *err)
{
    _cleanup_free_ char *changes = NULL;
    int r = s->feed ? changes_sql(s, &changes, err) : 0;
    if (r < 0)
        return r;
    /* marker: a UUID we made, nothing to quote */
    if (asprintf(sql, "%sINSERT INTO strata_txn (id) VALUES ('%s'); COMMIT", changes ? changes : "",
                 marker) < 0) {
        *sql = NULL;
        return st_error_set(err, ENOMEM, "out of memory committing");
    }
    return 0;
}

/* ---- reading ---- */

int st_store_pg_changes_head(st_store *st, unsigned long long *rv, st_error *err)
{
    st_store_pg *s = pg_of(st);
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(
        s, NULL,
        "SELECT greatest(coalesce(max(rv), 0), (SELECT rv FROM strata_changes_floor)) "
        "FROM strata_changes",
        0, NULL, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    *rv = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    return 0;
}

/* A row's object as the writer's hook was handed it. */
static int change_object(st_store_pg *s, const char *text, json_t **out, st_error *err)
{
    json_error_t jerr;
    _cleanup_json_ json_t *o = json_loads(text, 0, &jerr);
    if (!json_is_object(o))
        return st_error_set(err, EBADMSG, "strata_changes holds invalid JSON: %s", jerr.text);
    if (json_object_get(o, ST_SECRET_SEALED_FIELD)) {
        int r = s->key ? st_secret_unseal(s->key, o, err)
                       : st_error_set(err, EACCES,
                                      "a Secret in the change feed, and no key to read it; "
                                      "give every stratad on the database the same key");
        if (r < 0)
            return r;
    }
    *out = st_steal_ptr(&o);
    return 0;
}

int st_store_pg_changes_since(st_store *st, unsigned long long after_rv, size_t limit, json_t **out,
                              unsigned long long *last_rv, st_error *err)
{
    st_store_pg *s = pg_of(st);
    char after[32], lim[32];
    snprintf(after, sizeof(after), "%llu", after_rv);
    snprintf(lim, sizeof(lim), "%zu", limit ? limit : 1);
    const char *p[2] = {after, lim};
    /* One snapshot for the floor and the rows: a trim is seen whole or
     * not at all. */
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(
        s, NULL,
        "SELECT f.rv, c.rv, c.type, c.object FROM strata_changes_floor f LEFT JOIN LATERAL "
        "(SELECT rv, type, object FROM strata_changes WHERE rv > $1::bigint ORDER BY rv "
        "LIMIT $2::bigint) c ON true ORDER BY c.rv",
        2, p, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    unsigned long long floor = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    if (after_rv < floor) {
        *last_rv = floor;
        return st_error_set(err, ERANGE,
                            "changes after resourceVersion %llu were trimmed (kept from %llu on); "
                            "read again from %llu and list what may have been missed",
                            after_rv, floor, floor);
    }
    _cleanup_json_ json_t *arr = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        if (PQgetisnull(r, row, 1))
            continue;
        json_t *o = NULL;
        int rc = change_object(s, PQgetvalue(r, row, 3), &o, err);
        if (rc < 0)
            return rc;
        json_array_append_new(arr, json_pack("[s, o]", PQgetvalue(r, row, 2), o));
        *last_rv = strtoull(PQgetvalue(r, row, 1), NULL, 10);
    }
    *out = st_steal_ptr(&arr);
    return 0;
}

int st_store_pg_changes_trim(st_store *st, int keep_s, st_error *err)
{
    st_store_pg *s = pg_of(st);
    char keep[32];
    snprintf(keep, sizeof(keep), "%d", keep_s < 0 ? 0 : keep_s);
    const char *p[1] = {keep};
    /* A prefix by version (times need not grow with versions: now() is a
     * transaction's start, before it waited for the lock), never the
     * newest row, and the floor raised in the same statement. */
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(
        s, NULL,
        "WITH d AS (DELETE FROM strata_changes WHERE rv <= (SELECT max(rv) FROM strata_changes "
        "WHERE at < now() - make_interval(secs => $1::int)) AND rv < (SELECT max(rv) FROM "
        "strata_changes) RETURNING rv) UPDATE strata_changes_floor SET rv = "
        "greatest(strata_changes_floor.rv, coalesce((SELECT max(rv) FROM d), 0)) "
        "RETURNING (SELECT count(*) FROM d)",
        1, p, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    return atoi(PQgetvalue(r, 0, 0));
}

/* ---- waiting ---- */

/* 1: a new LISTEN connection (notifications may have been missed). */
static int listen_open(st_store_pg *s, st_error *err)
{
    if (s->listen && s->listening && PQstatus(s->listen) == CONNECTION_OK)
        return 0;
    if (s->listen)
        PQfinish(s->listen);
    s->listening = false;
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *values[] = {"5", s->dsn, NULL};
    s->listen = PQconnectdbParams(keys, values, 1);
    if (PQstatus(s->listen) == CONNECTION_OK) {
        _cleanup_pgresult_ PGresult *r = PQexec(s->listen, "LISTEN strata_changes");
        s->listening = PQresultStatus(r) == PGRES_COMMAND_OK;
    }
    if (!s->listening) {
        int rc = st_error_set(err, ST_ESTORE_DOWN,
                              "cannot listen for changes on PostgreSQL: %s; tried again on the "
                              "next wait",
                              PQerrorMessage(s->listen));
        PQfinish(s->listen);
        s->listen = NULL;
        return rc;
    }
    return 1;
}

static int wait_locked(st_store_pg *s, int timeout_ms, st_error *err)
{
    int r = listen_open(s, err);
    if (r != 0)
        return r;
    int64_t deadline = st_clock_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    for (;;) {
        if (!PQconsumeInput(s->listen)) {
            r = st_error_set(err, ST_ESTORE_DOWN, "the change feed's connection was lost: %s",
                             PQerrorMessage(s->listen));
            PQfinish(s->listen);
            s->listen = NULL;
            s->listening = false;
            return r;
        }
        bool got = false;
        for (PGnotify *n; (n = PQnotifies(s->listen)) != NULL; PQfreemem(n))
            got = true;
        if (got)
            return 1;
        int64_t left = deadline - st_clock_ns();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = PQsocket(s->listen), .events = POLLIN};
        if (poll(&pfd, 1, (int)((left + 999999) / 1000000)) < 0 && errno != EINTR)
            return st_error_sys(err, errno, "waiting for changes");
    }
}

int st_store_pg_changes_wait(st_store *st, int timeout_ms, st_error *err)
{
    st_store_pg *s = pg_of(st);
    pthread_mutex_lock(&s->listen_lock);
    int r = wait_locked(s, timeout_ms, err);
    pthread_mutex_unlock(&s->listen_lock);
    return r;
}

void st_store_pg_changes_free(st_store_pg *s)
{
    if (s->listen)
        PQfinish(s->listen);
    s->listen = NULL;
    pthread_mutex_destroy(&s->listen_lock);
    json_decref(s->changes);
    s->changes = NULL;
    free(s->dsn);
    s->dsn = NULL;
}
