/* store_lock.c: the public face of every store backend, and the one place
 * that makes a store thread-safe. Each st_store_* call takes the store's
 * lock around its backend operation, so the backends (store_mem.c,
 * store_pg.c) hold no locking code of their own and cannot differ in it.
 * What is the same for every backend around an operation (checking
 * bindings, preparing an Event, resetting a batch's results) is done here
 * too, once. */
#include "store_backend.h"

#include <errno.h>

#include "strata/cleanup.h"

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
    return s->ops->list(s, q, false, out, err);
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

static int batch_locked(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->batch(s, ops, n, err);
}

int st_store_apply_batch(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    for (size_t i = 0; i < n; i++) {
        ops[i].result = NULL;
        ops[i].action = ST_STORE_NONE;
    }
    int r = batch_locked(s, ops, n, err);
    if (r < 0) {
        st_store_ops_release(ops, n);
        for (size_t i = 0; i < n; i++)
            ops[i].action = ST_STORE_NONE;
    }
    return r;
}

int st_store_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].name == NULL || b[i].node_name == NULL || *b[i].node_name == '\0')
            return st_error_set(err, EINVAL, "binding %zu needs a pod name and a node name", i + 1);
    if (n == 0)
        return 0;
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->bind_pods(s, b, n, err);
}

int st_store_append_event(st_store *s, json_t *event, json_t **out, st_error *err)
{
    _cleanup_json_ json_t *ev = NULL;
    int r = st_store_event_prepare(event, &ev, err);
    if (r < 0)
        return r;
    return st_store_create(s, ev, out, err);
}

int st_store_list_events(st_store *s, const st_store_query *q, json_t **out, st_error *err)
{
    st_store_query eq = *q;
    eq.kind = "Event";
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->list(s, &eq, true, out, err);
}

void st_store_close(st_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    s->ops->close(s);
}
