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

/* true when a is a better home than b. Spreading one owner's replicas comes
 * first (no host gets a second replica while a host with a feasible node has
 * none, no node while a feasible node on an equally loaded host has none),
 * then free capacity, then fewer pods, then the name, so the choice never
 * depends on the order nodes were listed in. */
static bool better(const struct st_sched_cluster *c, size_t a, size_t b,
                   const struct st_sched_pod *p)
{
    int spread = spread_cmp(c, a, b);
    if (spread != 0)
        return spread < 0;
    const struct st_sched_node *na = &c->nodes[a], *nb = &c->nodes[b];
    int64_t fa = free_score(na, p), fb = free_score(nb, p);
    if (fa != fb)
        return fa > fb;
    if (na->pods != nb->pods)
        return na->pods < nb->pods;
    return strcmp(na->name, nb->name) < 0;
}

int st_schedule(const struct st_sched_pod *pod, const struct st_sched_cluster *c, char *reason,
                size_t reason_len)
{
    const struct st_sched_node *nodes = c->nodes;
    size_t n = c->n_nodes;
    int best = -1, adopting = -1;
    size_t not_ready = 0, cpu_short_n = 0, mem_short_n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct st_sched_node *node = &nodes[i];
        bool cpu_short, mem_short;
        if (!node->ready) {
            not_ready++;
            if (node->adopting && node_fits(node, pod, &cpu_short, &mem_short) &&
                (adopting < 0 || spread_cmp(c, i, (size_t)adopting) < 0))
                adopting = (int)i;
            continue;
        }
        if (!node_fits(node, pod, &cpu_short, &mem_short)) {
            cpu_short_n += cpu_short;
            mem_short_n += mem_short;
            continue;
        }
        if (best < 0 || better(c, i, (size_t)best, pod))
            best = (int)i;
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
    struct {
        size_t count;
        const char *what;
    } why[] = {{cpu_short_n, "insufficient cpu"},
               {mem_short_n, "insufficient memory"},
               {not_ready, "not ready"}};
    for (size_t k = 0; k < sizeof(why) / sizeof(why[0]); k++) {
        if (why[k].count == 0 || len < 0 || (size_t)len >= reason_len)
            continue;
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
