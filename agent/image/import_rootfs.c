/* import_rootfs.c: a plain root (a folder, or a tarball of one) becomes a
 * real one-layer image, so what people brought before images existed
 * still runs and is stored like any other image. A tarball is the layer
 * blob as it is (a tar is what a layer is); a folder is written into a
 * tar by libarchive (pax, so owners, modes, xattrs, ACLs, hard links and
 * device files keep). The config says linux/amd64 and has no Entrypoint or
 * Cmd: the pod's command decides what runs. */
#include "image_priv.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive_cleanup.h"
#include "strata/cleanup.h"
#include "strata/hex.h"
#include "strata/time.h"

/* Config and manifest for one layer; the manifest's digest out. */
static int write_image(st_image_store *s, const char *layer, int64_t size, const char *mt,
                       const char *diff_id, char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char now[ST_TIME_RFC3339_LEN], cdigest[ST_IMAGE_DIGEST_LEN];
    st_time_now_rfc3339(now);
    _cleanup_json_ json_t *cfg =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:[s]}, s:{}}", "created", now, "architecture", "amd64",
                  "os", "linux", "rootfs", "type", "layers", "diff_ids", diff_id, "config");
    _cleanup_free_ char *ctext = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (ctext == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = st_image_blob_put(s, ctext, strlen(ctext), cdigest, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *man =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
                  "mediaType", ST_MT_OCI_MANIFEST, "config", "mediaType", ST_MT_OCI_CONFIG,
                  "digest", cdigest, "size", (json_int_t)strlen(ctext), "layers", "mediaType", mt,
                  "digest", layer, "size", (json_int_t)size);
    _cleanup_free_ char *mtext = man ? json_dumps(man, JSON_COMPACT) : NULL;
    if (mtext == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return st_image_blob_put(s, mtext, strlen(mtext), mdigest, err);
}

/* ---- a folder ---------------------------------------------------------------- */

struct tar_out {
    st_image_blob_writer *w;
    st_error *err;
    int64_t size;
};

static la_ssize_t tar_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct tar_out *t = arg;
    if (st_image_blob_write(t->w, buf, len, t->err) < 0) {
        archive_set_error(a, t->err ? t->err->code : EIO, "cannot write the layer blob");
        return -1;
    }
    t->size += (int64_t)len;
    return (la_ssize_t)len;
}

/* Member names relative to the root ("./" for the root itself), set
 * before the link resolver sees the entry: a hard link names its target
 * by the name the target was given. */
static int rename_entry(struct archive_entry *e, const char *dir, st_error *err)
{
    const char *name = archive_entry_pathname(e);
    size_t dl = strlen(dir);
    const char *rel = strncmp(name, dir, dl) == 0 ? name + dl : name;
    while (*rel == '/')
        rel++;
    _cleanup_free_ char *tarname = NULL;
    if (asprintf(&tarname, "./%s", rel) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    archive_entry_copy_pathname(e, tarname);
    return 0;
}

static int tar_entry(struct archive *disk, struct archive *out, struct archive_entry *e,
                     st_error *err)
{
    const char *name = archive_entry_pathname(e);
    if (archive_write_header(out, e) < ARCHIVE_WARN)
        return st_error_set(err, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                            "cannot write %s into the layer: %s", name, archive_error_string(out));
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) == 0)
        return 0;
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        int r = archive_read_data_block(disk, &buf, &size, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return st_error_set(err, EIO, "cannot read %s: %s", name, archive_error_string(disk));
        if (archive_write_data(out, buf, size) < 0)
            return st_error_set(err, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                                "cannot write %s into the layer: %s", name,
                                archive_error_string(out));
    }
}

static int tar_folder(const char *dir, struct archive *out, st_error *err)
{
    _cleanup_aread_ struct archive *disk = archive_read_disk_new();
    struct archive_entry_linkresolver *lr = archive_entry_linkresolver_new();
    if (disk == NULL || lr == NULL) {
        archive_entry_linkresolver_free(lr);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    archive_entry_linkresolver_set_strategy(lr, archive_format(out));
    /* a symlink is an entry, never followed (it points into the image, not
     * the host) */
    archive_read_disk_set_symlink_physical(disk);
    /* data in order, holes as zeros: the tar writer takes a stream */
    archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_SPARSE);
    int r = archive_read_disk_open(disk, dir) == ARCHIVE_OK
                ? 0
                : st_error_set(err, EIO, "cannot read %s: %s", dir, archive_error_string(disk));
    while (r == 0) {
        struct archive_entry *e = archive_entry_new(), *spare = NULL;
        int ar = archive_read_next_header2(disk, e);
        if (ar == ARCHIVE_EOF) {
            archive_entry_free(e);
            break;
        }
        if (ar < ARCHIVE_WARN) {
            r = st_error_set(err, EIO, "cannot read %s: %s", dir, archive_error_string(disk));
            archive_entry_free(e);
            break;
        }
        archive_read_disk_descend(disk);
        r = rename_entry(e, dir, err);
        if (r < 0) {
            archive_entry_free(e);
            break;
        }
        /* the second name of a hard-linked file becomes a link entry; with
         * a tar format the resolver never holds an entry back */
        archive_entry_linkify(lr, &e, &spare);
        if (e)
            r = tar_entry(disk, out, e, err);
        if (r == 0 && spare)
            r = tar_entry(disk, out, spare, err);
        archive_entry_free(e);
        archive_entry_free(spare);
    }
    archive_entry_linkresolver_free(lr);
    return r;
}

int st_image_import_rootfs_dir(st_image_store *s, const char *dir,
                               char manifest_digest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char root[PATH_MAX], layer[ST_IMAGE_DIGEST_LEN];
    if (realpath(dir, root) == NULL)
        return st_error_sys(err, errno, "cannot resolve %s", dir);
    struct tar_out t = {.err = err};
    int r = st_image_blob_open(s, NULL, &t.w, err);
    if (r < 0)
        return r;
    _cleanup_awrite_ struct archive *out = archive_write_new();
    if (out == NULL || archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(out, 1) != ARCHIVE_OK ||
        archive_write_open(out, &t, NULL, tar_write, NULL) != ARCHIVE_OK)
        r = st_error_set(err, EIO, "cannot start the layer tar: %s",
                         out ? archive_error_string(out) : "out of memory");
    if (r == 0)
        r = tar_folder(root, out, err);
    if (r == 0 && archive_write_close(out) != ARCHIVE_OK)
        r = st_error_set(err, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                         "cannot finish the layer tar: %s", archive_error_string(out));
    if (r < 0) {
        st_image_blob_abort(t.w);
        return r;
    }
    r = st_image_blob_commit(t.w, layer, err);
    if (r < 0)
        return r;
    /* uncompressed: the layer's diff_id is its digest */
    return write_image(s, layer, t.size, ST_MT_OCI_LAYER, layer, manifest_digest, err);
}

/* ---- a tarball ---------------------------------------------------------------- */

/* The compression (libarchive's filter code) and the sha256 of the
 * uncompressed tar, which the config lists as the layer's diff_id. */
static int uncompressed_digest(const char *path, int *filter, char diff_id[ST_IMAGE_DIGEST_LEN],
                               st_error *err)
{
    _cleanup_aread_ struct archive *a = archive_read_new();
    struct archive_entry *e;
    if (a == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_filename(a, path, 1 << 17) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK)
        return st_error_set(err, EBADMSG, "%s cannot be read: %s", path, archive_error_string(a));
    *filter = archive_filter_code(a, 0);
    diff_id[0] = '\0';
    if (*filter == ARCHIVE_FILTER_NONE)
        return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                ? 0
                : st_error_set(err, EIO, "OpenSSL cannot start a sha256");
    char buf[1 << 16];
    for (la_ssize_t n; r == 0 && (n = archive_read_data(a, buf, sizeof(buf))) != 0;)
        r = n < 0 ? st_error_set(err, EBADMSG, "%s is corrupt or truncated: %s", path,
                                 archive_error_string(a))
                  : (EVP_DigestUpdate(md, buf, (size_t)n) == 1
                         ? 0
                         : st_error_set(err, EIO, "OpenSSL cannot hash"));
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (r == 0 && (EVP_DigestFinal_ex(md, sum, &len) != 1 || len != 32))
        r = st_error_set(err, EIO, "OpenSSL cannot finish a sha256");
    EVP_MD_CTX_free(md);
    if (r < 0)
        return r;
    memcpy(diff_id, "sha256:", 7);
    st_hex_encode(sum, 32, diff_id + 7);
    return 0;
}

int st_image_import_rootfs_tar(st_image_store *s, const char *path,
                               char manifest_digest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    int filter = ARCHIVE_FILTER_NONE;
    char diff_id[ST_IMAGE_DIGEST_LEN], layer[ST_IMAGE_DIGEST_LEN];
    int r = uncompressed_digest(path, &filter, diff_id, err);
    if (r < 0)
        return r;
    const char *mt = filter == ARCHIVE_FILTER_NONE   ? ST_MT_OCI_LAYER
                     : filter == ARCHIVE_FILTER_GZIP ? ST_MT_OCI_LAYER_GZIP
                     : filter == ARCHIVE_FILTER_ZSTD ? ST_MT_OCI_LAYER_ZSTD
                                                     : NULL;
    if (mt == NULL)
        return st_error_set(err, EINVAL,
                            "%s is compressed in a way image layers are not (a layer is a tar, "
                            "plain, gzip or zstd); recompress it with gzip or zstd",
                            path);
    _cleanup_fclose_ FILE *f = fopen(path, "rbe");
    if (f == NULL)
        return st_error_sys(err, errno, "cannot open %s", path);
    st_image_blob_writer *w;
    r = st_image_blob_open(s, NULL, &w, err);
    if (r < 0)
        return r;
    char buf[1 << 16];
    int64_t size = 0;
    for (size_t n; r == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0; size += (int64_t)n)
        r = st_image_blob_write(w, buf, n, err);
    if (r == 0 && ferror(f))
        r = st_error_sys(err, EIO, "cannot read %s", path);
    if (r < 0) {
        st_image_blob_abort(w);
        return r;
    }
    r = st_image_blob_commit(w, layer, err);
    if (r < 0)
        return r;
    return write_image(s, layer, size, mt, diff_id[0] ? diff_id : layer, manifest_digest, err);
}
