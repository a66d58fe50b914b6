/* test_node_pool.c: the start slots node boots wait for (node_pool.c):
 * never more boots at once than slots, every waiter gets its turn, a
 * closed pool sends its waiters away with ECANCELED, and the bound follows
 * the host's cores within [1, ST_SERVER_NODE_POOL_MAX]. */
#include "server_priv.h"
#include "testutil.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 8

struct bench {
    struct st_server_node_pool pool;
    atomic_int inside, inside_max, done, refused;
    atomic_bool release; /* the holders leave once set */
};

static void *worker(void *arg)
{
    struct bench *b = arg;
    st_error err = {0};
    if (st_server_node_pool_enter(&b->pool, &err) < 0) {
        assert_int_equal(err.code, ECANCELED);
        atomic_fetch_add(&b->refused, 1);
        return NULL;
    }
    int now = atomic_fetch_add(&b->inside, 1) + 1;
    int max = atomic_load(&b->inside_max);
    while (now > max && !atomic_compare_exchange_weak(&b->inside_max, &max, now))
        ;
    while (!atomic_load(&b->release)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL); /* a boot holding its slot until told */
    }
    atomic_fetch_sub(&b->inside, 1);
    st_server_node_pool_leave(&b->pool);
    atomic_fetch_add(&b->done, 1);
    return NULL;
}

static bool slots_full_rest_waiting(void *arg)
{
    struct bench *b = arg;
    unsigned busy = 0, waiting = 0;
    st_server_node_pool_stats(&b->pool, &busy, &waiting, NULL);
    return busy == 2 && waiting == WORKERS - 2;
}

static void test_bounded_then_all_served(void **state)
{
    (void)state;
    struct bench b = {0};
    st_server_node_pool_init(&b.pool, 2);
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &b), 0);
    /* two hold a slot, six wait: none gets in while the two hold theirs */
    assert_true(st_test_wait_until(slots_full_rest_waiting, &b, 10000, 5));
    assert_int_equal(atomic_load(&b.inside), 2);
    atomic_store(&b.release, true);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&b.done), WORKERS);
    assert_int_equal(atomic_load(&b.refused), 0);
    assert_int_equal(atomic_load(&b.inside_max), 2);
    unsigned busy = 9, busy_max = 0;
    st_server_node_pool_stats(&b.pool, &busy, NULL, &busy_max);
    assert_int_equal(busy, 0);
    assert_int_equal(busy_max, 2);
    st_server_node_pool_destroy(&b.pool);
}

static bool one_waits(void *arg)
{
    struct bench *b = arg;
    unsigned waiting = 0;
    st_server_node_pool_stats(&b->pool, NULL, &waiting, NULL);
    return waiting == 1;
}

static bool one_refused(void *arg)
{
    struct bench *b = arg;
    return atomic_load(&b->refused) == 1;
}

static void test_close_sends_waiters_away(void **state)
{
    (void)state;
    struct bench b = {0};
    st_server_node_pool_init(&b.pool, 1);
    pthread_t holder, waiter;
    assert_int_equal(pthread_create(&holder, NULL, worker, &b), 0);
    assert_int_equal(pthread_create(&waiter, NULL, worker, &b), 0);
    assert_true(st_test_wait_until(one_waits, &b, 10000, 5));
    st_server_node_pool_close(&b.pool);
    /* either thread may be the one that got the slot */
    assert_true(st_test_wait_until(one_refused, &b, 10000, 5));
    assert_int_equal(atomic_load(&b.done), 0);
    /* the boot that held its slot finishes as usual */
    atomic_store(&b.release, true);
    pthread_join(holder, NULL);
    pthread_join(waiter, NULL);
    assert_int_equal(atomic_load(&b.refused), 1);
    assert_int_equal(atomic_load(&b.done), 1);
    st_error err = {0};
    assert_int_equal(st_server_node_pool_enter(&b.pool, &err), -ECANCELED);
    assert_non_null(strstr(err.msg, "stopping"));
    st_server_node_pool_destroy(&b.pool);
}

static void test_bound_from_cores(void **state)
{
    (void)state;
    assert_int_equal(st_server_node_pool_bound(0), 1);
    assert_int_equal(st_server_node_pool_bound(-1), 1);
    assert_int_equal(st_server_node_pool_bound(2), 2);
    assert_int_equal(st_server_node_pool_bound(1024), ST_SERVER_NODE_POOL_MAX);
    /* slots 0: the online cores */
    struct st_server_node_pool p;
    st_server_node_pool_init(&p, 0);
    assert_int_equal(p.slots, st_server_node_pool_bound(sysconf(_SC_NPROCESSORS_ONLN)));
    st_server_node_pool_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_then_all_served),
        cmocka_unit_test(test_close_sends_waiters_away),
        cmocka_unit_test(test_bound_from_cores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
