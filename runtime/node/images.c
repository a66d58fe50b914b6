/* images.c: the node's image store and each container's writable root.
 * The host keeps one folder per image, <images>/<name>/rootfs, shared
 * read-only into the VM (9p); a container runs on an overlay whose lower
 * layer is that rootfs and whose upper and work layers live in the pod's
 * work folder (a tmpfs in the VM: overlayfs refuses an upper on overlayfs).
 * Removing a container's layers must never reach into the image: nothing is
 * deleted below a folder that is still a mount point. */
#include "node.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

/* A name that is one folder of the store: no '/', not "." or "..". */
static bool image_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == ':' || *p == '@'))
            return false;
    return true;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int st_node_mkdirs(const char *path, mode_t mode, st_error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return st_error_set(err, ENAMETOOLONG, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return st_error_sys(err, errno, "cannot create %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "cannot create %s", buf);
    return 0;
}

/* true when path is a mount point: its device differs from its parent's, or
 * (a bind mount of the same file system) /proc/self/mountinfo lists it. */
static bool is_mount_point(const char *path)
{
    struct stat a, b;
    char parent[PATH_MAX];
    if (lstat(path, &a) < 0 || !S_ISDIR(a.st_mode))
        return false;
    snprintf(parent, sizeof(parent), "%s/..", path);
    if (stat(parent, &b) == 0 && a.st_dev != b.st_dev)
        return true;
    _cleanup_free_ char *real = realpath(path, NULL);
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (real == NULL || f == NULL)
        return false;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        char mnt[PATH_MAX];
        /* id parent major:minor root mount-point ... */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strcmp(mnt, real) == 0)
            return true;
    }
    return false;
}

/* ---- image lookup ----------------------------------------------------- */

int st_node_image_rootfs(const char *images_dir, const char *image, char **rootfs, st_error *err)
{
    if (image == NULL || !image_name_ok(image))
        return st_error_set(err, EINVAL,
                            "image \"%s\" cannot name a folder of the image store %s: use the "
                            "folder name (letters, digits, '.', '_', '-', ':'; no '/')",
                            image ? image : "", images_dir);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/rootfs", images_dir, image);
    if (!is_dir(path)) {
        /* "busybox:latest" is the image "busybox" */
        size_t n = strlen(image);
        if (n > 7 && strcmp(image + n - 7, ":latest") == 0) {
            snprintf(path, sizeof(path), "%s/%.*s/rootfs", images_dir, (int)(n - 7), image);
            if (!is_dir(path))
                snprintf(path, sizeof(path), "%s/%s/rootfs", images_dir, image);
        }
    }
    if (!is_dir(path))
        return st_error_set(err, ENOENT,
                            "image \"%s\" not found: the image store %s has no %s; import it "
                            "on the host with `stratactl image import %s DIR|TARBALL`",
                            image, images_dir, path, image);
    *rootfs = strdup(path);
    return *rootfs ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

/* ---- the writable root ------------------------------------------------ */

int st_node_overlay_mount(const char *dir, const char *lower, const char *source, st_error *err)
{
    /* ',' and ':' separate overlay options and layers; '\\' escapes them. */
    const char *paths[] = {dir, lower};
    for (size_t i = 0; i < 2; i++)
        if (strpbrk(paths[i], ",:\\") != NULL)
            return st_error_set(err, EINVAL,
                                "%s: overlayfs cannot take a path with ',', ':' or '\\'; move the "
                                "%s",
                                paths[i], i == 0 ? "state dir (--state-dir)" : "image store");
    char upper[PATH_MAX], work[PATH_MAX], root[PATH_MAX];
    snprintf(upper, sizeof(upper), "%s/upper", dir);
    snprintf(work, sizeof(work), "%s/work", dir);
    if (snprintf(root, sizeof(root), "%s/rootfs", dir) >= (int)sizeof(root))
        return st_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
    int r;
    if ((r = st_node_mkdirs(upper, 0755, err)) < 0 || (r = st_node_mkdirs(work, 0700, err)) < 0 ||
        (r = st_node_mkdirs(root, 0755, err)) < 0)
        return r;
    char data[3 * PATH_MAX + 64];
    if (snprintf(data, sizeof(data), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work) >=
        (int)sizeof(data))
        return st_error_set(err, ENAMETOOLONG, "overlay options for %s: too long", dir);
    if (mount(source, root, "overlay", 0, data) < 0) {
        int e = errno;
        if (e == EINVAL)
            return st_error_sys(err, e,
                                "mount overlay on %s (lower %s): refused; the state dir must not "
                                "be on overlayfs (use a tmpfs) and the kernel needs overlay",
                                root, lower);
        return st_error_sys(err, e, "mount overlay on %s (lower %s)", root, lower);
    }
    return 0;
}

int st_node_overlay_remove(const char *dir, st_error *err)
{
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/rootfs", dir);
    if (!is_dir(dir))
        return 0;
    if (is_mount_point(root) && umount2(root, 0) < 0) {
        /* Busy (a process still has it open): detach it, the kernel frees
         * it when the last user goes. */
        if (umount2(root, MNT_DETACH) < 0 && errno != EINVAL)
            return st_error_sys(err, errno, "cannot unmount %s", root);
    }
    if (is_mount_point(root))
        return st_error_set(err, EBUSY, "%s is still mounted; left %s in place", root, dir);
    return st_node_remove_tree(dir, err);
}

/* ---- removal ---------------------------------------------------------- */

static dev_t remove_dev;
static int remove_errno;
static char remove_path[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    /* nftw with FTW_MOUNT does not enter other file systems, but it still
     * reports their mount points: leave those alone. */
    if (st->st_dev != remove_dev)
        return 0;
    int r = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);
    if (r < 0 && errno != ENOENT && remove_errno == 0) {
        remove_errno = errno;
        snprintf(remove_path, sizeof(remove_path), "%s", path);
    }
    return 0;
}

int st_node_remove_tree(const char *dir, st_error *err)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return errno == ENOENT ? 0 : st_error_sys(err, errno, "cannot remove %s", dir);
    remove_dev = st.st_dev;
    remove_errno = 0;
    if (nftw(dir, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return st_error_sys(err, errno, "cannot remove %s", dir);
    if (remove_errno)
        return st_error_sys(err, remove_errno, "cannot remove %s", remove_path);
    return 0;
}
