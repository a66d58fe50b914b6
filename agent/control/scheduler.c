/* scheduler.c: filter, score, tie-break (see scheduler.h). Linear in the
 * number of nodes per pod: 1 000 nodes is a few microseconds, so no index is
 * needed; the win over kube-scheduler comes from doing nothing else. The
 * per-host counts come with the cluster, kept by the caller, so the host
 * level costs one lookup a node. */
#include "strata/scheduler.h"

#include <stdio.h>
#include <string.h>

static bool node_fits(const struct st_sched_node *n, const struct st_sched_pod *p, bool *cpu_short,
                      bool *mem_short)
{
    *cpu_short = n->cpu_requested_m + p->cpu_m > n->cpu_capacity_m;
    *mem_short = n->mem_requested + p->mem > n->mem_capacity;
    return !*cpu_short && !*mem_short;
}

/* Free fraction after placing the pod, averaged over cpu and memory, in
 * parts per million: the least-allocated node scores highest. */
static int64_t free_score(const struct st_sched_node *n, const struct st_sched_pod *p)
{
    int64_t cpu = n->cpu_capacity_m > 0 ? (n->cpu_capacity_m - n->cpu_requested_m - p->cpu_m) *
                                              1000000 / n->cpu_capacity_m
                                        : 0;
    int64_t mem = n->mem_capacity > 0
                      ? (int64_t)((double)(n->mem_capacity - n->mem_requested - p->mem) *
                                  1000000.0 / (double)n->mem_capacity)
                      : 0;
    return (cpu + mem) / 2;
}

/* The owner's pods on node i's host (0 for all without hosts: one host). */
static int host_owner_pods(const struct st_sched_cluster *c, size_t i)
{
    size_t h = c->nodes[i].host;
    return c->hosts && h < c->n_hosts ? c->hosts[h].owner_pods : 0;
}

/* Below 0 when node a spreads the owner better than node b, above when
 * worse: the host holding fewer of the owner's pods first (losing a host
 * loses all its nodes), then the node holding fewer. */
static int spread_cmp(const struct st_sched_cluster *c, size_t a, size_t b)
{
    int ha = host_owner_pods(c, a), hb = host_owner_pods(c, b);
    if (ha != hb)
        return ha < hb ? -1 : 1;
    int na = c->nodes[a].owner_pods, nb = c->nodes[b].owner_pods;
    return na < nb ? -1 : na > nb;
}

/* A feasible node as the ranking sees it. The best so far keeps its own,
 * so its host count and free score are looked up or computed once, not at
 * every comparison (this loop is most of a decision's time). */
struct rank {
    const struct st_sched_node *node;
    int host_owner;
    bool scored;  /* free is computed (only when the spread ties) */
    int64_t free; /* free_score */
};

static inline int64_t rank_free(struct rank *r, const struct st_sched_pod *p)
{
    if (!r->scored) {
        r->free = free_score(r->node, p);
        r->scored = true;
    }
    return r->free;
}

/* true when a is a better home than b. Spreading one owner's replicas comes
 * first (no host gets a second replica while a host with a feasible node has
 * none, no node while a feasible node on an equally loaded host has none),
 * then free capacity, then fewer pods, then the name, so the choice never
 * depends on the order nodes were listed in. */
static bool better(struct rank *a, struct rank *b, const struct st_sched_pod *p)
{
    if (a->host_owner != b->host_owner)
        return a->host_owner < b->host_owner;
    if (a->node->owner_pods != b->node->owner_pods)
        return a->node->owner_pods < b->node->owner_pods;
    int64_t fa = rank_free(a, p), fb = rank_free(b, p);
    if (fa != fb)
        return fa > fb;
    if (a->node->pods != b->node->pods)
        return a->node->pods < b->node->pods;
    return strcmp(a->node->name, b->node->name) < 0;
}

/* The domain node i is in for constraint sp; -1 when sp cannot refuse
 * (by host without hosts: one domain). */
static long spread_domain(const struct st_sched_cluster *c, const struct st_sched_spread *sp,
                          size_t i)
{
    if (!sp->by_host)
        return (long)i;
    if (c->hosts == NULL || c->nodes[i].host >= c->n_hosts)
        return -1;
    return (long)c->nodes[i].host;
}

/* The fewest matching pods in a domain with a ready or adopting node. */
static int spread_min(const struct st_sched_cluster *c, const struct st_sched_spread *sp)
{
    int min = -1;
    for (size_t i = 0; i < c->n_nodes; i++) {
        long d = spread_domain(c, sp, i);
        if (d >= 0 && (c->nodes[i].ready || c->nodes[i].adopting) &&
            (min < 0 || sp->count[d] < min))
            min = sp->count[d];
    }
    return min < 0 ? 0 : min;
}

/* The first constraint node i breaks (placing the pod there would make its
 * domain's skew exceed maxSkew), or -1. */
static int spread_broken(const struct st_sched_cluster *c, const struct st_sched_pod *p,
                         const int *min, size_t i)
{
    for (size_t k = 0; k < p->n_spread && k < ST_SCHED_SPREAD_MAX; k++) {
        const struct st_sched_spread *sp = &p->spread[k];
        long d = spread_domain(c, sp, i);
        if (d >= 0 && sp->count[d] + (sp->self_match ? 1 : 0) - min[k] > sp->max_skew)
            return (int)k;
    }
    return -1;
}

int st_schedule(const struct st_sched_pod *pod, const struct st_sched_cluster *c, char *reason,
                size_t reason_len)
{
    const struct st_sched_node *nodes = c->nodes;
    size_t n = c->n_nodes;
    int best = -1, adopting = -1;
    struct rank best_rank = {0};
    size_t not_ready = 0, cpu_short_n = 0, mem_short_n = 0;
    size_t skewed_n[ST_SCHED_SPREAD_MAX] = {0}; /* nodes refused by each constraint */
    int min[ST_SCHED_SPREAD_MAX];
    for (size_t k = 0; k < pod->n_spread && k < ST_SCHED_SPREAD_MAX; k++)
        min[k] = spread_min(c, &pod->spread[k]);
    for (size_t i = 0; i < n; i++) {
        const struct st_sched_node *node = &nodes[i];
        bool cpu_short, mem_short;
        if (!node->ready) {
            not_ready++;
            if (node->adopting && node_fits(node, pod, &cpu_short, &mem_short) &&
                spread_broken(c, pod, min, i) < 0 &&
                (adopting < 0 || spread_cmp(c, i, (size_t)adopting) < 0))
                adopting = (int)i;
            continue;
        }
        /* One reason a node, in kube-scheduler's order: resources, then
         * topology spread. */
        if (!node_fits(node, pod, &cpu_short, &mem_short)) {
            cpu_short_n += cpu_short;
            mem_short_n += mem_short;
            continue;
        }
        int broken = pod->n_spread ? spread_broken(c, pod, min, i) : -1;
        if (broken >= 0) {
            skewed_n[broken]++;
            continue;
        }
        struct rank r = {.node = node, .host_owner = host_owner_pods(c, i)};
        if (best < 0 || better(&r, &best_rank, pod)) {
            best = (int)i;
            best_rank = r;
        }
    }
    if (adopting >= 0 && (best < 0 || spread_cmp(c, (size_t)adopting, (size_t)best) < 0)) {
        if (reason && reason_len)
            snprintf(reason, reason_len, "waiting for node %s to report after a restart",
                     nodes[adopting].name);
        return ST_SCHED_WAIT;
    }
    if (best >= 0 || reason == NULL || reason_len == 0)
        return best;

    int len = snprintf(reason, reason_len, "0/%zu nodes", n);
    const char *sep = ": ";
    struct why {
        size_t count;
        const char *what;
        const struct st_sched_spread *spread; /* a maxSkew refusal: its figure and key */
    } why[3 + ST_SCHED_SPREAD_MAX] = {{cpu_short_n, "insufficient cpu", NULL},
                                      {mem_short_n, "insufficient memory", NULL}};
    size_t nwhy = 2;
    for (size_t k = 0; k < pod->n_spread && k < ST_SCHED_SPREAD_MAX; k++)
        why[nwhy++] = (struct why){skewed_n[k], "would exceed maxSkew", &pod->spread[k]};
    why[nwhy++] = (struct why){not_ready, "not ready", NULL};
    for (size_t k = 0; k < nwhy; k++) {
        if (why[k].count == 0 || len < 0 || (size_t)len >= reason_len)
            continue;
        if (why[k].spread)
            len += snprintf(reason + len, reason_len - (size_t)len, "%s%zu %s %d on %s", sep,
                            why[k].count, why[k].what, why[k].spread->max_skew,
                            why[k].spread->topology_key ? why[k].spread->topology_key : "");
        else
            len += snprintf(reason + len, reason_len - (size_t)len, "%s%zu %s", sep, why[k].count,
                            why[k].what);
        sep = ", ";
    }
    if (n == 0 && len >= 0 && (size_t)len < reason_len)
        snprintf(reason + len, reason_len - (size_t)len,
                 ": no nodes; add one with 'stratactl node add NAME'");
    return -1;
}

void st_sched_count_owner(struct st_sched_cluster *c, size_t node, int delta)
{
    c->nodes[node].owner_pods += delta;
    size_t h = c->nodes[node].host;
    if (c->hosts && h < c->n_hosts)
        c->hosts[h].owner_pods += delta;
}

void st_sched_assume(struct st_sched_cluster *c, size_t node, const struct st_sched_pod *pod,
                     bool same_owner)
{
    struct st_sched_node *n = &c->nodes[node];
    n->cpu_requested_m += pod->cpu_m;
    n->mem_requested += pod->mem;
    n->pods++;
    if (same_owner)
        st_sched_count_owner(c, node, 1);
}
