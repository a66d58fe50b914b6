/* itest_seccomp.c: loads real filters into forked children (as root, with
 * no_new_privs set like a container) and has them try syscalls, reporting
 * errno back over a pipe. Children get a private mount namespace first, so a
 * mount the filter failed to stop can never outlive them. */
#include "testutil.h"
#include "strata/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <linux/sched.h>

extern char **environ;

static char *tmpdir; /* per test, removed in teardown */

static int setup(void **state)
{
    (void)state;
    tmpdir = st_test_mkdtemp("strata-seccomp");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st_test_rmrf(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
    return 0;
}

/* What a child reports: load failed (with the message), or what fn returned. */
struct report {
    int loaded;
    int value; /* fn's result, or the load error code */
    char msg[ST_ERROR_MSG_MAX];
};

enum child_mode { LOAD_WITH_NNP, LOAD_WITHOUT_PRIVILEGE, NO_FILTER };

/* Forks a child that loads s and runs fn; fills rep (rep->loaded < 0 when the
 * child died before reporting) and returns the child's wait status. */
static int run_child(struct st_seccomp *s, enum child_mode mode, int (*fn)(void),
                     struct report *rep)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct report r = {0};
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore); /* SIGSYS would dump core */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(120);
        if (mode == LOAD_WITH_NNP && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(121);
        if (mode == LOAD_WITHOUT_PRIVILEGE) {
            cap_t caps = cap_get_proc();
            cap_value_t admin = CAP_SYS_ADMIN;
            if (caps == NULL || cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) < 0 ||
                cap_set_proc(caps) < 0)
                _exit(122);
            cap_free(caps);
        }
        if (mode != NO_FILTER) {
            st_error err = {0};
            if (st_seccomp_load(s, &err) < 0) {
                r.value = err.code;
                snprintf(r.msg, sizeof(r.msg), "%s", err.msg);
                (void)!write(fds[1], &r, sizeof(r));
                _exit(0);
            }
        }
        r.loaded = 1;
        r.value = fn();
        (void)!write(fds[1], &r, sizeof(r));
        _exit(0);
    }
    close(fds[1]);
    memset(rep, 0, sizeof(*rep));
    rep->loaded = -1;
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    if (poll(&pfd, 1, 30000) <= 0)
        kill(pid, SIGKILL); /* never leave a stuck child behind */
    struct report got;
    if (read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
        *rep = got;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* Asserts the child loaded the filter, exited normally and fn returned want. */
static void expect_child(struct st_seccomp *s, int (*fn)(void), int want, const char *what)
{
    struct report rep;
    int status = run_child(s, LOAD_WITH_NNP, fn, &rep);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: child ended with status 0x%x", what, status);
    if (rep.loaded != 1)
        fail_msg("%s: filter not loaded: %s", what, rep.msg);
    if (rep.value != want)
        fail_msg("%s: got %d (%s), want %d (%s)", what, rep.value, strerror(rep.value), want,
                 strerror(want));
}

static struct st_seccomp *build_text(const char *text)
{
    json_error_t jerr;
    json_t *spec = json_loads(text, 0, &jerr);
    if (spec == NULL)
        fail_msg("test JSON: %s", jerr.text);
    st_error err = {0};
    struct st_seccomp *s = NULL;
    int r = st_seccomp_build(spec, "itest", &s, &err);
    json_decref(spec);
    if (r < 0)
        fail_msg("build: %s", err.msg);
    return s;
}

static struct st_seccomp *build_default(void)
{
    st_error err = {0};
    struct st_seccomp *s = NULL;
    if (st_seccomp_build_default(&s, &err) < 0)
        fail_msg("default profile: %s", err.msg);
    return s;
}

/* ---- what the children try: 0 on success, else errno ---- */

#define ERRNO_OF(expr) ((expr) < 0 ? errno : 0)

static int try_mount(void)
{
    return ERRNO_OF(mount("strata-itest", tmpdir, "tmpfs", 0, "size=64k"));
}

static int try_unshare_user(void)
{
    return ERRNO_OF(unshare(CLONE_NEWUSER));
}

static int try_unshare_mount(void)
{
    return ERRNO_OF(unshare(CLONE_NEWNS));
}

static int try_keyctl(void)
{
    return ERRNO_OF(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

/* A raw clone that, if it wrongly succeeds, must reap its child. */
static int try_clone_user(void)
{
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        waitpid((pid_t)pid, NULL, 0);
        return 0;
    }
    return errno;
}

/* size 0 is invalid: without the filter the kernel says EINVAL, with it ENOSYS */
static int try_clone3(void)
{
    struct clone_args args = {.exit_signal = SIGCHLD};
    return ERRNO_OF(syscall(SYS_clone3, &args, 0));
}

static int try_setns_user(void)
{
    int fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1000 + errno;
    int r = ERRNO_OF(setns(fd, CLONE_NEWUSER));
    close(fd);
    return r;
}

static int try_getpid(void)
{
    return getpid() > 0 ? 0 : 1;
}

static int try_fork(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    if (pid < 0)
        return errno;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 1000 + status;
}

static int try_exec_true(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return errno;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1000 + status;
}

/* glibc's posix_spawn and pthread_create try clone3 first: the ENOSYS must
 * make them fall back to clone. */
static int try_posix_spawn(void)
{
    pid_t pid;
    char *argv[] = {"true", NULL};
    int r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
    if (r != 0)
        return r;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1000 + status;
}

static void *thread_fn(void *arg)
{
    return arg;
}

static int try_thread(void)
{
    pthread_t t;
    int r = pthread_create(&t, NULL, thread_fn, (void *)42);
    if (r != 0)
        return r;
    void *ret = NULL;
    pthread_join(t, &ret);
    return ret == (void *)42 ? 0 : 1;
}

static int try_socket_epoll(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int r = ep < 0 ? errno : 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
    if (r == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0)
        r = errno;
    if (ep >= 0)
        close(ep);
    close(s);
    return r;
}

/* busybox (a shell, a pipe, fork/exec/wait) under the filter */
static int try_busybox_sh(void)
{
    const char *rootfs = getenv("STRATA_TEST_ROOTFS");
    char sh[4096];
    snprintf(sh, sizeof(sh), "%s/bin/busybox", rootfs ? rootfs : "");
    pid_t pid = fork();
    if (pid == 0) {
        execl(sh, "sh", "-c", "echo hi | cat >/dev/null && ls / >/dev/null && exit 3",
              (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return errno;
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? 0 : 1000 + status;
}

static int try_mkdir(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/sub", tmpdir);
    return ERRNO_OF(mkdir(path, 0700));
}

static int try_personality_query(void)
{
    return ERRNO_OF(personality(0xffffffff));
}

static int try_personality_linux(void)
{
    return ERRNO_OF(personality(PER_LINUX));
}

static int try_getppid(void)
{
    return getppid() > 0 ? 0 : 1;
}

/* ---- tests ---- */

static void test_default_denies(void **state)
{
    (void)state;
    struct st_seccomp *s = build_default();
    expect_child(s, try_mount, EPERM, "mount");
    expect_child(s, try_unshare_user, EPERM, "unshare(CLONE_NEWUSER)");
    expect_child(s, try_clone_user, EPERM, "clone(CLONE_NEWUSER)");
    expect_child(s, try_clone3, ENOSYS, "clone3");
    expect_child(s, try_setns_user, EPERM, "setns(CLONE_NEWUSER)");
    expect_child(s, try_keyctl, EPERM, "keyctl");
    st_seccomp_free(s);
}

/* The same calls without a filter do not fail that way: the EPERMs above come
 * from the filter, not from the environment. */
static void test_without_filter_controls(void **state)
{
    (void)state;
    struct report rep;
    int status = run_child(NULL, NO_FILTER, try_mount, &rep);
    assert_true(WIFEXITED(status));
    assert_int_equal(rep.loaded, 1);
    assert_int_equal(rep.value, 0); /* mounted in the child's own namespace */
    run_child(NULL, NO_FILTER, try_clone3, &rep);
    assert_int_equal(rep.value, EINVAL);
    run_child(NULL, NO_FILTER, try_setns_user, &rep);
    assert_int_not_equal(rep.value, EPERM);
}

static void test_default_allows_ordinary_work(void **state)
{
    (void)state;
    struct st_seccomp *s = build_default();
    expect_child(s, try_getpid, 0, "getpid");
    expect_child(s, try_fork, 0, "fork");
    expect_child(s, try_exec_true, 0, "fork + execve /bin/true");
    expect_child(s, try_posix_spawn, 0, "posix_spawn (clone3 fallback)");
    expect_child(s, try_thread, 0, "pthread_create (clone3 fallback)");
    expect_child(s, try_socket_epoll, 0, "socket + epoll");
    expect_child(s, try_unshare_mount, 0, "unshare(CLONE_NEWNS)");
    expect_child(s, try_mkdir, 0, "mkdir");
    expect_child(s, try_busybox_sh, 0, "busybox sh");
    st_seccomp_free(s);
}

static void test_custom_errno(void **state)
{
    (void)state;
    struct st_seccomp *s = build_text(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\","
        " \"flags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\"],"
        " \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\","
        " \"errnoRet\": 13}]}");
    expect_child(s, try_mkdir, EACCES, "mkdir under ERRNO(13)");
    st_seccomp_free(s);
    char path[4096];
    snprintf(path, sizeof(path), "%s/sub", tmpdir);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* really not created */
}

static void test_args_rule(void **state)
{
    (void)state;
    struct st_seccomp *s = build_text(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"personality\"],"
        " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 4294967295,"
        " \"op\": \"SCMP_CMP_EQ\"}]}]}");
    expect_child(s, try_personality_query, EPERM, "personality(0xffffffff)");
    expect_child(s, try_personality_linux, 0, "personality(PER_LINUX)");
    st_seccomp_free(s);
}

static void test_kill_process(void **state)
{
    (void)state;
    struct st_seccomp *s = build_text(
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"getppid\"],"
        " \"action\": \"SCMP_ACT_KILL_PROCESS\"}]}");
    struct report rep;
    int status = run_child(s, LOAD_WITH_NNP, try_getppid, &rep);
    st_seccomp_free(s);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
    assert_int_equal(rep.loaded, -1); /* never reported */
}

/* Without no_new_privs and without CAP_SYS_ADMIN the kernel refuses: the
 * message says what to change. */
static void test_load_needs_privilege(void **state)
{
    (void)state;
    struct st_seccomp *s = build_default();
    struct report rep;
    int status = run_child(s, LOAD_WITHOUT_PRIVILEGE, try_getpid, &rep);
    st_seccomp_free(s);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(rep.value, EACCES);
    assert_non_null(strstr(rep.msg, "no_new_privs or CAP_SYS_ADMIN"));
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_seccomp: needs root (mount namespaces, capabilities)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_denies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_filter_controls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_allows_ordinary_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_errno, setup, teardown),
        cmocka_unit_test_setup_teardown(test_args_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_needs_privilege, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
