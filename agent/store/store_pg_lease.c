/* store_pg_lease.c: Leases on PostgreSQL (strata/store_lease.h). A try is
 * ONE statement, INSERT ... ON CONFLICT DO UPDATE: PostgreSQL locks the
 * lease's row (or inserts it) and judges it as committed by whoever wrote
 * last, so two stratads racing for a lease never both get it, and every
 * time is the database's now(), never a host's clock. A try that leaves the
 * lease to someone else rewrites the row as it was (same resourceVersion,
 * same object): the statement then still returns the lease as it stands,
 * under the same lock, and nothing reaches the watch hook.
 *
 * now() is the start of the statement's transaction: a try that waited on
 * the row's lock judges with a "now" a little in the past, which only ever
 * makes a lease look less expired (the safe side), and a renewal never
 * moves renewTime back (greatest), so renewTime is never earlier than the
 * moment any renewal that succeeded was sent.
 *
 * Re-running a try after a lost connection is harmless (the holder renews
 * again), so st_store_pg_exec may retry it once like any statement. */
#include "store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "store_pg_cleanup.h"

/* A lease time: RFC 3339, UTC, microseconds (Kubernetes' MicroTime). */
#define MICRO(ts) "to_char((" ts ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* The database's clock, in milliseconds since the epoch. */
#define NOW_MS "floor(extract(epoch FROM now()) * 1000)::bigint"

#define SPEC   "coalesce(l.object->'spec', '{}'::jsonb)"
#define HOLDER "coalesce(l.object->'spec'->>'holderIdentity', '')"
#define RENEW  "(l.object->'spec'->>'renewTime')::timestamptz"
/* No holder, or past renewTime + leaseDurationSeconds: anyone may take it. */
#define FREE                                                                                       \
    "(" HOLDER " = '' OR l.object->'spec'->>'renewTime' IS NULL OR now() > " RENEW                 \
    " + coalesce((l.object->'spec'->>'leaseDurationSeconds')::int, 0) * interval '1 second')"

/* $1 namespace, $2 name, $3 a new uid, $4 the Lease without spec, $5 the
 * holder, $6 leaseDurationSeconds. */
static const char try_sql[] =
    "INSERT INTO leases AS l (namespace, name, uid, resource_version, object) "
    "VALUES ($1, $2, $3::uuid, " ST_PG_RV_SEQ ", $4::jsonb || jsonb_build_object('spec', "
    "jsonb_build_object('holderIdentity', $5::text, 'leaseDurationSeconds', $6::int, "
    "'acquireTime', " MICRO("now()") ", 'renewTime', " MICRO(
        "now()") ", "
                 "'leaseTransitions', 0))) "
                 "ON CONFLICT (namespace, name) DO UPDATE SET "
                 "resource_version = CASE WHEN " FREE " OR " HOLDER " = $5::text THEN " ST_PG_RV_SEQ
                 " ELSE l.resource_version END, "
                 "object = CASE "
                 /* taken: a new acquisition; a transition when the holder changes */
                 "WHEN " FREE " THEN l.object || jsonb_build_object('spec', " SPEC
                 " || jsonb_build_object("
                 "'holderIdentity', $5::text, 'leaseDurationSeconds', $6::int, "
                 "'acquireTime', " MICRO("now()") ", 'renewTime', " MICRO(
                     "now()") ", "
                              "'leaseTransitions', "
                              "coalesce((l.object->'spec'->>'leaseTransitions')::int, 0) + "
                              "CASE WHEN " HOLDER " = $5::text THEN 0 ELSE 1 END)) "
                              /* renewed by its holder */
                              "WHEN " HOLDER
                              " = $5::text THEN l.object || jsonb_build_object('spec', " SPEC
                              " || jsonb_build_object('holderIdentity', $5::text, "
                              "'leaseDurationSeconds', $6::int, "
                              "'renewTime', " MICRO("greatest(now(), " RENEW
                                                    ")") ")) "
                                                         /* someone else's: as it was */
                                                         "ELSE l.object END "
                                                         "RETURNING " ST_PG_COLS ", " NOW_MS;

/* $1 namespace, $2 name, $3 the holder giving it up. */
static const char release_sql[] =
    "UPDATE leases AS l SET resource_version = " ST_PG_RV_SEQ ", "
    "object = l.object || jsonb_build_object('spec', (" SPEC " - 'holderIdentity') || "
    "jsonb_build_object('renewTime', " MICRO(
        "now()") ")) "
                 "WHERE l.namespace = $1 AND l.name = $2 AND l.object->'spec'->>'holderIdentity' = "
                 "$3::text "
                 "RETURNING " ST_PG_COLS ", " NOW_MS;

/* One row whether or not the lease exists: the database's clock with it. */
static const char get_sql[] = "SELECT " ST_PG_COLS ", " NOW_MS " FROM (SELECT 1) AS one "
                              "LEFT JOIN leases ON namespace = $1 AND name = $2";

static st_store_pg *pg_of(st_store *s)
{
    return (st_store_pg *)s;
}

static const st_store_kind *lease_kind(void)
{
    return st_store_kind_find("Lease", NULL);
}

/* *out from the first row of r (ST_PG_COLS, then NOW_MS); *lease (may be
 * NULL) the Lease itself, NULL when the row has none. */
static int state_of_row(st_store_pg *s, PGresult *r, st_lease_state *out, json_t **lease,
                        st_error *err)
{
    if (PQntuples(r) != 1 || PQnfields(r) != 5)
        return st_error_set(err, EIO, "PostgreSQL lease statement returned %d rows of %d columns",
                            PQntuples(r), PQnfields(r));
    int64_t now = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    _cleanup_json_ json_t *obj = NULL;
    if (!PQgetisnull(r, 0, 3)) {
        int rc = st_store_pg_row_object(s, lease_kind(), r, 0, &obj, err);
        if (rc < 0)
            return rc;
    }
    st_store_lease_state_of(obj, now, out);
    if (lease)
        *lease = st_steal_ptr(&obj);
    return 0;
}

int st_store_pg_lease_get(st_store *st, const char *ns, const char *name, st_lease_state *out,
                          st_error *err)
{
    st_store_pg *s = pg_of(st);
    ns = st_store_ns_normalize(lease_kind(), ns);
    const char *params[2] = {ns, name};
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, NULL, get_sql, 2, params, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    int rc = state_of_row(s, r, out, NULL, err);
    if (rc < 0)
        return rc;
    return out->resource_version ? 0 : st_store_err_not_found(err, "Lease", ns, name);
}

int st_store_pg_lease_try(st_store *st, const char *ns, const char *name, const char *holder,
                          int duration_ms, st_lease_state *out, st_error *err)
{
    st_store_pg *s = pg_of(st);
    _cleanup_json_ json_t *skel = NULL;
    int rc = st_store_lease_args(ns, name, holder, duration_ms, &skel, err);
    if (rc < 0)
        return rc;
    ns = st_store_ns_normalize(lease_kind(), ns);
    _cleanup_free_ char *text = json_dumps(skel, JSON_COMPACT);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory serializing a Lease");
    char uid[ST_STORE_UID_LEN], secs[16];
    st_store_uid_new(uid);
    snprintf(secs, sizeof(secs), "%d", duration_ms / 1000);
    const char *params[6] = {ns, name, uid, text, holder, secs};
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, NULL, try_sql, 6, params, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    _cleanup_json_ json_t *lease = NULL;
    if ((rc = state_of_row(s, r, out, &lease, err)) < 0)
        return rc;
    bool mine = strcmp(out->holder, holder) == 0;
    /* Holding it after a try means this try wrote it (created, took or
     * renewed): a holder always renews. */
    if (mine && st_store_watched(st)) {
        bool created = strcmp(PQgetvalue(r, 0, 1), uid) == 0;
        st_store_changed(st, created ? "ADDED" : "MODIFIED", st_steal_ptr(&lease));
    }
    return mine;
}

int st_store_pg_lease_release(st_store *st, const char *ns, const char *name, const char *holder,
                              st_lease_state *out, st_error *err)
{
    st_store_pg *s = pg_of(st);
    ns = st_store_ns_normalize(lease_kind(), ns);
    const char *params[3] = {ns, name, holder};
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, NULL, release_sql, 3, params, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    if (PQntuples(r) == 0) {
        /* Not holder's (or no such lease): nothing written; say who holds it. */
        st_error gerr = {0};
        int rc = st_store_pg_lease_get(st, ns, name, out, &gerr);
        if (rc < 0 && rc != -ENOENT)
            return st_error_set(err, gerr.code, "%s", gerr.msg);
        return 0;
    }
    _cleanup_json_ json_t *lease = NULL;
    int rc = state_of_row(s, r, out, &lease, err);
    if (rc < 0)
        return rc;
    if (st_store_watched(st))
        st_store_changed(st, "MODIFIED", st_steal_ptr(&lease));
    return 1;
}

int st_store_pg_db_now_ms(st_store *st, int64_t *ms, st_error *err)
{
    st_store_pg *s = pg_of(st);
    _cleanup_pgresult_ PGresult *r =
        st_store_pg_exec(s, NULL, "SELECT " NOW_MS, 0, NULL, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    if (PQntuples(r) != 1)
        return st_error_set(err, EIO, "PostgreSQL SELECT now() returned no row");
    *ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    return 0;
}
