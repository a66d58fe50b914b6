/* watch_ring.c: the ring of recent changes every watch reads (watch_ring.h
 * says why). The store's hook runs with the store's lock held, so it does
 * the little it must: presents the object once, outside the ring's lock,
 * then appends under it and wakes the watchers. On a shared store the
 * change feed's tail (change_tail.c) feeds the ring instead, every host's
 * changes in resourceVersion order, and the hook only notes its own. It also keeps the newest
 * presented copy of every object, so each event carries the object as it
 * was before: what a watch with a selector needs to tell "stopped
 * matching" (a DELETED for it) from "never matched" (nothing). */
#include "api_priv.h"
#include "strata/clock.h"
#include "watch_ring.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct st_server_watch_ring {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    st_watch_event *ev; /* ev[i % cap] holds event i, for first <= i < next */
    size_t cap;
    uint64_t first, next;
    unsigned long long floor_rv; /* every change after it is kept */
    unsigned long long head_rv;  /* the newest change */
    json_t *latest;              /* "Kind/ns/name" -> the object as last shown */
    /* Fed by the shared store's change feed (change_tail.c), not by the
     * hook: the hook then only notes this process's versions in own[], so
     * the tail tells its own writes from other hosts' (see
     * st_server_watch_feed). */
    bool external;
    unsigned long long own[1024]; /* own[own_first % 1024 .. own_next % 1024), rising */
    uint64_t own_first, own_next;
};

/* The kinds the store keeps, remembered at attach; a kind missing here
 * only loses "stopped matching" for objects not written since. */
static const char *const seed_kinds[] = {"Pod",     "Deployment", "Secret",    "Node", "Event",
                                         "Service", "Endpoints",  "Namespace", "Lease"};

static void key_of(char *buf, size_t len, const char *kind, json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    snprintf(buf, len, "%s/%s/%s", kind, json_string_value(json_object_get(md, "namespace")) ?: "",
             json_string_value(json_object_get(md, "name")) ?: "");
}

void st_watch_event_clear(st_watch_event *e)
{
    json_decref(e->obj);
    json_decref(e->prev);
    e->obj = e->prev = NULL;
}

/* Drops the oldest event. [lock] */
static void drop_oldest(struct st_server_watch_ring *g)
{
    st_watch_event *e = &g->ev[g->first % g->cap];
    g->floor_rv = e->rv;
    st_watch_event_clear(e);
    g->first++;
}

/* Presents a change and appends it; only_newer: not when the ring holds
 * a newer one (the feed starts where the ring's seed may overlap it).
 * false when nothing was appended. */
static bool ring_append(struct st_server_watch_ring *g, const char *type, json_t *stored,
                        bool only_newer)
{
    if (only_newer) {
        pthread_mutex_lock(&g->lock);
        bool old = st_store_object_rv(stored) <= g->head_rv;
        pthread_mutex_unlock(&g->lock);
        if (old)
            return false;
    }
    const char *kind = json_string_value(json_object_get(stored, "kind"));
    json_t *obj = json_deep_copy(stored);
    if (kind == NULL || obj == NULL) {
        json_decref(obj);
        return false;
    }
    st_api_present(kind, &obj);
    bool deleted = strcmp(type, "DELETED") == 0;
    if (deleted) {
        json_t *gone = st_api_present_deleted(kind, obj);
        json_decref(obj);
        obj = gone;
    }
    char key[600];
    key_of(key, sizeof(key), kind, obj);
    st_watch_event e = {.rv = st_store_object_rv(obj),
                        .type = deleted                      ? "DELETED"
                                : strcmp(type, "ADDED") == 0 ? "ADDED"
                                                             : "MODIFIED",
                        .obj = obj};
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    pthread_mutex_lock(&g->lock);
    if (only_newer && e.rv <= g->head_rv) { /* one fed meanwhile */
        pthread_mutex_unlock(&g->lock);
        json_decref(obj);
        return false;
    }
    e.prev = json_incref(json_object_get(g->latest, key));
    if (deleted)
        json_object_del(g->latest, key);
    else
        json_object_set(g->latest, key, obj);
    if (g->next - g->first == g->cap)
        drop_oldest(g);
    g->ev[g->next % g->cap] = e;
    g->next++;
    if (e.rv > g->head_rv)
        g->head_rv = e.rv;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return true;
}

/* The store's hook: store lock held. */
static void on_change(void *arg, const char *type, json_t *stored)
{
    struct st_server_watch_ring *g = arg;
    pthread_mutex_lock(&g->lock);
    bool external = g->external;
    if (external) {
        if (g->own_next - g->own_first == sizeof(g->own) / sizeof(g->own[0]))
            g->own_first++;
        g->own[g->own_next++ % (sizeof(g->own) / sizeof(g->own[0]))] = st_store_object_rv(stored);
    }
    pthread_mutex_unlock(&g->lock);
    if (!external)
        ring_append(g, type, stored, false);
}

void st_server_watch_set_external(struct st_server *d, bool on)
{
    struct st_server_watch_ring *g = d->ring;
    pthread_mutex_lock(&g->lock);
    g->external = on;
    g->own_first = g->own_next = 0;
    pthread_mutex_unlock(&g->lock);
}

int st_server_watch_feed(struct st_server *d, const char *type, json_t *stored)
{
    struct st_server_watch_ring *g = d->ring;
    unsigned long long rv = st_store_object_rv(stored);
    /* The hook noted this process's versions before the feed could show
     * them (both run under the store's lock, the hook right after its
     * commit), in rising order, as the feed reads them. */
    bool own = false;
    pthread_mutex_lock(&g->lock);
    size_t cap = sizeof(g->own) / sizeof(g->own[0]);
    while (g->own_first < g->own_next && g->own[g->own_first % cap] < rv)
        g->own_first++;
    if (g->own_first < g->own_next && g->own[g->own_first % cap] == rv) {
        own = true;
        g->own_first++;
    }
    pthread_mutex_unlock(&g->lock);
    if (!ring_append(g, type, stored, true))
        return 0;
    return own ? 1 : 2;
}

static int seed(struct st_server *d, struct st_server_watch_ring *g, st_error *err)
{
    for (size_t k = 0; k < sizeof(seed_kinds) / sizeof(seed_kinds[0]); k++) {
        st_store_query q = {.kind = seed_kinds[k]};
        _cleanup_json_ json_t *items = NULL;
        int r = st_store_list(d->store, &q, &items, err);
        if (r < 0)
            return r;
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o)
        {
            unsigned long long rv = st_store_object_rv(o);
            if (rv > g->floor_rv)
                g->floor_rv = rv;
            json_t *shown = json_incref(o);
            st_api_present(seed_kinds[k], &shown);
            char key[600];
            key_of(key, sizeof(key), seed_kinds[k], shown);
            json_object_set_new(g->latest, key, shown);
        }
    }
    g->head_rv = g->floor_rv;
    return 0;
}

static void ring_free(struct st_server_watch_ring *g)
{
    if (g == NULL)
        return;
    while (g->first < g->next)
        drop_oldest(g);
    free(g->ev);
    json_decref(g->latest);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int st_server_watch_attach(struct st_server *d, size_t cap, st_error *err)
{
    struct st_server_watch_ring *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->cap = cap ? cap : 1;
    g->ev = calloc(g->cap, sizeof(*g->ev));
    g->latest = json_object();
    int r = g->ev && g->latest ? seed(d, g, err) : st_error_set(err, ENOMEM, "out of memory");
    if (r < 0) {
        ring_free(g);
        return r;
    }
    d->ring = g;
    st_store_set_watch_hook(d->store, on_change, g);
    return 0;
}

void st_server_watch_detach(struct st_server *d)
{
    if (d == NULL || d->ring == NULL)
        return;
    if (d->store)
        st_store_set_watch_hook(d->store, NULL, NULL);
    ring_free(d->ring);
    d->ring = NULL;
}

void st_server_watch_wake(struct st_server *d)
{
    struct st_server_watch_ring *g = d->ring;
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

void st_server_watch_set_capacity(struct st_server *d, size_t cap)
{
    struct st_server_watch_ring *g = d->ring;
    if (cap == 0)
        cap = 1;
    pthread_mutex_lock(&g->lock);
    while (g->next - g->first > cap)
        drop_oldest(g);
    st_watch_event *ev = calloc(cap, sizeof(*ev));
    if (ev) {
        for (uint64_t i = g->first; i < g->next; i++)
            ev[i % cap] = g->ev[i % g->cap];
        free(g->ev);
        g->ev = ev;
        g->cap = cap;
    }
    pthread_mutex_unlock(&g->lock);
}

int st_server_watch_from(struct st_server *d, unsigned long long rv, uint64_t *cursor,
                         unsigned long long *oldest)
{
    struct st_server_watch_ring *g = d->ring;
    pthread_mutex_lock(&g->lock);
    *oldest = g->floor_rv;
    int r = 0;
    if (rv < g->floor_rv) {
        r = -ESTALE;
    } else {
        /* the first event after rv: versions grow along the ring */
        uint64_t lo = g->first, hi = g->next;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (g->ev[mid % g->cap].rv <= rv)
                lo = mid + 1;
            else
                hi = mid;
        }
        *cursor = lo;
    }
    pthread_mutex_unlock(&g->lock);
    return r;
}

int st_server_watch_copy(struct st_server *d, uint64_t *cursor, st_watch_event *out, size_t max,
                         size_t *n, unsigned long long *head)
{
    struct st_server_watch_ring *g = d->ring;
    *n = 0;
    pthread_mutex_lock(&g->lock);
    *head = g->head_rv;
    int r = 0;
    if (*cursor < g->first) {
        r = -ESTALE;
    } else {
        for (; *cursor < g->next && *n < max; (*cursor)++, (*n)++) {
            st_watch_event e = g->ev[*cursor % g->cap];
            json_incref(e.obj);
            json_incref(e.prev);
            out[*n] = e;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return r;
}

void st_server_watch_wait(struct st_server *d, uint64_t cursor, int wait_ms)
{
    struct st_server_watch_ring *g = d->ring;
    struct timespec dl = st_clock_deadline(CLOCK_REALTIME, wait_ms);
    pthread_mutex_lock(&g->lock);
    if (g->next <= cursor && !atomic_load(&d->stopping))
        pthread_cond_timedwait(&g->cond, &g->lock, &dl);
    pthread_mutex_unlock(&g->lock);
}

unsigned long long st_server_watch_list_rv(struct st_server *d, unsigned long long store_rv)
{
    struct st_server_watch_ring *g = d->ring;
    pthread_mutex_lock(&g->lock);
    /* Before any change, the list is the state the ring began from. */
    unsigned long long rv = store_rv ? store_rv : g->floor_rv;
    pthread_mutex_unlock(&g->lock);
    return rv;
}

unsigned long long st_server_watch_head(struct st_server *d)
{
    struct st_server_watch_ring *g = d->ring;
    pthread_mutex_lock(&g->lock);
    unsigned long long rv = g->head_rv;
    pthread_mutex_unlock(&g->lock);
    return rv;
}
