/* itest_node_agent.c: runs the real strata-node binary on the host with
 * --listen unix:PATH and talks the node protocol to it: hello, heartbeats,
 * ping/pong, reconnect, SIGTERM. The teardown kills and reaps the process
 * and removes its folder whatever the assertions did. */
#include "testutil.h"

#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fixture {
    char *dir;
    char *sock;
    char *log; /* strata-node's stderr */
    pid_t pid;
    int status; /* wait status once reaped, -1 before */
};

static bool sock_exists(void *arg)
{
    struct stat st;
    return stat(arg, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Starts strata-node --listen unix:<dir>/node.sock plus the given flags,
 * its stderr into <dir>/node.log. */
static int fixture_start(void **state, const char *cmdline_text)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    *state = fx;
    fx->status = -1;
    fx->dir = st_test_mkdtemp("strata-node-itest");
    assert_true(asprintf(&fx->sock, "%s/node.sock", fx->dir) > 0);
    assert_true(asprintf(&fx->log, "%s/node.log", fx->dir) > 0);
    _cleanup_free_ char *bin = st_test_bin("strata-node");
    _cleanup_free_ char *listen = NULL, *cmdline = NULL;
    assert_true(asprintf(&listen, "unix:%s", fx->sock) > 0);
    assert_true(asprintf(&cmdline, "%s/cmdline", fx->dir) > 0);
    char *argv[] = {bin, "--listen", listen, "--name", "t1", "--heartbeat-ms", "100", NULL};
    if (cmdline_text) {
        /* name and interval from a kernel cmdline instead of flags */
        st_test_write_file(cmdline, cmdline_text);
        argv[3] = "--cmdline";
        argv[4] = cmdline;
        argv[5] = NULL;
    }
    fx->pid = fork();
    assert_true(fx->pid >= 0);
    if (fx->pid == 0) {
        int fd = open(fx->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    if (!st_test_wait_until(sock_exists, fx->sock, 10000, 10))
        fail_msg("strata-node did not create %s within 10 s", fx->sock);
    return 0;
}

static int setup(void **state)
{
    return fixture_start(state, NULL);
}

static int setup_cmdline(void **state)
{
    return fixture_start(state, "console=ttyS0 strata.node=vm-7 strata.heartbeat_ms=50 quiet\n");
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    if (fx->pid > 0 && fx->status < 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
    }
    st_test_rmrf(fx->dir);
    free(fx->dir);
    free(fx->sock);
    free(fx->log);
    free(fx);
    return 0;
}

/* SIGTERM must end strata-node cleanly: exit 0, socket file removed. */
static void stop_node(struct fixture *fx)
{
    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    int status = 0;
    assert_int_equal(waitpid(fx->pid, &status, 0), fx->pid);
    fx->status = status;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(sock_exists(fx->sock));
}

static int connect_node(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("connect %s: %s", path, strerror(errno));
    return fd;
}

/* Next message from the node within timeout_ms; fails the test otherwise. */
static json_t *recv_msg(int fd, struct st_proto_reader *rd, int timeout_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    st_error err = {0};
    for (;;) {
        const char *line = NULL;
        int rc = st_proto_reader_next(rd, &line, &err);
        if (rc < 0)
            fail_msg("reading from strata-node: %s", err.msg);
        if (rc == 1) {
            json_t *msg = NULL;
            if (st_proto_decode(line, &msg, NULL, &err) < 0)
                fail_msg("strata-node sent a bad line '%s': %s", line, err.msg);
            return msg;
        }
        long long left = deadline - st_test_now_ms();
        if (left <= 0)
            fail_msg("no message from strata-node within %d ms", timeout_ms);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (p.revents) {
            rc = st_proto_reader_fill(rd, fd, &err);
            if (rc == 0)
                fail_msg("strata-node closed the connection");
            if (rc < 0 && rc != -EAGAIN)
                fail_msg("read: %s", err.msg);
        }
    }
}

/* Next message of the given type, skipping others (heartbeats race pongs). */
static json_t *recv_type(int fd, struct st_proto_reader *rd, const char *type)
{
    for (int i = 0; i < 100; i++) {
        json_t *msg = recv_msg(fd, rd, 10000);
        if (strcmp(json_string_value(json_object_get(msg, "type")), type) == 0)
            return msg;
        json_decref(msg);
    }
    fail_msg("no %s message among 100 from strata-node", type);
    return NULL;
}

static void check_hello(json_t *msg)
{
    st_error err = {0};
    struct st_proto_hello h = {0};
    if (st_proto_hello_parse(msg, &h, &err) < 0)
        fail_msg("bad hello: %s", err.msg);
    assert_string_equal(h.node, "t1");
    assert_true(strlen(h.version) > 0);
    assert_int_equal(h.cpu_millis, sysconf(_SC_NPROCESSORS_ONLN) * 1000);
    assert_true(h.memory_bytes > 16 * 1024 * 1024);
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    assert_string_equal(h.kernel, u.release);
    assert_true(h.uptime_ms > 0);
    assert_int_equal(json_array_size(h.pods), 0);
}

static void test_hello_heartbeat_ping(void **state)
{
    struct fixture *fx = *state;
    _cleanup_close_ int fd = connect_node(fx->sock);
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);

    _cleanup_json_ json_t *hello = recv_msg(fd, &rd, 10000);
    assert_string_equal(json_string_value(json_object_get(hello, "type")), "hello");
    check_hello(hello);
    int64_t last_seq = st_proto_seq(hello);

    st_error err = {0};
    for (int i = 0; i < 2; i++) {
        _cleanup_json_ json_t *hb = recv_type(fd, &rd, ST_PROTO_HEARTBEAT);
        struct st_proto_heartbeat h = {0};
        if (st_proto_heartbeat_parse(hb, &h, &err) < 0)
            fail_msg("bad heartbeat: %s", err.msg);
        assert_int_equal(h.pods, 0);
        assert_int_equal(strlen(h.pods_digest), ST_PROTO_DIGEST_LEN - 1);
        assert_true(st_proto_seq(hb) > last_seq);
        last_seq = st_proto_seq(hb);
    }

    uint64_t host_seq = 0;
    _cleanup_json_ json_t *ping = NULL;
    _cleanup_free_ char *line = NULL;
    assert_int_equal(st_proto_ping_build(4242, &ping, &err), 0);
    assert_int_equal(st_proto_encode(ping, &host_seq, &line, &err), 0);
    /* a garbage line first: the node must skip it and keep serving */
    const char *junk = "this is not json\n";
    assert_int_equal(write(fd, junk, strlen(junk)), (ssize_t)strlen(junk));
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    _cleanup_json_ json_t *pong = recv_type(fd, &rd, ST_PROTO_PONG);
    int64_t id = 0;
    assert_int_equal(st_proto_ping_parse(pong, &id, &err), 0);
    assert_int_equal(id, 4242);
    assert_true(st_proto_seq(pong) > last_seq);
    last_seq = st_proto_seq(pong);
    st_proto_reader_free(&rd);

    /* disconnect and reconnect: a new hello, seq still increasing */
    close(fd);
    fd = connect_node(fx->sock);
    st_proto_reader_init(&rd);
    _cleanup_json_ json_t *hello2 = recv_msg(fd, &rd, 10000);
    assert_string_equal(json_string_value(json_object_get(hello2, "type")), "hello");
    check_hello(hello2);
    assert_true(st_proto_seq(hello2) > last_seq);
    _cleanup_json_ json_t *hb2 = recv_type(fd, &rd, ST_PROTO_HEARTBEAT);
    assert_true(st_proto_seq(hb2) > st_proto_seq(hello2));
    st_proto_reader_free(&rd);

    stop_node(fx);
}

static void test_version_and_usage(void **state)
{
    (void)state;
    _cleanup_free_ char *bin = st_test_bin("strata-node");
    char *out = NULL, *errout = NULL;
    char *v[] = {bin, "--version", NULL};
    assert_int_equal(st_test_run(v, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "strata-node "));
    free(out);
    char *bad[] = {bin, "--listen", "tcp:1.2.3.4", NULL};
    assert_int_equal(st_test_run(bad, NULL, NULL, &errout), 2);
    assert_non_null(strstr(errout, "unix:PATH"));
    free(errout);
}

/* The node name and interval come from the kernel cmdline when not given. */
static void test_name_from_cmdline(void **state)
{
    struct fixture *fx = *state;
    _cleanup_close_ int fd = connect_node(fx->sock);
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);
    _cleanup_json_ json_t *hello = recv_msg(fd, &rd, 10000);
    _cleanup_json_ json_t *hb = recv_type(fd, &rd, ST_PROTO_HEARTBEAT);
    st_proto_reader_free(&rd);
    assert_string_equal(json_string_value(json_object_get(hello, "node")), "vm-7");
    stop_node(fx);
    _cleanup_free_ char *log = st_test_read_file(fx->log);
    assert_non_null(log);
    if (strstr(log, "heartbeat every 50 ms") == NULL)
        fail_msg("strata-node did not take strata.heartbeat_ms=50; its log:\n%s", log);
    assert_non_null(strstr(log, "signal 15 received"));
}

/* The host's wall clock minus ours, as the kernel keeps it against the
 * monotonic clock (ms). */
static long long realtime_offset_ms(void)
{
    struct timespec r, m;
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return ((long long)r.tv_sec - m.tv_sec) * 1000 + (r.tv_nsec - m.tv_nsec) / 1000000;
}

static void send_line(int fd, json_t *msg, uint64_t *seq)
{
    st_error err = {0};
    _cleanup_free_ char *line = NULL;
    assert_int_equal(st_proto_encode(msg, seq, &line, &err), 0);
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
}

/* A `clock` ten seconds off: strata-node on --listen says so but leaves the
 * machine's clock alone (only the agent of a VM sets it). */
static void test_clock_not_stepped_on_host(void **state)
{
    struct fixture *fx = *state;
    _cleanup_close_ int fd = connect_node(fx->sock);
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);
    _cleanup_json_ json_t *hello = recv_msg(fd, &rd, 10000);
    long long before = realtime_offset_ms();
    st_error err = {0};
    uint64_t seq = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    for (int sign = 1; sign >= -1; sign -= 2) {
        _cleanup_json_ json_t *clk = NULL;
        assert_int_equal(st_proto_clock_build(ms + sign * 10000, &clk, &err), 0);
        send_line(fd, clk, &seq);
    }
    /* the pong comes after both were handled */
    _cleanup_json_ json_t *ping = NULL;
    assert_int_equal(st_proto_ping_build(7, &ping, &err), 0);
    send_line(fd, ping, &seq);
    _cleanup_json_ json_t *pong = recv_type(fd, &rd, ST_PROTO_PONG);
    st_proto_reader_free(&rd);
    long long drift = realtime_offset_ms() - before;
    if (drift > 1000 || drift < -1000)
        fail_msg("the host's clock moved by %lld ms", drift);
    stop_node(fx);
    _cleanup_free_ char *log = st_test_read_file(fx->log);
    assert_non_null(log);
    if (strstr(log, "host clock differs by +") == NULL ||
        strstr(log, "host clock differs by -") == NULL || strstr(log, "not stepping") == NULL)
        fail_msg("strata-node did not log the clock offsets; its log:\n%s", log);
}

/* A new host on the same channel (virtio-serial: a restarted stratad the
 * node never saw hang up) shows only as the host's seq starting again:
 * the node greets it with a new hello; a seq that goes up does not. */
static void test_new_host_by_seq_gets_hello(void **state)
{
    struct fixture *fx = *state;
    _cleanup_close_ int fd = connect_node(fx->sock);
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);
    _cleanup_json_ json_t *hello = recv_msg(fd, &rd, 10000);
    assert_string_equal(json_string_value(json_object_get(hello, "type")), ST_PROTO_HELLO);
    st_error err = {0};
    uint64_t seq = 0;
    for (int i = 1; i <= 3; i++) {
        _cleanup_json_ json_t *ping = NULL;
        assert_int_equal(st_proto_ping_build(i, &ping, &err), 0);
        send_line(fd, ping, &seq);
        /* no hello comes in between: recv_type would skip it, so read all */
        for (;;) {
            json_t *m = recv_msg(fd, &rd, 10000);
            const char *t = json_string_value(json_object_get(m, "type"));
            assert_string_not_equal(t, ST_PROTO_HELLO);
            bool done = strcmp(t, ST_PROTO_PONG) == 0;
            json_decref(m);
            if (done)
                break;
        }
    }
    seq = 0; /* the new host numbers from 1 again */
    _cleanup_json_ json_t *ping = NULL;
    assert_int_equal(st_proto_ping_build(9, &ping, &err), 0);
    send_line(fd, ping, &seq);
    _cleanup_json_ json_t *again = recv_type(fd, &rd, ST_PROTO_HELLO);
    check_hello(again);
    assert_true(st_proto_seq(again) > st_proto_seq(hello));
    _cleanup_json_ json_t *pong = recv_type(fd, &rd, ST_PROTO_PONG);
    st_proto_reader_free(&rd);
    stop_node(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_heartbeat_ping, setup, teardown),
        cmocka_unit_test(test_version_and_usage),
        cmocka_unit_test_setup_teardown(test_name_from_cmdline, setup_cmdline, teardown),
        cmocka_unit_test_setup_teardown(test_clock_not_stepped_on_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_host_by_seq_gets_hello, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
