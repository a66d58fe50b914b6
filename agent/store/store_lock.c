/* store_lock.c: the public face of every store backend, and the one place
 * that makes a store thread-safe. Each st_store_* call takes the store's
 * lock around its backend operation, so the backends (store_mem.c,
 * store_pg.c) hold no locking code of their own and cannot differ in it.
 * What is the same for every backend around an operation (checking
 * bindings, preparing an Event, resetting a batch's results) is done here
 * too, once; so is the change feed: backends report their writes, and what
 * an operation wrote reaches the watch hook only once it succeeded. */
#include "store_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "store_object.h"
#include "strata/store_changes.h"

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

/* ---- the change feed ---- */

bool st_store_watched(const st_store *s)
{
    return s->pending != NULL;
}

void st_store_changed(st_store *s, const char *type, json_t *obj)
{
    if (s->pending && obj)
        json_array_append_new(s->pending, json_pack("[s, o]", type, obj));
    else
        json_decref(obj);
}

void st_store_changes_reset(st_store *s)
{
    if (s->pending)
        json_array_clear(s->pending);
}

/* The end of every write: what it reported goes to the hook when it
 * succeeded, in the order written (resourceVersion order), else nowhere. */
static int settle(st_store *s, int r)
{
    if (s->pending == NULL)
        return r;
    size_t i;
    json_t *ch;
    json_array_foreach(s->pending, i, ch)
    {
        if (r < 0)
            break;
        json_t *obj = json_array_get(ch, 1);
        unsigned long long n = st_store_object_rv(obj);
        if (n > s->notified_rv)
            s->notified_rv = n;
        s->hook(s->hook_arg, json_string_value(json_array_get(ch, 0)), obj);
    }
    json_array_clear(s->pending);
    return r;
}

void st_store_set_watch_hook(st_store *s, st_store_watch_fn fn, void *arg)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    s->hook = fn;
    s->hook_arg = arg;
    if (fn && s->pending == NULL)
        s->pending = json_array();
    if (fn == NULL) {
        json_decref(s->pending);
        s->pending = NULL;
    }
}

unsigned long long st_store_object_rv(json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    return rv ? strtoull(rv, NULL, 10) : 0;
}

int st_store_list_at(st_store *s, const st_store_query *q, json_t **out, unsigned long long *rv,
                     st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    *rv = s->notified_rv;
    return s->ops->list(s, q, false, out, err);
}

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
    return settle(s, s->ops->create(s, obj, out, err));
}

int st_store_update(st_store *s, json_t *obj, json_t **out, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return settle(s, s->ops->update(s, obj, out, err));
}

int st_store_delete(st_store *s, const char *kind, const char *ns, const char *name,
                    const char *expected_rv, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return settle(s, s->ops->remove(s, kind, ns, name, expected_rv, err));
}

static int batch_locked(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return settle(s, s->ops->batch(s, ops, n, err));
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
    return settle(s, s->ops->bind_pods(s, b, n, err));
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

/* ---- leases: checked here once, for every backend ---- */

static int no_leases(st_error *err)
{
    return st_error_set(err, ENOTSUP, "this store keeps no leases; use PostgreSQL or memory");
}

int st_store_lease_try(st_store *s, const char *ns, const char *name, const char *holder,
                       int duration_ms, st_lease_state *out, st_error *err)
{
    st_lease_state scratch;
    out = out ? out : &scratch;
    memset(out, 0, sizeof(*out));
    int r = st_store_lease_args(ns, name, holder ? holder : "", duration_ms, NULL, err);
    if (r < 0)
        return r;
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    if (s->ops->lease_try == NULL)
        return no_leases(err);
    return settle(s, s->ops->lease_try(s, ns, name, holder, duration_ms, out, err));
}

int st_store_lease_release(st_store *s, const char *ns, const char *name, const char *holder,
                           st_lease_state *out, st_error *err)
{
    st_lease_state scratch;
    out = out ? out : &scratch;
    memset(out, 0, sizeof(*out));
    int r = st_store_lease_args(ns, name, holder ? holder : "", -1, NULL, err);
    if (r < 0)
        return r;
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    if (s->ops->lease_release == NULL)
        return no_leases(err);
    return settle(s, s->ops->lease_release(s, ns, name, holder, out, err));
}

int st_store_lease_get(st_store *s, const char *ns, const char *name, st_lease_state *out,
                       st_error *err)
{
    memset(out, 0, sizeof(*out));
    int r = st_store_lease_args(ns, name, NULL, -1, NULL, err);
    if (r < 0)
        return r;
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    if (s->ops->lease_get == NULL)
        return no_leases(err);
    return s->ops->lease_get(s, ns, name, out, err);
}

int st_store_db_now_ms(st_store *s, int64_t *ms, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    if (s->ops->db_now_ms == NULL)
        return no_leases(err);
    return s->ops->db_now_ms(s, ms, err);
}

int st_store_ping(st_store *s, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->ping ? s->ops->ping(s, err) : 0;
}

/* ---- the shared change feed (strata/store_changes.h) ---- */

static int no_feed(st_error *err)
{
    return st_error_set(err, ENOTSUP,
                        "this store keeps no change feed (the in-memory store serves one "
                        "process: its watch hook hears every write)");
}

int st_store_changes_record(st_store *s, bool on, st_error *err)
{
    if (s->ops->changes_record == NULL)
        return no_feed(err);
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->changes_record(s, on, err);
}

int st_store_changes_head(st_store *s, unsigned long long *rv, st_error *err)
{
    if (s->ops->changes_head == NULL)
        return no_feed(err);
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->changes_head(s, rv, err);
}

static int changes_read(st_store *s, unsigned long long after_rv, size_t limit, json_t **out,
                        unsigned long long *last_rv, st_error *err)
{
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->changes_since(s, after_rv, limit, out, last_rv, err);
}

int st_store_changes_since(st_store *s, unsigned long long after_rv, size_t limit,
                           st_store_watch_fn fn, void *arg, unsigned long long *last_rv,
                           st_error *err)
{
    *last_rv = after_rv;
    if (s->ops->changes_since == NULL)
        return no_feed(err);
    _cleanup_json_ json_t *got = NULL;
    int r = changes_read(s, after_rv, limit, &got, last_rv, err);
    if (r < 0)
        return r;
    /* Handed outside the lock: fn may take its time or call the store. */
    size_t i;
    json_t *ch;
    json_array_foreach(got, i, ch)
        fn(arg, json_string_value(json_array_get(ch, 0)), json_array_get(ch, 1));
    return (int)json_array_size(got);
}

int st_store_changes_wait(st_store *s, int timeout_ms, st_error *err)
{
    if (s->ops->changes_wait == NULL)
        return no_feed(err);
    return s->ops->changes_wait(s, timeout_ms, err); /* blocks: never under the lock */
}

int st_store_changes_trim(st_store *s, int keep_s, st_error *err)
{
    if (s->ops->changes_trim == NULL)
        return no_feed(err);
    _cleanup_unlock_ pthread_mutex_t *held = hold(s);
    return s->ops->changes_trim(s, keep_s, err);
}

void st_store_close(st_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    json_decref(s->pending);
    s->ops->close(s);
}
