/* import.c: images people bring as files, whatever wrote them: an OCI
 * image layout folder (skopeo, umoci, buildah), the same in a tarball
 * (oci-archive), what `docker save` / `podman save` write (docker-archive:
 * manifest.json naming a config and layer tars), or a plain root folder or
 * tarball (import_rootfs.c). Every byte enters through the blob writer, so
 * blobs are checked against their digests, and the image is committed (its
 * layers unpacked, its tag set) only once all of it is in: a corrupt or
 * truncated archive leaves no image. A file is told apart by its content,
 * not its name: a first pass over the archive's member names says which
 * kind it is. */
#include "store_priv.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_cleanup.h"
#include "strata/cleanup.h"

#define REF_NAME "org.opencontainers.image.ref.name"
#define DOC_MAX  (4 << 20)

/* ref's tag ("" when it has none, or only a digest) */
static const char *ref_tag(const char *ref)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(slash ? slash : ref, ':');
    return colon && !strchr(ref, '@') ? colon + 1 : "";
}

/* The manifests[] entry of a layout's index for ref: the one whose ref
 * name annotation is ref or its tag, else the only one. */
static int choose_desc(json_t *index, const char *ref, const char *path,
                       char digest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    json_t *list = json_object_get(index, "manifests");
    const char *tag = ref_tag(ref);
    json_t *pick = NULL;
    char names[512] = "";
    size_t used = 0, i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *n =
            json_string_value(json_object_get(json_object_get(d, "annotations"), REF_NAME));
        if (n && (strcmp(n, ref) == 0 || (*tag && strcmp(n, tag) == 0))) {
            pick = d;
            break;
        }
        if (used < sizeof(names))
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                                     n ? n : "(untagged)");
    }
    if (pick == NULL && json_array_size(list) == 1)
        pick = json_array_get(list, 0);
    if (pick == NULL)
        return st_error_set(err, json_array_size(list) ? EINVAL : EBADMSG,
                            "%s holds %s (%s), none tagged \"%s\"; name the one to import by "
                            "its tag",
                            path, json_array_size(list) ? "several images" : "no image", names,
                            *tag ? tag : ref);
    const char *dg = json_string_value(json_object_get(pick, "digest"));
    if (!st_image_digest_ok(dg))
        return st_error_set(err, EBADMSG, "%s: the index names a manifest with a bad digest", path);
    snprintf(digest, ST_IMAGE_DIGEST_LEN, "%s", dg);
    return 0;
}

/* ---- an OCI layout folder ------------------------------------------------------ */

static int copy_blob(st_image_store *s, const char *layout, const char *digest, st_error *err)
{
    char path[PATH_MAX];
    if (st_image_blob_has(s, digest))
        return 0;
    int r = st_image_pathf(path, sizeof(path), err, "%s/blobs/sha256/%s", layout,
                           ST_IMAGE_DIGEST_HEX(digest));
    if (r < 0)
        return r;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "the layout lacks blob %s", digest);
    st_image_blob_writer *w;
    r = st_image_blob_open(s, digest, &w, err);
    char buf[1 << 16];
    for (ssize_t n; r == 0 && (n = read(fd, buf, sizeof(buf))) != 0;)
        r = n < 0 ? (errno == EINTR ? 0 : st_error_sys(err, errno, "cannot read %s", path))
                  : st_image_blob_write(w, buf, (size_t)n, err);
    if (r < 0) {
        st_image_blob_abort(w);
        return r;
    }
    return st_image_blob_commit(w, NULL, err);
}

static int import_layout(st_image_store *s, const char *ref, const char *dir,
                         char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char path[PATH_MAX], cur[ST_IMAGE_DIGEST_LEN], child[ST_IMAGE_DIGEST_LEN];
    int r = st_image_pathf(path, sizeof(path), err, "%s/index.json", dir);
    if (r < 0)
        return r;
    json_error_t je;
    _cleanup_json_ json_t *index = json_load_file(path, 0, &je);
    if (!json_is_object(index))
        return st_error_set(err, EBADMSG, "%s is not an OCI image index: %s", path, je.text);
    r = choose_desc(index, ref, dir, cur, err);
    if (r < 0)
        return r;
    memcpy(mdigest, cur, sizeof(cur));
    /* the manifest (through an index to the platform's), then its blobs */
    for (int depth = 0; depth < 2; depth++) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct st_image_manifest m;
        r = copy_blob(s, dir, cur, err);
        if (r == 0)
            r = st_image_blob_read(s, cur, DOC_MAX, &text, &len, err);
        if (r == 0)
            r = st_image_manifest_parse(text, len, NULL, &m, child, err);
        if (r == 1) {
            memcpy(cur, child, sizeof(cur));
            continue;
        }
        for (size_t i = 0; r == 0 && i <= m.nlayers; i++)
            r = copy_blob(s, dir, i < m.nlayers ? m.layers[i].digest : m.config, err);
        st_image_manifest_free(&m);
        return r;
    }
    return st_error_set(err, EBADMSG, "%s: image indexes nest deeper than one level", dir);
}

/* ---- archives ------------------------------------------------------------------ */

enum kind { KIND_ROOTFS, KIND_OCI, KIND_DOCKER };

struct scan {
    const char *path;
    bool oci_layout;
    json_t *index;    /* index.json (OCI layout) */
    json_t *manifest; /* manifest.json (docker-archive) */
};

/* "./a//b" -> "a/b" in place; the archive's names only pick members here,
 * nothing is written under them. */
static const char *member_name(const char *name)
{
    while (*name == '/' || (name[0] == '.' && name[1] == '/'))
        name += name[0] == '.' ? 2 : 1;
    return name;
}

typedef int (*entry_fn)(void *ctx, struct archive *a, struct archive_entry *e, const char *name,
                        st_error *err);

static int each_entry(const char *path, entry_fn fn, void *ctx, st_error *err)
{
    _cleanup_aread_ struct archive *a = archive_read_new();
    if (a == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 17) != ARCHIVE_OK)
        return st_error_set(err, EBADMSG, "%s cannot be read as a tarball: %s", path,
                            archive_error_string(a));
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return st_error_set(err, EBADMSG,
                                "%s is not a readable tarball (corrupt or truncated?): %s", path,
                                archive_error_string(a));
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        r = fn(ctx, a, e, member_name(archive_entry_pathname(e)), err);
        if (r < 0)
            return r;
    }
}

static int read_json(struct archive *a, const char *path, const char *name, json_t **out,
                     st_error *err)
{
    _cleanup_free_ char *buf = malloc(DOC_MAX);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    size_t got = 0;
    for (la_ssize_t n;
         got < DOC_MAX && (n = archive_read_data(a, buf + got, DOC_MAX - got)) != 0;) {
        if (n < 0)
            return st_error_set(err, EBADMSG, "%s: %s cannot be read: %s", path, name,
                                archive_error_string(a));
        got += (size_t)n;
    }
    json_error_t je;
    json_decref(*out);
    *out = json_loadb(buf, got, 0, &je);
    if (*out == NULL)
        return st_error_set(err, EBADMSG, "%s: %s is not JSON: %s", path, name, je.text);
    return 0;
}

static int scan_entry(void *ctx, struct archive *a, struct archive_entry *e, const char *name,
                      st_error *err)
{
    struct scan *sc = ctx;
    (void)e;
    if (strcmp(name, "oci-layout") == 0)
        sc->oci_layout = true;
    else if (strcmp(name, "index.json") == 0)
        return read_json(a, sc->path, name, &sc->index, err);
    else if (strcmp(name, "manifest.json") == 0)
        return read_json(a, sc->path, name, &sc->manifest, err);
    return 0;
}

/* One member into a blob: the member's digest is checked when its name
 * gives one (blobs/sha256/HEX). */
static int entry_blob(st_image_store *s, struct archive *a, const char *path, const char *name,
                      char digest[ST_IMAGE_DIGEST_LEN], int64_t *size, unsigned char magic[4],
                      st_error *err)
{
    char expect[ST_IMAGE_DIGEST_LEN] = "";
    if (strncmp(name, "blobs/sha256/", 13) == 0)
        snprintf(expect, sizeof(expect), "sha256:%.64s", name + 13);
    if (expect[0] && !st_image_digest_ok(expect))
        expect[0] = '\0';
    st_image_blob_writer *w;
    int r = st_image_blob_open(s, expect[0] ? expect : NULL, &w, err);
    if (r < 0)
        return r;
    char buf[1 << 16];
    *size = 0;
    memset(magic, 0, 4);
    for (la_ssize_t n; r == 0 && (n = archive_read_data(a, buf, sizeof(buf))) != 0;) {
        if (n < 0) {
            r = st_error_set(err, EBADMSG, "%s is corrupt or truncated in %s: %s", path, name,
                             archive_error_string(a));
            break;
        }
        if (*size == 0)
            memcpy(magic, buf, n < 4 ? (size_t)n : 4);
        *size += n;
        r = st_image_blob_write(w, buf, (size_t)n, err);
    }
    if (r < 0) {
        st_image_blob_abort(w);
        return r;
    }
    r = st_image_blob_commit(w, digest, err);
    if (r < 0)
        st_error_prefix(err, "%s: %s: ", path, name);
    return r;
}

struct oci_ctx {
    st_image_store *s;
    const char *path;
};

static int oci_entry(void *ctx, struct archive *a, struct archive_entry *e, const char *name,
                     st_error *err)
{
    struct oci_ctx *c = ctx;
    char digest[ST_IMAGE_DIGEST_LEN];
    int64_t size;
    unsigned char magic[4];
    (void)e;
    if (strncmp(name, "blobs/sha256/", 13) != 0)
        return 0;
    snprintf(digest, sizeof(digest), "sha256:%.64s", name + 13);
    if (st_image_blob_has(c->s, digest))
        return 0;
    return entry_blob(c->s, a, c->path, name, digest, &size, magic, err);
}

static int import_oci_archive(st_image_store *s, const char *ref, struct scan *sc,
                              char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    struct oci_ctx c = {s, sc->path};
    /* Every blob of the archive comes in (which ones the image needs is
     * known only once its manifest is read, and a tar reads once); what
     * the image does not use is collected after the import. */
    st_image_store_gc_later(s);
    int r = each_entry(sc->path, oci_entry, &c, err);
    if (r < 0)
        return r;
    return choose_desc(sc->index, ref, sc->path, mdigest, err);
}

/* docker-archive: the members manifest.json names, by member name. */
struct docker_ctx {
    st_image_store *s;
    const char *path;
    json_t *want; /* member name -> null, then {"digest", "size", "mediaType"} */
};

static int docker_entry(void *ctx, struct archive *a, struct archive_entry *e, const char *name,
                        st_error *err)
{
    struct docker_ctx *c = ctx;
    char digest[ST_IMAGE_DIGEST_LEN];
    int64_t size;
    unsigned char m[4];
    (void)e;
    json_t *slot = json_object_get(c->want, name);
    if (slot == NULL || !json_is_null(slot))
        return 0;
    int r = entry_blob(c->s, a, c->path, name, digest, &size, m, err);
    if (r < 0)
        return r;
    /* docker writes layers uncompressed; other tools may not */
    const char *mt = m[0] == 0x1f && m[1] == 0x8b ? ST_MT_OCI_LAYER_GZIP
                     : m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd
                         ? ST_MT_OCI_LAYER_ZSTD
                         : ST_MT_OCI_LAYER;
    json_object_set_new(
        c->want, name,
        json_pack("{s:s, s:I, s:s}", "digest", digest, "size", (json_int_t)size, "mediaType", mt));
    return 0;
}

static json_t *choose_docker(json_t *manifest, const char *ref, const char *path, st_error *err)
{
    size_t i, k, n = json_array_size(manifest);
    json_t *d, *t;
    char tags[512] = "";
    size_t used = 0;
    json_array_foreach(manifest, i, d)
    {
        json_array_foreach(json_object_get(d, "RepoTags"), k, t)
        {
            const char *tag = json_string_value(t);
            size_t tl = tag ? strlen(tag) : 0, rl = strlen(ref);
            /* docker.io/library/busybox:1 is what "busybox:1" names */
            if (tag && (strcmp(tag, ref) == 0 ||
                        (tl > rl && tag[tl - rl - 1] == '/' && strcmp(tag + tl - rl, ref) == 0)))
                return d;
            if (tag && used < sizeof(tags))
                used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s", used ? ", " : "",
                                         tag);
        }
    }
    if (n == 1)
        return json_array_get(manifest, 0);
    st_error_set(err, n ? EINVAL : EBADMSG,
                 "%s holds %zu images (%s), none tagged %s; name the one to import", path, n, tags,
                 ref);
    return NULL;
}

static int import_docker_archive(st_image_store *s, const char *ref, struct scan *sc,
                                 char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    json_t *img = choose_docker(sc->manifest, ref, sc->path, err);
    if (img == NULL)
        return -(err ? err->code : EINVAL);
    const char *config = json_string_value(json_object_get(img, "Config"));
    json_t *layers = json_object_get(img, "Layers");
    if (config == NULL || !json_is_array(layers))
        return st_error_set(err, EBADMSG, "%s: manifest.json has no Config or Layers", sc->path);
    _cleanup_json_ json_t *want = json_object();
    json_object_set_new(want, member_name(config), json_null());
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        if (!json_is_string(l))
            return st_error_set(err, EBADMSG, "%s: manifest.json lists a layer that is no name",
                                sc->path);
        json_object_set_new(want, member_name(json_string_value(l)), json_null());
    }
    struct docker_ctx c = {s, sc->path, want};
    int r = each_entry(sc->path, docker_entry, &c, err);
    if (r < 0)
        return r;
    const char *name;
    json_object_foreach(want, name, l)
    {
        if (json_is_null(l))
            return st_error_set(err, EBADMSG, "%s lacks %s, which its manifest.json names",
                                sc->path, name);
    }
    /* The image as an OCI manifest: docker's config is an OCI config. */
    json_t *cfg = json_object_get(want, member_name(config));
    _cleanup_json_ json_t *man =
        json_pack("{s:i, s:s, s:{s:s, s:O, s:O}, s:[]}", "schemaVersion", 2, "mediaType",
                  ST_MT_OCI_MANIFEST, "config", "mediaType", ST_MT_OCI_CONFIG, "digest",
                  json_object_get(cfg, "digest"), "size", json_object_get(cfg, "size"), "layers");
    json_array_foreach(layers, i, l)
    {
        json_t *b = json_object_get(want, member_name(json_string_value(l)));
        json_array_append(json_object_get(man, "layers"), b);
    }
    _cleanup_free_ char *text = man ? json_dumps(man, JSON_COMPACT) : NULL;
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return st_image_blob_put(s, text, strlen(text), mdigest, err);
}

/* ---- the entry point -------------------------------------------------------- */

static int import_file(st_image_store *s, const char *ref, const char *path,
                       char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    struct scan sc = {.path = path};
    int r = each_entry(path, scan_entry, &sc, err);
    if (r == 0 && sc.oci_layout && json_is_object(sc.index))
        r = import_oci_archive(s, ref, &sc, mdigest, err);
    else if (r == 0 && json_is_array(sc.manifest))
        r = import_docker_archive(s, ref, &sc, mdigest, err);
    else if (r == 0)
        r = st_image_import_rootfs_tar(s, path, mdigest, err);
    json_decref(sc.index);
    json_decref(sc.manifest);
    return r;
}

static int import_any(st_image_store *s, const char *ref, const char *path,
                      struct st_image_info *out, st_error *err)
{
    char mdigest[ST_IMAGE_DIGEST_LEN], probe[PATH_MAX];
    struct stat st;
    if (stat(path, &st) < 0)
        return st_error_sys(err, errno, "cannot import %s", path);
    int r;
    if (S_ISDIR(st.st_mode)) {
        r = st_image_pathf(probe, sizeof(probe), err, "%s/index.json", path);
        if (r == 0 && access(probe, F_OK) == 0)
            r = import_layout(s, ref, path, mdigest, err);
        else if (r == 0)
            r = st_image_import_rootfs_dir(s, path, mdigest, err);
    } else if (S_ISREG(st.st_mode)) {
        r = import_file(s, ref, path, mdigest, err);
    } else {
        r = st_error_set(err, EINVAL,
                         "%s is neither a folder nor a file (an OCI layout, an oci-archive or "
                         "docker-archive tarball, or a root folder or tarball)",
                         path);
    }
    return r < 0 ? r : st_image_commit(s, ref, mdigest, out, err);
}

int st_image_import(st_image_store *s, const char *ref, const char *path, struct st_image_info *out,
                    st_error *err)
{
    if (ref == NULL || *ref == '\0' || path == NULL || *path == '\0')
        return st_error_set(err, EINVAL, "an import needs an image name and a path");
    st_image_once_begin(s, ref);
    st_error mine = {0};
    int r = import_any(s, ref, path, out, &mine);
    if (r < 0) /* blobs that came in before the failure: collected */
        st_image_store_gc_later(s);
    st_image_once_end(s, ref);
    if (r < 0) {
        /* commit names the image itself; the rest is said here once */
        if (strncmp(mine.msg, "image ", 6) != 0)
            st_error_prefix(&mine, "image %s: ", ref);
        if (err)
            *err = mine;
    }
    return r;
}
