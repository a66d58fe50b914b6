/* test_node_self_fence.c: unit tests of strata-node's self-fence
 * (runtime/node/self_fence.c): the deadline rule as a pure function, and
 * the watchdog thread on real child processes standing in for containers
 * (no containers, no host channel: the unread-bytes probe is a fake). The
 * children are killed and reaped by the teardown whatever happens. */
#include "testutil.h"

#include "node.h"
#include "strata/clock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS   1000000LL
#define KIDS 3

struct fx {
    struct st_node_self_fence *f;
    pid_t pid[KIDS];
    int pidfd[KIDS];
    /* the fake probe, called from the watchdog thread */
    _Atomic int unread; /* what it answers */
    _Atomic int unread_calls;
    _Atomic bool unread_grows; /* each call reports more bytes than the last */
};

static int fake_unread(void *ctx)
{
    struct fx *x = ctx;
    x->unread_calls++;
    if (x->unread_grows)
        x->unread++;
    return x->unread;
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -1;
    for (int i = 0; i < KIDS; i++) {
        x->pidfd[i] = -1;
        x->pid[i] = fork();
        if (x->pid[i] < 0)
            return -1;
        if (x->pid[i] == 0) {
            for (;;)
                pause();
        }
        x->pidfd[i] = pidfd_open(x->pid[i], 0);
        if (x->pidfd[i] < 0)
            return -1;
    }
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    st_node_self_fence_free(x->f);
    for (int i = 0; i < KIDS; i++) {
        if (x->pid[i] > 0) {
            kill(x->pid[i], SIGKILL);
            waitpid(x->pid[i], NULL, 0);
        }
        if (x->pidfd[i] >= 0)
            close(x->pidfd[i]);
    }
    free(x);
    return 0;
}

static void start(struct fx *x, int64_t grace_ms)
{
    st_error err = {0};
    assert_int_equal(st_node_self_fence_new(grace_ms, fake_unread, x, &x->f, &err), 0);
}

/* The watchdog fired within timeout_ms: *fire filled. */
static bool wait_fire(struct fx *x, int timeout_ms, struct st_node_fence_fire *fire)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - st_test_now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = st_node_self_fence_wake_fd(x->f), .events = POLLIN};
        assert_true(poll(&p, 1, (int)left) >= 0);
        if (p.revents & POLLIN)
            return st_node_self_fence_take(x->f, fire);
        if (left == 0)
            return false;
    }
}

/* Child i ended (by SIGKILL) within timeout_ms; reaps it. */
static bool child_killed(struct fx *x, int i, int timeout_ms)
{
    struct pollfd p = {.fd = x->pidfd[i], .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return false;
    int status = 0;
    assert_int_equal(waitpid(x->pid[i], &status, 0), x->pid[i]);
    x->pid[i] = 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static bool child_alive(struct fx *x, int i)
{
    struct pollfd p = {.fd = x->pidfd[i], .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

/* ---- tests ------------------------------------------------------------ */

/* The rule: silent once grace_ms passed since the host was heard, never
 * with grace 0 (off) or a clock that seems to go back. */
static void test_host_silent(void **state)
{
    (void)state;
    int64_t last = 5000 * MS;
    assert_false(st_node_host_silent(last, last + 10000 * MS, 0));
    assert_false(st_node_host_silent(last, last, 2000));
    assert_false(st_node_host_silent(last, last + 2000 * MS - 1, 2000));
    assert_true(st_node_host_silent(last, last + 2000 * MS, 2000));
    assert_true(st_node_host_silent(last, last + 3600 * 1000 * MS, 2000));
    assert_false(st_node_host_silent(last, last - 1, 1));
    assert_false(st_node_host_silent(last, 0, 1));
    assert_true(st_node_host_silent(0, 3600000 * MS, 3600000));
    assert_false(st_node_host_silent(0, 3600000 * MS - 1, 3600000));
    assert_false(st_node_host_silent(last, last + 100 * MS, -5));
}

/* A silent host: at the deadline every tracked process is SIGKILLed (two
 * pods, three processes), the loop is woken with what happened, and an
 * untracked process is left alone. */
static void test_fires_and_kills(void **state)
{
    struct fx *x = *state;
    int64_t t0 = st_clock_ns();
    start(x, 300);
    st_node_self_fence_track(x->f, &x->pid[0], x->pidfd[0], "pod-a");
    st_node_self_fence_track(x->f, &x->pid[1], x->pidfd[1], "pod-a");
    st_node_self_fence_track(x->f, &x->pid[2], x->pidfd[2], "pod-b");
    st_node_self_fence_untrack(x->f, &x->pid[2]);
    st_node_self_fence_track(x->f, &x->pid[2], x->pidfd[2], "pod-b");
    assert_true(child_alive(x, 0));

    struct st_node_fence_fire fire = {0};
    assert_true(wait_fire(x, 3000, &fire));
    assert_int_equal(fire.epoch, 1);
    assert_int_equal(fire.grace_ms, 300);
    assert_int_equal(fire.killed, 3);
    assert_int_equal(fire.pods, 2);
    assert_true(fire.deadline_ns >= t0 + 300 * MS);
    assert_true(fire.fired_ns >= fire.deadline_ns);
    /* the watchdog keeps its deadline within a few ms when idle; 500 ms is
     * the bound a loaded 2-core host must still meet */
    assert_true(fire.fired_ns - fire.deadline_ns < 500 * MS);
    assert_true(fire.silent_ms >= 300);
    for (int i = 0; i < KIDS; i++)
        assert_true(child_killed(x, i, 1000));
    print_message("fired %.2f ms after the deadline; %d processes of %d pods killed\n",
                  (double)(fire.fired_ns - fire.deadline_ns) / 1e6, fire.killed, fire.pods);
    /* taken once */
    assert_false(st_node_self_fence_take(x->f, &fire));
}

/* A host heard more often than its grace keeps the pods; so does grace 0
 * however long it is silent; both bounded. */
static void test_heard_keeps_pods(void **state)
{
    struct fx *x = *state;
    start(x, 200);
    st_node_self_fence_track(x->f, &x->pid[0], x->pidfd[0], "pod-a");
    struct st_node_fence_fire fire;
    long long until = st_test_now_ms() + 800;
    while (st_test_now_ms() < until) {
        assert_false(st_node_self_fence_heard(x->f, st_clock_ns()));
        /* 50 ms of the watchdog's silence between two messages */
        assert_false(wait_fire(x, 50, &fire));
    }
    assert_true(child_alive(x, 0));

    st_node_self_fence_set_grace(x->f, 0);
    assert_int_equal(st_node_self_fence_grace(x->f), 0);
    assert_false(wait_fire(x, 500, &fire));
    assert_true(child_alive(x, 0));
    /* on again: the silence counts from the last time the host was heard */
    st_node_self_fence_set_grace(x->f, 100);
    assert_true(wait_fire(x, 2000, &fire));
    assert_true(child_killed(x, 0, 1000));
}

/* While a fence is in force a new process is killed as it is tracked;
 * the host speaking ends it (once), and then processes live again. */
static void test_in_force_until_heard(void **state)
{
    struct fx *x = *state;
    start(x, 100);
    struct st_node_fence_fire fire;
    assert_true(wait_fire(x, 2000, &fire));
    assert_int_equal(fire.killed, 0);
    assert_int_equal(fire.pods, 0);
    assert_true(st_node_self_fence_track(x->f, &x->pid[0], x->pidfd[0], "late"));
    assert_true(child_killed(x, 0, 1000));
    st_node_self_fence_untrack(x->f, &x->pid[0]);

    assert_true(st_node_self_fence_heard(x->f, st_clock_ns()));
    assert_false(st_node_self_fence_heard(x->f, st_clock_ns()));
    assert_false(st_node_self_fence_track(x->f, &x->pid[1], x->pidfd[1], "after"));
    assert_true(child_alive(x, 1));
    /* silent again: a second firing */
    assert_true(wait_fire(x, 2000, &fire));
    assert_int_equal(fire.epoch, 2);
    assert_int_equal(fire.killed, 1);
    assert_true(child_killed(x, 1, 1000));
}

/* Bytes the loop has not read yet count as the host speaking while more
 * keep arriving; stale ones (the same count look after look) do not. */
static void test_unread_bytes(void **state)
{
    struct fx *x = *state;
    x->unread_grows = true;
    start(x, 100);
    st_node_self_fence_track(x->f, &x->pid[0], x->pidfd[0], "busy");
    struct st_node_fence_fire fire;
    assert_false(wait_fire(x, 600, &fire));
    assert_true(x->unread_calls >= 3);
    assert_true(child_alive(x, 0));
    x->unread_grows = false; /* the host died; its last bytes wait unread */
    assert_true(wait_fire(x, 2000, &fire));
    assert_true(child_killed(x, 0, 1000));
}

/* A channel that is readable but cannot count (virtio-serial) always
 * counts as the host speaking: the fence waits for the loop to read. */
static void test_unread_uncounted(void **state)
{
    struct fx *x = *state;
    x->unread = INT_MAX;
    start(x, 100);
    st_node_self_fence_track(x->f, &x->pid[0], x->pidfd[0], "busy");
    struct st_node_fence_fire fire;
    assert_false(wait_fire(x, 500, &fire));
    assert_true(child_alive(x, 0));
    x->unread = 0;
    assert_true(wait_fire(x, 2000, &fire));
    assert_true(child_killed(x, 0, 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_silent),
        cmocka_unit_test_setup_teardown(test_fires_and_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heard_keeps_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_force_until_heard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unread_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unread_uncounted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
