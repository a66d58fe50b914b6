/* scheduler.h: choosing a node for a pod. Filters Ready nodes with enough
 * unrequested cpu and memory, scores to spread one owner's replicas, breaks
 * ties deterministically. Pure: no store, no clock, no I/O (binding is the
 * caller's transaction). */
#ifndef STRATA_SCHEDULER_H
#define STRATA_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_sched_node {
    const char *name;
    bool ready;
    /* Not ready yet, but about to be: stratad restarted and waits for the
     * node's hello (or fences it within the grace). Its pods are still
     * counted, and a pod that would spread better there waits for it. */
    bool adopting;
    int64_t cpu_capacity_m;  /* allocatable millicores */
    int64_t mem_capacity;    /* allocatable bytes */
    int64_t cpu_requested_m; /* sum of the requests of the pods bound to it */
    int64_t mem_requested;
    int owner_pods; /* pods of the same owner (deployment) already bound to it */
    int pods;       /* all pods bound to it */
};

struct st_sched_pod {
    int64_t cpu_m; /* requests */
    int64_t mem;
};

/* Picks a node for pod. Returns its index in nodes, or -1 when none fits;
 * then reason (if not NULL) says why, the way kube-scheduler does:
 * "0/3 nodes: 3 insufficient memory". Returns ST_SCHED_WAIT when an
 * adopting node that fits holds fewer of the owner's pods than the best
 * ready node (or no ready node fits): deciding now would pile replicas up
 * on whichever node answered first after a restart; reason says which. */
#define ST_SCHED_WAIT (-2)
int st_schedule(const struct st_sched_pod *pod, const struct st_sched_node *nodes, size_t n,
                char *reason, size_t reason_len);

/* Records the pod on nodes[i] (requests, pod counts) so the next decision
 * in a batch sees it. */
void st_sched_assume(struct st_sched_node *node, const struct st_sched_pod *pod, bool same_owner);

#endif
