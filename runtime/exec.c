/* exec.c: runs a command inside a running container (strata-run exec, exec
 * probes) by joining the namespaces, root and cgroup of one of its processes
 * and copying its capabilities and no_new_privs. It never changes the
 * container itself. Two forks: setns(CLONE_NEWPID) only applies to children. */
#include "strata/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_path.h"
#include "strata/cgroup.h"
#include "strata/cleanup.h"
#include "strata/proc.h"

void st_exec_path(char *const *argv, char *const *env)
{
    const char *path = NULL;
    for (char *const *e = env; e && *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    if (strchr(argv[0], '/')) {
        execve(argv[0], argv, env);
        return;
    }
    if (path == NULL)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int saved = ENOENT;
    char buf[4096];
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len == 0)
            snprintf(buf, sizeof(buf), "%s", argv[0]);
        else
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, argv[0]);
        execve(buf, argv, env);
        if (errno == EACCES)
            saved = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR)
            saved = errno;
        path += len + (colon ? 1 : 0);
    }
    errno = saved;
}

/* Joined in this order: user first (it grants the rights for the rest),
 * mnt last (the /proc paths are the host's until then). */
static const struct {
    const char *name;
    int type;
} ns_order[] = {{"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
                {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
                {"mnt", CLONE_NEWNS}};
#define NS_COUNT (sizeof(ns_order) / sizeof(ns_order[0]))

struct target_caps {
    uint64_t inh, prm, eff, bnd, amb;
    bool nnp;
};

static int read_target_caps(pid_t pid, struct target_caps *t)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    memset(t, 0, sizeof(*t));
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "CapInh: %llx", &v) == 1)
            t->inh = v;
        else if (sscanf(line, "CapPrm: %llx", &v) == 1)
            t->prm = v;
        else if (sscanf(line, "CapEff: %llx", &v) == 1)
            t->eff = v;
        else if (sscanf(line, "CapBnd: %llx", &v) == 1)
            t->bnd = v;
        else if (sscanf(line, "CapAmb: %llx", &v) == 1)
            t->amb = v;
        else if (sscanf(line, "NoNewPrivs: %llu", &v) == 1)
            t->nnp = v != 0;
    }
    return 0;
}

static int apply_caps(const struct target_caps *t, uid_t uid, gid_t gid)
{
    cap_value_t max = cap_max_bits();
    for (cap_value_t v = 0; v < max && v < 64; v++)
        if (!(t->bnd & (1ULL << v)) && cap_drop_bound(v) < 0 && errno != EINVAL)
            return -1;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || (setgroups(0, NULL) < 0 && errno != EPERM) ||
        setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
        return -1;
    cap_t caps = cap_init();
    if (caps == NULL)
        return -1;
    for (cap_value_t v = 0; v < max && v < 64; v++) {
        if (t->prm & (1ULL << v))
            cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
        if (t->eff & (1ULL << v))
            cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
        if (t->inh & (1ULL << v))
            cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET);
    }
    int r = cap_set_proc(caps);
    cap_free(caps);
    if (r < 0)
        return -1;
    for (cap_value_t v = 0; v < max && v < 64; v++)
        if ((t->amb & (1ULL << v)) && cap_set_ambient(v, CAP_SET) < 0)
            return -1;
    if (t->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return 0;
}

/* The first fork: joins everything, forks the command, exits with its status. */
static __attribute__((noreturn)) void joiner_run(const struct st_exec_opts *o, int sync_fd,
                                                 const int ns_fds[NS_COUNT], int root_fd,
                                                 const struct target_caps *caps)
{
    char b;
    if (read(sync_fd, &b, 1) != 1)
        _exit(125);
    for (size_t i = 0; i < NS_COUNT; i++)
        if (ns_fds[i] >= 0 && setns(ns_fds[i], ns_order[i].type) < 0) {
            dprintf(2, "strata exec: cannot join the %s namespace of %d: %s\n", ns_order[i].name,
                    (int)o->target, strerror(errno));
            _exit(125);
        }
    /* The container may live under a chroot (initramfs hosts): take its root. */
    if (fchdir(root_fd) < 0 || chroot(".") < 0) {
        dprintf(2, "strata exec: cannot enter the root of %d: %s\n", (int)o->target,
                strerror(errno));
        _exit(125);
    }
    pid_t pid = fork();
    if (pid < 0)
        _exit(125);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        int fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
        for (int i = 0; i < 3; i++) {
            int fd = fds[i] >= 0 ? fds[i] : open("/dev/null", O_RDWR);
            if (fd >= 0 && fd != i)
                dup2(fd, i);
        }
        const char *cwd = o->cwd ? o->cwd : "/";
        if (chdir(cwd) < 0) {
            dprintf(2, "strata exec: cwd %s: %s\n", cwd, strerror(errno));
            _exit(126);
        }
        if (apply_caps(caps, o->uid, o->gid) < 0) {
            dprintf(2, "strata exec: cannot take the container's user and capabilities: %s\n",
                    strerror(errno));
            _exit(126);
        }
        static char *const default_env[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        st_proc_reset_signals();
        st_exec_path(o->argv, o->envp ? o->envp : default_env);
        int e = errno;
        dprintf(2, "strata exec: %s: %s\n", o->argv[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            _exit(125);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static int wait_child(pid_t pid, int timeout_ms, int *status, st_error *err)
{
    _cleanup_close_ int pfd = pidfd_open(pid, 0);
    if (pfd >= 0 && timeout_ms > 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int n;
        while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        if (n == 0) {
            /* The command shares the joiner's process group (set below). */
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return st_error_set(err, ETIMEDOUT, "exec in %d: timed out after %d ms", (int)pid,
                                timeout_ms);
        }
    }
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return st_error_sys(err, errno, "waitpid");
    return 0;
}

int st_exec(const struct st_exec_opts *o, int *exit_status, st_error *err)
{
    if (o->argv == NULL || o->argv[0] == NULL)
        return st_error_set(err, EINVAL, "exec: no command given");
    int ns_fds[NS_COUNT];
    for (size_t i = 0; i < NS_COUNT; i++)
        ns_fds[i] = -1;
    int r = 0;
    _cleanup_close_ int root_fd = -1;
    struct st_cgroup *cg = NULL;
    struct target_caps caps;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/root", (int)o->target);
    if ((root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        read_target_caps(o->target, &caps) < 0) {
        r = st_error_sys(err, errno, "exec: the container process %d is gone (is it running?)",
                         (int)o->target);
        goto out;
    }
    for (size_t i = 0; i < NS_COUNT; i++) {
        char self[64];
        struct stat a, b;
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)o->target, ns_order[i].name);
        snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_order[i].name);
        if (stat(path, &a) < 0 || stat(self, &b) < 0)
            continue;
        if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            continue; /* already there: setns would be refused for user */
        if ((ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            r = st_error_sys(err, errno, "exec: cannot open %s", path);
            goto out;
        }
    }
    if (o->cgroup && (r = st_cgroup_open(o->cgroup, &cg, err)) < 0)
        goto out;
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) < 0) {
        r = st_error_sys(err, errno, "pipe");
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        r = st_error_sys(err, errno, "fork");
        close(sp[0]);
        close(sp[1]);
        goto out;
    }
    if (pid == 0) {
        close(sp[1]);
        setpgid(0, 0);
        joiner_run(o, sp[0], ns_fds, root_fd, &caps);
    }
    close(sp[0]);
    setpgid(pid, pid);
    if (cg && (r = st_cgroup_attach(cg, pid, err)) < 0) {
        close(sp[1]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto out;
    }
    if (write(sp[1], "g", 1) != 1)
        r = st_error_sys(err, errno, "exec: the helper process died");
    close(sp[1]);
    int status = 0;
    int w = wait_child(pid, o->timeout_ms, &status, err);
    if (r == 0)
        r = w;
    if (r == 0)
        *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
    for (size_t i = 0; i < NS_COUNT; i++)
        if (ns_fds[i] >= 0)
            close(ns_fds[i]);
    st_cgroup_free(cg);
    return r;
}
