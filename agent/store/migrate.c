/* migrate.c: brings a PostgreSQL database to the schema this binary knows.
 * Each migration commits together with its schema_version row, so a crash
 * mid-way leaves a consistent version; a session advisory lock keeps two
 * agents on one database from migrating at once. Never downgrades. */
#include "strata/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "store_pg_cleanup.h"

/* Any constant both agents agree on: "strata" in ASCII. */
#define MIGRATE_LOCK_KEY "125780071854177"

static int exec_ok(PGconn *conn, const char *sql, const char *what, st_error *err)
{
    _cleanup_pgresult_ PGresult *r = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return st_error_set(err, EIO, "%s: %s", what, PQerrorMessage(conn));
    return 0;
}

int st_migrate_version(PGconn *conn, int *version, st_error *err)
{
    _cleanup_pgresult_ PGresult *r =
        PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return st_error_set(err, EIO, "reading schema_version: %s", PQerrorMessage(conn));
    *version = atoi(PQgetvalue(r, 0, 0));
    return 0;
}

static int apply_one(PGconn *conn, const st_migration *m, st_error *err)
{
    int r = exec_ok(conn, "BEGIN", "starting a migration", err);
    if (r < 0)
        return r;
    _cleanup_pgresult_ PGresult *res = PQexec(conn, m->sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        r = st_error_set(err, EIO,
                         "migration %03d_%s failed, nothing of it was applied: %s; fix the "
                         "database or the migration and restart",
                         m->version, m->name, PQerrorMessage(conn));
        exec_ok(conn, "ROLLBACK", "rolling back", NULL);
        return r;
    }
    char ver[16];
    snprintf(ver, sizeof(ver), "%d", m->version);
    const char *params[2] = {ver, m->name};
    _cleanup_pgresult_ PGresult *ins =
        PQexecParams(conn, "INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2, NULL,
                     params, NULL, NULL, 0);
    if (PQresultStatus(ins) != PGRES_COMMAND_OK) {
        r = st_error_set(err, EIO, "recording migration %03d_%s: %s", m->version, m->name,
                         PQerrorMessage(conn));
        exec_ok(conn, "ROLLBACK", "rolling back", NULL);
        return r;
    }
    r = exec_ok(conn, "COMMIT", "committing a migration", err);
    if (r < 0)
        st_error_prefix(err, "migration %03d_%s: ", m->version, m->name);
    return r;
}

static int migrate_locked(PGconn *conn, const st_migration *list, size_t n, int *applied,
                          st_error *err)
{
    /* Checked rather than IF NOT EXISTS, which prints a NOTICE each start;
     * the advisory lock makes check-then-create safe. */
    _cleanup_pgresult_ PGresult *have_table =
        PQexec(conn, "SELECT to_regclass('schema_version') IS NOT NULL");
    if (PQresultStatus(have_table) != PGRES_TUPLES_OK)
        return st_error_set(err, EIO, "looking for schema_version: %s", PQerrorMessage(conn));
    int r = 0;
    if (strcmp(PQgetvalue(have_table, 0, 0), "t") != 0)
        r = exec_ok(conn,
                    "CREATE TABLE schema_version ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    "creating schema_version", err);
    if (r < 0)
        return r;
    int have = 0;
    r = st_migrate_version(conn, &have, err);
    if (r < 0)
        return r;
    int known = n ? list[n - 1].version : 0;
    if (have > known)
        return st_error_set(err, EPROTO,
                            "the database schema is at version %d, newer than this stratad "
                            "knows (%d): it was written by a newer Strata; run that version, "
                            "or point --db at another database",
                            have, known);
    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= have)
            continue;
        r = apply_one(conn, &list[i], err);
        if (r < 0)
            return r;
        have = list[i].version;
        if (applied)
            (*applied)++;
    }
    return 0;
}

int st_migrate_apply(PGconn *conn, const st_migration *list, size_t n, int *applied, st_error *err)
{
    if (applied)
        *applied = 0;
    for (size_t i = 1; i < n; i++)
        if (list[i].version <= list[i - 1].version)
            return st_error_set(err, EINVAL,
                                "migrations out of order: %03d_%s after %03d_%s; number them "
                                "uniquely and increasing",
                                list[i].version, list[i].name, list[i - 1].version,
                                list[i - 1].name);
    int r = exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
                    "taking the migration lock", err);
    if (r < 0)
        return r;
    r = migrate_locked(conn, list, n, applied, err);
    exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "releasing the lock", NULL);
    return r;
}
