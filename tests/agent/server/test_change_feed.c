/* test_change_feed.c: the watch ring's side of the shared store's change
 * feed (change_tail.c), on the in-memory store: once the feed drives the
 * ring, the store's hook no longer appends (it only notes this process's
 * versions), the feed appends each change once, in order, telling this
 * process's writes from another host's, and drops a change not newer than
 * the ring's newest. The in-memory store has no feed: the tail refuses to
 * start on it, and says why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "change_tail.h"
#include "fake_server.h"
#include "watch_ring.h"
#include "strata/cleanup.h"
#include "strata/store_changes.h"

/* The versions of the events the ring holds after rv. */
static size_t ring_rvs(struct fake_server *fs, unsigned long long after, unsigned long long *out,
                       size_t max)
{
    uint64_t cursor = 0;
    unsigned long long oldest = 0, head = 0;
    assert_int_equal(st_server_watch_from(fs->d, after, &cursor, &oldest), 0);
    st_watch_event ev[16];
    size_t n = 0;
    assert_int_equal(st_server_watch_copy(fs->d, &cursor, ev, 16, &n, &head), 0);
    for (size_t i = 0; i < n; i++) {
        if (i < max)
            out[i] = ev[i].rv;
        st_watch_event_clear(&ev[i]);
    }
    return n;
}

static void test_feed_drives_the_ring(void **state)
{
    struct fake_server *fs = *state;
    st_error err = {0};
    unsigned long long start = st_server_watch_head(fs->d);
    st_server_watch_set_external(fs->d, true);

    /* this process writes: the hook notes it, the ring waits for the feed */
    _cleanup_json_ json_t *p = fake_server_pod("fed-1");
    _cleanup_json_ json_t *mine = NULL;
    assert_int_equal(st_store_create(fs->d->store, p, &mine, &err), 0);
    unsigned long long rvs[16];
    assert_int_equal(ring_rvs(fs, start, rvs, 16), 0);
    assert_int_equal(st_server_watch_head(fs->d), start);

    /* the feed hands it on: appended once, as this process's own */
    assert_int_equal(st_server_watch_feed(fs->d, "ADDED", mine), 1);
    assert_int_equal(st_server_watch_feed(fs->d, "ADDED", mine), 0); /* not newer: dropped */

    /* another host's change, newer: appended, as another's */
    _cleanup_json_ json_t *theirs = json_deep_copy(mine);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", fake_server_rv(mine) + 5);
    json_object_set_new(json_object_get(theirs, "metadata"), "name", json_string("fed-2"));
    json_object_set_new(json_object_get(theirs, "metadata"), "resourceVersion", json_string(rv));
    assert_int_equal(st_server_watch_feed(fs->d, "ADDED", theirs), 2);
    /* an older one arriving late is dropped: the ring's order holds */
    assert_int_equal(st_server_watch_feed(fs->d, "MODIFIED", mine), 0);

    assert_int_equal(ring_rvs(fs, start, rvs, 16), 2);
    assert_int_equal(rvs[0], fake_server_rv(mine));
    assert_int_equal(rvs[1], fake_server_rv(theirs));
    assert_int_equal(st_server_watch_head(fs->d), fake_server_rv(theirs));
}

static void test_no_feed_on_memory_store(void **state)
{
    struct fake_server *fs = *state;
    st_error err = {0};
    unsigned long long rv = 0, last = 0;
    assert_int_equal(st_store_changes_head(fs->d->store, &rv, &err), -ENOTSUP);
    assert_non_null(strstr(err.msg, "no change feed"));
    assert_int_equal(st_store_changes_since(fs->d->store, 0, 1, NULL, NULL, &last, &err), -ENOTSUP);
    assert_int_equal(st_store_changes_wait(fs->d->store, 0, &err), -ENOTSUP);
    assert_int_equal(st_store_changes_trim(fs->d->store, 0, &err), -ENOTSUP);
    st_error e2 = {0};
    assert_int_equal(st_server_change_tail_start(fs->d, &e2), -ENOTSUP);
    assert_null(fs->d->change_tail);
    st_server_change_tail_stop(fs->d); /* not started: a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_drives_the_ring, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_no_feed_on_memory_store, fake_server_setup,
                                        fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
