/* images.c: the node's image store and each container's writable root.
 * The host keeps one folder per image, <images>/<name>/rootfs, shared
 * read-only into the VM (9p); a container runs on an overlay whose lower
 * layer is that rootfs and whose upper and work layers live in the pod's
 * work folder (a tmpfs in the VM: overlayfs refuses an upper on overlayfs).
 * Removing a container's layers must never reach into the image: nothing is
 * deleted below a folder that is still a mount point. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/names.h"

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

/* ---- image lookup ----------------------------------------------------- */

int st_node_image_rootfs(const char *images_dir, const char *image, char **rootfs, st_error *err)
{
    struct st_image_ref ref;
    int r = st_name_image_ref_parse(image, &ref, err);
    if (r < 0)
        return r;
    /* The store holds one version of each name: that version is "latest". */
    if (ref.digest || (ref.tag[0] && strcmp(ref.tag, "latest") != 0))
        return st_error_set(err, EINVAL,
                            "image \"%s\": the image store %s keeps one version per name (no "
                            "other tag than latest, no digest); use \"%s\", or import this "
                            "version under a name of its own",
                            image, images_dir, ref.name);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/rootfs", images_dir, ref.name);
    if (!is_dir(path))
        return st_error_set(err, ENOENT,
                            "image \"%s\" not found: the image store %s has no %s; import it "
                            "on the host with `stratactl image import %s DIR|TARBALL`",
                            image, images_dir, path, ref.name);
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
    if ((r = st_fs_mkdir_p(upper, 0755, err)) < 0 || (r = st_fs_mkdir_p(work, 0700, err)) < 0 ||
        (r = st_fs_mkdir_p(root, 0755, err)) < 0)
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
    return st_fs_rmtree(dir, err);
}
