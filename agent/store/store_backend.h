/* store_backend.h (private to the store and its tests): the contract a
 * store backend fills. A backend is a table of operations; the public
 * st_store_* functions (store_lock.c) call them with the store's lock held,
 * so a backend never locks, and never calls the public functions on its own
 * store (they would wait on the lock it runs under). */
#ifndef STRATA_STORE_BACKEND_H
#define STRATA_STORE_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/store.h"
#include "strata/store_lease.h"

/* Each operation has the meaning of its st_store_* function in
 * strata/store.h, except where said. */
typedef struct st_store_ops {
    int (*get)(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
               st_error *err);
    /* by_rv: oldest first (events); else by namespace, then name. */
    int (*list)(st_store *s, const st_store_query *q, bool by_rv, json_t **out, st_error *err);
    int (*create)(st_store *s, json_t *obj, json_t **out, st_error *err);
    int (*update)(st_store *s, json_t *obj, json_t **out, st_error *err);
    int (*remove)(st_store *s, const char *kind, const char *ns, const char *name,
                  const char *expected_rv, st_error *err);
    /* kubectl apply of one object: create it, or replace what is stored
     * (st_store_apply_content). Only ever called inside batch. */
    int (*apply)(st_store *s, json_t *obj, json_t **out, st_store_action *action, st_error *err);
    /* Runs st_store_batch_run(s, ops, n, err) all or nothing. Results and
     * actions come in reset; on failure the caller releases them. */
    int (*batch)(st_store *s, st_store_op *ops, size_t n, st_error *err);
    /* n > 0 bindings, each with a name and a node name. */
    int (*bind_pods)(st_store *s, const st_store_binding *b, size_t n, st_error *err);
    /* Leases (strata/store_lease.h), arguments already checked
     * (st_store_lease_args) and out never NULL; NULL: the backend keeps
     * none (-ENOTSUP). */
    int (*lease_try)(st_store *s, const char *ns, const char *name, const char *holder,
                     int duration_ms, st_lease_state *out, st_error *err);
    int (*lease_release)(st_store *s, const char *ns, const char *name, const char *holder,
                         st_lease_state *out, st_error *err);
    int (*lease_get)(st_store *s, const char *ns, const char *name, st_lease_state *out,
                     st_error *err);
    int (*db_now_ms)(st_store *s, int64_t *ms, st_error *err);
    /* st_store_ping; NULL: the backend is always there (memory). */
    int (*ping)(st_store *s, st_error *err);
    /* The change feed (strata/store_changes.h); NULL: -ENOTSUP (memory).
     * changes_since returns the changes as a new array of [type, object]
     * in *out, handed to fn by the caller once the lock is released;
     * changes_wait is called WITHOUT the store's lock (it blocks). */
    int (*changes_record)(st_store *s, bool on, st_error *err);
    int (*changes_head)(st_store *s, unsigned long long *rv, st_error *err);
    int (*changes_since)(st_store *s, unsigned long long after_rv, size_t limit, json_t **out,
                         unsigned long long *last_rv, st_error *err);
    int (*changes_wait)(st_store *s, int timeout_ms, st_error *err);
    int (*changes_trim)(st_store *s, int keep_s, st_error *err);
    /* Frees the backend; the lock is already destroyed. */
    void (*close)(st_store *s);
} st_store_ops;

/* The head of every backend's own struct. */
struct st_store {
    const st_store_ops *ops;
    pthread_mutex_t lock; /* held around every operation (store_lock.c) */
    /* The change feed (store_lock.c): what the running operation wrote,
     * handed to the hook once it succeeded (committed), dropped if not. */
    st_store_watch_fn hook;
    void *hook_arg;
    json_t *pending;                /* [[type, object], ...]; NULL: no hook */
    unsigned long long notified_rv; /* the newest resourceVersion the hook saw */
};

/* Fills the head of a new backend; undone by st_store_close. */
void st_store_init(st_store *s, const st_store_ops *ops);

/* A backend reports each write it made (type "ADDED", "MODIFIED" or
 * "DELETED"; obj, stolen, is the object as stored, a deleted one with the
 * new resourceVersion its delete consumed, and never changed afterwards).
 * Nothing is kept when no hook is set; st_store_watched says whether to
 * bother building obj. */
bool st_store_watched(const st_store *s);
void st_store_changed(st_store *s, const char *type, json_t *obj);
/* Forgets what the running operation reported (a transaction re-run). */
void st_store_changes_reset(st_store *s);

/* The items of a batch in order, through s's own ops (store_batch.c): what
 * a backend's batch runs inside its transaction. Stops at the first
 * failure, naming its item in err. */
int st_store_batch_run(st_store *s, st_store_op *ops, size_t n, st_error *err);

#endif
