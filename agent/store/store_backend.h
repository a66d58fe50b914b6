/* store_backend.h (private to the store and its tests): the contract a
 * store backend fills. A backend is a table of operations; the public
 * st_store_* functions (store_lock.c) call them with the store's lock held,
 * so a backend never locks, and never calls the public functions on its own
 * store (they would wait on the lock it runs under). */
#ifndef STRATA_STORE_BACKEND_H
#define STRATA_STORE_BACKEND_H

#include <pthread.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/store.h"

/* Each operation has the meaning of its st_store_* function in
 * strata/store.h. */
typedef struct st_store_ops {
    int (*get)(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
               st_error *err);
    int (*list)(st_store *s, const st_store_query *q, json_t **out, st_error *err);
    int (*create)(st_store *s, json_t *obj, json_t **out, st_error *err);
    int (*update)(st_store *s, json_t *obj, json_t **out, st_error *err);
    int (*remove)(st_store *s, const char *kind, const char *ns, const char *name,
                  const char *expected_rv, st_error *err);
    int (*apply_batch)(st_store *s, st_store_op *ops, size_t n, st_error *err);
    int (*bind_pods)(st_store *s, const st_store_binding *b, size_t n, st_error *err);
    int (*append_event)(st_store *s, json_t *event, json_t **out, st_error *err);
    int (*list_events)(st_store *s, const st_store_query *q, json_t **out, st_error *err);
    /* Frees the backend; the lock is already destroyed. */
    void (*close)(st_store *s);
} st_store_ops;

/* The head of every backend's own struct. */
struct st_store {
    const st_store_ops *ops;
    pthread_mutex_t lock; /* held around every operation (store_lock.c) */
};

/* Fills the head of a new backend; undone by st_store_close. */
void st_store_init(st_store *s, const st_store_ops *ops);

#endif
