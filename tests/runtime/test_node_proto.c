/* test_node_proto.c: unit tests of the node protocol module: line framing
 * (partial, split and over-long lines), decode/encode and every message's
 * builder and parser. No sockets or processes: pipes only for reader_fill. */
#include "testutil.h"

#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Encodes msg, strips the '\n' and decodes it again; returns the copy. */
static json_t *round_trip(json_t *msg, uint64_t *seq, const char *want_type)
{
    st_error err = {0};
    _cleanup_free_ char *line = NULL;
    assert_int_equal(st_proto_encode(msg, seq, &line, &err), 0);
    size_t n = strlen(line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_null(memchr(line, '\n', n - 1));
    line[n - 1] = '\0';
    json_t *back = NULL;
    const char *type = NULL;
    assert_int_equal(st_proto_decode(line, &back, &type, &err), 0);
    assert_string_equal(type, want_type);
    assert_int_equal(st_proto_seq(back), (int64_t)*seq);
    return back;
}

static void test_reader_partial_lines(void **state)
{
    (void)state;
    struct st_proto_reader r;
    st_proto_reader_init(&r);
    st_error err = {0};
    const char *line = NULL;

    assert_int_equal(st_proto_reader_feed(&r, "{\"a\":", 5, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 0);
    assert_int_equal(st_proto_reader_feed(&r, "1}\n{\"b\"", 7, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "{\"a\":1}");
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 0);
    const char *more = ":2}\n\n{\"c\":3}\r\nrest";
    assert_int_equal(st_proto_reader_feed(&r, more, strlen(more), &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "{\"b\":2}");
    /* the blank line is skipped, CRLF is accepted */
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "{\"c\":3}");
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 0);
    st_proto_reader_reset(&r);
    assert_int_equal(st_proto_reader_feed(&r, "x\n", 2, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "x");
    assert_int_equal(err.code, 0);
    st_proto_reader_free(&r);
}

static void test_reader_too_long(void **state)
{
    (void)state;
    struct st_proto_reader r;
    st_proto_reader_init(&r);
    st_error err = {0};
    const char *line = NULL;
    size_t chunk = 256 * 1024;
    _cleanup_free_ char *big = malloc(chunk);
    assert_non_null(big);
    memset(big, 'x', chunk);

    /* 5 chunks of 256 KiB without a newline: over the 1 MiB limit */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(st_proto_reader_feed(&r, big, chunk, &err), 0);
        int rc = st_proto_reader_next(&r, &line, &err);
        if (i < 4)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, -EMSGSIZE);
    }
    assert_int_equal(err.code, EMSGSIZE);
    assert_non_null(strstr(err.msg, "longer than"));
    /* the rest of that line is skipped; the next line comes through */
    st_error_clear(&err);
    assert_int_equal(st_proto_reader_feed(&r, big, chunk, &err), 0);
    assert_int_equal(st_proto_reader_feed(&r, "tail\nnext\n", 10, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "next");

    /* an over-long line whose newline arrived in the same feed */
    _cleanup_free_ char *huge = malloc(ST_PROTO_LINE_MAX + 3);
    assert_non_null(huge);
    memset(huge, 'y', ST_PROTO_LINE_MAX + 1);
    memcpy(huge + ST_PROTO_LINE_MAX + 1, "\n", 1);
    memcpy(huge + ST_PROTO_LINE_MAX + 2, "z", 1);
    assert_int_equal(st_proto_reader_feed(&r, huge, ST_PROTO_LINE_MAX + 3, &err), 0);
    assert_int_equal(st_proto_reader_feed(&r, "\n", 1, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), -EMSGSIZE);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "z");

    /* exactly the limit is fine */
    st_error_clear(&err);
    huge[ST_PROTO_LINE_MAX] = '\n';
    assert_int_equal(st_proto_reader_feed(&r, huge, ST_PROTO_LINE_MAX + 1, &err), 0);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_int_equal(strlen(line), ST_PROTO_LINE_MAX);
    st_proto_reader_free(&r);
}

static void test_reader_fill(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct st_proto_reader r;
    st_proto_reader_init(&r);
    st_error err = {0};
    const char *line = NULL;

    assert_int_equal(st_proto_reader_fill(&r, p[0], &err), -EAGAIN);
    assert_int_equal(write(p[1], "one\ntw", 6), 6);
    assert_int_equal(st_proto_reader_fill(&r, p[0], &err), 6);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "one");
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 0);
    assert_int_equal(write(p[1], "o\n", 2), 2);
    close(p[1]);
    assert_int_equal(st_proto_reader_fill(&r, p[0], &err), 2);
    assert_int_equal(st_proto_reader_next(&r, &line, &err), 1);
    assert_string_equal(line, "two");
    assert_int_equal(st_proto_reader_fill(&r, p[0], &err), 0); /* EOF */
    assert_int_equal(st_proto_reader_fill(&r, -1, &err), -EBADF);
    assert_int_equal(err.code, EBADF);
    close(p[0]);
    st_proto_reader_free(&r);
}

static void expect_decode_error(const char *line, const char *needle)
{
    st_error err = {0};
    json_t *msg = NULL;
    assert_int_equal(st_proto_decode(line, &msg, NULL, &err), -EPROTO);
    assert_null(msg);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("decoding '%s': message '%s' lacks '%s'", line, err.msg, needle);
}

static void test_decode_bad_lines(void **state)
{
    (void)state;
    expect_decode_error("hello there", "not JSON");
    expect_decode_error("{\"type\":\"hello\",\"seq\":1", "not JSON");
    expect_decode_error("[1,2]", "not a JSON object");
    expect_decode_error("{\"seq\":1}", "no string \"type\"");
    expect_decode_error("{\"type\":\"\",\"seq\":1}", "no string \"type\"");
    expect_decode_error("{\"type\":5,\"seq\":1}", "no string \"type\"");
    expect_decode_error("{\"type\":\"ping\"}", "\"seq\"");
    expect_decode_error("{\"type\":\"ping\",\"seq\":\"1\"}", "\"seq\"");
    expect_decode_error("{\"type\":\"ping\",\"seq\":-4}", "\"seq\"");
    expect_decode_error("{\"type\":\"ping\",\"seq\":1,\"seq\":2}", "not JSON");

    json_t *msg = NULL;
    const char *type = NULL;
    st_error err = {0};
    assert_int_equal(st_proto_decode("{\"type\":\"x\",\"seq\":0}", &msg, &type, &err), 0);
    assert_string_equal(type, "x");
    json_decref(msg);
}

static void test_encode_seq_monotonic(void **state)
{
    (void)state;
    uint64_t seq = 0;
    st_error err = {0};
    for (int i = 1; i <= 3; i++) {
        _cleanup_json_ json_t *ping = NULL;
        assert_int_equal(st_proto_ping_build(40 + i, &ping, &err), 0);
        _cleanup_json_ json_t *back = round_trip(ping, &seq, ST_PROTO_PING);
        assert_int_equal(seq, (uint64_t)i);
        int64_t id = 0;
        assert_int_equal(st_proto_ping_parse(back, &id, &err), 0);
        assert_int_equal(id, 40 + i);
    }
    _cleanup_json_ json_t *notype = json_object();
    _cleanup_free_ char *line = NULL;
    assert_int_equal(st_proto_encode(notype, &seq, &line, &err), -EINVAL);
    assert_int_equal(seq, 3);
}

static void test_hello_heartbeat(void **state)
{
    (void)state;
    uint64_t seq = 10;
    st_error err = {0};
    struct st_proto_hello h = {.node = "n1",
                               .version = "0.1.0",
                               .cpu_millis = 2000,
                               .memory_bytes = 201326592,
                               .kernel = "6.1.0-56-amd64",
                               .uptime_ms = 1234};
    _cleanup_json_ json_t *msg = NULL;
    assert_int_equal(st_proto_hello_build(&h, &msg, &err), 0);
    _cleanup_json_ json_t *back = round_trip(msg, &seq, ST_PROTO_HELLO);
    struct st_proto_hello got = {0};
    assert_int_equal(st_proto_hello_parse(back, &got, &err), 0);
    assert_string_equal(got.node, "n1");
    assert_string_equal(got.version, "0.1.0");
    assert_string_equal(got.kernel, "6.1.0-56-amd64");
    assert_int_equal(got.cpu_millis, 2000);
    assert_int_equal(got.memory_bytes, 201326592);
    assert_int_equal(got.uptime_ms, 1234);
    assert_int_equal(json_array_size(got.pods), 0);
    assert_int_equal(seq, 11);

    h.node = NULL;
    _cleanup_json_ json_t *bad = NULL;
    assert_int_equal(st_proto_hello_build(&h, &bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "\"node\""));

    /* a hello whose capacity is missing names the field */
    st_error_clear(&err);
    json_object_del(back, "capacity");
    assert_int_equal(st_proto_hello_parse(back, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "capacity"));

    st_error_clear(&err);
    struct st_proto_heartbeat hb = {.uptime_ms = 99, .pods_digest = "00ff", .pods = 2};
    _cleanup_json_ json_t *hbm = NULL;
    assert_int_equal(st_proto_heartbeat_build(&hb, &hbm, &err), 0);
    _cleanup_json_ json_t *hbb = round_trip(hbm, &seq, ST_PROTO_HEARTBEAT);
    struct st_proto_heartbeat hg = {0};
    assert_int_equal(st_proto_heartbeat_parse(hbb, &hg, &err), 0);
    assert_int_equal(hg.uptime_ms, 99);
    assert_string_equal(hg.pods_digest, "00ff");
    assert_int_equal(hg.pods, 2);
    /* a parser refuses a message of another type */
    assert_int_equal(st_proto_hello_parse(hbb, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "expected a hello"));
}

static void test_pod_messages(void **state)
{
    (void)state;
    uint64_t seq = 0;
    st_error err = {0};

    struct st_proto_pod_status ps = {.pod = "web-1",
                                     .uid = "u-1",
                                     .phase = "Failed",
                                     .ready = false,
                                     .restart_count = 3,
                                     .has_exit_code = true,
                                     .exit_code = 137,
                                     .reason = "OOMKilled"};
    _cleanup_json_ json_t *m1 = NULL;
    assert_int_equal(st_proto_pod_status_build(&ps, &m1, &err), 0);
    _cleanup_json_ json_t *b1 = round_trip(m1, &seq, ST_PROTO_POD_STATUS);
    struct st_proto_pod_status g1 = {0};
    assert_int_equal(st_proto_pod_status_parse(b1, &g1, &err), 0);
    assert_string_equal(g1.pod, "web-1");
    assert_string_equal(g1.uid, "u-1");
    assert_string_equal(g1.phase, "Failed");
    assert_false(g1.ready);
    assert_int_equal(g1.restart_count, 3);
    assert_true(g1.has_exit_code);
    assert_int_equal(g1.exit_code, 137);
    assert_string_equal(g1.reason, "OOMKilled");

    struct st_proto_pod_status running = {
        .pod = "web-2", .uid = "u-2", .phase = "Running", .ready = true};
    _cleanup_json_ json_t *m2 = NULL;
    assert_int_equal(st_proto_pod_status_build(&running, &m2, &err), 0);
    assert_true(json_is_null(json_object_get(m2, "exitCode")));
    assert_true(json_is_null(json_object_get(m2, "reason")));
    _cleanup_json_ json_t *b2 = round_trip(m2, &seq, ST_PROTO_POD_STATUS);
    struct st_proto_pod_status g2 = {0};
    assert_int_equal(st_proto_pod_status_parse(b2, &g2, &err), 0);
    assert_true(g2.ready);
    assert_false(g2.has_exit_code);
    assert_null(g2.reason);
    assert_null(g2.message);
    assert_null(g2.started_at);
    assert_null(g2.containers);
    assert_true(json_is_null(json_object_get(m2, "message")));
    assert_null(json_object_get(m2, "containerStatuses"));
    assert_true(json_is_false(json_object_get(m2, "removed")));

    /* message, startedAt and containerStatuses round-trip */
    _cleanup_json_ json_t *cs =
        json_pack("[{s:s, s:s, s:b, s:b, s:i, s:{s:{s:s, s:s}}, s:{s:{s:i, s:s}}}]", "name", "main",
                  "image", "busybox", "ready", 0, "started", 0, "restartCount", 2, "state",
                  "waiting", "reason", "CrashLoopBackOff", "message", "back-off 10s", "lastState",
                  "terminated", "exitCode", 137, "reason", "OOMKilled");
    struct st_proto_pod_status full = {.pod = "web-3",
                                       .uid = "u-3",
                                       .phase = "Running",
                                       .restart_count = 2,
                                       .has_exit_code = true,
                                       .exit_code = 137,
                                       .reason = "OOMKilled",
                                       .message = "back-off 10s",
                                       .started_at = "2026-11-22T10:00:00.000Z",
                                       .removed = true,
                                       .containers = cs};
    _cleanup_json_ json_t *m7 = NULL;
    assert_int_equal(st_proto_pod_status_build(&full, &m7, &err), 0);
    _cleanup_json_ json_t *b7 = round_trip(m7, &seq, ST_PROTO_POD_STATUS);
    struct st_proto_pod_status g7 = {0};
    assert_int_equal(st_proto_pod_status_parse(b7, &g7, &err), 0);
    assert_string_equal(g7.message, "back-off 10s");
    assert_string_equal(g7.started_at, "2026-11-22T10:00:00.000Z");
    assert_true(json_equal(g7.containers, cs));
    assert_true(g7.removed);
    assert_null(g7.pod_ip);
    assert_null(json_object_get(m7, "podIP"));
    /* podIP is sent once the pod has an address */
    full.pod_ip = "10.244.3.7";
    _cleanup_json_ json_t *m8 = NULL;
    assert_int_equal(st_proto_pod_status_build(&full, &m8, &err), 0);
    _cleanup_json_ json_t *b8 = round_trip(m8, &seq, ST_PROTO_POD_STATUS);
    struct st_proto_pod_status g8 = {0};
    assert_int_equal(st_proto_pod_status_parse(b8, &g8, &err), 0);
    assert_string_equal(g8.pod_ip, "10.244.3.7");
    json_object_set_new(b8, "podIP", json_integer(7));
    assert_int_equal(st_proto_pod_status_parse(b8, &g8, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "podIP"));
    st_error_clear(&err);
    /* an older node's message without the new fields still parses */
    json_object_del(b7, "message");
    json_object_del(b7, "startedAt");
    json_object_del(b7, "containerStatuses");
    json_object_del(b7, "removed");
    assert_int_equal(st_proto_pod_status_parse(b7, &g7, &err), 0);
    assert_null(g7.message);
    assert_false(g7.removed);
    assert_null(g7.containers);
    /* wrong types are refused, naming the field */
    json_object_set_new(b7, "containerStatuses", json_string("x"));
    assert_int_equal(st_proto_pod_status_parse(b7, &g7, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "containerStatuses"));
    st_error_clear(&err);
    json_object_del(b7, "containerStatuses");
    json_object_set_new(b7, "message", json_integer(1));
    assert_int_equal(st_proto_pod_status_parse(b7, &g7, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "\"message\""));
    st_error_clear(&err);
    full.containers = json_object();
    _cleanup_json_ json_t *bad7 = NULL;
    assert_int_equal(st_proto_pod_status_build(&full, &bad7, &err), -EINVAL);
    json_decref(full.containers);
    st_error_clear(&err);

    struct st_proto_log lg = {.pod = "web-1", .container = "c", .stream = "stderr", .line = "oops"};
    _cleanup_json_ json_t *m3 = NULL;
    assert_int_equal(st_proto_log_build(&lg, &m3, &err), 0);
    _cleanup_json_ json_t *b3 = round_trip(m3, &seq, ST_PROTO_LOG);
    struct st_proto_log g3 = {0};
    assert_int_equal(st_proto_log_parse(b3, &g3, &err), 0);
    assert_string_equal(g3.container, "c");
    assert_string_equal(g3.stream, "stderr");
    assert_string_equal(g3.line, "oops");
    json_object_set_new(b3, "stream", json_string("stdin"));
    assert_int_equal(st_proto_log_parse(b3, &g3, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "stream"));
    st_error_clear(&err);

    _cleanup_json_ json_t *spec = json_pack("{s:[{s:s}]}", "containers", "image", "busybox");
    struct st_proto_pod_run pr = {.pod = "web-1", .uid = "u-1", .spec = spec};
    _cleanup_json_ json_t *m4 = NULL;
    assert_int_equal(st_proto_pod_run_build(&pr, &m4, &err), 0);
    _cleanup_json_ json_t *b4 = round_trip(m4, &seq, ST_PROTO_POD_RUN);
    struct st_proto_pod_run g4 = {0};
    assert_int_equal(st_proto_pod_run_parse(b4, &g4, &err), 0);
    assert_true(json_equal(g4.spec, spec));
    pr.spec = NULL;
    _cleanup_json_ json_t *bad = NULL;
    assert_int_equal(st_proto_pod_run_build(&pr, &bad, &err), -EINVAL);
    st_error_clear(&err);

    struct st_proto_pod_stop st = {.pod = "web-1", .uid = "u-1"};
    _cleanup_json_ json_t *m5 = NULL;
    assert_int_equal(st_proto_pod_stop_build(&st, &m5, &err), 0);
    _cleanup_json_ json_t *b5 = round_trip(m5, &seq, ST_PROTO_POD_STOP);
    struct st_proto_pod_stop g5 = {0};
    assert_int_equal(st_proto_pod_stop_parse(b5, &g5, &err), 0);
    assert_string_equal(g5.uid, "u-1");
    json_object_del(b5, "uid");
    assert_int_equal(st_proto_pod_stop_parse(b5, &g5, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "\"uid\""));

    _cleanup_json_ json_t *pong = NULL;
    st_error_clear(&err);
    assert_int_equal(st_proto_pong_build(7, &pong, &err), 0);
    _cleanup_json_ json_t *b6 = round_trip(pong, &seq, ST_PROTO_PONG);
    int64_t id = 0;
    assert_int_equal(st_proto_ping_parse(b6, &id, &err), 0);
    assert_int_equal(id, 7);
    assert_int_equal(seq, 8);
}

static void test_pods_digest(void **state)
{
    (void)state;
    st_error err = {0};
    char empty[ST_PROTO_DIGEST_LEN], d1[ST_PROTO_DIGEST_LEN], d2[ST_PROTO_DIGEST_LEN],
        d3[ST_PROTO_DIGEST_LEN], dnull[ST_PROTO_DIGEST_LEN];
    _cleanup_json_ json_t *none = json_array();
    assert_int_equal(st_proto_pods_digest(none, empty, &err), 0);
    assert_int_equal(st_proto_pods_digest(NULL, dnull, &err), 0);
    assert_string_equal(empty, dnull);
    assert_int_equal(strlen(empty), ST_PROTO_DIGEST_LEN - 1);

    _cleanup_json_ json_t *a =
        json_pack("[{s:s,s:s},{s:s,s:b}]", "pod", "a", "phase", "Running", "pod", "b", "ready", 1);
    /* same states, other order of pods and of keys */
    _cleanup_json_ json_t *b =
        json_pack("[{s:b,s:s},{s:s,s:s}]", "ready", 1, "pod", "b", "phase", "Running", "pod", "a");
    _cleanup_json_ json_t *c =
        json_pack("[{s:s,s:s},{s:s,s:b}]", "pod", "a", "phase", "Failed", "pod", "b", "ready", 1);
    assert_int_equal(st_proto_pods_digest(a, d1, &err), 0);
    assert_int_equal(st_proto_pods_digest(b, d2, &err), 0);
    assert_int_equal(st_proto_pods_digest(c, d3, &err), 0);
    assert_string_equal(d1, d2);
    assert_string_not_equal(d1, d3);
    assert_string_not_equal(d1, empty);

    _cleanup_json_ json_t *obj = json_object();
    assert_int_equal(st_proto_pods_digest(obj, d1, &err), -EINVAL);
}

/* clock carries the host's wall clock in ms; a time before 1970 is refused
 * both ways. */
static void test_clock(void **state)
{
    (void)state;
    uint64_t seq = 4;
    st_error err = {0};
    _cleanup_json_ json_t *m = NULL;
    assert_int_equal(st_proto_clock_build(1767225600123LL, &m, &err), 0);
    _cleanup_json_ json_t *back = round_trip(m, &seq, ST_PROTO_CLOCK);
    int64_t ms = 0;
    assert_int_equal(st_proto_clock_parse(back, &ms, &err), 0);
    assert_int_equal(ms, 1767225600123LL);

    _cleanup_json_ json_t *bad = NULL;
    assert_int_equal(st_proto_clock_build(-1, &bad, &err), -EINVAL);
    assert_null(bad);
    st_error_clear(&err);
    json_object_set_new(back, "unixMillis", json_integer(-5));
    assert_int_equal(st_proto_clock_parse(back, &ms, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "unixMillis"));
    st_error_clear(&err);
    json_object_set_new(back, "unixMillis", json_string("now"));
    assert_int_equal(st_proto_clock_parse(back, &ms, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "must be an integer"));
    st_error_clear(&err);
    assert_int_equal(st_proto_event_parse(back, &(struct st_proto_event){0}, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "expected a event"));
}

/* settings: hostGraceMs round-trips, 0 (off) included; absent means
 * "unchanged"; out of range or not an integer is refused both ways. */
static void test_settings(void **state)
{
    (void)state;
    uint64_t seq = 9;
    st_error err = {0};
    _cleanup_json_ json_t *m = NULL;
    struct st_proto_settings s = {.has_host_grace_ms = true, .host_grace_ms = 2000};
    assert_int_equal(st_proto_settings_build(&s, &m, &err), 0);
    _cleanup_json_ json_t *back = round_trip(m, &seq, ST_PROTO_SETTINGS);
    struct st_proto_settings got = {0};
    assert_int_equal(st_proto_settings_parse(back, &got, &err), 0);
    assert_true(got.has_host_grace_ms);
    assert_int_equal(got.host_grace_ms, 2000);

    _cleanup_json_ json_t *off = NULL;
    s.host_grace_ms = 0;
    assert_int_equal(st_proto_settings_build(&s, &off, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(off, "hostGraceMs")), 0);
    assert_int_equal(st_proto_settings_parse(off, &got, &err), 0);
    assert_true(got.has_host_grace_ms);
    assert_int_equal(got.host_grace_ms, 0);

    /* nothing set: a message without the field, which changes nothing */
    _cleanup_json_ json_t *empty = NULL;
    assert_int_equal(st_proto_settings_build(&(struct st_proto_settings){0}, &empty, &err), 0);
    assert_null(json_object_get(empty, "hostGraceMs"));
    got.has_host_grace_ms = true;
    assert_int_equal(st_proto_settings_parse(empty, &got, &err), 0);
    assert_false(got.has_host_grace_ms);
    /* a field this node does not know is no error */
    json_object_set_new(empty, "futureSetting", json_true());
    assert_int_equal(st_proto_settings_parse(empty, &got, &err), 0);
    assert_false(got.has_host_grace_ms);
    assert_int_equal(err.code, 0);

    _cleanup_json_ json_t *bad = NULL;
    s.host_grace_ms = -1;
    assert_int_equal(st_proto_settings_build(&s, &bad, &err), -EINVAL);
    assert_null(bad);
    assert_non_null(strstr(err.msg, "hostGraceMs"));
    st_error_clear(&err);
    s.host_grace_ms = ST_PROTO_HOST_GRACE_MAX_MS + 1;
    assert_int_equal(st_proto_settings_build(&s, &bad, &err), -EINVAL);
    st_error_clear(&err);
    json_object_set_new(back, "hostGraceMs", json_integer(ST_PROTO_HOST_GRACE_MAX_MS + 1));
    assert_int_equal(st_proto_settings_parse(back, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "hostGraceMs"));
    st_error_clear(&err);
    json_object_set_new(back, "hostGraceMs", json_string("2s"));
    assert_int_equal(st_proto_settings_parse(back, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "must be an integer"));
    st_error_clear(&err);
    assert_int_equal(st_proto_settings_parse(off, &got, &err), 0);
    json_object_set_new(off, "type", json_string(ST_PROTO_CLOCK));
    assert_int_equal(st_proto_settings_parse(off, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "expected a settings"));
}

/* event: every field round-trips; namespace is optional; the type must be
 * Normal or Warning and the reason non-empty. */
static void test_event(void **state)
{
    (void)state;
    uint64_t seq = 0;
    st_error err = {0};
    struct st_proto_event ev = {.pod = "web-1",
                                .uid = "u-1",
                                .ns = "shop",
                                .event_type = "Warning",
                                .reason = "Unhealthy",
                                .message = "Readiness probe failed: HTTP probe failed with "
                                           "statuscode: 500"};
    _cleanup_json_ json_t *m = NULL;
    assert_int_equal(st_proto_event_build(&ev, &m, &err), 0);
    _cleanup_json_ json_t *back = round_trip(m, &seq, ST_PROTO_EVENT);
    struct st_proto_event got = {0};
    assert_int_equal(st_proto_event_parse(back, &got, &err), 0);
    assert_string_equal(got.pod, "web-1");
    assert_string_equal(got.uid, "u-1");
    assert_string_equal(got.ns, "shop");
    assert_string_equal(got.event_type, "Warning");
    assert_string_equal(got.reason, "Unhealthy");
    assert_string_equal(got.message, ev.message);

    ev.ns = NULL;
    ev.event_type = "Normal";
    ev.reason = "Started";
    ev.message = "Started container main";
    _cleanup_json_ json_t *m2 = NULL;
    assert_int_equal(st_proto_event_build(&ev, &m2, &err), 0);
    assert_null(json_object_get(m2, "namespace"));
    _cleanup_json_ json_t *b2 = round_trip(m2, &seq, ST_PROTO_EVENT);
    assert_int_equal(st_proto_event_parse(b2, &got, &err), 0);
    assert_null(got.ns);
    assert_string_equal(got.event_type, "Normal");

    _cleanup_json_ json_t *bad = NULL;
    ev.event_type = "Error";
    assert_int_equal(st_proto_event_build(&ev, &bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Normal or Warning"));
    ev.event_type = "Normal";
    ev.reason = "";
    st_error_clear(&err);
    assert_int_equal(st_proto_event_build(&ev, &bad, &err), -EINVAL);
    ev.reason = "Started";
    ev.message = NULL;
    st_error_clear(&err);
    assert_int_equal(st_proto_event_build(&ev, &bad, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "\"message\""));
    assert_null(bad);

    st_error_clear(&err);
    json_object_set_new(b2, "eventType", json_string("Fatal"));
    assert_int_equal(st_proto_event_parse(b2, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "Fatal"));
    st_error_clear(&err);
    json_object_set_new(b2, "eventType", json_string("Normal"));
    json_object_set_new(b2, "reason", json_string(""));
    assert_int_equal(st_proto_event_parse(b2, &got, &err), -EPROTO);
    st_error_clear(&err);
    json_object_del(b2, "message");
    json_object_set_new(b2, "reason", json_string("Started"));
    assert_int_equal(st_proto_event_parse(b2, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "\"message\""));
}

static json_t *quote_services(void)
{
    return json_pack("[{s:s, s:s, s:s, s:[{s:s, s:i, s:s, s:[s,s]}]},"
                     " {s:s, s:s, s:s, s:[{s:i, s:[]}]}]",
                     "namespace", "default", "name", "quote", "clusterIP", "10.96.0.10", "ports",
                     "name", "http", "port", 80, "protocol", "TCP", "backends", "10.244.1.2:8080",
                     "10.244.2.5:8080", "namespace", "default", "name", "quote-db", "clusterIP",
                     "10.96.0.11", "ports", "port", 5432, "backends");
}

static void test_services(void **state)
{
    (void)state;
    uint64_t seq = 0;
    st_error err = {0};
    _cleanup_json_ json_t *svcs = quote_services();
    assert_non_null(svcs);
    _cleanup_json_ json_t *m = NULL;
    assert_int_equal(st_proto_services_build(svcs, &m, &err), 0);
    _cleanup_json_ json_t *b = round_trip(m, &seq, ST_PROTO_SERVICES);
    json_t *got = NULL;
    assert_int_equal(st_proto_services_parse(b, &got, &err), 0);
    assert_true(json_equal(got, svcs));
    /* an empty snapshot is a snapshot (every Service deleted) */
    _cleanup_json_ json_t *none = json_array();
    _cleanup_json_ json_t *m0 = NULL;
    assert_int_equal(st_proto_services_build(none, &m0, &err), 0);
    assert_int_equal(st_proto_services_parse(m0, &got, &err), 0);
    assert_int_equal(json_array_size(got), 0);

    /* each bad field is refused, naming where it is */
    static const struct {
        const char *path, *json, *want;
    } bad[] = {
        {"0/clusterIP", "\"10.96.0\"", "clusterIP"},
        {"0/clusterIP", "null", "clusterIP"},
        {"0/name", "\"\"", "name"},
        {"1/ports/0/port", "0", "ports[0]"},
        {"1/ports/0/port", "65536", "ports[0]"},
        {"0/ports/0/protocol", "\"UDP\"", "only TCP"},
        {"0/ports/0/backends/1", "\"10.244.2.5\"", "backends[1]"},
        {"0/ports/0/backends/1", "\"10.244.2.5:0\"", "backends[1]"},
        {"0/ports/0/backends/1", "\"host:80\"", "backends[1]"},
        {"1/ports/0/backends", "{}", "backends must be an array"},
        {"1/ports", "{}", "\"ports\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        _cleanup_json_ json_t *c = json_deep_copy(b);
        json_t *v = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        /* walk services/<i>/... down to the parent of the last key */
        json_t *at = json_object_get(c, "services");
        char path[64];
        snprintf(path, sizeof(path), "%s", bad[i].path);
        char *save = NULL, *tok = strtok_r(path, "/", &save), *next;
        while ((next = strtok_r(NULL, "/", &save)) != NULL) {
            at = json_is_array(at) ? json_array_get(at, strtoul(tok, NULL, 10))
                                   : json_object_get(at, tok);
            tok = next;
        }
        if (json_is_array(at))
            json_array_set_new(at, strtoul(tok, NULL, 10), v);
        else
            json_object_set_new(at, tok, v);
        st_error_clear(&err);
        assert_int_equal(st_proto_services_parse(c, &got, &err), -EPROTO);
        if (strstr(err.msg, bad[i].want) == NULL)
            fail_msg("%s=%s: \"%s\" lacks \"%s\"", bad[i].path, bad[i].json, err.msg, bad[i].want);
        /* the builder refuses the same as bad input of its caller */
        _cleanup_json_ json_t *mb = NULL;
        st_error_clear(&err);
        assert_int_equal(st_proto_services_build(json_object_get(c, "services"), &mb, &err),
                         -EINVAL);
        assert_null(mb);
    }
    st_error_clear(&err);
    json_object_set_new(b, "services", json_object());
    assert_int_equal(st_proto_services_parse(b, &got, &err), -EPROTO);
    st_error_clear(&err);
    json_object_set_new(b, "type", json_string(ST_PROTO_PING));
    assert_int_equal(st_proto_services_parse(b, &got, &err), -EPROTO);
}

static void test_ipv4_parse(void **state)
{
    (void)state;
    uint32_t a = 0;
    int port = 0;
    assert_true(st_proto_ipv4_parse("10.244.3.7", &a, NULL));
    assert_int_equal(a, 0x0af40307);
    assert_true(st_proto_ipv4_parse("127.0.0.1:5433", &a, &port));
    assert_int_equal(a, 0x7f000001);
    assert_int_equal(port, 5433);
    assert_false(st_proto_ipv4_parse("10.244.3.7", &a, &port));
    assert_false(st_proto_ipv4_parse("10.244.3.7:", &a, &port));
    assert_false(st_proto_ipv4_parse("10.244.3.7:+80", &a, &port));
    assert_false(st_proto_ipv4_parse("10.244.3.7:80x", &a, &port));
    assert_false(st_proto_ipv4_parse("10.244.3.7:80", &a, NULL));
    assert_false(st_proto_ipv4_parse("10.244.3.256", &a, NULL));
    assert_false(st_proto_ipv4_parse("", &a, NULL));
}

/* pods_query and its answer: the id comes back, and an answer whose pods
 * are not pod states (no uid) is refused, never half-read. */
static void test_pods_query(void **state)
{
    (void)state;
    uint64_t seq = 0;
    st_error err = {0};
    _cleanup_json_ json_t *q = NULL;
    assert_int_equal(st_proto_pods_query_build(42, &q, &err), 0);
    _cleanup_json_ json_t *qback = round_trip(q, &seq, ST_PROTO_PODS_QUERY);
    int64_t id = 0;
    assert_int_equal(st_proto_pods_query_parse(qback, &id, &err), 0);
    assert_int_equal(id, 42);

    struct st_proto_pod_status ps = {.pod = "web-1", .uid = "u-1", .phase = "Running"};
    _cleanup_json_ json_t *one = NULL, *pods = json_array();
    assert_int_equal(st_proto_pod_status_build(&ps, &one, &err), 0);
    json_array_append(pods, one);
    _cleanup_json_ json_t *a = NULL;
    assert_int_equal(st_proto_pods_build(42, pods, &a, &err), 0);
    _cleanup_json_ json_t *back = round_trip(a, &seq, ST_PROTO_PODS);
    json_t *got = NULL;
    id = 0;
    assert_int_equal(st_proto_pods_parse(back, &id, &got, &err), 0);
    assert_int_equal(id, 42);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "uid")), "u-1");

    /* a query is not an answer, and a pod without its uid is refused */
    assert_int_equal(st_proto_pods_parse(qback, &id, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "expected a pods message"));
    st_error_clear(&err);
    json_object_del(json_array_get(json_object_get(back, "pods"), 0), "uid");
    assert_int_equal(st_proto_pods_parse(back, &id, &got, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "\"uid\""));
    st_error_clear(&err);
    json_object_set_new(back, "pods", json_object());
    assert_int_equal(st_proto_pods_parse(back, &id, &got, &err), -EPROTO);
    st_error_clear(&err);
    _cleanup_json_ json_t *bad = NULL;
    assert_int_equal(st_proto_pods_build(1, NULL, &bad, &err), -EINVAL);
    assert_null(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_partial_lines),
        cmocka_unit_test(test_reader_too_long),
        cmocka_unit_test(test_reader_fill),
        cmocka_unit_test(test_decode_bad_lines),
        cmocka_unit_test(test_encode_seq_monotonic),
        cmocka_unit_test(test_hello_heartbeat),
        cmocka_unit_test(test_pod_messages),
        cmocka_unit_test(test_pods_digest),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_services),
        cmocka_unit_test(test_ipv4_parse),
        cmocka_unit_test(test_pods_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
