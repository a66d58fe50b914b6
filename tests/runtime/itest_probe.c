/* itest_probe.c: the probe runners on real parts: a network namespace made
 * here (lo up, a silent TCP listener, busybox httpd), probed by pid, and the
 * prober driven by real results. Every child is killed and reaped in
 * teardown, even when an assertion fails. Needs root (unshare, setns). */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "strata/probe.h"

/* Ports inside the test's own namespace. */
#define HTTP_PORT   18080
#define SILENT_PORT 17000
#define CLOSED_PORT 17001

struct fixture {
    pid_t ns_pid;    /* holds the netns and the silent listener */
    pid_t httpd_pid; /* busybox httpd, a child of ns_pid (we are its subreaper) */
    char *docroot;
    struct st_probe_run *run; /* in flight in the driver, cancelled in teardown */
    struct st_prober *prober; /* the driven prober, freed in teardown */
};
static struct fixture fx = {.ns_pid = -1, .httpd_pid = -1};

/* ---- the namespace child ---- */

static int lo_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return r;
}

/* Accepts connections into its backlog and never answers. */
static int silent_listener(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(SILENT_PORT)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
        return -1;
    return s;
}

static void ns_child(int ready_fd, const char *busybox)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);
    pid_t httpd = -1;
    int listener = -1;
    if (unshare(CLONE_NEWNET) == 0 && lo_up() == 0 && (listener = silent_listener()) >= 0) {
        httpd = fork();
        if (httpd == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            char port[32];
            snprintf(port, sizeof(port), "127.0.0.1:%d", HTTP_PORT);
            execl(busybox, "busybox", "httpd", "-f", "-p", port, "-h", fx.docroot, (char *)NULL);
            _exit(127);
        }
    }
    /* Tell the test the namespace is ready and who serves HTTP (-1: failed). */
    int32_t msg = (int32_t)httpd;
    if (write(ready_fd, &msg, sizeof(msg)) != sizeof(msg))
        _exit(1);
    close(ready_fd);
    for (;;)
        pause();
}

static int group_setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "itest_probe needs root (network namespaces)\n");
        return -1;
    }
    /* httpd is our grandchild: become its reaper so teardown can reap it. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fx.docroot = st_test_mkdtemp("strata-probe-www");
    char *ok = NULL;
    if (asprintf(&ok, "%s/ok.html", fx.docroot) < 0)
        return -1;
    st_test_write_file(ok, "ok\n");
    free(ok);

    char *busybox = NULL;
    if (asprintf(&busybox, "%s/bin/busybox", st_test_env("STRATA_TEST_ROOTFS")) < 0)
        return -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fx.ns_pid = fork();
    if (fx.ns_pid == 0) {
        close(p[0]);
        ns_child(p[1], busybox);
    }
    free(busybox);
    close(p[1]);
    int32_t httpd = -1;
    ssize_t n = read(p[0], &httpd, sizeof(httpd));
    close(p[0]);
    if (fx.ns_pid < 0 || n != sizeof(httpd) || httpd <= 0) {
        fprintf(stderr, "could not set up the test network namespace\n");
        return -1;
    }
    fx.httpd_pid = httpd;
    return 0;
}

static void kill_and_reap(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *pid = -1;
}

/* Whatever else is still ours (orphans re-parented to us as subreaper). */
static void kill_and_reap_all(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "re");
    int pid;
    while (f != NULL && fscanf(f, "%d", &pid) == 1)
        kill(pid, SIGKILL);
    if (f != NULL)
        fclose(f);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

static int group_teardown(void **state)
{
    (void)state;
    st_probe_cancel(fx.run);
    fx.run = NULL;
    kill_and_reap(&fx.httpd_pid);
    kill_and_reap(&fx.ns_pid);
    kill_and_reap_all();
    st_test_rmrf(fx.docroot);
    free(fx.docroot);
    fx.docroot = NULL;
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    st_probe_cancel(fx.run);
    fx.run = NULL;
    st_prober_free(fx.prober);
    fx.prober = NULL;
    return 0;
}

/* ---- helpers ---- */

static void docroot_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", fx.docroot, name);
}

static struct st_probe_spec http(const char *path, int port)
{
    return (struct st_probe_spec){.handler = ST_PROBE_HANDLER_HTTP, .path = path, .port = port};
}

static struct st_probe_spec tcp(int port)
{
    return (struct st_probe_spec){.handler = ST_PROBE_HANDLER_TCP, .port = port};
}

/* Runs spec against the namespace child; returns the success flag, fills msg. */
static bool probe(const struct st_probe_spec *spec, pid_t target, char *msg, size_t len)
{
    bool ok = false;
    st_error err = {0};
    int r = st_probe_run_sync(spec, target, NULL, &ok, msg, len, &err);
    if (r < 0)
        fail_msg("st_probe_run_sync: %s", err.msg);
    return ok;
}

static void expect_failure(const struct st_probe_spec *spec, pid_t target, const char *needle)
{
    char msg[ST_PROBE_MSG_MAX];
    bool ok = probe(spec, target, msg, sizeof(msg));
    if (ok || strstr(msg, needle) == NULL)
        fail_msg("expected a failure mentioning \"%s\", got %s: \"%s\"", needle,
                 ok ? "success" : "failure", msg);
}

static bool httpd_up(void *arg)
{
    (void)arg;
    struct st_probe_spec s = tcp(HTTP_PORT);
    char msg[ST_PROBE_MSG_MAX];
    return probe(&s, fx.ns_pid, msg, sizeof(msg));
}

static void wait_httpd(void)
{
    if (!st_test_wait_until(httpd_up, NULL, 10000, 50))
        fail_msg("busybox httpd did not listen on 127.0.0.1:%d in the namespace", HTTP_PORT);
}

/* ---- runners ---- */

static void test_http_status(void **state)
{
    (void)state;
    wait_httpd();
    char msg[ST_PROBE_MSG_MAX];
    struct st_probe_spec ok = http("/ok.html", HTTP_PORT);
    struct st_probe_http_header hdr[] = {{"X-Probe", "1"}, {"User-Agent", "custom/1"}};
    ok.headers = hdr;
    ok.n_headers = 2;
    if (!probe(&ok, fx.ns_pid, msg, sizeof(msg)))
        fail_msg("GET /ok.html failed: %s", msg);
    assert_string_equal(msg, "HTTP probe succeeded with statuscode: 200");

    struct st_probe_spec missing = http("/missing.html", HTTP_PORT);
    expect_failure(&missing, fx.ns_pid, "HTTP probe failed with statuscode: 404");
}

static void test_http_refused_and_silent(void **state)
{
    (void)state;
    struct st_probe_spec closed = http(NULL, CLOSED_PORT);
    expect_failure(&closed, fx.ns_pid, "connect: connection refused");
    expect_failure(&closed, fx.ns_pid, "Get \"http://127.0.0.1:17001/\"");

    /* Connected (the kernel completes the handshake) but no reply ever comes. */
    struct st_probe_spec silent = http("/", SILENT_PORT);
    silent.timeout_s = 1;
    long long t0 = st_test_now_ms();
    expect_failure(&silent, fx.ns_pid, "timed out after 1000 ms awaiting headers");
    /* A lower bound, not a speed check: it must have waited for the timeout. */
    assert_true(st_test_now_ms() - t0 >= 1000);
}

static void test_tcp_open_closed(void **state)
{
    (void)state;
    char msg[ST_PROBE_MSG_MAX];
    struct st_probe_spec open_port = tcp(SILENT_PORT);
    if (!probe(&open_port, fx.ns_pid, msg, sizeof(msg)))
        fail_msg("tcp probe to the listener failed: %s", msg);
    assert_non_null(strstr(msg, "127.0.0.1:17000"));
    struct st_probe_spec closed = tcp(CLOSED_PORT);
    expect_failure(&closed, fx.ns_pid, "dial tcp 127.0.0.1:17001: connect: connection refused");
}

static void test_host_namespace_cannot_see_listener(void **state)
{
    (void)state;
    wait_httpd();
    /* The same probes from our own namespace (pid 0): the listeners are not there. */
    struct st_probe_spec t = tcp(SILENT_PORT);
    expect_failure(&t, 0, "connection refused");
    struct st_probe_spec h = http("/ok.html", HTTP_PORT);
    expect_failure(&h, 0, "connection refused");
}

static void test_bad_target(void **state)
{
    (void)state;
    struct st_probe_spec t = tcp(SILENT_PORT);
    bool ok = true;
    char msg[64];
    st_error err = {0};
    /* A pid that cannot exist (above pid_max). */
    assert_true(st_probe_run_sync(&t, 99999999, NULL, &ok, msg, sizeof(msg), &err) < 0);
    assert_non_null(strstr(err.msg, "/proc/99999999/ns/net"));
    st_error_clear(&err);
    struct st_probe_spec https = http("/", HTTP_PORT);
    https.scheme = "HTTPS";
    assert_int_equal(st_probe_run_sync(&https, fx.ns_pid, NULL, &ok, msg, sizeof(msg), &err),
                     -ENOTSUP);
    assert_non_null(strstr(err.msg, "not supported"));
}

static void test_async_cancel_reaps(void **state)
{
    (void)state;
    struct st_probe_spec silent = http("/", SILENT_PORT);
    silent.timeout_s = 30;
    int fd = -1;
    st_error err = {0};
    assert_int_equal(st_probe_start(&silent, fx.ns_pid, NULL, &fx.run, &fd, &err), 0);
    assert_true(fd >= 0);
    /* Not readable: the child is waiting on a peer that never answers. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    st_probe_cancel(fx.run);
    fx.run = NULL;
    /* Reaped: no zombie of ours is waiting (the namespace child still runs). */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), 0);
}

static void test_exec_probe(void **state)
{
    (void)state;
    char *const yes[] = {"/bin/true", NULL};
    char *const no[] = {"/bin/sh", "-c", "echo not healthy; exit 3", NULL};
    char *const slow[] = {"/bin/sleep", "30", NULL};
    char msg[ST_PROBE_MSG_MAX];
    struct st_probe_spec s = {.handler = ST_PROBE_HANDLER_EXEC, .command = yes};
    if (!probe(&s, fx.ns_pid, msg, sizeof(msg)))
        fail_msg("exec /bin/true failed: %s", msg);
    s.command = no;
    expect_failure(&s, fx.ns_pid, "exited with status 3: not healthy");
    s.command = slow;
    s.timeout_s = 1;
    expect_failure(&s, fx.ns_pid, "timed out");
}

/* Is a process running whose command line matches the regex arg? */
static bool command_running(const char *regex)
{
    char *out = NULL;
    int rc = st_test_sh(&out, NULL, "grep -l -s -a -E '%s' /proc/[0-9]*/cmdline", regex);
    bool found = rc == 0 && out != NULL && out[0] != '\0';
    free(out);
    return found;
}

static bool sleeper_running(void *arg)
{
    return command_running(arg);
}

static bool sleeper_gone(void *arg)
{
    return !command_running(arg);
}

static void test_exec_cancel_kills_command(void **state)
{
    (void)state;
    /* An odd duration makes the command findable in /proc; the bracket keeps the
     * grep's own shell from matching. */
    char *const cmd[] = {"/bin/sleep", "29.713", NULL};
    char regex[] = "sleep.29[.]713";
    struct st_probe_spec s = {.handler = ST_PROBE_HANDLER_EXEC, .command = cmd, .timeout_s = 60};
    int fd = -1;
    st_error err = {0};
    assert_int_equal(st_probe_start(&s, fx.ns_pid, NULL, &fx.run, &fd, &err), 0);
    if (!st_test_wait_until(sleeper_running, regex, 5000, 20))
        fail_msg("the exec probe command never started");
    st_probe_cancel(fx.run);
    fx.run = NULL;
    if (!st_test_wait_until(sleeper_gone, regex, 5000, 20))
        fail_msg("the exec probe command outlived st_probe_cancel");
}

/* ---- prober + runners ---- */

struct driver {
    struct st_prober *p;
    enum st_probe_kind kind; /* of fx.run */
    int fd;
    unsigned events; /* every event seen */
    int reports;
    bool want_ready;
};

/* One step of an event loop: collect a finished run, or start a due one. */
static void drive_step(struct driver *d)
{
    if (fx.run != NULL) {
        struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0)
            return;
        bool ok = false;
        char msg[ST_PROBE_MSG_MAX];
        st_error err = {0};
        int r = st_probe_finish(fx.run, &ok, msg, sizeof(msg), &err);
        fx.run = NULL;
        d->events |=
            st_prober_report(d->p, d->kind, r == 0 && ok, r == 0 ? msg : err.msg, st_test_now_ms());
        d->reports++;
        return;
    }
    unsigned due = st_prober_due(d->p, st_test_now_ms());
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        if (!(due & ST_PROBE_BIT(k)))
            continue;
        st_error err = {0};
        d->kind = (enum st_probe_kind)k;
        if (st_probe_start(st_prober_spec(d->p, d->kind), fx.ns_pid, NULL, &fx.run, &d->fd, &err) <
            0)
            fail_msg("st_probe_start: %s", err.msg);
        return; /* one at a time is enough here; others stay due */
    }
}

static bool ready_is(void *arg)
{
    struct driver *d = arg;
    drive_step(d);
    return st_prober_ready(d->p) == d->want_ready;
}

static bool restart_needed(void *arg)
{
    struct driver *d = arg;
    drive_step(d);
    return st_prober_restart_reason(d->p) != NULL;
}

static bool reported_twice(void *arg)
{
    struct driver *d = arg;
    drive_step(d);
    return d->reports >= 2;
}

static void test_readiness_follows_file(void **state)
{
    (void)state;
    wait_httpd();
    char path[512];
    docroot_path(path, sizeof(path), "ready.html");
    unlink(path);
    struct st_probe_spec rs = http("/ready.html", HTTP_PORT);
    rs.period_s = 1;
    rs.failure_threshold = 1;
    struct driver d = {0};
    st_error err = {0};
    assert_int_equal(st_prober_new(NULL, NULL, &rs, st_test_now_ms(), &fx.prober, &err), 0);
    d.p = fx.prober;

    /* Absent file: probes run and fail, never ready. */
    assert_true(st_test_wait_until(reported_twice, &d, 10000, 20));
    assert_false(st_prober_ready(d.p));
    struct st_probe_status st;
    st_prober_status(d.p, ST_PROBE_READINESS, &st);
    assert_false(st.last_success);
    assert_string_equal(st.last_message, "HTTP probe failed with statuscode: 404");

    st_test_write_file(path, "ready\n");
    d.want_ready = true;
    bool became_ready = st_test_wait_until(ready_is, &d, 10000, 20);
    unlink(path);
    assert_true(became_ready);
    assert_true(d.events & ST_PROBE_EV_READY_CHANGED);

    d.events = 0;
    d.want_ready = false;
    assert_true(st_test_wait_until(ready_is, &d, 10000, 20));
    assert_int_equal(d.events, ST_PROBE_EV_READY_CHANGED);
    assert_null(st_prober_restart_reason(d.p)); /* readiness never restarts */
}

static void test_liveness_failure_restarts(void **state)
{
    (void)state;
    wait_httpd();
    struct st_probe_spec ls = http("/gone.html", HTTP_PORT);
    ls.period_s = 1;
    ls.failure_threshold = 2;
    struct driver d = {0};
    st_error err = {0};
    assert_int_equal(st_prober_new(NULL, &ls, NULL, st_test_now_ms(), &fx.prober, &err), 0);
    d.p = fx.prober;
    assert_true(st_test_wait_until(restart_needed, &d, 10000, 20));
    assert_string_equal(st_prober_restart_reason(d.p),
                        "Liveness probe failed: HTTP probe failed with statuscode: 404");
    assert_int_equal(d.reports, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_http_status, test_teardown),
        cmocka_unit_test_teardown(test_http_refused_and_silent, test_teardown),
        cmocka_unit_test_teardown(test_tcp_open_closed, test_teardown),
        cmocka_unit_test_teardown(test_host_namespace_cannot_see_listener, test_teardown),
        cmocka_unit_test_teardown(test_bad_target, test_teardown),
        cmocka_unit_test_teardown(test_async_cancel_reaps, test_teardown),
        cmocka_unit_test_teardown(test_exec_probe, test_teardown),
        cmocka_unit_test_teardown(test_exec_cancel_kills_command, test_teardown),
        cmocka_unit_test_teardown(test_readiness_follows_file, test_teardown),
        cmocka_unit_test_teardown(test_liveness_failure_restarts, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
