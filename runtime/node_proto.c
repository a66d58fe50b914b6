/* node_proto.c: framing, encoding and the message builders/parsers of the
 * node protocol (see node_proto.h). Pure data handling: no sockets, no
 * timers, so the host (vmm/) and the node agent share it unchanged. */
#include "strata/node_proto.h"
#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- line reader ------------------------------------------------------ */

void st_proto_reader_init(struct st_proto_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void st_proto_reader_free(struct st_proto_reader *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

void st_proto_reader_reset(struct st_proto_reader *r)
{
    r->start = r->len = 0;
    r->discarding = false;
}

static int reader_append(struct st_proto_reader *r, const char *data, size_t n, st_error *err)
{
    /* Drop what was handed out before growing, so the buffer only holds one
     * partial line plus whatever arrived after it. */
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->len -= r->start;
        r->start = 0;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->buf, cap);
        if (nb == NULL)
            return st_error_set(err, ENOMEM, "node protocol: out of memory buffering %zu bytes",
                                r->len + n);
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return 0;
}

int st_proto_reader_feed(struct st_proto_reader *r, const void *data, size_t n, st_error *err)
{
    const char *p = data;
    if (r->discarding) {
        const char *nl = memchr(p, '\n', n);
        if (nl == NULL)
            return 0;
        r->discarding = false;
        n -= (size_t)(nl + 1 - p);
        p = nl + 1;
    }
    if (n == 0)
        return 0;
    return reader_append(r, p, n, err);
}

int st_proto_reader_fill(struct st_proto_reader *r, int fd, st_error *err)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -EAGAIN;
        if (n < 0)
            return st_error_sys(err, errno, "node protocol: reading fd %d", fd);
        if (n == 0)
            return 0;
        int rc = st_proto_reader_feed(r, chunk, (size_t)n, err);
        return rc < 0 ? rc : (int)n;
    }
}

int st_proto_reader_next(struct st_proto_reader *r, const char **line, st_error *err)
{
    for (;;) {
        size_t avail = r->len - r->start;
        if (avail == 0)
            return 0;
        char *begin = r->buf + r->start;
        char *nl = memchr(begin, '\n', avail);
        if (nl == NULL) {
            if (avail <= ST_PROTO_LINE_MAX)
                return 0;
            r->start = r->len = 0;
            r->discarding = true;
            return st_error_set(err, EMSGSIZE,
                                "node protocol: line longer than %d bytes; the peer must split "
                                "its messages (skipping to the next newline)",
                                ST_PROTO_LINE_MAX);
        }
        size_t n = (size_t)(nl - begin);
        r->start += n + 1;
        if (n > ST_PROTO_LINE_MAX)
            return st_error_set(err, EMSGSIZE,
                                "node protocol: line of %zu bytes exceeds the limit of %d bytes", n,
                                ST_PROTO_LINE_MAX);
        if (n > 0 && begin[n - 1] == '\r')
            n--;
        if (n == 0)
            continue; /* blank lines carry nothing; tolerated */
        begin[n] = '\0';
        *line = begin;
        return 1;
    }
}

/* ---- framing ---------------------------------------------------------- */

int st_proto_decode(const char *line, json_t **msg, const char **type, st_error *err)
{
    json_error_t jerr;
    json_t *m = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (m == NULL)
        return st_error_set(err, EPROTO, "node protocol: line is not JSON (column %d: %s)",
                            jerr.column, jerr.text);
    _cleanup_json_ json_t *own = m;
    if (!json_is_object(m))
        return st_error_set(err, EPROTO, "node protocol: message is not a JSON object");
    json_t *t = json_object_get(m, "type");
    if (!json_is_string(t) || json_string_length(t) == 0)
        return st_error_set(err, EPROTO, "node protocol: message has no string \"type\"");
    json_t *s = json_object_get(m, "seq");
    if (!json_is_integer(s) || json_integer_value(s) < 0)
        return st_error_set(err, EPROTO,
                            "node protocol: %s message has no non-negative integer \"seq\"",
                            json_string_value(t));
    if (type)
        *type = json_string_value(t);
    *msg = st_steal_ptr(&own);
    return 0;
}

int st_proto_encode(json_t *msg, uint64_t *seq_counter, char **line, st_error *err)
{
    if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "type")))
        return st_error_set(err, EINVAL, "node protocol: can only encode an object with \"type\"");
    if (*seq_counter >= (uint64_t)INT64_MAX)
        return st_error_set(err, EOVERFLOW, "node protocol: seq counter exhausted");
    uint64_t seq = *seq_counter + 1;
    if (json_object_set_new(msg, "seq", json_integer((json_int_t)seq)) < 0)
        return st_error_set(err, ENOMEM, "node protocol: out of memory setting seq");
    _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "node protocol: cannot serialize %s message",
                            json_string_value(json_object_get(msg, "type")));
    size_t n = strlen(text);
    if (n > ST_PROTO_LINE_MAX)
        return st_error_set(err, EMSGSIZE,
                            "node protocol: %s message is %zu bytes, over the %d byte limit",
                            json_string_value(json_object_get(msg, "type")), n, ST_PROTO_LINE_MAX);
    char *out = malloc(n + 2);
    if (out == NULL)
        return st_error_set(err, ENOMEM, "node protocol: out of memory");
    memcpy(out, text, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    *seq_counter = seq;
    *line = out;
    return 0;
}

int64_t st_proto_seq(const json_t *msg)
{
    json_t *s = json_object_get(msg, "seq");
    return json_is_integer(s) ? (int64_t)json_integer_value(s) : -1;
}

/* ---- field helpers ---------------------------------------------------- */

static const char *msg_type(json_t *msg)
{
    const char *t = json_string_value(json_object_get(msg, "type"));
    return t ? t : "(untyped)";
}

static int new_msg(const char *type, json_t **msg, st_error *err)
{
    json_t *m = json_pack("{s:s}", "type", type);
    if (m == NULL)
        return st_error_set(err, ENOMEM, "node protocol: out of memory building %s", type);
    *msg = m;
    return 0;
}

static int set_new(json_t *m, const char *key, json_t *v, st_error *err)
{
    if (v == NULL || json_object_set_new(m, key, v) < 0)
        return st_error_set(err, ENOMEM, "node protocol: out of memory setting %s", key);
    return 0;
}

static int set_str(json_t *m, const char *key, const char *v, bool nullable, st_error *err)
{
    if (v == NULL && !nullable)
        return st_error_set(err, EINVAL, "node protocol: %s message needs \"%s\"", msg_type(m),
                            key);
    return set_new(m, key, v ? json_string(v) : json_null(), err);
}

static int get_str(json_t *m, const char *key, bool nullable, const char **out, st_error *err)
{
    json_t *v = json_object_get(m, key);
    if (nullable && (v == NULL || json_is_null(v))) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return st_error_set(err, EPROTO, "node protocol: %s message: \"%s\" must be a string%s",
                            msg_type(m), key, nullable ? " or null" : "");
    *out = json_string_value(v);
    return 0;
}

static int get_int(json_t *m, const char *key, int64_t *out, st_error *err)
{
    json_t *v = json_object_get(m, key);
    if (!json_is_integer(v))
        return st_error_set(err, EPROTO, "node protocol: %s message: \"%s\" must be an integer",
                            msg_type(m), key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int get_bool(json_t *m, const char *key, bool *out, st_error *err)
{
    json_t *v = json_object_get(m, key);
    if (!json_is_boolean(v))
        return st_error_set(err, EPROTO, "node protocol: %s message: \"%s\" must be true or false",
                            msg_type(m), key);
    *out = json_is_true(v);
    return 0;
}

static int check_type(json_t *m, const char *want, st_error *err)
{
    const char *t = json_string_value(json_object_get(m, "type"));
    if (t == NULL || strcmp(t, want) != 0)
        return st_error_set(err, EPROTO, "node protocol: expected a %s message, got %s", want,
                            t ? t : "(no type)");
    return 0;
}

/* ---- messages --------------------------------------------------------- */

int st_proto_hello_build(const struct st_proto_hello *h, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_HELLO, &m, err);
    if (rc < 0)
        return rc;
    if (h->pods && !json_is_array(h->pods))
        return st_error_set(err, EINVAL, "node protocol: hello \"pods\" must be an array");
    if ((rc = set_str(m, "node", h->node, false, err)) < 0 ||
        (rc = set_str(m, "version", h->version, false, err)) < 0 ||
        (rc = set_new(m, "capacity",
                      json_pack("{s:I,s:I}", "cpuMillis", (json_int_t)h->cpu_millis, "memoryBytes",
                                (json_int_t)h->memory_bytes),
                      err)) < 0 ||
        (rc = set_str(m, "kernel", h->kernel, false, err)) < 0 ||
        (rc = set_new(m, "uptimeMillis", json_integer((json_int_t)h->uptime_ms), err)) < 0 ||
        (rc = set_new(m, "pods", h->pods ? json_incref(h->pods) : json_array(), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_hello_parse(json_t *msg, struct st_proto_hello *h, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_HELLO, err)) < 0 ||
        (rc = get_str(msg, "node", false, &h->node, err)) < 0 ||
        (rc = get_str(msg, "version", false, &h->version, err)) < 0 ||
        (rc = get_str(msg, "kernel", false, &h->kernel, err)) < 0 ||
        (rc = get_int(msg, "uptimeMillis", &h->uptime_ms, err)) < 0)
        return rc;
    json_t *cap = json_object_get(msg, "capacity");
    if (!json_is_object(cap))
        return st_error_set(err, EPROTO,
                            "node protocol: hello message: \"capacity\" must be an "
                            "object {cpuMillis, memoryBytes}");
    if ((rc = get_int(cap, "cpuMillis", &h->cpu_millis, err)) < 0 ||
        (rc = get_int(cap, "memoryBytes", &h->memory_bytes, err)) < 0)
        return rc;
    h->pods = json_object_get(msg, "pods");
    if (!json_is_array(h->pods))
        return st_error_set(err, EPROTO, "node protocol: hello message: \"pods\" must be an array");
    return 0;
}

int st_proto_heartbeat_build(const struct st_proto_heartbeat *hb, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_HEARTBEAT, &m, err);
    if (rc < 0 ||
        (rc = set_new(m, "uptimeMillis", json_integer((json_int_t)hb->uptime_ms), err)) < 0 ||
        (rc = set_str(m, "podsDigest", hb->pods_digest, false, err)) < 0 ||
        (rc = set_new(m, "pods", json_integer((json_int_t)hb->pods), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_heartbeat_parse(json_t *msg, struct st_proto_heartbeat *hb, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_HEARTBEAT, err)) < 0 ||
        (rc = get_int(msg, "uptimeMillis", &hb->uptime_ms, err)) < 0 ||
        (rc = get_str(msg, "podsDigest", false, &hb->pods_digest, err)) < 0 ||
        (rc = get_int(msg, "pods", &hb->pods, err)) < 0)
        return rc;
    return 0;
}

static int id_build(const char *type, int64_t id, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(type, &m, err);
    if (rc < 0 || (rc = set_new(m, "id", json_integer((json_int_t)id), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_ping_build(int64_t id, json_t **msg, st_error *err)
{
    return id_build(ST_PROTO_PING, id, msg, err);
}

int st_proto_pong_build(int64_t id, json_t **msg, st_error *err)
{
    return id_build(ST_PROTO_PONG, id, msg, err);
}

int st_proto_ping_parse(json_t *msg, int64_t *id, st_error *err)
{
    const char *t = json_string_value(json_object_get(msg, "type"));
    if (t == NULL || (strcmp(t, ST_PROTO_PING) != 0 && strcmp(t, ST_PROTO_PONG) != 0))
        return st_error_set(err, EPROTO, "node protocol: expected a ping or pong message, got %s",
                            t ? t : "(no type)");
    return get_int(msg, "id", id, err);
}

int st_proto_pods_query_build(int64_t id, json_t **msg, st_error *err)
{
    return id_build(ST_PROTO_PODS_QUERY, id, msg, err);
}

int st_proto_pods_query_parse(json_t *msg, int64_t *id, st_error *err)
{
    int rc = check_type(msg, ST_PROTO_PODS_QUERY, err);
    return rc < 0 ? rc : get_int(msg, "id", id, err);
}

int st_proto_pods_build(int64_t id, json_t *pods, json_t **msg, st_error *err)
{
    if (!json_is_array(pods))
        return st_error_set(err, EINVAL, "node protocol: pods \"pods\" must be an array");
    _cleanup_json_ json_t *m = NULL;
    int rc = id_build(ST_PROTO_PODS, id, &m, err);
    if (rc < 0 || (rc = set_new(m, "pods", json_incref(pods), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_pods_parse(json_t *msg, int64_t *id, json_t **pods, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_PODS, err)) < 0 || (rc = get_int(msg, "id", id, err)) < 0)
        return rc;
    json_t *arr = json_object_get(msg, "pods");
    if (!json_is_array(arr))
        return st_error_set(err, EPROTO, "node protocol: pods message: \"pods\" must be an array");
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p)
    {
        const char *s = NULL;
        if (!json_is_object(p))
            return st_error_set(err, EPROTO,
                                "node protocol: pods message: pods[%zu] must be an object", i);
        if ((rc = get_str(p, "pod", false, &s, err)) < 0 ||
            (rc = get_str(p, "uid", false, &s, err)) < 0 ||
            (rc = get_str(p, "phase", false, &s, err)) < 0)
            return rc;
    }
    *pods = arr;
    return 0;
}

int st_proto_pod_status_build(const struct st_proto_pod_status *ps, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_POD_STATUS, &m, err);
    if (rc < 0 || (rc = set_str(m, "pod", ps->pod, false, err)) < 0 ||
        (rc = set_str(m, "uid", ps->uid, false, err)) < 0 ||
        (rc = set_str(m, "phase", ps->phase, false, err)) < 0 ||
        (rc = set_new(m, "ready", json_boolean(ps->ready), err)) < 0 ||
        (rc = set_new(m, "restartCount", json_integer((json_int_t)ps->restart_count), err)) < 0 ||
        (rc = set_new(m, "exitCode",
                      ps->has_exit_code ? json_integer((json_int_t)ps->exit_code) : json_null(),
                      err)) < 0 ||
        (rc = set_str(m, "reason", ps->reason, true, err)) < 0 ||
        (rc = set_str(m, "message", ps->message, true, err)) < 0 ||
        (rc = set_str(m, "startedAt", ps->started_at, true, err)) < 0 ||
        (rc = set_new(m, "removed", json_boolean(ps->removed), err)) < 0)
        return rc;
    if (ps->pod_ip && (rc = set_str(m, "podIP", ps->pod_ip, false, err)) < 0)
        return rc;
    if (ps->containers) {
        if (!json_is_array(ps->containers))
            return st_error_set(err, EINVAL,
                                "node protocol: pod_status \"containerStatuses\" must be an array");
        if ((rc = set_new(m, "containerStatuses", json_incref(ps->containers), err)) < 0)
            return rc;
    }
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_pod_status_parse(json_t *msg, struct st_proto_pod_status *ps, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_POD_STATUS, err)) < 0 ||
        (rc = get_str(msg, "pod", false, &ps->pod, err)) < 0 ||
        (rc = get_str(msg, "uid", false, &ps->uid, err)) < 0 ||
        (rc = get_str(msg, "phase", false, &ps->phase, err)) < 0 ||
        (rc = get_bool(msg, "ready", &ps->ready, err)) < 0 ||
        (rc = get_int(msg, "restartCount", &ps->restart_count, err)) < 0 ||
        (rc = get_str(msg, "reason", true, &ps->reason, err)) < 0 ||
        (rc = get_str(msg, "message", true, &ps->message, err)) < 0 ||
        (rc = get_str(msg, "startedAt", true, &ps->started_at, err)) < 0)
        return rc;
    ps->pod_ip = NULL;
    if (json_object_get(msg, "podIP") && (rc = get_str(msg, "podIP", false, &ps->pod_ip, err)) < 0)
        return rc;
    ps->removed = false;
    if (json_object_get(msg, "removed") && (rc = get_bool(msg, "removed", &ps->removed, err)) < 0)
        return rc;
    ps->containers = json_object_get(msg, "containerStatuses");
    if (ps->containers && json_is_null(ps->containers))
        ps->containers = NULL;
    if (ps->containers && !json_is_array(ps->containers))
        return st_error_set(err, EPROTO,
                            "node protocol: pod_status message: \"containerStatuses\" must be an "
                            "array");
    json_t *ec = json_object_get(msg, "exitCode");
    ps->has_exit_code = ec != NULL && !json_is_null(ec);
    ps->exit_code = 0;
    if (ps->has_exit_code)
        return get_int(msg, "exitCode", &ps->exit_code, err);
    return 0;
}

int st_proto_log_build(const struct st_proto_log *lg, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_LOG, &m, err);
    if (rc < 0 || (rc = set_str(m, "pod", lg->pod, false, err)) < 0 ||
        (rc = set_str(m, "container", lg->container, false, err)) < 0 ||
        (rc = set_str(m, "stream", lg->stream, false, err)) < 0 ||
        (rc = set_str(m, "line", lg->line, false, err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_log_parse(json_t *msg, struct st_proto_log *lg, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_LOG, err)) < 0 ||
        (rc = get_str(msg, "pod", false, &lg->pod, err)) < 0 ||
        (rc = get_str(msg, "container", false, &lg->container, err)) < 0 ||
        (rc = get_str(msg, "stream", false, &lg->stream, err)) < 0 ||
        (rc = get_str(msg, "line", false, &lg->line, err)) < 0)
        return rc;
    if (strcmp(lg->stream, "stdout") != 0 && strcmp(lg->stream, "stderr") != 0)
        return st_error_set(err, EPROTO,
                            "node protocol: log message: \"stream\" must be stdout or stderr, "
                            "not \"%s\"",
                            lg->stream);
    return 0;
}

int st_proto_pod_run_build(const struct st_proto_pod_run *pr, json_t **msg, st_error *err)
{
    if (!json_is_object(pr->spec))
        return st_error_set(err, EINVAL, "node protocol: pod_run needs a \"spec\" object");
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_POD_RUN, &m, err);
    if (rc < 0 || (rc = set_str(m, "pod", pr->pod, false, err)) < 0 ||
        (rc = set_str(m, "uid", pr->uid, false, err)) < 0 ||
        (rc = set_new(m, "spec", json_incref(pr->spec), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_pod_run_parse(json_t *msg, struct st_proto_pod_run *pr, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_POD_RUN, err)) < 0 ||
        (rc = get_str(msg, "pod", false, &pr->pod, err)) < 0 ||
        (rc = get_str(msg, "uid", false, &pr->uid, err)) < 0)
        return rc;
    pr->spec = json_object_get(msg, "spec");
    if (!json_is_object(pr->spec))
        return st_error_set(err, EPROTO,
                            "node protocol: pod_run message: \"spec\" must be an "
                            "object");
    return 0;
}

int st_proto_pod_stop_build(const struct st_proto_pod_stop *ps, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_POD_STOP, &m, err);
    if (rc < 0 || (rc = set_str(m, "pod", ps->pod, false, err)) < 0 ||
        (rc = set_str(m, "uid", ps->uid, false, err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_pod_stop_parse(json_t *msg, struct st_proto_pod_stop *ps, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_POD_STOP, err)) < 0 ||
        (rc = get_str(msg, "pod", false, &ps->pod, err)) < 0 ||
        (rc = get_str(msg, "uid", false, &ps->uid, err)) < 0)
        return rc;
    return 0;
}

int st_proto_clock_build(int64_t unix_millis, json_t **msg, st_error *err)
{
    if (unix_millis < 0)
        return st_error_set(err, EINVAL, "node protocol: clock needs unixMillis >= 0, not %lld",
                            (long long)unix_millis);
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_CLOCK, &m, err);
    if (rc < 0 || (rc = set_new(m, "unixMillis", json_integer((json_int_t)unix_millis), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_clock_parse(json_t *msg, int64_t *unix_millis, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_CLOCK, err)) < 0 ||
        (rc = get_int(msg, "unixMillis", unix_millis, err)) < 0)
        return rc;
    if (*unix_millis < 0)
        return st_error_set(err, EPROTO,
                            "node protocol: clock message: \"unixMillis\" %lld is "
                            "before 1970",
                            (long long)*unix_millis);
    return 0;
}

static bool host_grace_ok(int64_t ms)
{
    return ms >= 0 && ms <= ST_PROTO_HOST_GRACE_MAX_MS;
}

int st_proto_settings_build(const struct st_proto_settings *s, json_t **msg, st_error *err)
{
    if (s->has_host_grace_ms && !host_grace_ok(s->host_grace_ms))
        return st_error_set(err, EINVAL,
                            "node protocol: settings \"hostGraceMs\" must be 0 (off) to %d ms, "
                            "not %lld",
                            ST_PROTO_HOST_GRACE_MAX_MS, (long long)s->host_grace_ms);
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_SETTINGS, &m, err);
    if (rc < 0 ||
        (s->has_host_grace_ms &&
         (rc = set_new(m, "hostGraceMs", json_integer((json_int_t)s->host_grace_ms), err)) < 0))
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_settings_parse(json_t *msg, struct st_proto_settings *s, st_error *err)
{
    int rc;
    *s = (struct st_proto_settings){0};
    if ((rc = check_type(msg, ST_PROTO_SETTINGS, err)) < 0)
        return rc;
    if (json_object_get(msg, "hostGraceMs") == NULL)
        return 0;
    if ((rc = get_int(msg, "hostGraceMs", &s->host_grace_ms, err)) < 0)
        return rc;
    if (!host_grace_ok(s->host_grace_ms))
        return st_error_set(err, EPROTO,
                            "node protocol: settings message: \"hostGraceMs\" %lld is not 0 (off) "
                            "to %d ms",
                            (long long)s->host_grace_ms, ST_PROTO_HOST_GRACE_MAX_MS);
    s->has_host_grace_ms = true;
    return 0;
}

static bool event_type_ok(const char *t)
{
    return t && (strcmp(t, "Normal") == 0 || strcmp(t, "Warning") == 0);
}

int st_proto_event_build(const struct st_proto_event *ev, json_t **msg, st_error *err)
{
    if (!event_type_ok(ev->event_type))
        return st_error_set(err, EINVAL,
                            "node protocol: event \"eventType\" must be Normal or Warning, not %s",
                            ev->event_type ? ev->event_type : "(none)");
    if (ev->reason == NULL || ev->reason[0] == '\0')
        return st_error_set(err, EINVAL, "node protocol: event needs a non-empty \"reason\"");
    _cleanup_json_ json_t *m = NULL;
    int rc = new_msg(ST_PROTO_EVENT, &m, err);
    if (rc < 0 || (rc = set_str(m, "pod", ev->pod, false, err)) < 0 ||
        (rc = set_str(m, "uid", ev->uid, false, err)) < 0 ||
        (ev->ns && (rc = set_str(m, "namespace", ev->ns, false, err)) < 0) ||
        (rc = set_str(m, "eventType", ev->event_type, false, err)) < 0 ||
        (rc = set_str(m, "reason", ev->reason, false, err)) < 0 ||
        (rc = set_str(m, "message", ev->message, false, err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_event_parse(json_t *msg, struct st_proto_event *ev, st_error *err)
{
    int rc;
    if ((rc = check_type(msg, ST_PROTO_EVENT, err)) < 0 ||
        (rc = get_str(msg, "pod", false, &ev->pod, err)) < 0 ||
        (rc = get_str(msg, "uid", false, &ev->uid, err)) < 0 ||
        (rc = get_str(msg, "namespace", true, &ev->ns, err)) < 0 ||
        (rc = get_str(msg, "eventType", false, &ev->event_type, err)) < 0 ||
        (rc = get_str(msg, "reason", false, &ev->reason, err)) < 0 ||
        (rc = get_str(msg, "message", false, &ev->message, err)) < 0)
        return rc;
    if (!event_type_ok(ev->event_type))
        return st_error_set(err, EPROTO,
                            "node protocol: event message: \"eventType\" must be Normal or "
                            "Warning, not \"%s\"",
                            ev->event_type);
    if (ev->reason[0] == '\0')
        return st_error_set(err, EPROTO, "node protocol: event message: \"reason\" is empty");
    return 0;
}

/* ---- pods digest ------------------------------------------------------ */

/* ---- services --------------------------------------------------------- */

bool st_proto_ipv4_parse(const char *s, uint32_t *addr, int *port)
{
    char ip[INET_ADDRSTRLEN];
    const char *colon = port ? strrchr(s, ':') : NULL;
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if ((port && colon == NULL) || n == 0 || n >= sizeof(ip))
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    struct in_addr in;
    if (inet_pton(AF_INET, ip, &in) != 1)
        return false;
    if (port) {
        char *end = NULL;
        long v = strtol(colon + 1, &end, 10);
        if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || v < 1 || v > 65535)
            return false;
        *port = (int)v;
    }
    *addr = ntohl(in.s_addr);
    return true;
}

/* One entry of "ports" of services[i]. */
static int service_port_check(json_t *port, size_t i, size_t j, st_error *err)
{
    json_t *v = json_object_get(port, "port");
    json_t *name = json_object_get(port, "name");
    json_t *proto = json_object_get(port, "protocol");
    json_t *backends = json_object_get(port, "backends");
    if (!json_is_object(port) || !json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > 65535)
        return st_error_set(
            err, EPROTO, "node protocol: services[%zu].ports[%zu]: needs \"port\" 1-65535", i, j);
    if (name && !json_is_string(name) && !json_is_null(name))
        return st_error_set(err, EPROTO,
                            "node protocol: services[%zu].ports[%zu].name must be a string", i, j);
    if (proto && !json_is_null(proto) &&
        (!json_is_string(proto) || strcmp(json_string_value(proto), "TCP") != 0))
        return st_error_set(err, EPROTO,
                            "node protocol: services[%zu].ports[%zu].protocol: only TCP is "
                            "carried",
                            i, j);
    if (!json_is_array(backends))
        return st_error_set(
            err, EPROTO, "node protocol: services[%zu].ports[%zu].backends must be an array", i, j);
    size_t k;
    json_t *b;
    json_array_foreach(backends, k, b)
    {
        uint32_t a;
        int p;
        if (!json_is_string(b) || !st_proto_ipv4_parse(json_string_value(b), &a, &p))
            return st_error_set(err, EPROTO,
                                "node protocol: services[%zu].ports[%zu].backends[%zu] must be "
                                "\"A.B.C.D:PORT\"",
                                i, j, k);
    }
    return 0;
}

void st_proto_service_fields(const json_t *svc, struct st_proto_service *out)
{
    out->ns = json_string_value(json_object_get(svc, "namespace"));
    out->name = json_string_value(json_object_get(svc, "name"));
    out->cluster_ip = json_string_value(json_object_get(svc, "clusterIP"));
    out->ports = json_object_get(svc, "ports");
    if (!json_is_array(out->ports))
        out->ports = NULL;
}

static int services_check(json_t *services, st_error *err)
{
    if (!json_is_array(services))
        return st_error_set(err, EPROTO, "node protocol: services: \"services\" must be an array");
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        struct st_proto_service f;
        st_proto_service_fields(svc, &f);
        const char *ns = f.ns, *name = f.name, *ip = f.cluster_ip;
        json_t *ports = f.ports;
        uint32_t a;
        if (!json_is_object(svc) || ns == NULL || *ns == '\0' || name == NULL || *name == '\0')
            return st_error_set(err, EPROTO,
                                "node protocol: services[%zu] needs \"namespace\" and \"name\"", i);
        if (ip == NULL || !st_proto_ipv4_parse(ip, &a, NULL))
            return st_error_set(err, EPROTO,
                                "node protocol: services[%zu] (%s/%s): \"clusterIP\" must be a "
                                "numeric IPv4 address",
                                i, ns, name);
        if (ports == NULL)
            return st_error_set(err, EPROTO,
                                "node protocol: services[%zu] (%s/%s): \"ports\" must be an array",
                                i, ns, name);
        size_t j;
        json_t *port;
        json_array_foreach(ports, j, port)
        {
            int rc = service_port_check(port, i, j, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int st_proto_services_build(json_t *services, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *m = NULL;
    int rc = services_check(services, err);
    if (rc < 0) {
        /* the caller's data, not the peer's: EINVAL like the other builders */
        if (err)
            err->code = EINVAL;
        return -EINVAL;
    }
    if ((rc = new_msg(ST_PROTO_SERVICES, &m, err)) < 0 ||
        (rc = set_new(m, "services", json_incref(services), err)) < 0)
        return rc;
    *msg = st_steal_ptr(&m);
    return 0;
}

int st_proto_services_parse(json_t *msg, json_t **services, st_error *err)
{
    int rc;
    json_t *s = json_object_get(msg, "services");
    if ((rc = check_type(msg, ST_PROTO_SERVICES, err)) < 0 || (rc = services_check(s, err)) < 0)
        return rc;
    *services = s;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int st_proto_pods_digest(const json_t *pods, char out[ST_PROTO_DIGEST_LEN], st_error *err)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t n = pods ? json_array_size(pods) : 0;
    if (pods && !json_is_array(pods))
        return st_error_set(err, EINVAL, "node protocol: pod states must be a JSON array");
    _cleanup_strv_ char **v = calloc(n + 1, sizeof(char *));
    if (v == NULL)
        return st_error_set(err, ENOMEM, "node protocol: out of memory hashing %zu pods", n);
    for (size_t i = 0; i < n; i++) {
        /* Sorted keys and a fixed format make the digest depend only on the
         * states, never on insertion order. */
        v[i] = json_dumps(json_array_get(pods, i), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (v[i] == NULL)
            return st_error_set(err, ENOMEM, "node protocol: cannot serialize pod state %zu", i);
    }
    qsort(v, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        h = fnv1a(h, v[i], strlen(v[i]));
        h = fnv1a(h, "\n", 1);
    }
    snprintf(out, ST_PROTO_DIGEST_LEN, "%016" PRIx64, h);
    return 0;
}
