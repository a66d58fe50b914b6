/* controller_gc.c: deletion as the Kubernetes API server and its garbage
 * collector do it. A Pod that may still run on its node is not removed but
 * marked Terminating (deletionTimestamp, deletionGracePeriodSeconds): the
 * node stops it and the object goes when the node says so. An owner goes at
 * once and the collector deletes its dependents after it (Background), or
 * it waits on a finalizer until they are gone (Foreground) or released
 * (Orphan). The collector reads only the store and matches owners by uid,
 * so a stratad killed halfway is finished by the next pass after a restart.
 * A deleted Namespace is emptied by the same pass (controller_namespace.c). */
#include "strata/controller.h"
#include "strata/cleanup.h"
#include "strata/time.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT            "garbage-collector"
#define FINALIZER_FOREGROUND "foregroundDeletion"
#define FINALIZER_ORPHAN     "orphan"

/* ---- helpers -------------------------------------------------------------- */

static const char *meta_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *pod_node(json_t *pod)
{
    return json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
}

/* A node that may still run pods: stored, and its Ready condition is not
 * False (True, or Unknown while it is re-adopted or fenced). */
static bool node_live(json_t *node)
{
    const char *st = st_condition_status(node, "Ready");
    return st && strcmp(st, "False") != 0;
}

static bool pod_node_live(st_store *s, json_t *pod)
{
    const char *node = pod_node(pod);
    _cleanup_json_ json_t *n = NULL;
    if (node == NULL || *node == 0 || st_store_get(s, "Node", "", node, &n, NULL) < 0)
        return false;
    return node_live(n);
}

/* Does dep name an owner with this uid? */
static bool refers_to(json_t *dep, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(dep, "metadata"), "ownerReferences"), i, ref)
    {
        const char *u = json_string_value(json_object_get(ref, "uid"));
        if (u && uid && strcmp(u, uid) == 0)
            return true;
    }
    return false;
}

static bool has_finalizer(json_t *obj, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f)
    {
        if (json_string_value(f) && strcmp(json_string_value(f), name) == 0)
            return true;
    }
    return false;
}

static int pod_grace(json_t *pod, int grace_s)
{
    if (grace_s >= 0)
        return grace_s;
    json_t *g = json_object_get(json_object_get(pod, "spec"), "terminationGracePeriodSeconds");
    return json_is_integer(g) ? (int)json_integer_value(g) : ST_POD_GRACE_DEFAULT_S;
}

/* ---- pods ----------------------------------------------------------------- */

bool st_pod_is_terminating(json_t *pod)
{
    return json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL;
}

/* Nothing can be running it: never bound, ended, or its node is gone. */
static bool pod_stops_at_once(st_store *s, json_t *pod)
{
    return st_pod_is_terminal(pod) || !pod_node_live(s, pod);
}

struct pod_delete {
    st_store *s;
    int grace_s;
};

/* Removes the pod, or marks it Terminating for its grace period. */
static int delete_pod_fn(json_t *pod, void *arg, st_error *err)
{
    (void)err;
    struct pod_delete *a = arg;
    int grace = pod_grace(pod, a->grace_s);
    if (grace == 0 || pod_stops_at_once(a->s, pod))
        return ST_STORE_REMOVE;
    time_t deadline = time(NULL) + grace;
    time_t set = 0;
    /* Deleting again may shorten the grace, never lengthen it. */
    if (st_pod_is_terminating(pod) &&
        (st_time_parse_rfc3339(meta_str(pod, "deletionTimestamp"), &set, NULL) < 0 ||
         set <= deadline))
        return ST_STORE_KEEP;
    char ts[ST_TIME_RFC3339_LEN];
    st_time_rfc3339(deadline, ts);
    json_t *md = json_object_get(pod, "metadata");
    json_object_set_new(md, "deletionTimestamp", json_string(ts));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace));
    return ST_STORE_WRITE;
}

static int delete_pod(st_store *s, const char *ns, const char *name, int grace_s, json_t **out,
                      st_error *err)
{
    struct pod_delete a = {s, grace_s};
    int r = st_store_mutate(s, "Pod", ns, name, delete_pod_fn, &a, out, err);
    return r < 0 ? r : 0;
}

/* The Terminating pod with this uid goes; anything else stays. */
static int stopped_fn(json_t *pod, void *uid, st_error *err)
{
    (void)err;
    const char *have = meta_str(pod, "uid");
    if (!st_pod_is_terminating(pod) || !have || !uid || strcmp(have, uid) != 0)
        return ST_STORE_KEEP;
    return ST_STORE_REMOVE;
}

int st_control_pod_stopped(st_store *s, const char *ns, const char *name, const char *uid,
                           st_error *err)
{
    int r = st_store_mutate(s, "Pod", ns, name, stopped_fn, (void *)uid, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    return r == ST_STORE_REMOVE;
}

/* ---- owners --------------------------------------------------------------- */

void st_object_mark_deleted(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md) || json_object_get(md, "deletionTimestamp"))
        return;
    char now[ST_TIME_RFC3339_LEN];
    st_time_now_rfc3339(now);
    json_object_set_new(md, "deletionTimestamp", json_string(now));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
}

/* Pods of ns that name uid as an owner (a new array). */
static int dependents(st_store *s, const char *ns, const char *uid, json_t **out, st_error *err)
{
    st_store_query q = {.kind = "Pod", .namespace = ns};
    _cleanup_json_ json_t *pods = NULL;
    int r = st_store_list(s, &q, &pods, err);
    if (r < 0)
        return r;
    *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        if (refers_to(p, uid))
            json_array_append(*out, p);
    }
    return 0;
}

struct owner_delete {
    st_store *s;
    const char *ns, *finalizer;
};

/* An owner with dependents waits for them: deletionTimestamp and the
 * policy's finalizer; one without goes at once. */
static int delete_owner_fn(json_t *obj, void *arg, st_error *err)
{
    struct owner_delete *a = arg;
    _cleanup_json_ json_t *deps = NULL;
    int r = dependents(a->s, a->ns, meta_str(obj, "uid"), &deps, err);
    if (r < 0)
        return r;
    if (json_array_size(deps) == 0)
        return ST_STORE_REMOVE;
    st_object_mark_deleted(obj);
    json_t *md = json_object_get(obj, "metadata");
    if (!has_finalizer(obj, a->finalizer)) {
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string(a->finalizer));
    }
    return ST_STORE_WRITE;
}

static int delete_owner(st_store *s, const char *kind, const char *ns, const char *name,
                        st_propagation policy, json_t **out, st_error *err)
{
    if (policy == ST_PROPAGATE_BACKGROUND)
        return st_store_delete(s, kind, ns, name, NULL, err);
    struct owner_delete a = {
        s, ns, policy == ST_PROPAGATE_ORPHAN ? FINALIZER_ORPHAN : FINALIZER_FOREGROUND};
    int r = st_store_mutate(s, kind, ns, name, delete_owner_fn, &a, out, err);
    return r < 0 ? r : 0;
}

int st_control_delete(st_store *s, const char *kind, const char *ns, const char *name,
                      st_propagation policy, int grace_s, json_t **out, st_error *err)
{
    if (out)
        *out = NULL;
    if (strcmp(kind, "Pod") == 0)
        return delete_pod(s, ns, name, grace_s, out, err);
    if (strcmp(kind, "Namespace") == 0)
        return st_control_namespace_delete(s, name, out, err);
    return delete_owner(s, kind, ns, name, policy, out, err);
}

/* ---- the collector pass ------------------------------------------------------ */

/* Drops the ownerReferences whose uid is in gone (an object of uid -> true). */
static int drop_refs_fn(json_t *pod, void *arg, st_error *err)
{
    (void)err;
    json_t *gone = arg;
    json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
    int changed = 0;
    for (size_t i = json_array_size(refs); i-- > 0;) {
        const char *u = json_string_value(json_object_get(json_array_get(refs, i), "uid"));
        if (u && json_object_get(gone, u)) {
            json_array_remove(refs, i);
            changed = 1;
        }
    }
    if (changed && json_array_size(refs) == 0)
        json_object_del(json_object_get(pod, "metadata"), "ownerReferences");
    return changed;
}

static int drop_refs(st_store *s, json_t *pod, json_t *gone, st_error *err)
{
    int r = st_store_mutate(s, "Pod", meta_str(pod, "namespace"), meta_str(pod, "name"),
                            drop_refs_fn, gone, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    return r < 0 ? r : 0;
}

/* The Terminating pod can be let go: nothing runs it any more, or its node
 * had the grace period and more to say it stopped. */
static bool pod_done(st_store *s, json_t *pod, time_t now)
{
    if (pod_stops_at_once(s, pod))
        return true;
    time_t deadline = 0;
    if (st_time_parse_rfc3339(meta_str(pod, "deletionTimestamp"), &deadline, NULL) < 0)
        return false;
    return now > deadline + ST_GC_STOP_SLACK_S;
}

static int gc_delete(st_store *s, json_t *pod, int grace_s, st_error *err)
{
    int r = delete_pod(s, meta_str(pod, "namespace"), meta_str(pod, "name"), grace_s, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    return r;
}

/* The owner with this uid, still waiting on one of our finalizers, goes:
 * its dependents are released or gone. Changed meanwhile (another writer):
 * read again and decided again, not skipped. */
static int finalized_fn(json_t *owner, void *uid, st_error *err)
{
    (void)err;
    const char *have = meta_str(owner, "uid");
    if (!have || !uid || strcmp(have, uid) != 0 || !meta_str(owner, "deletionTimestamp") ||
        !(has_finalizer(owner, FINALIZER_ORPHAN) || has_finalizer(owner, FINALIZER_FOREGROUND)))
        return ST_STORE_KEEP;
    return ST_STORE_REMOVE;
}

/* An owner waiting on a finalizer: release or delete its dependents, then
 * remove it once nothing it waits for is left. */
static int finish_owner(st_store *s, const char *kind, json_t *owner, json_t *pods, st_error *err)
{
    const char *uid = meta_str(owner, "uid");
    const char *ns = meta_str(owner, "namespace");
    const char *name = meta_str(owner, "name");
    bool orphan = has_finalizer(owner, FINALIZER_ORPHAN);
    bool fg = has_finalizer(owner, FINALIZER_FOREGROUND);
    if (!orphan && !fg)
        return 0; /* a finalizer another actor owns: not ours to resolve */
    _cleanup_json_ json_t *gone = json_pack("{s:b}", uid ? uid : "", 1);
    size_t left = 0, released = 0;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *pns = meta_str(p, "namespace");
        if (!refers_to(p, uid) || !pns || !ns || strcmp(pns, ns) != 0)
            continue;
        int r = 0;
        if (orphan) {
            r = drop_refs(s, p, gone, err);
            released++;
        } else {
            left++;
            if (!st_pod_is_terminating(p))
                r = gc_delete(s, p, -1, err);
        }
        if (r < 0)
            return r;
    }
    if (left > 0)
        return 0; /* foreground: the owner stays until its dependents are gone */
    int r = st_store_mutate(s, kind, ns, name, finalized_fn, (void *)uid, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    if (r == ST_STORE_REMOVE && orphan && released > 0)
        st_event_record(s, kind, ns, name, "Normal", "Orphaned", COMPONENT,
                        "%zu pod%s kept without their owner %s %s", released,
                        released == 1 ? "" : "s", kind, name);
    return r < 0 ? r : 0;
}

/* Owners as "KIND/NAMESPACE/NAME" -> object (borrowed from the lists). */
static void index_owners(json_t *index, const char *kind, json_t *list)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        char key[600];
        snprintf(key, sizeof(key), "%s/%s/%s", kind, meta_str(o, "namespace") ?: "",
                 meta_str(o, "name") ?: "");
        json_object_set(index, key, o);
    }
}

/* Is the owner a reference names stored, with the uid it names? Only
 * Deployments and Pods own anything in Strata (manifests cannot set
 * ownerReferences); another kind cannot be checked here and is treated as
 * present, so nothing is deleted on a doubt. */
static bool owner_present(json_t *index, json_t *pod, json_t *ref)
{
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    if (!kind || !name || (strcmp(kind, "Deployment") != 0 && strcmp(kind, "Pod") != 0))
        return true;
    char key[600];
    snprintf(key, sizeof(key), "%s/%s/%s", kind, meta_str(pod, "namespace") ?: "", name);
    json_t *owner = json_object_get(index, key);
    const char *have = meta_str(owner, "uid");
    return owner && (uid == NULL || *uid == 0 || (have && strcmp(have, uid) == 0));
}

static int collect_dependent(st_store *s, json_t *index, json_t *pod, st_error *err)
{
    json_t *refs = json_object_get(json_object_get(pod, "metadata"), "ownerReferences");
    if (json_array_size(refs) == 0)
        return 0;
    _cleanup_json_ json_t *gone = json_object();
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        if (!owner_present(index, pod, ref))
            json_object_set_new(gone, json_string_value(json_object_get(ref, "uid")) ?: "",
                                json_true());
    }
    if (json_object_size(gone) == 0)
        return 0;
    if (json_object_size(gone) < json_array_size(refs))
        return drop_refs(s, pod, gone, err);
    if (st_pod_is_terminating(pod))
        return 0;
    json_t *ref0 = json_array_get(refs, 0);
    st_event_record(s, "Pod", meta_str(pod, "namespace"), meta_str(pod, "name"), "Normal",
                    "GarbageCollected", COMPONENT, "Deleting: its owner %s %s (uid %s) is gone",
                    json_string_value(json_object_get(ref0, "kind")) ?: "",
                    json_string_value(json_object_get(ref0, "name")) ?: "",
                    json_string_value(json_object_get(ref0, "uid")) ?: "");
    return gc_delete(s, pod, -1, err);
}

int st_control_gc(st_store *s, st_error *err)
{
    /* Dependents are listed before owners: an owner created after the pod
     * list was read has no pod in it, so none is taken for an orphan. */
    st_store_query pq = {.kind = "Pod"}, dq = {.kind = "Deployment"};
    _cleanup_json_ json_t *pods = NULL, *deploys = NULL;
    int r;
    if ((r = st_store_list(s, &pq, &pods, err)) < 0 ||
        (r = st_store_list(s, &dq, &deploys, err)) < 0)
        return r;
    _cleanup_json_ json_t *index = json_object();
    index_owners(index, "Deployment", deploys);
    index_owners(index, "Pod", pods);
    size_t i;
    json_t *o;
    json_array_foreach(deploys, i, o)
    {
        if (meta_str(o, "deletionTimestamp") &&
            (r = finish_owner(s, "Deployment", o, pods, err)) < 0)
            return r;
    }
    time_t now = time(NULL);
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        if ((r = collect_dependent(s, index, p, err)) < 0)
            return r;
        if (st_pod_is_terminating(p) && pod_done(s, p, now) &&
            (r = st_control_pod_stopped(s, meta_str(p, "namespace"), meta_str(p, "name"),
                                        meta_str(p, "uid"), err)) < 0)
            return r;
    }
    /* Terminating namespaces: their content is deleted, then they go. */
    return st_control_namespaces(s, err);
}
