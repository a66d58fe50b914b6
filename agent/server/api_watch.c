/* api_watch.c: the API's streams. A watch sends the changes the ring of
 * recent events holds (watch_ring.c) for its kind, namespace and
 * selectors, as Kubernetes frames them (one {"type","object"} line each:
 * ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), from a resourceVersion, or
 * after a list of what is there now; it never asks the store again, except
 * for Leases, which other connections write (read again every 500 ms). A log
 * stream sends the pod's new log lines; a port-forward lasts while its
 * pod does. Each waits for news and sends something now and then (a blank
 * line, or a bookmark when the client takes them) so a gone client shows. */
#include "api_priv.h"
#include "strata/clock.h"
#include "watch_ring.h"
#include "strata/api_present.h"
#include "strata/api_table.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEPALIVE_MS 5000
/* How often a watch of a kind the ring does not hear reads the store. */
#define STORE_POLL_MS        500
#define WATCH_WAIT_MS        1000
#define FORWARD_KEEPALIVE_MS 1000
/* Events a watch takes from the ring at a time: bounds its copy. */
#define WATCH_BATCH 256
/* Keep-alives go by real time (st_vmm_now_ns), not the vmm seam's clock:
 * they are about the client, not the nodes. */

struct st_server_stream {
    struct st_server *d;
    /* watch */
    bool is_watch;
    char kind[32];
    char ns[256];
    bool all_ns;
    char *label_selector;       /* ?labelSelector=, already checked; NULL: any */
    char *field_selector;       /* ?fieldSelector=, checked; NULL: any */
    uint64_t cursor;            /* the next ring event to read */
    unsigned long long rv_seen; /* every change up to it is sent or not for us */
    bool bookmarks;             /* ?allowWatchBookmarks=true */
    int64_t deadline_ns;        /* ?timeoutSeconds=: the stream ends then; 0: never */
    bool table;                 /* each object as a Table of one row, with table_include */
    enum st_api_table_object table_include;
    /* a kind the ring does not hear (store_polled): "ns/name" -> the object
     * as last sent, the store read again at most every poll_ms */
    json_t *seen;
    int64_t polled_ns;
    int poll_ms;
    /* logs */
    char log_key[512];
    size_t log_next; /* index in the whole history (dropped + lines) */
    bool is_log;
    /* port-forward: the relay listener it holds, and the pod it goes to */
    bool is_forward, ended;
    char fwd_key[64];
    char fwd_ns[256], fwd_pod[256], fwd_uid[64];
    /* output */
    char *buf;
    size_t len, pos;
    unsigned long gen;
    int64_t last_out_ns;
    int keepalive_ms;
};

void st_server_stream_free(struct st_server_stream *s)
{
    if (s == NULL)
        return;
    if (s->is_forward)
        st_server_proxy_unforward(s->d, s->fwd_key);
    free(s->label_selector);
    free(s->field_selector);
    json_decref(s->seen);
    free(s->buf);
    free(s);
}

static void stream_append(struct st_server_stream *s, const char *text)
{
    size_t n = strlen(text);
    char *nb = realloc(s->buf, s->len + n + 1);
    if (nb == NULL)
        return;
    s->buf = nb;
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

/* One event line, {"type","object"}, the object as it is. */
static void emit_raw(struct st_server_stream *s, const char *type, json_t *obj)
{
    _cleanup_json_ json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
    _cleanup_free_ char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (line) {
        stream_append(s, line);
        stream_append(s, "\n");
    }
}

/* An object's event; as a Table of one row when the request wants one, as
 * the apiserver sends them to `kubectl get -w`. */
static void emit(struct st_server_stream *s, const char *type, json_t *obj)
{
    _cleanup_json_ json_t *one = s->table && obj ? json_pack("[O]", obj) : NULL;
    _cleanup_json_ json_t *shown =
        one ? st_api_table(s->kind, one, NULL, s->table_include, time(NULL)) : json_incref(obj);
    emit_raw(s, type, shown);
}

/* ---- watch ---------------------------------------------------------------- */

/* Leases are written on connections of their own (each stratad's lease
 * thread, and every other host's stratad), whose changes never reach this
 * server's ring: a Lease watch reads the store instead, at most every
 * poll_ms, and sends what changed since it last looked (a new lease
 * ADDED, a renewal or release MODIFIED, one gone DELETED). Changes between
 * two looks fold into one MODIFIED, the newest: what a watch of a lease
 * renewed every second needs. */
static bool store_polled(const char *kind)
{
    return strcmp(kind, "Lease") == 0;
}

static void seen_key(json_t *obj, char *key, size_t len)
{
    json_t *md = json_object_get(obj, "metadata");
    snprintf(key, len, "%s/%s", json_string_value(json_object_get(md, "namespace")) ?: "",
             json_string_value(json_object_get(md, "name")) ?: "");
}

/* The apiserver's answer to a watch from a version it no longer keeps:
 * the stream opens (200), says so in one ERROR event, and ends; the client
 * lists again. */
static void watch_expired(struct st_server_stream *s, unsigned long long rv,
                          unsigned long long oldest)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)", rv, oldest);
    _cleanup_json_ json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
                                          "apiVersion", "v1", "metadata", "status", "Failure",
                                          "message", msg, "reason", "Expired", "code", 410);
    emit_raw(s, "ERROR", st);
    s->ended = true;
}

static void watch_bookmark(struct st_server_stream *s)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", s->rv_seen);
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "resourceVersion", rv);
    st_api_present(s->kind, &obj); /* apiVersion and kind, as a real object has */
    /* a bookmark is never a Table: clients read only its version */
    emit_raw(s, "BOOKMARK", obj);
    json_decref(obj);
}

static bool watch_matches(struct st_server_stream *s, json_t *obj)
{
    st_store_query q = {.kind = s->kind,
                        .namespace = s->all_ns ? NULL : s->ns,
                        .label_selector = s->label_selector,
                        .field_selector = s->field_selector};
    return obj && st_store_query_match(&q, obj, NULL) > 0;
}

/* One change as this watch sees it. A selector makes an object come and
 * go: one that starts matching is ADDED, one that stops is DELETED (as it
 * was last shown, at the change's version), as the apiserver's watch cache
 * does. */
static void watch_event(struct st_server_stream *s, const st_watch_event *e)
{
    if (strcmp(e->kind, s->kind) != 0 || s->seen)
        return;
    bool deleted = strcmp(e->type, "DELETED") == 0;
    bool now = !deleted && watch_matches(s, e->obj);
    bool before = deleted ? watch_matches(s, e->obj)
                          : strcmp(e->type, "MODIFIED") == 0 && watch_matches(s, e->prev);
    if (now)
        emit(s, before ? "MODIFIED" : "ADDED", e->obj);
    else if (before && deleted)
        emit(s, "DELETED", e->obj);
    else if (before) {
        _cleanup_json_ json_t *gone = st_api_present_deleted(s->kind, e->prev);
        char rv[32];
        snprintf(rv, sizeof(rv), "%llu", e->rv);
        json_object_set_new(json_object_get(gone, "metadata"), "resourceVersion", json_string(rv));
        emit(s, "DELETED", gone);
    }
}

/* The objects of the watch's kind in the store now, as the API shows
 * them; NULL when the store cannot be read (tried again next time). */
static json_t *watch_list(struct st_server_stream *s, unsigned long long *at, st_error *err)
{
    st_store_query q = {.kind = s->kind,
                        .namespace = s->all_ns ? NULL : s->ns,
                        .label_selector = s->label_selector,
                        .field_selector = s->field_selector};
    json_t *items = NULL;
    if (st_store_list_at(s->d->store, &q, &items, at, err) < 0)
        return NULL;
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        json_t *shown = json_incref(o);
        st_api_present(s->kind, &shown);
        json_array_set_new(items, i, shown);
    }
    return items;
}

/* A store_polled watch: what changed in the store since the last look. */
static void watch_poll_store(struct st_server_stream *s)
{
    int64_t now = st_vmm_now_ns();
    if (now - s->polled_ns < (int64_t)s->poll_ms * 1000000)
        return;
    s->polled_ns = now;
    unsigned long long at = 0;
    _cleanup_json_ json_t *items = watch_list(s, &at, NULL);
    _cleanup_json_ json_t *next = json_object();
    if (items == NULL || next == NULL)
        return;
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        char key[600];
        seen_key(o, key, sizeof(key));
        json_t *prev = json_object_get(s->seen, key);
        if (prev == NULL)
            emit(s, "ADDED", o);
        else if (st_store_object_rv(prev) != st_store_object_rv(o))
            emit(s, "MODIFIED", o);
        json_object_set(next, key, o);
        if (st_store_object_rv(o) > s->rv_seen)
            s->rv_seen = st_store_object_rv(o);
    }
    const char *key;
    json_t *prev;
    json_object_foreach(s->seen, key, prev)
    {
        if (json_object_get(next, key) == NULL) {
            _cleanup_json_ json_t *gone = st_api_present_deleted(s->kind, prev);
            emit(s, "DELETED", gone);
        }
    }
    json_decref(s->seen);
    s->seen = json_incref(next);
}

static void watch_poll(struct st_server_stream *s)
{
    st_watch_event ev[WATCH_BATCH];
    size_t n = 0;
    unsigned long long head = 0;
    if (s->ended) /* expired: the ERROR event was the last */
        return;
    do {
        if (st_server_watch_copy(s->d, &s->cursor, ev, WATCH_BATCH, &n, &head) < 0) {
            /* this watch fell behind the ring: what it missed is gone */
            unsigned long long oldest = 0;
            uint64_t c;
            st_server_watch_from(s->d, 0, &c, &oldest);
            watch_expired(s, s->rv_seen, oldest);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            watch_event(s, &ev[i]);
            if (ev[i].rv > s->rv_seen)
                s->rv_seen = ev[i].rv;
            st_watch_event_clear(&ev[i]);
        }
    } while (n == WATCH_BATCH);
    if (head > s->rv_seen)
        s->rv_seen = head;
    if (s->seen)
        watch_poll_store(s);
}

/* "", "0" or none: the objects there now first ("Get State and Start at
 * Most Recent"), read at a version the ring goes on from, so nothing is
 * lost or sent twice between the list and the feed. */
static int watch_start(struct st_server_stream *s, const char *rv_arg, st_error *err)
{
    unsigned long long rv, oldest = 0;
    _cleanup_json_ json_t *sent = NULL; /* the objects listed first, when they are */
    if (rv_arg && *rv_arg && strcmp(rv_arg, "0") != 0) {
        char *end = NULL;
        errno = 0;
        rv = strtoull(rv_arg, &end, 10);
        if (errno || *end != '\0' || *rv_arg == '-')
            return st_error_set(err, EINVAL,
                                "resourceVersion \"%s\" is not one this server issued; watch "
                                "from a list's metadata.resourceVersion, or leave it out",
                                rv_arg);
    } else {
        unsigned long long at = 0;
        if ((sent = watch_list(s, &at, err)) == NULL)
            return -err->code;
        rv = st_server_watch_list_rv(s->d, at);
        size_t i;
        json_t *o;
        json_array_foreach(sent, i, o)
        {
            emit(s, "ADDED", o);
        }
    }
    s->rv_seen = rv;
    if (st_server_watch_from(s->d, rv, &s->cursor, &oldest) < 0)
        watch_expired(s, rv, oldest);
    if (store_polled(s->kind) && !s->ended) {
        /* what the client has (the list just sent, or what it had up to
         * its version) is not sent again; a lease written after that
         * version is sent now as MODIFIED (the client listed it before,
         * as kubectl get -w does, or it is new: either way it updates) */
        unsigned long long at = 0;
        _cleanup_json_ json_t *now = sent ? json_incref(sent) : watch_list(s, &at, err);
        if (now == NULL || (s->seen = json_object()) == NULL)
            return now ? st_error_set(err, ENOMEM, "out of memory") : -err->code;
        size_t i;
        json_t *o;
        json_array_foreach(now, i, o)
        {
            char key[600];
            seen_key(o, key, sizeof(key));
            if (!sent && st_store_object_rv(o) > rv)
                emit(s, "MODIFIED", o);
            json_object_set(s->seen, key, o);
        }
        s->polled_ns = st_vmm_now_ns();
    }
    return 0;
}

int st_server_stream_watch(struct st_server *d, const struct st_server_watch_opts *o,
                           struct st_server_stream **out, st_error *err)
{
    *out = NULL;
    /* a field selector that cannot be read is the request's mistake */
    st_store_query check = {.kind = o->kind, .field_selector = o->field_selector};
    _cleanup_json_ json_t *empty = json_object();
    if (st_store_query_match(&check, empty, err) < 0)
        return -EINVAL;
    struct st_server_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    s->d = d;
    s->is_watch = true;
    snprintf(s->kind, sizeof(s->kind), "%s", o->kind);
    snprintf(s->ns, sizeof(s->ns), "%s", o->ns ? o->ns : "");
    s->all_ns = o->ns == NULL;
    s->bookmarks = o->bookmarks;
    s->table = o->table;
    s->table_include = o->table_include;
    s->last_out_ns = st_vmm_now_ns();
    s->keepalive_ms = KEEPALIVE_MS;
    s->poll_ms = STORE_POLL_MS;
    if (o->timeout_s > 0)
        s->deadline_ns = s->last_out_ns + (int64_t)o->timeout_s * 1000000000;
    int r = 0;
    if ((o->label_selector && *o->label_selector &&
         (s->label_selector = strdup(o->label_selector)) == NULL) ||
        (o->field_selector && *o->field_selector &&
         (s->field_selector = strdup(o->field_selector)) == NULL))
        r = st_error_set(err, ENOMEM, "out of memory");
    if (r == 0)
        r = watch_start(s, o->resource_version, err);
    if (r < 0) {
        st_server_stream_free(s);
        return r;
    }
    *out = s;
    return 0;
}

void st_server_stream_set_keepalive_ms(struct st_server_stream *s, int ms)
{
    s->keepalive_ms = ms;
}

void st_server_stream_set_poll_ms(struct st_server_stream *s, int ms)
{
    s->poll_ms = ms;
}

int st_server_api_watch(struct st_server_call *c, const char *kind, const char *ns)
{
    st_error err = {0};
    bool table;
    enum st_api_table_object include;
    if (!st_server_api_table_request(c, &table, &include, &err))
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    const char *timeout = st_server_api_arg(c, "timeoutSeconds");
    struct st_server_watch_opts o = {
        .kind = kind,
        .ns = ns,
        .label_selector = st_server_api_arg(c, "labelSelector"),
        .field_selector = st_server_api_arg(c, "fieldSelector"),
        .resource_version = st_server_api_arg(c, "resourceVersion"),
        .bookmarks = st_server_api_arg_true(c, "allowWatchBookmarks"),
        .timeout_s = timeout ? atol(timeout) : 0,
        .table = table,
        .table_include = include,
    };
    struct st_server_stream *s = NULL;
    int r = st_server_stream_watch(c->d, &o, &s, &err);
    if (r == -EINVAL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    return st_server_api_reply_stream(c, s, "application/json");
}

/* ---- logs and port-forwards ---------------------------------------------- */

static void log_poll(struct st_server_stream *s)
{
    struct st_server *d = s->d;
    pthread_mutex_lock(&d->lock);
    json_t *entry = json_object_get(d->logs, s->log_key);
    size_t dropped = (size_t)json_integer_value(json_object_get(entry, "dropped"));
    json_t *lines = json_object_get(entry, "lines");
    size_t total = dropped + json_array_size(lines);
    if (s->log_next < dropped)
        s->log_next = dropped;
    for (; s->log_next < total; s->log_next++) {
        stream_append(s, json_string_value(json_array_get(lines, s->log_next - dropped)) ?: "");
        stream_append(s, "\n");
    }
    pthread_mutex_unlock(&d->lock);
}

void st_server_stream_log_tail(struct st_server_stream *s, size_t n)
{
    struct st_server *d = s->d;
    pthread_mutex_lock(&d->lock);
    json_t *entry = json_object_get(d->logs, s->log_key);
    size_t total = (size_t)json_integer_value(json_object_get(entry, "dropped")) +
                   json_array_size(json_object_get(entry, "lines"));
    s->log_next = total > n ? total - n : 0;
    pthread_mutex_unlock(&d->lock);
}

struct st_server_stream *st_server_stream_log(struct st_server *d, const char *ns, const char *name)
{
    struct st_server_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->d = d;
    s->is_log = true;
    s->last_out_ns = st_vmm_now_ns();
    /* No keep-alive: a blank line would be a line of the log the client
     * prints (kubectl logs -f does); a gone client shows at the next line. */
    s->keepalive_ms = INT_MAX;
    snprintf(s->log_key, sizeof(s->log_key), "%s/%s", ns, name);
    return s;
}

/* A port-forward lasts while its client and its pod do (kubectl's ends
 * when the pod goes, too). */
static void forward_poll(struct st_server_stream *s)
{
    _cleanup_json_ json_t *pod = NULL;
    const char *uid = NULL;
    if (st_store_get(s->d->store, "Pod", s->fwd_ns, s->fwd_pod, &pod, NULL) == 0)
        uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    if (uid && strcmp(uid, s->fwd_uid) == 0)
        return;
    char line[600];
    snprintf(line, sizeof(line), "error: lost connection to pod %s/%s (it is gone)\n", s->fwd_ns,
             s->fwd_pod);
    stream_append(s, line);
    s->ended = true;
}

struct st_server_stream *st_server_stream_forward(struct st_server *d, const char *key, json_t *pod,
                                                  const char *first)
{
    struct st_server_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    json_t *md = json_object_get(pod, "metadata");
    s->d = d;
    s->is_forward = true;
    s->last_out_ns = st_vmm_now_ns();
    s->keepalive_ms = FORWARD_KEEPALIVE_MS;
    snprintf(s->fwd_key, sizeof(s->fwd_key), "%s", key);
    snprintf(s->fwd_ns, sizeof(s->fwd_ns), "%s",
             json_string_value(json_object_get(md, "namespace")) ?: "default");
    snprintf(s->fwd_pod, sizeof(s->fwd_pod), "%s",
             json_string_value(json_object_get(md, "name")) ?: "");
    snprintf(s->fwd_uid, sizeof(s->fwd_uid), "%s",
             json_string_value(json_object_get(md, "uid")) ?: "");
    stream_append(s, first);
    return s;
}

void st_server_stream_fill(struct st_server_stream *s)
{
    if (s->is_log)
        log_poll(s);
    else if (s->is_forward)
        forward_poll(s);
    else
        watch_poll(s);
}

const char *st_server_stream_text(const struct st_server_stream *s, size_t *len)
{
    *len = s->len - s->pos;
    return s->buf ? s->buf + s->pos : "";
}

/* Nothing to send for a while: a blank line (readers skip it; a gone
 * client fails the write), or for a watch that takes them a bookmark,
 * which does the same and tells the client how far it has got. */
static void keepalive(struct st_server_stream *s)
{
    if (s->is_watch && s->bookmarks)
        watch_bookmark(s);
    else
        stream_append(s, "\n");
}

ssize_t st_server_stream_read(struct st_server_stream *s, char *out, size_t max)
{
    struct st_server *d = s->d;
    while (s->pos >= s->len) {
        s->pos = s->len = 0;
        if (atomic_load(&d->stopping) || s->ended)
            return -1;
        if (s->is_watch) {
            st_server_stream_fill(s);
        } else {
            unsigned long gen = atomic_load(&d->generation);
            if (gen != s->gen || s->is_log) {
                s->gen = gen;
                st_server_stream_fill(s);
            }
        }
        if (s->len > 0)
            break;
        int64_t now = st_vmm_now_ns();
        if (s->deadline_ns && now >= s->deadline_ns)
            return -1; /* ?timeoutSeconds= is up: the stream ends cleanly */
        if (now - s->last_out_ns >= (int64_t)s->keepalive_ms * 1000000) {
            keepalive(s);
            break;
        }
        if (s->is_watch) {
            int64_t left_ms = s->deadline_ns ? (s->deadline_ns - now) / 1000000 + 1 : WATCH_WAIT_MS;
            st_server_watch_wait(d, s->cursor,
                                 left_ms < WATCH_WAIT_MS ? (int)left_ms : WATCH_WAIT_MS);
            continue;
        }
        struct timespec dl = st_clock_deadline(CLOCK_REALTIME, WATCH_WAIT_MS);
        pthread_mutex_lock(&d->lock);
        if (atomic_load(&d->generation) == s->gen && !atomic_load(&d->stopping))
            pthread_cond_timedwait(&d->changed, &d->lock, &dl);
        pthread_mutex_unlock(&d->lock);
    }
    size_t n = s->len - s->pos;
    if (n > max)
        n = max;
    memcpy(out, s->buf + s->pos, n);
    s->pos += n;
    s->last_out_ns = st_vmm_now_ns();
    return (ssize_t)n;
}
