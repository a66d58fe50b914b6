/* test_proc.c: a child that reset its signal state execs with nothing
 * blocked and nothing ignored, whatever its parent had set up; and a child
 * held by _cleanup_pid_ is killed and reaped when its scope ends. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/proc.h"
#include "testutil.h"

static void test_reset_signals(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        st_proc_reset_signals();
        sigset_t now;
        sigprocmask(SIG_SETMASK, NULL, &now);
        struct sigaction pipe_sa, int_sa;
        sigaction(SIGPIPE, NULL, &pipe_sa);
        sigaction(SIGINT, NULL, &int_sa);
        int ok = !sigismember(&now, SIGTERM) && !sigismember(&now, SIGUSR1) &&
                 pipe_sa.sa_handler == SIG_DFL && int_sa.sa_handler == SIG_DFL;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static pid_t leave_scope_early(void)
{
    _cleanup_pid_ pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    return pid; /* the copy returned; the child dies with the scope */
}

static void test_cleanup_pid(void **state)
{
    (void)state;
    pid_t pid = leave_scope_early();
    assert_true(pid > 0);
    /* reaped already: no such child any more */
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);

    _cleanup_pid_ pid_t kept = fork();
    if (kept == 0)
        _exit(7);
    int st = 0;
    assert_int_equal(waitpid(kept, &st, 0), kept);
    assert_int_equal(WEXITSTATUS(st), 7);
    pid_t was = kept;
    assert_int_equal(st_steal_pid(&kept), was);
    assert_int_equal(kept, -1); /* nothing left to kill at the end of scope */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_signals),
        cmocka_unit_test(test_cleanup_pid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
