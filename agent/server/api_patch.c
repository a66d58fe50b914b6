/* api_patch.c: PATCH as the Kubernetes API takes it, by Content-Type
 * (merge, strategic merge and JSON patch; server-side apply is refused
 * with a 415 that says to apply client-side), and the subresources kubectl
 * uses: status (GET, PUT, PATCH: only status changes), a Deployment's
 * scale as an autoscaling/v1 Scale (GET, PUT, PATCH: kubectl scale) and a
 * Pod's eviction (POST: kubectl drain), a graceful delete. */
#include "api_priv.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/delete_options.h"
#include "strata/jsonpath.h"
#include "strata/object_patch.h"
#include "strata/printers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The patch type of the Content-Type; false when it is not one (a 415
 * replied). Strata's own clients send application/json or nothing: a merge
 * patch, as they always had it. */
static bool patch_type(struct st_server_call *c, enum st_patch_type *t, int *r)
{
    const char *ct = c->q->content_type;
    size_t n = ct ? strcspn(ct, "; ") : 0;
    *t = ST_PATCH_MERGE;
    if (ct == NULL || (n == 16 && strncmp(ct, "application/json", n) == 0) ||
        (n == 28 && strncmp(ct, "application/merge-patch+json", n) == 0))
        return true;
    if (n == 38 && strncmp(ct, "application/strategic-merge-patch+json", n) == 0) {
        *t = ST_PATCH_STRATEGIC;
        return true;
    }
    if (n == 27 && strncmp(ct, "application/json-patch+json", n) == 0) {
        *t = ST_PATCH_JSON;
        return true;
    }
    if (n == 28 && strncmp(ct, "application/apply-patch+yaml", n) == 0)
        *r = st_server_api_reply_status(c, 415,
                                        "server-side apply is not supported by Strata: use "
                                        "client-side apply (kubectl apply without --server-side)");
    else
        *r = st_server_api_reply_status(
            c, 415,
            "the body of a PATCH is of Content-Type \"%.*s\": use "
            "application/merge-patch+json, application/strategic-merge-patch+json or "
            "application/json-patch+json",
            (int)n, ct);
    return false;
}

static int patch_with(struct st_server_call *c, const char *kind, const char *ns, const char *name,
                      bool status_only)
{
    int r = 0;
    struct st_object_patch_opts o = {.status_only = status_only, .dry_run = c->dry_run};
    if (!patch_type(c, &o.type, &r))
        return r;
    if (!st_server_api_field_mode(c, ST_MANIFEST_FIELDS_WARN, &o.fields))
        return st_server_api_reply_status(c, 400, ST_SERVER_API_FIELD_MODES);
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    struct st_manifest_diag *diags = NULL;
    o.diags = &diags;
    _cleanup_json_ json_t *out = NULL;
    r = st_object_patch_with(c->d->store, kind, ns, name, body, &o, &out, &err);
    if (r < 0 && r != -ENOMEM && diags && err.code == EINVAL)
        r = st_server_api_reply_invalid(c, diags, &err, kind, name);
    else if (r < 0)
        r = st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    else
        st_server_api_warn_diags(c, diags);
    st_manifest_diag_free(diags);
    if (r < 0 || out == NULL)
        return r;
    if (!c->dry_run) {
        st_event_record(c->d->store, kind, ns, name, "Normal", "Configured", "stratactl",
                        "%s %s%s patched", kind, name, status_only ? " status" : "");
        st_server_kick(c->d);
    }
    st_api_present(kind, &out);
    return st_server_api_reply_json(c, 200, out);
}

int st_server_api_patch(struct st_server_call *c, const char *kind, const char *ns,
                        const char *name)
{
    return patch_with(c, kind, ns, name, false);
}

/* ---- status ------------------------------------------------------------------ */

struct status_arg {
    json_t *status;
    const char *rv; /* the body's, NULL: any */
};

static int put_status_fn(json_t *obj, void *arg, st_error *err)
{
    struct status_arg *a = arg;
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (a->rv && (rv == NULL || strcmp(rv, a->rv) != 0))
        return st_error_set(err, ST_ECONFLICT, "stale");
    if (a->status)
        json_object_set(obj, "status", a->status);
    else
        json_object_del(obj, "status");
    return ST_STORE_WRITE;
}

static int put_status(struct st_server_call *c, const char *kind, const char *ns, const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    json_t *md = json_object_get(body, "metadata");
    const char *bname = json_string_value(json_object_get(md, "name"));
    if (bname && strcmp(bname, name) != 0)
        return st_server_api_reply_status(
            c, 400, "the name of the object (%s) does not match the name on the URL (%s)", bname,
            name);
    struct status_arg a = {json_object_get(body, "status"),
                           json_string_value(json_object_get(md, "resourceVersion"))};
    _cleanup_json_ json_t *out = NULL;
    int r = st_store_mutate(c->d->store, kind, ns, name, put_status_fn, &a, &out, &err);
    if (r == -ST_ECONFLICT)
        return st_server_api_reply_conflict(c, kind, name);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_server_kick(c->d);
    st_api_present(kind, &out);
    return st_server_api_reply_json(c, 200, out);
}

/* ---- scale ---------------------------------------------------------------------- */

/* A Deployment as an autoscaling/v1 Scale. */
static json_t *scale_of(json_t *dep)
{
    json_t *md = json_object_get(dep, "metadata");
    json_t *smd = json_object();
    static const char *const kept[] = {"name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (json_object_get(md, kept[i]))
            json_object_set(smd, kept[i], json_object_get(md, kept[i]));
    /* status.selector: the label selector as a query string ("" for none) */
    char sel[1024] = "";
    json_t *labels = st_json_at(dep, "spec.selector.matchLabels");
    if (json_object_size(labels))
        st_print_map_text(labels, sel, sizeof(sel));
    json_int_t replicas =
        json_integer_value(json_object_get(json_object_get(dep, "spec"), "replicas"));
    json_int_t have =
        json_integer_value(json_object_get(json_object_get(dep, "status"), "replicas"));
    return json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale", "apiVersion",
                     "autoscaling/v1", "metadata", smd, "spec", "replicas", replicas, "status",
                     "replicas", have, "selector", sel);
}

struct scale_arg {
    json_int_t replicas, old;
    const char *rv;
};

static int scale_fn(json_t *dep, void *arg, st_error *err)
{
    struct scale_arg *a = arg;
    json_t *md = json_object_get(dep, "metadata");
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    if (a->rv && (rv == NULL || strcmp(rv, a->rv) != 0))
        return st_error_set(err, ST_ECONFLICT, "stale");
    json_t *spec = json_object_get(dep, "spec");
    a->old = json_integer_value(json_object_get(spec, "replicas"));
    if (a->old == a->replicas)
        return ST_STORE_KEEP;
    json_object_set_new(spec, "replicas", json_integer(a->replicas));
    /* A change of spec: Kubernetes counts it in metadata.generation. */
    json_object_set_new(md, "generation",
                        json_integer(json_integer_value(json_object_get(md, "generation")) + 1));
    return ST_STORE_WRITE;
}

/* body: a Scale (PUT), or the patched current one (PATCH). */
static int set_scale(struct st_server_call *c, const char *ns, const char *name, json_t *body)
{
    json_t *rep = json_object_get(json_object_get(body, "spec"), "replicas");
    if (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > 10000)
        return st_server_api_reply_status(
            c, 422, "Scale \"%s\" is invalid: spec.replicas: give a whole number from 0 to 10000",
            name);
    struct scale_arg a = {.replicas = json_integer_value(rep),
                          .rv = json_string_value(json_object_get(json_object_get(body, "metadata"),
                                                                  "resourceVersion"))};
    st_error err = {0};
    _cleanup_json_ json_t *dep = NULL;
    int r = st_store_mutate(c->d->store, "Deployment", ns, name, scale_fn, &a, &dep, &err);
    if (r == -ST_ECONFLICT)
        return st_server_api_reply_conflict(c, "Deployment", name);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    if (r == ST_STORE_WRITE) {
        st_event_record(c->d->store, "Deployment", ns, name, "Normal", "ScalingReplicaSet",
                        "stratactl", "Scaled from %lld to %lld replicas", (long long)a.old,
                        (long long)a.replicas);
        st_server_kick(c->d);
    }
    _cleanup_json_ json_t *scale = scale_of(dep);
    return scale ? st_server_api_reply_json(c, 200, scale) : -ENOMEM;
}

static int scale(struct st_server_call *c, const char *ns, const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *dep = NULL;
    int r;
    if (st_server_api_method_is(c, "PUT")) {
        _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
        if (body == NULL)
            return st_server_api_reply_status(c, 400, "%s", err.msg);
        return set_scale(c, ns, name, body);
    }
    if ((r = st_store_get(c->d->store, "Deployment", ns, name, &dep, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    _cleanup_json_ json_t *cur = scale_of(dep);
    if (cur == NULL)
        return -ENOMEM;
    if (st_server_api_method_is(c, "GET"))
        return st_server_api_reply_json(c, 200, cur);
    enum st_patch_type t;
    if (!patch_type(c, &t, &r))
        return r;
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    if ((r = st_patch_apply(t, cur, body, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    /* The patch was made on this version: the write is unconditional, as
     * the apiserver's patches are. */
    json_object_del(json_object_get(cur, "metadata"), "resourceVersion");
    return set_scale(c, ns, name, cur);
}

/* ---- nodes ------------------------------------------------------------------- */

struct node_arg {
    enum st_patch_type type;
    json_t *patch;
};

/* A Node is Strata's own record of a VM: a client changes its labels,
 * annotations and spec.unschedulable (kubectl cordon/uncordon), nothing
 * else. */
static int node_patch_fn(json_t *node, void *arg, st_error *err)
{
    struct node_arg *a = arg;
    _cleanup_json_ json_t *patched = json_deep_copy(node);
    int r = st_patch_apply(a->type, patched, a->patch, err);
    if (r < 0)
        return r;
    json_t *md = json_object_get(node, "metadata"), *pmd = json_object_get(patched, "metadata");
    static const char *const keys[] = {"labels", "annotations"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(pmd, keys[i]);
        if (v)
            json_object_set(md, keys[i], v);
        else
            json_object_del(md, keys[i]);
    }
    json_t *u = json_object_get(json_object_get(patched, "spec"), "unschedulable");
    if (u && !json_is_boolean(u))
        return st_error_set(err, EINVAL, "spec.unschedulable: give true or false");
    json_t *spec = json_object_get(node, "spec");
    if (spec == NULL)
        json_object_set_new(node, "spec", spec = json_object());
    if (json_is_true(u))
        json_object_set(spec, "unschedulable", u);
    else
        json_object_del(spec, "unschedulable");
    return ST_STORE_WRITE;
}

int st_server_api_patch_node(struct st_server_call *c, const char *name)
{
    int r = 0;
    struct node_arg a;
    if (!patch_type(c, &a.type, &r))
        return r;
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    a.patch = body;
    _cleanup_json_ json_t *out = NULL;
    r = st_store_mutate(c->d->store, "Node", "", name, node_patch_fn, &a, &out, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_server_kick(c->d);
    st_api_present("Node", &out);
    return st_server_api_reply_json(c, 200, out);
}

/* ---- eviction ------------------------------------------------------------------ */

static int evict(struct st_server_call *c, const char *ns, const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = c->q->body_len ? st_server_api_parse_body(c, &err) : NULL;
    if (c->q->body_len && body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    st_propagation policy;
    int grace = -1;
    int r = st_delete_options_parse(NULL, NULL, json_object_get(body, "deleteOptions"), &policy,
                                    &grace, &err);
    if (r < 0)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    _cleanup_json_ json_t *left = NULL;
    if ((r = st_control_delete(c->d->store, "Pod", ns, name, policy, grace, &left, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_event_record(c->d->store, "Pod", ns, name, "Normal", "Evicted", "stratactl",
                    "Pod %s evicted by request", name);
    st_server_kick(c->d);
    _cleanup_json_ json_t *st = json_pack("{s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion",
                                          "v1", "status", "Success", "code", 201);
    return st ? st_server_api_reply_json(c, 201, st) : -ENOMEM;
}

int st_server_api_subresource(struct st_server_call *c, const char *kind, const char *ns,
                              const char *name, const char *sub)
{
    bool pod = strcmp(kind, "Pod") == 0, dep = strcmp(kind, "Deployment") == 0;
    if ((pod || dep) && strcmp(sub, "status") == 0) {
        if (st_server_api_method_is(c, "GET"))
            return st_server_api_get(c, kind, ns, name);
        if (st_server_api_method_is(c, "PUT"))
            return put_status(c, kind, ns, name);
        if (st_server_api_method_is(c, "PATCH"))
            return patch_with(c, kind, ns, name, true);
    }
    if (dep && strcmp(sub, "scale") == 0 &&
        (st_server_api_method_is(c, "GET") || st_server_api_method_is(c, "PUT") ||
         st_server_api_method_is(c, "PATCH")))
        return scale(c, ns, name);
    if (pod && strcmp(sub, "eviction") == 0 && st_server_api_method_is(c, "POST"))
        return evict(c, ns, name);
    return st_server_api_reply_status(c, 404, "no such API path (see agent/API.md)");
}
