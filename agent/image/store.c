/* store.c: the image store's folder and its tag map. The folder is itself
 * an OCI image layout (oci-layout, index.json, blobs/sha256/), so any OCI
 * tool can read it, plus layers/<hex> (each layer unpacked once, shared by
 * the images that have it) and tmp/ (where everything is written before it
 * is renamed in). index.json maps a reference to its manifest through the
 * org.opencontainers.image.ref.name annotation.
 *
 * Locking: one mutex per store guards index.json and the set of imports
 * and pulls under way; an flock on .lock keeps another process using the
 * same store (stratactl beside stratad) from interleaving its rewrites.
 * Slow work (unpacking, reading manifests) runs outside the mutex. Blobs
 * and layers no image references are collected only when no import or
 * pull is under way: until it commits, theirs are referenced by nothing. */
#include "image_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_priv.h"
#include "strata/cleanup.h"
#include "strata/fs.h"

#define REF_NAME "org.opencontainers.image.ref.name"
/* A leftover in tmp/ older than this is from a process that died. */
#define TMP_STALE_S (24 * 3600)

/* The store's own names below dir are short (the longest is a layer
 * dir, layers/ + 64 hex): with dir bounded, no path here is cut short. */
#define DIR_MAX (PATH_MAX - 256)

struct st_image_store {
    char dir[DIR_MAX];
    int lock_fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **keys; /* once_begin's keys held now */
    size_t nkeys, cap;
    bool gc_pending;
};

/* ---- opening --------------------------------------------------------------- */

static int write_file_atomic(st_image_store *s, const char *name, const char *text, st_error *err)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/tmp/%s-XXXXXX", s->dir, name);
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot create a temporary file in %s/tmp", s->dir);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            unlink(tmp);
            return st_error_sys(err, e, "cannot write %s", tmp);
        }
        off += (size_t)n;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return st_error_sys(err, e, "cannot write %s", path);
    }
    return 0;
}

static void clean_tmp(st_image_store *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tmp", s->dir);
    _cleanup_closedir_ DIR *d = opendir(path);
    struct dirent *de;
    time_t now = time(NULL);
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            now - st.st_mtime < TMP_STALE_S)
            continue;
        char stale[PATH_MAX];
        if (st_image_pathf(stale, sizeof(stale), NULL, "%s/tmp/%s", s->dir, de->d_name) == 0)
            st_fs_rmtree(stale, NULL);
    }
}

int st_image_store_open(const char *dir, st_image_store **out, st_error *err)
{
    *out = NULL;
    char path[PATH_MAX];
    static const char *const sub[] = {"blobs/sha256", "layers", "tmp"};
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
        int r = st_fs_mkdir_p(path, 0755, err);
        if (r < 0)
            return r;
    }
    st_image_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    /* resolved once: layer paths handed to nodes and to libarchive's
     * symlink checks must not go through a symlink */
    if (realpath(dir, path) == NULL) {
        free(s);
        return st_error_sys(err, errno, "cannot resolve the image store folder %s", dir);
    }
    if (strlen(path) >= sizeof(s->dir)) {
        free(s);
        return st_error_set(err, ENAMETOOLONG, "the image store folder %s has too long a path",
                            path);
    }
    memcpy(s->dir, path, strlen(path) + 1);
    snprintf(path, sizeof(path), "%s/.lock", s->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        free(s);
        return st_error_sys(err, errno, "cannot open %s", path);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    clean_tmp(s);
    int r = 0;
    snprintf(path, sizeof(path), "%s/oci-layout", s->dir);
    if (access(path, F_OK) < 0)
        r = write_file_atomic(s, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}\n", err);
    snprintf(path, sizeof(path), "%s/index.json", s->dir);
    if (r == 0 && access(path, F_OK) < 0)
        r = write_file_atomic(
            s, "index.json",
            "{\"schemaVersion\":2,\"mediaType\":\"" ST_MT_OCI_INDEX "\",\"manifests\":[]}\n", err);
    if (r < 0) {
        st_image_store_close(s);
        return r;
    }
    *out = s;
    return 0;
}

void st_image_store_close(st_image_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i]);
    free(s->keys);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

const char *st_image_store_dir(const st_image_store *s)
{
    return s->dir;
}

/* ---- index.json (callers hold s->mu) ---------------------------------------- */

int st_image_store_index_load(st_image_store *s, json_t **out, st_error *err)
{
    char path[PATH_MAX];
    json_error_t je;
    snprintf(path, sizeof(path), "%s/index.json", s->dir);
    json_t *idx = json_load_file(path, 0, &je);
    if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "manifests"))) {
        json_decref(idx);
        return st_error_set(err, EIO, "the image store's %s is damaged (%s); restore it", path,
                            je.text[0] ? je.text : "no \"manifests\" list");
    }
    *out = idx;
    return 0;
}

static int index_save(st_image_store *s, json_t *idx, st_error *err)
{
    _cleanup_free_ char *text = json_dumps(idx, JSON_INDENT(2));
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return write_file_atomic(s, "index.json", text, err);
}

/* The manifests[] entry tagged ref, NULL when none. */
static json_t *index_find(json_t *idx, const char *ref, size_t *at)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(idx, "manifests"), i, d)
    {
        const char *n =
            json_string_value(json_object_get(json_object_get(d, "annotations"), REF_NAME));
        if (n && strcmp(n, ref) == 0) {
            if (at)
                *at = i;
            return d;
        }
    }
    return NULL;
}

static void lock_store(st_image_store *s)
{
    pthread_mutex_lock(&s->mu);
    while (flock(s->lock_fd, LOCK_EX) < 0 && errno == EINTR)
        ;
}

static void unlock_store(st_image_store *s)
{
    flock(s->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&s->mu);
}

/* index.json as it is now, for reading only. */
static int index_read(st_image_store *s, json_t **idx, st_error *err)
{
    lock_store(s);
    int r = st_image_store_index_load(s, idx, err);
    unlock_store(s);
    return r;
}

/* The manifest digest ref points at (-ENOENT when none). */
static int ref_digest(st_image_store *s, const char *ref, char digest[ST_IMAGE_DIGEST_LEN],
                      st_error *err)
{
    _cleanup_json_ json_t *idx = NULL;
    int r = index_read(s, &idx, err);
    if (r < 0)
        return r;
    json_t *d = index_find(idx, ref, NULL);
    const char *dg = json_string_value(json_object_get(d, "digest"));
    if (d == NULL)
        return st_error_set(err, ENOENT,
                            "image %s is not in the image store (import it with stratactl "
                            "image import, or name a registry to pull from)",
                            ref);
    if (!st_image_digest_ok(dg))
        return st_error_set(err, EIO, "image %s: the store's index.json has a bad digest", ref);
    snprintf(digest, ST_IMAGE_DIGEST_LEN, "%s", dg);
    return 0;
}

/* ---- manifests and configs ---------------------------------------------------- */

#define DOC_MAX (4 << 20) /* manifests and configs are small; a bigger one is not one */

int st_image_store_manifest(st_image_store *s, const char *digest, struct st_image_manifest *m,
                            char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char cur[ST_IMAGE_DIGEST_LEN], child[ST_IMAGE_DIGEST_LEN];
    snprintf(cur, sizeof(cur), "%s", digest);
    /* an index resolves to its platform's manifest: one level, as registries nest */
    for (int depth = 0; depth < 2; depth++) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = st_image_blob_read(s, cur, DOC_MAX, &text, &len, err);
        if (r < 0)
            return r;
        r = st_image_manifest_parse(text, len, NULL, m, child, err);
        if (r < 0)
            return r;
        if (r == 0) {
            if (mdigest)
                memcpy(mdigest, cur, sizeof(cur));
            return 0;
        }
        memcpy(cur, child, sizeof(cur));
    }
    return st_error_set(err, EBADMSG, "image index %s nests indexes deeper than one level", digest);
}

/* The image config (whole document), a new reference. */
static int read_config(st_image_store *s, const struct st_image_manifest *m, json_t **out,
                       st_error *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = st_image_blob_read(s, m->config, DOC_MAX, &text, &len, err);
    if (r < 0)
        return r;
    json_error_t je;
    json_t *cfg = json_loadb(text, len, 0, &je);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return st_error_set(err, EBADMSG, "image config %s is not a JSON object", m->config);
    }
    *out = cfg;
    return 0;
}

/* The manifest (an index followed) and the config of the image ref
 * points at; m is freed on error. */
static int load_image(st_image_store *s, const char *ref, const char *digest,
                      struct st_image_manifest *m, char mdigest[ST_IMAGE_DIGEST_LEN], json_t **cfg,
                      st_error *err)
{
    int r = st_image_store_manifest(s, digest, m, mdigest, err);
    if (r == 0)
        r = read_config(s, m, cfg, err);
    if (r < 0) {
        st_image_manifest_free(m);
        st_error_prefix(err, "image %s: ", ref);
    }
    return r;
}

static int image_info(st_image_store *s, const char *ref, const char *digest,
                      struct st_image_info *out, st_error *err)
{
    struct st_image_manifest m;
    char mdigest[ST_IMAGE_DIGEST_LEN];
    _cleanup_json_ json_t *cfg = NULL;
    int r = load_image(s, ref, digest, &m, mdigest, &cfg, err);
    if (r < 0)
        return r;
    *out = (struct st_image_info){.size = m.config_size, .layers = (int)m.nlayers};
    snprintf(out->ref, sizeof(out->ref), "%s", ref);
    memcpy(out->digest, mdigest, sizeof(mdigest));
    for (size_t i = 0; i < m.nlayers; i++)
        out->size += m.layers[i].size;
    const char *created = json_string_value(json_object_get(cfg, "created"));
    snprintf(out->created, sizeof(out->created), "%s", created ? created : "");
    st_image_manifest_free(&m);
    return 0;
}

/* ---- committing ---------------------------------------------------------------- */

void st_image_store_layer_dir(st_image_store *s, const char *digest, char *out, size_t len)
{
    snprintf(out, len, "%s/layers/%s", s->dir, ST_IMAGE_DIGEST_HEX(digest));
}

/* Unpacks one layer unless it is there, into tmp/ and renamed in: a layer
 * dir either is whole or does not exist. Two imports sharing a layer may
 * both unpack it; the second rename finds the first and keeps it. */
int st_image_layer_ensure(st_image_store *s, const struct st_image_manifest *m, size_t i,
                          st_error *err)
{
    char dst[PATH_MAX], blob[PATH_MAX], work[PATH_MAX], root[PATH_MAX + 8];
    st_image_store_layer_dir(s, m->layers[i].digest, dst, sizeof(dst));
    if (access(dst, F_OK) == 0)
        return 0;
    st_image_blob_path(s, m->layers[i].digest, blob, sizeof(blob));
    snprintf(work, sizeof(work), "%s/tmp/unpack-XXXXXX", s->dir);
    if (mkdtemp(work) == NULL)
        return st_error_sys(err, errno, "cannot create a temporary folder in %s/tmp", s->dir);
    snprintf(root, sizeof(root), "%s/root", work);
    char lowers[i ? i : 1][PATH_MAX];
    const char *lp[i ? i : 1];
    for (size_t k = 0; k < i; k++) {
        st_image_store_layer_dir(s, m->layers[k].digest, lowers[k], PATH_MAX);
        lp[k] = lowers[k];
    }
    int r = st_image_layer_unpack(blob, root, lp, i, err);
    if (r == 0 && chmod(root, 0755) == 0 && rename(root, dst) < 0 && errno != EEXIST &&
        errno != ENOTEMPTY)
        r = st_error_sys(err, errno, "cannot move layer %s into %s", m->layers[i].digest, dst);
    st_fs_rmtree(work, NULL);
    return r;
}

int st_image_commit(st_image_store *s, const char *ref, const char *manifest_digest,
                    struct st_image_info *out, st_error *err)
{
    struct st_image_manifest m;
    char mdigest[ST_IMAGE_DIGEST_LEN];
    int r = st_image_store_manifest(s, manifest_digest, &m, mdigest, err);
    for (size_t i = 0; r == 0 && i <= m.nlayers; i++) {
        const char *d = i < m.nlayers ? m.layers[i].digest : m.config;
        if (!st_image_blob_has(s, d))
            r = st_error_set(err, ENOENT, "blob %s of manifest %s is not in the store", d, mdigest);
    }
    for (size_t i = 0; r == 0 && i < m.nlayers; i++)
        r = st_image_layer_ensure(s, &m, i, err);
    st_image_manifest_free(&m);
    if (r < 0) {
        st_error_prefix(err, "image %s: ", ref);
        return r;
    }
    char path[PATH_MAX];
    struct stat st;
    st_image_blob_path(s, mdigest, path, sizeof(path));
    if (stat(path, &st) < 0)
        return st_error_sys(err, errno, "image %s: cannot stat %s", ref, path);
    _cleanup_json_ json_t *idx = NULL;
    lock_store(s);
    r = st_image_store_index_load(s, &idx, err);
    size_t at;
    if (r == 0 && index_find(idx, ref, &at))
        json_array_remove(json_object_get(idx, "manifests"), at);
    if (r == 0)
        r = json_array_append_new(json_object_get(idx, "manifests"),
                                  json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
                                            ST_MT_OCI_MANIFEST, "digest", mdigest, "size",
                                            (json_int_t)st.st_size, "annotations", REF_NAME, ref))
                ? st_error_set(err, ENOMEM, "out of memory")
                : 0;
    if (r == 0)
        r = index_save(s, idx, err);
    unlock_store(s);
    if (r < 0) {
        st_error_prefix(err, "image %s: ", ref);
        return r;
    }
    return out ? image_info(s, ref, mdigest, out, err) : 0;
}

/* ---- one at a time ------------------------------------------------------------------ */

static bool key_held(st_image_store *s, const char *key)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i], key) == 0)
            return true;
    return false;
}

void st_image_once_begin(st_image_store *s, const char *key)
{
    pthread_mutex_lock(&s->mu);
    while (key_held(s, key))
        pthread_cond_wait(&s->cv, &s->mu);
    char *k = strdup(key);
    if (s->nkeys == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **keys = realloc(s->keys, cap * sizeof(*keys));
        if (keys) {
            s->keys = keys;
            s->cap = cap;
        }
    }
    /* Out of memory: the key is not held, so a second import of it may
     * run beside this one; each still writes through tmp/ and renames. */
    if (k && s->nkeys < s->cap)
        s->keys[s->nkeys++] = k;
    else
        free(k);
    pthread_mutex_unlock(&s->mu);
}

void st_image_once_end(st_image_store *s, const char *key)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i], key) == 0) {
            free(s->keys[i]);
            s->keys[i] = s->keys[--s->nkeys];
            break;
        }
    if (s->nkeys == 0 && s->gc_pending) {
        flock(s->lock_fd, LOCK_EX);
        s->gc_pending = st_image_store_gc_locked(s) < 0;
        flock(s->lock_fd, LOCK_UN);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void st_image_store_gc_later(st_image_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->gc_pending = true;
    pthread_mutex_unlock(&s->mu);
}

/* ---- reading --------------------------------------------------------------------- */

/* "HOST/PATH:TAG" -> name "HOST/PATH", tag "TAG"; "...@sha256:X" -> tag "". */
static void split_ref(const char *ref, char *name, size_t nlen, const char **tag)
{
    const char *at = strchr(ref, '@');
    size_t n = at ? (size_t)(at - ref) : strlen(ref);
    const char *slash = memrchr(ref, '/', n);
    const char *colon =
        memrchr(slash ? slash : ref, ':', n - (size_t)((slash ? slash : ref) - ref));
    *tag = colon && !at ? colon + 1 : "";
    snprintf(name, nlen, "%.*s", (int)(colon ? (size_t)(colon - ref) : n), ref);
}

int st_image_list(st_image_store *s, json_t **out, st_error *err)
{
    _cleanup_json_ json_t *idx = NULL;
    int r = index_read(s, &idx, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *list = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(idx, "manifests"), i, d)
    {
        const char *ref =
            json_string_value(json_object_get(json_object_get(d, "annotations"), REF_NAME));
        const char *dg = json_string_value(json_object_get(d, "digest"));
        struct st_image_info info;
        if (ref == NULL || !st_image_digest_ok(dg))
            continue; /* not ours (another tool's entry in the layout) */
        r = image_info(s, ref, dg, &info, err);
        if (r < 0)
            return r;
        char name[512];
        const char *tag;
        split_ref(ref, name, sizeof(name), &tag);
        if (json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I, s:s, s:i}", "name", name,
                                                  "tag", tag, "digest", info.digest, "size",
                                                  (json_int_t)info.size, "created", info.created,
                                                  "layers", info.layers)))
            return st_error_set(err, ENOMEM, "out of memory");
    }
    *out = st_steal_ptr(&list);
    return 0;
}

int st_image_lookup(st_image_store *s, const char *ref, struct st_image_info *out, st_error *err)
{
    char digest[ST_IMAGE_DIGEST_LEN];
    struct st_image_info info;
    int r = ref_digest(s, ref, digest, err);
    if (r < 0)
        return r;
    return image_info(s, ref, digest, out ? out : &info, err);
}

int st_image_resolve(st_image_store *s, const char *ref, json_t **image, st_error *err)
{
    char digest[ST_IMAGE_DIGEST_LEN], mdigest[ST_IMAGE_DIGEST_LEN];
    struct st_image_manifest m;
    int r = ref_digest(s, ref, digest, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *cfg = NULL;
    r = load_image(s, ref, digest, &m, mdigest, &cfg, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *layers = json_array();
    for (size_t i = 0; layers && i < m.nlayers; i++) {
        char rel[80];
        snprintf(rel, sizeof(rel), "layers/%s", ST_IMAGE_DIGEST_HEX(m.layers[i].digest));
        json_array_append_new(layers, json_string(rel));
    }
    st_image_manifest_free(&m);
    json_t *c = json_object_get(cfg, "config");
    *image = json_pack("{s:s, s:s, s:O, s:O}", "ref", ref, "digest", mdigest, "layers", layers,
                       "config", json_is_object(c) ? c : json_object());
    if (!json_is_object(c))
        json_decref(json_object_get(*image, "config")); /* the {} made above */
    return *image ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

/* ---- removing ------------------------------------------------------------------------ */

int st_image_remove(st_image_store *s, const char *ref,
                    bool (*in_use)(void *arg, const char *ref, const char *digest), void *arg,
                    st_error *err)
{
    char digest[ST_IMAGE_DIGEST_LEN];
    int r = ref_digest(s, ref, digest, err);
    if (r < 0)
        return r;
    /* asked without the store's lock: the caller may look at its own state */
    if (in_use && in_use(arg, ref, digest))
        return st_error_set(err, EBUSY,
                            "image %s is used by a pod; delete the pod before the image", ref);
    _cleanup_json_ json_t *idx = NULL;
    lock_store(s);
    r = st_image_store_index_load(s, &idx, err);
    size_t at;
    json_t *d = r == 0 ? index_find(idx, ref, &at) : NULL;
    if (r == 0 && d == NULL)
        r = st_error_set(err, ENOENT, "image %s is not in the image store", ref);
    else if (r == 0 && strcmp(json_string_value(json_object_get(d, "digest")), digest) != 0)
        r = st_error_set(err, EAGAIN, "image %s changed while being removed; try again", ref);
    if (r == 0) {
        json_array_remove(json_object_get(idx, "manifests"), at);
        r = index_save(s, idx, err);
    }
    if (r == 0)
        s->gc_pending = s->nkeys > 0 || st_image_store_gc_locked(s) < 0;
    unlock_store(s);
    return r;
}
