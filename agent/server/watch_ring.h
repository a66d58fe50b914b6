/* watch_ring.h (private to agent/server/ and its tests): the server's
 * memory of recent changes, fed by the store's watch hook: a bounded ring
 * of events (resourceVersion, type, kind, the object as the API shows it
 * and as it was shown before) that every watch reads from, so a change is
 * presented once and a watch resumes from a resourceVersion without asking
 * the store. The hook only appends under the ring's short lock; watches
 * copy events out under it and do the rest outside. */
#ifndef STRATA_SERVER_WATCH_RING_H
#define STRATA_SERVER_WATCH_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/error.h"

struct st_server;

/* What the apiserver's watch cache keeps by default is in the thousands;
 * at a few KiB an object this is tens of MiB at worst. */
#define ST_SERVER_WATCH_RING_DEFAULT 10000

typedef struct st_watch_event {
    unsigned long long rv;
    const char *type; /* "ADDED", "MODIFIED", "DELETED" (static) */
    char kind[16];
    json_t *obj;  /* as the API shows it (DELETED: st_api_present_deleted); never changed */
    json_t *prev; /* the object as shown before this change; NULL: none known */
} st_watch_event;

/* Makes the ring (cap events), remembers every object stored now (for
 * prev), and hooks the store. At server open, before any writer runs. */
int st_server_watch_attach(struct st_server *d, size_t cap, st_error *err);
/* Unhooks the store and frees the ring; NULL-safe on a server without. */
void st_server_watch_detach(struct st_server *d);
/* On a shared store (change_tail.c): with on, the store's hook stops
 * feeding the ring and st_server_watch_feed does, from the store's change
 * feed, so changes of every host arrive in one resourceVersion order. */
void st_server_watch_set_external(struct st_server *d, bool on);
/* Appends one change of the feed (an st_store_watch_fn with d as arg, but
 * telling what it did): 0 when dropped (the ring holds a change as new or
 * newer), 1 appended and written by this process, 2 appended and written
 * by another. */
int st_server_watch_feed(struct st_server *d, const char *type, json_t *stored);
/* Wakes every watch waiting for news (the server is stopping). */
void st_server_watch_wake(struct st_server *d);
/* Fewer events kept (tests of the 410 answer); the oldest go first. */
void st_server_watch_set_capacity(struct st_server *d, size_t cap);

/* Where a watch from resource version rv starts (*cursor); -ESTALE when
 * events after rv are no longer kept, with *oldest the version the ring
 * goes back to (the apiserver's "too old resource version: RV (OLDEST)"). */
int st_server_watch_from(struct st_server *d, unsigned long long rv, uint64_t *cursor,
                         unsigned long long *oldest);
/* Up to max events from *cursor on (each a new reference to its objects:
 * st_watch_event_clear them), advancing *cursor. -ESTALE when the ring
 * dropped events the cursor had not read yet (a watcher too slow). *head:
 * the newest resource version the ring knows. */
int st_server_watch_copy(struct st_server *d, uint64_t *cursor, st_watch_event *out, size_t max,
                         size_t *n, unsigned long long *head);
/* Waits until an event past cursor arrives, the server is woken to stop,
 * or wait_ms pass. */
void st_server_watch_wait(struct st_server *d, uint64_t cursor, int wait_ms);
/* The resourceVersion of a list read when the store had handed its hook
 * changes up to store_rv (st_store_list_at): store_rv, or, before any
 * change, where the ring begins. */
unsigned long long st_server_watch_list_rv(struct st_server *d, unsigned long long store_rv);
/* The newest change the ring holds. */
unsigned long long st_server_watch_head(struct st_server *d);
void st_watch_event_clear(st_watch_event *e);

#endif
