/* api.c: bench_api, the API's figures against a running stratad (bench/api
 * starts one): GET of one pod (requests/s and p99 from a few clients),
 * LIST of every pod (median ms, against the peer: PostgreSQL's own SELECT
 * of the same rows through libpq, measured in the same run), and the watch
 * fan-out: W watchers on pods, then C changes one at a time (a label
 * patched), each change's delay from the write's reply to every watcher
 * seeing it (p99 over all change x watcher pairs). It talks to the HTTPS
 * port kubectl uses (the server's certificate checked against stratad's CA,
 * the admin bearer token on every request); the pods it creates are never
 * scheduled (there are no nodes), so they stay Pending and nothing else
 * writes them.
 * Usage: bench_api URL CA_FILE TOKEN_FILE PGHOST [PODS [WATCHERS [CHANGES]]]
 * Last line: api: get_rps=N list_ms=N watch_fanout_p99_ms=N */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/bench_stats.h"

#define GET_CLIENTS 4
#define GET_SECONDS 3
#define LIST_RUNS   20
#define POD_PATH    "/api/v1/namespaces/default/pods"

static const char *base_url; /* https://127.0.0.1:PORT */
static const char *ca_file;
static char auth_header[128]; /* Authorization: Bearer TOKEN */
static struct curl_slist *auth_only;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double ms_since(int64_t t0)
{
    return (double)(now_ns() - t0) / 1e6;
}

/* ---- HTTP over the unix socket ---- */

struct buf {
    char *p;
    size_t n;
};

static size_t buf_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;
    char *p = realloc(b->p, b->n + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->n, data, n);
    b->p = p;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static CURL *client(void)
{
    CURL *h = curl_easy_init();
    if (h == NULL) {
        fprintf(stderr, "api: curl_easy_init failed\n");
        exit(1);
    }
    curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
    return h;
}

/* method path [body]: the status; *out (may be NULL) the answer. */
static long call(CURL *h, const char *method, const char *path, const char *body, const char *type,
                 struct buf *out)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    struct buf b = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, auth_header);
    if (type) {
        char line[128];
        snprintf(line, sizeof(line), "Content-Type: %s", type);
        hdr = curl_slist_append(hdr, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (body == NULL)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "api: %s %s: %s\n", method, path, curl_easy_strerror(rc));
    curl_slist_free_all(hdr);
    if (out)
        *out = b;
    else
        free(b.p);
    return status;
}

static void must(long status, long want, const char *what, struct buf *b)
{
    if (status == want)
        return;
    fprintf(stderr, "api: %s answered %ld, not %ld: %s\n", what, status, want,
            b && b->p ? b->p : "");
    exit(1);
}

/* ---- the pods ---- */

static void create_pods(CURL *h, int pods)
{
    for (int at = 0; at < pods; at += 100) {
        json_t *items = json_array();
        for (int i = at; i < pods && i < at + 100; i++) {
            char name[32];
            snprintf(name, sizeof(name), "bench-%d", i);
            json_array_append_new(items,
                                  json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}",
                                            "apiVersion", "v1", "kind", "Pod", "metadata", "name",
                                            name, "namespace", "default", "labels", "bench", "api",
                                            "spec", "containers", "name", "c", "image", "busybox"));
        }
        json_t *body = json_pack("{s:o}", "items", items);
        char *text = json_dumps(body, JSON_COMPACT);
        struct buf b = {0};
        must(call(h, "POST", "/apply", text, "application/json", &b), 200, "POST /apply", &b);
        free(b.p);
        free(text);
        json_decref(body);
    }
}

/* ---- GET one object ---- */

struct getter {
    int64_t until;
    double *lat;
    size_t n, cap;
    long errors;
};

static void *get_loop(void *arg)
{
    struct getter *g = arg;
    CURL *h = client();
    while (now_ns() < g->until) {
        int64_t t0 = now_ns();
        long st = call(h, "GET", POD_PATH "/bench-0", NULL, NULL, NULL);
        double ms = ms_since(t0);
        if (st != 200) {
            g->errors++;
            continue;
        }
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 4096;
            g->lat = realloc(g->lat, g->cap * sizeof(*g->lat));
        }
        g->lat[g->n++] = ms;
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- watchers ---- */

struct watcher {
    int id;
    const char *rv;
    int changes;
    int64_t *seen; /* [change] when this watcher saw it; 0: not yet */
    atomic_int count;
    atomic_bool connected;
    struct buf line;
};

static atomic_bool stop_watch;

static void watch_line(struct watcher *w, const char *text, size_t len)
{
    json_t *ev = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *c = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(ev, "object"), "metadata"), "labels"),
        "change"));
    if (type && c && strcmp(type, "MODIFIED") == 0) {
        int k = atoi(c);
        if (k >= 0 && k < w->changes && w->seen[k] == 0) {
            w->seen[k] = now_ns();
            atomic_fetch_add(&w->count, 1);
        }
    }
    json_decref(ev);
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct watcher *w = arg;
    size_t n = size * nmemb;
    if (buf_write(data, 1, n, &w->line) != n)
        return 0;
    size_t start = 0;
    for (size_t i = 0; i < w->line.n; i++) {
        if (w->line.p[i] != '\n')
            continue;
        if (i > start)
            watch_line(w, w->line.p + start, i - start);
        start = i + 1;
    }
    memmove(w->line.p, w->line.p + start, w->line.n - start);
    w->line.n -= start;
    return n;
}

static size_t watch_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct watcher *w = arg;
    atomic_store(&w->connected, true);
    (void)data;
    return size * nmemb;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)arg, (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&stop_watch) ? 1 : 0;
}

static void *watch_loop(void *arg)
{
    struct watcher *w = arg;
    CURL *h = client();
    char url[512];
    snprintf(url, sizeof(url),
             "%s" POD_PATH "?watch=1&resourceVersion=%s&labelSelector=bench%%3Dapi"
             "&allowWatchBookmarks=true&timeoutSeconds=600",
             base_url, w->rv);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, auth_only);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, watch_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_progress);
    curl_easy_perform(h); /* until stop_watch aborts it */
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- the peer: PostgreSQL's own SELECT of the same rows ---- */

static double pg_list_ms(const char *pghost, int pods)
{
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "host=%s dbname=strata user=postgres", pghost);
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "api: peer: cannot connect to PostgreSQL at %s: %s", pghost,
                PQerrorMessage(c));
        exit(1);
    }
    double runs[LIST_RUNS];
    for (int i = 0; i < LIST_RUNS; i++) {
        int64_t t0 = now_ns();
        PGresult *r = PQexec(c, "SELECT resource_version, uid, created_at, object FROM pods "
                                "WHERE namespace = 'default' ORDER BY namespace, name");
        /* the rows as text, as a client gets them */
        size_t bytes = 0;
        for (int row = 0; row < PQntuples(r); row++)
            bytes += strlen(PQgetvalue(r, row, 3));
        runs[i] = ms_since(t0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != pods || bytes == 0) {
            fprintf(stderr, "api: peer: SELECT gave %d rows, not %d: %s", PQntuples(r), pods,
                    PQresultErrorMessage(r));
            exit(1);
        }
        PQclear(r);
    }
    PQfinish(c);
    st_bench_stats s;
    st_bench_stats_compute(runs, LIST_RUNS, &s, NULL);
    return s.median;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr,
                "usage: bench_api URL CA_FILE TOKEN_FILE PGHOST [PODS [WATCHERS [CHANGES]]]\n");
        return 2;
    }
    base_url = argv[1];
    ca_file = argv[2];
    FILE *tf = fopen(argv[3], "r");
    char token[80] = "";
    if (tf == NULL || fgets(token, sizeof(token), tf) == NULL) {
        fprintf(stderr, "api: cannot read the token from %s\n", argv[3]);
        return 1;
    }
    fclose(tf);
    token[strcspn(token, "\r\n")] = 0;
    snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", token);
    auth_only = curl_slist_append(NULL, auth_header);
    const char *pghost = argv[4];
    int pods = argc > 5 ? atoi(argv[5]) : 1000;
    int watchers = argc > 6 ? atoi(argv[6]) : 10;
    int changes = argc > 7 ? atoi(argv[7]) : 1000;
    if (pods < 1 || watchers < 1 || changes < 1)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = client();
    create_pods(h, pods);

    /* GET one pod: a few clients as fast as they go */
    struct getter g[GET_CLIENTS] = {0};
    pthread_t th[GET_CLIENTS];
    int64_t until = now_ns() + (int64_t)GET_SECONDS * 1000000000;
    for (int i = 0; i < GET_CLIENTS; i++) {
        g[i].until = until;
        pthread_create(&th[i], NULL, get_loop, &g[i]);
    }
    size_t total = 0;
    long get_errors = 0;
    for (int i = 0; i < GET_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        total += g[i].n;
        get_errors += g[i].errors;
    }
    double *all = malloc((total ? total : 1) * sizeof(*all));
    size_t at = 0;
    for (int i = 0; i < GET_CLIENTS; i++) {
        memcpy(all + at, g[i].lat, g[i].n * sizeof(*all));
        at += g[i].n;
        free(g[i].lat);
    }
    st_bench_stats gs = {0};
    if (total == 0 || st_bench_stats_compute(all, total, &gs, NULL) < 0) {
        fprintf(stderr, "api: no GET succeeded (%ld errors)\n", get_errors);
        return 1;
    }
    free(all);
    double get_rps = (double)total / GET_SECONDS;
    printf("api: GET one pod: %.0f req/s (%d clients, %d s, %zu requests, %ld errors), "
           "median %.2f ms, p99 %.2f ms\n",
           get_rps, GET_CLIENTS, GET_SECONDS, total, get_errors, gs.median, gs.p99);

    /* LIST every pod, and the peer */
    double list_runs[LIST_RUNS];
    char list_rv[32] = "";
    for (int i = 0; i < LIST_RUNS; i++) {
        struct buf b = {0};
        int64_t t0 = now_ns();
        must(call(h, "GET", POD_PATH, NULL, NULL, &b), 200, "GET " POD_PATH, &b);
        json_t *list = json_loadb(b.p, b.n, 0, NULL);
        list_runs[i] = ms_since(t0);
        if ((int)json_array_size(json_object_get(list, "items")) != pods) {
            fprintf(stderr, "api: the list has %zu pods, not %d\n",
                    json_array_size(json_object_get(list, "items")), pods);
            return 1;
        }
        snprintf(
            list_rv, sizeof(list_rv), "%s",
            json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"))
                ?: "");
        json_decref(list);
        free(b.p);
    }
    st_bench_stats ls;
    st_bench_stats_compute(list_runs, LIST_RUNS, &ls, NULL);
    double peer_ms = pg_list_ms(pghost, pods);
    printf("api: LIST %d pods (GET and parse the JSON): median %.1f ms (%d runs); peer: "
           "PostgreSQL's SELECT of the same %d rows through libpq: %.2f ms: ratio %.1f\n",
           pods, ls.median, LIST_RUNS, pods, peer_ms, st_bench_ratio(ls.median, peer_ms));

    /* the watch fan-out */
    struct watcher *w = calloc((size_t)watchers, sizeof(*w));
    pthread_t *wt = calloc((size_t)watchers, sizeof(*wt));
    for (int i = 0; i < watchers; i++) {
        w[i].id = i;
        w[i].rv = list_rv;
        w[i].changes = changes;
        w[i].seen = calloc((size_t)changes, sizeof(int64_t));
        pthread_create(&wt[i], NULL, watch_loop, &w[i]);
    }
    for (int64_t t0 = now_ns(); ms_since(t0) < 10000;) {
        int up = 0;
        for (int i = 0; i < watchers; i++)
            up += atomic_load(&w[i].connected);
        if (up == watchers)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    int64_t *replied = calloc((size_t)changes, sizeof(int64_t));
    int64_t *sent = calloc((size_t)changes, sizeof(int64_t));
    double *write_ms = calloc((size_t)changes, sizeof(double));
    for (int k = 0; k < changes; k++) {
        char path[128], body[128];
        snprintf(path, sizeof(path), POD_PATH "/bench-%d", k % pods);
        snprintf(body, sizeof(body), "{\"metadata\":{\"labels\":{\"change\":\"%d\"}}}", k);
        struct buf b = {0};
        int64_t t0 = sent[k] = now_ns();
        must(call(h, "PATCH", path, body, "application/merge-patch+json", &b), 200, "PATCH", &b);
        replied[k] = now_ns();
        write_ms[k] = (double)(replied[k] - t0) / 1e6;
        free(b.p);
    }
    /* every watcher sees every change, or 30 s pass */
    for (int64_t t0 = now_ns(); ms_since(t0) < 30000;) {
        int done = 0;
        for (int i = 0; i < watchers; i++)
            done += atomic_load(&w[i].count) == changes;
        if (done == watchers)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop_watch, true);
    for (int i = 0; i < watchers; i++)
        pthread_join(wt[i], NULL);
    size_t pairs = (size_t)watchers * (size_t)changes, got = 0, missed = 0;
    double *delay = malloc(pairs * sizeof(*delay));
    double *from_sent = malloc(pairs * sizeof(*from_sent));
    for (int i = 0; i < watchers; i++)
        for (int k = 0; k < changes; k++) {
            if (w[i].seen[k] == 0) {
                missed++;
                continue;
            }
            /* seen before the write's reply reached us: no delay */
            double d = (double)(w[i].seen[k] - replied[k]) / 1e6;
            from_sent[got] = (double)(w[i].seen[k] - sent[k]) / 1e6;
            delay[got++] = d > 0 ? d : 0;
        }
    st_bench_stats ws = {0}, wr = {0}, wsent = {0};
    st_bench_stats_compute(write_ms, (size_t)changes, &wr, NULL);
    st_bench_stats_compute(from_sent, got, &wsent, NULL);
    if (got == 0 || st_bench_stats_compute(delay, got, &ws, NULL) < 0) {
        fprintf(stderr, "api: no watcher saw any change\n");
        return 1;
    }
    printf("api: watch fan-out, %d watchers x %d changes (a label PATCHed, one at a time): "
           "delay from the PATCH's reply to each watcher seeing it: p99 %.2f ms, median %.2f "
           "ms, max %.1f ms, %zu of %zu pairs missed (a watcher that sees a change before its "
           "writer has the reply counts 0); from the PATCH's sending: p99 %.2f ms, median %.2f "
           "ms; peer: the PATCH's own round trip: median %.2f ms, p99 %.2f ms\n",
           watchers, changes, ws.p99, ws.median, ws.max, missed, pairs, wsent.p99, wsent.median,
           wr.median, wr.p99);
    /* The figure: from the write's sending to every watcher seeing it (a
     * watcher often has it before the writer has its reply). */
    printf("api: get_rps=%.0f list_ms=%.1f watch_fanout_p99_ms=%.1f\n", get_rps, ls.median,
           missed ? -1.0 : wsent.p99);
    curl_slist_free_all(auth_only);
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return missed ? 1 : 0;
}
