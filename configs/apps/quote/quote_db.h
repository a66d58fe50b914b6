/* quote_db.h: the quote app's way to PostgreSQL. A few connections, shared
 * by the HTTP worker threads and guarded by one lock, opened lazily from
 * libpq's standard environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGCONNECT_TIMEOUT) and opened again after any failure, so the
 * app outlives a database restart without restarting itself. Every call is
 * bounded: a database that stops answering costs a request at most the
 * connect timeout plus the query timeout, never a hung worker. */
#ifndef QUOTE_DB_H
#define QUOTE_DB_H

#include <stddef.h>

#include "strata/error.h"

struct quote_db;

/* A pool of `slots` connections (none opened yet); each query may take
 * timeout_ms once connected. */
int quote_db_new(size_t slots, int timeout_ms, struct quote_db **out, st_error *err);
void quote_db_free(struct quote_db *db);

/* One random row of quotes(text), malloc'd into *text. -ENOENT when the
 * table is empty; any other failure says what the database answered. */
int quote_db_random(struct quote_db *db, char **text, st_error *err);

/* SELECT 1: 0 when the database answers. */
int quote_db_ping(struct quote_db *db, st_error *err);

#endif
