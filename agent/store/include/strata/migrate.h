/* migrate.h: forward-only schema migrations for the PostgreSQL store,
 * compiled into the binary from agent/store/migrations/NNN_name.sql. It applies
 * and records versions; it never downgrades or edits an applied migration. */
#ifndef STRATA_MIGRATE_H
#define STRATA_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

#include "strata/error.h"

typedef struct st_migration {
    int version;      /* NNN of the file name */
    const char *name; /* the rest of the file name */
    const char *sql;
} st_migration;

/* Every migration this binary carries, in version order (generated). */
extern const st_migration st_migrations[];
extern const size_t st_migrations_count;

/* Creates schema_version if needed and applies the migrations of list (in
 * version order) newer than the database, each in its own transaction with
 * its schema_version row. A database newer than the last of list is refused
 * (-EPROTO) before anything is written. *applied (may be NULL): how many. */
int st_migrate_apply(PGconn *conn, const st_migration *list, size_t n, int *applied, st_error *err);

/* The database's schema version (0: none applied). */
int st_migrate_version(PGconn *conn, int *version, st_error *err);

#endif
