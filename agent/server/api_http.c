/* api_http.c: the API (agent/API.md) served over HTTP on a unix socket by
 * libmicrohttpd, with a thread per connection so a watch or a log follow
 * may wait without holding anyone else up. Gathers the body (refused over
 * ST_SERVER_API_BODY_MAX) and the query, hands the request to
 * api_route.c, and sends its answer or streams it. Nothing else in the
 * server includes microhttpd.h. */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    ssize_t n = st_server_stream_read(cls, out, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_done(void *cls)
{
    st_server_stream_free(cls);
}

/* Sends resp; a stream in it passes to libmicrohttpd. */
static enum MHD_Result send_response(struct MHD_Connection *c, struct st_server_response *resp)
{
    struct MHD_Response *r;
    if (resp->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, resp->stream,
                                              stream_done);
        if (r == NULL)
            return MHD_NO;
        resp->stream = NULL;
    } else {
        r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (char *)"",
                                            MHD_RESPMEM_MUST_COPY);
        if (r == NULL)
            return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp->type ? resp->type : "text/plain");
    size_t i;
    json_t *w;
    json_array_foreach(resp->warnings, i, w)
    {
        /* RFC 7234's form, as the apiserver sends it: 299 - "text" */
        _cleanup_free_ char *h = NULL;
        if (asprintf(&h, "299 - \"%s\"", json_string_value(w)) >= 0)
            MHD_add_response_header(r, "Warning", h);
    }
    enum MHD_Result ret = MHD_queue_response(c, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The first value of each query argument, as MHD_lookup_connection_value
 * reads it; an argument without a value is left out. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    json_t *query = cls;
    if (key && value && json_object_get(query, key) == NULL)
        json_object_set_new(query, key, json_string(value));
    return MHD_YES;
}

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
        if (b->len + *upload_size > ST_SERVER_API_BODY_MAX) {
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
    _cleanup_free_ char *path = strdup(url);
    _cleanup_json_ json_t *query = json_object();
    if (path == NULL || query == NULL)
        return MHD_NO;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, query);
    struct st_server_request q = {
        .method = method,
        .query = query,
        .body = b->buf,
        .body_len = b->len,
        .body_too_big = b->too_big,
        .accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")};
    st_server_api_split_path(&q, path);
    struct st_server_response resp = {0};
    int r = st_server_api_route(d, &q, &resp);
    enum MHD_Result ret = r < 0 ? MHD_NO : send_response(c, &resp);
    st_server_api_response_clear(&resp);
    return ret;
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
