/* transport_unix.c: the host channel as a unix socket strata-node listens
 * on (--listen unix:PATH), for tests on the host and nodes without a VM.
 * One host connection at a time: others wait in the backlog until the
 * current one ends. The socket file appears only once it accepts
 * connections. It removes only a stale socket file, never other files. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_open(struct st_node_transport *t, const struct st_node_config *cfg, st_error *err)
{
    t->fd = t->conn = -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(cfg->listen_path) >= sizeof(sa.sun_path))
        return st_error_set(err, ENAMETOOLONG, "--listen unix:%s: path longer than %zu bytes",
                            cfg->listen_path, sizeof(sa.sun_path) - 1);
    strcpy(sa.sun_path, cfg->listen_path);
    struct stat st;
    if (lstat(cfg->listen_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return st_error_set(err, EEXIST, "--listen unix:%s exists and is not a socket",
                                cfg->listen_path);
        unlink(cfg->listen_path); /* stale socket of an earlier run */
    }
    t->path = strdup(cfg->listen_path);
    if (t->path == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0)
        return st_error_sys(err, errno, "socket(AF_UNIX)");
    /* Bound under a temporary name and renamed once listening, so the
     * socket file appears only when a connect can succeed (a host or test
     * that waits for the file never meets ECONNREFUSED). */
    struct sockaddr_un tmp = {.sun_family = AF_UNIX};
    bool renamed = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d.tmp", cfg->listen_path,
                            (int)getpid()) < (int)sizeof(tmp.sun_path);
    struct sockaddr_un *addr = renamed ? &tmp : &sa;
    if (renamed)
        unlink(tmp.sun_path);
    if (bind(t->fd, (struct sockaddr *)addr, sizeof(*addr)) < 0)
        return st_error_sys(err, errno, "bind unix:%s", addr->sun_path);
    if (!renamed)
        t->bound = true;
    if (listen(t->fd, 4) < 0) {
        int e = errno;
        if (renamed)
            unlink(tmp.sun_path);
        return st_error_sys(err, e, "listen unix:%s", t->path);
    }
    if (renamed) {
        if (rename(tmp.sun_path, t->path) < 0) {
            int e = errno;
            unlink(tmp.sun_path);
            return st_error_sys(err, e, "rename %s to %s", tmp.sun_path, t->path);
        }
        t->bound = true;
    }
    st_node_log("listening on unix:%s", t->path);
    return 0;
}

static int unix_wait_fd(struct st_node_transport *t)
{
    return t->fd;
}

static int unix_connect(struct st_node_transport *t, int *fd, st_error *err)
{
    if (t->conn < 0) {
        t->conn = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (t->conn < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return 0;
            return st_error_sys(err, errno, "accept on unix:%s", t->path);
        }
    }
    *fd = t->conn;
    return 1;
}

static void unix_disconnect(struct st_node_transport *t)
{
    if (t->conn >= 0)
        close(t->conn);
    t->conn = -1;
}

static void unix_close(struct st_node_transport *t)
{
    unix_disconnect(t);
    if (t->fd >= 0)
        close(t->fd);
    if (t->bound)
        unlink(t->path);
    t->bound = false;
    t->fd = -1;
    free(t->path);
    t->path = NULL;
}

const struct st_node_transport_ops st_node_transport_unix = {
    .name = "unix",
    .open = unix_open,
    .wait_fd = unix_wait_fd,
    .connect = unix_connect,
    .disconnect = unix_disconnect,
    .close = unix_close,
};
