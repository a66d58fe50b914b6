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

/* Which of two pods to delete first when scaling down: unscheduled before
 * scheduled, not ready before ready, then the newest (Kubernetes' order). */
static bool delete_before(const struct st_dp_pod *a, const struct st_dp_pod *b)
{
    if (a->scheduled != b->scheduled)
        return !a->scheduled;
    if (a->ready != b->ready)
        return !a->ready;
    if (a->created_ms != b->created_ms)
        return a->created_ms > b->created_ms;
    return strcmp(a->name, b->name) > 0;
}

/* Picks up to count pods matching want_current (by template) for deletion. */
static void pick_victims(const struct st_dp_pod *pods, size_t n, const char *hash,
                         bool want_current, int count, struct st_dp_plan *plan)
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
            if (best < 0 || delete_before(&pods[i], &pods[best]))
                best = (long)i;
        }
        if (best < 0)
            return;
        plan_delete(plan, (size_t)best);
    }
}

void st_deploy_plan(int replicas, const char *hash, const struct st_dp_pod *pods, size_t n,
                    struct st_dp_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
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
            pick_victims(pods, n, hash, true, cur - replicas, plan);
        return;
    }

    /* Rolling update. Too many pods in all (scaled down meanwhile): old ones
     * go first. */
    int total = cur + old;
    if (total > replicas + 1) {
        int extra = total - (replicas + 1);
        int from_old = extra < old ? extra : old;
        pick_victims(pods, n, hash, false, from_old, plan);
        old -= from_old;
        total -= from_old;
        if (extra > from_old)
            pick_victims(pods, n, hash, true, extra - from_old, plan);
        return;
    }
    /* Surge: one new pod beyond replicas, while new ones are still needed. */
    if (total < replicas + 1 && cur < replicas)
        plan->create = 1;
    /* An unready old pod serves nobody: it may go at once. A ready one goes
     * only when the others keep replicas ready (maxUnavailable 0). */
    if (old_unready > 0)
        pick_victims(pods, n, hash, false, 1, plan);
    else if (old_ready > 0 && ready - 1 >= replicas)
        pick_victims(pods, n, hash, false, 1, plan);
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
