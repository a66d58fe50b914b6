/* store_changes.h: the store's durable change feed, for several stratad
 * sharing one PostgreSQL (issue 17). The watch hook (strata/store.h) only
 * hears the writes of its own process; this feed holds every process's.
 *
 * Every write the PostgreSQL backend commits records its changes in the
 * table strata_changes in the same transaction, each as the writer's hook
 * is handed it: type ("ADDED", "MODIFIED", "DELETED") and the object as
 * stored, except that a Secret's data is kept sealed there (as in its own
 * table) and unsealed again when read back with the store's key. Writers
 * take one transaction-scoped advisory lock before their first
 * resourceVersion and hold it to their commit, so changes become visible in
 * resourceVersion order: a reader that sees rv N sees every rv < N that
 * will ever commit, and reading "after N" never skips one.
 *
 * The in-memory backend has no feed (one process: its hook hears every
 * write): every function here returns -ENOTSUP there. */
#ifndef STRATA_STORE_CHANGES_H
#define STRATA_STORE_CHANGES_H

#include <stddef.h>

#include "strata/error.h"
#include "strata/store.h"

/* How long st_store_changes_trim keeps changes by default: a tail that was
 * away longer (its store down) has missed some and must start again from
 * the head. */
#define ST_STORE_CHANGES_KEEP_S 600

/* *rv: the newest change committed (0: none kept). A tail that starts here
 * sees every later change. */
/* Whether this store's writes record their changes in strata_changes
 * (and take the order lock): on for a database shared by several stratad,
 * off (the default) for a private one, whose feed nobody reads and would
 * only grow. PostgreSQL only: -ENOTSUP on memory. */
int st_store_changes_record(st_store *s, bool on, st_error *err);

int st_store_changes_head(st_store *s, unsigned long long *rv, st_error *err);

/* Up to limit changes with a resourceVersion after after_rv, oldest first:
 * fn(arg, type, obj) each, obj borrowed (fn may keep a reference, must not
 * change it), called after the store's lock is released (fn may call the
 * store). *last_rv: the version of the last change handed to fn (after_rv
 * when none). Returns the number handed. -ERANGE when changes after
 * after_rv were already trimmed away: nothing is handed, *last_rv is where
 * what is kept begins (read on from there, knowing some were missed). */
int st_store_changes_since(st_store *s, unsigned long long after_rv, size_t limit,
                           st_store_watch_fn fn, void *arg, unsigned long long *last_rv,
                           st_error *err);

/* Waits on a connection of its own (LISTEN strata_changes, opened on the
 * first call) for a change committed by anyone, without holding the
 * store's lock: 1 when one was (or may have been: the connection was just
 * opened again, so notifications could have been lost) committed, 0 after
 * timeout_ms without one, -ST_ESTORE_DOWN when the server cannot be
 * reached (the connection is tried again on the next call). Read with
 * st_store_changes_since after it returns 1, and also now and then after 0
 * (a notification is a hint, never the data). One waiting thread per
 * store. */
int st_store_changes_wait(st_store *s, int timeout_ms, st_error *err);

/* Deletes the changes committed more than keep_s seconds ago by the
 * database's clock (never the newest one, so the head stays known), and
 * remembers the newest version deleted (readers from before it get
 * -ERANGE). Returns the number deleted. Any stratad may run it; running it
 * twice at once is harmless. */
int st_store_changes_trim(st_store *s, int keep_s, st_error *err);

#endif
