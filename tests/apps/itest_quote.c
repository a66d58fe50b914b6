/* itest_quote.c: the quote app (build/bin/strata-quote) against a real
 * PostgreSQL started by scripts/quotes-db, on the host, reached over
 * loopback with libcurl: it serves random quotes with the pod's name, stays
 * alive (/healthz) but unready (/ready 503) and says why on / while the
 * database is gone, becomes ready again when it returns, and exits 0 on
 * SIGTERM. No VM: what the cluster adds is tested elsewhere. The database
 * and the app are removed in teardown and at exit, pass or fail. */
#include "testutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define POD              "itest-quote-pod"
#define PASSWORD         "itest-quote-password"
#define START_TIMEOUT_MS 30000

static char *db_dir;
static int db_port, app_port;
static pid_t app = -1;
static char *app_log;

/* ---- helpers ---- */

/* scripts/quotes-db VERB; its output in the failure message. */
static void quotes_db(const char *verb)
{
    char *out = NULL, *err = NULL;
    int rc = st_test_sh(&out, &err, "QUOTES_DB_PASSWORD=%s %s/scripts/quotes-db %s %s %d", PASSWORD,
                        st_test_env("STRATA_SOURCE_DIR"), verb, db_dir, db_port);
    if (rc != 0)
        fail_msg("quotes-db %s exited %d: %s%s", verb, rc, out ? out : "", err ? err : "");
    free(out);
    free(err);
}

struct reply {
    long status;
    char *body;
    size_t len;
};

/* GET path from the app; false when no HTTP answer came at all. */
static bool get(const char *path, struct reply *r)
{
    *r = (struct reply){0};
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", app_port, path);
    r->status = st_test_http_get(url, &r->body);
    r->len = strlen(r->body);
    return r->status != 0;
}

/* What the app printed so far, for a failure message (leaked: the test
 * ends there). */
static const char *app_log_text(void)
{
    char *text = app_log ? st_test_read_file(app_log) : NULL;
    return text ? text : "(none)";
}

/* GET path answers status, with body containing want (NULL: anything). */
static void expect(const char *path, long status, const char *want)
{
    struct reply r;
    if (!get(path, &r))
        fail_msg("GET %s: no answer from strata-quote; its log:\n%s", path, app_log_text());
    if (r.status != status || (want && strstr(r.body, want) == NULL))
        fail_msg("GET %s: %ld \"%s\", expected %ld with \"%s\"; the app's log:\n%s", path, r.status,
                 r.body, status, want ? want : "", app_log_text());
    free(r.body);
}

static bool answers(void *path)
{
    struct reply r;
    bool ok = get(path, &r) && r.status == 200;
    free(r.body);
    return ok;
}

static void start_app(void)
{
    char *bin = st_test_bin("strata-quote");
    if (asprintf(&app_log, "%s.app.log", db_dir) < 0)
        fail_msg("out of memory");
    char port_env[32], pgport_env[32];
    snprintf(port_env, sizeof(port_env), "PORT=%d", app_port);
    snprintf(pgport_env, sizeof(pgport_env), "PGPORT=%d", db_port);
    char *envp[] = {"PATH=/usr/bin:/bin",
                    "LISTEN_ADDRESS=127.0.0.1",
                    "POD_NAME=" POD,
                    "PGHOST=127.0.0.1",
                    "PGUSER=quote",
                    "PGDATABASE=quotes",
                    "PGPASSWORD=" PASSWORD,
                    port_env,
                    pgport_env,
                    NULL};
    app = fork();
    if (app < 0)
        fail_msg("fork: %s", strerror(errno));
    if (app == 0) {
        int fd = open(app_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execve(bin, (char *[]){bin, NULL}, envp);
        _exit(127);
    }
    free(bin);
}

/* Exit status of the app within timeout_ms, or -1 if it still runs. */
static int app_exit_status(int timeout_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(app, &status, WNOHANG);
        if (r == app) {
            app = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (st_test_now_ms() >= deadline)
            return -1;
        struct timespec tick = {.tv_nsec = 20 * 1000000};
        nanosleep(&tick, NULL);
    }
}

/* The app and the database, whatever state the run left them in. */
static void cleanup(void)
{
    if (app > 0) {
        kill(app, SIGKILL);
        waitpid(app, NULL, 0);
        app = -1;
    }
    const char *src = getenv("STRATA_SOURCE_DIR");
    if (db_dir && src)
        st_test_sh(NULL, NULL, "%s/scripts/quotes-db stop %s %d", src, db_dir, db_port);
    if (db_dir) {
        st_test_rmrf(db_dir); /* when start failed before marking it */
        free(db_dir);
        db_dir = NULL;
    }
    if (app_log) {
        unlink(app_log);
        free(app_log);
        app_log = NULL;
    }
}

static int setup(void **state)
{
    (void)state;
    atexit(cleanup);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    db_dir = st_test_mkdtemp("strata-quotesdb");
    db_port = st_test_free_port();
    app_port = st_test_free_port();
    quotes_db("start");
    start_app();
    if (!st_test_wait_until(answers, "/healthz", START_TIMEOUT_MS, 50))
        fail_msg("strata-quote did not answer /healthz within %d ms; its log:\n%s",
                 START_TIMEOUT_MS, app_log_text());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cleanup();
    curl_global_cleanup();
    return 0;
}

/* ---- tests, in order: up, database down, database back, SIGTERM ---- */

static void test_serves_quotes(void **state)
{
    (void)state;
    expect("/healthz", 200, "ok");
    expect("/ready", 200, "ready");
    /* A quote line, then who served it; and the quotes vary (ten rows:
     * twenty draws all alike would be a fixed answer, not a random one). */
    char *first = NULL;
    bool varied = false;
    for (int i = 0; i < 20; i++) {
        struct reply r;
        assert_true(get("/", &r));
        assert_int_equal(r.status, 200);
        char *tail = strstr(r.body, "\n-- served by " POD "\n");
        assert_non_null(tail);
        assert_true(tail > r.body);
        assert_string_equal(tail + strlen("\n-- served by " POD "\n"), "");
        *tail = '\0';
        if (first == NULL)
            first = strdup(r.body);
        else if (strcmp(first, r.body) != 0)
            varied = true;
        free(r.body);
    }
    assert_true(varied);
    free(first);
    expect("/nowhere", 404, "not found");
}

static void test_database_down(void **state)
{
    (void)state;
    quotes_db("stop");
    expect("/ready", 503, "not ready: cannot connect to the database");
    expect("/", 503, "-- served by " POD);
    expect("/", 503, "no quote: ");
    expect("/healthz", 200, "ok");
}

static void test_database_back(void **state)
{
    (void)state;
    quotes_db("start");
    if (!st_test_wait_until(answers, "/ready", START_TIMEOUT_MS, 100))
        fail_msg("/ready did not answer 200 within %d ms of the database's return",
                 START_TIMEOUT_MS);
    expect("/", 200, "-- served by " POD);
}

static void test_sigterm_exits_cleanly(void **state)
{
    (void)state;
    assert_int_equal(kill(app, SIGTERM), 0);
    assert_int_equal(app_exit_status(10000), 0);
    /* one line per request went to the log, failures included */
    char *log = st_test_read_file(app_log);
    assert_non_null(log);
    assert_non_null(strstr(log, " GET /ready 503 "));
    assert_non_null(strstr(log, " GET / 200 "));
    assert_non_null(strstr(log, "quote: stopped"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_quotes),
        cmocka_unit_test(test_database_down),
        cmocka_unit_test(test_database_back),
        cmocka_unit_test(test_sigterm_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
