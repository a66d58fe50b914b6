/* itest_faults.c: bad input and faults stratad must survive, on the real
 * daemon (issue 14, section 5). Without VMs: a 1 GiB body (413 before it
 * is read), clients that send a byte a second (cut at the request
 * deadline while others are served), a thousand connections on each door
 * (a GET still answers; its latency printed before and during), malformed
 * JSON and YAML (the parser's position), a 10,000-character name (422 with
 * the rule); PostgreSQL stopped under stratad (--db: 503 with a message,
 * then everything back; the private cluster: stratad starts it again); the
 * state dir on a full tmpfs (507 naming the filesystem, nothing stored
 * lost, PostgreSQL's PANIC on a full WAL disk, recovery without restarting
 * stratad). With one VM node: its pod keeps running while PostgreSQL is
 * gone, and its status and logs show it did. Every daemon, PostgreSQL,
 * domain (strata-fl<pid>-*) and tmpfs is removed in teardown, pass or
 * fail. */
#include "cluster.h"
#include "strata/b64.h"
#include "strata/pg_embedded.h"
#include "testutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* api_http.c's deadline for a whole request (server_priv.h) */
#define REQUEST_S 30

/* ---- the two doors -------------------------------------------------------- */

enum door { UNIX_SOCKET, HTTPS };

static const char *door_name(enum door d)
{
    return d == HTTPS ? "HTTPS" : "the unix socket";
}

struct reply {
    long code;
    char *body;
    double ms;
    curl_off_t sent; /* body bytes the client sent */
    char retry_after[16];
    CURLcode err;
};

static void reply_free(struct reply *r)
{
    free(r->body);
    *r = (struct reply){0};
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = r->body ? strlen(r->body) : 0;
    char *nb = realloc(r->body, len + size * n + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + len, data, size * n);
    nb[len + size * n] = '\0';
    r->body = nb;
    return size * n;
}

static size_t header(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    if (size * n > 13 && strncasecmp(data, "Retry-After:", 12) == 0)
        sscanf(data + 12, " %15s", r->retry_after);
    return size * n;
}

/* A body of zeros of any length, made as it is sent. */
struct zeros {
    curl_off_t left; /* -1: endless (chunked) */
    curl_off_t sent;
};

static size_t read_zeros(char *buf, size_t size, size_t n, void *arg)
{
    struct zeros *z = arg;
    size_t want = size * n;
    if (z->left >= 0 && (curl_off_t)want > z->left)
        want = (size_t)z->left;
    memset(buf, 0, want);
    if (z->left >= 0)
        z->left -= (curl_off_t)want;
    z->sent += (curl_off_t)want;
    return want;
}

static struct st_cluster *cur; /* the cluster the doors lead to */

static char *state_file(const char *rel)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", cur->state_dir, rel) > 0);
    return p;
}

/* The HTTPS port's URL and the admin token, from the state dir. */
static void https_of(char *url, size_t len, char *auth, size_t auth_len)
{
    char *kc_path = state_file("kubeconfig"), *tok_path = state_file("pki/admin.token");
    char *kc = st_test_read_file(kc_path), *tok = st_test_read_file(tok_path);
    assert_non_null(kc);
    assert_non_null(tok);
    const char *s = strstr(kc, "server: ");
    assert_non_null(s);
    s += 8;
    snprintf(url, len, "%.*s", (int)strcspn(s, "\n"), s);
    tok[strcspn(tok, "\n")] = '\0';
    snprintf(auth, auth_len, "Authorization: Bearer %s", tok);
    free(kc);
    free(tok);
    free(kc_path);
    free(tok_path);
}

/* Sets up c for path on door: the socket, or the port with its CA and token. */
static struct curl_slist *door_setup(CURL *c, enum door d, const char *path,
                                     struct curl_slist *hdrs)
{
    char *url = NULL, auth[256];
    if (d == HTTPS) {
        char base[256];
        https_of(base, sizeof(base), auth, sizeof(auth));
        if (asprintf(&url, "%s%s", base, path) < 0)
            url = NULL;
        char *ca = state_file("pki/ca.crt");
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        free(ca);
        hdrs = curl_slist_append(hdrs, auth);
    } else {
        if (asprintf(&url, "http://localhost%s", path) < 0)
            url = NULL;
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, cur->sock);
    }
    curl_easy_setopt(c, CURLOPT_URL, url); /* libcurl keeps its own copy */
    free(url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    return hdrs;
}

/* method path on door with body (NULL: none) of type; 0 in code when no
 * answer came at all (20 s at most). */
static struct reply http(enum door d, const char *method, const char *path, const char *type,
                         const char *body)
{
    struct reply r = {0};
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdrs = door_setup(c, d, path, NULL);
    if (type) {
        char h[128];
        snprintf(h, sizeof(h), "Content-Type: %s", type);
        hdrs = curl_slist_append(hdrs, h);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    long long t0 = st_test_now_ms();
    r.err = curl_easy_perform(c);
    r.ms = (double)(st_test_now_ms() - t0);
    if (r.err == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (r.body == NULL)
        r.body = strdup("");
    return r;
}

/* The Status's message in r's body ("" when none), malloc'd. */
static char *message_of(const struct reply *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    const char *m = json_string_value(json_object_get(j, "message"));
    char *out = strdup(m ? m : "");
    json_decref(j);
    return out;
}

static void expect(struct reply r, long code, const char *in_message)
{
    char *m = message_of(&r);
    if (r.code != code || (in_message && strstr(m, in_message) == NULL))
        fail_msg("want %ld with \"%s\", got %ld (%s): %s", code, in_message ? in_message : "",
                 r.code, curl_easy_strerror(r.err), r.body);
    free(m);
    reply_free(&r);
}

static const char *PODS = "/api/v1/namespaces/default/pods";

/* ---- the API group: one stratad, no VM --------------------------------------- */

static struct st_cluster api;

static int api_setup(void **state)
{
    (void)state;
    /* 1000 connections on each door, from this process */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    st_cluster_init(&api, "fl");
    st_cluster_start(&api);
    cur = &api;
    return 0;
}

static int api_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&api);
    return 0;
}

/* -- a client that sends a byte a second -- */

struct slow {
    enum door door;
    bool body; /* whole headers at once, then the body a byte a second */
    pthread_t thread;
    long long start_ms, end_ms; /* end: when stratad closed it (0: never, in 90 s) */
    int sent;
    char how[128]; /* how the end showed */
};

static struct slow slows[3] = {
    {.door = UNIX_SOCKET}, {.door = HTTPS}, {.door = UNIX_SOCKET, .body = true}};

static const char *SLOW_HEAD =
    "GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nX-Slow: ";

/* One byte of what a slow client sends (headers that never end, or a body
 * that never does). */
static char slow_byte(const struct slow *s, int i)
{
    if (s->body)
        return 'x';
    return i < (int)strlen(SLOW_HEAD) ? SLOW_HEAD[i] : 'a';
}

/* The API socket's address (no assertion: also used off the main thread). */
static bool sock_addr(struct sockaddr_un *sa)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(cur->sock) >= sizeof(sa->sun_path))
        return false;
    memcpy(sa->sun_path, cur->sock, strlen(cur->sock) + 1);
    return true;
}

/* The unix socket, raw. */
static void *slow_unix(void *arg)
{
    struct slow *s = arg;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    s->start_ms = st_test_now_ms();
    if (fd < 0 || !sock_addr(&sa) || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        s->end_ms = s->start_ms;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (s->body) {
        const char *h = "POST /apply HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100000\r\n\r\n";
        if (send(fd, h, strlen(h), MSG_NOSIGNAL) < 0)
            s->end_ms = st_test_now_ms();
    }
    while (s->end_ms == 0 && st_test_now_ms() - s->start_ms < 90000) {
        char b = slow_byte(s, s->sent);
        if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
            break;
        s->sent++;
        /* a second, or the close, whichever comes first */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) {
            char buf[256];
            if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
                break;
        }
    }
    if (s->end_ms == 0 && st_test_now_ms() - s->start_ms < 90000)
        s->end_ms = st_test_now_ms();
    close(fd);
    return NULL;
}

/* HTTPS: libcurl makes the TLS session, then the request goes a byte a second. */
static void *slow_https(void *arg)
{
    struct slow *s = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = door_setup(c, HTTPS, "/", NULL);
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 0L); /* else the session ends with perform */
    s->start_ms = st_test_now_ms();
    CURLcode pr = curl_easy_perform(c);
    if (pr != CURLE_OK) {
        snprintf(s->how, sizeof(s->how), "connect: %s", curl_easy_strerror(pr));
        s->end_ms = s->start_ms;
    }
    while (s->end_ms == 0 && st_test_now_ms() - s->start_ms < 90000) {
        char b = slow_byte(s, s->sent);
        size_t n = 0;
        CURLcode r = curl_easy_send(c, &b, 1, &n);
        if (r != CURLE_OK && r != CURLE_AGAIN) {
            snprintf(s->how, sizeof(s->how), "send: %s", curl_easy_strerror(r));
            break;
        }
        s->sent += (int)n;
        /* poll the socket for the close, a second at most */
        curl_socket_t fd;
        curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd);
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0) {
            char buf[256];
            size_t got = 0;
            r = curl_easy_recv(c, buf, sizeof(buf), &got);
            if (r != CURLE_AGAIN && (r != CURLE_OK || got == 0)) {
                snprintf(s->how, sizeof(s->how), "recv: %s, %zu bytes", curl_easy_strerror(r), got);
                break;
            }
        }
    }
    if (s->end_ms == 0 && st_test_now_ms() - s->start_ms < 90000)
        s->end_ms = st_test_now_ms();
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

/* Three slow clients start (they are checked by the group's last test): a
 * request's headers a byte a second on each door, and a body a byte a
 * second on the socket. Others are served meanwhile. */
static void test_slow_clients_start(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&slows[i].thread, NULL,
                                        slows[i].door == HTTPS ? slow_https : slow_unix, &slows[i]),
                         0);
    for (int k = 0; k < 3; k++) {
        struct reply r = http(UNIX_SOCKET, "GET", PODS, NULL, NULL);
        struct reply t = http(HTTPS, "GET", PODS, NULL, NULL);
        print_message("faults: GET with 3 slow clients sending: %.1f ms (socket), %.1f ms "
                      "(HTTPS)\n",
                      r.ms, t.ms);
        expect(r, 200, NULL);
        expect(t, 200, NULL);
    }
}

/* -- a thousand connections on each door -- */

static int connect_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static int connect_unix(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    if (fd >= 0 && sock_addr(&sa) && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* The median of three GETs on door (each asserted answered). */
static double get_ms(enum door d)
{
    double ms[3];
    for (int k = 0; k < 3; k++) {
        struct reply r = http(d, "GET", PODS, NULL, NULL);
        ms[k] = r.ms;
        expect(r, 200, NULL);
    }
    double lo = ms[0] < ms[1] ? ms[0] : ms[1], hi = ms[0] < ms[1] ? ms[1] : ms[0];
    return ms[2] < lo ? lo : ms[2] > hi ? hi : ms[2];
}

#define MANY 1000

static void test_thousand_connections(void **state)
{
    (void)state;
    char base[256], auth[256];
    https_of(base, sizeof(base), auth, sizeof(auth));
    int port = atoi(strrchr(base, ':') + 1);
    double before_tls = get_ms(HTTPS), before_unix = get_ms(UNIX_SOCKET);
    static int tcp[MANY], unx[MANY];
    int ntcp = 0, nunix = 0;
    long long t0 = st_test_now_ms();
    for (int i = 0; i < MANY; i++) {
        if ((tcp[ntcp] = connect_tcp(port)) >= 0)
            ntcp++;
        if ((unx[nunix] = connect_unix()) >= 0)
            nunix++;
    }
    long long open_ms = st_test_now_ms() - t0;
    /* they say nothing: each holds a thread in stratad until its deadline */
    double during_tls = get_ms(HTTPS), during_unix = get_ms(UNIX_SOCKET);
    /* all of them are still connected (none refused, none dropped yet) */
    int alive = 0;
    for (int i = 0; i < ntcp + nunix; i++) {
        int fd = i < ntcp ? tcp[i] : unx[i - ntcp];
        struct pollfd p = {fd, POLLIN, 0};
        alive += poll(&p, 1, 0) == 0;
    }
    print_message("faults: %d+%d idle connections opened in %lld ms (HTTPS port + unix socket), "
                  "%d still open; GET %s: HTTPS %.1f ms before, %.1f ms during; unix socket "
                  "%.1f ms before, %.1f ms during\n",
                  ntcp, nunix, open_ms, alive, PODS, before_tls, during_tls, before_unix,
                  during_unix);
    for (int i = 0; i < ntcp; i++)
        close(tcp[i]);
    for (int i = 0; i < nunix; i++)
        close(unx[i]);
    assert_int_equal(ntcp, MANY);
    assert_int_equal(nunix, MANY);
    assert_int_equal(alive, 2 * MANY);
}

/* -- a body of 1 GiB -- */

/* POST of size zeros (-1: chunked, endless) to /apply; expect: disable
 * Expect: 100-continue, so the client sends at once. */
static struct reply post_zeros(enum door d, curl_off_t size, bool expect_continue)
{
    struct reply r = {0};
    struct zeros z = {.left = size};
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = door_setup(c, d, "/apply", NULL);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (!expect_continue)
        hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_zeros);
    curl_easy_setopt(c, CURLOPT_READDATA, &z);
    if (size >= 0)
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    long long t0 = st_test_now_ms();
    r.err = curl_easy_perform(c);
    r.ms = (double)(st_test_now_ms() - t0);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    r.sent = z.sent;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (r.body == NULL)
        r.body = strdup("");
    return r;
}

static void test_huge_body(void **state)
{
    (void)state;
    const curl_off_t gib = (curl_off_t)1 << 30;
    for (int d = UNIX_SOCKET; d <= HTTPS; d++)
        for (int e = 0; e < 2; e++) {
            struct reply r = post_zeros(d, gib, e);
            print_message("faults: POST /apply of 1 GiB over %s (%s): %ld after %.0f ms, %lld "
                          "bytes of the body sent\n",
                          door_name(d), e ? "Expect: 100-continue" : "sent at once", r.code, r.ms,
                          (long long)r.sent);
            /* refused from its Content-Length: at most what was in flight */
            assert_true(r.sent < 64 << 20);
            expect(r, 413, "the request body is over 3145728 bytes");
        }
    /* A body that does not say its length: the connection ends once it
     * passes the limit (this libmicrohttpd answers nothing mid-body). */
    struct reply r = post_zeros(UNIX_SOCKET, -1, false);
    print_message("faults: POST /apply chunked without end over the unix socket: %s after %.0f "
                  "ms, %lld bytes sent\n",
                  curl_easy_strerror(r.err), r.ms, (long long)r.sent);
    assert_true(r.sent < 64 << 20);
    assert_int_not_equal(r.code, 200);
    reply_free(&r);
    /* and the daemon is as it was */
    expect(http(UNIX_SOCKET, "GET", PODS, NULL, NULL), 200, NULL);
}

/* -- malformed JSON and YAML, a 10,000-character name -- */

static void test_malformed(void **state)
{
    (void)state;
    for (int d = UNIX_SOCKET; d <= HTTPS; d++) {
        expect(http(d, "POST", PODS, "application/json",
                    "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n  \"metadata\": {\"name\": }}"),
               400, "request body is not JSON: unexpected token near '}' (line 2, column 24");
        expect(http(d, "POST", "/apply", "application/yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: [\n"),
               400, "<request>:5:7: invalid YAML: mapping values are not allowed");
        expect(http(d, "POST", "/apply", "application/json", "{\"items\": [{]}"), 400,
               "(line 1, column 13");
    }
}

static void test_long_name(void **state)
{
    (void)state;
    char *name = malloc(10001), *body = NULL, *path = NULL;
    assert_non_null(name);
    memset(name, 'a', 10000);
    name[10000] = '\0';
    assert_true(asprintf(&body,
                         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
                         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
                         name) > 0);
    assert_true(asprintf(&path, "%s/%s", PODS, name) > 0);
    for (int d = UNIX_SOCKET; d <= HTTPS; d++) {
        struct reply r = http(d, "POST", PODS, "application/json", body);
        char *m = message_of(&r);
        print_message("faults: a pod named with 10,000 characters over %s: %ld %s\n", door_name(d),
                      r.code, m);
        assert_true(strlen(m) < 400);
        free(m);
        expect(r, 422, "it has 10000 characters, a name has at most 63");
        expect(http(d, "GET", path, NULL, NULL), 404,
               "a name has at most 253 characters (Kubernetes' DNS-1123 subdomain rule) and "
               "this one 10000");
    }
    free(name);
    free(body);
    free(path);
}

static void test_slow_clients_cut(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        pthread_join(slows[i].thread, NULL);
        struct slow *s = &slows[i];
        long long held = s->end_ms ? s->end_ms - s->start_ms : -1;
        print_message("faults: a client sending its %s a byte a second over %s: closed by "
                      "stratad after %lld ms and %d bytes (%s)\n",
                      s->body ? "body" : "headers", door_name(s->door), held, s->sent,
                      s->how[0] ? s->how : "the end of the stream");
        /* it was heard for a while (not refused at once), then cut: the
         * deadline, a guard round and some slack, never a minute */
        assert_true(s->sent >= 5);
        assert_true(held >= 0 && held < (REQUEST_S + 15) * 1000);
    }
    char *log = state_file("stratad.log");
    char *text = st_test_read_file(log);
    assert_non_null(strstr(text, "that sent no whole request within 30 s"));
    free(text);
    free(log);
}

/* ---- PostgreSQL stopped under stratad ----------------------------------------- */

static struct st_cluster db_cl;
static char *db_dir;
static st_pg_embedded *db;

/* Stops the test's own PostgreSQL (when there is one) and removes its
 * folder: every teardown of a cluster given --db, and a failed db_prepare. */
static void db_release(void)
{
    if (db) {
        st_error err = {0};
        st_pg_embedded_stop(db, &err);
        st_pg_embedded_free(db);
        db = NULL;
    }
    st_test_rmrf(db_dir);
    free(db_dir);
    db_dir = NULL;
}

static int db_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&db_cl);
    db_release();
    return 0;
}

/* A PostgreSQL server of the test's own (pg_embedded in a temporary
 * folder), left stopped when asked, and cluster c named with --db set to
 * it (nothing started). 0, or -1 with everything undone. */
static int db_prepare(struct st_cluster *c, bool stopped)
{
    st_error err = {0};
    db_dir = st_test_mkdtemp("strata-faultsdb");
    if (st_pg_embedded_start(db_dir, &db, &err) < 0 ||
        (stopped && st_pg_embedded_stop(db, &err) < 0)) {
        print_message("PostgreSQL: %s\n", err.msg);
        db_release();
        return -1;
    }
    static const char *args[4];
    args[0] = "--db";
    args[1] = st_pg_embedded_dsn(db);
    args[2] = NULL;
    st_cluster_init(c, "fl");
    c->daemon_args = args;
    cur = c;
    return 0;
}

/* stratad given that server with --db. */
static int db_setup(void **state)
{
    (void)state;
    if (db_prepare(&db_cl, false) < 0)
        return -1;
    st_cluster_start(&db_cl);
    return 0;
}

static char *secret_items(const char *name, const char *value)
{
    char *b = NULL;
    assert_true(asprintf(&b,
                         "{\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{"
                         "\"name\":\"%s\"},\"stringData\":{\"k\":\"%s\"}}]}",
                         name, value) > 0);
    return b;
}

static void apply_secret(const char *name, long code, const char *in_message)
{
    char *b = secret_items(name, "v");
    expect(http(UNIX_SOCKET, "POST", "/apply", "application/json", b), code, in_message);
    free(b);
}

static bool log_has(const char *what)
{
    char *p = state_file("stratad.log");
    char *t = st_test_read_file(p);
    bool has = t && strstr(t, what);
    free(t);
    free(p);
    return has;
}

static bool answers_200(void *arg)
{
    struct reply r = http(UNIX_SOCKET, "GET", arg, NULL, NULL);
    bool ok = r.code == 200;
    reply_free(&r);
    return ok;
}

static void expect_secret(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/secrets/%s", name);
    expect(http(UNIX_SOCKET, "GET", path, NULL, NULL), 200, NULL);
}

static void test_db_stopped(void **state)
{
    (void)state;
    apply_secret("before", 200, NULL);
    st_error err = {0};
    assert_int_equal(st_pg_embedded_stop(db, &err), 0); /* pg_ctl stop -m fast */
    long long t0 = st_test_now_ms();
    for (int d = UNIX_SOCKET; d <= HTTPS; d++) {
        struct reply r = http(d, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
        char *m = message_of(&r);
        print_message("faults: GET secrets over %s with PostgreSQL (--db) stopped: %ld after %.1f "
                      "ms, Retry-After %s: %s\n",
                      door_name(d), r.code, r.ms, r.retry_after, m);
        free(m);
        assert_string_equal(r.retry_after, "2");
        expect(r, 503, "the store (PostgreSQL) is unreachable: ");
    }
    apply_secret("during", 503, "stratad retries every 2 s");
    assert_true(st_test_wait_until((bool (*)(void *))log_has, "Controllers paused", 10000, 100));
    /* stratad is not its owner: it only connects again, and keeps running */
    assert_int_equal(kill(db_cl.daemon, 0), 0);
    bool started = false;
    assert_int_equal(st_pg_embedded_revive(db, &started, &err), 0);
    assert_true(started);
    assert_true(st_test_wait_until(answers_200, "/api/v1/namespaces/default/secrets", 20000, 100));
    print_message("faults: the API answered again %lld ms after PostgreSQL was stopped (and "
                  "started by the test)\n",
                  st_test_now_ms() - t0);
    expect_secret("before");
    apply_secret("after", 200, NULL);
    expect_secret("after");
    assert_true(st_test_wait_until((bool (*)(void *))log_has, "answers again", 10000, 100));
}

/* stratad started before its PostgreSQL (--db): it says so in its log and
 * waits, holding its state dir, then serves once the server is up. */
static int db_late_setup(void **state)
{
    (void)state;
    if (db_prepare(&db_cl, true) < 0)
        return -1;
    st_cluster_spawn(&db_cl);
    return 0;
}

static void test_db_down_at_start(void **state)
{
    (void)state;
    assert_true(st_test_wait_until((bool (*)(void *))log_has, "trying again in", 20000, 100));
    assert_int_equal(kill(db_cl.daemon, 0), 0);
    assert_false(st_cluster_answers(&db_cl));
    long long t0 = st_test_now_ms();
    st_error err = {0};
    bool started = false;
    assert_int_equal(st_pg_embedded_revive(db, &started, &err), 0);
    assert_true(started);
    /* the back-off is at most 10 s; migrations and the API come after */
    assert_true(st_test_wait_until(st_cluster_answers, &db_cl, 40000, 100));
    print_message("faults: stratad started before its PostgreSQL (--db) answered %lld ms after "
                  "the server came up\n",
                  st_test_now_ms() - t0);
    apply_secret("late", 200, NULL);
    expect_secret("late");
}

/* ---- the private cluster dies: stratad starts it again ----------------------------- */

static struct st_cluster own;

static int own_setup(void **state)
{
    (void)state;
    st_cluster_init(&own, "fl");
    st_cluster_start(&own);
    cur = &own;
    return 0;
}

static int own_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&own);
    return 0;
}

static int pg_ctl_as_postgres(const char *args)
{
    return st_test_sh(NULL, NULL,
                      "for c in /usr/lib/postgresql/*/bin/pg_ctl; do b=$c; done; "
                      "su postgres -s /bin/sh -c \"$b %s\" >/dev/null 2>&1",
                      args);
}

static bool secret_applies(void *arg)
{
    char *b = secret_items(arg, "v");
    struct reply r = http(UNIX_SOCKET, "POST", "/apply", "application/json", b);
    bool ok = r.code == 200;
    reply_free(&r);
    free(b);
    return ok;
}

static void test_private_cluster_restarted(void **state)
{
    (void)state;
    apply_secret("before", 200, NULL);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "stop -m fast -D %s/pg/data", cur->state_dir);
    assert_int_equal(pg_ctl_as_postgres(cmd), 0);
    long long t0 = st_test_now_ms();
    struct reply r = http(UNIX_SOCKET, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
    char *m = message_of(&r);
    print_message("faults: right after pg_ctl stop of the private cluster: %ld %s\n", r.code, m);
    free(m);
    /* 503 while it is down (or already 200, if stratad was that quick) */
    assert_true(r.code == 503 || r.code == 200);
    reply_free(&r);
    /* nobody but stratad starts it */
    assert_true(st_test_wait_until(secret_applies, "after", 60000, 250));
    print_message("faults: writes work again %lld ms after the private PostgreSQL was stopped\n",
                  st_test_now_ms() - t0);
    assert_true(log_has("was not running: started it again"));
    expect_secret("before");
}

/* ---- the state dir on a full filesystem ------------------------------------------ */

static struct st_cluster full;
static char *full_dir;
static char *filler;

static int full_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&full); /* stops stratad and PostgreSQL, empties the folder */
    if (full_dir) {
        umount2(full_dir, MNT_DETACH);
        rmdir(full_dir);
    }
    free(full_dir);
    free(filler);
    full_dir = filler = NULL;
    return 0;
}

/* stratad on a 350 MiB tmpfs: its PostgreSQL, images and logs all there. */
static int full_setup(void **state)
{
    st_cluster_init(&full, "fl");
    full_dir = strdup(full.state_dir);
    if (mount("tmpfs", full_dir, "tmpfs", 0, "size=350m,mode=0755") < 0) {
        print_message("mount tmpfs on %s: %s\n", full_dir, strerror(errno));
        free(full_dir);
        full_dir = NULL;
        full_teardown(state);
        return -1;
    }
    if (asprintf(&filler, "%s/filler", full_dir) < 0)
        filler = NULL;
    st_cluster_start(&full);
    cur = &full;
    return 0;
}

/* Writes the filler until the filesystem has no room left. */
static void fill(void)
{
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    static char chunk[1 << 20];
    memset(chunk, 'f', sizeof(chunk));
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == ENOSPC)
            break;
        assert_true(n > 0);
    }
    /* and the last small bits */
    while (write(fd, chunk, 512) > 0)
        ;
    close(fd);
}

/* A Secret of ~700 KB of random data: room in the tables' pages will not do. */
static char *big_secret(const char *name)
{
    unsigned char *raw = malloc(512 * 1024);
    assert_non_null(raw);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, raw, 512 * 1024), 512 * 1024);
    close(fd);
    char *b64 = NULL;
    assert_int_equal(st_b64_encode(raw, 512 * 1024, &b64, NULL), 0);
    char *b = secret_items(name, b64);
    free(raw);
    free(b64);
    return b;
}

static bool big_applies(void *arg)
{
    char *b = big_secret(arg);
    struct reply r = http(UNIX_SOCKET, "POST", "/apply", "application/json", b);
    bool ok = r.code == 200;
    reply_free(&r);
    free(b);
    return ok;
}

static bool store_unreachable(void *arg)
{
    (void)arg;
    struct reply r = http(UNIX_SOCKET, "GET", "/api/v1/namespaces/default/secrets", NULL, NULL);
    bool down = r.code == 503;
    reply_free(&r);
    return down;
}

static const char *WEB =
    "{\"items\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
    "\"web\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
    "\"name\":\"c\",\"image\":\"busybox\"}]}}}}]}";

static void test_full_disk(void **state)
{
    (void)state;
    apply_secret("before", 200, NULL);
    expect(http(UNIX_SOCKET, "POST", "/apply", "application/json", WEB), 200, NULL);
    fill();
    /* a write that needs room: 507, naming the filesystem and what to do */
    char *b = big_secret("during");
    struct reply r = http(UNIX_SOCKET, "POST", "/apply", "application/json", b);
    free(b);
    char *m = message_of(&r);
    print_message("faults: apply on a full state dir: %ld %s\n", r.code, m);
    char want[700];
    snprintf(want, sizeof(want), "the store's filesystem is full (PostgreSQL's data directory %s",
             full_dir);
    assert_non_null(strstr(m, want));
    assert_non_null(strstr(m, "free space there, then retry: nothing was written"));
    free(m);
    expect(r, 507, NULL);
    /* a scale fits in the pages it has, or is refused the same way */
    struct reply s =
        http(UNIX_SOCKET, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale",
             "application/merge-patch+json", "{\"spec\":{\"replicas\":3}}");
    m = message_of(&s);
    print_message("faults: scale on a full state dir: %ld %s\n", s.code, m);
    assert_true(s.code == 200 || (s.code == 507 && strstr(m, "filesystem is full")));
    free(m);
    reply_free(&s);
    /* what is stored still reads */
    expect_secret("before");
    /* Its WAL cannot grow: PostgreSQL PANICs and shuts down, and cannot
     * start again on a full disk. The API says the store is unreachable;
     * stratad keeps trying. */
    char sql[800];
    snprintf(sql, sizeof(sql),
             "for c in /usr/lib/postgresql/*/bin/psql; do b=$c; done; su postgres -s /bin/sh -c "
             "\"$b -h %s/pg/run -d strata -c 'SELECT pg_switch_wal()' -c 'SELECT "
             "pg_switch_wal()'\" >/dev/null 2>&1",
             full_dir);
    st_test_sh(NULL, NULL, "%s", sql);
    bool panicked = st_test_wait_until(store_unreachable, NULL, 15000, 200);
    print_message("faults: after a WAL switch on the full disk PostgreSQL %s\n",
                  panicked ? "shut down (PANIC): the API answers 503" : "kept running");
    if (panicked)
        assert_true(st_test_wait_until((bool (*)(void *))log_has,
                                       "the state dir's filesystem is full", 30000, 200));
    /* space returns: stratad recovers without a restart */
    long long t0 = st_test_now_ms();
    assert_int_equal(unlink(filler), 0);
    assert_true(st_test_wait_until(big_applies, "after", 60000, 500));
    print_message("faults: writes work again %lld ms after the filler was removed\n",
                  st_test_now_ms() - t0);
    expect_secret("before");
    expect_secret("after");
    struct reply d =
        http(UNIX_SOCKET, "GET", "/apis/apps/v1/namespaces/default/deployments/web", NULL, NULL);
    expect(d, 200, NULL);
}

/* ---- a node keeps its pod while PostgreSQL is gone (one VM) ----------------------- */

static const char *TICK =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: tick}\n"
    "spec:\n"
    "  replicas: 1\n"
    "  selector: {matchLabels: {app: tick}}\n"
    "  template:\n"
    "    metadata: {labels: {app: tick}}\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: c\n"
    "        image: busybox\n"
    "        command: [/bin/sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; "
    "done']\n";

static struct st_cluster vm;
static int vm_teardown(void **state);

static int vm_setup(void **state)
{
    /* st_cluster_up's steps, with --db; cmocka skips the group's teardown
     * when its setup fails: undone here then */
    if (db_prepare(&vm, false) < 0)
        return -1;
    st_cluster_start(&vm);
    st_cluster_import_busybox(&vm);
    static const char *const a[] = {"a"};
    if (st_cluster_add_nodes(&vm, a, 1) != 0) {
        vm_teardown(state);
        return -1;
    }
    return 0;
}

static int vm_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&vm);
    db_release();
    return 0;
}

/* The tick pod (new reference) when it runs, else NULL. */
static json_t *tick_pod(void)
{
    json_t *list = st_cluster_get(&vm, "pods");
    json_t *out = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        const char *phase = st_json_str(p, "status", "phase");
        if (strncmp(st_json_str(p, "metadata", "name"), "tick-", 5) == 0 && phase &&
            strcmp(phase, "Running") == 0)
            out = json_incref(p);
    }
    json_decref(list);
    return out;
}

static bool tick_running(void *arg)
{
    (void)arg;
    json_t *p = tick_pod();
    json_decref(p);
    return p != NULL;
}

/* The highest "tick N" in the pod's log, -1 when none; *restarted when
 * "tick 0" comes twice. */
static int last_tick(const char *pod, bool *restarted)
{
    char *out = NULL;
    st_cluster_ctl(&vm, &out, NULL, "logs %s", pod);
    int last = -1, zeros = 0;
    for (char *l = out; l && *l;) {
        int n;
        if (sscanf(l, "tick %d", &n) == 1) {
            last = n > last ? n : last;
            zeros += n == 0;
        }
        char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : NULL;
    }
    if (restarted)
        *restarted = zeros > 1;
    free(out);
    return last;
}

struct tick_arg {
    const char *pod;
    int at_least;
};

static bool ticked(void *arg)
{
    struct tick_arg *t = arg;
    return last_tick(t->pod, NULL) >= t->at_least;
}

static void test_nodes_keep_pods(void **state)
{
    (void)state;
    st_cluster_apply_text(&vm, "tick", TICK);
    assert_true(st_test_wait_until(tick_running, NULL, 120000, 500));
    json_t *pod = tick_pod();
    char name[128], uid[64], node[128];
    snprintf(name, sizeof(name), "%s", st_json_str(pod, "metadata", "name"));
    snprintf(uid, sizeof(uid), "%s", st_json_str(pod, "metadata", "uid"));
    snprintf(node, sizeof(node), "%s", st_json_str(pod, "spec", "nodeName"));
    json_int_t restarts =
        json_integer_value(json_object_get(st_pod_container0(pod), "restartCount"));
    json_decref(pod);
    struct tick_arg first = {name, 2};
    assert_true(st_test_wait_until(ticked, &first, 30000, 500));
    int before = last_tick(name, NULL);

    st_error err = {0};
    assert_int_equal(st_pg_embedded_stop(db, &err), 0);
    long long t0 = st_test_now_ms();
    /* Gone for five node graces (3 s each): the API answers 503 all along
     * (checked each half second), nothing is fenced. */
    int checks = 0;
    while (st_test_now_ms() - t0 < 15000) {
        struct reply r = http(UNIX_SOCKET, "GET", PODS, NULL, NULL);
        expect(r, 503, "the store (PostgreSQL) is unreachable");
        assert_int_equal(kill(vm.daemon, 0), 0);
        checks++;
        usleep(500 * 1000);
    }
    bool started = false;
    assert_int_equal(st_pg_embedded_revive(db, &started, &err), 0);
    assert_true(st_test_wait_until(answers_200, (void *)PODS, 30000, 200));
    long long outage = st_test_now_ms() - t0;

    /* the same pod, never restarted, on the same node, which is Ready */
    json_t *after = tick_pod();
    assert_non_null(after);
    assert_string_equal(st_json_str(after, "metadata", "uid"), uid);
    assert_string_equal(st_json_str(after, "spec", "nodeName"), node);
    assert_int_equal(json_integer_value(json_object_get(st_pod_container0(after), "restartCount")),
                     restarts);
    json_decref(after);
    json_t *n = st_cluster_get(&vm, "nodes");
    json_t *n0 = json_array_get(json_object_get(n, "items"), 0);
    assert_true(st_json_condition(n0, "Ready"));
    json_decref(n);
    char dom[256];
    snprintf(dom, sizeof(dom), "%s", node);
    assert_false(st_cluster_domain_shut_off(&vm, dom, 100));
    /* it ticked on while the store was away: its lines of that time came
     * through (they are kept in stratad's memory), none from a restart */
    bool restarted = false;
    struct tick_arg on = {name, before + (int)(outage / 1000) - 2};
    assert_true(st_test_wait_until(ticked, &on, 10000, 500));
    int now = last_tick(name, &restarted);
    assert_false(restarted);
    print_message("faults: PostgreSQL gone %lld ms (%d checks, all 503): pod %s on %s kept "
                  "running (tick %d before, tick %d after, restarts %lld), node Ready, not "
                  "fenced\n",
                  outage, checks, name, node, before, now, (long long)restarts);
    assert_false(log_has(": fencing (killing its QEMU)"));
    assert_false(log_has(" is dead: "));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest api_tests[] = {
        cmocka_unit_test(test_slow_clients_start), cmocka_unit_test(test_thousand_connections),
        cmocka_unit_test(test_huge_body),          cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_name),          cmocka_unit_test(test_slow_clients_cut),
    };
    const struct CMUnitTest store_tests[] = {
        cmocka_unit_test_setup_teardown(test_db_stopped, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_db_down_at_start, db_late_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_private_cluster_restarted, own_setup, own_teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, full_setup, full_teardown),
    };
    const struct CMUnitTest vm_tests[] = {
        cmocka_unit_test(test_nodes_keep_pods),
    };
    int failed = cmocka_run_group_tests_name("api", api_tests, api_setup, api_teardown);
    failed += cmocka_run_group_tests_name("store", store_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("vm", vm_tests, vm_setup, vm_teardown);
    curl_global_cleanup();
    return failed;
}
