/* itest_change_tail.c: two servers on one REAL PostgreSQL (pg_embedded in a
 * temporary state dir, stopped in the group teardown, which cmocka runs
 * also when a test fails), each with its own store connection and
 * shared_store on, as two stratad on two hosts: what one writes reaches
 * the other's watch ring and kicks the other's loop; each ring holds every
 * change once (its own writes too, through the feed, never twice), and
 * both rings hold the same changes in the same order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "fake_vmm.h"
#include "change_tail.h"
#include "server_priv.h"
#include "fake_server.h"
#include "watch_ring.h"
#include "../store/pg_fx.h"
#include "strata/store_changes.h"
#include "strata/cleanup.h"
#include "strata/store.h"

typedef struct host {
    struct fake_vmm *vmm;
    struct st_server *d;
} host;

static struct {
    pg_fx db;
    host a, b;
} fx;

static int group_teardown(void **state);

static int host_open(host *h)
{
    st_error err = {0};
    st_store *store = NULL;
    h->vmm = fake_vmm_new();
    if (h->vmm == NULL || pg_fx_open(&fx.db, true, &store) < 0)
        return -1;
    st_server_config cfg = {.state_dir = "/nonexistent",
                            .socket_path = "/nonexistent/strata.sock",
                            .node_image = "/nonexistent/image",
                            .images_dir = "/nonexistent/images",
                            .shared_store = true};
    if (st_server_new(&cfg, store, fake_vmm_seam(h->vmm), &h->d, &err) < 0) {
        fprintf(stderr, "st_server_new: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void host_close(host *h)
{
    if (h->d)
        st_server_stop(h->d);
    st_server_close(h->d);
    fake_vmm_free(h->vmm);
    *h = (host){0};
}

static int group_setup(void **state)
{
    if (pg_fx_start(&fx.db, "strata-tailtest") < 0 || host_open(&fx.a) < 0 || host_open(&fx.b) < 0)
        return pg_fx_setup_failed(state, group_teardown);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    host_close(&fx.a);
    host_close(&fx.b);
    pg_fx_stop(&fx.db);
    return 0;
}

typedef struct reach {
    struct st_server *d;
    unsigned long long rv;
} reach;

static bool ring_reached(void *arg)
{
    reach *r = arg;
    return st_server_watch_head(r->d) >= r->rv;
}

/* Waits (bounded) until d's ring holds rv; asserts it did. */
static void await_ring(struct st_server *d, unsigned long long rv)
{
    reach r = {d, rv};
    assert_true(st_test_wait_until(ring_reached, &r, 10000, 5));
}

/* The ring's events after `after`: [[rv, type, name], ...]. */
static json_t *ring_events(struct st_server *d, unsigned long long after)
{
    uint64_t cursor = 0;
    unsigned long long oldest = 0, head = 0;
    assert_int_equal(st_server_watch_from(d, after, &cursor, &oldest), 0);
    json_t *out = json_array();
    for (;;) {
        st_watch_event ev[64];
        size_t n = 0;
        assert_int_equal(st_server_watch_copy(d, &cursor, ev, 64, &n, &head), 0);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(out,
                                  json_pack("[I, s, s]", (json_int_t)ev[i].rv, ev[i].type,
                                            json_string_value(json_object_get(
                                                json_object_get(ev[i].obj, "metadata"), "name"))));
            st_watch_event_clear(&ev[i]);
        }
        if (n == 0)
            return out;
    }
}

/* Empties d's kick counter; true when it had been kicked. */
static bool kicked(struct st_server *d)
{
    uint64_t v = 0;
    return read(st_server_kick_fd(d), &v, sizeof(v)) == (ssize_t)sizeof(v) && v > 0;
}

static bool kicked_cond(void *arg)
{
    return kicked(arg);
}

static void test_other_host_write_reaches_ring_and_loop(void **state)
{
    (void)state;
    assert_non_null(fx.b.d);
    st_error err = {0};
    unsigned long long start = st_server_watch_head(fx.b.d);
    while (kicked(fx.b.d)) {
    }
    _cleanup_json_ json_t *p = fake_server_pod("tail-1");
    _cleanup_json_ json_t *out = NULL;
    assert_int_equal(st_store_create(fx.a.d->store, p, &out, &err), 0);
    await_ring(fx.b.d, fake_server_rv(out));
    /* B's loop is kicked by A's write */
    assert_true(st_test_wait_until(kicked_cond, fx.b.d, 10000, 5));
    _cleanup_json_ json_t *ev = ring_events(fx.b.d, start);
    assert_int_equal(json_array_size(ev), 1);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(ev, 0), 0)),
                     fake_server_rv(out));
    assert_string_equal(json_string_value(json_array_get(json_array_get(ev, 0), 1)), "ADDED");
    assert_string_equal(json_string_value(json_array_get(json_array_get(ev, 0), 2)), "tail-1");
    /* A's ring has its own write once (through the feed, not the hook too) */
    await_ring(fx.a.d, fake_server_rv(out));
    _cleanup_json_ json_t *own = ring_events(fx.a.d, start);
    assert_int_equal(json_array_size(own), 1);
}

/* Both write, interleaved: both rings end with the same events, in rising
 * order, each once. */
static void test_rings_agree(void **state)
{
    (void)state;
    assert_non_null(fx.a.d);
    st_error err = {0};
    unsigned long long start = st_server_watch_head(fx.a.d);
    if (st_server_watch_head(fx.b.d) > start)
        start = st_server_watch_head(fx.b.d);
    unsigned long long last = 0;
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "agree-%d", i);
        _cleanup_json_ json_t *p = fake_server_pod(name);
        _cleanup_json_ json_t *out = NULL;
        st_store *s = (i % 2 ? fx.a.d : fx.b.d)->store;
        assert_int_equal(st_store_create(s, p, &out, &err), 0);
        last = fake_server_rv(out);
        if (i % 3 == 0 && i < 39) { /* the last write is a create: `last` */
            assert_int_equal(st_store_delete(s, "Pod", "default", name, NULL, &err), 0);
        }
    }
    await_ring(fx.a.d, last);
    await_ring(fx.b.d, last);
    _cleanup_json_ json_t *ea = ring_events(fx.a.d, start);
    _cleanup_json_ json_t *eb = ring_events(fx.b.d, start);
    /* 40 creates and 13 deletes */
    assert_int_equal(json_array_size(ea), 53);
    for (size_t i = 1; i < json_array_size(ea); i++)
        assert_true(json_integer_value(json_array_get(json_array_get(ea, i), 0)) >
                    json_integer_value(json_array_get(json_array_get(ea, i - 1), 0)));
    if (!json_equal(ea, eb)) {
        char *x = json_dumps(ea, JSON_COMPACT), *y = json_dumps(eb, JSON_COMPACT);
        fprintf(stderr, "rings differ:\n A %s\n B %s\n", x, y);
        free(x);
        free(y);
        fail();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_host_write_reaches_ring_and_loop),
        cmocka_unit_test(test_rings_agree),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
