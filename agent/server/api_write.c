/* api_write.c: what every write of whole objects shares (POST /apply,
 * create, replace): the request's ?fieldValidation=, the manifest reader
 * (the one validator) with its warnings as Warning headers, the fields the
 * cluster keeps, Service addresses and one store batch; and the two
 * Kubernetes verbs on one object, create (POST to a collection) and replace
 * (PUT), with the statuses the apiserver answers. */
#include "api_priv.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/netalloc.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;

/* kind's own entry in discovery's table (not a subresource), or NULL. */
static const struct st_server_api_resource *resource_entry(const char *kind)
{
    for (const struct st_server_api_resource *r = st_server_api_resources; r->name; r++)
        if (strcmp(r->kind, kind) == 0 && strchr(r->name, '/') == NULL)
            return r;
    return NULL;
}

const char *st_server_api_resource_of(const char *kind)
{
    const struct st_server_api_resource *r = resource_entry(kind);
    return r ? r->name : kind;
}

/* The group-version a kind is served under. */
static const char *api_version_of(const char *kind)
{
    const struct st_server_api_resource *r = resource_entry(kind);
    return r ? r->gv : "v1";
}

bool st_server_api_field_mode(const struct st_server_call *c, enum st_manifest_fields def,
                              enum st_manifest_fields *mode)
{
    const char *v = st_server_api_arg(c, "fieldValidation");
    *mode = def;
    if (v == NULL || v[0] == '\0')
        return true;
    if (strcmp(v, "Strict") == 0)
        *mode = ST_MANIFEST_FIELDS_STRICT;
    else if (strcmp(v, "Warn") == 0)
        *mode = ST_MANIFEST_FIELDS_WARN;
    else if (strcmp(v, "Ignore") == 0)
        *mode = ST_MANIFEST_FIELDS_IGNORE;
    else
        return false;
    return true;
}

/* Server-set fields (metadata.uid, status, a pod's spec.nodeName the
 * scheduler wrote ...) come back in every object a client read and writes
 * again (kubectl label, edit): not worth a warning through the API. */
static bool server_field_note(const char *msg)
{
    return strncmp(msg, "status ", 7) == 0 || strncmp(msg, "metadata.", 9) == 0 ||
           strncmp(msg, "spec.nodeName ", 14) == 0;
}

void st_server_api_warn_diags(struct st_server_call *c, const struct st_manifest_diag *diags)
{
    for (const struct st_manifest_diag *d = diags; d; d = d->next)
        if (!d->is_error && !(d->ignored_field && server_field_note(d->text + d->msg)))
            st_server_api_warn(c, "%s", d->text + d->msg);
}

int st_server_api_reply_invalid(struct st_server_call *c, const struct st_manifest_diag *diags,
                                const st_error *err, const char *kind, const char *name)
{
    /* The apiserver decodes strictly before it validates: unknown fields
     * are a 400 of their own, in its words. */
    char unknown[ST_ERROR_MSG_MAX] = "";
    size_t used = 0;
    for (const struct st_manifest_diag *d = diags; d; d = d->next)
        if (d->is_error && d->unknown_field && used < sizeof(unknown))
            used += (size_t)snprintf(unknown + used, sizeof(unknown) - used, "%s%s",
                                     used ? ", " : "", d->text + d->msg);
    if (used)
        return st_server_api_reply_status(c, 400, "strict decoding error: %s", unknown);
    /* With its place in the body ("<request>:LINE:COL: invalid YAML ..."). */
    for (const struct st_manifest_diag *d = diags; d; d = d->next)
        if (d->is_error && strncmp(d->text + d->msg, "invalid YAML", 12) == 0)
            return st_server_api_reply_status(c, 400, "%s", d->text);
    /* A name too long to be one (10,000 characters) must not push the
     * reason out of the message. */
    if (kind && name && strlen(name) > 64)
        return st_server_api_reply_status(c, 422, "%s \"%.32s...\" is invalid: %s", kind, name,
                                          err->msg);
    if (kind && name)
        return st_server_api_reply_status(c, 422, "%s \"%s\" is invalid: %s", kind, name, err->msg);
    return st_server_api_reply_status(c, 422, "%s", err->msg);
}

int st_server_api_read_objects(struct st_server_call *c, const char *text, size_t len,
                               enum st_manifest_fields mode, const char *kind, const char *name,
                               json_t **objects)
{
    struct st_manifest_diag *diags = NULL;
    st_error err = {0};
    int r = st_manifest_parse_string_fields("<request>", text, len, mode, objects, &diags, &err);
    if (r < 0 && r != -ENOMEM)
        r = st_server_api_reply_invalid(c, diags, &err, kind, name);
    if (*objects)
        st_server_api_warn_diags(c, diags);
    st_manifest_diag_free(diags);
    return r;
}

/* An object is created only in a namespace that exists and is not being
 * deleted (the apiserver's NamespaceLifecycle admission), or that the same
 * batch creates (a file with a Namespace and what goes in it). */
static int admit(struct st_server *d, const st_store_op *ops, size_t n, const st_store_op *op,
                 st_error *err)
{
    const char *kind = json_string_value(json_object_get(op->object, "kind"));
    json_t *md = json_object_get(op->object, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if ((op->op != ST_STORE_CREATE && op->op != ST_STORE_APPLY) || kind == NULL || name == NULL ||
        strcmp(kind, "Namespace") == 0 || strcmp(kind, "Node") == 0)
        return 0;
    ns = ns && *ns ? ns : "default";
    for (size_t i = 0; i < n; i++) {
        json_t *o = ops[i].object;
        const char *k = json_string_value(json_object_get(o, "kind"));
        const char *nm = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        if (ops[i].op != ST_STORE_DELETE && k && nm && strcmp(k, "Namespace") == 0 &&
            strcmp(nm, ns) == 0)
            return 0;
    }
    char what[320];
    snprintf(what, sizeof(what), "%s \"%s\"", st_server_api_resource_of(kind), name);
    return st_control_namespace_admit(d->store, kind, ns, name, op->op == ST_STORE_APPLY, what,
                                      err);
}

int st_server_api_store_ops(struct st_server *d, st_store_op *ops, size_t n, st_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = admit(d, ops, n, &ops[i], err);
        if (r < 0)
            return r;
    }
    _cleanup_json_ json_t *services = json_array();
    if (services == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *kind = json_string_value(json_object_get(ops[i].object, "kind"));
        if (ops[i].op != ST_STORE_DELETE && kind && strcmp(kind, "Service") == 0)
            json_array_append(services, ops[i].object);
    }
    /* Services get their addresses before they are stored, one write at a
     * time, so a taken address is refused here and never given twice. */
    bool alloc = json_array_size(services) > 0;
    if (alloc)
        pthread_mutex_lock(&alloc_lock);
    int r = alloc ? st_control_service_allocate(d->store, services, err) : 0;
    if (r == 0)
        r = st_store_apply_batch(d->store, ops, n, err);
    if (alloc)
        pthread_mutex_unlock(&alloc_lock);
    return r;
}

/* ---- create and replace ---------------------------------------------------- */

/* metadata.generateName: the name plus five characters, as the apiserver
 * picks them (no vowels, no look-alikes). */
static void generate_name(json_t *md)
{
    const char *prefix = json_string_value(json_object_get(md, "generateName"));
    if (prefix == NULL || json_object_get(md, "name"))
        return;
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5] = {0};
    if (getrandom(rnd, sizeof(rnd), 0) < 0)
        return;
    char suffix[6];
    for (size_t i = 0; i < 5; i++)
        suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    suffix[5] = '\0';
    char name[320];
    snprintf(name, sizeof(name), "%s%s", prefix, suffix);
    json_object_set_new(md, "name", json_string(name));
}

/* The body of a create or replace: one object of kind in ns (name: the
 * URL's, for replace), read and validated. 0 with *obj, or 0 with a reply
 * made (*obj NULL), or -ENOMEM. *rv: the resourceVersion the body gave. */
static int read_one(struct st_server_call *c, const char *kind, const char *ns, const char *name,
                    json_t **obj, char **rv)
{
    *obj = NULL;
    *rv = NULL;
    enum st_manifest_fields mode;
    if (!st_server_api_field_mode(c, ST_MANIFEST_FIELDS_WARN, &mode))
        return st_server_api_reply_status(c, 400, ST_SERVER_API_FIELD_MODES);
    int r;
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    if (!json_is_object(body))
        return st_server_api_reply_status(c, 400, "the request body must be one %s object", kind);
    const char *av = json_string_value(json_object_get(body, "apiVersion"));
    const char *k = json_string_value(json_object_get(body, "kind"));
    if (av && strcmp(av, api_version_of(kind)) != 0)
        return st_server_api_reply_status(
            c, 400, "the API version in the data (%s) does not match the expected API version (%s)",
            av, api_version_of(kind));
    if (k && strcmp(k, kind) != 0)
        return st_server_api_reply_status(
            c, 400, "the kind in the data (%s) does not match the expected kind (%s)", k, kind);
    /* As the apiserver, the URL says the kind when the body does not. */
    json_object_set_new(body, "apiVersion", json_string(api_version_of(kind)));
    json_object_set_new(body, "kind", json_string(kind));
    json_t *md = json_object_get(body, "metadata");
    if (md == NULL)
        json_object_set_new(body, "metadata", md = json_object());
    if (!json_is_object(md))
        return st_server_api_reply_status(c, 400, "metadata must be an object");
    const char *bns = json_string_value(json_object_get(md, "namespace"));
    if (bns && bns[0] && strcmp(bns, ns) != 0)
        return st_server_api_reply_status(c, 400,
                                          "the namespace of the provided object (%s) does not "
                                          "match the namespace sent on the request (%s)",
                                          bns, ns);
    json_object_set_new(md, "namespace", json_string(ns));
    const char *bname = json_string_value(json_object_get(md, "name"));
    if (name && bname && strcmp(bname, name) != 0)
        return st_server_api_reply_status(
            c, 400, "the name of the object (%s) does not match the name on the URL (%s)", bname,
            name);
    if (name && bname == NULL)
        json_object_set_new(md, "name", json_string(name));
    generate_name(md);
    if (json_object_get(md, "name") == NULL)
        return st_server_api_reply_status(c, 422,
                                          "%s is invalid: metadata.name: Required value: name or "
                                          "generateName is required",
                                          kind);
    const char *given_rv = json_string_value(json_object_get(md, "resourceVersion"));
    if (given_rv && given_rv[0] && (*rv = strdup(given_rv)) == NULL)
        return -ENOMEM;
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL)
        return -ENOMEM;
    _cleanup_json_ json_t *objects = NULL;
    r = st_server_api_read_objects(c, text, strlen(text), mode, kind,
                                   json_string_value(json_object_get(md, "name")), &objects);
    if (r < 0 || objects == NULL) {
        free(*rv);
        *rv = NULL;
        return r;
    }
    *obj = json_incref(json_array_get(objects, 0));
    return 0;
}

int st_server_api_reply_conflict(struct st_server_call *c, const char *kind, const char *name)
{
    st_error err = {0};
    int r = st_store_err_conflict(&err, kind, NULL, name);
    return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
}

/* A dry run of one write: what the store would refuse first (a namespace
 * that is missing or going, a name taken); nothing is written, no Service
 * address taken. */
static int dry_check(struct st_server *d, const st_store_op *op, const char *kind, const char *ns,
                     const char *name, st_error *err)
{
    int r = admit(d, op, 1, op, err);
    if (r < 0 || op->op != ST_STORE_CREATE || name == NULL)
        return r;
    json_t *cur = NULL;
    r = st_store_get(d->store, kind, ns ? ns : "", name, &cur, err);
    json_decref(cur);
    if (r == 0)
        return -EEXIST;
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    return r;
}

/* Stores obj with op (a dry run: checks it); replies the stored object with code. */
static int write_one(struct st_server_call *c, st_store_op_kind op, json_t *obj, unsigned code,
                     const char *verb)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    st_store_op ops[1] = {{.op = op, .object = obj}};
    st_error err = {0};
    int r = c->dry_run ? dry_check(c->d, ops, kind, ns, name, &err)
                       : st_server_api_store_ops(c->d, ops, 1, &err);
    if (r == -EEXIST) {
        /* the store's words, without the batch's "batch item 1: " */
        st_error exists = {0};
        return st_server_api_reply_error(c, st_store_err_exists(&exists, kind, ns, name), &exists,
                                         ST_SERVER_API_OBJECTS);
    }
    if (r == -ST_ECONFLICT)
        return st_server_api_reply_conflict(c, kind, name);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    _cleanup_json_ json_t *stored = c->dry_run ? json_incref(obj) : ops[0].result;
    if (!c->dry_run) {
        st_event_record(c->d->store, kind, ns, name, "Normal",
                        op == ST_STORE_CREATE ? "Created" : "Configured", "stratactl", "%s %s %s",
                        kind, name, verb);
        st_server_kick(c->d);
    }
    st_api_present(kind, &stored);
    return st_server_api_reply_json(c, code, stored);
}

int st_server_api_create(struct st_server_call *c, const char *kind, const char *ns)
{
    _cleanup_json_ json_t *obj = NULL;
    _cleanup_free_ char *rv = NULL;
    int r = read_one(c, kind, ns, NULL, &obj, &rv);
    if (r < 0 || obj == NULL)
        return r;
    st_object_keep_server_fields(NULL, obj);
    return write_one(c, ST_STORE_CREATE, obj, 201, "created");
}

int st_server_api_replace(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name)
{
    _cleanup_json_ json_t *obj = NULL;
    _cleanup_free_ char *rv = NULL;
    int r = read_one(c, kind, ns, name, &obj, &rv);
    if (r < 0 || obj == NULL)
        return r;
    st_error err = {0};
    _cleanup_json_ json_t *cur = NULL;
    if ((r = st_store_get(c->d->store, kind, ns, name, &cur, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    const char *cur_rv =
        json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    if (rv && (cur_rv == NULL || strcmp(rv, cur_rv) != 0))
        return st_server_api_reply_conflict(c, kind, name);
    /* Without a resourceVersion the update is unconditional, as the
     * apiserver allows it: at the version just read. */
    st_object_keep_server_fields(cur, obj);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
                        json_string(rv       ? rv
                                    : cur_rv ? cur_rv
                                             : ""));
    return write_one(c, ST_STORE_UPDATE, obj, 200, "replaced");
}
