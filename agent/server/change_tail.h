/* change_tail.h (private to agent/server/ and its tests): on a shared
 * store (several stratad on one PostgreSQL, issue 17), the thread that
 * tails the store's change feed (strata/store_changes.h) into the watch
 * ring, so watches on this host see what every host wrote, and kicks the
 * loop when another host wrote. */
#ifndef STRATA_SERVER_CHANGE_TAIL_H
#define STRATA_SERVER_CHANGE_TAIL_H

#include "strata/error.h"

struct st_server;

/* How often the tail reads the feed when no notification came (a lost
 * LISTEN connection, a notification dropped), and trims it. */
#define ST_SERVER_CHANGE_POLL_MS 1000
#define ST_SERVER_CHANGE_TRIM_S  60

/* Starts the tail from the ring's newest change: from then on the ring is
 * fed by the feed, not by the store's hook (st_server_watch_set_external),
 * every change after the ring's newest, in resourceVersion order. Needs a
 * store with a feed (-ENOTSUP on the in-memory store) and the ring
 * attached. */
int st_server_change_tail_start(struct st_server *d, st_error *err);
/* Stops and joins it (within about ST_SERVER_CHANGE_POLL_MS); NULL-safe
 * and a no-op when it was not started. Call before the ring is detached. */
void st_server_change_tail_stop(struct st_server *d);

#endif
