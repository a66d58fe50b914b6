/* manifest.c: reading the documents that say what an image is made of.
 * Registries and tools write two families, the OCI image spec's and
 * Docker's v2 schema 2 (most still write it), each with an image manifest
 * (a config and layers) and a list of manifests per platform (OCI index,
 * Docker manifest list). They differ only in media types, so one reader
 * takes both; a list is resolved to this host's platform, linux/amd64, as
 * the nodes are amd64 VMs. */
#include "image_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"

static bool is_index(const char *mt)
{
    return strcmp(mt, ST_MT_OCI_INDEX) == 0 || strcmp(mt, ST_MT_DOCKER_LIST) == 0;
}

static bool is_manifest(const char *mt)
{
    return strcmp(mt, ST_MT_OCI_MANIFEST) == 0 || strcmp(mt, ST_MT_DOCKER_MANIFEST) == 0;
}

static bool is_layer(const char *mt)
{
    return strcmp(mt, ST_MT_OCI_LAYER) == 0 || strcmp(mt, ST_MT_OCI_LAYER_GZIP) == 0 ||
           strcmp(mt, ST_MT_OCI_LAYER_ZSTD) == 0 || strcmp(mt, ST_MT_DOCKER_LAYER) == 0 ||
           /* Docker's name for an uncompressed layer */
           strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0;
}

/* A descriptor's digest and size, checked. */
static int read_desc(json_t *d, const char *what, char digest[ST_IMAGE_DIGEST_LEN], int64_t *size,
                     st_error *err)
{
    const char *dg = json_string_value(json_object_get(d, "digest"));
    json_t *sz = json_object_get(d, "size");
    if (!json_is_object(d) || !st_image_digest_ok(dg))
        return st_error_set(err, EBADMSG,
                            "the manifest's %s has no digest of the form sha256:<64 hex>", what);
    if (sz && (!json_is_integer(sz) || json_integer_value(sz) < 0))
        return st_error_set(err, EBADMSG, "the manifest's %s %s has a bad size", what, dg);
    snprintf(digest, ST_IMAGE_DIGEST_LEN, "%s", dg);
    *size = sz ? json_integer_value(sz) : 0;
    return 0;
}

static int parse_index(json_t *doc, char child[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    json_t *list = json_object_get(doc, "manifests");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return st_error_set(err, EBADMSG, "the image index lists no manifests");
    char seen[512] = "";
    size_t used = 0;
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        json_t *p = json_object_get(d, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        const char *variant = json_string_value(json_object_get(p, "variant"));
        int64_t size;
        /* An index of one manifest without a platform (what a layout
         * written for one image often has) means that one. */
        bool only = p == NULL && json_array_size(list) == 1;
        if (only || (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0))
            return read_desc(d, "platform manifest", child, &size, err);
        if (used < sizeof(seen))
            used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s%s/%s%s%s",
                                     used ? ", " : "", os ? os : "?", arch ? arch : "?",
                                     variant ? "/" : "", variant ? variant : "");
    }
    return st_error_set(err, ENOEXEC,
                        "the image has no manifest for linux/amd64 (it has %s); nodes are "
                        "linux/amd64",
                        seen);
}

static int parse_manifest(json_t *doc, struct st_image_manifest *m, st_error *err)
{
    int r = read_desc(json_object_get(doc, "config"), "config", m->config, &m->config_size, err);
    if (r < 0)
        return r;
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_array(layers))
        return st_error_set(err, EBADMSG, "the image manifest has no \"layers\" list");
    m->nlayers = json_array_size(layers);
    m->layers = calloc(m->nlayers ? m->nlayers : 1, sizeof(*m->layers));
    if (m->layers == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    size_t i;
    json_t *d;
    json_array_foreach(layers, i, d)
    {
        struct st_image_layer_desc *l = &m->layers[i];
        r = read_desc(d, "layer", l->digest, &l->size, err);
        if (r < 0)
            return r;
        const char *mt = json_string_value(json_object_get(d, "mediaType"));
        if (mt == NULL || !is_layer(mt))
            return st_error_set(err, EINVAL,
                                "layer %s has media type \"%s\", which the image store does not "
                                "take (a tar, plain, gzip or zstd; foreign and "
                                "non-distributable layers are not fetched)",
                                l->digest, mt ? mt : "");
        snprintf(l->media_type, sizeof(l->media_type), "%s", mt);
    }
    return 0;
}

int st_image_manifest_parse(const char *text, size_t len, const char *media_type,
                            struct st_image_manifest *m, char child[ST_IMAGE_DIGEST_LEN],
                            st_error *err)
{
    *m = (struct st_image_manifest){0};
    if (child)
        child[0] = '\0';
    json_error_t je;
    _cleanup_json_ json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(doc))
        return st_error_set(err, EBADMSG, "the image manifest is not a JSON object (%s at %d:%d)",
                            doc ? "not an object" : je.text, je.line, je.column);
    json_t *sv = json_object_get(doc, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2)
        return st_error_set(err, EBADMSG,
                            "the image manifest has schemaVersion %lld; only version 2 (OCI, "
                            "Docker v2 schema 2) is read: convert older images with skopeo copy",
                            json_is_integer(sv) ? (long long)json_integer_value(sv) : -1LL);
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (mt == NULL && media_type && *media_type)
        mt = media_type;
    if (mt == NULL) /* OCI makes mediaType optional: the members tell */
        mt = json_object_get(doc, "manifests") ? ST_MT_OCI_INDEX : ST_MT_OCI_MANIFEST;
    if (is_index(mt)) {
        char dummy[ST_IMAGE_DIGEST_LEN];
        int r = parse_index(doc, child ? child : dummy, err);
        return r < 0 ? r : 1;
    }
    if (!is_manifest(mt))
        return st_error_set(err, EBADMSG, "media type \"%s\" is not an image manifest or index",
                            mt);
    int r = parse_manifest(doc, m, err);
    if (r < 0)
        st_image_manifest_free(m);
    return r;
}

void st_image_manifest_free(struct st_image_manifest *m)
{
    if (m == NULL)
        return;
    free(m->layers);
    m->layers = NULL;
    m->nlayers = 0;
}
