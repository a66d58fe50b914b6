/* fs.c: see fs.h. The removal walks with file descriptors (openat and
 * unlinkat below a folder opened with O_NOFOLLOW), so a symlink put in place
 * of a folder while the walk runs is unlinked, never entered. A mount is
 * recognised by its device number and by statx's mount-root attribute, the
 * only one of the two that tells a bind mount of the same file system; both
 * are checked again on the opened folder, so a mount made between the look
 * and the open is not entered either. */
#include "strata/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "strata/cleanup.h"

/* ---- creating ------------------------------------------------------------ */

int st_fs_mkdir_p(const char *path, mode_t mode, st_error *err)
{
    struct stat st;
    if (path == NULL || *path == '\0')
        return st_error_set(err, EINVAL, "cannot create a folder: no path given");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    _cleanup_free_ char *buf = strdup(path);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    /* Every prefix that ends a component, then the whole path; "a//b/"
     * makes "a" and "a//b". A parent that is a file fails on the next. */
    for (size_t i = 1;; i++) {
        char c = buf[i];
        if ((c == '/' || c == '\0') && buf[i - 1] != '/') {
            buf[i] = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return st_error_sys(err, errno, "cannot create %s", buf);
            buf[i] = c;
        }
        if (c == '\0')
            break;
    }
    if (stat(path, &st) < 0)
        return st_error_sys(err, errno, "cannot create %s", path);
    if (!S_ISDIR(st.st_mode))
        return st_error_set(err, ENOTDIR, "cannot create the folder %s: a file is in the way",
                            path);
    return 0;
}

int st_fs_mkdir_mode(const char *path, mode_t mode, st_error *err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "cannot create %s", path);
    if (chmod(path, mode) < 0)
        return st_error_sys(err, errno, "cannot chmod %s", path);
    return 0;
}

int st_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, st_error *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
        return st_error_set(err, ENAMETOOLONG, "cannot write %s: the path is too long", path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot create a file beside %s", path);
    ssize_t w = write(fd, data, len);
    if (w != (ssize_t)len || fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
        int e = w >= 0 && w != (ssize_t)len ? EIO : errno ? errno : EIO;
        unlink(tmp);
        return st_error_sys(err, e, "cannot write %s (is the disk full?)", path);
    }
    return 0;
}

/* ---- removing ------------------------------------------------------------ */

/* One removal: the device it stays on, the path being looked at (for the
 * messages only: the work goes through descriptors, so a tree deeper than
 * PATH_MAX is still removed), and the first failure. */
struct rm_walk {
    dev_t dev;
    st_error *err;
    int r;
    char path[PATH_MAX];
};

static void rm_fail(struct rm_walk *w, int code, bool sys)
{
    int r = sys ? st_error_sys(w->err, code, "cannot remove %s", w->path)
                : st_error_set(w->err, code,
                               "%s is a mount point: unmount it first (it and what is "
                               "under it were left in place)",
                               w->path);
    if (w->r == 0)
        w->r = r;
}

static bool is_mount(const struct statx *stx, dev_t dev)
{
    if (makedev(stx->stx_dev_major, stx->stx_dev_minor) != dev)
        return true;
    return (stx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
           (stx->stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static void rm_entry(struct rm_walk *w, int dfd, const char *name);

/* Removes what the folder fd (w->path) holds; takes fd. */
static void rm_children(struct rm_walk *w, int fd)
{
    _cleanup_closedir_ DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        rm_fail(w, e, true);
        return;
    }
    struct dirent *de;
    for (errno = 0; (de = readdir(d)) != NULL; errno = 0)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rm_entry(w, dirfd(d), de->d_name);
    if (errno != 0)
        rm_fail(w, errno, true);
}

/* Removes the entry name of the folder dfd, whose path is w->path. */
static void rm_entry(struct rm_walk *w, int dfd, const char *name)
{
    size_t plen = strlen(w->path);
    snprintf(w->path + plen, sizeof(w->path) - plen, "/%s", name);
    struct statx stx;
    if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0) {
        if (errno != ENOENT)
            rm_fail(w, errno, true);
    } else if (is_mount(&stx, w->dev)) {
        rm_fail(w, EBUSY, false);
    } else if (!S_ISDIR(stx.stx_mode)) {
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
            rm_fail(w, errno, true);
    } else {
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno != ENOENT)
                rm_fail(w, errno, true);
        } else if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0 || is_mount(&stx, w->dev)) {
            close(fd);
            rm_fail(w, EBUSY, false);
        } else {
            rm_children(w, fd);
            if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                rm_fail(w, errno, true);
        }
    }
    w->path[plen] = '\0';
}

int st_fs_rmtree(const char *path, st_error *err)
{
    struct statx stx;
    if (path == NULL || *path == '\0')
        return st_error_set(err, EINVAL, "cannot remove a folder: no path given");
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &stx) < 0)
        return errno == ENOENT ? 0 : st_error_sys(err, errno, "cannot remove %s", path);
    if (!S_ISDIR(stx.stx_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return st_error_sys(err, errno, "cannot remove %s", path);
        return 0;
    }
    struct rm_walk w = {.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor), .err = err};
    snprintf(w.path, sizeof(w.path), "%s", path);
    for (size_t n = strlen(w.path); n > 1 && w.path[n - 1] == '/'; n--)
        w.path[n - 1] = '\0';
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : st_error_sys(err, errno, "cannot remove %s", path);
    rm_children(&w, fd);
    if (rmdir(path) < 0 && errno != ENOENT)
        rm_fail(&w, errno, true);
    return w.r;
}
