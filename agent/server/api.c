/* api.c: stratad's HTTP/JSON API (agent/API.md) on a unix socket, served by
 * libmicrohttpd with a thread per connection, so a watch or a log follow
 * may wait without holding anyone else up. Handlers read and write the
 * store and kick the controller loop; they never reconcile themselves. */
#include "server_priv.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/label_selector.h"
#include "strata/manifest.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* kube-apiserver's limit on a request body; a Secret holds at most 1 MiB. */
#define BODY_MAX      (3u * 1024 * 1024)
#define KEEPALIVE_MS  5000
#define WATCH_WAIT_MS 1000

/* ---- replies --------------------------------------------------------------- */

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *type,
                                  const char *text, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *obj)
{
    _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        return MHD_NO;
    size_t len = strlen(text);
    return reply_text(c, code, "application/json", text, len);
}

static const char *reason_of(unsigned code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "AlreadyExists";
    case 413:
        return "RequestEntityTooLarge";
    case 422:
        return "Invalid";
    case 503:
        return "ServiceUnavailable";
    default:
        return code >= 500 ? "InternalError" : "BadRequest";
    }
}

static enum MHD_Result reply_status(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_status(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    _cleanup_json_ json_t *st =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "status",
                  "Failure", "message", msg, "reason", reason_of(code), "code", (int)code);
    return reply_json(c, code, st);
}

/* The HTTP status for a store error. */
static unsigned http_of(int r)
{
    switch (-r) {
    case ENOENT:
        return 404;
    case EEXIST:
        return 409;
    case ST_ECONFLICT:
        return 409;
    case EINVAL:
        return 422;
    case EBUSY:
        return 409;
    default:
        return 500;
    }
}

static enum MHD_Result reply_error(struct MHD_Connection *c, int r, const st_error *err)
{
    return reply_status(c, http_of(r), "%s", err->msg[0] ? err->msg : strerror(-r));
}

/* ---- objects as shown ---------------------------------------------------------- */

static int list_objects(struct st_server *d, const st_store_query *q, json_t **items, st_error *err)
{
    int r = strcmp(q->kind, "Event") == 0 ? st_store_list_events(d->store, q, items, err)
                                          : st_store_list(d->store, q, items, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *o;
    json_array_foreach(*items, i, o)
    {
        st_api_present(q->kind, &o);
        json_array_set_new(*items, i, o);
    }
    return 0;
}

/* ---- watch streams ----------------------------------------------------------- */

struct stream {
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
    /* output */
    char *buf;
    size_t len, pos;
    unsigned long gen;
    int64_t last_out_ns;
};

static void stream_free(void *cls)
{
    struct stream *s = cls;
    json_decref(s->seen);
    free(s->label_selector);
    free(s->buf);
    free(s);
}

static void stream_append(struct stream *s, const char *text)
{
    size_t n = strlen(text);
    char *nb = realloc(s->buf, s->len + n + 1);
    if (nb == NULL)
        return;
    s->buf = nb;
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

static void emit(struct stream *s, const char *type, json_t *obj)
{
    _cleanup_json_ json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
    _cleanup_free_ char *line = json_dumps(ev, JSON_COMPACT);
    if (line) {
        stream_append(s, line);
        stream_append(s, "\n");
    }
}

static void watch_poll(struct stream *s)
{
    st_store_query q = {.kind = s->kind,
                        .namespace = s->all_ns ? NULL : s->ns,
                        .label_selector = s->label_selector};
    _cleanup_json_ json_t *items = NULL;
    if (list_objects(s->d, &q, &items, NULL) < 0)
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

static void log_poll(struct stream *s)
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

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    struct st_server *d = s->d;
    while (s->pos >= s->len) {
        s->pos = s->len = 0;
        if (atomic_load(&d->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        unsigned long gen = atomic_load(&d->generation);
        if (gen != s->gen || s->is_log) {
            s->gen = gen;
            if (s->is_log)
                log_poll(s);
            else
                watch_poll(s);
        }
        if (s->len > 0)
            break;
        if (st_vmm_now_ns() - s->last_out_ns > (int64_t)KEEPALIVE_MS * 1000000) {
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

static enum MHD_Result reply_stream(struct MHD_Connection *c, struct stream *s, const char *type)
{
    s->last_out_ns = st_vmm_now_ns();
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free);
    if (r == NULL) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- handlers ------------------------------------------------------------------ */

struct req {
    struct st_server *d;
    struct MHD_Connection *c;
    const char *method;
    char *seg[10];
    size_t nseg;
    const char *body;
    size_t body_len;
};

static bool seg_is(const struct req *q, size_t i, const char *s)
{
    return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

static bool method_is(const struct req *q, const char *m)
{
    return strcmp(q->method, m) == 0;
}

static const char *arg(const struct req *q, const char *key)
{
    return MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, key);
}

static bool arg_true(const struct req *q, const char *key)
{
    const char *v = arg(q, key);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static json_t *parse_body(const struct req *q, st_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(q->body ? q->body : "", q->body_len, 0, &je);
    if (j == NULL)
        st_error_set(err, EINVAL, "request body is not JSON: %s (line %d)", je.text, je.line);
    return j;
}

/* ?labelSelector= checked before any work: a mistake is a 400 that says
 * how to write one, as the apiserver answers. */
static bool label_selector_ok(const struct req *q, st_error *err)
{
    st_label_selector *ls = NULL;
    if (st_label_selector_parse(arg(q, "labelSelector"), &ls, err) < 0)
        return false;
    st_label_selector_free(ls);
    return true;
}

static enum MHD_Result get_objects(struct req *q, const char *kind, const char *ns,
                                   const char *name)
{
    st_error err = {0};
    int r;
    if (name) {
        _cleanup_json_ json_t *obj = NULL;
        if ((r = st_store_get(q->d->store, kind, ns, name, &obj, &err)) < 0)
            return reply_error(q->c, r, &err);
        st_api_present(kind, &obj);
        return reply_json(q->c, 200, obj);
    }
    if (!label_selector_ok(q, &err))
        return reply_status(q->c, 400, "%s", err.msg);
    const char *selector = arg(q, "labelSelector");
    if (arg_true(q, "watch")) {
        struct stream *s = calloc(1, sizeof(*s));
        if (s == NULL)
            return MHD_NO;
        s->d = q->d;
        snprintf(s->kind, sizeof(s->kind), "%s", kind);
        snprintf(s->ns, sizeof(s->ns), "%s", ns ? ns : "");
        s->all_ns = ns == NULL;
        s->seen = json_object();
        s->gen = (unsigned long)-1;
        if (selector && *selector && (s->label_selector = strdup(selector)) == NULL) {
            stream_free(s);
            return MHD_NO;
        }
        return reply_stream(q->c, s, "application/json");
    }
    st_store_query sq = {.kind = kind,
                         .namespace = ns,
                         .label_selector = selector,
                         .field_selector = arg(q, "fieldSelector")};
    _cleanup_json_ json_t *items = NULL;
    if ((r = list_objects(q->d, &sq, &items, &err)) < 0)
        return reply_error(q->c, r, &err);
    _cleanup_json_ json_t *list = st_api_present_list(kind, items, NULL);
    return reply_json(q->c, 200, list);
}

static enum MHD_Result delete_object(struct req *q, const char *kind, const char *ns,
                                     const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = q->body_len ? parse_body(q, &err) : NULL;
    st_propagation policy;
    int grace = -1;
    int r = q->body_len && body == NULL
                ? -EINVAL
                : st_delete_options_parse(arg(q, "propagationPolicy"), arg(q, "gracePeriodSeconds"),
                                          body, &policy, &grace, &err);
    if (r < 0)
        return reply_status(q->c, 400, "%s", err.msg);
    _cleanup_json_ json_t *left = NULL;
    if ((r = st_ctl_delete(q->d->store, kind, ns, name, policy, grace, &left, &err)) < 0)
        return reply_error(q->c, r, &err);
    st_event_record(q->d->store, kind, ns, name, "Normal", "Deleted", "stratactl",
                    "%s %s deleted by request", kind, name);
    st_server_kick(q->d);
    if (left) {
        /* Still there (Terminating, or waiting for its dependents): the
         * object is the answer, as from the Kubernetes API. */
        st_api_present(kind, &left);
        return reply_json(q->c, 200, left);
    }
    _cleanup_json_ json_t *st =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "kind", "Status", "apiVersion", "v1", "status",
                  "Success", "details", "name", name, "kind", kind);
    return reply_json(q->c, 200, st);
}

/* PATCH: a JSON merge patch (kubectl's strategic merge patches of maps,
 * such as `rollout restart`, read the same), validated as apply validates. */
static enum MHD_Result patch_object(struct req *q, const char *kind, const char *ns,
                                    const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = parse_body(q, &err);
    if (body == NULL)
        return reply_status(q->c, 400, "%s", err.msg);
    _cleanup_json_ json_t *out = NULL;
    int r = st_object_patch(q->d->store, kind, ns, name, body, &out, &err);
    if (r < 0)
        return reply_error(q->c, r, &err);
    st_event_record(q->d->store, kind, ns, name, "Normal", "Configured", "stratactl",
                    "%s %s patched", kind, name);
    st_server_kick(q->d);
    st_api_present(kind, &out);
    return reply_json(q->c, 200, out);
}

/* apply keeps what the cluster owns: status, a pod's node, owners,
 * deletion, and counts metadata.generation. */
static void keep_cluster_fields(struct st_server *d, json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    _cleanup_json_ json_t *cur = NULL;
    if (kind && name)
        st_store_get(d->store, kind, ns, name, &cur, NULL);
    st_object_keep_server_fields(cur, obj);
}

static const char *action_name(st_store_action a)
{
    switch (a) {
    case ST_STORE_CREATED:
        return "created";
    case ST_STORE_CONFIGURED:
        return "configured";
    case ST_STORE_UNCHANGED:
        return "unchanged";
    default:
        return "none";
    }
}

static enum MHD_Result post_apply(struct req *q)
{
    /* The body is JSON, and JSON is YAML: the manifest reader validates
     * and defaults it exactly as it does a file. */
    _cleanup_json_ json_t *objects = NULL;
    struct st_manifest_diag *diags = NULL;
    st_error err = {0};
    st_error jerr = {0};
    _cleanup_json_ json_t *body = parse_body(q, &jerr);
    if (body == NULL)
        return reply_status(q->c, 400, "%s", jerr.msg);
    json_t *items = json_object_get(body, "items");
    if (!json_is_array(items))
        return reply_status(q->c, 400, "request body: give {\"items\": [objects...]}");
    /* One YAML document per item. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (f == NULL)
        return MHD_NO;
    size_t idx;
    json_t *item;
    json_array_foreach(items, idx, item)
    {
        fputs("---\n", f);
        json_dumpf(item, f, JSON_COMPACT);
        fputc('\n', f);
    }
    fclose(f);
    int r = st_manifest_parse_string("<request>", text, text_len, &objects, &diags, &err);
    free(text);
    st_manifest_diag_free(diags);
    if (r < 0)
        return reply_status(q->c, 422, "%s", err.msg);
    size_t n = json_array_size(objects);
    _cleanup_free_ st_store_op *ops = calloc(n ? n : 1, sizeof(*ops));
    if (ops == NULL)
        return MHD_NO;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(objects, i);
        keep_cluster_fields(q->d, o);
        ops[i] = (st_store_op){.op = ST_STORE_APPLY, .object = o};
    }
    if ((r = st_store_apply_batch(q->d->store, ops, n, &err)) < 0)
        return reply_error(q->c, r, &err);
    _cleanup_json_ json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *md = json_object_get(ops[i].object, "metadata");
        const char *kind = json_string_value(json_object_get(ops[i].object, "kind"));
        const char *name = json_string_value(json_object_get(md, "name"));
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name", name,
                                             "namespace", ns ? ns : "default", "action",
                                             action_name(ops[i].action)));
        if (ops[i].action != ST_STORE_UNCHANGED)
            st_event_record(q->d->store, kind, ns, name, "Normal",
                            ops[i].action == ST_STORE_CREATED ? "Created" : "Configured",
                            "stratactl", "%s %s %s by apply", kind, name,
                            action_name(ops[i].action));
    }
    st_store_ops_release(ops, n);
    st_server_kick(q->d);
    _cleanup_json_ json_t *reply = json_pack("{s:O}", "items", out);
    return reply_json(q->c, 200, reply);
}

struct scale_arg {
    json_t *replicas;
    json_int_t old;
};

static int scale_fn(json_t *dep, void *arg)
{
    struct scale_arg *a = arg;
    json_t *spec = json_object_get(dep, "spec");
    a->old = json_integer_value(json_object_get(spec, "replicas"));
    json_object_set(spec, "replicas", a->replicas);
    if (a->old != json_integer_value(a->replicas)) {
        /* A change of spec: Kubernetes counts it in metadata.generation. */
        json_t *md = json_object_get(dep, "metadata");
        json_object_set_new(
            md, "generation",
            json_integer(json_integer_value(json_object_get(md, "generation")) + 1));
    }
    return 1;
}

static enum MHD_Result put_scale(struct req *q, const char *ns, const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = parse_body(q, &err);
    if (body == NULL)
        return reply_status(q->c, 400, "%s", err.msg);
    json_t *rep = json_object_get(json_object_get(body, "spec"), "replicas");
    if (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > 10000)
        return reply_status(q->c, 422, "spec.replicas: give a whole number from 0 to 10000");
    struct scale_arg a = {.replicas = rep};
    _cleanup_json_ json_t *reply = NULL;
    int r = st_store_mutate(q->d->store, "Deployment", ns, name, scale_fn, &a, &reply, &err);
    if (r < 0)
        return reply_error(q->c, r, &err);
    st_event_record(q->d->store, "Deployment", ns, name, "Normal", "ScalingReplicaSet", "stratactl",
                    "Scaled from %lld to %lld replicas", (long long)a.old,
                    (long long)json_integer_value(rep));
    st_server_kick(q->d);
    st_api_present("Deployment", &reply);
    return reply_json(q->c, 200, reply);
}

static enum MHD_Result get_log(struct req *q, const char *ns, const char *name)
{
    _cleanup_json_ json_t *pod = NULL;
    st_error err = {0};
    int r = st_store_get(q->d->store, "Pod", ns, name, &pod, &err);
    if (r < 0)
        return reply_error(q->c, r, &err);
    struct stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return MHD_NO;
    s->d = q->d;
    s->is_log = true;
    snprintf(s->log_key, sizeof(s->log_key), "%s/%s", ns, name);
    if (arg_true(q, "follow"))
        return reply_stream(q->c, s, "text/plain");
    log_poll(s);
    enum MHD_Result ret = reply_text(q->c, 200, "text/plain", s->buf ? s->buf : "", s->len);
    stream_free(s);
    return ret;
}

static enum MHD_Result nodes_api(struct req *q)
{
    struct st_server *d = q->d;
    st_error err = {0};
    int http = 500;
    /* seg: api v1 nodes [NAME [kill]] */
    if (q->nseg == 3 && method_is(q, "GET"))
        return get_objects(q, "Node", NULL, NULL);
    if (q->nseg == 3 && method_is(q, "POST")) {
        _cleanup_json_ json_t *body = parse_body(q, &err);
        if (body == NULL)
            return reply_status(q->c, 400, "%s", err.msg);
        /* ?timeoutSeconds=N: how long the VM may take to say hello. */
        const char *t = arg(q, "timeoutSeconds");
        char *end = NULL;
        long secs = t ? strtol(t, &end, 10) : 0;
        if (t && (*t == '\0' || *end != '\0' || secs < 1 || secs > 86400))
            return reply_status(q->c, 400, "timeoutSeconds=%s: give seconds from 1 to 86400", t);
        _cleanup_json_ json_t *node = NULL;
        if (st_server_node_add(d, body, (int)secs * 1000, &node, &http, &err) < 0)
            return reply_status(q->c, (unsigned)http, "%s", err.msg);
        st_server_kick(d);
        return reply_json(q->c, 201, node);
    }
    if (q->nseg == 4 && method_is(q, "GET"))
        return get_objects(q, "Node", NULL, q->seg[3]);
    if (q->nseg == 4 && method_is(q, "DELETE")) {
        if (st_server_node_remove(d, q->seg[3], &http, &err) < 0)
            return reply_status(q->c, (unsigned)http, "%s", err.msg);
        _cleanup_json_ json_t *st = json_pack("{s:s, s:s}", "kind", "Status", "status", "Success");
        return reply_json(q->c, 200, st);
    }
    if (q->nseg == 5 && seg_is(q, 4, "kill") && method_is(q, "POST")) {
        if (st_server_node_kill(d, q->seg[3], &http, &err) < 0)
            return reply_status(q->c, (unsigned)http, "%s", err.msg);
        _cleanup_json_ json_t *st = json_pack("{s:s, s:s}", "kind", "Status", "status", "Success");
        return reply_json(q->c, 200, st);
    }
    return reply_status(q->c, 405, "%s %s: not an API call (see agent/API.md)", q->method,
                        "/api/v1/nodes/...");
}

static enum MHD_Result images_api(struct req *q)
{
    st_error err = {0};
    int http = 500;
    _cleanup_json_ json_t *out = NULL;
    if (method_is(q, "GET")) {
        if (st_server_image_list(q->d, &out, &err) < 0)
            return reply_status(q->c, 500, "%s", err.msg);
        return reply_json(q->c, 200, out);
    }
    if (method_is(q, "POST")) {
        _cleanup_json_ json_t *body = parse_body(q, &err);
        if (body == NULL)
            return reply_status(q->c, 400, "%s", err.msg);
        if (st_server_image_import(q->d, json_string_value(json_object_get(body, "name")),
                                   json_string_value(json_object_get(body, "source")), &out, &http,
                                   &err) < 0)
            return reply_status(q->c, (unsigned)http, "%s", err.msg);
        return reply_json(q->c, 201, out);
    }
    return reply_status(q->c, 405, "images: use GET or POST");
}

static const char *kind_of_resource(const char *res)
{
    if (strcmp(res, "pods") == 0)
        return "Pod";
    if (strcmp(res, "secrets") == 0)
        return "Secret";
    if (strcmp(res, "deployments") == 0)
        return "Deployment";
    if (strcmp(res, "events") == 0)
        return "Event";
    return NULL;
}

static enum MHD_Result route(struct req *q)
{
    if (seg_is(q, 0, "healthz") && q->nseg == 1)
        return reply_text(q->c, 200, "text/plain", "ok\n", 3);
    if (seg_is(q, 0, "apply") && q->nseg == 1 && method_is(q, "POST"))
        return post_apply(q);
    bool core = seg_is(q, 0, "api") && seg_is(q, 1, "v1");
    bool apps = seg_is(q, 0, "apis") && seg_is(q, 1, "apps") && seg_is(q, 2, "v1");
    if (core && seg_is(q, 2, "nodes"))
        return nodes_api(q);
    if (core && seg_is(q, 2, "images") && q->nseg == 3)
        return images_api(q);
    size_t base = core ? 2 : apps ? 3 : 0;
    if (base == 0)
        return reply_status(q->c, 404, "no such API path (see agent/API.md)");
    /* [namespaces NS] RESOURCE [NAME [log|scale]] */
    const char *ns = NULL;
    size_t i = base;
    if (seg_is(q, i, "namespaces") && i + 1 < q->nseg) {
        ns = q->seg[i + 1];
        i += 2;
    }
    const char *kind = i < q->nseg ? kind_of_resource(q->seg[i]) : NULL;
    if (kind == NULL || (apps != (strcmp(kind, "Deployment") == 0)))
        return reply_status(q->c, 404,
                            "no such resource (pods, secrets, events under /api/v1; "
                            "deployments under /apis/apps/v1)");
    const char *name = i + 1 < q->nseg ? q->seg[i + 1] : NULL;
    const char *sub = i + 2 < q->nseg ? q->seg[i + 2] : NULL;
    if (i + 3 < q->nseg)
        return reply_status(q->c, 404, "no such API path (see agent/API.md)");
    if (sub) {
        if (strcmp(kind, "Pod") == 0 && strcmp(sub, "log") == 0 && method_is(q, "GET"))
            return get_log(q, ns ? ns : "default", name);
        if (strcmp(kind, "Deployment") == 0 && strcmp(sub, "scale") == 0 && method_is(q, "PUT"))
            return put_scale(q, ns ? ns : "default", name);
        return reply_status(q->c, 404, "no such API path (see agent/API.md)");
    }
    if (method_is(q, "GET"))
        return get_objects(q, kind, name && !ns ? "default" : ns, name);
    if (method_is(q, "DELETE") && name && strcmp(kind, "Event") != 0)
        return delete_object(q, kind, ns ? ns : "default", name);
    if (method_is(q, "PATCH") && name && strcmp(kind, "Event") != 0)
        return patch_object(q, kind, ns ? ns : "default", name);
    return reply_status(q->c, 405, "%s is not allowed here (see agent/API.md)", q->method);
}

/* ---- the server ----------------------------------------------------------------- */

struct body {
    char *buf;
    size_t len;
    bool too_big;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct st_server *d = cls;
    struct body *b = *con_cls;
    if (b == NULL) {
        b = calloc(1, sizeof(*b));
        if (b == NULL)
            return MHD_NO;
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (b->len + *upload_size > BODY_MAX) {
            b->too_big = true;
        } else {
            char *nb = realloc(b->buf, b->len + *upload_size + 1);
            if (nb == NULL)
                return MHD_NO;
            b->buf = nb;
            memcpy(b->buf + b->len, upload, *upload_size);
            b->len += *upload_size;
            b->buf[b->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (b->too_big)
        return reply_status(c, 413,
                            "the request body is over %u bytes (3 MiB), the API's limit; apply "
                            "fewer objects at a time (a Secret holds at most 1 MiB)",
                            BODY_MAX);
    _cleanup_free_ char *path = strdup(url);
    if (path == NULL)
        return MHD_NO;
    struct req q = {.d = d, .c = c, .method = method, .body = b->buf, .body_len = b->len};
    char *save = NULL;
    for (char *t = strtok_r(path, "/", &save); t && q.nseg < 10; t = strtok_r(NULL, "/", &save))
        q.seg[q.nseg++] = t;
    return route(&q);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct body *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

int st_server_api_start(struct st_server *d, st_error *err)
{
    int fd = st_server_api_listen(d->cfg.socket_path, err);
    if (fd < 0)
        return fd;
    d->listen_fd = fd;
    d->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_request, d, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
    if (d->mhd == NULL) {
        close(fd);
        d->listen_fd = -1;
        unlink(d->cfg.socket_path);
        return st_error_set(err, EIO, "libmicrohttpd could not serve on %s", d->cfg.socket_path);
    }
    return 0;
}

void st_server_api_stop(struct st_server *d)
{
    if (d->mhd) {
        /* Streams see stopping and end; then every connection thread joins. */
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
        MHD_stop_daemon(d->mhd);
        d->mhd = NULL;
    }
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        d->listen_fd = -1;
        unlink(d->cfg.socket_path);
    }
}
