/* channel.c: the host side of a node's virtio-serial channel. QEMU listens on
 * the unix socket (mode='bind'); we connect after start, read lines through
 * node_proto on the libvirt event thread, and treat EOF as the fastest sign
 * that the VM died. The callback never blocks: the socket is nonblocking and
 * messages go to the queue. */
#include "vmm_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

/* Writes to a node are small; a guest that does not drain 5 s is stuck. */
#define ST_CHANNEL_SEND_TIMEOUT_MS 5000

static void on_hello(st_vmm_node *node, json_t *msg)
{
    st_vmm *vmm = node->vmm;
    pthread_mutex_lock(&vmm->lock);
    if (!node->ready) {
        node->ready = true;
        node->hello = json_incref(msg);
        pthread_cond_broadcast(&vmm->cond);
    }
    pthread_mutex_unlock(&vmm->lock);
}

static void channel_gone(st_vmm_node *node, const char *why)
{
    int64_t ts = st_vmm_now_ns();
    st_vmm *vmm = node->vmm;
    pthread_mutex_lock(&vmm->lock);
    int watch = node->watch;
    node->watch = -1;
    pthread_mutex_unlock(&vmm->lock);
    if (watch >= 0)
        virEventRemoveHandle(watch);
    st_vmm_node_mark_dead(node, ST_NODE_DEATH_CHANNEL_EOF, ts, why);
}

static void on_readable(int watch, int fd, int events, void *opaque)
{
    (void)watch;
    st_vmm_node *node = opaque;
    st_error err = {0};
    for (;;) {
        int r = st_proto_reader_fill(&node->reader, fd, &err);
        if (r == -EAGAIN)
            break;
        if (r <= 0) {
            channel_gone(node, r == 0 ? "channel EOF" : err.msg);
            return;
        }
        const char *line;
        while ((r = st_proto_reader_next(&node->reader, &line, &err)) != 0) {
            json_t *msg = NULL;
            const char *type = NULL;
            st_error_clear(&err);
            if (r < 0 || st_proto_decode(line, &msg, &type, &err) < 0) {
                node->bad_lines++;
                st_error_clear(&err);
                continue;
            }
            if (strcmp(type, ST_PROTO_HELLO) == 0)
                on_hello(node, msg);
            st_vmm_queue_message(node->vmm, node->name, msg);
        }
    }
    if (events & (VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR))
        channel_gone(node, "channel hangup");
}

/* Runs on the event thread once libvirt stops watching the fd: only now may
 * it be closed, and the watch's node reference dropped. */
static void on_watch_free(void *opaque)
{
    st_vmm_node *node = opaque;
    st_vmm *vmm = node->vmm;
    pthread_mutex_lock(&vmm->lock);
    int fd = node->chan_fd;
    node->chan_fd = -1;
    pthread_mutex_unlock(&vmm->lock);
    if (fd >= 0)
        close(fd);
    st_vmm_node_unref(node);
}

/* Connects to a socket QEMU listens on (a channel's mode='bind'), made
 * nonblocking. QEMU has it listening when virDomainCreate returns; the
 * retry only covers a slow QEMU, bounded by timeout_ms. */
static int connect_port(st_vmm_node *node, const char *path, const char *what, int timeout_ms,
                        int *out, st_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return st_error_set(err, ENAMETOOLONG, "node %s: %s socket path %s is too long", node->name,
                            what, path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int fd = -1;
    int64_t deadline = st_vmm_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return st_error_sys(err, errno, "node %s: socket", node->name);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        int e = errno;
        close(fd);
        fd = -1;
        if ((e != ENOENT && e != ECONNREFUSED) || st_vmm_now_ns() >= deadline)
            return st_error_sys(err, e, "node %s: cannot connect to the %s socket %s", node->name,
                                what, path);
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return st_error_sys(err, errno, "node %s: %s socket O_NONBLOCK", node->name, what);
    *out = fd;
    fd = -1;
    return 0;
}

int st_vmm_channel_open(st_vmm_node *node, int timeout_ms, st_error *err)
{
    _cleanup_close_ int fd = -1;
    int r = connect_port(node, node->sock_path, "channel", timeout_ms, &fd, err);
    if (r < 0)
        return r;

    st_vmm *vmm = node->vmm;
    pthread_mutex_lock(&vmm->lock);
    if (node->watch >= 0 || node->chan_fd >= 0) {
        pthread_mutex_unlock(&vmm->lock);
        return st_error_set(err, EBUSY, "node %s: channel already open", node->name);
    }
    node->chan_fd = fd;
    atomic_fetch_add(&node->refs, 1);
    int watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_readable, node, on_watch_free);
    if (watch < 0) {
        node->chan_fd = -1;
        pthread_mutex_unlock(&vmm->lock);
        atomic_fetch_sub(&node->refs, 1);
        return st_error_set(err, EIO, "node %s: cannot watch the channel: %s", node->name,
                            st_vmm_virt_error());
    }
    node->watch = watch;
    pthread_mutex_unlock(&vmm->lock);
    fd = -1; /* owned by the watch now */
    return 0;
}

void st_vmm_channel_close(st_vmm_node *node)
{
    st_vmm *vmm = node->vmm;
    pthread_mutex_lock(&vmm->lock);
    int watch = node->watch;
    node->watch = -1;
    pthread_mutex_unlock(&vmm->lock);
    if (watch >= 0)
        virEventRemoveHandle(watch);
}

static int channel_send_locked(st_vmm_node *node, json_t *msg, st_error *err)
{
    st_vmm *vmm = node->vmm;
    _cleanup_free_ char *line = NULL;
    _cleanup_close_ int fd = -1;
    pthread_mutex_lock(&vmm->lock);
    int r = 0;
    if (node->watch < 0 || node->chan_fd < 0)
        r = st_error_set(err, ENOTCONN, "node %s: channel is closed (the node is gone)",
                         node->name);
    else if ((r = st_proto_encode(msg, &node->send_seq, &line, err)) == 0) {
        /* A private descriptor: the watch may close its own meanwhile. */
        fd = fcntl(node->chan_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            r = st_error_sys(err, errno, "node %s: dup channel", node->name);
    }
    pthread_mutex_unlock(&vmm->lock);
    if (r < 0)
        return r;
    size_t len = strlen(line), off = 0;
    int64_t deadline = st_vmm_now_ns() + (int64_t)ST_CHANNEL_SEND_TIMEOUT_MS * 1000000;
    while (off < len) {
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return st_error_sys(err, errno, "node %s: writing to the channel", node->name);
        int left = (int)((deadline - st_vmm_now_ns()) / 1000000);
        if (left <= 0)
            return st_error_set(err, ETIMEDOUT,
                                "node %s: the guest did not read the channel for %d ms", node->name,
                                ST_CHANNEL_SEND_TIMEOUT_MS);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, left);
    }
    return 0;
}

int st_vmm_channel_send(st_vmm_node *node, json_t *msg, st_error *err)
{
    pthread_mutex_lock(&node->send_lock);
    int r = channel_send_locked(node, msg, err);
    pthread_mutex_unlock(&node->send_lock);
    return r;
}

int st_vmm_node_data_connect(st_vmm *vmm, const char *name, int *fd, st_error *err)
{
    _cleanup_node_ st_vmm_node *node = st_vmm_registry_get(vmm, name);
    if (node == NULL)
        return st_error_set(err, ENOENT, "node %s: not started or adopted by this stratad", name);
    return connect_port(node, node->data_path, "data port", ST_NODE_CHANNEL_CONNECT_MS, fd, err);
}
