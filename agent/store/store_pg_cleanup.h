/* store_pg_cleanup.h: cleanup attributes for libpq's handles (PGresult,
 * PGconn), private to the PostgreSQL side of the store (store_pg.c,
 * migrate.c, pg_embedded.c). They live here and not in strata/cleanup.h so
 * that the util layer, and everything that is not the store, never includes
 * libpq. */
#ifndef STRATA_STORE_PG_CLEANUP_H
#define STRATA_STORE_PG_CLEANUP_H

#include <libpq-fe.h>

static inline void st_pgresult_freep(PGresult **r)
{
    PQclear(*r); /* PQclear(NULL) is a no-op */
}
static inline void st_pgconn_freep(PGconn **c)
{
    if (*c)
        PQfinish(*c);
}

#define _cleanup_pgresult_ __attribute__((cleanup(st_pgresult_freep)))
#define _cleanup_pgconn_   __attribute__((cleanup(st_pgconn_freep)))

#endif
