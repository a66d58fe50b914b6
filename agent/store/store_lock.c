/* store_lock.c: the public face of every store backend, and the one place
 * that makes a store thread-safe. Each st_store_* call takes the store's
 * lock around its backend operation, so the backends (store_mem.c,
 * store_pg.c) hold no locking code of their own and cannot differ in it. */
#include "store_backend.h"

void st_store_init(st_store *s, const st_store_ops *ops)
{
    s->ops = ops;
    pthread_mutex_init(&s->lock, NULL);
}

/* The lock, held until the guard goes out of scope: every return of a
 * public function releases it. */
static pthread_mutex_t *hold(st_store *s)
{
    pthread_mutex_lock(&s->lock);
    return &s->lock;
}
static void release(pthread_mutex_t **held)
{
    pthread_mutex_unlock(*held);
}
#define _cleanup_unlock_ __attribute__((cleanup(release)))

int st_store_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                 st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->get(s, kind, ns, name, out, err);
}

int st_store_list(st_store *s, const st_store_query *q, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->list(s, q, out, err);
}

int st_store_create(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->create(s, obj, out, err);
}

int st_store_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->update(s, obj, out, err);
}

int st_store_delete(st_store *s, const char *kind, const char *ns, const char *name,
                    const char *expected_rv, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->remove(s, kind, ns, name, expected_rv, err);
}

int st_store_apply_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->apply_batch(s, ops, n, err);
}

int st_store_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->bind_pods(s, b, n, err);
}

int st_store_append_event(st_store *s, json_t *event, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->append_event(s, event, out, err);
}

int st_store_list_events(st_store *s, const st_store_query *q, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->list_events(s, q, out, err);
}

void st_store_close(st_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    s->ops->close(s);
}
