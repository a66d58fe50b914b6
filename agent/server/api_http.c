/* api_http.c: the API (agent/API.md) served over HTTP on a unix socket by
 * libmicrohttpd, with a thread per connection so a watch or a log follow
 * may wait without holding anyone else up. Gathers the body (refused over
 * ST_SERVER_API_BODY_MAX: at once when its Content-Length says so, before
 * a byte of it is read) and the query, hands the request to api_route.c,
 * and sends its answer or streams it. Nothing else in the server includes
 * microhttpd.h.
 *
 * What a client can cost, on either door: one thread and two descriptors
 * while connected, at most ST_SERVER_API_CONNS_MAX connections a door (more
 * wait in the kernel's listen queue), and a deadline the guard thread
 * enforces, since libmicrohttpd's own timeout only counts silence and a
 * client sending a byte a second is never silent: a request (its headers
 * and body) must arrive within ST_SERVER_API_REQUEST_S of its first line,
 * the first within that of the connection, and a kept-alive connection
 * may wait ST_SERVER_API_IDLE_S for its next. A response (a watch, a log
 * follow) has no deadline. */
#include "api_priv.h"
#include "strata/clock.h"
#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the guard: deadlines and the connection limit -------------------------- */

struct api_conn {
    struct api_conn *prev, *next;
    int fd;              /* a dup of the connection's socket, ours: shut down, never reused */
    int64_t deadline_ns; /* cut then (monotonic); 0: none (a response is being sent) */
    bool cut;
    /* answered before its body was read: the socket's last close waits
     * (until deadline_ns, once libmicrohttpd closed its own descriptor) */
    bool linger;
};

/* How long a connection answered before its body was read stays open
 * after libmicrohttpd closed it: closing a TCP socket with unread data
 * resets it, and the reset can destroy the answer (the 413) before the
 * client read it; a client still sending learns of the answer meanwhile
 * (Go's server waits 500 ms the same way). */
#define LINGER_MS 1000

struct st_server_api_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct api_conn *head;      /* [lock] */
    struct api_conn *lingering; /* [lock] closed by libmicrohttpd, closed by us at deadline_ns */
    bool stop;                  /* [lock] */
    pthread_t thread;
    bool running;
    unsigned conns_max; /* per door */
};

static int64_t after_s(int s)
{
    return st_clock_ns() + (int64_t)s * 1000000000;
}

/* The connection's entry (NULL when the guard could not track it). */
static struct api_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_deadline(struct st_server *d, struct MHD_Connection *c, int64_t when)
{
    struct api_conn *e = conn_of(c);
    if (e == NULL || d->guard == NULL)
        return;
    pthread_mutex_lock(&d->guard->lock);
    e->deadline_ns = when;
    pthread_mutex_unlock(&d->guard->lock);
}

static bool past_deadline(struct st_server *d, struct MHD_Connection *c)
{
    struct api_conn *e = conn_of(c);
    if (e == NULL || d->guard == NULL)
        return false;
    pthread_mutex_lock(&d->guard->lock);
    bool past = e->cut || (e->deadline_ns && st_clock_ns() > e->deadline_ns);
    pthread_mutex_unlock(&d->guard->lock);
    return past;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection comes (the deadline of its
 * first request starts) and goes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct st_server *d = cls;
    struct st_server_api_guard *g = d->guard;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct api_conn *e = calloc(1, sizeof(*e));
        if (e == NULL || ci == NULL) {
            free(e);
            return; /* untracked: libmicrohttpd's own timeout still applies */
        }
        /* Our own descriptor of the socket: shutting it down from the guard
         * thread can never hit a descriptor number libmicrohttpd closed and
         * the process reused meanwhile. */
        e->fd = fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0);
        e->deadline_ns = after_s(ST_SERVER_API_REQUEST_S);
        pthread_mutex_lock(&g->lock);
        e->next = g->head;
        if (g->head)
            g->head->prev = e;
        g->head = e;
        pthread_mutex_unlock(&g->lock);
        *socket_context = e;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct api_conn *e = *socket_context;
        if (e == NULL)
            return;
        *socket_context = NULL;
        pthread_mutex_lock(&g->lock);
        if (e->prev)
            e->prev->next = e->next;
        else
            g->head = e->next;
        if (e->next)
            e->next->prev = e->prev;
        if (e->linger && e->fd >= 0) {
            e->deadline_ns = st_clock_ns() + (int64_t)LINGER_MS * 1000000;
            e->prev = NULL;
            e->next = g->lingering;
            g->lingering = e;
            e = NULL;
        }
        pthread_mutex_unlock(&g->lock);
        if (e && e->fd >= 0)
            close(e->fd);
        free(e);
    }
}

/* MHD_OPTION_URI_LOG_CALLBACK: a request's first line arrived; the rest of
 * it has ST_SERVER_API_REQUEST_S. Returns the request's first con_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)uri;
    set_deadline(cls, c, after_s(ST_SERVER_API_REQUEST_S));
    return NULL;
}

/* Closes the lingering sockets whose time came (all with now 0). [lock] */
static void linger_end(struct st_server_api_guard *g, int64_t now)
{
    for (struct api_conn **p = &g->lingering; *p;) {
        struct api_conn *e = *p;
        if (now && now < e->deadline_ns) {
            p = &e->next;
            continue;
        }
        *p = e->next;
        close(e->fd);
        free(e);
    }
}

/* Cuts the connections past their deadline (shutdown: the connection's
 * own thread then sees the end and cleans up) and ends lingering ones,
 * four times a second. */
static void *guard_main(void *arg)
{
    struct st_server_api_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec dl = st_clock_deadline(CLOCK_REALTIME, 250);
        pthread_cond_timedwait(&g->wake, &g->lock, &dl);
        int64_t now = st_clock_ns();
        linger_end(g, now);
        unsigned cut = 0;
        for (struct api_conn *e = g->head; e; e = e->next)
            if (!e->cut && e->deadline_ns && now > e->deadline_ns && e->fd >= 0) {
                shutdown(e->fd, SHUT_RDWR);
                e->cut = true;
                cut++;
            }
        if (cut) {
            pthread_mutex_unlock(&g->lock);
            st_server_log("api: closed %u connection%s that sent no whole request within %d s "
                          "(slow or silent clients)",
                          cut, cut == 1 ? "" : "s", ST_SERVER_API_REQUEST_S);
            pthread_mutex_lock(&g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Each connection takes a thread and two descriptors (libmicrohttpd's and
 * the guard's): the soft descriptor limit goes up to the hard one (Debian
 * starts services at 1024), and each door's limit is what fits in it. */
static unsigned conns_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 256;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    /* two doors, two descriptors a connection, 512 for everything else */
    long fit = ((long)rl.rlim_cur - 512) / 4;
    if (fit < 16)
        fit = 16;
    return fit < ST_SERVER_API_CONNS_MAX ? (unsigned)fit : ST_SERVER_API_CONNS_MAX;
}

static int guard_start(struct st_server *d, st_error *err)
{
    struct st_server_api_guard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    g->conns_max = conns_limit();
    d->guard = g;
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0)
        return st_error_set(err, EAGAIN, "cannot start the API's connection guard thread");
    g->running = true;
    return 0;
}

/* After both daemons stopped: every connection is gone. */
static void guard_stop(struct st_server *d)
{
    struct st_server_api_guard *g = d->guard;
    if (g == NULL)
        return;
    if (g->running) {
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        pthread_cond_broadcast(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
    }
    linger_end(g, 0);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    d->guard = NULL;
}

/* ---- requests and responses --------------------------------------------------- */

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

/* Routes the request gathered in b and queues the answer. */
static enum MHD_Result respond(struct st_server *d, struct MHD_Connection *c, const char *url,
                               const char *method, struct body *b)
{
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

/* A body whose Content-Length is over the limit: answered 413 before a
 * byte of it is read (libmicrohttpd then reads no more of it and closes the
 * connection after the answer, and a client that sent Expect: 100-continue
 * never sends it). */
static bool announced_too_big(struct MHD_Connection *c)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl == NULL)
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == ERANGE || n > ST_SERVER_API_BODY_MAX;
}

/* The first call of a request (its headers are in): b is made for it, or
 * the request is answered at once when its body is announced too big. */
static enum MHD_Result request_begins(struct st_server *d, struct MHD_Connection *c,
                                      const char *url, const char *method, bool tcp, void **con_cls)
{
    struct body *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return MHD_NO;
    b->tcp = tcp;
    *con_cls = b;
    if (!announced_too_big(c))
        return MHD_YES;
    b->too_big = true;
    struct api_conn *e = conn_of(c);
    if (e && d->guard) {
        pthread_mutex_lock(&d->guard->lock);
        e->deadline_ns = 0;
        e->linger = true;
        pthread_mutex_unlock(&d->guard->lock);
    }
    return respond(d, c, url, method, b);
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
        if (r == 0) {
            set_deadline(d, c, 0);
            ret = send_response(c, &resp);
        }
        st_server_api_response_clear(&resp);
        if (r <= 0)
            return ret;
        return request_begins(d, c, url, method, true, con_cls);
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
    if (b == NULL)
        return request_begins(d, c, url, method, false, con_cls);
    if (*upload_size > 0) {
        /* A body trickling in past the deadline ends here, not a byte later. */
        if (past_deadline(d, c))
            return MHD_NO;
        if (b->len + *upload_size > ST_SERVER_API_BODY_MAX) {
            /* A body of unannounced length (chunked) over the limit: this
             * libmicrohttpd (0.9.75) can queue no answer in the middle of
             * a body, so the connection ends here, nothing more of it read
             * (a body that announces its length gets its 413 up front). */
            return MHD_NO;
        }
        char *nb = realloc(b->buf, b->len + *upload_size + 1);
        if (nb == NULL)
            return MHD_NO;
        b->buf = nb;
        memcpy(b->buf + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->buf[b->len] = 0;
        *upload_size = 0;
        return MHD_YES;
    }
    /* The whole request is in: no deadline while it is answered (a watch
     * or a log follow streams for as long as its client wants). */
    set_deadline(d, c, 0);
    return respond(d, c, url, method, b);
}

/* MHD_OPTION_NOTIFY_COMPLETED: the request was answered (or broke off);
 * a kept-alive connection now waits for its next one. */
static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct body *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
    set_deadline(cls, c, after_s(ST_SERVER_API_IDLE_S));
}

/* Both doors: a thread per connection, polled with poll() (select() would
 * refuse descriptors past 1024); the guard's hooks; libmicrohttpd's own
 * timeout for a connection that is silent (a stream blocked in its reader
 * is not silent, and streams write at least every few seconds anyway). */
#define ST_MHD_FLAGS                                                                               \
    (MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG)
#define ST_MHD_OPTIONS(d)                                                                          \
    MHD_OPTION_NOTIFY_COMPLETED, on_done, (d), MHD_OPTION_NOTIFY_CONNECTION, on_connection, (d),   \
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, (d), MHD_OPTION_CONNECTION_TIMEOUT,          \
        (unsigned)ST_SERVER_API_IDLE_S, MHD_OPTION_CONNECTION_LIMIT, (d)->guard->conns_max

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
    if (listen(fd, ST_SERVER_API_BACKLOG) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
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
    d->mhd_tls = MHD_start_daemon(ST_MHD_FLAGS | MHD_USE_TLS, 0, NULL, NULL, on_request_tls, d,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_KEY,
                                  d->pki.key_pem, MHD_OPTION_HTTPS_MEM_CERT, d->pki.cert_pem,
                                  ST_MHD_OPTIONS(d), MHD_OPTION_END);
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
    int r = guard_start(d, err);
    if (r == 0)
        r = start_tls(d, err);
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
    d->mhd = MHD_start_daemon(ST_MHD_FLAGS, 0, NULL, NULL, on_request, d, MHD_OPTION_LISTEN_SOCKET,
                              fd, ST_MHD_OPTIONS(d), MHD_OPTION_END);
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
    guard_stop(d);
    st_api_pki_free(&d->pki);
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        d->listen_fd = -1;
        unlink(d->cfg.socket_path);
    }
}
