/* api_watch.c: the API's streams. A watch re-lists its kind whenever the
 * server's generation moves and sends what changed since its last look
 * (ADDED, MODIFIED, DELETED lines, as Kubernetes watches do); a log stream
 * sends the pod's new log lines. Both wait on the server's condition
 * variable, and send a blank line now and then so a gone client shows. */
#include "api_priv.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEPALIVE_MS         5000
#define WATCH_WAIT_MS        1000
#define FORWARD_KEEPALIVE_MS 1000
/* Keep-alives go by real time (st_vmm_now_ns), not the vmm seam's clock:
 * they are about the client, not the nodes. */

struct st_server_stream {
    struct st_server *d;
    /* watch */
    char kind[32];
    char ns[256];
    bool all_ns;
    char *label_selector; /* ?labelSelector=, already checked; NULL: any */
    json_t *seen;         /* key -> the object as last shown */
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
};

void st_server_stream_free(struct st_server_stream *s)
{
    if (s == NULL)
        return;
    if (s->is_forward)
        st_server_proxy_unforward(s->d, s->fwd_key);
    json_decref(s->seen);
    free(s->label_selector);
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

static void emit(struct st_server_stream *s, const char *type, json_t *obj)
{
    _cleanup_json_ json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
    _cleanup_free_ char *line = json_dumps(ev, JSON_COMPACT);
    if (line) {
        stream_append(s, line);
        stream_append(s, "\n");
    }
}

static void watch_poll(struct st_server_stream *s)
{
    st_store_query q = {.kind = s->kind,
                        .namespace = s->all_ns ? NULL : s->ns,
                        .label_selector = s->label_selector};
    _cleanup_json_ json_t *items = NULL;
    if (st_server_api_list(s->d, &q, &items, NULL) < 0)
        return;
    _cleanup_json_ json_t *now = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        json_t *md = json_object_get(o, "metadata");
        char key[600];
        snprintf(key, sizeof(key), "%s/%s",
                 json_string_value(json_object_get(md, "namespace")) ?: "",
                 json_string_value(json_object_get(md, "name")) ?: "");
        const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
        json_t *old = json_object_get(s->seen, key);
        const char *old_rv =
            json_string_value(json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
        if (old == NULL)
            emit(s, "ADDED", o);
        else if (rv && (old_rv == NULL || strcmp(old_rv, rv) != 0))
            emit(s, "MODIFIED", o);
        json_object_set(now, key, o);
    }
    /* Gone since the last look (or no longer selected): DELETED with the
     * object as it was last shown, as Kubernetes sends it. */
    const char *key;
    json_t *last;
    json_object_foreach(s->seen, key, last)
    {
        if (json_object_get(now, key))
            continue;
        _cleanup_json_ json_t *gone = st_api_present_deleted(s->kind, last);
        emit(s, "DELETED", gone);
    }
    json_decref(s->seen);
    s->seen = json_incref(now);
}

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

struct st_server_stream *st_server_stream_watch(struct st_server *d, const char *kind,
                                                const char *ns, const char *selector)
{
    struct st_server_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->d = d;
    snprintf(s->kind, sizeof(s->kind), "%s", kind);
    snprintf(s->ns, sizeof(s->ns), "%s", ns ? ns : "");
    s->all_ns = ns == NULL;
    s->seen = json_object();
    s->gen = (unsigned long)-1;
    s->last_out_ns = st_vmm_now_ns();
    if (s->seen == NULL ||
        (selector && *selector && (s->label_selector = strdup(selector)) == NULL)) {
        st_server_stream_free(s);
        return NULL;
    }
    return s;
}

struct st_server_stream *st_server_stream_log(struct st_server *d, const char *ns, const char *name)
{
    struct st_server_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->d = d;
    s->is_log = true;
    s->last_out_ns = st_vmm_now_ns();
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

ssize_t st_server_stream_read(struct st_server_stream *s, char *out, size_t max)
{
    struct st_server *d = s->d;
    while (s->pos >= s->len) {
        s->pos = s->len = 0;
        if (atomic_load(&d->stopping) || s->ended)
            return -1;
        unsigned long gen = atomic_load(&d->generation);
        if (gen != s->gen || s->is_log) {
            s->gen = gen;
            st_server_stream_fill(s);
        }
        if (s->len > 0)
            break;
        /* a port-forward's listener goes soon after its client */
        int keepalive_ms = s->is_forward ? FORWARD_KEEPALIVE_MS : KEEPALIVE_MS;
        if (st_vmm_now_ns() - s->last_out_ns > (int64_t)keepalive_ms * 1000000) {
            /* A blank line: readers skip it; a gone client fails the write. */
            stream_append(s, "\n");
            break;
        }
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += (long)WATCH_WAIT_MS * 1000000 % 1000000000;
        dl.tv_sec += WATCH_WAIT_MS / 1000 + dl.tv_nsec / 1000000000;
        dl.tv_nsec %= 1000000000;
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
