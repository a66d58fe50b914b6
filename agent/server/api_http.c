/* api_http.c: the API (agent/API.md) served over HTTP on a unix socket by
 * libmicrohttpd, with a thread per connection so a watch or a log follow
 * may wait without holding anyone else up. Gathers the body (refused over
 * ST_SERVER_API_BODY_MAX) and the query, hands the request to
 * api_route.c, and sends its answer or streams it. Nothing else in the
 * server includes microhttpd.h. */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
    const char *name;
    json_t *value;
    json_object_foreach(resp->headers, name, value)
        MHD_add_response_header(r, name, json_string_value(value));
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
    bool tcp; /* the HTTPS port: the gate let it in */
};

/* The request as api_route.c reads it (its query and path parts point
 * into query and path). */
static struct st_server_request request_of(struct MHD_Connection *c, const char *method, char *path,
                                           json_t *query)
{
    struct st_server_request q = {
        .method = method,
        .query = query,
        .accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie"),
        .ui_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Strata-UI")};
    if (query)
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, query);
    st_server_api_split_path(&q, path);
    return q;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls);

/* The HTTPS port: a request without the admin token or a session (or a
 * session's write without X-Strata-UI) is refused before its body is read
 * (api_ui.c decides). */
static enum MHD_Result on_request_tls(void *cls, struct MHD_Connection *c, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **con_cls)
{
    struct st_server *d = cls;
    if (*con_cls == NULL) {
        _cleanup_free_ char *path = strdup(url);
        if (path == NULL)
            return MHD_NO;
        struct st_server_request q = request_of(c, method, path, NULL);
        q.tcp = true;
        struct st_server_response resp = {0};
        int r = st_server_api_gate(d, &q, &resp);
        enum MHD_Result ret = r < 0 ? MHD_NO : MHD_YES;
        if (r == 0)
            ret = send_response(c, &resp);
        st_server_api_response_clear(&resp);
        if (r <= 0)
            return ret;
        struct body *b = calloc(1, sizeof(*b));
        if (b == NULL)
            return MHD_NO;
        b->tcp = true;
        *con_cls = b;
        return MHD_YES;
    }
    return on_request(cls, c, url, method, version, upload, upload_size, con_cls);
}

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
    struct st_server_request q = request_of(c, method, path, query);
    q.body = b->buf;
    q.body_len = b->len;
    q.body_too_big = b->too_big;
    q.tcp = b->tcp;
    q.gated = b->tcp; /* on_request_tls ran the gate before the body came */
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

/* A TCP listener on host:port (port 0: any free one, then *port says it). */
static int listen_tcp(const char *host, unsigned *port, st_error *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        return st_error_sys(err, errno, "cannot make a TCP socket for the API");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return st_error_sys(err, errno,
                            "cannot listen on %s:%u for the Kubernetes API%s; stop what uses it "
                            "or give stratad another --api-listen (\"none\": no TCP port)",
                            host, *port, errno == EADDRINUSE ? " (in use)" : "");
    socklen_t len = sizeof(sa);
    if (listen(fd, 128) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return st_error_sys(err, errno, "cannot listen on %s:%u", host, *port);
    *port = ntohs(sa.sin_port);
    return st_steal_fd(&fd);
}

int st_server_api_listen_check(const st_server_config *cfg, char *host, size_t host_len,
                               unsigned *port, st_error *err)
{
    const char *spec = cfg->api_listen ? cfg->api_listen : ST_API_LISTEN_DEFAULT;
    if (strcmp(spec, "none") == 0)
        return 0;
    int r = st_api_listen_parse(spec, host, host_len, port, err);
    if (r < 0)
        return r;
    if (!st_api_host_is_loopback(host) && !cfg->api_listen_any)
        return st_error_set(err, EPERM,
                            "--api-listen %s is not a loopback address: the API is served "
                            "outside this host only with --api-listen-any",
                            spec);
    return 1;
}

/* The HTTPS port kubectl uses, with its credentials and kubeconfig. */
static int start_tls(struct st_server *d, st_error *err)
{
    const char *spec = d->cfg.api_listen ? d->cfg.api_listen : ST_API_LISTEN_DEFAULT;
    if (strcmp(spec, "none") == 0)
        return 0;
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
        return st_error_set(err, ENOTSUP,
                            "this libmicrohttpd has no TLS; install Debian's libmicrohttpd12 or "
                            "run stratad with --api-listen none");
    char host[64];
    unsigned port;
    int r = st_server_api_listen_check(&d->cfg, host, sizeof(host), &port, err);
    if (r < 0)
        return r;
    if ((r = st_api_pki_load(d->cfg.state_dir, host, &d->pki, err)) < 0)
        return r;
    int fd = listen_tcp(host, &port, err);
    if (fd < 0)
        return fd;
    d->mhd_tls =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_ERROR_LOG | MHD_USE_TLS,
                         0, NULL, NULL, on_request_tls, d, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_HTTPS_MEM_KEY,
                         d->pki.key_pem, MHD_OPTION_HTTPS_MEM_CERT, d->pki.cert_pem,
                         /* a client that connects and never sends is dropped; streams write
                          * at least every few seconds */
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)512, MHD_OPTION_END);
    if (d->mhd_tls == NULL) {
        close(fd);
        return st_error_set(err, EIO, "libmicrohttpd could not serve HTTPS on %s:%u", host, port);
    }
    d->api_port = port;
    snprintf(d->api_host, sizeof(d->api_host), "%s", host);
    if ((r = st_api_pki_write_kubeconfig(&d->pki, d->cfg.state_dir, host, port, err)) < 0)
        return r;
    st_server_log("serving the Kubernetes API on https://%s:%u (kubectl --kubeconfig %s)", host,
                  port, d->pki.kubeconfig);
    return 0;
}

const char *st_server_kubeconfig(const struct st_server *d)
{
    return d->mhd_tls ? d->pki.kubeconfig : NULL;
}

int st_server_api_start(struct st_server *d, st_error *err)
{
    int r = start_tls(d, err);
    if (r < 0) {
        st_server_api_stop(d);
        return r;
    }
    int fd = st_server_api_listen(d->cfg.socket_path, err);
    if (fd < 0) {
        st_server_api_stop(d);
        return fd;
    }
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

/* Streams see stopping and end; then every connection thread joins. */
static void stop_daemon(struct st_server *d, struct MHD_Daemon **mhd)
{
    if (*mhd == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
    MHD_stop_daemon(*mhd);
    *mhd = NULL;
}

void st_server_api_stop(struct st_server *d)
{
    stop_daemon(d, &d->mhd);
    stop_daemon(d, &d->mhd_tls);
    st_api_pki_free(&d->pki);
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        d->listen_fd = -1;
        unlink(d->cfg.socket_path);
    }
}
