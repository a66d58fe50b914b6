/* container.c: the container lifecycle. create validates everything first,
 * then makes state dir, cgroup and a clone(2)d process that sets itself up
 * and waits on ROOT/<id>/exec.fifo right before execve; start opens the FIFO.
 * The process's init IS the user process: no extra init, no re-exec, no
 * shelling out. A socketpair orders parent and child: the parent attaches the
 * child to the cgroup and writes its id maps before the child goes on, and
 * the child reports setup errors back so create can roll everything back. */
#include "strata/container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "exec_path.h"
#include "mounts.h"
#include "namespaces.h"
#include "rlimits.h"
#include "strata/cgroup.h"
#include "strata/cleanup.h"
#include "strata/proc.h"
#include "strata/seccomp.h"
#include "strata/state.h"
#include "strata/time.h"

struct st_container {
    char *root; /* state root */
    struct st_state st;
    struct st_oci_config *owned_config;
    const struct st_oci_config *config; /* NULL when loaded from state */
    struct st_cgroup *cg;               /* NULL until needed when loaded */
    struct st_seccomp *seccomp;
    int sync_fd;    /* parent end of the socketpair, until the process execs */
    bool is_parent; /* the process is our child: waitpid works */
    bool reaped;
    int wait_status;
};

/* What the child reports: code 0 = ready (or, after start, nothing: EOF on execve). */
struct sync_msg {
    int code;
    char text[ST_ERROR_MSG_MAX];
};

void st_container_opts_init(struct st_container_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->stdin_fd = 0;
    opts->stdout_fd = 1;
    opts->stderr_fd = 2;
}

const char *st_container_status_name(enum st_container_status s)
{
    switch (s) {
    case ST_CONTAINER_CREATING:
        return "creating";
    case ST_CONTAINER_CREATED:
        return "created";
    case ST_CONTAINER_RUNNING:
        return "running";
    case ST_CONTAINER_STOPPED:
        return "stopped";
    }
    return "unknown";
}

int st_signal_parse(const char *s, st_error *err)
{
    if (s == NULL || *s == '\0')
        return st_error_set(err, EINVAL, "signal: empty: give a name (TERM, SIGKILL) or a number");
    char *end;
    long n = strtol(s, &end, 10);
    if (*end == '\0') {
        if (n < 1 || n > SIGRTMAX)
            return st_error_set(err, EINVAL, "signal %s: out of range 1..%d", s, SIGRTMAX);
        return (int)n;
    }
    const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (int i = 1; i < SIGRTMIN; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, name) == 0)
            return i;
    }
    return st_error_set(
        err, EINVAL, "signal \"%s\" is unknown: use a name such as TERM, KILL, HUP or a number", s);
}

/* ---- the container's process ---- */

struct child_args {
    const struct st_oci_config *config;
    struct st_seccomp *seccomp;
    int sock;
    int parent_sock; /* the creator's end of the socketpair, closed first */
    int fifo_fd;
    int fd_dir; /* /proc/self/fd opened before a chroot into a joined mount ns, or -1 */
    int stdio[3];
};

static void child_report(int sock, const st_error *err)
{
    struct sync_msg m = {.code = err->code ? err->code : EINVAL};
    snprintf(m.text, sizeof(m.text), "%s", err->msg);
    if (send(sock, &m, sizeof(m), MSG_NOSIGNAL) < 0) {
        /* Nobody listens (the creator exited after create): the process's
         * own stderr is the only place left. */
        dprintf(2, "strata-run: %s\n", err->msg);
    }
}

static int child_setup_stdio(const int stdio[3], st_error *err)
{
    int tmp[3];
    for (int i = 0; i < 3; i++) {
        int fd = stdio[i] >= 0 ? stdio[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0 || (tmp[i] = fcntl(fd, F_DUPFD_CLOEXEC, 10)) < 0)
            return st_error_sys(err, errno, "stdio fd %d: cannot use it", stdio[i]);
    }
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return st_error_sys(err, errno, "dup2 stdio");
    for (int i = 0; i < 3; i++)
        close(tmp[i]);
    return 0;
}

static int child_sysctl(const struct st_oci_config *c, st_error *err)
{
    const char *key;
    json_t *v;
    if (c->sysctl == NULL)
        return 0;
    json_object_foreach(c->sysctl, key, v)
    {
        char path[512];
        int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
        for (int i = 10; i < n; i++)
            if (path[i] == '.')
                path[i] = '/';
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        const char *val = json_string_value(v);
        if (fd < 0 || write(fd, val, strlen(val)) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return st_error_sys(err, e, "%s: linux.sysctl.%s: cannot set it", c->where, key);
        }
        close(fd);
    }
    return 0;
}

/* Everything that can fail is done before "ready", so create reports it. */
static int child_prepare(struct child_args *a, st_error *err)
{
    const struct st_oci_config *c = a->config;
    char b;
    /* Wait until the parent attached us to the cgroup and wrote the id maps. */
    if (read(a->sock, &b, 1) != 1)
        return st_error_set(err, EPIPE, "the creating process went away during setup");
    if ((c->ns_flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        return st_error_sys(err, errno, "%s: linux.uidMappings: container root is not mapped",
                            c->where);
    /* Joined by the helper (namespaces.c): become its root, as in a new one. */
    if ((c->ns_joined & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        return st_error_sys(err, errno,
                            "%s: linux.namespaces: uid 0 is not mapped in the joined user "
                            "namespace",
                            c->where);
    /* Only now, inside its cgroup, so the namespace is rooted there. */
    if ((c->ns_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
        return st_error_sys(err, errno, "%s: linux.namespaces: cannot create the cgroup namespace",
                            c->where);
    int r = child_setup_stdio(a->stdio, err);
    if (r < 0)
        return r;
    setsid();
    if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
        return st_error_sys(err, errno, "%s: hostname: cannot set it", c->where);
    if (c->has_personality && personality(c->personality) < 0)
        return st_error_sys(err, errno, "%s: linux.personality: cannot set it", c->where);
    /* After a chroot into a joined namespace there may be no /proc to find
     * the start FIFO through: keep a way to it. */
    if ((c->ns_joined & CLONE_NEWNS) &&
        (a->fd_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return st_error_sys(err, errno,
                            "%s: linux.namespaces: no /proc in the joined mount "
                            "namespace",
                            c->where);
    if ((r = st_mounts_prepare(c, err)) < 0 || (r = st_mounts_pivot(c, err)) < 0 ||
        (r = st_mounts_finish(c, err)) < 0 || (r = child_sysctl(c, err)) < 0)
        return r;
    if (chdir(c->cwd) < 0)
        return st_error_sys(err, errno, "%s: process.cwd %s: cannot enter it in the container",
                            c->where, c->cwd);
    if (c->umask >= 0)
        umask((mode_t)c->umask);
    return 0;
}

/* After start: privileges go, then execve. Late errors are rare (setuid,
 * exec of a missing binary) and go to the creator if it still listens. */
static int child_finish(struct child_args *a, st_error *err)
{
    const struct st_oci_config *c = a->config;
    int r;
    if ((r = st_rlimits_apply(c, err)) < 0)
        return r;
    /* Without no_new_privs the filter must go in while CAP_SYS_ADMIN is held. */
    if (a->seccomp && !c->no_new_privileges && (r = st_seccomp_load(a->seccomp, err)) < 0)
        return r;
    if ((r = st_caps_apply_user(c, err)) < 0)
        return r;
    if (c->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return st_error_sys(err, errno, "%s: process.noNewPrivileges: prctl failed", c->where);
    if (a->seccomp && c->no_new_privileges && (r = st_seccomp_load(a->seccomp, err)) < 0)
        return r;
    st_proc_reset_signals();
    st_exec_path(c->args, c->env);
    return st_error_sys(err, errno,
                        "%s: process.args[0] \"%s\": cannot execute it in the container", c->where,
                        c->args[0]);
}

static __attribute__((noreturn)) void child_run(void *arg)
{
    struct child_args *a = arg;
    st_error err = {0};
    close(a->parent_sock);
    if (child_prepare(a, &err) < 0) {
        child_report(a->sock, &err);
        _exit(1);
    }
    struct sync_msg ready = {.code = 0};
    if (send(a->sock, &ready, sizeof(ready), MSG_NOSIGNAL) < 0)
        _exit(1);
    /* Block until start opens the FIFO for reading (the runc exec.fifo way):
     * re-opening our O_PATH fd through /proc works after the pivot. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", a->fifo_fd);
    int fd = a->fd_dir >= 0
                 ? openat(a->fd_dir, path + strlen("/proc/self/fd/"), O_WRONLY | O_CLOEXEC)
                 : open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) {
        st_error_sys(&err, errno, "exec.fifo: cannot wait for start");
        child_report(a->sock, &err);
        _exit(1);
    }
    close(fd);
    close(a->fifo_fd);
    child_finish(a, &err);
    child_report(a->sock, &err);
    _exit(err.code == ENOENT ? 127 : 126);
}

/* ---- parent side helpers ---- */

static int write_idmap(pid_t pid, const char *file, const struct st_oci_idmap *m, size_t n,
                       const char *where, st_error *err)
{
    char path[64], buf[1024];
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(buf) - 40; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
                                m[i].host_id, m[i].size);
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
        return st_error_sys(err, errno, "%s: linux.%s: the kernel refused the mapping", where,
                            strcmp(file, "uid_map") == 0 ? "uidMappings" : "gidMappings");
    return 0;
}

/* From the host's side, like the id maps: lowering the score needs
 * CAP_SYS_RESOURCE, which a process in a user namespace lacks. It is
 * inherited through execve. */
static int write_oom_score_adj(pid_t pid, const struct st_oci_config *c, st_error *err)
{
    char path[64], val[16];
    snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
    int n = snprintf(val, sizeof(val), "%d", c->oom_score_adj);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, val, (size_t)n) != n)
        return st_error_sys(err, errno, "%s: process.oomScoreAdj %d: cannot set it", c->where,
                            c->oom_score_adj);
    return 0;
}

static uid_t host_id_of_root(const struct st_oci_idmap *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].container_id == 0)
            return m[i].host_id;
    return 0;
}

static int fifo_path(const struct st_container *c, char **out, st_error *err)
{
    if (asprintf(out, "%s/%s/%s", c->root, c->st.id, ST_STATE_FIFO) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* Waits (bounded) until a process that is not our child has exited. */
static void wait_gone(pid_t pid, unsigned long long start, int timeout_ms)
{
    int pfd = pidfd_open(pid, 0);
    if (pfd < 0)
        return;
    if (st_proc_alive(pid, start)) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
            ;
    }
    close(pfd);
}

static void kill_and_reap(struct st_container *c)
{
    if (c->st.pid <= 0 || c->reaped)
        return;
    if (c->is_parent) {
        kill(c->st.pid, SIGKILL);
        while (waitpid(c->st.pid, &c->wait_status, 0) < 0 && errno == EINTR)
            ;
        c->reaped = true;
    } else if (st_proc_alive(c->st.pid, c->st.pid_start)) {
        kill(c->st.pid, SIGKILL);
        wait_gone(c->st.pid, c->st.pid_start, 5000);
    }
}

void st_container_free(struct st_container *c)
{
    if (c == NULL)
        return;
    if (c->sync_fd >= 0)
        close(c->sync_fd);
    st_cgroup_free(c->cg);
    st_seccomp_free(c->seccomp);
    st_oci_config_free(c->owned_config);
    st_state_clear(&c->st);
    free(c->root);
    free(c);
}

static void container_freep(struct st_container **c)
{
    st_container_free(*c);
}
#define _cleanup_container_ __attribute__((cleanup(container_freep)))

static struct st_container *container_new(const char *root)
{
    struct st_container *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->sync_fd = -1;
    c->st.memory_limit = -1;
    c->root = strdup(root ? root : ST_CONTAINER_DEFAULT_ROOT);
    return c;
}

/* ---- API ---- */

static int validate(const struct st_oci_config *cfg, st_error *err)
{
    struct stat st;
    if (!((cfg->ns_flags | cfg->ns_joined) & CLONE_NEWNS))
        return st_error_set(err, EINVAL,
                            "%s: linux.namespaces: a mount namespace (new or joined) is required: "
                            "add {\"type\": \"mount\"}",
                            cfg->where);
    int r = st_ns_check(cfg, err);
    if (r < 0)
        return r;
    /* A joined mount namespace resolves root.path itself (the child reports). */
    if (cfg->ns_joined & CLONE_NEWNS)
        return 0;
    if (stat(cfg->root_path, &st) < 0)
        return st_error_sys(err, errno, "%s: root.path %s: cannot use it (create the rootfs)",
                            cfg->where, cfg->root_path);
    if (!S_ISDIR(st.st_mode))
        return st_error_set(err, ENOTDIR, "%s: root.path %s: not a folder", cfg->where,
                            cfg->root_path);
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        const struct st_oci_mount *m = &cfg->mounts[i];
        if ((m->flags & MS_BIND) && m->source[0] == '/' && stat(m->source, &st) < 0)
            return st_error_sys(err, errno, "%s: mounts[%zu].source %s: cannot use it", cfg->where,
                                i, m->source);
    }
    return 0;
}

int st_container_create(const struct st_container_opts *opts, struct st_container **out,
                        st_error *err)
{
    _cleanup_container_ struct st_container *c = container_new(opts->state_root);
    if (c == NULL || c->root == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_free_ char *dir = NULL;
    int r = st_state_dir(c->root, opts->id, &dir, err);
    if (r < 0)
        return r;
    if (opts->config) {
        c->config = opts->config;
    } else if (opts->bundle) {
        if ((r = st_oci_config_load(opts->bundle, &c->owned_config, err)) < 0)
            return r;
        c->config = c->owned_config;
    } else {
        return st_error_set(err, EINVAL, "container %s: give a bundle or a config", opts->id);
    }
    const struct st_oci_config *cfg = c->config;
    if ((r = validate(cfg, err)) < 0 || (r = st_resources_check(&cfg->resources, err)) < 0)
        return r;
    if (cfg->seccomp) {
        char where[512];
        snprintf(where, sizeof(where), "%s: linux.seccomp", cfg->where);
        if ((r = st_seccomp_build(cfg->seccomp, where, &c->seccomp, err)) < 0)
            return r;
    }
    struct stat dst;
    if (stat(dir, &dst) == 0)
        return st_error_set(err, EEXIST,
                            "container id %s is already in use: pick another id or delete it",
                            opts->id);

    /* From here on, everything made is undone on failure. */
    if ((r = st_state_create_dir(c->root, opts->id, err)) < 0)
        return r;
    c->st.id = strdup(opts->id);
    c->st.bundle = cfg->bundle ? strdup(cfg->bundle) : NULL;
    c->st.annotations = json_incref(cfg->annotations);
    c->st.memory_limit = cfg->resources.memory_limit;
    char created[ST_TIME_RFC3339_LEN];
    c->st.created = strdup(st_time_now_rfc3339(created));
    if (cfg->cgroups_path)
        c->st.cgroup = strdup(cfg->cgroups_path);
    else if (asprintf(&c->st.cgroup, "strata-%s", opts->id) < 0)
        c->st.cgroup = NULL;

    _cleanup_free_ char *fifo = NULL;
    _cleanup_close_ int fifo_fd = -1;
    int sv[2] = {-1, -1};
    pid_t pid = -1;
    if ((r = fifo_path(c, &fifo, err)) < 0)
        goto fail;
    if (mkfifo(fifo, 0600) < 0) {
        r = st_error_sys(err, errno, "%s: cannot create the start FIFO", fifo);
        goto fail;
    }
    if ((fifo_fd = open(fifo, O_PATH | O_CLOEXEC)) < 0) {
        r = st_error_sys(err, errno, "%s: cannot open", fifo);
        goto fail;
    }
    /* In a user namespace the container's root must own the FIFO to open it. */
    if ((cfg->ns_flags & CLONE_NEWUSER) &&
        chown(fifo, host_id_of_root(cfg->uid_mappings, cfg->n_uid_mappings),
              host_id_of_root(cfg->gid_mappings, cfg->n_gid_mappings)) < 0) {
        r = st_error_sys(err, errno, "%s: cannot hand it to the container's root", fifo);
        goto fail;
    }
    /* A joined user namespace's root is some host id we do not know: let
     * anyone write (the state folder is 0700, and the process reopens the
     * FIFO through its own fd). */
    if ((cfg->ns_joined & CLONE_NEWUSER) && chmod(fifo, 0602) < 0) {
        r = st_error_sys(err, errno, "%s: cannot open it to the joined user namespace", fifo);
        goto fail;
    }
    if ((r = st_cgroup_create(c->st.cgroup, &cfg->resources, &c->cg, err)) < 0) {
        st_error_prefix(err, "%s: ", cfg->where);
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        r = st_error_sys(err, errno, "socketpair");
        goto fail;
    }
    struct child_args a = {.config = cfg,
                           .seccomp = c->seccomp,
                           .sock = sv[1],
                           .fifo_fd = fifo_fd,
                           .fd_dir = -1,
                           .stdio = {opts->stdin_fd, opts->stdout_fd, opts->stderr_fd}};
    a.parent_sock = sv[0];
    fflush(NULL);
    if ((r = st_ns_spawn(cfg, child_run, &a, &pid, err)) < 0) {
        pid = -1;
        goto fail;
    }
    close(sv[1]);
    sv[1] = -1;
    c->sync_fd = sv[0];
    sv[0] = -1;
    c->st.pid = pid;
    c->is_parent = true;
    if ((r = st_cgroup_attach(c->cg, pid, err)) < 0)
        goto fail;
    if (cfg->has_oom_score_adj && (r = write_oom_score_adj(pid, cfg, err)) < 0)
        goto fail;
    if ((cfg->ns_flags & CLONE_NEWUSER) &&
        ((r = write_idmap(pid, "uid_map", cfg->uid_mappings, cfg->n_uid_mappings, cfg->where,
                          err)) < 0 ||
         (r = write_idmap(pid, "gid_map", cfg->gid_mappings, cfg->n_gid_mappings, cfg->where,
                          err)) < 0))
        goto fail;
    if (write(c->sync_fd, "g", 1) != 1) {
        r = st_error_sys(err, errno, "container %s: the process died before setup", opts->id);
        goto fail;
    }
    struct sync_msg m;
    ssize_t n;
    while ((n = recv(c->sync_fd, &m, sizeof(m), 0)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(m)) {
        /* A memory limit too small for the setup itself ends here: say so. */
        bool oom = false;
        st_error scratch = {0};
        if (cfg->resources.memory_limit > 0 && st_cgroup_oom_killed(c->cg, &oom, &scratch) == 0 &&
            oom)
            r = st_error_set(err, ENOMEM,
                             "%s: linux.resources.memory.limit %lld bytes: the process was "
                             "OOM-killed during setup; raise the limit",
                             cfg->where, (long long)cfg->resources.memory_limit);
        else
            r = st_error_set(err, EIO, "container %s: the process died during setup", opts->id);
        goto fail;
    }
    if (m.code != 0) {
        r = st_error_set(err, m.code, "%s", m.text);
        goto fail;
    }
    if ((r = st_proc_start_time(pid, &c->st.pid_start)) < 0) {
        r = st_error_set(err, ESRCH, "container %s: the process vanished after setup", opts->id);
        goto fail;
    }
    if ((r = st_state_write(c->root, &c->st, err)) < 0)
        goto fail;
    *out = st_steal_ptr(&c);
    return 0;

fail:;
    st_error scratch = {0};
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    kill_and_reap(c);
    if (c->cg) {
        st_cgroup_destroy(c->cg, &scratch);
        st_cgroup_free(c->cg);
        c->cg = NULL;
    }
    st_state_remove(c->root, opts->id, &scratch);
    return r;
}

int st_container_load(const char *state_root, const char *id, struct st_container **out,
                      st_error *err)
{
    _cleanup_container_ struct st_container *c = container_new(state_root);
    if (c == NULL || c->root == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = st_state_read(c->root, id, &c->st, err);
    if (r < 0)
        return r;
    *out = st_steal_ptr(&c);
    return 0;
}

static enum st_container_status status_now(struct st_container *c)
{
    if (c->reaped || !st_proc_alive(c->st.pid, c->st.pid_start))
        return ST_CONTAINER_STOPPED;
    _cleanup_free_ char *fifo = NULL;
    if (fifo_path(c, &fifo, NULL) < 0)
        return ST_CONTAINER_RUNNING;
    return access(fifo, F_OK) == 0 ? ST_CONTAINER_CREATED : ST_CONTAINER_RUNNING;
}

int st_container_start(struct st_container *c, st_error *err)
{
    _cleanup_free_ char *fifo = NULL;
    int r = fifo_path(c, &fifo, err);
    if (r < 0)
        return r;
    enum st_container_status s = status_now(c);
    if (s != ST_CONTAINER_CREATED)
        return st_error_set(err, EINVAL,
                            "container %s is %s, not created: only a created container starts "
                            "(create a new one)",
                            c->st.id, st_container_status_name(s));
    _cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "container %s: cannot open %s", c->st.id, fifo);
    /* The process may still be on its way to the FIFO: wait for its byte, and
     * notice if it dies instead. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&p, 1, 200);
        if (n < 0 && errno == EINTR)
            continue;
        char b;
        if (n > 0 && read(fd, &b, 1) == 1)
            break;
        if (!st_proc_alive(c->st.pid, c->st.pid_start)) {
            /* Our own child says why, when it could. */
            struct sync_msg m;
            if (c->sync_fd >= 0 &&
                recv(c->sync_fd, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m) && m.code != 0)
                return st_error_set(err, m.code, "%s", m.text);
            return st_error_set(err, ESRCH, "container %s: the process exited before start",
                                c->st.id);
        }
    }
    unlink(fifo);
    if (c->sync_fd < 0)
        return 0;
    /* We created it: execve closes the socket (EOF); a message is a failure. */
    struct sync_msg m;
    ssize_t n;
    while ((n = recv(c->sync_fd, &m, sizeof(m), 0)) < 0 && errno == EINTR)
        ;
    close(c->sync_fd);
    c->sync_fd = -1;
    if (n == (ssize_t)sizeof(m) && m.code != 0)
        return st_error_set(err, m.code, "%s", m.text);
    return 0;
}

static void fill_result(struct st_container *c, struct st_container_result *res)
{
    int status = c->wait_status;
    memset(res, 0, sizeof(*res));
    if (WIFEXITED(status)) {
        res->exit_status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
        res->exit_status = 128 + res->signal;
    }
    bool oom = false;
    st_error scratch = {0};
    if (res->exit_status != 0 && c->cg && st_cgroup_oom_killed(c->cg, &oom, &scratch) == 0)
        res->oom_killed = oom;
    if (res->oom_killed)
        res->reason = "OOMKilled";
    else if (res->signal)
        res->reason = "Signaled";
    else
        res->reason = res->exit_status == 0 ? "Completed" : "Error";
}

static int reap(struct st_container *c, int flags, bool *done, st_error *err)
{
    *done = c->reaped;
    if (c->reaped)
        return 0;
    if (!c->is_parent)
        return st_error_set(err, ECHILD,
                            "container %s: only the process that created it can wait for it",
                            c->st.id);
    pid_t r;
    while ((r = waitpid(c->st.pid, &c->wait_status, flags)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return st_error_sys(err, errno, "container %s: waitpid", c->st.id);
    if (r == c->st.pid)
        c->reaped = *done = true;
    return 0;
}

int st_container_wait(struct st_container *c, struct st_container_result *res, st_error *err)
{
    bool done;
    int r = reap(c, 0, &done, err);
    if (r < 0)
        return r;
    fill_result(c, res);
    return 0;
}

int st_container_poll(struct st_container *c, bool *done, struct st_container_result *res,
                      st_error *err)
{
    int r = reap(c, WNOHANG, done, err);
    if (r == 0 && *done)
        fill_result(c, res);
    return r;
}

pid_t st_container_pid(const struct st_container *c)
{
    return c->st.pid;
}

const char *st_container_id(const struct st_container *c)
{
    return c->st.id;
}

const char *st_container_cgroup_path(const struct st_container *c)
{
    return c->st.cgroup;
}

long long st_container_memory_limit(const struct st_container *c)
{
    return c->st.memory_limit;
}

int st_container_kill(struct st_container *c, int sig, st_error *err)
{
    if (status_now(c) == ST_CONTAINER_STOPPED)
        return st_error_set(err, ESRCH, "container %s is not running: nothing to signal", c->st.id);
    if (kill(c->st.pid, sig) < 0)
        return st_error_sys(err, errno, "container %s: kill %d", c->st.id, sig);
    return 0;
}

int st_container_delete(struct st_container *c, bool force, st_error *err)
{
    enum st_container_status s = status_now(c);
    if (s == ST_CONTAINER_RUNNING && !force)
        return st_error_set(err, EBUSY,
                            "container %s is running: stop it (strata-run kill %s KILL) or use "
                            "delete --force",
                            c->st.id, c->st.id);
    if (s != ST_CONTAINER_STOPPED || (c->is_parent && !c->reaped))
        kill_and_reap(c);
    int r = 0;
    if (c->cg == NULL && c->st.cgroup) {
        st_error scratch = {0};
        if (st_cgroup_open(c->st.cgroup, &c->cg, &scratch) < 0)
            c->cg = NULL; /* already gone */
    }
    if (c->cg && (r = st_cgroup_destroy(c->cg, err)) < 0)
        return r;
    return st_state_remove(c->root, c->st.id, err);
}

int st_container_state(struct st_container *c, enum st_container_status *status, json_t **state,
                       st_error *err)
{
    enum st_container_status s = status_now(c);
    if (status)
        *status = s;
    if (state == NULL)
        return 0;
    *state = json_pack("{s:s, s:s, s:s, s:i, s:s?, s:s?, s:O}", "ociVersion", "1.0.2", "id",
                       c->st.id, "status", st_container_status_name(s), "pid",
                       s == ST_CONTAINER_STOPPED ? 0 : (int)c->st.pid, "bundle", c->st.bundle,
                       "created", c->st.created, "annotations", c->st.annotations);
    if (*state == NULL)
        return st_error_set(err, ENOMEM, "container %s: cannot build the state JSON", c->st.id);
    return 0;
}
