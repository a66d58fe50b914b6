/* transport_virtio.c: the host channel inside a VM, the virtio-serial port
 * named org.strata.node.0. The port is opened once and kept: the host
 * (re)connecting to its end shows up as the port's HUP state clearing, not
 * as a new fd. It must not spin: while no host is connected poll() reports
 * POLLHUP at once, so the loop retries on a timer instead of polling it. */
#include "node.h"
#include "strata/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VPORTS_DIR "/sys/class/virtio-ports"

int st_node_virtio_port_find(const char *name, char *dev, size_t devlen, st_error *err)
{
    _cleanup_closedir_ DIR *d = opendir(VPORTS_DIR);
    if (d == NULL)
        return st_error_sys(err, errno,
                            "%s missing (virtio_console not loaded, or no virtio-serial device)",
                            VPORTS_DIR);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX], got[256] = "";
        snprintf(path, sizeof(path), VPORTS_DIR "/%s/name", de->d_name);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f == NULL || fgets(got, sizeof(got), f) == NULL)
            continue;
        got[strcspn(got, "\n")] = '\0';
        if (strcmp(got, name) == 0) {
            snprintf(dev, devlen, "/dev/%s", de->d_name);
            return 0;
        }
    }
    return st_error_set(err, ENOENT, "no virtio-serial port named %s under %s", name, VPORTS_DIR);
}

static int virtio_open(struct st_node_transport *t, const struct st_node_config *cfg, st_error *err)
{
    t->fd = t->conn = -1;
    /* template.c waited on the port already: keep its descriptor (a
     * virtio port has one opener at a time) */
    if (cfg->port_fd > 0)
        t->fd = cfg->port_fd;
    t->path = strdup(cfg->port_name);
    if (t->path == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

static int virtio_wait_fd(struct st_node_transport *t)
{
    (void)t;
    return -1;
}

static int virtio_connect(struct st_node_transport *t, int *fd, st_error *err)
{
    if (t->fd < 0) {
        /* The port can appear after we start (module load, udev-less
         * devtmpfs node creation): keep looking, say so once. */
        char dev[PATH_MAX];
        st_error ferr = {0};
        if (st_node_virtio_port_find(t->path, dev, sizeof(dev), &ferr) < 0) {
            if (!t->reported)
                st_node_log("waiting for the host channel: %s", ferr.msg);
            t->reported = true;
            return 0;
        }
        t->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (t->fd < 0)
            return st_error_sys(err, errno, "opening %s (virtio-serial port %s)", dev, t->path);
        st_node_log("opened %s (port %s); waiting for the host to connect", dev, t->path);
        t->reported = true;
    }
    struct pollfd p = {.fd = t->fd, .events = POLLIN | POLLOUT};
    int n = poll(&p, 1, 0);
    if (n < 0 && errno != EINTR)
        return st_error_sys(err, errno, "poll on virtio port %s", t->path);
    /* No host on the other end: the port reports HUP and writes would block. */
    if (n <= 0 || (p.revents & POLLHUP) || !(p.revents & POLLOUT))
        return 0;
    *fd = t->fd;
    return 1;
}

static void virtio_disconnect(struct st_node_transport *t)
{
    (void)t; /* the port stays open; the host reconnects to its own end */
}

static void virtio_close(struct st_node_transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->path);
    t->path = NULL;
}

const struct st_node_transport_ops st_node_transport_virtio = {
    .name = "virtio-serial",
    .open = virtio_open,
    .wait_fd = virtio_wait_fd,
    .connect = virtio_connect,
    .disconnect = virtio_disconnect,
    .close = virtio_close,
};
