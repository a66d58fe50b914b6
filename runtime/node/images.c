/* images.c: each container's writable root over its image's layers.
 * The host's image store (strata/image.h) is shared read-only into the VM
 * (9p), every layer unpacked there once (layers/<hex>); a container runs
 * on an overlay whose lowers are its image's layers and whose upper and
 * work layers live in the pod's work folder (a tmpfs in the VM: overlayfs
 * refuses an upper on overlayfs). No copy of a rootfs per image or per
 * container. Removing a container's layers must never reach into the
 * image: nothing is deleted below a folder that is still a mount point. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
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

/* ---- the writable root ------------------------------------------------ */

/* ',' and ':' separate overlay options and layers; '\\' escapes them. */
static int overlay_path_ok(const char *path, const char *what, st_error *err)
{
    if (strpbrk(path, ",:\\") != NULL)
        return st_error_set(err, EINVAL,
                            "%s: overlayfs cannot take a path with ',', ':' or '\\'; move the %s",
                            path, what);
    return 0;
}

/* lowerdir=TOP:...:BOTTOM (overlayfs lists the uppermost lower first). */
static int lowerdir_option(const char *dir, const char *images_dir, const char *const *layers,
                           size_t n, char **out, st_error *err)
{
    int r;
    if ((r = overlay_path_ok(images_dir, "image store (--images)", err)) < 0)
        return r;
    size_t cap = 16 + strlen(dir) + 8;
    for (size_t i = 0; i < n; i++)
        cap += strlen(images_dir) + strlen(layers[i]) + 2;
    _cleanup_free_ char *opt = malloc(cap);
    if (opt == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (n == 0) {
        /* an image without layers: an empty lower, the upper holds all */
        snprintf(opt, cap, "lowerdir=%s/empty", dir);
        char empty[PATH_MAX];
        snprintf(empty, sizeof(empty), "%s/empty", dir);
        if ((r = st_fs_mkdir_p(empty, 0755, err)) < 0)
            return r;
        *out = st_steal_ptr(&opt);
        return 0;
    }
    size_t len = (size_t)snprintf(opt, cap, "lowerdir=");
    for (size_t i = n; i-- > 0;) {
        const char *l = layers[i];
        if (l[0] == '/' || strstr(l, "..") != NULL)
            return st_error_set(err, EINVAL,
                                "image layer \"%s\": expected a path inside the image store "
                                "(layers/<hex>)",
                                l);
        if ((r = overlay_path_ok(l, "image store (--images)", err)) < 0)
            return r;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", images_dir, l);
        if (!is_dir(path))
            return st_error_set(err, ENOENT,
                                "image layer %s is missing from the image store %s (shared from "
                                "the host): import or pull the image again",
                                l, images_dir);
        len += (size_t)snprintf(opt + len, cap - len, "%s%s", i == n - 1 ? "" : ":", path);
    }
    *out = st_steal_ptr(&opt);
    return 0;
}

int st_node_overlay_mount(const char *dir, const char *images_dir, const char *const *layers,
                          size_t n, const char *source, st_error *err)
{
    int r;
    if ((r = overlay_path_ok(dir, "state dir (--state-dir)", err)) < 0)
        return r;
    char upper[PATH_MAX], work[PATH_MAX], root[PATH_MAX];
    snprintf(upper, sizeof(upper), "%s/upper", dir);
    snprintf(work, sizeof(work), "%s/work", dir);
    if (snprintf(root, sizeof(root), "%s/rootfs", dir) >= (int)sizeof(root))
        return st_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
    if ((r = st_fs_mkdir_p(upper, 0755, err)) < 0 || (r = st_fs_mkdir_p(work, 0700, err)) < 0 ||
        (r = st_fs_mkdir_p(root, 0755, err)) < 0)
        return r;
    _cleanup_free_ char *lower = NULL, *data = NULL;
    if ((r = lowerdir_option(dir, images_dir, layers, n, &lower, err)) < 0)
        return r;
    /* userxattr: the store marks opaque directories with user.overlay.opaque
     * (9p does not show trusted.* xattrs to the guest). */
    if (asprintf(&data, "%s,upperdir=%s,workdir=%s,userxattr", lower, upper, work) < 0) {
        data = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    if (mount(source, root, "overlay", 0, data) < 0) {
        int e = errno;
        if (e == EINVAL)
            return st_error_sys(err, e,
                                "mount overlay on %s (%zu image layers): refused; the state dir "
                                "must not be on overlayfs (use a tmpfs) and the kernel needs "
                                "overlay with userxattr (5.11 or later)",
                                root, n);
        return st_error_sys(err, e, "mount overlay on %s (%zu image layers)", root, n);
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
    return st_fs_rmtree(dir, err);
}
