/* controller_namespace.c: Namespaces as the Kubernetes API server and its
 * namespace controller keep them. The well-known namespaces exist from the
 * start; an object is created only in a namespace that exists and is not
 * being deleted (the NamespaceLifecycle admission); deleting a namespace
 * marks it Terminating, and a pass of the collector deletes what is in it
 * (pods gracefully, as st_control_delete does) and removes the namespace once
 * it is empty. Everything is read from the store, so a deletion a restart
 * interrupted is finished by the next pass. */
#include "strata/controller.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COMPONENT "namespace-controller"

/* The namespaces every cluster has; the first three may not be deleted. */
static const char *const well_known[] = {"default", "kube-system", "kube-public",
                                         "kube-node-lease"};
#define PROTECTED_COUNT 3

/* What a namespace holds, deleted in this order: owners before the pods
 * they own, so no controller replaces a pod deleted here. */
static const char *const content_kinds[] = {"Deployment", "Service", "Endpoints", "Secret", "Pod"};

static const char *meta_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

bool st_namespace_is_protected(const char *name)
{
    for (size_t i = 0; name && i < PROTECTED_COUNT; i++)
        if (strcmp(well_known[i], name) == 0)
            return true;
    return false;
}

bool st_namespace_is_terminating(json_t *ns)
{
    return meta_str(ns, "deletionTimestamp") != NULL;
}

/* ---- the well-known namespaces -------------------------------------------- */

int st_control_namespaces_ensure(st_store *s, st_error *err)
{
    for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++) {
        _cleanup_json_ json_t *ns =
            json_pack("{s:s, s:s, s:{s:s}, s:{s:[s]}, s:{s:s}}", "apiVersion", "v1", "kind",
                      "Namespace", "metadata", "name", well_known[i], "spec", "finalizers",
                      "kubernetes", "status", "phase", "Active");
        if (ns == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        int r = st_store_create(s, ns, NULL, err);
        if (r == -EEXIST) {
            st_error_clear(err);
            continue;
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- admission -------------------------------------------------------------- */

int st_control_namespace_admit(st_store *s, const char *kind, const char *ns, const char *name,
                               bool may_exist, const char *what, st_error *err)
{
    _cleanup_json_ json_t *n = NULL;
    int r = st_store_get(s, "Namespace", "", ns, &n, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return st_error_set(err, ENOENT,
                            "namespaces \"%s\" not found; create it first (kubectl create "
                            "namespace %s)",
                            ns, ns);
    }
    if (r < 0 || !st_namespace_is_terminating(n))
        return r;
    /* What is there already may be written again (apply of an unchanged
     * object), never something new. */
    _cleanup_json_ json_t *cur = NULL;
    if (may_exist && st_store_get(s, kind, ns, name, &cur, NULL) == 0)
        return 0;
    return st_error_set(err, EACCES,
                        "%s is forbidden: unable to create new content in namespace %s because "
                        "it is being terminated",
                        what, ns);
}

/* ---- deletion ----------------------------------------------------------------- */

static int terminate_fn(json_t *ns, void *arg, st_error *err)
{
    (void)arg;
    const char *name = meta_str(ns, "name");
    if (st_namespace_is_protected(name))
        return st_error_set(
            err, EACCES, "namespaces \"%s\" is forbidden: this namespace may not be deleted", name);
    json_t *status = json_object_get(ns, "status");
    const char *phase = json_string_value(json_object_get(status, "phase"));
    if (st_namespace_is_terminating(ns) && phase && strcmp(phase, "Terminating") == 0)
        return ST_STORE_KEEP;
    st_object_mark_deleted(ns);
    if (!json_is_object(status))
        json_object_set_new(ns, "status", status = json_object());
    json_object_set_new(status, "phase", json_string("Terminating"));
    return ST_STORE_WRITE;
}

int st_control_namespace_delete(st_store *s, const char *name, json_t **out, st_error *err)
{
    int r = st_store_mutate(s, "Namespace", "", name, terminate_fn, NULL, out, err);
    return r < 0 ? r : 0;
}

/* ---- the pass ------------------------------------------------------------------ */

/* Deletes what ns holds; *left: how many objects are still there. */
static int empty_namespace(st_store *s, const char *ns, size_t *left, st_error *err)
{
    *left = 0;
    for (size_t k = 0; k < sizeof(content_kinds) / sizeof(content_kinds[0]); k++) {
        st_store_query q = {.kind = content_kinds[k], .namespace = ns};
        _cleanup_json_ json_t *objs = NULL;
        int r = st_store_list(s, &q, &objs, err);
        if (r < 0)
            return r;
        size_t i;
        json_t *o;
        json_array_foreach(objs, i, o)
        {
            bool pod = strcmp(content_kinds[k], "Pod") == 0;
            if (pod && st_pod_is_terminating(o)) {
                (*left)++; /* its node is stopping it; the collector removes it */
                continue;
            }
            _cleanup_json_ json_t *stays = NULL;
            r = st_control_delete(s, content_kinds[k], ns, meta_str(o, "name"),
                                  ST_PROPAGATE_BACKGROUND, -1, &stays, err);
            if (r == -ENOENT) {
                st_error_clear(err);
                continue;
            }
            if (r < 0)
                return r;
            if (stays)
                (*left)++;
        }
    }
    return 0;
}

/* The Terminating namespace with this uid goes; anything else stays. */
static int finalized_fn(json_t *ns, void *uid, st_error *err)
{
    (void)err;
    const char *have = meta_str(ns, "uid");
    if (!st_namespace_is_terminating(ns) || !have || !uid || strcmp(have, uid) != 0)
        return ST_STORE_KEEP;
    return ST_STORE_REMOVE;
}

static int finish_namespace(st_store *s, json_t *ns, st_error *err)
{
    const char *name = meta_str(ns, "name");
    size_t left = 0;
    int r = empty_namespace(s, name, &left, err);
    if (r < 0 || left > 0)
        return r;
    /* Empty: its events go with it, then the namespace itself. */
    st_store_query q = {.kind = "Event", .namespace = name};
    _cleanup_json_ json_t *events = NULL;
    if ((r = st_store_list_events(s, &q, &events, err)) < 0)
        return r;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        r = st_store_delete(s, "Event", name, meta_str(e, "name"), NULL, err);
        if (r == -ENOENT)
            st_error_clear(err);
        else if (r < 0)
            return r;
    }
    r = st_store_mutate(s, "Namespace", "", name, finalized_fn, (void *)meta_str(ns, "uid"), NULL,
                        err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    if (r == ST_STORE_REMOVE)
        st_event_record(s, "Namespace", "", name, "Normal", "NamespaceDeleted", COMPONENT,
                        "Namespace %s and everything in it deleted", name);
    return r < 0 ? r : 0;
}

int st_control_namespaces(st_store *s, st_error *err)
{
    st_store_query q = {.kind = "Namespace"};
    _cleanup_json_ json_t *all = NULL;
    int r = st_store_list(s, &q, &all, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *ns;
    json_array_foreach(all, i, ns)
    {
        if (st_namespace_is_terminating(ns) && (r = finish_namespace(s, ns, err)) < 0)
            return r;
    }
    return 0;
}
