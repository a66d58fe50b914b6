/* container.c: the container lifecycle. create validates everything first,
 * then makes state dir, cgroup and a clone(2)d process that sets itself up
 * and waits on ROOT/<id>/exec.fifo right before execve; start opens the FIFO.
 * The process's init IS the user process: no extra init, no re-exec, no
 * shelling out. A socketpair orders parent and child: the parent attaches the
 * child to the cgroup and writes its id maps before the child goes on (or,
 * when nothing in the config needs that order, see wait_first, while the
 * child sets up: it is attached before create returns, so before it can
 * execve), runs the prestart and createRuntime hooks when the child's
 * mounts are ready, and the child reports setup errors back so create can
 * roll everything back. Everything that can fail (mounts, rlimits, seccomp without
 * no_new_privs, the user, the capabilities) happens before create returns,
 * as runc does, so create reports it; what is left for start (the
 * startContainer hooks, execve) reports through the FIFO itself, which the
 * process holds open until its execve, so a `start` run by another process
 * than the creator learns of it too.
 *
 * Hooks (the OCI lifecycle, hooks.h runs them):
 *   create: clone, cgroup, id maps, mounts prepared
 *           -> prestart, createRuntime     (here, runtime namespace)
 *           -> createContainer             (the process, its namespaces,
 *                                           before pivot_root)
 *           -> pivot_root, user, caps; a failure of any: nothing left
 *   start:  startContainer                 (the process, right before
 *                                           execve; failure: destroyed)
 *           -> execve -> poststart         (here; failure: a warning)
 *   delete: cgroup and state gone -> poststop (here; failure: a warning)
 * start and delete may run in other processes than create: the hooks they
 * need are kept in ROOT/<id>/hooks.json. */
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
#include "hooks.h"
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
    const struct st_oci_config *config; /* during create only (a borrowed one may go after) */
    struct st_cgroup *cg;               /* NULL until needed when loaded */
    struct st_seccomp *seccomp;
    int sync_fd;    /* parent end of the socketpair, until the process execs */
    bool is_parent; /* the process is our child: waitpid works */
    bool reaped;
    bool destroyed; /* a failed startContainer hook already removed it all */
    int wait_status;
    /* The hooks the runtime runs after create (poststart, poststop), copied
     * from the config at create or read from ROOT/<id>/hooks.json. */
    struct st_oci_hooks hooks;
    char *where;       /* the config's name, for hook messages */
    char *hooks_error; /* why hooks.json could not be read, said when they would run */
    st_container_warn_fn warn;
    void *warn_data;
};

#define HOOKS_FILE "hooks.json"

/* What the child tells the creator (socketpair) or the starter (FIFO). */
enum msg_kind {
    MSG_READY = 0,   /* set up, waiting for start */
    MSG_RUN_HOOKS,   /* mounts prepared: run prestart and createRuntime, then say go */
    MSG_ERROR,       /* setup failed: code, text */
    MSG_HOOK_FAILED, /* a createContainer / startContainer hook failed: code, text */
};

struct sync_msg {
    int kind;
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

static void warn_stderr(void *data, const char *msg)
{
    (void)data;
    fprintf(stderr, "strata: warning: %s\n", msg);
}

void st_container_set_warn(struct st_container *c, st_container_warn_fn fn, void *data)
{
    c->warn = fn ? fn : warn_stderr;
    c->warn_data = fn ? data : NULL;
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
    /* The config has hooks: stop once the mounts are prepared so the creator
     * runs prestart and createRuntime (a round trip a config without hooks
     * does not pay). */
    bool hooks_sync;
    /* Wait for the creator's go before anything else (see wait_first). */
    bool wait_go;
    int stdio[3];
    /* The state for the hooks run in here, built before the clone (no
     * allocation in the child): status creating, then created. */
    const char *state_creating, *state_created;
};

/* Sends err to the creator (socketpair) or, after start, writes it to the
 * FIFO the starter reads. */
static void child_report(int fd, bool is_socket, enum msg_kind kind, const st_error *err)
{
    struct sync_msg m = {.kind = kind, .code = err->code ? err->code : EINVAL};
    snprintf(m.text, sizeof(m.text), "%s", err->msg);
    ssize_t n;
    if (is_socket) {
        n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
    } else {
        signal(SIGPIPE, SIG_IGN);
        n = write(fd, &m, sizeof(m)); /* under PIPE_BUF: one piece */
    }
    if (n < 0) {
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

/* The hooks' stdin inside the container: pid as seen from in here. */
static struct st_hook_state child_state(const char *json)
{
    return (struct st_hook_state){.json = json, .pid = (int)getpid()};
}

/* Everything that can fail is done before "ready", so create reports it:
 * also the rlimits, the user and the capabilities (a bad uid or an
 * impossible capability set is a create error, never a silent exit later). */
static int child_prepare(struct child_args *a, enum msg_kind *kind, st_error *err)
{
    const struct st_oci_config *c = a->config;
    char b;
    /* Wait until the parent attached us to the cgroup and wrote the id maps. */
    if (a->wait_go && read(a->sock, &b, 1) != 1)
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
    if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
        return st_error_sys(err, errno, "%s: domainname: cannot set it", c->where);
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
    if ((r = st_mounts_prepare(c, err)) < 0)
        return r;
    /* The runtime environment exists: the creator runs prestart and
     * createRuntime, then createContainer runs here, in the container's
     * namespaces with its mounts, the old root still reachable. */
    struct sync_msg hooks = {.kind = MSG_RUN_HOOKS};
    if (a->hooks_sync &&
        (send(a->sock, &hooks, sizeof(hooks), MSG_NOSIGNAL) < 0 || read(a->sock, &b, 1) != 1))
        return st_error_set(err, EPIPE, "the creating process went away during setup");
    struct st_hook_state hs = child_state(a->state_creating);
    if ((r = st_hooks_run(&c->hooks, ST_HOOK_CREATE_CONTAINER, c->where, &hs, c->env, NULL, NULL,
                          err)) < 0) {
        *kind = MSG_HOOK_FAILED;
        return r;
    }
    if ((r = st_mounts_pivot(c, err)) < 0 || (r = st_mounts_finish(c, err)) < 0 ||
        (r = child_sysctl(c, err)) < 0)
        return r;
    if (chdir(c->cwd) < 0)
        return st_error_sys(err, errno, "%s: process.cwd %s: cannot enter it in the container",
                            c->where, c->cwd);
    if (c->umask >= 0)
        umask((mode_t)c->umask);
    if ((r = st_rlimits_apply(c, err)) < 0)
        return r;
    /* Without no_new_privs the filter must go in while CAP_SYS_ADMIN is held. */
    if (a->seccomp && !c->no_new_privileges && (r = st_seccomp_load(a->seccomp, err)) < 0)
        return r;
    if ((r = st_caps_apply_user(c, err)) < 0)
        return r;
    if (c->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return st_error_sys(err, errno, "%s: process.noNewPrivileges: prctl failed", c->where);
    return 0;
}

/* After start: the startContainer hooks, then (with no_new_privs) seccomp as
 * close to execve as possible, then execve. */
static int child_finish(struct child_args *a, enum msg_kind *kind, st_error *err)
{
    const struct st_oci_config *c = a->config;
    int r;
    struct st_hook_state hs = child_state(a->state_created);
    if ((r = st_hooks_run(&c->hooks, ST_HOOK_START_CONTAINER, c->where, &hs, c->env, NULL, NULL,
                          err)) < 0) {
        *kind = MSG_HOOK_FAILED;
        return r;
    }
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
    enum msg_kind kind = MSG_ERROR;
    if (child_prepare(a, &kind, &err) < 0) {
        child_report(a->sock, true, kind, &err);
        _exit(1);
    }
    struct sync_msg ready = {.kind = MSG_READY};
    if (send(a->sock, &ready, sizeof(ready), MSG_NOSIGNAL) < 0)
        _exit(1);
    /* Block until start opens the FIFO for reading (the runc exec.fifo way):
     * re-opening our O_PATH fd through /proc works after the pivot and
     * after the switch to the container's user (the FIFO is 0622). */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", a->fifo_fd);
    int fd = a->fd_dir >= 0
                 ? openat(a->fd_dir, path + strlen("/proc/self/fd/"), O_WRONLY | O_CLOEXEC)
                 : open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        st_error_sys(&err, errno, "exec.fifo: cannot wait for start");
        child_report(a->sock, true, MSG_ERROR, &err);
        _exit(1);
    }
    close(a->fifo_fd);
    /* fd stays open (close-on-exec) until execve: the starter reads the
     * FIFO to its end, so EOF means the program runs and a message that it
     * does not. Nothing is written before: the starter's first wake-up is
     * the execve itself (one fewer hand-over between the two). */
    child_finish(a, &kind, &err);
    child_report(fd, false, kind, &err);
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
    st_oci_hooks_clear(&c->hooks);
    free(c->where);
    free(c->hooks_error);
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
    c->warn = warn_stderr;
    c->root = strdup(root ? root : ST_CONTAINER_DEFAULT_ROOT);
    return c;
}

/* ---- hooks: which, the state they read, and keeping them for later ---- */

static const char *where_of(const struct st_container *c)
{
    return c->where ? c->where : c->st.id;
}

/* The OCI state; pid only when asked (hooks get it apart, see hooks.h). */
static json_t *state_json(const struct st_container *c, enum st_container_status s, bool with_pid)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "ociVersion", ST_OCI_VERSION_STATE, "id", c->st.id,
                          "status", st_container_status_name(s));
    if (j == NULL)
        return NULL;
    if (with_pid && json_object_set_new(
                        j, "pid", json_integer(s == ST_CONTAINER_STOPPED ? 0 : (int)c->st.pid)) < 0)
        goto oom;
    if (c->st.bundle && json_object_set_new(j, "bundle", json_string(c->st.bundle)) < 0)
        goto oom;
    if (c->st.created && json_object_set_new(j, "created", json_string(c->st.created)) < 0)
        goto oom;
    if (json_object_set_new(j, "annotations",
                            c->st.annotations ? json_incref(c->st.annotations) : json_object()) < 0)
        goto oom;
    return j;
oom:
    json_decref(j);
    return NULL;
}

static char *state_text(const struct st_container *c, enum st_container_status s)
{
    _cleanup_json_ json_t *j = state_json(c, s, false);
    return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* The hooks of a kind that run here, in the runtime's namespaces, with the
 * host's pid. warn NULL: the first failure is returned. */
static int run_here(struct st_container *c, enum st_oci_hook_kind kind, enum st_container_status s,
                    bool warn, st_error *err)
{
    const struct st_oci_hooks *h = &c->hooks;
    if (c->hooks_error && warn) {
        char msg[ST_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s: its %s hooks, if any, did not run", c->hooks_error,
                 st_oci_hook_names[kind]);
        c->warn(c->warn_data, msg);
    }
    if (h->n[kind] == 0)
        return 0;
    _cleanup_free_ char *text = state_text(c, s);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "container %s: cannot build the state for its hooks",
                            c->st.id);
    struct st_hook_state hs = {.json = text, .pid = s == ST_CONTAINER_STOPPED ? 0 : (int)c->st.pid};
    return st_hooks_run(h, kind, where_of(c), &hs, environ, warn ? c->warn : NULL,
                        warn ? c->warn_data : NULL, err);
}

/* The hooks run after create are copied (a borrowed config may be freed
 * once create returns) and written to ROOT/<id>/hooks.json: start and
 * delete may run in another process than create. */
static int hooks_save(struct st_container *c, st_error *err)
{
    const struct st_oci_config *cfg = c->config;
    if ((c->where = strdup(cfg->where)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (cfg->hooks.json == NULL)
        return 0;
    int r = st_oci_hooks_from_json(cfg->hooks.json, cfg->where, &c->hooks, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *file = NULL;
    if (asprintf(&file, "%s/%s/%s", c->root, c->st.id, HOOKS_FILE) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_json_ json_t *j =
        json_pack("{s:s, s:O}", "where", cfg->where, "hooks", cfg->hooks.json);
    if (j == NULL || json_dump_file(j, file, JSON_COMPACT) < 0)
        return st_error_sys(err, errno ? errno : EIO, "%s: cannot write it", file);
    return 0;
}

/* A damaged hooks.json must not keep state, kill or delete from working:
 * it only costs the hooks, and start and delete say so (run_here). */
static int hooks_load(struct st_container *c, st_error *err)
{
    _cleanup_free_ char *file = NULL;
    if (asprintf(&file, "%s/%s/%s", c->root, c->st.id, HOOKS_FILE) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    json_error_t jerr;
    _cleanup_json_ json_t *j = json_load_file(file, 0, &jerr);
    if (j == NULL && access(file, F_OK) < 0 && errno == ENOENT)
        return 0;
    const char *where = json_string_value(json_object_get(j, "where"));
    if (where && (c->where = strdup(where)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    st_error perr = {0};
    if (j == NULL)
        st_error_set(&perr, EIO, "%s: unreadable (%s)", file, jerr.text);
    else
        st_oci_hooks_from_json(json_object_get(j, "hooks"), where_of(c), &c->hooks, &perr);
    if (perr.code && (c->hooks_error = strdup(perr.msg)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

/* ---- API ---- */

/* Something failed for the creator after the clone: a process that sets up
 * without waiting (wait_first) may have failed before and said why, which
 * explains more (its pid may be gone from the attach because of it). */
static int child_error_first(struct st_container *c, int r, st_error *err)
{
    struct sync_msg m;
    if (c->sync_fd >= 0 && recv(c->sync_fd, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m) &&
        (m.kind == MSG_ERROR || m.kind == MSG_HOOK_FAILED) && m.code != 0)
        return st_error_set(err, m.code, "%s", m.text);
    return r;
}

/* Whether the process must wait, before any of its setup, until the creator
 * has put it in its cgroup (and written its id maps). Otherwise it goes
 * ahead with its mounts while the creator makes the cgroup and attaches
 * it, and only create's return (the FIFO) orders it: it is in its cgroup
 * before start can let it execve. It must wait for
 *   - a new user namespace: it has no root until the id maps exist;
 *   - a cgroup namespace: rooted at the cgroup it is in when it unshares;
 *   - hooks: what they do (createContainer runs in the process) is
 *     charged and limited as the container;
 *   - a memory limit: the setup is charged to it, so a limit too small for
 *     the setup fails create, saying so;
 *   - device rules: on v1 they decide which nodes mknod may create. */
static bool wait_first(const struct st_oci_config *cfg, bool hooks)
{
    return (cfg->ns_flags & (CLONE_NEWUSER | CLONE_NEWCGROUP)) || hooks ||
           cfg->resources.memory_limit >= 0 || cfg->resources.n_device_rules > 0;
}

static bool has_hooks(const struct st_oci_config *cfg)
{
    for (int k = 0; k < ST_HOOK_KINDS; k++)
        if (cfg->hooks.n[k] > 0)
            return true;
    return false;
}

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
    if (opts->warn)
        st_container_set_warn(c, opts->warn, opts->warn_data);
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
    _cleanup_free_ char *state_creating = NULL, *state_created = NULL;
    _cleanup_close_ int fifo_fd = -1, cg_fd = -1;
    int sv[2] = {-1, -1};
    pid_t pid = -1;
    bool hooks_ran = false;
    if ((r = hooks_save(c, err)) < 0 || (r = fifo_path(c, &fifo, err)) < 0)
        goto fail;
    bool hooks = has_hooks(cfg);
    /* The texts the process's own hooks read, made now: it must not
     * allocate after the clone. No hooks, no texts. */
    if (hooks && ((state_creating = state_text(c, ST_CONTAINER_CREATING)) == NULL ||
                  (state_created = state_text(c, ST_CONTAINER_CREATED)) == NULL)) {
        r = st_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    /* 0622: the process opens it after switching to the container's user;
     * only it can reach it (through its O_PATH fd, the folder is 0700). */
    if (mkfifo(fifo, 0600) < 0 || chmod(fifo, 0622) < 0) {
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
    /* Where clone3 can start the process inside its cgroup (v2), the cgroup
     * comes first; elsewhere after the clone, while the process sets up. */
    bool cgroup_first = st_cgroup_prefers_clone_into();
    if (cgroup_first && (r = st_cgroup_create(c->st.cgroup, &cfg->resources, &c->cg, err)) < 0) {
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
                           .hooks_sync = hooks,
                           .wait_go = wait_first(cfg, hooks),
                           .stdio = {opts->stdin_fd, opts->stdout_fd, opts->stderr_fd},
                           .state_creating = state_creating,
                           .state_created = state_created};
    a.parent_sock = sv[0];
    fflush(NULL);
    /* v2: born in its cgroup, without the migration lock (-1 on v1). */
    st_error no_dir = {0};
    if (c->cg)
        cg_fd = st_cgroup_dir_open(c->cg, &no_dir);
    bool placed = false;
    if ((r = st_ns_spawn_into(cfg, cg_fd, child_run, &a, &pid, &placed, err)) < 0) {
        pid = -1;
        goto fail;
    }
    close(sv[1]);
    sv[1] = -1;
    c->sync_fd = sv[0];
    sv[0] = -1;
    c->st.pid = pid;
    c->is_parent = true;
    if (!cgroup_first && (r = st_cgroup_create(c->st.cgroup, &cfg->resources, &c->cg, err)) < 0) {
        st_error_prefix(err, "%s: ", cfg->where);
        goto fail;
    }
    if (!placed && (r = st_cgroup_attach(c->cg, pid, err)) < 0) {
        r = child_error_first(c, r, err);
        goto fail;
    }
    if (cfg->has_oom_score_adj && (r = write_oom_score_adj(pid, cfg, err)) < 0) {
        r = child_error_first(c, r, err);
        goto fail;
    }
    if ((cfg->ns_flags & CLONE_NEWUSER) &&
        ((r = write_idmap(pid, "uid_map", cfg->uid_mappings, cfg->n_uid_mappings, cfg->where,
                          err)) < 0 ||
         (r = write_idmap(pid, "gid_map", cfg->gid_mappings, cfg->n_gid_mappings, cfg->where,
                          err)) < 0))
        goto fail;
    if (a.wait_go && write(c->sync_fd, "g", 1) != 1) {
        r = st_error_sys(err, errno, "container %s: the process died before setup", opts->id);
        goto fail;
    }
    struct sync_msg m;
    for (;;) {
        ssize_t n;
        while ((n = recv(c->sync_fd, &m, sizeof(m), 0)) < 0 && errno == EINTR)
            ;
        if (n != (ssize_t)sizeof(m)) {
            /* A memory limit too small for the setup itself ends here: say so. */
            bool oom = false;
            st_error scratch = {0};
            if (cfg->resources.memory_limit > 0 &&
                st_cgroup_oom_killed(c->cg, &oom, &scratch) == 0 && oom)
                r = st_error_set(err, ENOMEM,
                                 "%s: linux.resources.memory.limit %lld bytes: the process was "
                                 "OOM-killed during setup; raise the limit",
                                 cfg->where, (long long)cfg->resources.memory_limit);
            else
                r = st_error_set(err, EIO, "container %s: the process died during setup", opts->id);
            goto fail;
        }
        if (m.kind != MSG_RUN_HOOKS)
            break;
        /* Its mounts are ready, pivot_root not done: prestart (deprecated)
         * then createRuntime, here in the runtime's namespaces. */
        hooks_ran = true;
        if ((r = run_here(c, ST_HOOK_PRESTART, ST_CONTAINER_CREATING, false, err)) < 0 ||
            (r = run_here(c, ST_HOOK_CREATE_RUNTIME, ST_CONTAINER_CREATING, false, err)) < 0)
            goto fail;
        if (write(c->sync_fd, "g", 1) != 1) {
            r = st_error_sys(err, errno, "container %s: the process died during setup", opts->id);
            goto fail;
        }
    }
    if (m.kind != MSG_READY) {
        r = st_error_set(err, m.code, "%s", m.text);
        goto fail;
    }
    if ((r = st_proc_start_time(pid, &c->st.pid_start)) < 0) {
        r = st_error_set(err, ESRCH, "container %s: the process vanished after setup", opts->id);
        goto fail;
    }
    if ((r = st_state_write(c->root, &c->st, err)) < 0)
        goto fail;
    c->config = NULL;
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
    /* The lifecycle goes on at "destroy" once a hook may have acted: the
     * poststop hooks get to undo what prestart/createRuntime set up. */
    if (hooks_ran)
        run_here(c, ST_HOOK_POSTSTOP, ST_CONTAINER_STOPPED, true, &scratch);
    return r;
}

int st_container_load(const char *state_root, const char *id, struct st_container **out,
                      st_error *err)
{
    _cleanup_container_ struct st_container *c = container_new(state_root);
    if (c == NULL || c->root == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = st_state_read(c->root, id, &c->st, err);
    if (r < 0 || (r = hooks_load(c, err)) < 0)
        return r;
    *out = st_steal_ptr(&c);
    return 0;
}

/* The process is gone: cgroup and state go, then the poststop hooks run
 * (failures are warnings, as the spec says). */
static int destroy(struct st_container *c, st_error *err)
{
    int r = 0;
    if (c->cg == NULL && c->st.cgroup) {
        st_error scratch = {0};
        if (st_cgroup_open(c->st.cgroup, &c->cg, &scratch) < 0)
            c->cg = NULL; /* already gone */
    }
    if (c->cg && (r = st_cgroup_destroy(c->cg, err)) < 0)
        return r;
    if ((r = st_state_remove(c->root, c->st.id, err)) < 0)
        return r;
    c->destroyed = true;
    st_error scratch = {0};
    run_here(c, ST_HOOK_POSTSTOP, ST_CONTAINER_STOPPED, true, &scratch);
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
    /* Opened for reading, the start is committed: the process's blocking
     * open for writing (through its own fd, so the name may go) returns. */
    unlink(fifo);
    /* The process holds its end open until execve: EOF (POLLHUP, which a
     * FIFO reports only once a writer came and went) means the program
     * runs; a message means a startContainer hook or execve failed. It may
     * still be on its way to the FIFO, or die before: look at it now and
     * then. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct sync_msg m;
    size_t got = 0;
    for (;;) {
        int n = poll(&p, 1, 200);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            ssize_t k = read(fd, (char *)&m + got, sizeof(m) - got);
            if (k < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (k <= 0 || (got += (size_t)k) == sizeof(m))
                break;
            continue;
        }
        if (n == 0 && !st_proc_alive(c->st.pid, c->st.pid_start)) {
            /* It never reached the FIFO: our own child says why, when it could. */
            if (c->sync_fd >= 0 &&
                recv(c->sync_fd, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m) && m.code != 0)
                return st_error_set(err, m.code, "%s", m.text);
            return st_error_set(err, ESRCH, "container %s: the process exited before start",
                                c->st.id);
        }
        if (n < 0)
            return st_error_sys(err, errno, "container %s: poll on %s", c->st.id, fifo);
    }
    if (c->sync_fd >= 0) {
        close(c->sync_fd);
        c->sync_fd = -1;
    }
    if (got == sizeof(m) && m.kind == MSG_HOOK_FAILED) {
        /* The spec: stop the container and go on at destroy. */
        r = st_error_set(err, m.code, "%s; container %s was stopped and deleted", m.text, c->st.id);
        kill_and_reap(c);
        st_error scratch = {0};
        destroy(c, &scratch);
        return r;
    }
    if (got == sizeof(m)) {
        /* The process said why it cannot run and is on its way out: wait
         * for it, so that `state` says stopped and `delete` works at once. */
        r = st_error_set(err, m.code, "%s", m.text);
        if (c->is_parent) {
            while (waitpid(c->st.pid, &c->wait_status, 0) < 0 && errno == EINTR)
                ;
            c->reaped = true;
        } else {
            wait_gone(c->st.pid, c->st.pid_start, 5000);
        }
        return r;
    }
    st_error scratch = {0};
    run_here(c, ST_HOOK_POSTSTART, ST_CONTAINER_RUNNING, true, &scratch);
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
    if (c->destroyed)
        return 0;
    enum st_container_status s = status_now(c);
    if (s == ST_CONTAINER_RUNNING && !force)
        return st_error_set(err, EBUSY,
                            "container %s is running: stop it (strata-run kill %s KILL) or use "
                            "delete --force",
                            c->st.id, c->st.id);
    if (s != ST_CONTAINER_STOPPED || (c->is_parent && !c->reaped))
        kill_and_reap(c);
    return destroy(c, err);
}

int st_container_state(struct st_container *c, enum st_container_status *status, json_t **state,
                       st_error *err)
{
    enum st_container_status s = status_now(c);
    if (status)
        *status = s;
    if (state == NULL)
        return 0;
    *state = state_json(c, s, true);
    if (*state == NULL)
        return st_error_set(err, ENOMEM, "container %s: cannot build the state JSON", c->st.id);
    return 0;
}
