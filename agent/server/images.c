/* images.c: stratad's side of the OCI image store (strata/image.h, which
 * owns the files under STATE_DIR/images: blobs, manifests, tags, and the
 * unpacked layers the nodes see read-only over 9p). Here: what the API
 * asks of it (import, list, remove, pull), whether a pod still uses an
 * image, and the credentials a pod's imagePullSecrets give a pull. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"name", "tag", "digest", "size", "created", "layers"}: a row of
 * st_image_list, for one image the store just took. */
static json_t *info_json(const struct st_image_info *info)
{
    struct st_image_ref ref;
    if (st_image_ref_parse(info->ref, &ref, NULL) < 0)
        return NULL;
    char name[600];
    snprintf(name, sizeof(name), "%s%s%s", ref.host, ref.host[0] ? "/" : "", ref.path);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i}", "name", name, "tag", ref.tag, "digest",
                     info->digest, "size", (json_int_t)info->size, "created", info->created,
                     "layers", info->layers);
}

/* The store's name for text ("busybox" -> "busybox:latest"). */
static int store_name(const char *text, char *out, size_t len, st_error *err)
{
    struct st_image_ref ref;
    int r = st_image_ref_parse(text, &ref, err);
    if (r < 0)
        return r;
    st_image_ref_format(&ref, out, len);
    return 0;
}

int st_server_image_import(struct st_server *d, const char *ref, const char *source, json_t **out,
                           st_error *err)
{
    char name[512];
    int r;
    if ((r = store_name(ref, name, sizeof(name), err)) < 0)
        return r;
    if (source == NULL || source[0] != '/')
        return st_error_set(err, EINVAL,
                            "source \"%s\": give an absolute path to an OCI image layout, an "
                            "oci-archive or docker-archive tarball, or a rootfs folder or tarball",
                            source ? source : "");
    struct st_image_info info;
    if ((r = st_image_import(d->images, name, source, &info, err)) < 0)
        return r;
    st_server_log("image %s imported from %s (%s, %d layers)", info.ref, source, info.digest,
                  info.layers);
    *out = info_json(&info);
    return *out ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

int st_server_image_list(struct st_server *d, json_t **out, st_error *err)
{
    json_t *items = NULL;
    int r = st_image_list(d->images, &items, err);
    if (r < 0)
        return r;
    *out = json_pack("{s:s, s:o}", "kind", "ImageList", "items", items);
    return *out ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

/* ---- removal: not while a pod uses the image --------------------------- */

/* The manifest digests the pods that may still run use (keys of an
 * object), read before the store is asked to remove: the store calls back
 * under its own lock, where it must not be asked again. */
static int digests_in_use(struct st_server *d, json_t **out, st_error *err)
{
    st_store_query q = {.kind = "Pod"};
    _cleanup_json_ json_t *pods = NULL;
    int r = st_store_list(d->store, &q, &pods, err);
    if (r < 0)
        return r;
    json_t *used = json_object();
    size_t i, k;
    json_t *p, *c;
    json_array_foreach(pods, i, p)
    {
        if (st_pod_is_terminal(p))
            continue;
        json_array_foreach(json_object_get(json_object_get(p, "spec"), "containers"), k, c)
        {
            char name[512];
            struct st_image_info info;
            const char *image = json_string_value(json_object_get(c, "image"));
            if (image && store_name(image, name, sizeof(name), NULL) == 0 &&
                st_image_lookup(d->images, name, &info, NULL) == 0)
                json_object_set_new(used, info.digest, json_true());
        }
    }
    *out = used;
    return 0;
}

static bool digest_used(void *arg, const char *ref, const char *digest)
{
    (void)ref;
    return json_object_get(arg, digest) != NULL;
}

int st_server_image_remove(struct st_server *d, const char *ref, st_error *err)
{
    char name[512];
    _cleanup_json_ json_t *used = NULL;
    int r;
    if ((r = store_name(ref, name, sizeof(name), err)) < 0 ||
        (r = digests_in_use(d, &used, err)) < 0)
        return r;
    if ((r = st_image_remove(d->images, name, digest_used, used, err)) < 0)
        return r;
    st_server_log("image %s removed", name);
    return 0;
}

int st_server_image_pull(struct st_server *d, const char *ref, json_t **out, st_error *err)
{
    char name[512];
    struct st_image_pull_report rep;
    struct st_image_info info;
    int r;
    if ((r = store_name(ref, name, sizeof(name), err)) < 0 ||
        (r = st_image_pull(d->images, name, NULL, &rep, err)) < 0 ||
        (r = st_image_lookup(d->images, name, &info, err)) < 0)
        return r;
    st_server_log("image %s pulled (%s, %lld bytes downloaded in %lld ms)", name, rep.digest,
                  (long long)rep.bytes, (long long)rep.ms);
    *out = info_json(&info);
    if (*out == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    json_object_set_new(*out, "downloadedBytes", json_integer(rep.bytes));
    json_object_set_new(*out, "pullMillis", json_integer(rep.ms));
    return 0;
}

/* ---- imagePullSecrets --------------------------------------------------- */

int st_server_image_pull_auth(st_store *store, const char *ns, json_t *pod_spec, char **auth,
                              st_error *err)
{
    *auth = NULL;
    json_t *names = json_object_get(pod_spec, "imagePullSecrets");
    if (json_array_size(names) == 0)
        return 0;
    _cleanup_json_ json_t *auths = json_object();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        const char *sname = json_string_value(json_object_get(n, "name"));
        _cleanup_json_ json_t *secret = NULL;
        if (sname == NULL || st_store_get(store, "Secret", ns, sname, &secret, NULL) < 0)
            return st_error_set(err, ENOENT,
                                "imagePullSecrets: secret \"%s\" not found in namespace %s",
                                sname ? sname : "", ns);
        const char *type = json_string_value(json_object_get(secret, "type"));
        if (type == NULL || strcmp(type, "kubernetes.io/dockerconfigjson") != 0)
            return st_error_set(err, EINVAL,
                                "imagePullSecrets: secret \"%s\" is of type %s, not "
                                "kubernetes.io/dockerconfigjson (a Docker config under the key "
                                ".dockerconfigjson)",
                                sname, type ? type : "Opaque");
        _cleanup_free_ char *text = NULL;
        int r = st_server_secret_value(secret, ".dockerconfigjson", &text, err);
        if (r < 0) {
            st_error_prefix(err, "imagePullSecrets: ");
            return r;
        }
        json_error_t je;
        _cleanup_json_ json_t *config = json_loads(text, 0, &je);
        json_t *a = json_object_get(config, "auths");
        if (!json_is_object(a))
            return st_error_set(err, EINVAL,
                                "imagePullSecrets: secret \"%s\": .dockerconfigjson is not a "
                                "Docker config ({\"auths\": {...}})",
                                sname);
        const char *host;
        json_t *cred;
        json_object_foreach(a, host, cred)
        {
            if (json_object_get(auths, host) == NULL)
                json_object_set(auths, host, cred);
        }
    }
    _cleanup_json_ json_t *doc = json_pack("{s:O}", "auths", auths);
    *auth = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    return *auth ? 0 : st_error_set(err, ENOMEM, "out of memory");
}
