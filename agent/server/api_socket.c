/* api_socket.c: the API's unix socket: whether another stratad already
 * answers on it (checked before anything is made in the state dir, and
 * again just before binding), and listening on it with mode 0600. */
#include "server_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills sa with path; -ENAMETOOLONG when it does not fit. */
static int socket_addr(const char *path, struct sockaddr_un *sa, st_error *err)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa->sun_path))
        return st_error_set(err, ENAMETOOLONG, "--socket %s: the path is too long (max %zu)", path,
                            sizeof(sa->sun_path) - 1);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

int st_server_api_socket_check(const char *path, st_error *err)
{
    struct sockaddr_un sa;
    int r = socket_addr(path, &sa, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return st_error_sys(err, errno, "socket");
    /* A socket file nobody answers on is stale: ours to replace. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return st_error_set(err, EADDRINUSE,
                            "another stratad answers on %s; stop it or give --socket another path",
                            path);
    return 0;
}

int st_server_api_listen(const char *path, st_error *err)
{
    struct sockaddr_un sa;
    int r = socket_addr(path, &sa, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return st_error_sys(err, errno, "cannot create the socket folder %s", dir);
    }
    /* Checked again: another stratad (other state dir) may have started
     * since main checked. */
    if ((r = st_server_api_socket_check(path, err)) < 0)
        return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return st_error_sys(err, errno, "socket");
    unlink(path);
    mode_t old = umask(0177);
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || chmod(path, 0600) < 0 || listen(fd, ST_SERVER_API_BACKLOG) < 0) {
        int e = errno;
        close(fd);
        return st_error_sys(err, e, "cannot listen on %s", path);
    }
    return fd;
}
