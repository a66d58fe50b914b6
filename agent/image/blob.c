/* blob.c: content by digest (blobs/sha256/<hex>), the one way bytes enter
 * the store. Import and pull both stream through the writer here, so every
 * blob is hashed as it is written and checked before it gets its name: a
 * blob that does not match, or a write cut short (full disk, a registry
 * that stops), is a temporary file that is removed, never a blob. */
#include "image_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/hex.h"

struct st_image_blob_writer {
    st_image_store *s;
    char expect[ST_IMAGE_DIGEST_LEN]; /* "" when Strata makes the blob */
    char tmp[PATH_MAX];
    int fd;
    EVP_MD_CTX *md;
    int64_t size;
};

bool st_image_digest_ok(const char *d)
{
    if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return false;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

void st_image_blob_path(st_image_store *s, const char *digest, char *out, size_t len)
{
    snprintf(out, len, "%s/blobs/sha256/%s", st_image_store_dir(s), ST_IMAGE_DIGEST_HEX(digest));
}

bool st_image_blob_has(st_image_store *s, const char *digest)
{
    char path[PATH_MAX];
    if (!st_image_digest_ok(digest))
        return false;
    st_image_blob_path(s, digest, path, sizeof(path));
    return access(path, F_OK) == 0;
}

int st_image_blob_open(st_image_store *s, const char *digest, st_image_blob_writer **out,
                       st_error *err)
{
    *out = NULL;
    if (digest && !st_image_digest_ok(digest))
        return st_error_set(err, EINVAL,
                            "digest \"%s\" is not sha256: and 64 lowercase hex digits (the only "
                            "digest the image store takes)",
                            digest);
    st_image_blob_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    w->s = s;
    w->fd = -1;
    if (digest)
        snprintf(w->expect, sizeof(w->expect), "%s", digest);
    snprintf(w->tmp, sizeof(w->tmp), "%s/tmp/blob-XXXXXX", st_image_store_dir(s));
    w->fd = mkostemp(w->tmp, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return st_error_sys(err, e, "cannot create a temporary file in %s/tmp",
                            st_image_store_dir(s));
    }
    w->md = EVP_MD_CTX_new();
    if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        st_image_blob_abort(w);
        return st_error_set(err, EIO, "OpenSSL cannot start a sha256");
    }
    *out = w;
    return 0;
}

int st_image_blob_write(st_image_blob_writer *w, const void *data, size_t len, st_error *err)
{
    const char *p = data;
    if (EVP_DigestUpdate(w->md, data, len) != 1)
        return st_error_set(err, EIO, "OpenSSL cannot hash a blob");
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "cannot write a blob to %s", w->tmp);
        p += n;
        len -= (size_t)n;
        w->size += n;
    }
    return 0;
}

void st_image_blob_abort(st_image_blob_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    EVP_MD_CTX_free(w->md);
    free(w);
}

int st_image_blob_commit(st_image_blob_writer *w, char out_digest[ST_IMAGE_DIGEST_LEN],
                         st_error *err)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char got[ST_IMAGE_DIGEST_LEN] = "sha256:";
    int r = 0;
    if (EVP_DigestFinal_ex(w->md, sum, &n) != 1 || n != 32) {
        r = st_error_set(err, EIO, "OpenSSL cannot finish a sha256");
        goto out;
    }
    st_hex_encode(sum, 32, got + 7);
    if (w->expect[0] && strcmp(got, w->expect) != 0) {
        r = st_error_set(err, EBADMSG,
                         "content does not match its digest: expected %s, got %s (%lld bytes); "
                         "nothing of it was kept",
                         w->expect, got, (long long)w->size);
        goto out;
    }
    /* The blob is renamed in only once it is on disk: a crash must not
     * leave a name whose content is short. */
    if (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0) {
        r = st_error_sys(err, errno, "cannot write a blob to %s", w->tmp);
        goto out;
    }
    char path[PATH_MAX];
    st_image_blob_path(w->s, got, path, sizeof(path));
    if (rename(w->tmp, path) < 0) {
        r = st_error_sys(err, errno, "cannot move a blob to %s", path);
        goto out;
    }
    close(w->fd);
    w->fd = -1;
    if (out_digest)
        memcpy(out_digest, got, sizeof(got));
out:
    st_image_blob_abort(w);
    return r;
}

int st_image_read_fd(int fd, size_t max, char **data, size_t *len, st_error *err)
{
    _cleanup_free_ char *buf = malloc(max + 1);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    size_t got = 0;
    while (got < max) {
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "cannot read");
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (len)
        *len = got;
    *data = st_steal_ptr(&buf);
    return 0;
}

int st_image_blob_read(st_image_store *s, const char *digest, size_t max, char **data, size_t *len,
                       st_error *err)
{
    char path[PATH_MAX];
    *data = NULL;
    if (len)
        *len = 0;
    if (!st_image_digest_ok(digest))
        return st_error_set(err, EINVAL, "digest \"%s\" is not sha256: and 64 hex digits",
                            digest ? digest : "");
    st_image_blob_path(s, digest, path, sizeof(path));
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return st_error_set(err, ENOENT, "blob %s is not in the image store", digest);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return st_error_sys(err, errno, "cannot read blob %s", path);
    if ((size_t)st.st_size > max)
        return st_error_set(err, EBADMSG, "blob %s is %lld bytes, more than the %zu expected here",
                            digest, (long long)st.st_size, max);
    int r = st_image_read_fd(fd, (size_t)st.st_size, data, len, err);
    if (r < 0)
        st_error_prefix(err, "blob %s: ", digest);
    return r;
}

int st_image_blob_put(st_image_store *s, const void *data, size_t len,
                      char out_digest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    st_image_blob_writer *w;
    int r = st_image_blob_open(s, NULL, &w, err);
    if (r < 0)
        return r;
    r = st_image_blob_write(w, data, len, err);
    if (r < 0) {
        st_image_blob_abort(w);
        return r;
    }
    return st_image_blob_commit(w, out_digest, err);
}
