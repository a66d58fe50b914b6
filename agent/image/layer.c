/* layer.c: one layer tar unpacked into the form overlayfs stacks as a lower
 * layer. libarchive reads the tar (plain, gzip or zstd) and writes the
 * files with their owners (numeric, as in the image: the host's names mean
 * nothing to it), modes, times, xattrs, ACLs and device files; what
 * libarchive does not know about image layers is done here:
 *  - whiteouts: .wh.NAME becomes a 0:0 character device NAME, and
 *    .wh..wh..opq the xattr user.overlay.opaque="y" on its directory (the
 *    nodes mount with "userxattr": they read the store over 9p);
 *  - a hard link to a file of a lower layer (layers are separate
 *    directories, a link cannot cross them) becomes a copy of that file;
 *  - a layer is untrusted input: a path that is absolute, climbs with ..,
 *    or goes through a symlink is refused before anything is written
 *    there, and xattrs that would steer overlayfs (user.overlay.*,
 *    trusted.overlay.*) are dropped. libarchive's own SECURE_* checks stay
 *    on behind ours. */
#include "image_priv.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive_cleanup.h"
#include "strata/cleanup.h"
#include "strata/fs.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct unpack {
    const char *blob;
    char root[PATH_MAX]; /* the layer dir, resolved: no symlink in it */
    const char *const *lowers;
    size_t nlowers;
};

/* A tar member name made relative and checked: "./a//b/" -> "a/b"; "" is
 * the root. Absolute names and any ".." are -EPERM, except "/" alone: the
 * root's own entry, which some tools write (Debian's umoci 0.4.7 `insert
 * DIR /`) and containerd takes as the root. */
static int clean_path(const struct unpack *u, const char *name, char *out, size_t len,
                      st_error *err)
{
    if (name && name[0] == '/' && name[strspn(name, "/")] == '\0') {
        out[0] = '\0';
        return 0;
    }
    if (name == NULL || name[0] == '/')
        return st_error_set(err, EPERM,
                            "layer %s: member \"%s\" has an absolute path; a layer may only "
                            "write below its root",
                            u->blob, name ? name : "");
    size_t o = 0;
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return st_error_set(err, EPERM,
                                "layer %s: member \"%s\" climbs out of the root with \"..\"",
                                u->blob, name);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > len)
                return st_error_set(err, EBADMSG, "layer %s: member \"%s\" is too long", u->blob,
                                    name);
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = e;
    }
    out[o] = '\0';
    return 0;
}

/* Every existing folder on the way to rel (rel itself aside) must be a
 * real folder of this layer: a symlink there would send the write
 * elsewhere, possibly out of the root. */
static int check_parents(const struct unpack *u, const char *rel, const char *name, st_error *err)
{
    char path[PATH_MAX];
    size_t rl = strlen(u->root);
    int r = st_image_pathf(path, sizeof(path), err, "%s/%s", u->root, rel);
    if (r < 0)
        return r;
    for (char *p = path + rl + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        struct stat st;
        r = lstat(path, &st);
        *p = '/';
        if (r < 0)
            return 0; /* made fresh from here on */
        if (S_ISLNK(st.st_mode))
            return st_error_set(err, EPERM,
                                "layer %s: member \"%s\" goes through the symlink \"%.*s\"; a "
                                "layer may not write through a symlink",
                                u->blob, name, (int)(p - path - rl - 1), path + rl + 1);
        if (!S_ISDIR(st.st_mode))
            return st_error_set(err, EBADMSG, "layer %s: member \"%s\" is below a non-folder",
                                u->blob, name);
    }
    return 0;
}

static int whiteout(const struct unpack *u, const char *rel, const char *name, st_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    int r = st_image_pathf(dir, sizeof(dir), err, "%s/%.*s", u->root,
                           slash ? (int)(slash - rel) : 0, rel);
    if (r == 0)
        r = st_fs_mkdir_p(dir, 0755, err);
    if (r < 0)
        return r;
    if (strcmp(base, WH_OPAQUE) == 0) {
        if (setxattr(dir, "user.overlay.opaque", "y", 1, 0) < 0)
            return st_error_sys(err, errno,
                                "layer %s: cannot mark %s opaque (the image store's file system "
                                "must keep user xattrs)",
                                u->blob, dir);
        return 0;
    }
    const char *target = base + strlen(WH_PREFIX);
    if (strncmp(target, WH_PREFIX, strlen(WH_PREFIX)) == 0)
        return 0; /* AUFS' own bookkeeping (.wh..wh.plnk, ...): nothing to hide */
    if (*target == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
        return st_error_set(err, EPERM, "layer %s: whiteout \"%s\" names no file in the root",
                            u->blob, name);
    r = st_image_pathf(path, sizeof(path), err, "%s/%s", dir, target);
    if (r == 0)
        r = st_fs_rmtree(path, err); /* the layer's own copy, if it had one */
    if (r < 0)
        return r;
    if (mknod(path, S_IFCHR, makedev(0, 0)) < 0)
        return st_error_sys(err, errno, "layer %s: cannot make the whiteout %s", u->blob, path);
    return 0;
}

/* Drops the xattrs that would steer overlayfs instead of describing a
 * file: a layer could otherwise forge redirects or opaque marks. */
static void drop_overlay_xattrs(struct archive_entry *e)
{
    if (archive_entry_xattr_reset(e) == 0)
        return;
    struct kept {
        char *name;
        void *value;
        size_t size;
    } kept[64];
    size_t n = 0;
    bool dropped = false;
    const char *name;
    const void *value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (strncmp(name, "user.overlay.", 13) == 0 || strncmp(name, "trusted.overlay.", 16) == 0) {
            dropped = true;
        } else if (n < sizeof(kept) / sizeof(kept[0])) {
            kept[n].name = strdup(name);
            kept[n].value = malloc(size ? size : 1);
            if (kept[n].name && kept[n].value)
                memcpy(kept[n].value, value, size);
            kept[n++].size = size;
        }
    }
    if (dropped) {
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++)
            if (kept[i].name && kept[i].value)
                archive_entry_xattr_add_entry(e, kept[i].name, kept[i].value, kept[i].size);
    }
    for (size_t i = 0; i < n; i++) {
        free(kept[i].name);
        free(kept[i].value);
    }
}

static int write_fail(const struct unpack *u, struct archive *out, const char *name, st_error *err)
{
    int e = archive_errno(out);
    return st_error_set(err, e > 0 ? e : EIO, "layer %s: cannot write \"%s\": %s", u->blob, name,
                        archive_error_string(out) ? archive_error_string(out) : "unknown error");
}

/* The file a hard link of this layer names in the layers below (top
 * down); a whiteout there ends the search. */
static int find_lower(const struct unpack *u, const char *rel, char *out, size_t len,
                      struct stat *st)
{
    for (size_t i = u->nlowers; i-- > 0;) {
        if (st_image_pathf(out, len, NULL, "%s/%s", u->lowers[i], rel) < 0 || lstat(out, st) < 0)
            continue;
        if (S_ISREG(st->st_mode))
            return 0;
        return -1;
    }
    return -1;
}

static int copy_lower(const struct unpack *u, struct archive *out, struct archive_entry *e,
                      const char *target, const char *name, st_error *err)
{
    char src[PATH_MAX];
    struct stat st;
    if (find_lower(u, target, src, sizeof(src), &st) < 0)
        return st_error_set(err, EBADMSG,
                            "layer %s: \"%s\" is a hard link to \"%s\", a file neither this "
                            "layer nor a layer below has",
                            u->blob, name, target);
    _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return st_error_sys(err, errno, "layer %s: cannot read %s to copy it", u->blob, src);
    archive_entry_set_hardlink(e, NULL);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, st.st_size);
    if (archive_write_header(out, e) < ARCHIVE_WARN)
        return write_fail(u, out, name, err);
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "layer %s: cannot read %s", u->blob, src);
        if (n == 0)
            break;
        if (archive_write_data(out, buf, (size_t)n) < 0)
            return write_fail(u, out, name, err);
    }
    return 0;
}

static int copy_data(const struct unpack *u, struct archive *in, struct archive *out,
                     const char *name, st_error *err)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(in, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return st_error_set(err, EBADMSG, "layer %s is corrupt or truncated at \"%s\": %s",
                                u->blob, name, archive_error_string(in));
        if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
            return write_fail(u, out, name, err);
    }
}

static int unpack_entry(const struct unpack *u, struct archive *in, struct archive *out,
                        struct archive_entry *e, st_error *err)
{
    const char *name = archive_entry_pathname(e);
    char rel[PATH_MAX], full[PATH_MAX + 8];
    int r = clean_path(u, name, rel, sizeof(rel), err);
    if (r == 0)
        r = check_parents(u, rel, name, err);
    if (r < 0)
        return r;
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
        return whiteout(u, rel, name, err);
    r = st_image_pathf(full, sizeof(full), err, "%s%s%s", u->root, rel[0] ? "/" : "", rel);
    if (r < 0)
        return r;
    archive_entry_set_pathname(e, full);
    drop_overlay_xattrs(e);
    const char *link = archive_entry_hardlink(e);
    if (link) {
        char target[PATH_MAX], tfull[PATH_MAX + 8];
        r = clean_path(u, link, target, sizeof(target), err);
        if (r == 0)
            r = check_parents(u, target, link, err);
        if (r < 0)
            return r;
        r = st_image_pathf(tfull, sizeof(tfull), err, "%s/%s", u->root, target);
        if (r < 0)
            return r;
        struct stat st;
        if (target[0] == '\0' || lstat(tfull, &st) < 0)
            return copy_lower(u, out, e, target, name, err);
        archive_entry_set_hardlink(e, tfull);
    }
    if (archive_write_header(out, e) < ARCHIVE_WARN)
        return write_fail(u, out, name, err);
    if (archive_entry_size(e) > 0) {
        r = copy_data(u, in, out, name, err);
        if (r < 0)
            return r;
    }
    if (archive_write_finish_entry(out) < ARCHIVE_WARN)
        return write_fail(u, out, name, err);
    return 0;
}

static int unpack(struct unpack *u, st_error *err)
{
    _cleanup_aread_ struct archive *in = archive_read_new();
    _cleanup_awrite_ struct archive *out = archive_write_disk_new();
    if (in == NULL || out == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    /* NOABSOLUTEPATHS is left out only because every name handed to
     * libarchive is the layer dir + the member's checked relative path. */
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                            ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                            ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open_filename(in, u->blob, 1 << 17) != ARCHIVE_OK)
        return st_error_set(err, archive_errno(in) == ENOENT ? ENOENT : EBADMSG,
                            "layer %s cannot be read: %s", u->blob, archive_error_string(in));
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return st_error_set(err, EBADMSG, "layer %s is corrupt or truncated: %s", u->blob,
                                archive_error_string(in));
        r = unpack_entry(u, in, out, e, err);
        if (r < 0)
            return r;
    }
    /* Folders' times and modes are set here, after their content. */
    if (archive_write_close(out) != ARCHIVE_OK)
        return write_fail(u, out, "(folder times and modes)", err);
    return 0;
}

int st_image_layer_unpack(const char *blob, const char *dir, const char *const *lowers,
                          size_t nlowers, st_error *err)
{
    struct unpack u = {.blob = blob, .lowers = lowers, .nlowers = nlowers};
    if (mkdir(dir, 0755) < 0)
        return st_error_sys(err, errno, "cannot create the layer folder %s", dir);
    if (realpath(dir, u.root) == NULL) {
        int e = errno;
        rmdir(dir);
        return st_error_sys(err, e, "cannot resolve %s", dir);
    }
    int r = unpack(&u, err);
    if (r < 0)
        st_fs_rmtree(dir, NULL);
    return r;
}
