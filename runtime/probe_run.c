/* probe_run.c: running one probe without blocking the caller: a short-lived
 * child joins the container's network namespace (setns changes the calling
 * thread, so the agent itself never does it), runs the handler and writes one
 * result record to a pipe. The caller polls the pipe, then finishes or
 * cancels. Every child is killed (with its process group) and reaped. */
#include "probe_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "strata/cleanup.h"

/* Beyond the probe's own timeout, a stuck child is ended by SIGALRM. */
#define BACKSTOP_EXTRA_S 5

struct st_probe_run {
    pid_t pid;
    int fd;
    bool exec; /* the child runs st_exec, which has helpers of its own */
};

long long st_probe_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void st_probe_result_set(struct st_probe_result *res, bool success, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->success = success;
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

static void job_release(struct st_probe_job *job)
{
    free(job->request);
    free(job->url);
    job->request = job->url = NULL;
}

static void write_result(int fd, const struct st_probe_result *res)
{
    ssize_t n;
    do
        n = write(fd, res, sizeof(*res));
    while (n < 0 && errno == EINTR);
}

static void reap(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* The child: never returns. */
static void run_child(const struct st_probe_job *job, pid_t parent, int netfd, int out)
{
    /* The caller's event loop may block signals or catch them: start clean. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGALRM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    /* Its own process group, so cancel also ends what an exec probe started. */
    setpgid(0, 0);
    alarm((unsigned)(job->timeout_ms / 1000 + BACKSTOP_EXTRA_S));

    struct st_probe_result res = {0};
    if (netfd >= 0 && setns(netfd, CLONE_NEWNET) < 0) {
        char why[128];
        st_probe_errstr(errno, why, sizeof(why));
        st_probe_result_set(&res, false, "cannot join the network namespace of pid %d: %s",
                            (int)job->target, why);
    } else if (job->spec->handler == ST_PROBE_HANDLER_TCP) {
        st_probe_tcp_child(job, &res);
    } else if (job->spec->handler == ST_PROBE_HANDLER_HTTP) {
        st_probe_http_child(job, &res);
    } else {
        st_probe_exec_child(job, &res);
    }
    write_result(out, &res);
    _exit(0);
}

int st_probe_start(const struct st_probe_spec *spec, pid_t container_pid, const char *cgroup,
                   struct st_probe_run **out, int *fd_out, st_error *err)
{
    /* Readiness accepts every field the others do (any successThreshold). */
    int r = st_probe_spec_validate(spec, ST_PROBE_READINESS, err);
    if (r < 0)
        return r;
    if (container_pid < 0 || (spec->handler == ST_PROBE_HANDLER_EXEC && container_pid == 0))
        return st_error_set(err, EINVAL,
                            "probe target pid %d: give the pid of a process in the container",
                            (int)container_pid);

    struct st_probe_job job = {
        .spec = spec,
        .target = container_pid,
        .cgroup = cgroup,
        .timeout_ms = st_probe_spec_timeout_s(spec) * 1000,
    };
    if (spec->handler == ST_PROBE_HANDLER_TCP)
        r = st_probe_tcp_prepare(&job, err);
    else if (spec->handler == ST_PROBE_HANDLER_HTTP)
        r = st_probe_http_prepare(&job, err);
    if (r < 0) {
        job_release(&job);
        return r;
    }

    _cleanup_close_ int netfd = -1;
    if (spec->handler != ST_PROBE_HANDLER_EXEC && container_pid > 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)container_pid);
        netfd = open(path, O_RDONLY | O_CLOEXEC);
        if (netfd < 0) {
            job_release(&job);
            return st_error_sys(err, errno, "probe target: open %s (has the container exited?)",
                                path);
        }
    }

    _cleanup_free_ struct st_probe_run *run = calloc(1, sizeof(*run));
    int fds[2];
    if (run == NULL || pipe2(fds, O_CLOEXEC) < 0) {
        int code = run == NULL ? ENOMEM : errno;
        job_release(&job);
        return st_error_sys(err, code, "probe: allocating the result pipe");
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int code = errno;
        close(fds[0]);
        close(fds[1]);
        job_release(&job);
        return st_error_sys(err, code, "probe: fork");
    }
    if (pid == 0) {
        close(fds[0]);
        run_child(&job, parent, netfd, fds[1]);
    }
    close(fds[1]);
    job_release(&job);
    /* Also from the parent, so a cancel right after start hits the group. */
    setpgid(pid, pid);
    run->pid = pid;
    run->fd = fds[0];
    run->exec = spec->handler == ST_PROBE_HANDLER_EXEC;
    *fd_out = run->fd;
    *out = st_steal_ptr(&run);
    return 0;
}

static const char *describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (stuck past its timeout)" : "");
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    return buf;
}

int st_probe_finish(struct st_probe_run *run, bool *success, char *msg, size_t msglen,
                    st_error *err)
{
    struct st_probe_result res;
    ssize_t n;
    do
        n = read(run->fd, &res, sizeof(res));
    while (n < 0 && errno == EINTR);
    int read_errno = errno;
    close(run->fd);
    int status = 0;
    reap(run->pid, &status);
    free(run);

    *success = false;
    if (msg && msglen)
        msg[0] = '\0';
    if (n < 0)
        return st_error_sys(err, read_errno, "probe: reading the result");
    if (n != (ssize_t)sizeof(res)) {
        char why[64];
        return st_error_set(err, EIO, "probe runner %s without a result",
                            describe_status(status, why, sizeof(why)));
    }
    res.message[sizeof(res.message) - 1] = '\0';
    *success = res.success != 0;
    if (msg && msglen)
        snprintf(msg, msglen, "%s", res.message);
    return 0;
}

/* st_exec puts its helper in a process group of its own, so killing the
 * run's group misses it (and the probe command under it). Freeze the run
 * child, so it cannot start another, then kill the group of each child. */
static void kill_exec_helpers(pid_t pid)
{
    if (kill(pid, SIGSTOP) < 0)
        return;
    siginfo_t si;
    while (waitid(P_PID, pid, &si, WSTOPPED | WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    int child;
    while (f != NULL && fscanf(f, "%d", &child) == 1) {
        if (child <= 0)
            continue;
        kill(-child, SIGKILL);
        kill(child, SIGKILL);
    }
}

void st_probe_cancel(struct st_probe_run *run)
{
    if (run == NULL)
        return;
    if (run->exec)
        kill_exec_helpers(run->pid);
    kill(-run->pid, SIGKILL);
    kill(run->pid, SIGKILL);
    close(run->fd);
    reap(run->pid, NULL);
    free(run);
}

int st_probe_run_sync(const struct st_probe_spec *spec, pid_t container_pid, const char *cgroup,
                      bool *success, char *msg, size_t msglen, st_error *err)
{
    struct st_probe_run *run = NULL;
    int fd = -1;
    int r = st_probe_start(spec, container_pid, cgroup, &run, &fd, err);
    if (r < 0)
        return r;
    /* No deadline here: the child ends itself (timeout, then SIGALRM). */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
        ;
    return st_probe_finish(run, success, msg, msglen, err);
}
