/* pg_embedded.h: stratad's private PostgreSQL cluster under STATE_DIR/pg
 * (the default without --db): initdb once, pg_ctl start/stop, unix socket
 * only. It runs the server as the `postgres` system user (PostgreSQL refuses
 * root); it never listens on TCP and never touches another cluster. */
#ifndef STRATA_PG_EMBEDDED_H
#define STRATA_PG_EMBEDDED_H

#include <stdbool.h>

#include "strata/error.h"

typedef struct st_pg_embedded st_pg_embedded;

/* Creates STATE_DIR/pg/{data,run} and the cluster (initdb) the first time,
 * starts the server (or adopts one already running on that data dir, left
 * by a crashed stratad: the state dir lock makes it ours) and creates the
 * database "strata". When run as root, STATE_DIR gets search permission for
 * others (o+x, not read) so the postgres user can reach STATE_DIR/pg. */
int st_pg_embedded_start(const char *state_dir, st_pg_embedded **out, st_error *err);

/* "host=STATE_DIR/pg/run dbname=strata user=postgres" */
const char *st_pg_embedded_dsn(const st_pg_embedded *pg);
/* The PostgreSQL bin dir in use (/usr/lib/postgresql/N/bin), for psql. */
const char *st_pg_embedded_bindir(const st_pg_embedded *pg);

/* pg_ctl restart -m fast: open connections are cut (tests of reconnect). */
int st_pg_embedded_restart(st_pg_embedded *pg, st_error *err);
/* The server started again (pg_ctl start, waiting until it takes
 * connections) when pg_ctl status says it is not running: it crashed, was
 * stopped by hand, or shut itself down (a PANIC on a full disk). *started
 * says whether it had to be. A server that runs is left alone. */
int st_pg_embedded_revive(st_pg_embedded *pg, bool *started, st_error *err);
/* pg_ctl stop -m fast; a server already stopped is fine. */
int st_pg_embedded_stop(st_pg_embedded *pg, st_error *err);
/* Frees the handle; does not stop the server. NULL-safe. */
void st_pg_embedded_free(st_pg_embedded *pg);

#endif
