/* namespaces.c: joining linux.namespaces given by path and cloning the
 * container's process. setns(2) of a pid namespace only places the
 * caller's future children there, and setns of a mount or user namespace
 * needs a single-threaded caller: a forked helper does the joining (its
 * namespace changes die with it, never touching the creator, which may be
 * strata-node with its threads), then clones the container's process with
 * CLONE_PARENT so the creator still reaps it. */
#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/cleanup.h"

static const struct {
    int type;
    const char *name;
} ns_names[] = {
    {CLONE_NEWPID, "pid"},       {CLONE_NEWNET, "network"}, {CLONE_NEWNS, "mount"},
    {CLONE_NEWIPC, "ipc"},       {CLONE_NEWUTS, "uts"},     {CLONE_NEWUSER, "user"},
    {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWTIME, "time"},
};

static const char *ns_name(int type)
{
    for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++)
        if (ns_names[i].type == type)
            return ns_names[i].name;
    return "unknown";
}

int st_ns_check(const struct st_oci_config *c, st_error *err)
{
    for (size_t i = 0; i < c->n_namespaces; i++) {
        const struct st_oci_namespace *ns = &c->namespaces[i];
        if (ns->path == NULL)
            continue;
        _cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return st_error_sys(err, errno,
                                "%s: linux.namespaces[%zu].path %s: cannot open it (is the "
                                "process or bind mount that holds it still there?)",
                                c->where, i, ns->path);
        int type = ioctl(fd, NS_GET_NSTYPE);
        if (type < 0)
            return st_error_set(err, EINVAL,
                                "%s: linux.namespaces[%zu].path %s: not a namespace file: give "
                                "/proc/PID/ns/%s or a bind mount of one",
                                c->where, i, ns->path, ns->type == CLONE_NEWNET ? "net" : "TYPE");
        if (type != ns->type)
            return st_error_set(err, EINVAL,
                                "%s: linux.namespaces[%zu].path %s: is a %s namespace, not a %s "
                                "one: fix the type or the path",
                                c->where, i, ns->path, ns_name(type), ns_name(ns->type));
    }
    return 0;
}

/* What the helper reports: the container process's pid, or why not. */
struct spawn_msg {
    pid_t pid;
    int placed; /* born in its cgroup (CLONE_INTO_CGROUP) */
    int code;
    char text[ST_ERROR_MSG_MAX];
};

static void helper_report(int fd, const st_error *e, pid_t pid, bool placed)
{
    struct spawn_msg m = {
        .pid = pid, .placed = placed, .code = e ? (e->code ? e->code : EINVAL) : 0};
    if (e)
        snprintf(m.text, sizeof(m.text), "%s", e->msg);
    ssize_t n;
    while ((n = write(fd, &m, sizeof(m))) < 0 && errno == EINTR)
        ;
}

/* clone(2) with flags (SIGCHLD in them), or with cgroup_fd >= 0 first
 * clone3 into that v2 cgroup: *placed says which. Any clone3 failure (an
 * old kernel, no permission on the cgroup from a joined user namespace)
 * falls back to clone, whose error is the one to report. */
static pid_t clone_into(unsigned long flags, int cgroup_fd, bool *placed)
{
    *placed = false;
    if (cgroup_fd >= 0) {
        struct clone_args ca;
        memset(&ca, 0, sizeof(ca));
        ca.flags = (uint64_t)(flags & ~(unsigned long)CSIGNAL) | CLONE_INTO_CGROUP;
        /* clone3 refuses an exit signal with CLONE_PARENT: the child
         * gets its parent's (the helper's SIGCHLD), as clone(2) does then */
        ca.exit_signal = (flags & CLONE_PARENT) ? 0 : flags & CSIGNAL;
        ca.cgroup = (uint64_t)cgroup_fd;
        pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid >= 0) {
            *placed = pid > 0;
            return pid;
        }
    }
    return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
}

static __attribute__((noreturn)) void helper_run(const struct st_oci_config *c, unsigned long flags,
                                                 int cgroup_fd, void (*child)(void *), void *arg,
                                                 int fd)
{
    st_error e = {0};
    int fds[16];
    size_t n = c->n_namespaces < 16 ? c->n_namespaces : 16;
    /* Open every path first: joining a mount namespace changes what later
     * paths would resolve to. */
    for (size_t i = 0; i < n; i++) {
        fds[i] = -1;
        if (c->namespaces[i].path &&
            (fds[i] = open(c->namespaces[i].path, O_RDONLY | O_CLOEXEC)) < 0) {
            st_error_sys(&e, errno, "%s: linux.namespaces[%zu].path %s: cannot open it", c->where,
                         i, c->namespaces[i].path);
            helper_report(fd, &e, 0, false);
            _exit(1);
        }
    }
    /* The user namespace last: the others may belong to the host's, which
     * we could no longer enter from inside it. */
    for (int user_pass = 0; user_pass < 2; user_pass++) {
        for (size_t i = 0; i < n; i++) {
            const struct st_oci_namespace *ns = &c->namespaces[i];
            if (fds[i] < 0 || (ns->type == CLONE_NEWUSER) != user_pass)
                continue;
            if (setns(fds[i], ns->type) < 0) {
                st_error_sys(&e, errno,
                             "%s: linux.namespaces[%zu].path %s: cannot join the %s namespace%s",
                             c->where, i, ns->path, ns_name(ns->type),
                             ns->type == CLONE_NEWPID
                                 ? " (a pid namespace must be the creator's or below it)"
                                 : "");
                helper_report(fd, &e, 0, false);
                _exit(1);
            }
            close(fds[i]);
            fds[i] = -1;
        }
    }
    bool placed;
    pid_t pid = clone_into(flags | CLONE_PARENT, cgroup_fd, &placed);
    if (pid == 0) {
        close(fd);
        child(arg);
    }
    if (pid < 0) {
        st_error_sys(&e, errno, "%s: linux.namespaces: clone in the joined namespaces failed%s",
                     c->where,
                     errno == ENOMEM && (c->ns_joined & CLONE_NEWPID)
                         ? " (the joined pid namespace has no init left)"
                         : "");
        helper_report(fd, &e, 0, false);
        _exit(1);
    }
    helper_report(fd, NULL, pid, placed);
    _exit(0);
}

int st_ns_spawn_into(const struct st_oci_config *c, int cgroup_fd, void (*child)(void *arg),
                     void *arg, pid_t *out, bool *placed, st_error *err)
{
    unsigned long flags = (unsigned long)(c->ns_flags & ~CLONE_NEWCGROUP) | SIGCHLD;
    *placed = false;
    if (c->ns_joined == 0) {
        pid_t pid = clone_into(flags, cgroup_fd, placed);
        if (pid < 0)
            return st_error_sys(err, errno, "%s: linux.namespaces: clone failed", c->where);
        if (pid == 0)
            child(arg);
        *out = pid;
        return 0;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return st_error_sys(err, errno, "pipe");
    pid_t helper = fork();
    if (helper < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return st_error_sys(err, e, "fork of the namespace helper");
    }
    if (helper == 0) {
        close(p[0]);
        helper_run(c, flags, cgroup_fd, child, arg, p[1]);
    }
    close(p[1]);
    struct spawn_msg m;
    ssize_t n;
    while ((n = read(p[0], &m, sizeof(m))) < 0 && errno == EINTR)
        ;
    close(p[0]);
    /* Reap the helper (ECHILD: a process-wide reaper was faster). */
    while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(m))
        return st_error_set(err, EIO, "%s: linux.namespaces: the helper joining them died",
                            c->where);
    if (m.code != 0)
        return st_error_set(err, m.code, "%s", m.text);
    *out = m.pid;
    *placed = m.placed != 0;
    return 0;
}
