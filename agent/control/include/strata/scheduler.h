/* scheduler.h: choosing a node for a pod. Filters Ready nodes with enough
 * unrequested cpu and memory, scores to spread one owner's replicas over
 * hosts first and nodes second, breaks ties deterministically. Pure: no
 * store, no clock, no I/O (binding is the caller's transaction). */
#ifndef STRATA_SCHEDULER_H
#define STRATA_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The machine one stratad runs on (a Node's label strata.io/host). Losing a
 * host loses all its nodes at once, so an owner's replicas spread over
 * hosts before nodes. Nodes without the label share one host (""): on a
 * single machine the host level changes nothing. */
struct st_sched_host {
    const char *name;
    /* The owner's pods bound to this host's nodes: always the sum of their
     * owner_pods (st_sched_count_owner keeps both). */
    int owner_pods;
};

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
    size_t host;    /* index in st_sched_cluster.hosts (ignored without hosts) */
};

/* What one decision sees. hosts NULL (n_hosts 0): every node on one host.
 * The caller fills it once per pass and updates it through
 * st_sched_count_owner and st_sched_assume; nothing here allocates. */
struct st_sched_cluster {
    struct st_sched_node *nodes;
    size_t n_nodes;
    struct st_sched_host *hosts;
    size_t n_hosts;
};

/* One of the pod's topologySpreadConstraints with whenUnsatisfiable
 * DoNotSchedule: no node whose domain would then hold more than max_skew
 * matching pods above the emptiest domain. Only domains with a ready or
 * adopting node count as the emptiest (Kubernetes' nodeTaintsPolicy:
 * Honor), so a lost host does not hold every replacement back. The caller
 * counts the matching pods (labelSelector, the pod's namespace, not
 * Terminating) per domain. */
struct st_sched_spread {
    const char *topology_key; /* as written, for the reason */
    bool by_host;    /* domains are hosts (strata.io/host); else nodes (kubernetes.io/hostname) */
    int max_skew;    /* >= 1 */
    bool self_match; /* the pod itself matches the labelSelector */
    /* Matching pods per domain: n_hosts entries by host, else n_nodes. By
     * host without hosts, every node is in one domain: nothing to refuse. */
    const int *count;
};

/* Constraints past this many are not read (Kubernetes allows one per
 * topologyKey and whenUnsatisfiable: Strata's two keys make at most two
 * DoNotSchedule ones). */
#define ST_SCHED_SPREAD_MAX 4

struct st_sched_pod {
    int64_t cpu_m; /* requests */
    int64_t mem;
    const struct st_sched_spread *spread; /* NULL when n_spread is 0 */
    size_t n_spread;
};

/* Picks a node for pod. Returns its index in c->nodes, or -1 when none
 * fits; then reason (if not NULL) says why, the way kube-scheduler does:
 * "0/3 nodes: 3 insufficient memory", "0/4 nodes: 2 insufficient memory, 2
 * would exceed maxSkew 1 on strata.io/host". Among the nodes that fit, the one on
 * the host holding fewest of the owner's pods wins, then the node holding
 * fewest, then free capacity. Returns ST_SCHED_WAIT when an adopting node
 * that fits would win that ranking over the best ready node (or no ready
 * node fits): deciding now would pile replicas up on whichever node
 * answered first after a restart; reason says which. */
#define ST_SCHED_WAIT (-2)
int st_schedule(const struct st_sched_pod *pod, const struct st_sched_cluster *c, char *reason,
                size_t reason_len);

/* Adds delta to the owner's pods on c->nodes[node] and on its host. */
void st_sched_count_owner(struct st_sched_cluster *c, size_t node, int delta);

/* Records the pod on c->nodes[node] (requests, pod counts, and the owner's
 * counts on the node and its host when same_owner) so the next decision in
 * a batch sees it. */
void st_sched_assume(struct st_sched_cluster *c, size_t node, const struct st_sched_pod *pod,
                     bool same_owner);

#endif
