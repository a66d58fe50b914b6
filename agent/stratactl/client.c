/* client.c: HTTP/1.1 over stratad's unix socket with libcurl. One easy handle
 * is reused for every request, so polling (node add) keeps one connection.
 * Failures become messages that say what to do: a missing daemon names the
 * socket and how to start it; a Status body's message is shown as it is. */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "strata/cleanup.h"

#define DEFAULT_TIMEOUT_S 120
#define MAX_REPLY_BYTES   (64L << 20)
#define MAX_LINE_BYTES    (16L << 20)

struct stctl_client {
    CURL *curl;
    char *socket;
    long timeout_s;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- helpers -------------------------------------------------------------- */

/* Where a reply goes: collected (plain calls and error bodies), or handed to
 * a stream callback once the status says 2xx. */
struct sink {
    stctl_client *client;
    char *buf;
    size_t len, cap;
    bool too_big;
    long code; /* HTTP status, read on the first body bytes */
    stctl_data_fn fn;
    void *arg;
    st_error *err;
    int fn_result; /* < 0: the callback failed; 1: it asked to stop */
};

static int sink_append(struct sink *s, const char *data, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *buf = realloc(s->buf, cap);
        if (buf == NULL)
            return -1;
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sink *s = userp;
    size_t n = size * nmemb;
    if (s->code == 0)
        curl_easy_getinfo(s->client->curl, CURLINFO_RESPONSE_CODE, &s->code);
    if (s->fn && s->code >= 200 && s->code < 300) {
        int r = s->fn(data, n, s->arg, s->err);
        if (r != 0) {
            s->fn_result = r;
            return 0; /* stops the transfer */
        }
        return n;
    }
    if (s->len + n > (size_t)MAX_REPLY_BYTES || sink_append(s, data, n) < 0) {
        s->too_big = true;
        return 0;
    }
    return n;
}

/* A reply text made one line: newlines and tabs become spaces, the end is
 * trimmed, and it is cut at max characters. */
static void one_line(const char *text, char *out, size_t len, size_t max)
{
    size_t j = 0;
    for (size_t i = 0; text[i] && j + 1 < len && j < max; i++)
        out[j++] = (text[i] == '\n' || text[i] == '\r' || text[i] == '\t') ? ' ' : text[i];
    while (j > 0 && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

/* The error for a non-2xx answer: the Status message when there is one. */
static int status_error(const char *method, const char *path, long code, const char *body,
                        size_t len, st_error *err)
{
    int errnum = code == 404                  ? ENOENT
                 : code == 400 || code == 422 ? EINVAL
                 : code == 503                ? EAGAIN
                                              : EIO;
    json_t *status = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *message = json_string_value(json_object_get(status, "message"));
    if (code == 409)
        errnum = reason && strcmp(reason, "Conflict") == 0 ? ESTALE : EEXIST;
    char line[ST_ERROR_MSG_MAX];
    int r;
    if (message && *message) {
        one_line(message, line, sizeof(line), sizeof(line) - 1);
        r = st_error_set(err, errnum, "%s", line);
    } else if (body && len) {
        one_line(body, line, sizeof(line), 200);
        r = st_error_set(err, errnum, "stratad answered %s %s with HTTP %ld: %s", method, path,
                         code, line);
    } else {
        r = st_error_set(err, errnum, "stratad answered %s %s with HTTP %ld", method, path, code);
    }
    json_decref(status);
    return r;
}

/* The error for a request that got no HTTP answer. */
static int transport_error(stctl_client *c, CURLcode res, const char *method, const char *path,
                           st_error *err)
{
    long os_errno = 0;
    struct stat st;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (res) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == EACCES || os_errno == EPERM)
            return st_error_set(err, EACCES,
                                "cannot reach stratad at %s: permission denied (the socket is "
                                "mode 0600): run stratactl as the user that runs stratad",
                                c->socket);
        if (stat(c->socket, &st) == 0 && !S_ISSOCK(st.st_mode))
            return st_error_set(err, ENOTSOCK,
                                "cannot reach stratad at %s: that is not a socket; pass "
                                "stratad's socket with --socket or STRATA_SOCKET",
                                c->socket);
        if (os_errno == 0 || os_errno == ENOENT || os_errno == ECONNREFUSED)
            return st_error_set(err, ECONNREFUSED,
                                "cannot reach stratad at %s: is it running? start it with "
                                "`stratad`",
                                c->socket);
        return st_error_set(err, (int)os_errno, "cannot reach stratad at %s: %s", c->socket,
                            strerror((int)os_errno));
    case CURLE_OPERATION_TIMEDOUT:
        return st_error_set(err, ETIMEDOUT,
                            "stratad did not answer %s %s within %ld s: see stratad's log", method,
                            path, c->timeout_s);
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return st_error_set(err, ECONNRESET,
                            "stratad closed the connection during %s %s: see stratad's log", method,
                            path);
    default:
        return st_error_set(err, EIO, "talking to stratad at %s (%s %s): %s", c->socket, method,
                            path, c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
    }
}

/* Runs one request into sink s; 0 once a complete 2xx answer arrived (or a
 * stream callback stopped it), else the error. */
static int perform(stctl_client *c, const char *method, const char *path, const char *body,
                   bool stream, struct sink *s, st_error *err)
{
    _cleanup_free_ char *url = NULL;
    if (asprintf(&url, "http://localhost%s", path) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    struct curl_slist *headers = NULL, *h;
    static const char *const header_lines[] = {"Accept: application/json",
                                               "Content-Type: application/json",
                                               "Expect:", /* no 100-continue round trip */
                                               NULL};
    for (size_t i = 0; header_lines[i]; i++) {
        if ((h = curl_slist_append(headers, header_lines[i])) == NULL) {
            curl_slist_free_all(headers);
            return st_error_set(err, ENOMEM, "out of memory");
        }
        headers = h;
    }
    CURL *k = c->curl;
    curl_easy_reset(k); /* keeps the open connection */
    c->errbuf[0] = '\0';
    curl_easy_setopt(k, CURLOPT_UNIX_SOCKET_PATH, c->socket);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_USERAGENT, "stratactl/" STCTL_VERSION);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k, CURLOPT_TIMEOUT, stream ? 0L : c->timeout_s);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, s);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
    } else {
        if (body || strcmp(method, "DELETE") != 0) {
            curl_easy_setopt(k, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        }
        curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
    }
    s->client = c;
    s->err = err;
    CURLcode res = curl_easy_perform(k);
    curl_slist_free_all(headers);
    if (s->fn_result < 0)
        return s->fn_result;
    if (s->fn_result > 0)
        return 0;
    if (s->too_big)
        return st_error_set(err, EFBIG, "stratad's answer to %s %s is larger than %ld MiB", method,
                            path, MAX_REPLY_BYTES >> 20);
    if (res != CURLE_OK)
        return transport_error(c, res, method, path, err);
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &s->code);
    if (s->code < 200 || s->code >= 300)
        return status_error(method, path, s->code, s->buf, s->len, err);
    return 0;
}

/* ---- API ------------------------------------------------------------------ */

int stctl_client_open(const char *socket, stctl_client **out, st_error *err)
{
    *out = NULL;
    struct sockaddr_un sun;
    if (socket == NULL || *socket == '\0')
        return st_error_set(err, EINVAL, "no stratad socket: pass --socket PATH");
    if (strlen(socket) >= sizeof(sun.sun_path))
        return st_error_set(err, ENAMETOOLONG,
                            "the socket path %s is longer than %zu bytes: use a shorter one",
                            socket, sizeof(sun.sun_path) - 1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return st_error_set(err, EIO, "cannot initialize libcurl");
    stctl_client *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->socket = strdup(socket)) == NULL || (c->curl = curl_easy_init()) == NULL) {
        stctl_client_free(c);
        return st_error_set(err, ENOMEM, "cannot initialize libcurl: out of memory");
    }
    c->timeout_s = DEFAULT_TIMEOUT_S;
    *out = c;
    return 0;
}

void stctl_client_free(stctl_client *c)
{
    if (c == NULL)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->socket);
    free(c);
    curl_global_cleanup();
}

void stctl_client_set_timeout(stctl_client *c, long seconds)
{
    c->timeout_s = seconds < 0 ? 0 : seconds;
}

int stctl_call(stctl_client *c, const char *method, const char *path, json_t *body, json_t **reply,
               st_error *err)
{
    if (reply)
        *reply = NULL;
    _cleanup_free_ char *text = NULL;
    if (body && (text = json_dumps(body, JSON_COMPACT)) == NULL)
        return st_error_set(err, ENOMEM, "cannot encode the request to %s %s", method, path);
    struct sink s = {0};
    int r = perform(c, method, path, text, false, &s, err);
    if (r == 0 && reply && s.len > 0) {
        json_error_t jerr;
        *reply = json_loadb(s.buf, s.len, JSON_DECODE_ANY, &jerr);
        if (*reply == NULL)
            r = st_error_set(err, EPROTO,
                             "stratad's answer to %s %s is not JSON (%s at byte %d): is %s "
                             "stratad's socket?",
                             method, path, jerr.text, jerr.position, c->socket);
    }
    free(s.buf);
    return r;
}

int stctl_copy_stdout(const char *data, size_t len, void *arg, st_error *err)
{
    (void)arg;
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
        return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
    return 0;
}

int stctl_stream(stctl_client *c, const char *method, const char *path, stctl_data_fn fn, void *arg,
                 st_error *err)
{
    struct sink s = {.fn = fn, .arg = arg};
    int r = perform(c, method, path, NULL, true, &s, err);
    free(s.buf);
    return r;
}

/* Watch lines arrive in arbitrary chunks: keep the unfinished line. */
struct watch_lines {
    char *buf;
    size_t len, cap;
    stctl_event_fn fn;
    void *arg;
};

static int watch_line(struct watch_lines *w, const char *line, size_t len, st_error *err)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0; /* a keep-alive */
    json_error_t jerr;
    json_t *ev = json_loadb(line, len, 0, &jerr);
    if (ev == NULL)
        return st_error_set(err, EPROTO, "stratad sent a watch line that is not JSON (%s)",
                            jerr.text);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    int r;
    if (type == NULL || !json_is_object(obj)) {
        r = st_error_set(err, EPROTO, "stratad sent a watch event without type or object");
    } else if (strcmp(type, "ERROR") == 0) {
        const char *msg = json_string_value(json_object_get(obj, "message"));
        r = st_error_set(err, EIO, "the watch ended: %s", msg ? msg : "stratad sent an error");
    } else {
        r = w->fn(type, obj, w->arg, err);
    }
    json_decref(ev);
    return r;
}

static int watch_data(const char *data, size_t n, void *arg, st_error *err)
{
    struct watch_lines *w = arg;
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (w->len + take > (size_t)MAX_LINE_BYTES)
            return st_error_set(err, EFBIG, "stratad sent a watch line over %ld MiB",
                                MAX_LINE_BYTES >> 20);
        if (w->len + take + 1 > w->cap) {
            size_t cap = w->cap ? w->cap : 4096;
            while (cap < w->len + take + 1)
                cap *= 2;
            char *buf = realloc(w->buf, cap);
            if (buf == NULL)
                return st_error_set(err, ENOMEM, "out of memory");
            w->buf = buf;
            w->cap = cap;
        }
        memcpy(w->buf + w->len, data, take);
        w->len += take;
        if (nl == NULL)
            break;
        int r = watch_line(w, w->buf, w->len, err);
        w->len = 0;
        if (r != 0)
            return r;
        data = nl + 1;
        n -= take + 1;
    }
    return 0;
}

int stctl_watch(stctl_client *c, const char *path, stctl_event_fn fn, void *arg, st_error *err)
{
    struct watch_lines w = {.fn = fn, .arg = arg};
    int r = stctl_stream(c, "GET", path, watch_data, &w, err);
    /* A last line without its newline, when the server closed the stream. */
    if (r == 0 && w.len > 0)
        r = watch_line(&w, w.buf, w.len, err);
    free(w.buf);
    return r < 0 ? r : 0;
}

int stctl_path(stctl_client *c, const struct stctl_fmt_kind *k, const char *ns, const char *name,
               const char *suffix, char **out, st_error *err)
{
    *out = NULL;
    char *ens = NULL, *ename = NULL;
    if (k->namespaced && (ens = curl_easy_escape(c->curl, ns ? ns : "default", 0)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (name && (ename = curl_easy_escape(c->curl, name, 0)) == NULL) {
        curl_free(ens);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    int n = asprintf(out, "%s%s%s/%s%s%s%s", k->api, ens ? "/namespaces/" : "", ens ? ens : "",
                     k->resource, ename ? "/" : "", ename ? ename : "", suffix ? suffix : "");
    curl_free(ens);
    curl_free(ename);
    if (n < 0) {
        *out = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}
