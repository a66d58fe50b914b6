/* object_patch.c: merge patches and the fields the cluster owns (see
 * object_patch.h). The manifest reader is the one validator: a patched
 * object is read again as if applied, so defaults and rules are the same. */
#include "strata/object_patch.h"
#include "strata/cleanup.h"
#include "strata/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void st_json_merge_patch(json_t *dst, json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        json_t *cur = json_object_get(dst, k);
        if (json_is_null(v))
            json_object_del(dst, k);
        else if (json_is_object(v) && json_is_object(cur))
            st_json_merge_patch(cur, v);
        else if (json_is_object(v)) {
            /* A new map is the patch without its nulls (RFC 7386). */
            json_t *fresh = json_object();
            st_json_merge_patch(fresh, v);
            json_object_set_new(dst, k, fresh);
        } else
            json_object_set(dst, k, v);
    }
}

/* A Service keeps its addresses when a client writes it again without
 * them (kubectl apply of the same file): its cluster IP, and the node port
 * of each port number that still needs one. */
static void keep_service_allocations(json_t *stored, json_t *next)
{
    if (!json_object_get(next, "clusterIP") && json_object_get(stored, "clusterIP")) {
        json_object_set(next, "clusterIP", json_object_get(stored, "clusterIP"));
        json_object_set(next, "clusterIPs", json_object_get(stored, "clusterIPs"));
    }
    const char *type = json_string_value(json_object_get(next, "type"));
    if (type && strcmp(type, "ClusterIP") == 0)
        return;
    size_t i, j;
    json_t *p, *old;
    json_array_foreach(json_object_get(next, "ports"), i, p)
    {
        json_array_foreach(json_object_get(stored, "ports"), j, old)
        {
            json_t *np = json_object_get(old, "nodePort");
            if (np && !json_object_get(p, "nodePort") &&
                json_equal(json_object_get(old, "port"), json_object_get(p, "port")))
                json_object_set(p, "nodePort", np);
        }
    }
}

void st_object_keep_server_fields(json_t *stored, json_t *next)
{
    json_t *md = json_object_get(next, "metadata");
    json_t *smd = json_object_get(stored, "metadata");
    if (!json_is_object(md))
        return;
    static const char *const kept[] = {"ownerReferences", "finalizers", "deletionTimestamp",
                                       "deletionGracePeriodSeconds"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        json_t *v = json_object_get(smd, kept[i]);
        if (v)
            json_object_set(md, kept[i], v);
        else
            json_object_del(md, kept[i]);
    }
    json_t *st = json_object_get(stored, "status");
    const char *kind = json_string_value(json_object_get(next, "kind"));
    if (st)
        json_object_set(next, "status", st);
    else if (kind && strcmp(kind, "Namespace") == 0) /* a new one is in use at once */
        json_object_set_new(next, "status", json_pack("{s:s}", "phase", "Active"));
    json_t *spec = json_object_get(next, "spec");
    if (kind && strcmp(kind, "Pod") == 0 && json_is_object(spec)) {
        json_t *node = json_object_get(json_object_get(stored, "spec"), "nodeName");
        if (node)
            json_object_set(spec, "nodeName", node);
    }
    if (kind && strcmp(kind, "Service") == 0 && json_is_object(spec))
        keep_service_allocations(json_object_get(stored, "spec"), spec);
    if (spec == NULL) {
        json_object_del(md, "generation");
        return;
    }
    json_int_t gen = json_integer_value(json_object_get(smd, "generation"));
    if (stored == NULL || !json_equal(json_object_get(stored, "spec"), spec))
        gen++;
    if (gen > 0)
        json_object_set_new(md, "generation", json_integer(gen));
    else
        json_object_del(md, "generation"); /* stored before generations were counted */
}

/* *out: the patched object as the manifest reader reads it. */
static int validated(const char *kind, json_t *patched, enum st_manifest_fields fields,
                     struct st_manifest_diag **diags, json_t **out, st_error *err)
{
    _cleanup_free_ char *text = json_dumps(patched, JSON_COMPACT);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_json_ json_t *objects = NULL;
    st_manifest_diag_free(*diags);
    *diags = NULL;
    int r = st_manifest_parse_string_fields("<patch>", text, strlen(text), fields, &objects, diags,
                                            err);
    if (r < 0)
        return r;
    json_t *obj = json_array_get(objects, 0);
    const char *k = json_string_value(json_object_get(obj, "kind"));
    if (obj == NULL || !k || strcmp(k, kind) != 0)
        return st_error_set(err, EINVAL, "a patch cannot change the kind of a %s", kind);
    *out = json_incref(obj);
    return 0;
}

static bool same_str(json_t *a, json_t *b, const char *key)
{
    const char *x = json_string_value(json_object_get(json_object_get(a, "metadata"), key));
    const char *y = json_string_value(json_object_get(json_object_get(b, "metadata"), key));
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

struct patch_arg {
    const char *kind, *name;
    json_t *patch;
    const struct st_object_patch_opts *o;
    struct st_manifest_diag *diags;
};

int st_patch_apply(enum st_patch_type type, json_t *doc, json_t *patch, st_error *err)
{
    switch (type) {
    case ST_PATCH_JSON:
        return st_json_patch_apply(doc, patch, err);
    case ST_PATCH_STRATEGIC:
        return st_strategic_merge_patch(doc, patch, err);
    default:
        if (!json_is_object(patch))
            return st_error_set(err, EINVAL,
                                "a merge patch is a JSON object, such as "
                                "{\"spec\":{\"replicas\":2}}");
        st_json_merge_patch(doc, patch);
        return 0;
    }
}

/* Turns the stored object into the patched, validated one. */
static int patch_fn(json_t *stored, void *arg, st_error *err)
{
    struct patch_arg *a = arg;
    _cleanup_json_ json_t *patched = json_deep_copy(stored);
    int r = st_patch_apply(a->o->type, patched, a->patch, err);
    if (r < 0)
        return r;
    if (!same_str(patched, stored, "uid") &&
        json_object_get(json_object_get(patched, "metadata"), "uid"))
        return st_error_set(err, EINVAL, "metadata.uid of %s %s cannot change", a->kind, a->name);
    if (a->o->status_only) {
        /* Only status moves; the rest stays as stored. */
        json_t *st = json_object_get(patched, "status");
        if (st)
            json_object_set(stored, "status", st);
        else
            json_object_del(stored, "status");
        return ST_STORE_WRITE;
    }
    _cleanup_json_ json_t *next = NULL;
    r = validated(a->kind, patched, a->o->fields, &a->diags, &next, err);
    if (r < 0)
        return r;
    if (!same_str(next, stored, "name") || !same_str(next, stored, "namespace"))
        return st_error_set(err, EINVAL,
                            "a patch cannot change metadata.name or metadata.namespace of %s "
                            "%s; create a new object instead",
                            a->kind, a->name);
    st_object_keep_server_fields(stored, next);
    json_object_set(json_object_get(next, "metadata"), "resourceVersion",
                    json_object_get(json_object_get(stored, "metadata"), "resourceVersion"));
    json_object_clear(stored);
    json_object_update(stored, next);
    return ST_STORE_WRITE;
}

int st_object_patch_with(st_store *s, const char *kind, const char *ns, const char *name,
                         json_t *patch, const struct st_object_patch_opts *o, json_t **out,
                         st_error *err)
{
    struct patch_arg a = {kind, name, patch, o, NULL};
    int r;
    if (o->dry_run) {
        /* the same decision on what is stored now, kept to ourselves */
        json_t *obj = NULL;
        if ((r = st_store_get(s, kind, ns, name, &obj, err)) == 0 &&
            (r = patch_fn(obj, &a, err)) >= 0 && out)
            *out = json_incref(obj);
        json_decref(obj);
    } else {
        r = st_store_mutate(s, kind, ns, name, patch_fn, &a, out, err);
    }
    if (o->diags)
        *o->diags = a.diags;
    else
        st_manifest_diag_free(a.diags);
    return r < 0 ? r : 0;
}

int st_object_patch(st_store *s, const char *kind, const char *ns, const char *name, json_t *patch,
                    json_t **out, st_error *err)
{
    struct st_object_patch_opts o = {.type = ST_PATCH_MERGE};
    return st_object_patch_with(s, kind, ns, name, patch, &o, out, err);
}
