/* controller_deploy.c: the deployment controller. Level-triggered: each pass
 * compares every Deployment's desired replicas and template with the pods
 * it owns and closes the gap through st_deploy_plan (which decides) and the
 * store (which records). A pass that finds nothing to do writes nothing. */
#include "strata/controller.h"
#include "strata/cleanup.h"
#include "strata/time.h"
#include "strata/deploy_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define COMPONENT "deployment-controller"

/* An RFC 3339 time in milliseconds since the epoch; 0 when absent. */
static long long time_ms(const char *ts)
{
    time_t t = 0;
    return st_time_parse_rfc3339(ts, &t, NULL) == 0 ? (long long)t * 1000 : 0;
}

/* DEPLOY-HASH-xxxxx with Kubernetes' alphabet (no vowels: no words). */
static int pod_name(const char *deploy, const char *hash, char *out, size_t len, st_error *err)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return st_error_sys(err, errno, "getrandom for a pod name");
    char sfx[6];
    for (size_t i = 0; i < 5; i++)
        sfx[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    sfx[5] = 0;
    snprintf(out, len, "%.200s-%s-%s", deploy, hash, sfx);
    return 0;
}

bool st_pod_is_terminal(json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

json_t *st_condition_find(json_t *obj, const char *type)
{
    json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

const char *st_condition_status(json_t *obj, const char *type)
{
    json_t *c = st_condition_find(obj, type);
    if (c == NULL)
        return NULL;
    const char *st = json_string_value(json_object_get(c, "status"));
    return st ? st : "";
}

bool st_pod_is_ready(json_t *pod)
{
    const char *st = st_condition_status(pod, "Ready");
    return st && strcmp(st, "True") == 0;
}

static json_t *new_pod(json_t *deploy, const char *ns, const char *name, const char *hash,
                       st_error *err)
{
    json_t *tmpl = json_object_get(json_object_get(deploy, "spec"), "template");
    json_t *md = json_object_get(deploy, "metadata");
    char pname[256];
    if (pod_name(name, hash, pname, sizeof(pname), err) < 0)
        return NULL;
    json_t *labels = json_deep_copy(json_object_get(json_object_get(tmpl, "metadata"), "labels"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    json_object_set_new(labels, "pod-template-hash", json_string(hash));
    json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
    if (!json_is_object(spec)) {
        json_decref(spec);
        spec = json_object();
    }
    const char *uid = json_string_value(json_object_get(md, "uid"));
    json_t *pod =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]}, s:o, s:{s:s}}",
                  "apiVersion", "v1", "kind", "Pod", "metadata", "name", pname, "namespace", ns,
                  "labels", labels, "ownerReferences", "apiVersion", "apps/v1", "kind",
                  "Deployment", "name", name, "uid", uid ? uid : "", "controller", 1,
                  "blockOwnerDeletion", 1, "spec", spec, "status", "phase", "Pending");
    if (pod == NULL)
        st_error_set(err, ENOMEM, "out of memory building pod %s", pname);
    return pod;
}

/* Failed on its own, or lost with its node: removed and replaced. */
static bool pod_gone(json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return phase && strcmp(phase, "Failed") == 0;
}

static enum st_dp_phase pod_phase(json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    if (phase && strcmp(phase, "Running") == 0)
        return ST_DP_RUNNING;
    if (phase && strcmp(phase, "Unknown") == 0)
        return ST_DP_UNKNOWN;
    return ST_DP_PENDING;
}

static int pod_restarts(json_t *pod)
{
    int n = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), i, cs)
        n += (int)json_integer_value(json_object_get(cs, "restartCount"));
    return n;
}

/* When the pod last turned ready (its Ready condition's transition). */
static long long pod_ready_ms(json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && strcmp(type, "Ready") == 0)
            return time_ms(json_string_value(json_object_get(c, "lastTransitionTime")));
    }
    return 0;
}

/* Is the pod this deployment's? Its controller reference names the
 * deployment by uid: pods of an earlier deployment of the same name are the
 * garbage collector's, never adopted. */
static bool owned_by(json_t *pod, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), i, ref)
    {
        if (!json_is_true(json_object_get(ref, "controller")))
            continue;
        const char *u = json_string_value(json_object_get(ref, "uid"));
        return u == NULL || *u == 0 || uid == NULL || strcmp(u, uid) == 0;
    }
    return false;
}

static const char *const status_keys[] = {"replicas", "readyReplicas", "updatedReplicas",
                                          "availableReplicas", "observedGeneration"};

struct deploy_status {
    const char *uid;    /* of the Deployment the counts are for */
    json_int_t want[5]; /* per status_keys */
    size_t nkeys;       /* 4 without a metadata.generation to observe */
};

/* Writes the counts when they differ from what is stored. */
static int status_fn(json_t *deploy, void *arg, st_error *err)
{
    (void)err;
    const struct deploy_status *a = arg;
    const char *uid =
        json_string_value(json_object_get(json_object_get(deploy, "metadata"), "uid"));
    if (a->uid && (!uid || strcmp(uid, a->uid) != 0))
        return ST_STORE_KEEP; /* replaced by a new one of the same name: not ours */
    json_t *st = json_object_get(deploy, "status");
    bool same = json_is_object(st);
    for (size_t i = 0; same && i < a->nkeys; i++)
        same = json_object_get(st, status_keys[i]) != NULL &&
               json_integer_value(json_object_get(st, status_keys[i])) == a->want[i];
    if (same)
        return ST_STORE_KEEP;
    json_t *nst = json_object();
    for (size_t i = 0; i < a->nkeys; i++)
        json_object_set_new(nst, status_keys[i], json_integer(a->want[i]));
    json_object_set_new(deploy, "status", nst);
    return ST_STORE_WRITE;
}

/* The counts of this pass, and the generation it acted on, even when
 * someone (scale, apply) wrote the Deployment meanwhile: that write is
 * kept, and the next pass acts on it. */
static int set_status(st_store *s, json_t *deploy, int replicas, int ready, int updated,
                      st_error *err)
{
    json_t *md = json_object_get(deploy, "metadata");
    json_t *gen = json_object_get(md, "generation");
    struct deploy_status a = {json_string_value(json_object_get(md, "uid")),
                              {replicas, ready, updated, ready, json_integer_value(gen)},
                              gen ? 5 : 4};
    int r =
        st_store_mutate(s, "Deployment", json_string_value(json_object_get(md, "namespace")),
                        json_string_value(json_object_get(md, "name")), status_fn, &a, NULL, err);
    if (r == -ENOENT) { /* deleted meanwhile: nothing to report on */
        st_error_clear(err);
        return 0;
    }
    return r < 0 ? r : 0;
}

static int reconcile_one(st_store *s, json_t *deploy, st_error *err)
{
    json_t *md = json_object_get(deploy, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *uid = json_string_value(json_object_get(md, "uid"));
    /* Being deleted: its pods are the garbage collector's now. */
    if (json_object_get(md, "deletionTimestamp"))
        return 0;
    json_t *spec = json_object_get(deploy, "spec");
    json_t *rep = json_object_get(spec, "replicas");
    int replicas = rep ? (int)json_integer_value(rep) : 1;
    _cleanup_free_ char *canon =
        json_dumps(json_object_get(spec, "template"), JSON_SORT_KEYS | JSON_COMPACT);
    if (canon == NULL)
        return st_error_set(err, ENOMEM, "deployment %s: out of memory", name);
    char hash[11];
    st_template_hash(canon, hash);

    st_store_query q = {.kind = "Pod", .namespace = ns, .owner = name};
    _cleanup_json_ json_t *listed = NULL;
    int r = st_store_list(s, &q, &listed, err);
    if (r < 0)
        return r;
    /* Terminating pods are not replicas any more (nor, in Kubernetes,
     * active pods): their replacements are created now. */
    _cleanup_json_ json_t *pods = json_array();
    size_t li;
    json_t *lp;
    json_array_foreach(listed, li, lp)
    {
        if (owned_by(lp, uid) && !st_pod_is_terminating(lp))
            json_array_append(pods, lp);
    }
    size_t n = json_array_size(pods);
    _cleanup_free_ struct st_dp_pod *dp = calloc(n ? n : 1, sizeof(*dp));
    if (dp == NULL)
        return st_error_set(err, ENOMEM, "deployment %s: out of memory", name);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(pods, i);
        json_t *pmd = json_object_get(p, "metadata");
        const char *h =
            json_string_value(json_object_get(json_object_get(pmd, "labels"), "pod-template-hash"));
        const char *node =
            json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        bool ready = st_pod_is_ready(p);
        dp[i] = (struct st_dp_pod){
            .name = json_string_value(json_object_get(pmd, "name")),
            .template_hash = h ? h : "",
            .node = node,
            .phase = pod_phase(p),
            .ready = ready,
            .gone = pod_gone(p),
            .restarts = pod_restarts(p),
            .ready_ms = ready ? pod_ready_ms(p) : 0,
            .created_ms = time_ms(json_string_value(json_object_get(pmd, "creationTimestamp"))),
        };
    }
    struct st_dp_plan plan;
    st_deploy_plan(replicas, hash, dp, n, &plan);

    int live = 0, ready = 0, updated = 0;
    for (size_t i = 0; i < n; i++) {
        bool victim = false;
        for (size_t j = 0; j < plan.n_delete; j++)
            victim |= plan.delete_idx[j] == i;
        if (victim)
            continue;
        live++;
        ready += dp[i].ready;
        updated += strcmp(dp[i].template_hash, hash) == 0;
    }

    for (size_t j = 0; j < plan.n_delete; j++) {
        json_t *p = json_array_get(pods, plan.delete_idx[j]);
        const char *pname = dp[plan.delete_idx[j]].name;
        st_error derr = {0};
        /* Gracefully, as Kubernetes' ReplicaSet controller deletes: a
         * running pod is stopped by its node first; a failed one goes now. */
        int dr = st_control_delete(s, "Pod", ns, pname, ST_PROPAGATE_BACKGROUND, -1, NULL, &derr);
        if (dr < 0 && dr != -ENOENT)
            return st_error_set(err, -dr, "deployment %s: %s", name, derr.msg);
        if (dp[plan.delete_idx[j]].gone) {
            json_t *pst = json_object_get(p, "status");
            const char *why = json_string_value(json_object_get(pst, "reason"));
            st_event_record(s, "Deployment", ns, name, "Normal", "SuccessfulDelete", COMPONENT,
                            "Deleted pod %s (%s): a replacement is created", pname,
                            why ? why : "Failed");
        } else {
            st_event_record(s, "Deployment", ns, name, "Normal", "SuccessfulDelete", COMPONENT,
                            "Deleted pod %s (%s)", pname,
                            plan.rolling ? "rolling update" : "scaled down");
        }
    }
    for (int k = 0; k < plan.create; k++) {
        _cleanup_json_ json_t *pod = new_pod(deploy, ns, name, hash, err);
        if (pod == NULL)
            return -err->code;
        json_t *out = NULL;
        if ((r = st_store_create(s, pod, &out, err)) < 0)
            return r;
        json_decref(out);
        live++;
        updated++;
        const char *pname =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
        st_event_record(s, "Deployment", ns, name, "Normal", "SuccessfulCreate", COMPONENT,
                        "Created pod %s (%d/%d replicas)", pname, live, replicas);
    }
    return set_status(s, deploy, live, ready, updated, err);
}

int st_control_deployments(st_store *s, st_error *err)
{
    st_store_query q = {.kind = "Deployment"};
    _cleanup_json_ json_t *list = NULL;
    int r = st_store_list(s, &q, &list, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        if ((r = reconcile_one(s, d, err)) < 0)
            return r;
    }
    return 0;
}
