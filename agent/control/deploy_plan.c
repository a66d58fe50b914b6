/* deploy_plan.c: the deployment controller's decisions (see deploy_plan.h).
 * Kept apart from the store and the API so every rule is unit-tested. */
#include "strata/deploy_plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plan_delete(struct st_dp_plan *plan, size_t idx)
{
    if (plan->n_delete < ST_DP_MAX_DELETE)
        plan->delete_idx[plan->n_delete++] = idx;
}

static bool scheduled(const struct st_dp_pod *p)
{
    return p->node && *p->node;
}

/* How many of the deployment's pods share each pod's node: a pod's rank is
 * the count on its node, so the most co-located replicas go first. Node
 * ids come from sorting by node name, so a pass is O(n log n) however many
 * pods there are. */
struct ranks {
    size_t *node_id; /* per pod; unscheduled pods share one id nobody counts */
    int *on_node;    /* per node id: live pods not yet picked */
};

static int by_node(const void *a, const void *b, void *arg)
{
    const struct st_dp_pod *pods = arg;
    const struct st_dp_pod *pa = &pods[*(const size_t *)a], *pb = &pods[*(const size_t *)b];
    return strcmp(pa->node ? pa->node : "", pb->node ? pb->node : "");
}

/* false when out of memory: then every rank is equal (a worse choice of
 * victim, never a wrong count). */
static bool ranks_init(struct ranks *r, const struct st_dp_pod *pods, size_t n)
{
    memset(r, 0, sizeof(*r));
    size_t *order = malloc((n ? n : 1) * sizeof(*order));
    r->node_id = calloc(n ? n : 1, sizeof(*r->node_id));
    r->on_node = calloc(n ? n : 1, sizeof(*r->on_node));
    if (!order || !r->node_id || !r->on_node) {
        free(order);
        free(r->node_id);
        free(r->on_node);
        memset(r, 0, sizeof(*r));
        return false;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), by_node, (void *)pods);
    size_t id = 0;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && by_node(&order[k - 1], &order[k], (void *)pods) != 0)
            id++;
        r->node_id[order[k]] = id;
        if (scheduled(&pods[order[k]]) && !pods[order[k]].gone)
            r->on_node[id]++;
    }
    free(order);
    return true;
}

static int rank_of(const struct ranks *r, size_t i)
{
    return r->on_node ? r->on_node[r->node_id[i]] : 0;
}

static void ranks_free(struct ranks *r)
{
    free(r->node_id);
    free(r->on_node);
}

/* Which of two pods to delete first (see deploy_plan.h). */
static bool delete_before(const struct st_dp_pod *a, int rank_a, const struct st_dp_pod *b,
                          int rank_b)
{
    if (scheduled(a) != scheduled(b))
        return !scheduled(a);
    if (a->phase != b->phase)
        return a->phase < b->phase;
    if (a->ready != b->ready)
        return !a->ready;
    if (rank_a != rank_b)
        return rank_a > rank_b;
    /* Ready for less time first; an unknown ready time goes before any. */
    if (a->ready && a->ready_ms != b->ready_ms)
        return a->ready_ms == 0 || (b->ready_ms != 0 && a->ready_ms > b->ready_ms);
    if (a->restarts != b->restarts)
        return a->restarts > b->restarts;
    if (a->created_ms != b->created_ms)
        return a->created_ms == 0 || (b->created_ms != 0 && a->created_ms > b->created_ms);
    return strcmp(a->name, b->name) > 0;
}

/* Picks up to count pods matching want_current (by template) for deletion.
 * Each pick lowers its node's count, so the next pick sees the spread as
 * it will be. */
static void pick_victims(const struct st_dp_pod *pods, size_t n, const char *hash,
                         bool want_current, int count, struct ranks *r, struct st_dp_plan *plan)
{
    for (int k = 0; k < count; k++) {
        long best = -1;
        for (size_t i = 0; i < n; i++) {
            if (pods[i].gone || (strcmp(pods[i].template_hash, hash) == 0) != want_current)
                continue;
            bool taken = false;
            for (size_t j = 0; j < plan->n_delete; j++)
                taken |= plan->delete_idx[j] == i;
            if (taken)
                continue;
            if (best < 0 ||
                delete_before(&pods[i], rank_of(r, i), &pods[best], rank_of(r, (size_t)best)))
                best = (long)i;
        }
        if (best < 0)
            return;
        plan_delete(plan, (size_t)best);
        if (r->on_node && scheduled(&pods[best]))
            r->on_node[r->node_id[best]]--;
    }
}

static void plan_pods(int replicas, const char *hash, const struct st_dp_pod *pods, size_t n,
                      struct ranks *r, struct st_dp_plan *plan)
{
    if (replicas < 0)
        replicas = 0;
    int cur = 0, old = 0, ready = 0, old_ready = 0, old_unready = 0;
    for (size_t i = 0; i < n; i++) {
        if (pods[i].gone) {
            /* A failed or lost pod is replaced below, and removed now so it
             * is never counted as a replica again. */
            plan_delete(plan, i);
            continue;
        }
        bool current = strcmp(pods[i].template_hash, hash) == 0;
        cur += current;
        old += !current;
        ready += pods[i].ready;
        if (!current) {
            old_ready += pods[i].ready;
            old_unready += !pods[i].ready;
        }
    }
    plan->rolling = old > 0;

    if (old == 0) {
        if (cur < replicas)
            plan->create = replicas - cur;
        else if (cur > replicas)
            pick_victims(pods, n, hash, true, cur - replicas, r, plan);
        return;
    }

    /* Rolling update. Too many pods in all (scaled down meanwhile): old ones
     * go first. */
    int total = cur + old;
    if (total > replicas + 1) {
        int extra = total - (replicas + 1);
        int from_old = extra < old ? extra : old;
        pick_victims(pods, n, hash, false, from_old, r, plan);
        old -= from_old;
        total -= from_old;
        if (extra > from_old)
            pick_victims(pods, n, hash, true, extra - from_old, r, plan);
        return;
    }
    /* Surge: one new pod beyond replicas, while new ones are still needed. */
    if (total < replicas + 1 && cur < replicas)
        plan->create = 1;
    /* An unready old pod serves nobody: it may go at once. A ready one goes
     * only when the others keep replicas ready (maxUnavailable 0). */
    if (old_unready > 0)
        pick_victims(pods, n, hash, false, 1, r, plan);
    else if (old_ready > 0 && ready - 1 >= replicas)
        pick_victims(pods, n, hash, false, 1, r, plan);
}

void st_deploy_plan(int replicas, const char *hash, const struct st_dp_pod *pods, size_t n,
                    struct st_dp_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    struct ranks r;
    ranks_init(&r, pods, n);
    plan_pods(replicas, hash, pods, n, &r, plan);
    ranks_free(&r);
}

void st_template_hash(const char *canonical_json, char out[11])
{
    /* FNV-1a, 64 bit: stable across runs and builds, which is all a label
     * needs (not a security property). */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)canonical_json; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, 11, "%010llx", (unsigned long long)(h & 0xffffffffffULL));
}
