/* test_relay.c: the relay engine end to end, in one process, on real
 * loopback TCP: relays of both sides joined by socketpairs (standing in for
 * a node's data port) and backend servers on 127.0.0.1:0. Covers the data
 * path of a Service (listener -> channel -> backend), retries over targets,
 * OPENs resolved by the host (direct and spliced to another node), flow
 * control on a large transfer, half close, resets when a channel goes, the
 * stream limit, unlisten, and a malformed frame. Every wait is a poll loop
 * with a deadline. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "strata/relay.h"
#include "testutil.h"

#define WAIT_MS 10000

/* ---- a backend: echoes as it reads, or (after_eof) only once the client
 * closed its side, to prove a half close travels ---- */

#define SRV_CONNS 32
struct server {
    int fd, port;
    bool after_eof;
    atomic_bool stop;
    atomic_int accepted;
    pthread_t thread;
    pthread_t conns[SRV_CONNS];
    int nconns;
};

struct conn_arg {
    struct server *srv;
    int fd;
};

static void *serve_conn(void *arg)
{
    struct conn_arg *c = arg;
    struct server *srv = c->srv;
    int fd = c->fd;
    free(c);
    char *held = NULL;
    size_t nheld = 0;
    char buf[65536];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (atomic_load(&srv->stop))
            break;
        if (pr <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            if (n == 0 && srv->after_eof && nheld)
                assert_int_equal(write(fd, held, nheld), (ssize_t)nheld);
            break;
        }
        if (srv->after_eof) {
            held = realloc(held, nheld + (size_t)n);
            memcpy(held + nheld, buf, (size_t)n);
            nheld += (size_t)n;
            continue;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                goto out;
            off += w;
        }
    }
out:
    free(held);
    close(fd);
    return NULL;
}

static void *serve(void *arg)
{
    struct server *srv = arg;
    while (!atomic_load(&srv->stop)) {
        struct pollfd p = {.fd = srv->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(srv->fd, NULL, NULL);
        if (fd < 0 || srv->nconns == SRV_CONNS) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        atomic_fetch_add(&srv->accepted, 1);
        struct conn_arg *c = malloc(sizeof(*c));
        c->srv = srv;
        c->fd = fd;
        pthread_create(&srv->conns[srv->nconns++], NULL, serve_conn, c);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void server_start(struct server *srv, bool after_eof)
{
    memset(srv, 0, sizeof(*srv));
    srv->after_eof = after_eof;
    srv->fd = listen_any(&srv->port);
    assert_int_equal(listen(srv->fd, 64), 0);
    assert_int_equal(pthread_create(&srv->thread, NULL, serve, srv), 0);
}

static void server_stop(struct server *srv)
{
    atomic_store(&srv->stop, true);
    pthread_join(srv->thread, NULL);
    for (int i = 0; i < srv->nconns; i++)
        pthread_join(srv->conns[i], NULL);
    close(srv->fd);
}

static void addr_of(char out[ST_RELAY_ADDR_MAX], int port)
{
    snprintf(out, ST_RELAY_ADDR_MAX, "127.0.0.1:%d", port);
}

/* ---- picks: a fixed list of targets, and the resolves of each side ---- */

struct picker {
    struct st_relay_target t[4];
    int n;
    atomic_int calls;
};

static void target(struct picker *p, const char *channel, const char *addr)
{
    snprintf(p->t[p->n].channel, ST_RELAY_NAME_MAX, "%s", channel);
    snprintf(p->t[p->n].addr, ST_RELAY_ADDR_MAX, "%s", addr);
    p->n++;
}

static int pick_list(void *opaque, const char *key, const char *from, struct st_relay_target *out,
                     int max, st_error *err)
{
    (void)key;
    (void)from;
    struct picker *p = opaque;
    atomic_fetch_add(&p->calls, 1);
    if (p->n == 0)
        return st_error_set(err, ENOENT, "service has no ready endpoint");
    int n = p->n < max ? p->n : max;
    memcpy(out, p->t, sizeof(*out) * (size_t)n);
    return n;
}

/* A guest: the backend is an address it reaches itself. */
static int resolve_direct(void *opaque, const char *key, const char *from,
                          struct st_relay_target *out, int max, st_error *err)
{
    (void)opaque;
    (void)from;
    (void)max;
    (void)err;
    out[0].channel[0] = '\0';
    snprintf(out[0].addr, ST_RELAY_ADDR_MAX, "%s", key);
    return 1;
}

/* The host: loopback directly, anything else on to node "B". */
static int resolve_host(void *opaque, const char *key, const char *from,
                        struct st_relay_target *out, int max, st_error *err)
{
    (void)opaque;
    (void)max;
    if (from == NULL)
        return st_error_set(err, EINVAL, "resolve without a channel");
    snprintf(out[0].addr, ST_RELAY_ADDR_MAX, "%s", key);
    snprintf(out[0].channel, ST_RELAY_NAME_MAX, "%s",
             strncmp(key, "127.", 4) == 0 && strcmp(from, "A") != 0 ? "" : "B");
    return 1;
}

/* ---- relays ---- */

static st_relay *relay(enum st_relay_side side, st_relay_pick_fn resolve, unsigned max_streams)
{
    struct st_relay_config cfg = {.side = side, .resolve = resolve, .max_streams = max_streams};
    st_relay *r = NULL;
    st_error err = {0};
    if (st_relay_new(&cfg, &r, &err) < 0)
        fail_msg("st_relay_new: %s", err.msg);
    return r;
}

/* host's channel `name` <-> guest's channel "host" */
static void join(st_relay *host, const char *name, st_relay *guest)
{
    int sv[2];
    st_error err = {0};
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(st_relay_channel_add(host, name, sv[0], &err), 0);
    assert_int_equal(st_relay_channel_add(guest, "host", sv[1], &err), 0);
}

static int listen_on(st_relay *r, const char *key, struct picker *p)
{
    st_error err = {0};
    if (st_relay_listen(r, key, "127.0.0.1:0", pick_list, p, &err) < 0)
        fail_msg("listen: %s", err.msg);
    int port = st_relay_listener_port(r, key);
    assert_true(port > 0);
    return port;
}

/* ---- a client ---- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Sends n bytes while reading the echo; true when all came back equal. */
static bool round_trip(int fd, const uint8_t *data, size_t n)
{
    uint8_t *got = malloc(n);
    size_t sent = 0, recvd = 0;
    long long deadline = st_test_now_ms() + WAIT_MS;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (recvd < n && st_test_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0)};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (p.revents & POLLOUT) {
            ssize_t w = send(fd, data + sent, n - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, got + recvd, n - recvd);
            if (r <= 0 && !(r < 0 && errno == EAGAIN))
                break;
            if (r > 0)
                recvd += (size_t)r;
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    bool ok = recvd == n && memcmp(got, data, n) == 0;
    free(got);
    return ok;
}

/* Reads until EOF or an error (returned as -errno), at most cap bytes. */
static ssize_t read_to_end(int fd, char *buf, size_t cap, size_t *got)
{
    long long deadline = st_test_now_ms() + WAIT_MS;
    *got = 0;
    while (st_test_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + *got, cap - *got);
        if (r == 0)
            return 0;
        if (r < 0)
            return -errno;
        *got += (size_t)r;
        if (*got == cap)
            return 1;
    }
    return -ETIMEDOUT;
}

#define STAT(field)                                                                                \
    static bool stat_##field(void *arg)                                                            \
    {                                                                                              \
        struct stat_wait *w = arg;                                                                 \
        struct st_relay_stats s;                                                                   \
        st_relay_stats(w->r, &s);                                                                  \
        return s.field == w->want;                                                                 \
    }
struct stat_wait {
    st_relay *r;
    uint64_t want;
};
STAT(active)
STAT(failed)
STAT(refused_limit)

static bool wait_stat(bool (*cond)(void *), st_relay *r, uint64_t want)
{
    struct stat_wait w = {r, want};
    return st_test_wait_until(cond, &w, WAIT_MS, 5);
}

struct chan_wait {
    st_relay *r;
    const char *name;
};
static bool chan_is_down(void *arg)
{
    struct chan_wait *w = arg;
    return !st_relay_channel_up(w->r, w->name);
}

/* ---- cases ---- */

static void test_listener_to_channel_1mib(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port);
    target(&p, "g1", a);
    int port = listen_on(host, "default/quote:80", &p);

    size_t n = 1 << 20;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 11));
    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(round_trip(fd, data, n));
    close(fd);
    free(data);

    assert_true(wait_stat(stat_active, host, 0));
    assert_true(wait_stat(stat_active, guest, 0));
    struct st_relay_stats hs, gs;
    st_relay_stats(host, &hs);
    st_relay_stats(guest, &gs);
    assert_int_equal(hs.accepted, 1);
    assert_int_equal(hs.connected, 1);
    assert_int_equal(hs.retried, 0);
    assert_int_equal(hs.listeners, 1);
    assert_int_equal(gs.opened, 1);
    assert_int_equal(gs.connected, 1);
    assert_int_equal(atomic_load(&p.calls), 1);
    st_relay_free(host);
    st_relay_free(guest);
    server_stop(&srv);
}

static void test_retry_next_target(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    int rport;
    int reserved = listen_any(&rport); /* bound, not listening: refused */
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    struct picker p = {0};
    char good[ST_RELAY_ADDR_MAX], bad[ST_RELAY_ADDR_MAX];
    addr_of(good, srv.port);
    addr_of(bad, rport);
    target(&p, "", bad);   /* refused here */
    target(&p, "g1", bad); /* refused in the guest: OPEN_FAIL */
    target(&p, "g1", good);
    int port = listen_on(host, "svc", &p);

    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(round_trip(fd, (const uint8_t *)"hello", 5));
    close(fd);
    assert_true(wait_stat(stat_active, host, 0));
    struct st_relay_stats hs, gs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.retried, 2);
    assert_int_equal(hs.connected, 1);
    assert_int_equal(hs.failed, 0);
    assert_true(wait_stat(stat_failed, guest, 1)); /* the refused OPEN */
    st_relay_stats(guest, &gs);
    assert_int_equal(gs.opened, 2);
    assert_int_equal(atomic_load(&srv.accepted), 1);
    st_relay_free(host);
    st_relay_free(guest);
    close(reserved);
    server_stop(&srv);
}

static void test_all_targets_fail(void **state)
{
    (void)state;
    int rport;
    int reserved = listen_any(&rport);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    struct picker p = {0};
    char bad[ST_RELAY_ADDR_MAX];
    addr_of(bad, rport);
    target(&p, "", bad);
    target(&p, "g1", bad);
    target(&p, "nosuch", bad);
    int port = listen_on(host, "svc", &p);

    int fd = dial(port);
    assert_true(fd >= 0);
    /* the relay may have reset it already: either way nothing comes back */
    (void)send(fd, "x", 1, MSG_NOSIGNAL);
    char buf[16];
    size_t got;
    ssize_t rc = read_to_end(fd, buf, sizeof(buf), &got);
    assert_true(rc == 0 || rc == -ECONNRESET);
    assert_int_equal(got, 0);
    close(fd);
    assert_true(wait_stat(stat_failed, host, 1));
    assert_true(wait_stat(stat_active, host, 0));

    /* no endpoint at all: the pick's error, at once */
    struct picker none = {0};
    port = listen_on(host, "empty", &none);
    fd = dial(port);
    assert_true(fd >= 0);
    rc = read_to_end(fd, buf, sizeof(buf), &got);
    assert_true(rc == 0 || rc == -ECONNRESET);
    close(fd);
    assert_true(wait_stat(stat_failed, host, 2));
    st_relay_free(host);
    st_relay_free(guest);
    close(reserved);
}

static void test_open_resolved_by_host(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, resolve_host, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    /* a pod reaching a Service whose Endpoints are on the host */
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port);
    target(&p, "host", a);
    int port = listen_on(guest, "default/quote-db:5432", &p);

    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(round_trip(fd, (const uint8_t *)"select 1", 8));
    close(fd);
    assert_true(wait_stat(stat_active, host, 0));
    struct st_relay_stats hs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.opened, 1);
    assert_int_equal(hs.connected, 1);
    st_relay_free(host);
    st_relay_free(guest);
    server_stop(&srv);
}

static void test_host_splices_nodes(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, resolve_host, 0);
    st_relay *ga = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    st_relay *gb = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "A", ga);
    join(host, "B", gb);
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port); /* stands for a pod address on node B */
    target(&p, "host", a);
    int port = listen_on(ga, "default/quote:80", &p);

    size_t n = 300000; /* over a window, both hops */
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i ^ (i >> 9));
    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(round_trip(fd, data, n));
    close(fd);
    free(data);
    assert_true(wait_stat(stat_active, host, 0));
    assert_true(wait_stat(stat_active, gb, 0));
    struct st_relay_stats hs, bs;
    st_relay_stats(host, &hs);
    st_relay_stats(gb, &bs);
    assert_int_equal(hs.opened, 1);
    assert_int_equal(hs.connected, 1);
    assert_int_equal(bs.opened, 1);
    assert_int_equal(bs.connected, 1);
    st_relay_free(ga);
    st_relay_free(host);
    st_relay_free(gb);
    server_stop(&srv);
}

static void test_channel_removed_resets_client(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port);
    target(&p, "g1", a);
    int port = listen_on(host, "svc", &p);

    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(round_trip(fd, (const uint8_t *)"before", 6));
    assert_true(st_relay_channel_up(host, "g1"));
    st_relay_channel_remove(host, "g1");
    assert_false(st_relay_channel_up(host, "g1"));
    char buf[16];
    size_t got;
    assert_int_equal(read_to_end(fd, buf, sizeof(buf), &got), -ECONNRESET);
    close(fd);
    assert_true(wait_stat(stat_active, host, 0));
    /* the guest saw its channel close and let go of the backend */
    struct chan_wait w = {guest, "host"};
    assert_true(st_test_wait_until(chan_is_down, &w, WAIT_MS, 5));
    assert_true(wait_stat(stat_active, guest, 0));
    st_relay_free(host);
    st_relay_free(guest);
    server_stop(&srv);
}

static void test_max_streams(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, false);
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 2);
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port);
    target(&p, "", a);
    int port = listen_on(host, "svc", &p);

    int fd1 = dial(port), fd2 = dial(port);
    assert_true(round_trip(fd1, (const uint8_t *)"one", 3));
    assert_true(round_trip(fd2, (const uint8_t *)"two", 3));
    int fd3 = dial(port);
    assert_true(fd3 >= 0);
    char buf[16];
    size_t got;
    ssize_t rc = read_to_end(fd3, buf, sizeof(buf), &got);
    assert_true(rc == 0 || rc == -ECONNRESET);
    assert_true(wait_stat(stat_refused_limit, host, 1));
    struct st_relay_stats hs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.active, 2);
    close(fd3);
    close(fd1);
    assert_true(wait_stat(stat_active, host, 1));
    /* room again */
    fd3 = dial(port);
    assert_true(round_trip(fd3, (const uint8_t *)"three", 5));
    close(fd3);
    close(fd2);
    assert_true(wait_stat(stat_active, host, 0));
    st_relay_free(host);
    server_stop(&srv);
}

static void test_unlisten_closes_port(void **state)
{
    (void)state;
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    struct picker p = {0};
    st_error err = {0};
    /* any 127/8 address is local on Linux */
    assert_int_equal(st_relay_listen(host, "lb", "127.1.0.5:0", pick_list, &p, &err), 0);
    int port = st_relay_listener_port(host, "lb");
    assert_true(port > 0);
    char addr[ST_RELAY_ADDR_MAX];
    snprintf(addr, sizeof(addr), "127.1.0.5:%d", port);
    /* the same address again under another key is in use */
    st_error e2 = {0};
    assert_int_equal(st_relay_listen(host, "other", addr, pick_list, &p, &e2), -EADDRINUSE);
    assert_non_null(strstr(e2.msg, addr));
    /* and under the same key it is kept */
    assert_int_equal(st_relay_listen(host, "lb", addr, pick_list, &p, &err), 0);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    assert_int_equal(st_relay_addr_parse(addr, false, &sa, &err), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    st_relay_unlisten(host, "lb");
    assert_int_equal(st_relay_listener_port(host, "lb"), -ENOENT);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
    struct st_relay_stats hs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.listeners, 0);
    st_relay_unlisten(host, "lb"); /* nothing: no error */
    st_relay_free(host);
}

static void test_malformed_frame_closes_channel(void **state)
{
    (void)state;
    st_relay *host = relay(ST_RELAY_SIDE_HOST, resolve_direct, 0);
    static const struct {
        uint8_t type, flags;
        uint32_t id, len;
    } bad[] = {
        {ST_RELAY_DATA, 1, 0x80000001u, 0},            /* flags set */
        {9, 0, 0x80000001u, 0},                        /* unknown type */
        {ST_RELAY_OPEN, 0, 5, 14},                     /* an id of the host's own side */
        {ST_RELAY_DATA, 0, 1, ST_RELAY_FRAME_MAX + 1}, /* too long */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int sv[2];
        st_error err = {0};
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(st_relay_channel_add(host, "g1", sv[0], &err), 0);
        assert_true(st_relay_channel_up(host, "g1"));
        uint8_t f[ST_RELAY_HDR_LEN + 14];
        st_relay_frame_encode(f, bad[i].id, bad[i].type, bad[i].len);
        f[5] = bad[i].flags;
        memcpy(f + ST_RELAY_HDR_LEN, "127.0.0.1:9999", 14);
        size_t n = bad[i].type == ST_RELAY_OPEN ? sizeof(f) : ST_RELAY_HDR_LEN;
        assert_int_equal(write(sv[1], f, n), (ssize_t)n);
        struct chan_wait w = {host, "g1"};
        if (!st_test_wait_until(chan_is_down, &w, WAIT_MS, 5))
            fail_msg("case %zu: the channel stayed up", i);
        char buf[64];
        size_t got;
        assert_int_equal(read_to_end(sv[1], buf, sizeof(buf), &got), 0); /* EOF */
        close(sv[1]);
    }
    struct st_relay_stats hs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.opened, 0);
    st_relay_free(host);
}

static void test_half_close(void **state)
{
    (void)state;
    struct server srv;
    server_start(&srv, true); /* answers only after the client's EOF */
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    st_relay *guest = relay(ST_RELAY_SIDE_GUEST, resolve_direct, 0);
    join(host, "g1", guest);
    struct picker p = {0};
    char a[ST_RELAY_ADDR_MAX];
    addr_of(a, srv.port);
    target(&p, "g1", a);
    int port = listen_on(host, "svc", &p);

    int fd = dial(port);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "ping", 4), 4);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    char buf[16];
    size_t got;
    assert_int_equal(read_to_end(fd, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "ping", 4);
    close(fd);
    assert_true(wait_stat(stat_active, host, 0));
    assert_true(wait_stat(stat_active, guest, 0));
    struct st_relay_stats hs;
    st_relay_stats(host, &hs);
    assert_int_equal(hs.failed, 0);
    st_relay_free(host);
    st_relay_free(guest);
    server_stop(&srv);
}

static void test_open_refused_without_resolve(void **state)
{
    (void)state;
    st_relay *host = relay(ST_RELAY_SIDE_HOST, NULL, 0);
    int sv[2];
    st_error err = {0};
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(st_relay_channel_add(host, "g1", sv[0], &err), 0);
    uint8_t f[ST_RELAY_HDR_LEN + 14];
    st_relay_frame_encode(f, 0x80000007u, ST_RELAY_OPEN, 14);
    memcpy(f + ST_RELAY_HDR_LEN, "127.0.0.1:9999", 14);
    assert_int_equal(write(sv[1], f, sizeof(f)), (ssize_t)sizeof(f));
    uint8_t h[ST_RELAY_HDR_LEN];
    struct pollfd pfd = {.fd = sv[1], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
    assert_int_equal(read(sv[1], h, sizeof(h)), (ssize_t)sizeof(h));
    struct st_relay_frame fr;
    assert_int_equal(st_relay_frame_decode(h, &fr, &err), 0);
    assert_int_equal(fr.type, ST_RELAY_OPEN_FAIL);
    assert_int_equal(fr.id, 0x80000007u);
    assert_true(fr.len > 0);
    assert_true(st_relay_channel_up(host, "g1")); /* a refusal, not a fault */
    close(sv[1]);
    st_relay_free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listener_to_channel_1mib),
        cmocka_unit_test(test_retry_next_target),
        cmocka_unit_test(test_all_targets_fail),
        cmocka_unit_test(test_open_resolved_by_host),
        cmocka_unit_test(test_host_splices_nodes),
        cmocka_unit_test(test_channel_removed_resets_client),
        cmocka_unit_test(test_max_streams),
        cmocka_unit_test(test_unlisten_closes_port),
        cmocka_unit_test(test_malformed_frame_closes_channel),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_open_refused_without_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
