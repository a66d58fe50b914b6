/* quote.c: strata-quote, the lab's web service. It answers GET / with a
 * random quote from PostgreSQL and the name of the pod that served it (so a
 * user sees the Service spread requests over replicas), GET /healthz while
 * the process lives (liveness: a restart cannot fix a database), and GET
 * /ready only while the database answers (readiness: the pod leaves the
 * Service's endpoints instead of being restarted).
 *
 * HTTP is libmicrohttpd's, with a small fixed pool of threads and a bounded
 * number of connections; the database is quote_db.c's. Configuration is the
 * environment, as a container gets it: PORT (8080), LISTEN_ADDRESS
 * (0.0.0.0), POD_NAME (else HOSTNAME, else the host name) and libpq's PG*
 * variables. One line per request goes to stdout (the container log).
 * SIGTERM stops accepting, lets requests in flight finish for a bounded
 * time, and exits 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "quote_db.h"
#include "strata/cleanup.h"
#include "strata/time.h"

#define QUOTE_DEFAULT_PORT    8080
#define QUOTE_THREADS         4   /* MHD workers, and as many DB connections */
#define QUOTE_MAX_CONNECTIONS 256 /* beyond this MHD refuses, it never queues */
#define QUOTE_IDLE_TIMEOUT_S  30  /* a keep-alive connection left idle */
#define QUOTE_DB_TIMEOUT_MS   2000
#define QUOTE_CONNECT_TIMEOUT "2"  /* PGCONNECT_TIMEOUT when unset, seconds */
#define QUOTE_GRACE_MS        3000 /* SIGTERM: how long requests may finish */
#define QUOTE_POD_MAX         256

struct app {
    struct quote_db *db;
    char pod[QUOTE_POD_MAX];
    atomic_bool stopping; /* answers then ask the client to close */
};

/* ---- answering ---- */

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *client_address(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    socklen_t salen =
        sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (sa == NULL || getnameinfo(sa, salen, buf, len, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, len, "-");
    return buf;
}

/* Queues status with body (malloc'd, taken over even on failure) and logs
 * the request: time, client, method, path, status, bytes, duration. */
static enum MHD_Result answer(struct app *app, struct MHD_Connection *c, const char *method,
                              const char *url, unsigned status, char *body, long long start_us)
{
    if (body == NULL) {
        fprintf(stderr, "quote: out of memory answering %s %s\n", method, url);
        return MHD_NO;
    }
    size_t len = strlen(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (atomic_load(&app->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);

    char when[ST_TIME_RFC3339_LEN], who[64];
    printf("%s %s %s %s %u %zu %.1fms\n", st_time_now_rfc3339(when),
           client_address(c, who, sizeof(who)), method, url, status, len,
           (double)(now_us() - start_us) / 1000.0);
    return ret;
}

static char *text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *text(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* GET /: the quote, or why there is none; the pod's name either way, so a
 * failing replica can be told apart from a healthy one. */
static unsigned serve_quote(struct app *app, char **body)
{
    st_error err = {0};
    _cleanup_free_ char *quote = NULL;
    if (quote_db_random(app->db, &quote, &err) < 0) {
        *body = text("no quote: %s\n-- served by %s\n", err.msg, app->pod);
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    *body = text("%s\n-- served by %s\n", quote, app->pod);
    return MHD_HTTP_OK;
}

static unsigned serve_ready(struct app *app, char **body)
{
    st_error err = {0};
    if (quote_db_ping(app->db, &err) < 0) {
        *body = text("not ready: %s\n", err.msg);
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    *body = text("ready\n");
    return MHD_HTTP_OK;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    struct app *app = cls;
    long long start = now_us();
    char *body = NULL;
    unsigned status;
    /* No route reads a body, so each is answered on the first call; MHD
     * then closes a connection whose body was not read. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        body = text("method %s not allowed: use GET\n", method);
    } else if (strcmp(url, "/") == 0) {
        status = serve_quote(app, &body);
    } else if (strcmp(url, "/healthz") == 0) {
        status = MHD_HTTP_OK; /* alive is all it says: never the database */
        body = text("ok\n");
    } else if (strcmp(url, "/ready") == 0) {
        status = serve_ready(app, &body);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = text("not found: %s (try /, /healthz or /ready)\n", url);
    }
    return answer(app, c, method, url, status, body, start);
}

/* ---- configuration ---- */

static int parse_port(const char *s, unsigned *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535)
        return -EINVAL;
    *port = (unsigned)v;
    return 0;
}

/* POD_NAME (the Downward API's usual name), else HOSTNAME (a pod's
 * hostname is its name), else the kernel's host name. */
static void pod_name(char out[QUOTE_POD_MAX])
{
    const char *env = getenv("POD_NAME");
    if (env == NULL || *env == '\0')
        env = getenv("HOSTNAME");
    if (env && *env) {
        snprintf(out, QUOTE_POD_MAX, "%s", env);
        return;
    }
    if (gethostname(out, QUOTE_POD_MAX) < 0)
        snprintf(out, QUOTE_POD_MAX, "unknown");
    out[QUOTE_POD_MAX - 1] = '\0';
}

/* ---- stopping ---- */

/* Stops taking connections, gives those open up to QUOTE_GRACE_MS to end
 * (a request in flight gets its answer), then stops every thread. */
static void stop_gracefully(struct MHD_Daemon *d, struct app *app)
{
    atomic_store(&app->stopping, true);
    MHD_socket listen = MHD_quiesce_daemon(d);
    long long until = now_us() + QUOTE_GRACE_MS * 1000LL;
    for (;;) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0 || now_us() >= until)
            break;
        struct timespec tick = {.tv_nsec = 20 * 1000000};
        nanosleep(&tick, NULL);
    }
    MHD_stop_daemon(d);
    /* The quiesced socket is ours to close, after the threads stopped. */
    if (listen != MHD_INVALID_SOCKET)
        close(listen);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log line per request, even into a pipe */
    signal(SIGPIPE, SIG_IGN);
    if (setenv("PGCONNECT_TIMEOUT", QUOTE_CONNECT_TIMEOUT, 0) < 0) {
        perror("quote: setenv");
        return 1;
    }

    unsigned port = QUOTE_DEFAULT_PORT;
    const char *port_env = getenv("PORT");
    if (port_env && *port_env && parse_port(port_env, &port) < 0) {
        fprintf(stderr, "quote: PORT=%s is not a port number (1-65535)\n", port_env);
        return 2;
    }
    const char *addr_env = getenv("LISTEN_ADDRESS");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (addr_env && *addr_env) {
        if (inet_pton(AF_INET, addr_env, &addr.sin_addr) != 1) {
            fprintf(stderr, "quote: LISTEN_ADDRESS=%s is not an IPv4 address\n", addr_env);
            return 2;
        }
    } else {
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
    }

    struct app app = {0};
    pod_name(app.pod);
    st_error err = {0};
    if (quote_db_new(QUOTE_THREADS, QUOTE_DB_TIMEOUT_MS, &app.db, &err) < 0) {
        fprintf(stderr, "quote: %s\n", err.msg);
        return 1;
    }

    /* SIGTERM and SIGINT are taken by sigwait below: blocked before MHD's
     * threads exist, so none of them is interrupted by one. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, on_request, &app, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)QUOTE_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)QUOTE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)QUOTE_IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr,
                "quote: cannot serve HTTP on %s:%u (port in use, or not allowed to bind it)\n",
                addr_env && *addr_env ? addr_env : "0.0.0.0", port);
        quote_db_free(app.db);
        return 1;
    }
    const char *host = getenv("PGHOST");
    const char *pgport = getenv("PGPORT");
    printf("quote: serving on %s:%u as %s, database %s:%s\n",
           addr_env && *addr_env ? addr_env : "0.0.0.0", port, app.pod,
           host && *host ? host : "(libpq default)", pgport && *pgport ? pgport : "5432");

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    printf("quote: %s: finishing requests in flight, then exiting\n", strsignal(sig));
    stop_gracefully(d, &app);
    quote_db_free(app.db);
    printf("quote: stopped\n");
    return 0;
}
