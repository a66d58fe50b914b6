/* mounts.c: the container's filesystem view (rootfs bind, config mounts,
 * /dev with its device nodes, pivot_root, masked and read-only paths). Runs
 * only in the container's process, inside its own mount namespace, after
 * "/" was made rslave/rprivate so nothing propagates back to the host; the
 * propagation linux.rootfsPropagation asks for is set on the new root after
 * pivot_root (a shared "/" before it would hand every mount made here to
 * the host, and pivot_root refuses a shared parent). In a joined mount
 * namespace nothing is mounted: the process only chroots into root.path. */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devices.h"
#include "strata/cleanup.h"
#include "strata/fs.h"

/* mkdir -p of an absolute path; the last component as a file when is_file. */
static int mkpath(const char *path, bool is_file)
{
    if (!is_file) {
        /* The parent is nearly always there (/dev for /dev/pts): one mkdir,
         * not one per level from "/". */
        struct stat st;
        if (mkdir(path, 0755) == 0 ||
            (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
            return 0;
        return st_fs_mkdir_p(path, 0755, NULL);
    }
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    char *slash = strrchr(buf, '/');
    if (slash && slash != buf) {
        *slash = '\0';
        int r = st_fs_mkdir_p(buf, 0755, NULL);
        if (r < 0)
            return r;
    }
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EISDIR)
        return -errno;
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Flags a bind remount must keep: the kernel refuses to clear locked ones. */
static unsigned long kept_flags(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) < 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    return f;
}

/* The default device nodes (devices.h), 0666; path and host are scratch. */
static int make_nodes(const char *where, const char *dev, char *path, size_t path_size, char *host,
                      size_t host_size, st_error *err)
{
    for (size_t i = 0; i < st_n_default_devices; i++) {
        const struct st_default_device *d = &st_default_devices[i];
        if (d->name == NULL)
            continue;
        if (snprintf(path, path_size, "%s/%s", dev, d->name) >= (int)path_size)
            return st_error_set(err, ENAMETOOLONG, "%s: mounts: %s: path too long", where, dev);
        if (mknod(path, S_IFCHR | 0666, makedev((unsigned)d->major, (unsigned)d->minor)) == 0)
            continue;
        if (errno != EPERM)
            return st_error_sys(err, errno, "%s: mounts: cannot create %s", where, path);
        /* In a user namespace mknod is denied: bind the host's node instead. */
        snprintf(host, host_size, "/dev/%s", d->name);
        int r = mkpath(path, true);
        if (r < 0 || mount(host, path, NULL, MS_BIND, NULL) < 0)
            return st_error_sys(err, r < 0 ? -r : errno, "%s: mounts: cannot bind %s to %s", where,
                                host, path);
    }
    return 0;
}

/* The default devices (devices.h) in a fresh /dev tmpfs. */
static int make_devices(const char *where, const char *dev, st_error *err)
{
    char path[PATH_MAX], host[64];
    /* The nodes are 0666 whatever the umask: clear it for mknod rather than
     * chmod each node after (restored right away). */
    mode_t old_umask = umask(0);
    int r = make_nodes(where, dev, path, sizeof(path), host, sizeof(host), err);
    umask(old_umask);
    if (r < 0)
        return r;
    static const char *const links[][2] = {
        {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dev, links[i][1]) >= (int)sizeof(path))
            return st_error_set(err, ENAMETOOLONG, "%s: mounts: %s: path too long", where, dev);
        if (symlink(links[i][0], path) < 0 && errno != EEXIST)
            return st_error_sys(err, errno, "%s: mounts: cannot create %s", where, path);
    }
    return 0;
}

/* The config's "cgroup" mount: a fresh cgroup2 when the host is unified;
 * on a v1/hybrid host the host's tree bound read-only, as a best effort. */
static int mount_cgroup(const struct st_oci_mount *m, const char *target)
{
    struct statvfs sv;
    unsigned long fl = m->flags & ~(MS_BIND | MS_REC);
    if (mount("cgroup", target, "cgroup2", fl, NULL) == 0)
        return 0;
    if (statvfs("/sys/fs/cgroup", &sv) < 0)
        return -errno;
    if (mount("/sys/fs/cgroup", target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -errno;
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | fl | kept_flags(target), NULL) < 0)
        return -errno;
    return 0;
}

static int mount_one(const struct st_oci_config *c, const struct st_oci_mount *m, size_t idx,
                     bool *dev_tmpfs, st_error *err)
{
    char target[PATH_MAX], source[PATH_MAX];
    if (snprintf(target, sizeof(target), "%s%s", c->root_path, m->destination) >=
        (int)sizeof(target))
        return st_error_set(err, ENAMETOOLONG, "%s: mounts[%zu].destination: too long", c->where,
                            idx);
    const char *src = m->source;
    bool bind = (m->flags & MS_BIND) != 0;
    if (bind && src[0] != '/' && c->bundle) {
        snprintf(source, sizeof(source), "%s/%s", c->bundle, src);
        src = source;
    }
    struct stat st;
    bool is_file = false;
    if (bind) {
        if (stat(src, &st) < 0)
            return st_error_sys(err, errno,
                                "%s: mounts[%zu].source %s: cannot use it (does it exist?)",
                                c->where, idx, src);
        is_file = !S_ISDIR(st.st_mode);
    }
    int r = mkpath(target, is_file);
    if (r < 0)
        return st_error_sys(err, -r, "%s: mounts[%zu].destination: cannot create %s", c->where, idx,
                            target);
    if (bind) {
        if (mount(src, target, NULL, m->flags & (MS_BIND | MS_REC), NULL) < 0)
            return st_error_sys(err, errno, "%s: mounts[%zu]: bind %s on %s failed", c->where, idx,
                                src, target);
        unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
        if (extra &&
            mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | extra | kept_flags(target), NULL) < 0)
            return st_error_sys(err, errno, "%s: mounts[%zu].options: remount of %s failed",
                                c->where, idx, target);
    } else if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0) {
        if ((r = mount_cgroup(m, target)) < 0)
            return st_error_sys(err, -r, "%s: mounts[%zu]: cgroup on %s failed", c->where, idx,
                                target);
    } else if (mount(src ? src : m->type, target, m->type, m->flags, m->data) < 0) {
        int e = errno;
        /* sysfs is refused without a new network namespace in a user namespace. */
        if (strcmp(m->type, "sysfs") == 0 && (e == EPERM || e == EBUSY) &&
            mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0) {
            if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | m->flags | kept_flags(target),
                      NULL) < 0)
                return st_error_sys(err, errno, "%s: mounts[%zu]: remount of %s failed", c->where,
                                    idx, target);
        } else {
            return st_error_sys(err, e, "%s: mounts[%zu]: mount -t %s %s on %s (options \"%s\")",
                                c->where, idx, m->type, src ? src : m->type, target,
                                m->data ? m->data : "");
        }
    }
    if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0)
        return st_error_sys(err, errno, "%s: mounts[%zu].options: propagation of %s failed",
                            c->where, idx, target);
    if (strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0)
        *dev_tmpfs = true;
    return 0;
}

static bool has_mount(const struct st_oci_config *c, const char *dest)
{
    for (size_t i = 0; i < c->n_mounts; i++)
        if (strcmp(c->mounts[i].destination, dest) == 0)
            return true;
    return false;
}

static const struct st_oci_mount std_proc = {
    "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, NULL};
static const struct st_oci_mount std_dev = {
    "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, 0, "mode=755,size=65536k"};
static const struct st_oci_mount std_sys = {
    "/sys", "sysfs", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, 0, NULL};
static const struct st_oci_mount std_pts = {"/dev/pts", "devpts",
                                            "devpts",   MS_NOSUID | MS_NOEXEC,
                                            0,          "newinstance,ptmxmode=0666,mode=0620"};
static const struct st_oci_mount std_shm = {
    "/dev/shm", "tmpfs", "shm", MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, "mode=1777,size=65536k"};

static bool joined_mount_ns(const struct st_oci_config *c)
{
    return (c->ns_joined & CLONE_NEWNS) != 0;
}

int st_mounts_prepare(const struct st_oci_config *c, st_error *err)
{
    if (joined_mount_ns(c))
        return 0;
    /* Until the pivot nothing may flow back to the host: private when the
     * root is to be private or unbindable, else a slave (it still receives
     * the host's mounts, as "slave" and "shared" both promise). */
    unsigned long first =
        c->rootfs_propagation & (MS_PRIVATE | MS_UNBINDABLE) ? MS_PRIVATE : MS_SLAVE;
    if (mount(NULL, "/", NULL, first | MS_REC, NULL) < 0)
        return st_error_sys(err, errno, "%s: linux.rootfsPropagation: cannot make / %s", c->where,
                            first == MS_PRIVATE ? "rprivate" : "rslave");
    if (mount(c->root_path, c->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return st_error_sys(err, errno, "%s: root.path %s: cannot bind it", c->where, c->root_path);
    bool dev_tmpfs = false;
    int r;
    const struct st_oci_mount *head[] = {&std_proc, &std_dev, &std_sys};
    for (size_t i = 0; i < 3; i++)
        if (!has_mount(c, head[i]->destination) &&
            (r = mount_one(c, head[i], 0, &dev_tmpfs, err)) < 0)
            return r;
    for (size_t i = 0; i < c->n_mounts; i++)
        if ((r = mount_one(c, &c->mounts[i], i, &dev_tmpfs, err)) < 0)
            return r;
    const struct st_oci_mount *tail[] = {&std_pts, &std_shm};
    for (size_t i = 0; i < 2; i++)
        if (!has_mount(c, tail[i]->destination) &&
            (r = mount_one(c, tail[i], 0, &dev_tmpfs, err)) < 0)
            return r;
    if (dev_tmpfs) {
        char dev[PATH_MAX];
        snprintf(dev, sizeof(dev), "%s/dev", c->root_path);
        if ((r = make_devices(c->where, dev, err)) < 0)
            return r;
    }
    return st_devices_create(c, err);
}

/* A joined namespace's mounts are its owner's: no pivot_root, which would
 * move the root of every process in it; root.path is looked up there. */
static int chroot_joined(const struct st_oci_config *c, st_error *err)
{
    if (chroot(c->root_path) < 0)
        return st_error_sys(err, errno,
                            "%s: root.path %s: cannot chroot into it in the joined mount "
                            "namespace (it is looked up there)",
                            c->where, c->root_path);
    if (chdir("/") < 0)
        return st_error_sys(err, errno, "chdir /");
    return 0;
}

/* Now that "/" is the container's own root, it may become what the config
 * asks: shared gets a peer group of its own (never the host's: "/" was a
 * slave before), slave stays, private and unbindable cut the host off. */
static int set_root_propagation(const struct st_oci_config *c, st_error *err)
{
    if (!c->rootfs_propagation_set)
        return 0;
    if (mount(NULL, "/", NULL, c->rootfs_propagation, NULL) < 0)
        return st_error_sys(err, errno, "%s: linux.rootfsPropagation: cannot set it on the root",
                            c->where);
    return 0;
}

int st_mounts_pivot(const struct st_oci_config *c, st_error *err)
{
    if (joined_mount_ns(c))
        return chroot_joined(c, err);
    if (chdir(c->root_path) < 0)
        return st_error_sys(err, errno, "%s: root.path %s: cannot enter it", c->where,
                            c->root_path);
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        /* The old root now sits on top of the new one: detach it. */
        if (umount2(".", MNT_DETACH) < 0)
            return st_error_sys(err, errno, "pivot_root: cannot detach the old root");
    } else if (errno == EINVAL) {
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
            return st_error_sys(err, errno, "root.path %s: MS_MOVE onto / failed", c->root_path);
        if (chroot(".") < 0)
            return st_error_sys(err, errno, "root.path %s: chroot failed", c->root_path);
    } else {
        return st_error_sys(err, errno, "%s: root.path %s: pivot_root failed", c->where,
                            c->root_path);
    }
    if (chdir("/") < 0)
        return st_error_sys(err, errno, "chdir /");
    return set_root_propagation(c, err);
}

static int mask_path(const struct st_oci_config *c, const char *path, st_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0; /* absent: nothing to hide */
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
                                : mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (r < 0)
        return st_error_sys(err, errno, "%s: linux.maskedPaths: cannot mask %s", c->where, path);
    return 0;
}

static int readonly_path(const struct st_oci_config *c, const char *path, st_error *err)
{
    if (access(path, F_OK) < 0)
        return 0;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | kept_flags(path),
              NULL) < 0)
        return st_error_sys(err, errno, "%s: linux.readonlyPaths: cannot make %s read-only",
                            c->where, path);
    return 0;
}

int st_mounts_finish(const struct st_oci_config *c, st_error *err)
{
    int r;
    for (char **p = c->masked_paths; *p; p++)
        if ((r = mask_path(c, *p, err)) < 0)
            return r;
    for (char **p = c->readonly_paths; *p; p++)
        if ((r = readonly_path(c, *p, err)) < 0)
            return r;
    if (c->root_readonly &&
        mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags("/"), NULL) < 0)
        return st_error_sys(err, errno, "%s: root.readonly: cannot remount / read-only", c->where);
    return 0;
}
