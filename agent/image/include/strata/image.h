/* image.h: the host's OCI image store (library strata_image). It holds
 * content by digest, as an OCI image layout does: blobs/sha256/<hex>
 * (verified on the way in), manifests and indexes (OCI image spec, and
 * Docker's v2 schema 2 which most tools still write), and a tag -> digest
 * map (index.json, with org.opencontainers.image.ref.name annotations).
 * Each layer is unpacked once, with libarchive, into layers/<hex of its
 * blob digest>/, in the form overlayfs reads as a lower layer: a whiteout
 * is a 0:0 character device, an opaque directory carries the xattr
 * user.overlay.opaque="y" (nodes mount with "userxattr": they read the
 * store over 9p, where trusted.* xattrs are not readable). Images share
 * layers; nodes stack an image's layers as overlay lowers per container.
 *
 * Every write goes to a temporary place first and is renamed in at the
 * end: a failed import or pull (corrupt archive, digest mismatch, full
 * disk, a registry that stops) leaves nothing of itself. Thread-safe: one
 * store may be used from several threads; two pulls or imports of one
 * image at once do the work once (the second waits for the first).
 *
 * Errors: -ENOENT no such image (or tag, or file); -EINVAL a bad reference
 * or input that is not an image; -EBADMSG content that does not match its
 * digest, or a corrupt archive or manifest; -EPERM a layer path escaping
 * the root (.., absolute, through a symlink), or a whiteout outside it;
 * -ENOEXEC no manifest for linux/amd64; -EACCES the registry refused the
 * credentials (401/403); -EBUSY an image a pod uses; -ENOSPC the disk is
 * full; -EIO anything else. err always names the image and what is wrong. */
#ifndef STRATA_IMAGE_H
#define STRATA_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/error.h"

/* "sha256:" + 64 hex + NUL */
#define ST_IMAGE_DIGEST_LEN 72

/* ---- references (pure) -------------------------------------------------
 * As Kubernetes reads `image:`: [HOST[:PORT]/]PATH[:TAG][@sha256:HEX]. A
 * first component with a '.' or ':' or "localhost" is a registry host;
 * without a host the image is local (imported; the store never guesses
 * docker.io: this host reaches no internet). No tag and no digest means
 * "latest". */
struct st_image_ref {
    char host[256];                   /* "" for a local image */
    char path[256];                   /* "quote", "library/busybox" */
    char tag[128];                    /* "" when only a digest was given */
    char digest[ST_IMAGE_DIGEST_LEN]; /* "" when none */
};
int st_image_ref_parse(const char *text, struct st_image_ref *ref, st_error *err);
/* The name the store keeps it under: "HOST/PATH:TAG" or "PATH:TAG" (or
 * "...@sha256:HEX" when only a digest was given). */
void st_image_ref_format(const struct st_image_ref *ref, char *out, size_t len);

/* ---- the store -------------------------------------------------------- */

typedef struct st_image_store st_image_store;

/* Opens (creating when missing) the store in dir. */
int st_image_store_open(const char *dir, st_image_store **out, st_error *err);
void st_image_store_close(st_image_store *s);
const char *st_image_store_dir(const st_image_store *s);

struct st_image_info {
    char ref[512];                    /* as st_image_ref_format */
    char digest[ST_IMAGE_DIGEST_LEN]; /* the manifest's */
    int64_t size;                     /* bytes of its blobs (config + layers, compressed) */
    char created[40];                 /* the config's "created", "" when none */
    int layers;
};

/* Imports path under ref: an OCI image layout directory, an oci-archive
 * tarball (a layout in a tar), a docker-archive tarball (`docker save`:
 * manifest.json + config + layer tars), or a plain rootfs folder or
 * tarball (.tar, .tar.gz, .tar.zst), which becomes a one-layer image with
 * an empty config. When the layout or archive holds several images, the
 * one tagged with ref's tag is taken, else the only one. out may be NULL. */
int st_image_import(st_image_store *s, const char *ref, const char *path, struct st_image_info *out,
                    st_error *err);

/* Every tagged image: a JSON array of {"name", "tag", "digest", "size",
 * "created", "layers"} objects (new reference). */
int st_image_list(st_image_store *s, json_t **out, st_error *err);

/* Whether ref is in the store (-ENOENT when not), with its info. */
int st_image_lookup(st_image_store *s, const char *ref, struct st_image_info *out, st_error *err);

/* What a node needs to run ref: a new JSON object
 *   {"ref": ..., "digest": "sha256:...",
 *    "layers": ["layers/<hex>", ...],   bottom to top, relative to the store dir
 *    "config": {...}}                   the image config's "config" member
 *                                       (Entrypoint, Cmd, Env, WorkingDir,
 *                                        User, ExposedPorts), {} when none */
int st_image_resolve(st_image_store *s, const char *ref, json_t **image, st_error *err);

/* A file of the image's root as its layers stack it (whiteouts honoured),
 * e.g. "etc/passwd" to resolve a user name. *text malloc'd, NUL-ended;
 * -ENOENT when the image has no such file. At most max bytes. */
int st_image_read_file(st_image_store *s, json_t *image, const char *path, size_t max, char **text,
                       size_t *len, st_error *err);

/* Removes the tag; blobs and layers no other image uses go too. in_use
 * (may be NULL) is asked first with the manifest digest: true refuses with
 * -EBUSY naming the image. */
int st_image_remove(st_image_store *s, const char *ref,
                    bool (*in_use)(void *arg, const char *ref, const char *digest), void *arg,
                    st_error *err);

/* ---- pulling (OCI distribution spec over HTTP(S), libcurl) ------------
 * ref must name a registry host. auth (may be NULL): the content of a
 * kubernetes.io/dockerconfigjson Secret's ".dockerconfigjson" ({"auths":
 * {"HOST[:PORT]": {"auth": base64("user:pass")} or {"username",
 * "password"}}}); basic auth, and the Bearer token flow a registry asks for
 * in WWW-Authenticate, are both spoken. Plain HTTP is used for loopback
 * hosts (127.0.0.0/8, localhost), HTTPS for every other. Each blob is
 * checked against its digest as it streams to a temporary file. */
struct st_image_pull_report {
    char digest[ST_IMAGE_DIGEST_LEN];
    int64_t bytes; /* downloaded now (0 when everything was there) */
    int64_t size;  /* the image's size, as st_image_info */
    int64_t ms;    /* wall time of the pull */
    bool present;  /* nothing needed downloading */
};
int st_image_pull(st_image_store *s, const char *ref, const char *auth,
                  struct st_image_pull_report *rep, st_error *err);

/* ---- the image config as Kubernetes applies it (pure) ------------------
 * container: a Kubernetes container object (command, args, env as plain
 * name/value entries, workingDir, securityContext.runAsUser/runAsGroup).
 * config: st_image_resolve's "config". passwd, group (may be NULL): the
 * image's /etc/passwd and /etc/group, to resolve a User given by name.
 * Fills *process (new object): {"args": [argv...], "env": ["K=V", ...],
 * "cwd": "/...", "uid": N, "gid": N}:
 *   argv: command+args from the pod; command only: the pod's command
 *   (image Cmd ignored); args only: image Entrypoint + pod args; neither:
 *   Entrypoint + Cmd. Empty argv -> -EINVAL ("the image has no
 *   Entrypoint or Cmd and the pod no command").
 *   env: the image's Env, then the pod's (the pod's wins a name).
 *   cwd: the pod's workingDir, else the image's WorkingDir, else "/".
 *   uid/gid: securityContext.runAsUser/runAsGroup, else the image's User
 *   ("name", "uid", "uid:gid", "name:group"), else 0; an unknown name is
 *   -EINVAL naming it. */
int st_image_process(json_t *container, json_t *config, const char *passwd, const char *group,
                     json_t **process, st_error *err);

#endif
