/* rootfs.c: one file of an image's root as its layers stack it, without
 * mounting them (stratad reads /etc/passwd to resolve an image's User, and
 * mounting an overlay is neither needed nor allowed everywhere it runs).
 * The layers are looked at top down, as overlayfs does: the first layer
 * with the file gives it; a whiteout (0:0 character device) at the file or
 * one of its folders hides it and everything below; an opaque folder
 * (user.overlay.opaque="y") hides what lower layers have in it; a symlink
 * (of the file or a folder) is followed inside the image's root, never
 * out of it. */
#include "store_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "strata/cleanup.h"

#define MAX_HOPS  16
#define MAX_DEPTH 64

/* Lexically normalised path below the root ("/a/./b/../c" -> "a/c"); ".."
 * at the root stays at the root, as it does in a container. */
static void normalise(const char *in, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = o ? memrchr(out, '/', o) : NULL;
            o = slash ? (size_t)(slash - out) : 0;
            out[o] = '\0';
        } else if (n > 0 && !(n == 1 && p[0] == '.') && o + n + 2 < len) {
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
            out[o] = '\0';
        }
        p = e;
    }
}

static bool is_opaque(const char *dir)
{
    char v[2];
    return getxattr(dir, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* The link target of link_path (found at rel, whose first `keep` bytes
 * are the folder it sits in), joined with the rest of the path. */
static int follow(const char *link_path, const char *rel, size_t keep, const char *rest, char *out,
                  size_t len)
{
    char target[PATH_MAX], joined[3 * PATH_MAX];
    ssize_t n = readlink(link_path, target, sizeof(target) - 1);
    if (n < 0)
        return -ENOENT;
    target[n] = '\0';
    if (target[0] == '/')
        snprintf(joined, sizeof(joined), "%s/%s", target, rest);
    else
        snprintf(joined, sizeof(joined), "%.*s/%s/%s", (int)keep, rel, target, rest);
    normalise(joined, out, len);
    return 0;
}

/* Finds rel in the stacked layers: 0 with the regular file's path in
 * found, 1 with rel rewritten when a symlink was met, -ENOENT/-EISDIR. */
static int find(char layers[][PATH_MAX], size_t n, char *rel, size_t rlen, char *found, size_t flen)
{
    bool upper_dir[MAX_DEPTH] = {false}; /* an upper layer has a folder at depth k */
    for (size_t i = n; i-- > 0;) {
        char path[2 * PATH_MAX];
        struct stat st;
        bool opaque = false;
        size_t depth = 0;
        const char *p = rel;
        /* the folders on the way, shallow to deep */
        for (const char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1, depth++) {
            size_t keep = (size_t)(slash - rel);
            snprintf(path, sizeof(path), "%s/%.*s", layers[i], (int)keep, rel);
            if (lstat(path, &st) < 0)
                goto next_layer;
            if (S_ISDIR(st.st_mode)) {
                if (depth < MAX_DEPTH)
                    upper_dir[depth] = true;
                opaque = opaque || is_opaque(path);
                continue;
            }
            if (S_ISLNK(st.st_mode) && !(depth < MAX_DEPTH && upper_dir[depth])) {
                const char *prev = memrchr(rel, '/', keep);
                char out[PATH_MAX];
                if (follow(path, rel, prev ? (size_t)(prev - rel) : 0, slash + 1, out,
                           sizeof(out)) < 0)
                    return -ENOENT;
                snprintf(rel, rlen, "%s", out);
                return 1;
            }
            return -ENOENT; /* a whiteout or a file where a folder should be */
        }
        snprintf(path, sizeof(path), "%s/%s", layers[i], rel);
        if (lstat(path, &st) == 0) {
            if (S_ISREG(st.st_mode)) {
                snprintf(found, flen, "%s", path);
                return 0;
            }
            if (S_ISDIR(st.st_mode))
                return -EISDIR;
            if (S_ISLNK(st.st_mode)) {
                const char *prev = strrchr(rel, '/');
                char out[PATH_MAX];
                if (follow(path, rel, prev ? (size_t)(prev - rel) : 0, "", out, sizeof(out)) < 0)
                    return -ENOENT;
                snprintf(rel, rlen, "%s", out);
                return 1;
            }
            return -ENOENT; /* a whiteout, a device, a fifo: no text to read */
        }
    next_layer:
        if (opaque)
            return -ENOENT;
    }
    return -ENOENT;
}

static int read_all(const char *path, size_t max, char **text, size_t *len, st_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot read %s", path);
    int r = st_image_read_fd(fd, max, text, len, err);
    if (r < 0)
        st_error_prefix(err, "%s: ", path);
    return r;
}

int st_image_read_file(st_image_store *s, json_t *image, const char *path, size_t max, char **text,
                       size_t *len, st_error *err)
{
    const char *ref = json_string_value(json_object_get(image, "ref"));
    json_t *list = json_object_get(image, "layers");
    size_t n = json_array_size(list);
    *text = NULL;
    if (len)
        *len = 0;
    if (ref == NULL)
        ref = "?";
    char(*layers)[PATH_MAX] = calloc(n ? n : 1, PATH_MAX);
    if (layers == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *l = json_string_value(json_array_get(list, i));
        char digest[ST_IMAGE_DIGEST_LEN];
        snprintf(digest, sizeof(digest), "sha256:%s",
                 l && strncmp(l, "layers/", 7) == 0 ? l + 7 : "");
        if (!st_image_digest_ok(digest)) {
            free(layers);
            return st_error_set(err, EINVAL, "image %s: layer \"%s\" is not layers/<64 hex>", ref,
                                l ? l : "");
        }
        st_image_store_layer_dir(s, digest, layers[i], PATH_MAX);
    }
    char rel[PATH_MAX], found[2 * PATH_MAX];
    normalise(path, rel, sizeof(rel));
    if (*path == '/')
        path++; /* for the messages, which add their own */
    int r = 1;
    for (int hop = 0; r == 1 && hop <= MAX_HOPS; hop++)
        r = rel[0] ? find(layers, n, rel, sizeof(rel), found, sizeof(found)) : -EISDIR;
    free(layers);
    if (r == 1)
        return st_error_set(err, ELOOP, "image %s: /%s: too many symlinks", ref, path);
    if (r == -ENOENT)
        return st_error_set(err, ENOENT, "image %s has no file /%s", ref, path);
    if (r < 0)
        return st_error_set(err, -r, "image %s: /%s is not a regular file", ref, path);
    size_t l = 0;
    r = read_all(found, max, text, &l, err);
    if (len)
        *len = l;
    return r;
}
