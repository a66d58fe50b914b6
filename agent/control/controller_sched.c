/* controller_sched.c: the scheduling pass. Reads Ready nodes, their hosts
 * and what the bound pods already request, asks st_schedule for each
 * pending pod (oldest first, each decision seen by the next through
 * st_sched_assume) and binds them all in one transaction. Unschedulable
 * pods say why, once per reason. */
#include "strata/controller.h"
#include "strata/cleanup.h"
#include "strata/label_selector.h"
#include "strata/lease.h"
#include "strata/podspec.h"
#include "strata/scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "scheduler"

static bool node_ready(json_t *node)
{
    /* A pod never goes to a node the controller has not seen say hello,
     * nor to a cordoned one (spec.unschedulable, kubectl cordon). */
    return st_pod_is_ready(node) &&
           !json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"));
}

/* Re-adopted after a stratad restart, hello not yet seen (nodes.c). */
static bool node_adopting(json_t *node)
{
    const char *ph = json_string_value(
        json_object_get(json_object_get(json_object_get(node, "status"), "strata"), "phase"));
    return ph && strcmp(ph, "Adopting") == 0;
}

/* The host (stratad) a node runs on; nodes without one are all on one
 * host, "". */
static const char *node_host(json_t *node)
{
    const char *host = st_node_host(node);
    return host ? host : "";
}

static int node_index(const struct st_sched_node *nodes, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* "namespace/owner/pod-template-hash" of a pod, or NULL for a pod without
 * an owner. Replicas of one template spread among themselves, as
 * kube-scheduler's default spreading counts the pods of one ReplicaSet: a
 * rolling update then spreads the new pods, whatever the old ones do. */
static char *owner_key(json_t *pod)
{
    json_t *md = json_object_get(pod, "metadata");
    json_t *refs = json_object_get(md, "ownerReferences");
    const char *owner = json_string_value(json_object_get(json_array_get(refs, 0), "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *hash =
        json_string_value(json_object_get(json_object_get(md, "labels"), "pod-template-hash"));
    char *key = NULL;
    if (owner && asprintf(&key, "%s/%s/%s", ns ? ns : "", owner, hash ? hash : "") < 0)
        key = NULL;
    return key;
}

/* A pod that waited for room has it now: its PodScheduled says so (the
 * node's first status report rewrites the conditions anyway). */
static int scheduled_fn(json_t *pod, void *arg, st_error *err)
{
    (void)arg;
    (void)err;
    json_t *st = json_object_get(pod, "status");
    if (!json_is_object(st))
        return ST_STORE_KEEP;
    json_object_set_new(st, "conditions",
                        json_pack("[{s:s, s:s}]", "type", "PodScheduled", "status", "True"));
    return ST_STORE_WRITE;
}

static int clear_unschedulable(st_store *s, const char *ns, const char *name, st_error *err)
{
    int r = st_store_mutate(s, "Pod", ns, name, scheduled_fn, NULL, NULL, err);
    if (r == -ENOENT) { /* deleted since it was bound: nothing to say */
        st_error_clear(err);
        return 0;
    }
    return r < 0 ? r : 0;
}

static void count_siblings(struct st_sched_cluster *c, const int *owner, const int *first,
                           const int *next, const int *on, size_t pod, int delta)
{
    for (int i = owner[pod] >= 0 ? first[owner[pod]] : -1; i >= 0; i = next[i])
        if ((size_t)i != pod && on[i] >= 0)
            st_sched_count_owner(c, (size_t)on[i], delta);
}

/* The pod's topologySpreadConstraints that refuse (whenUnsatisfiable
 * DoNotSchedule), with the pods matching each one's labelSelector counted
 * per domain into counts (ST_SCHED_SPREAD_MAX rows of nn + nhosts ints):
 * pods of its namespace bound to a node, placed earlier in this pass
 * included, Terminating ones not (on[] is -1 for them). Linear in the pods,
 * for the pods that have constraints only. ScheduleAnyway adds nothing the
 * default spread (the owner's pods, by host then node) does not already
 * prefer. Returns how many were filled into out. */
static size_t spread_constraints(json_t *pod, json_t *pods, const int *on,
                                 const struct st_sched_cluster *c, int *counts,
                                 struct st_sched_spread *out)
{
    json_t *md = json_object_get(pod, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    json_t *labels = json_object_get(md, "labels");
    size_t stride = c->n_nodes + c->n_hosts, n = 0, i;
    json_t *tsc;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "topologySpreadConstraints"),
                       i, tsc)
    {
        const char *key = json_string_value(json_object_get(tsc, "topologyKey"));
        const char *when = json_string_value(json_object_get(tsc, "whenUnsatisfiable"));
        json_int_t skew = json_integer_value(json_object_get(tsc, "maxSkew"));
        if (n == ST_SCHED_SPREAD_MAX || !key || !when || strcmp(when, "DoNotSchedule") != 0 ||
            skew < 1 || skew > INT32_MAX)
            continue;
        bool by_host = strcmp(key, ST_HOST_LABEL) == 0;
        if (!by_host && strcmp(key, "kubernetes.io/hostname") != 0)
            continue; /* the manifest reader refuses other keys */
        /* No labelSelector matches no pod (Kubernetes): nothing counted. */
        json_t *sel = json_object_get(json_object_get(tsc, "labelSelector"), "matchLabels");
        int *count = counts + n * stride;
        memset(count, 0, stride * sizeof(*count));
        size_t j;
        json_t *other;
        json_array_foreach(pods, j, other)
        {
            json_t *omd = json_object_get(other, "metadata");
            const char *ons = json_string_value(json_object_get(omd, "namespace"));
            if (!sel || on[j] < 0 || !ns || !ons || strcmp(ns, ons) != 0 ||
                !st_label_map_matches(sel, json_object_get(omd, "labels")))
                continue;
            count[on[j]]++;
            count[c->n_nodes + c->nodes[on[j]].host]++;
        }
        out[n++] = (struct st_sched_spread){
            .topology_key = key,
            .by_host = by_host,
            .max_skew = (int)skew,
            .self_match = sel && st_label_map_matches(sel, labels),
            .count = by_host ? count + c->n_nodes : count,
        };
    }
    return n;
}

/* Records why the pod fits nowhere; writes only when the reason changed,
 * and leaves a pod alone that was bound or deleted meanwhile. */
static int unschedulable_fn(json_t *pod, void *reason, st_error *err)
{
    (void)err;
    const char *node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    if ((node && *node) || st_pod_is_terminating(pod) || st_pod_is_terminal(pod))
        return ST_STORE_KEEP;
    json_t *st = json_object_get(pod, "status");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *msg = json_string_value(json_object_get(c, "message"));
        if (type && strcmp(type, "PodScheduled") == 0 && msg && strcmp(msg, reason) == 0)
            return ST_STORE_KEEP;
    }
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(pod, "status", st);
    }
    json_object_set_new(st, "phase", json_string("Pending"));
    json_object_set_new(st, "conditions",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "type", "PodScheduled", "status",
                                  "False", "reason", "Unschedulable", "message", reason));
    return ST_STORE_WRITE;
}

static int mark_unschedulable(st_store *s, json_t *pod, const char *reason, st_error *err)
{
    json_t *md = json_object_get(pod, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    int r = st_store_mutate(s, "Pod", ns, name, unschedulable_fn, (void *)reason, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    if (r == ST_STORE_WRITE)
        st_event_record(s, "Pod", ns, name, "Warning", "FailedScheduling", COMPONENT, "%s", reason);
    return r < 0 ? r : 0;
}

/* One pass: read, decide every pending pod, bind them in one transaction.
 * *raced: the binding failed because a pod was deleted or bound meanwhile
 * (-ENOENT, -ST_ECONFLICT), so nothing of it was written. */
static int schedule_pass(st_store *s, int *bound, bool *raced, st_error *err)
{
    *raced = false;
    if (bound)
        *bound = 0;
    _cleanup_json_ json_t *nodes_json = NULL, *pods = NULL;
    st_store_query nq = {.kind = "Node"};
    st_store_query pq = {.kind = "Pod"};
    int r;
    if ((r = st_store_list(s, &nq, &nodes_json, err)) < 0 ||
        (r = st_store_list(s, &pq, &pods, err)) < 0)
        return r;
    size_t nn = json_array_size(nodes_json), np = json_array_size(pods);
    _cleanup_free_ struct st_sched_node *nodes = calloc(nn ? nn : 1, sizeof(*nodes));
    _cleanup_free_ struct st_sched_host *hosts = calloc(nn ? nn : 1, sizeof(*hosts));
    _cleanup_json_ json_t *host_ids = json_object(); /* host name -> index in hosts */
    _cleanup_free_ size_t *pending = calloc(np ? np : 1, sizeof(*pending));
    _cleanup_free_ st_store_binding *binds = calloc(np ? np : 1, sizeof(*binds));
    _cleanup_free_ bool *was_unschedulable = calloc(np ? np : 1, sizeof(bool));
    if (!nodes || !hosts || !host_ids || !pending || !binds || !was_unschedulable)
        return st_error_set(err, ENOMEM, "scheduler: out of memory");
    struct st_sched_cluster cluster = {.nodes = nodes, .n_nodes = nn, .hosts = hosts};
    for (size_t i = 0; i < nn; i++) {
        json_t *n = json_array_get(nodes_json, i);
        json_t *strata = json_object_get(json_object_get(n, "status"), "strata");
        const char *host = node_host(n);
        json_t *id = json_object_get(host_ids, host);
        if (id == NULL) {
            id = json_integer((json_int_t)cluster.n_hosts);
            if (id == NULL || json_object_set_new(host_ids, host, id) < 0)
                return st_error_set(err, ENOMEM, "scheduler: out of memory");
            hosts[cluster.n_hosts++] = (struct st_sched_host){.name = host};
        }
        nodes[i] = (struct st_sched_node){
            .name = json_string_value(json_object_get(json_object_get(n, "metadata"), "name")),
            .ready = node_ready(n),
            .adopting = node_adopting(n),
            .cpu_capacity_m = json_integer_value(json_object_get(strata, "cpuMillis")),
            .mem_capacity = json_integer_value(json_object_get(strata, "memoryBytes")),
            .host = (size_t)json_integer_value(id),
        };
    }
    /* Per pod: its owner as a small integer (-1: none) and the node it is
     * on, so spreading is integer work even for thousands of pods. */
    _cleanup_free_ int *owner = calloc(np ? np : 1, sizeof(*owner));
    _cleanup_free_ int *on = calloc(np ? np : 1, sizeof(*on));
    /* Pods of one owner chained (first[owner], next[pod]): spreading looks
     * at a pod's siblings only. */
    _cleanup_free_ int *first = malloc((np ? np : 1) * sizeof(*first));
    _cleanup_free_ int *next = malloc((np ? np : 1) * sizeof(*next));
    _cleanup_json_ json_t *owners = json_object();
    _cleanup_free_ int *spread_counts =
        calloc(ST_SCHED_SPREAD_MAX * (nn + cluster.n_hosts) + 1, sizeof(*spread_counts));
    if (!owner || !on || !owners || !first || !next || !spread_counts)
        return st_error_set(err, ENOMEM, "scheduler: out of memory");
    size_t npending = 0;
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_array_get(pods, i);
        _cleanup_free_ char *key = owner_key(p);
        owner[i] = -1;
        if (key) {
            json_t *id = json_object_get(owners, key);
            if (id == NULL) {
                id = json_integer((json_int_t)json_object_size(owners));
                json_object_set_new(owners, key, id);
            }
            owner[i] = (int)json_integer_value(id);
        }
        if (i == 0)
            for (size_t k = 0; k < np; k++)
                first[k] = -1;
        next[i] = owner[i] >= 0 ? first[owner[i]] : -1;
        if (owner[i] >= 0)
            first[owner[i]] = (int)i;
        const char *node =
            json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        on[i] = node_index(nodes, nn, node);
        if (st_pod_is_terminal(p)) {
            on[i] = -1;
            continue;
        }
        bool leaving = st_pod_is_terminating(p);
        if (node == NULL || *node == 0) {
            if (!leaving)
                pending[npending++] = i;
            continue;
        }
        int64_t cpu = 0, mem = 0;
        st_error perr = {0};
        if (on[i] >= 0 && st_pod_requests(json_object_get(p, "spec"), &cpu, &mem, &perr) == 0) {
            struct st_sched_pod sp = {.cpu_m = cpu, .mem = mem};
            st_sched_assume(&cluster, (size_t)on[i], &sp, false);
        }
        /* A Terminating pod holds its requests until it is gone, but it is
         * no longer a replica to spread around (kube-scheduler's topology
         * spread skips it too). */
        if (leaving)
            on[i] = -1;
    }
    /* Oldest first: the store lists by name, so order by creation here. */
    for (size_t a = 1; a < npending; a++)
        for (size_t b = a; b > 0; b--) {
            json_t *pa = json_array_get(pods, pending[b - 1]),
                   *pb = json_array_get(pods, pending[b]);
            const char *ta = json_string_value(
                json_object_get(json_object_get(pa, "metadata"), "creationTimestamp"));
            const char *tb = json_string_value(
                json_object_get(json_object_get(pb, "metadata"), "creationTimestamp"));
            if (!(ta && tb && strcmp(ta, tb) > 0))
                break;
            size_t t = pending[b - 1];
            pending[b - 1] = pending[b];
            pending[b] = t;
        }

    size_t nbind = 0;
    for (size_t k = 0; k < npending; k++) {
        size_t pi = pending[k];
        json_t *p = json_array_get(pods, pi);
        json_t *md = json_object_get(p, "metadata");
        int64_t cpu = 0, mem = 0;
        st_error perr = {0};
        if (st_pod_requests(json_object_get(p, "spec"), &cpu, &mem, &perr) < 0) {
            if ((r = mark_unschedulable(s, p, perr.msg, err)) < 0)
                return r;
            continue;
        }
        /* owner_pods (a node's and its host's) counts this pod's siblings,
         * bound ones and those placed earlier in this pass, for this
         * decision only. */
        count_siblings(&cluster, owner, first, next, on, pi, 1);
        char reason[256];
        struct st_sched_spread spread[ST_SCHED_SPREAD_MAX];
        struct st_sched_pod sp = {.cpu_m = cpu, .mem = mem, .spread = spread};
        sp.n_spread = spread_constraints(p, pods, on, &cluster, spread_counts, spread);
        int pick = st_schedule(&sp, &cluster, reason, sizeof(reason));
        count_siblings(&cluster, owner, first, next, on, pi, -1);
        if (pick == ST_SCHED_WAIT)
            continue; /* bounded: the node says hello or is fenced within the grace */
        if (pick < 0) {
            if ((r = mark_unschedulable(s, p, reason, err)) < 0)
                return r;
            continue;
        }
        st_sched_assume(&cluster, (size_t)pick, &sp, false);
        on[pi] = pick;
        was_unschedulable[nbind] = st_condition_status(p, "PodScheduled") != NULL;
        binds[nbind++] = (st_store_binding){
            .namespace = json_string_value(json_object_get(md, "namespace")),
            .name = json_string_value(json_object_get(md, "name")),
            .node_name = nodes[pick].name,
        };
    }
    if (nbind == 0)
        return 0;
    if ((r = st_store_bind_pods(s, binds, nbind, err)) < 0) {
        *raced = r == -ENOENT || r == -ST_ECONFLICT;
        return r;
    }
    /* One transaction for the pass's Scheduled events too. */
    _cleanup_free_ st_store_op *evs = calloc(nbind, sizeof(*evs));
    size_t nev = 0;
    int cleared = 0; /* below 0: a PodScheduled condition could not be cleared */
    for (size_t b = 0; b < nbind; b++) {
        if (was_unschedulable[b] && cleared == 0)
            cleared = clear_unschedulable(s, binds[b].namespace, binds[b].name, err);
        char msg[600];
        snprintf(msg, sizeof(msg), "Successfully assigned %s/%s to %s", binds[b].namespace,
                 binds[b].name, binds[b].node_name);
        json_t *ev = evs ? st_event_build("Pod", binds[b].namespace, binds[b].name, "Normal",
                                          "Scheduled", COMPONENT, msg)
                         : NULL;
        if (ev)
            evs[nev++] = (st_store_op){.op = ST_STORE_CREATE, .object = ev};
    }
    st_error everr = {0};
    if (nev > 0 && st_store_apply_batch(s, evs, nev, &everr) == 0)
        st_store_ops_release(evs, nev);
    for (size_t i = 0; i < nev; i++)
        json_decref(evs[i].object);
    if (bound)
        *bound = (int)nbind;
    return cleared;
}

/* A pass whose binding lost a race (a pod deleted or bound meanwhile) is
 * run again on a fresh read; after SCHED_PASSES the race is reported. */
#define SCHED_PASSES 3

int st_control_schedule(st_store *s, int *bound, st_error *err)
{
    for (int pass = 1;; pass++) {
        bool raced = false;
        int r = schedule_pass(s, bound, &raced, err);
        if (!raced || pass == SCHED_PASSES)
            return r;
        st_error_clear(err);
    }
}
