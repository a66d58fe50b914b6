/* node_fence.c: fencing a node quickly and for certain. libvirt's destroy
 * sends SIGTERM and waits 10 s before SIGKILL, and a stopped (hung) QEMU
 * never acts on SIGTERM: fencing a hung node took 11 s inside
 * virDomainDestroy while its pods looked alive. Here the QEMU process is
 * killed directly: found through libvirt's pid file (its command line must
 * name the domain) or a scan of /proc, signalled with SIGKILL through a
 * pidfd (a pid reused meanwhile is never hit; a stopped process dies too),
 * and only its observed exit counts as success. No libvirt call is made. */
#include "vmm_priv.h"
#include "strata/cleanup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libvirt's pid files for qemu:///system (qemu:///session keeps them under
 * $XDG_RUNTIME_DIR/libvirt/qemu/run). */
#define ST_FENCE_SYSTEM_PID_DIR "/run/libvirt/qemu"
/* A QEMU command line is a few KiB; the -name argument comes early. */
#define ST_FENCE_CMDLINE_MAX 65536

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

/* Whether the process runs the domain: QEMU's "-name guest=DOMAIN,..." (or
 * the older "-name DOMAIN"). A zombie has an empty command line: not ours
 * any more, and not running. */
static bool names_domain(pid_t pid, const char *domain)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    _cleanup_free_ char *buf = malloc(ST_FENCE_CMDLINE_MAX + 1);
    if (buf == NULL)
        return false;
    size_t len = 0;
    ssize_t n;
    while (len < ST_FENCE_CMDLINE_MAX && (n = read(fd, buf + len, ST_FENCE_CMDLINE_MAX - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    size_t dl = strlen(domain);
    const char *prev = "";
    for (const char *a = buf; a < buf + len; a += strlen(a) + 1) {
        if (strcmp(prev, "-name") == 0) {
            const char *v = strncmp(a, "guest=", 6) == 0 ? a + 6 : a;
            if (strncmp(v, domain, dl) == 0 && (v[dl] == '\0' || v[dl] == ','))
                return true;
        }
        prev = a;
    }
    return false;
}

static pid_t pid_from_file(const char *pid_file)
{
    if (pid_file == NULL)
        return 0;
    _cleanup_close_ int fd = open(pid_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    return v > 1 ? (pid_t)v : 0;
}

/* Kills pid if it still runs the domain and waits until it is gone.
 * 1: killed and gone; 0: not (or no longer) the domain's process. */
static int kill_and_wait(pid_t pid, const char *domain, int64_t deadline_ns, st_error *err)
{
    _cleanup_close_ int pfd = pidfd_open_(pid);
    if (pfd < 0) {
        if (errno == ESRCH)
            return 0;
        return st_error_sys(err, errno, "%s: pidfd_open(%d)", domain, (int)pid);
    }
    /* Checked through the pidfd's process: a pid reused after this check
     * is not the one the pidfd names. */
    if (!names_domain(pid, domain))
        return 0;
    if (pidfd_kill(pfd) < 0 && errno != ESRCH)
        return st_error_sys(err, errno, "%s: SIGKILL to QEMU pid %d", domain, (int)pid);
    for (;;) {
        int64_t left = (deadline_ns - st_vmm_now_ns()) / 1000000;
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return st_error_sys(err, errno, "%s: waiting for QEMU pid %d", domain, (int)pid);
        return st_error_set(err, ETIMEDOUT,
                            "%s: QEMU pid %d got SIGKILL but had not exited after the bound; it "
                            "may still run (stuck in the kernel?)",
                            domain, (int)pid);
    }
}

int st_vmm_fence_domain(const char *domain, const char *pid_file, int timeout_ms,
                        st_vmm_fence_report *rep, st_error *err)
{
    int64_t t0 = st_vmm_now_ns();
    int64_t deadline =
        t0 + (int64_t)(timeout_ms > 0 ? timeout_ms : ST_VMM_FENCE_TIMEOUT_MS_DEFAULT) * 1000000;
    memset(rep, 0, sizeof(*rep));
    if (strncmp(domain, ST_NODE_DOMAIN_PREFIX, strlen(ST_NODE_DOMAIN_PREFIX)) != 0)
        return st_error_set(err, EINVAL, "%s: not a Strata domain; refusing to fence it", domain);
    int r;
    pid_t pid = pid_from_file(pid_file);
    if (pid > 0 && (r = kill_and_wait(pid, domain, deadline, err)) != 0) {
        if (r < 0)
            return r;
        rep->pid = (int)pid;
        snprintf(rep->how, sizeof(rep->how), "pid file %s", pid_file);
    }
    /* Also when the pid file named it: nothing else may run the domain. */
    _cleanup_closedir_ DIR *proc = opendir("/proc");
    if (proc == NULL)
        return st_error_sys(err, errno, "%s: cannot scan /proc for its QEMU", domain);
    struct dirent *de;
    while ((de = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t p = (pid_t)strtol(de->d_name, NULL, 10);
        if (p == pid || p <= 1 || !names_domain(p, domain))
            continue;
        if ((r = kill_and_wait(p, domain, deadline, err)) < 0)
            return r;
        if (r > 0 && rep->pid == 0) {
            rep->pid = (int)p;
            snprintf(rep->how, sizeof(rep->how), "found in /proc");
        }
    }
    if (rep->pid == 0)
        snprintf(rep->how, sizeof(rep->how), "no QEMU of %s was running", domain);
    rep->gone_ns = st_vmm_now_ns() - t0;
    return 0;
}

int st_vmm_node_fence(st_vmm *vmm, const char *name, int timeout_ms, st_vmm_fence_report *rep,
                      st_error *err)
{
    char domain[ST_NODE_NAME_MAX + 16];
    snprintf(domain, sizeof(domain), "%s%s", ST_NODE_DOMAIN_PREFIX, name);
    _cleanup_free_ char *pid_file = NULL;
    const char *run = getenv("XDG_RUNTIME_DIR");
    int n = -1;
    if (strcmp(vmm->uri, "qemu:///system") == 0)
        n = asprintf(&pid_file, "%s/%s.pid", ST_FENCE_SYSTEM_PID_DIR, domain);
    else if (strcmp(vmm->uri, "qemu:///session") == 0 && run)
        n = asprintf(&pid_file, "%s/libvirt/qemu/run/%s.pid", run, domain);
    if (n < 0)
        pid_file = NULL; /* other drivers: the /proc scan alone */
    int r = st_vmm_fence_domain(domain, pid_file, timeout_ms, rep, err);
    if (r < 0)
        st_error_prefix(err, "node %s: fencing: ", name);
    return r;
}
