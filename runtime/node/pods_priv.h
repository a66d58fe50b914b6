/* pods_priv.h: what the pod table (pods.c) and one container's lifecycle
 * (pod_ctr.c) share inside strata-node: the table itself and the container
 * steps the pod code drives. Only runtime/node/ includes it. */
#ifndef STRATA_NODE_PODS_PRIV_H
#define STRATA_NODE_PODS_PRIV_H

#include "node.h"

/* terminationGracePeriodSeconds above this is cut: a node agent must not
 * keep a stopping pod (and the host waiting) for the default 30 s. */
#define MAX_GRACE_S 10
/* While SIGKILLed processes go, the kill is repeated at this interval. */
#define KILL_REPEAT_MS 1000

struct st_node_pods {
    struct st_node_podnet *net; /* the pod network, or NULL */
    json_t *services;           /* the last Services snapshot (array), or NULL */
    char *images_dir;
    char *pods_dir; /* <state>/pods: overlays, per pod and container */
    char *run_dir;  /* <state>/run: the runtime's container state */
    long long backoff_base_ms;
    struct st_node_self_fence *fence; /* or NULL */
    st_node_emit_fn emit;
    void *ctx;
    struct st_node_pod *head;
    json_t *states;
    bool states_dirty;
    uint64_t generation; /* bumped with states_dirty: the heartbeat's digest is stale */
};

/* A log line of a container: sent to the host as a log message. */
void st_node_ctr_log_line(void *ctx, const char *stream, const char *line);
/* The pod's grace period, cut to MAX_GRACE_S. */
int st_node_pod_grace_s(const struct st_node_pod *pod);
/* "10s" or "1500ms", as the kubelet writes a back-off. */
void st_node_format_delay(long long ms, char *buf, size_t len);

/* Nothing of the pod starts again by itself: pod_stop or the self-fence
 * stopped it. */
static inline bool st_node_pod_halted(const struct st_node_pod *pod)
{
    return pod->stopping || pod->fenced;
}
/* Stops the pod for the self-fence (pods.c): SIGKILLs its containers,
 * cancels restarts, records why (message) for its status. The caller
 * settles the pod. */
void st_node_pod_fence(struct st_node_pod *pod, const char *message, int64_t deadline_ns,
                       int64_t now);

/* One container's lifecycle (pod_ctr.c). */
void st_node_ctr_begin(struct st_node_ctr *c, int64_t now);
void st_node_ctr_kill(struct st_node_ctr *c, int grace, const char *message, int64_t now);
void st_node_ctr_process(struct st_node_ctr *c, int64_t now);
void st_node_ctr_teardown(struct st_node_ctr *c);
void st_node_ctr_watch(struct st_node_ctr *c, struct st_node_pollset *ps, int64_t now, int *r);

#endif
