/* hooks.c: one OCI hook is one short-lived process: the state goes in on a
 * memfd (a file, so a hook that never reads stdin cannot block us, and any
 * size fits), its output goes to another memfd (kept for the error message,
 * as runc does, so a failing hook says why), and a pidfd bounds the wait by
 * the hook's timeout. Everything here is a plain system call on memory the
 * caller owns: the container's process runs createContainer and
 * startContainer hooks after a raw clone from a possibly threaded parent,
 * where malloc is not safe. */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata/clock.h"
#include "strata/proc.h"

/* How much of a failing hook's output the message quotes (its end). */
#define OUTPUT_TAIL 240

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A memfd holding the state with "pid" first, read from the start. */
static int state_fd(const struct st_hook_state *state)
{
    int fd = memfd_create("strata-hook-state", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    const char *json = state->json;
    int ok;
    if (state->pid > 0) {
        char head[32];
        int n = snprintf(head, sizeof(head), "{\"pid\":%d,", state->pid);
        ok = write_all(fd, head, (size_t)n) == 0 && write_all(fd, json + 1, strlen(json + 1)) == 0;
    } else {
        ok = write_all(fd, json, strlen(json)) == 0;
    }
    if (!ok || lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The end of what the hook printed, on one line, quotes made harmless. */
static void output_tail(int fd, char *buf, size_t size)
{
    buf[0] = '\0';
    off_t end = lseek(fd, 0, SEEK_END);
    if (end <= 0 || size < 8)
        return;
    size_t want = size - 1 < OUTPUT_TAIL ? size - 1 : OUTPUT_TAIL;
    off_t from = end > (off_t)want ? end - (off_t)want : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - from), from);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < ' ' || buf[i] == '"' || buf[i] == 0x7f)
            buf[i] = ' ';
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
}

/* Waits for pid up to timeout_s (0 = no limit). false when it still runs. */
static bool wait_bounded(pid_t pid, int timeout_s, int *status)
{
    long long deadline = timeout_s > 0 ? st_clock_ms() + (long long)timeout_s * 1000 : 0;
    int pfd = pidfd_open(pid, 0);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            if (pfd >= 0)
                close(pfd);
            return true;
        }
        int left = -1;
        if (deadline) {
            long long ms = deadline - st_clock_ms();
            if (ms <= 0)
                break;
            left = ms > 1000 ? 1000 : (int)ms;
        }
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            poll(&p, 1, left);
        } else {
            /* No pidfd (a kernel before 5.3): look again in 10 ms. */
            struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (pfd >= 0)
        close(pfd);
    return false;
}

static __attribute__((noreturn)) void hook_child(const struct st_oci_hook *hk, int in, int out,
                                                 char *const *env)
{
    setpgid(0, 0);
    st_proc_reset_signals();
    /* Above 2 first, so dup2 never finds its target already in place (and
     * close-on-exec still set). */
    int in2 = fcntl(in, F_DUPFD, 3), out2 = fcntl(out, F_DUPFD, 3);
    if (in2 < 0 || out2 < 0 || dup2(in2, 0) < 0 || dup2(out2, 1) < 0 || dup2(out2, 2) < 0)
        _exit(127);
    close_range(3, ~0U, 0);
    execve(hk->path, hk->args, env);
    char msg[512];
    int e = errno;
    int n = snprintf(msg, sizeof(msg), "cannot execute %s: %s\n", hk->path,
                     strerrordesc_np(e) ? strerrordesc_np(e) : "unknown error");
    if (write(2, msg, (size_t)n) < 0)
        _exit(127);
    _exit(127);
}

static int run_one(const struct st_oci_hook *hk, enum st_oci_hook_kind kind, size_t index,
                   const char *where, const struct st_hook_state *state, char *const *default_env,
                   st_error *err)
{
    const char *name = st_oci_hook_names[kind];
    int in = state_fd(state);
    if (in < 0)
        return st_error_sys(err, errno, "%s: hooks.%s[%zu] %s: cannot pass it the state", where,
                            name, index, hk->path);
    int out = memfd_create("strata-hook-output", MFD_CLOEXEC);
    if (out < 0) {
        int e = errno;
        close_fd(&in);
        return st_error_sys(err, e, "%s: hooks.%s[%zu] %s: cannot capture its output", where, name,
                            index, hk->path);
    }
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        hook_child(hk, in, out, hk->env ? hk->env : default_env);
    int e = errno;
    close_fd(&in);
    if (pid < 0) {
        close_fd(&out);
        return st_error_sys(err, e, "%s: hooks.%s[%zu] %s: cannot start it", where, name, index,
                            hk->path);
    }
    /* Also here, so a kill right after the clone already finds the group. */
    setpgid(pid, pid);
    int status = 0;
    bool done = wait_bounded(pid, hk->timeout, &status);
    if (!done) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    char tail[OUTPUT_TAIL + 1];
    output_tail(out, tail, sizeof(tail));
    close_fd(&out);
    char cause[96];
    if (!done)
        snprintf(cause, sizeof(cause), "still running after its timeout of %d s: killed",
                 hk->timeout);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    else if (WIFEXITED(status))
        snprintf(cause, sizeof(cause), "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(cause, sizeof(cause), "killed by signal %d (SIG%s)", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(cause, sizeof(cause), "ended with wait status 0x%x", (unsigned)status);
    if (tail[0])
        return st_error_set(err, done ? EIO : ETIMEDOUT,
                            "%s: hooks.%s[%zu] %s: %s (it printed \"%s\")", where, name, index,
                            hk->path, cause, tail);
    return st_error_set(err, done ? EIO : ETIMEDOUT, "%s: hooks.%s[%zu] %s: %s", where, name, index,
                        hk->path, cause);
}

int st_hooks_run(const struct st_oci_hooks *hooks, enum st_oci_hook_kind kind, const char *where,
                 const struct st_hook_state *state, char *const *default_env, st_hook_warn_fn warn,
                 void *warn_data, st_error *err)
{
    static char *const empty_env[] = {NULL};
    if (hooks == NULL)
        return 0;
    for (size_t i = 0; i < hooks->n[kind]; i++) {
        st_error e = {0};
        int r = run_one(&hooks->list[kind][i], kind, i, where, state,
                        default_env ? default_env : empty_env, &e);
        if (r == 0)
            continue;
        if (warn == NULL)
            return st_error_set(err, e.code, "%s", e.msg);
        warn(warn_data, e.msg);
    }
    return 0;
}
