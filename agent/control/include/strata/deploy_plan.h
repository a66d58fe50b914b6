/* deploy_plan.h: what the deployment controller should do next for one
 * Deployment, decided from its desired replicas and the pods it owns.
 * Level-triggered and pure: the same inputs give the same plan; the caller
 * writes the plan to the store and records the events. */
#ifndef STRATA_DEPLOY_PLAN_H
#define STRATA_DEPLOY_PLAN_H

#include <stdbool.h>
#include <stddef.h>

/* Kubernetes' pod phases as scale-down ranks them: Pending, then Unknown,
 * then Running go first. */
enum st_dp_phase { ST_DP_PENDING, ST_DP_UNKNOWN, ST_DP_RUNNING };

/* One pod the deployment owns. Pods being deleted (Terminating) are not
 * given: they no longer count as replicas. */
struct st_dp_pod {
    const char *name;
    const char *template_hash; /* the pod-template-hash label */
    const char *node;          /* spec.nodeName; NULL or "": not scheduled */
    enum st_dp_phase phase;
    bool ready;
    bool gone;          /* Failed, or lost with its node: removed and replaced */
    int restarts;       /* container restarts, summed */
    long long ready_ms; /* when it last turned ready; 0: unknown */
    long long created_ms;
};

enum { ST_DP_MAX_DELETE = 64 };

struct st_dp_plan {
    int create;                          /* pods of the current template to create */
    size_t n_delete;                     /* indices into the pods array */
    size_t delete_idx[ST_DP_MAX_DELETE]; /* the order is the order to delete in */
    bool rolling;                        /* pods of an older template remain */
};

/* Rolling updates use maxSurge 1 and maxUnavailable 0: one new pod beyond
 * replicas at a time, and an old pod goes only when enough others are ready.
 * Pods to delete are ranked as a ReplicaSet ranks them (Kubernetes'
 * ActivePodsWithRanks): unscheduled first, then Pending before Unknown
 * before Running, not ready before ready, then the pod whose node holds
 * more of this deployment's pods, then the one ready most recently, then
 * more restarts, then the newest. */
void st_deploy_plan(int replicas, const char *template_hash, const struct st_dp_pod *pods, size_t n,
                    struct st_dp_plan *plan);

/* A short stable hash of a pod template (its canonical JSON text), used as
 * the pod-template-hash label: 10 lowercase hex digits. */
void st_template_hash(const char *canonical_json, char out[11]);

#endif
