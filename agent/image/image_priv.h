/* image_priv.h: the seam between the parts of strata_image (private: only
 * agent/image/ and its tests include it). The store (store.c) owns the
 * files; import (import.c) and pull (pull.c) bring content in only through
 * the blob writer and commit here, so both verify digests and leave
 * nothing half-written the same way. */
#ifndef STRATA_IMAGE_PRIV_H
#define STRATA_IMAGE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "strata/image.h"

/* snprintf for paths: -ENAMETOOLONG (err filled) instead of a silently
 * shortened path, which could name another file. */
__attribute__((format(printf, 4, 5))) static inline int
st_image_pathf(char *out, size_t len, st_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        return st_error_set(err, ENAMETOOLONG, "path too long: %.200s...", out);
    return 0;
}

/* Media types (OCI image spec, Docker v2 schema 2). */
#define ST_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define ST_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define ST_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define ST_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define ST_MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define ST_MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define ST_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ST_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define ST_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define ST_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* ---- digests ---------------------------------------------------------- */

/* Whether d is "sha256:" and 64 lowercase hex digits, the only digest the
 * store keeps (a digest names a file: nothing else may reach the path). */
bool st_image_digest_ok(const char *d);
/* The 64 hex digits of a digest st_image_digest_ok accepted. */
#define ST_IMAGE_DIGEST_HEX(d) ((d) + 7)

/* At most max bytes of fd, malloc'd and NUL-ended (a blob, a file of an
 * image). */
int st_image_read_fd(int fd, size_t max, char **data, size_t *len, st_error *err);

/* ---- blobs ------------------------------------------------------------ */

bool st_image_blob_has(st_image_store *s, const char *digest);
/* blobs/sha256/<hex> under the store dir. */
void st_image_blob_path(st_image_store *s, const char *digest, char *out, size_t len);

/* Streams one blob in: bytes go to a temporary file and into a sha256;
 * commit checks the digest (-EBADMSG naming both when it differs) and
 * renames the file into blobs/; abort (or a failed commit) removes it.
 * Both free w. digest may be NULL (a blob Strata makes: its digest is what
 * was written, returned in out_digest by commit). */
typedef struct st_image_blob_writer st_image_blob_writer;
int st_image_blob_open(st_image_store *s, const char *digest, st_image_blob_writer **w,
                       st_error *err);
int st_image_blob_write(st_image_blob_writer *w, const void *data, size_t len, st_error *err);
int st_image_blob_commit(st_image_blob_writer *w, char out_digest[ST_IMAGE_DIGEST_LEN],
                         st_error *err);
void st_image_blob_abort(st_image_blob_writer *w);
/* A blob from memory (a manifest or config Strata writes), digest out. */
int st_image_blob_put(st_image_store *s, const void *data, size_t len,
                      char out_digest[ST_IMAGE_DIGEST_LEN], st_error *err);
/* A small blob (manifest, config) whole: *data malloc'd, NUL-ended. */
int st_image_blob_read(st_image_store *s, const char *digest, size_t max, char **data, size_t *len,
                       st_error *err);

/* ---- manifests ---------------------------------------------------------- */

struct st_image_layer_desc {
    char digest[ST_IMAGE_DIGEST_LEN];
    char media_type[128];
    int64_t size;
};
struct st_image_manifest {
    char config[ST_IMAGE_DIGEST_LEN];
    int64_t config_size;
    size_t nlayers;
    struct st_image_layer_desc *layers;
};
/* Parses an image manifest (OCI or Docker v2s2; media_type from the
 * document's mediaType or the HTTP Content-Type, may be NULL). An index /
 * manifest list returns 1 with child set to the digest of its linux/amd64
 * manifest (-ENOEXEC, listing the platforms there are, when none), which
 * the caller fetches and parses in turn; a manifest returns 0. */
int st_image_manifest_parse(const char *text, size_t len, const char *media_type,
                            struct st_image_manifest *m, char child[ST_IMAGE_DIGEST_LEN],
                            st_error *err);
void st_image_manifest_free(struct st_image_manifest *m);

/* ---- committing an image --------------------------------------------------
 * With the manifest, its config and all its layers in blobs/: unpacks
 * every layer not yet unpacked (once each, into a temporary dir renamed
 * into layers/), then points ref at manifest_digest in index.json
 * (written to a temporary file and renamed). out may be NULL. */
int st_image_commit(st_image_store *s, const char *ref, const char *manifest_digest,
                    struct st_image_info *out, st_error *err);

/* Layer i of m unpacked into layers/ unless it is there (layers below it
 * first: a hard link may copy from them). A pull unpacks each layer as
 * soon as it has it, while the next downloads; commit then finds them. */
int st_image_layer_ensure(st_image_store *s, const struct st_image_manifest *m, size_t i,
                          st_error *err);

/* One import or pull of key (a ref) at a time: begin waits while another
 * holds key; end lets the next in. */
void st_image_once_begin(st_image_store *s, const char *key);
void st_image_once_end(st_image_store *s, const char *key);

/* ---- imports of a plain root (import_rootfs.c) -------------------------
 * A folder or a tarball (plain, gzip, zstd) as a one-layer image: the
 * layer blob, a config with no Entrypoint/Cmd and a manifest are written;
 * manifest_digest is what to commit. */
int st_image_import_rootfs_dir(st_image_store *s, const char *dir,
                               char manifest_digest[ST_IMAGE_DIGEST_LEN], st_error *err);
int st_image_import_rootfs_tar(st_image_store *s, const char *path,
                               char manifest_digest[ST_IMAGE_DIGEST_LEN], st_error *err);

/* ---- layers (layer.c) ----------------------------------------------------
 * Unpacks the layer tar (plain, gzip or zstd: libarchive tells) at blob
 * into dir (made here), in overlayfs' lower form (see image.h): .wh.NAME
 * becomes a 0:0 char device NAME, .wh..wh..opq the xattr
 * user.overlay.opaque="y" on its directory; owners, modes, times, xattrs,
 * hard links and device files kept. lowers (bottom to top, may be empty):
 * the dirs of the layers under it, where a hard link to a file of a lower
 * layer finds the file to copy. Paths that are absolute, climb with .., go
 * through a symlink, or a whiteout outside the root are -EPERM. */
int st_image_layer_unpack(const char *blob, const char *dir, const char *const *lowers,
                          size_t nlowers, st_error *err);

#endif
