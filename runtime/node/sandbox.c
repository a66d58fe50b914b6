/* sandbox.c: a pod's sandbox, the process that owns the namespaces the
 * pod's containers share (network with its loopback up, IPC, UTS with the
 * pod's hostname), like the kubelet's pause container. On the pod network
 * (podnet.c) its netns also gets the pod's eth0 and address, made once the
 * namespaces exist and taken away before it dies. Containers join them
 * by path, so one can restart while the others keep the network. It is a
 * fork of strata-node that sleeps: no exec, no rootfs, no cgroup of its own;
 * it closes every inherited fd (the host connection must not outlive
 * strata-node's own end) and dies with strata-node (PDEATHSIG). */
#include "node.h"
#include "strata/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh network namespace has lo down: 127.0.0.1 (probes, containers
 * talking to each other) needs it up. */
static int loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    return r < 0 ? -e : 0;
}

/* The child: reports 0 or an errno on fd, then sleeps until killed. */
static __attribute__((noreturn)) void sandbox_child(const char *hostname, int fd, pid_t parent)
{
    st_proc_reset_signals();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    /* keep only the report pipe, as fd 3 */
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) < 0))
        _exit(1);
    syscall(SYS_close_range, 4U, ~0U, 0U);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        if (devnull > 2)
            close(devnull);
    }
    prctl(PR_SET_NAME, "strata-sandbox");
    int code = 0;
    if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
        code = errno;
    else if (sethostname(hostname, strlen(hostname)) < 0)
        code = errno;
    else {
        int r = loopback_up();
        code = r < 0 ? -r : 0;
    }
    if (write(3, &code, sizeof(code)) != (ssize_t)sizeof(code) || code != 0)
        _exit(1);
    close(3);
    for (;;)
        pause();
}

int st_node_sandbox_create(const char *hostname, struct st_node_podnet *net,
                           struct st_node_sandbox *sb, st_error *err)
{
    char host[64];
    /* a hostname is at most 64 bytes; a longer pod name is cut */
    snprintf(host, sizeof(host), "%s", hostname);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return st_error_sys(err, errno, "pod sandbox: pipe");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return st_error_sys(err, e, "pod sandbox: fork");
    }
    if (pid == 0) {
        close(p[0]);
        sandbox_child(host, p[1], parent);
    }
    close(p[1]);
    int code = -1;
    ssize_t n;
    while ((n = read(p[0], &code, sizeof(code))) < 0 && errno == EINTR)
        ;
    close(p[0]);
    if (n != (ssize_t)sizeof(code) || code != 0) {
        struct st_node_sandbox dead = {.pid = pid};
        st_node_sandbox_destroy(&dead);
        if (n != (ssize_t)sizeof(code))
            return st_error_set(err, EIO, "pod sandbox: the process died while setting up");
        return st_error_sys(err, code,
                            "pod sandbox: cannot make the network, IPC and UTS namespaces "
                            "(hostname %s)",
                            host);
    }
    sb->pid = pid;
    if (net) {
        int r = st_node_podnet_attach(net, pid, host, &sb->pif, err);
        if (r < 0) {
            st_node_sandbox_destroy(sb);
            return r;
        }
        sb->net = net;
    }
    return 0;
}

void st_node_sandbox_ns_path(const struct st_node_sandbox *sb, const char *ns, char *buf,
                             size_t len)
{
    snprintf(buf, len, "/proc/%d/ns/%s", (int)sb->pid, ns);
}

void st_node_sandbox_destroy(struct st_node_sandbox *sb)
{
    st_node_podnet_detach(sb->net, &sb->pif);
    sb->net = NULL;
    if (sb->pid <= 0)
        return;
    kill(sb->pid, SIGKILL);
    while (waitpid(sb->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    sb->pid = 0;
}
