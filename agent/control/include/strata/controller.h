/* controller.h: stratad's controllers as level-triggered passes over the
 * store: deployments keep their replicas, pending pods get nodes, lost nodes
 * give up their pods, node reports become pod status. Each pass reads the
 * store, decides (deploy_plan, scheduler) and writes; it never talks to
 * libvirt or a node, so every rule runs against the in-memory store. */
#ifndef STRATA_CONTROLLER_H
#define STRATA_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/store.h"
#include "strata/delete_options.h"

/* ---- events ----------------------------------------------------------- */

/* Records a core/v1 Event about kind/ns/name: type "Normal" or "Warning",
 * a CamelCase reason, a message, and the component that acted ("deployment-
 * controller", "scheduler", "node-controller", "stratad"). Best effort: a
 * failure is returned but callers may go on. */
int st_event_record(st_store *s, const char *kind, const char *ns, const char *name,
                    const char *type, const char *reason, const char *component, const char *fmt,
                    ...) __attribute__((format(printf, 8, 9)));

/* The same Event, ready to store (st_store_apply_batch with
 * ST_STORE_CREATE), for a pass that records many in one transaction. NULL
 * when out of memory. */
json_t *st_event_build(const char *kind, const char *ns, const char *name, const char *type,
                       const char *reason, const char *component, const char *msg);

/* ---- pods ------------------------------------------------------------- */

/* A pod that ended (Succeeded or Failed) holds no capacity and is not run. */
bool st_pod_is_terminal(json_t *pod);
/* The condition of that type in obj's status.conditions (borrowed), or NULL. */
json_t *st_condition_find(json_t *obj, const char *type);
/* Sets status.conditions[type] of obj (made when missing) as Kubernetes
 * does: lastTransitionTime moves only when the status does; reason and
 * message (NULL: left as they are) are replaced. Whether anything changed. */
bool st_condition_set(json_t *obj, const char *type, const char *status, const char *reason,
                      const char *message);
/* status.conditions[type=type].status of a Pod or Node ("True", "False",
 * "Unknown"; "" when unset), NULL when there is no such condition. */
const char *st_condition_status(json_t *obj, const char *type);
/* status.conditions[type=Ready].status == "True". */
bool st_pod_is_ready(json_t *pod);
/* metadata.deletionTimestamp is set: the pod is going away (Terminating);
 * it is no longer a replica, and its node is told to stop it. */
bool st_pod_is_terminating(json_t *pod);

/* ---- deployment controller -------------------------------------------- */

/* For every Deployment not being deleted: creates pods of the current
 * template (name DEPLOY-HASH-XXXXX, labels + pod-template-hash, a
 * controller ownerReference with the deployment's uid), deletes extras
 * (gracefully, st_control_delete), failed and lost pods (st_deploy_plan), and
 * writes status.replicas/readyReplicas/updatedReplicas/availableReplicas
 * and observedGeneration when they changed. Terminating pods are not
 * replicas: their replacements are created at once. Events say who did
 * what. */
int st_control_deployments(st_store *s, st_error *err);

/* ---- deletion and the garbage collector (controller_gc.c) ------------- */

/* A pod's grace period when its manifest gives none (Kubernetes' default). */
#define ST_POD_GRACE_DEFAULT_S 30

/* Deletes kind/ns/name as the Kubernetes API server does. A Pod bound to a
 * live node (Ready not False) is marked, not removed: metadata.
 * deletionTimestamp (now + grace) and deletionGracePeriodSeconds; its node
 * is told to stop it and the object goes once the node reports it stopped
 * (st_control_pod_stopped) or the collector finds nothing can run it any more.
 * grace_s < 0: the pod's terminationGracePeriodSeconds; 0: removed at once.
 * A Pod that is not bound, has ended, or whose node is gone is removed at
 * once. Any other object is removed at once with Background or when nothing
 * depends on it; otherwise it gets a deletionTimestamp and the policy's
 * finalizer and waits for the collector. A Namespace becomes Terminating
 * (st_control_namespace_delete). *out (may be NULL): the object as it
 * stays, or NULL when it was removed. -ENOENT when there is none. */
int st_control_delete(st_store *s, const char *kind, const char *ns, const char *name,
                      st_propagation policy, int grace_s, json_t **out, st_error *err);

/* The garbage collector, a level-triggered pass over the store: owners
 * matched by uid, so what a crash or restart interrupted is finished by the
 * next pass. Dependents whose owners are all gone are deleted (as
 * st_control_delete), references to gone owners are dropped; owners waiting on
 * a finalizer get their dependents deleted (foregroundDeletion) or released
 * (orphan) and then go; Terminating pods are removed once unbound, ended,
 * on a node that is gone or not Ready, or ST_GC_STOP_SLACK_S past their
 * deletionTimestamp (their node had its grace and more to report). */
#define ST_GC_STOP_SLACK_S 15
/* Sets metadata.deletionTimestamp (now) and deletionGracePeriodSeconds 0
 * on an object that is not being deleted yet: it waits for its content. */
void st_object_mark_deleted(json_t *obj);
int st_control_gc(st_store *s, st_error *err);

/* ---- namespaces (controller_namespace.c) ------------------------------ */

/* "default", "kube-system", "kube-public" and "kube-node-lease" are made
 * (status.phase Active) when missing; the server does it at open. */
int st_control_namespaces_ensure(st_store *s, st_error *err);
/* "default", "kube-system" and "kube-public" may not be deleted. */
bool st_namespace_is_protected(const char *name);
/* metadata.deletionTimestamp is set: the namespace is being emptied. */
bool st_namespace_is_terminating(json_t *ns);
/* May kind ns/name be created? -ENOENT: no namespace ns ("namespaces \"x\"
 * not found"); -EACCES: ns is Terminating ("WHAT is forbidden: unable to
 * create new content in namespace ..."), unless may_exist and the object is
 * stored already (an apply that changes what is there). what: the object as
 * the message names it, 'pods "web"'. */
int st_control_namespace_admit(st_store *s, const char *kind, const char *ns, const char *name,
                               bool may_exist, const char *what, st_error *err);
/* Marks namespace name Terminating (deletionTimestamp, status.phase);
 * st_control_namespaces empties and removes it. -EACCES for a protected
 * namespace ("this namespace may not be deleted"). *out (may be NULL): the
 * namespace as it stays. */
int st_control_namespace_delete(st_store *s, const char *name, json_t **out, st_error *err);
/* A pass (run by st_control_gc): every Terminating namespace has its
 * Deployments, Services, Endpoints, Secrets and Pods deleted (pods
 * gracefully); once none is left, its Events and the namespace go. */
int st_control_namespaces(st_store *s, st_error *err);

/* The node no longer runs pod ns/name with uid (it reported it stopped, or
 * never started it): a Terminating pod with that uid is removed. Returns 1
 * when removed, 0 when there was nothing to remove, negative on error
 * (-ST_ECONFLICT: the pod kept changing under every attempt). */
int st_control_pod_stopped(st_store *s, const char *ns, const char *name, const char *uid,
                           st_error *err);

/* ---- scheduler -------------------------------------------------------- */

/* Binds every unscheduled, non-terminal pod to a node (one transaction for
 * the pass). A pod that fits nowhere gets condition PodScheduled=False with
 * kube-scheduler's reason ("0/3 nodes: 3 insufficient memory") and one
 * FailedScheduling event per distinct reason. Nodes count when their Ready
 * condition is True; capacity is status.strata.cpuMillis/memoryBytes. A
 * binding that lost a race (a pod deleted or bound meanwhile) makes the
 * pass run again on a fresh read, a few times, then -ST_ECONFLICT. */
int st_control_schedule(st_store *s, int *bound, st_error *err);

/* ---- nodes ------------------------------------------------------------ */

/* The node is gone (VM dead, fenced or removed): every non-terminal pod
 * bound to it becomes Failed with reason NodeLost and the message why, with
 * a NodeLost event each; the deployment controller then replaces them. The
 * pods' count in *lost (may be NULL). */
int st_control_node_lost(st_store *s, const char *node, const char *why, int *lost, st_error *err);

/* The node is silent or being fenced: nobody knows whether its pods still
 * run. Every non-terminal pod bound to it keeps its phase and node but gets
 * Ready=False, every container ready=false, status.reason NodeLost and a
 * message with why (READY 0/1 and STATUS NodeLost in `get pods`), and a
 * NodeNotReady event, as Kubernetes marks the pods of an unreachable node.
 * Nothing is replaced: that waits for st_control_node_lost. Idempotent; the
 * pods written in *changed (may be NULL). */
int st_control_node_pods_unknown(st_store *s, const char *node, const char *why, int *changed,
                                 st_error *err);

/* The node is heard from again: clears the NodeLost reason and message of
 * its non-terminal pods that st_control_node_pods_unknown marked and that no
 * pod_status has overwritten since (their readiness stays False until the
 * node reports it). */
int st_control_node_pods_known(st_store *s, const char *node, int *changed, st_error *err);

/* What a node reports about one pod it runs, in the control plane's
 * terms: the server turns the node protocol's message into this, so no
 * wire type reaches the controllers. Strings and containers are borrowed. */
typedef struct st_control_pod_report {
    const char *pod;   /* metadata.name */
    const char *uid;   /* metadata.uid: the incarnation the node runs; required */
    const char *ns;    /* metadata.namespace; NULL: not said */
    const char *phase; /* Pending, Running, Succeeded or Failed; required */
    bool ready;
    int64_t restarts;   /* of all its containers */
    bool has_exit_code; /* exit_code is the last container's end */
    int64_t exit_code;
    const char *reason;  /* NULL: none ("OOMKilled", "ErrImagePull", "CrashLoopBackOff") */
    const char *message; /* NULL: none; what a person should read */
    bool removed;        /* the node stopped it and forgot it */
    /* core/v1 ContainerStatus objects as the pod's status shows them; NULL
     * or empty: one is made up from the fields above. */
    json_t *containers;
    const char *pod_ip; /* status.podIP on the node's pod network; NULL: none yet */
} st_control_pod_report;

/* Applies a node's report to the pod bound to that node with that uid:
 * phase, Ready condition, the containers' status (ready, restartCount,
 * state, lastState with exitCode and reason), status.reason/message and
 * status.podIP/podIPs (kept when the report has none).
 * Events for restarts, OOMKilled and image errors. Returns 1 when a pod was
 * updated (or its deletion ended), 0 when the node reports a pod the store
 * no longer has (the caller should stop it), negative on error. */
int st_control_pod_status(st_store *s, const char *node, const st_control_pod_report *rep,
                          st_error *err);

/* ---- services (netalloc.h has their addresses) ----------------------- */

/* The endpoints controller (controller_endpoints.c): for every Service with
 * a selector and not being deleted, an Endpoints object of the same name
 * and namespace (ownerReference to the Service; its labels) whose subsets
 * list the selected pods that have status.podIP and are neither ended nor
 * Terminating: addresses for those Ready on a Ready node, notReadyAddresses
 * for the others, each {ip, nodeName, targetRef {kind Pod, name, namespace,
 * uid}}, and the ports each pod serves (a named targetPort resolved to that
 * pod's containerPort; a pod without the name is left out of that port).
 * Written only when the content changed, in one transaction; the count in
 * *written (may be NULL). Selector-less Services keep their Endpoints. */
int st_control_endpoints(st_store *s, int *written, st_error *err);

/* The subsets of st_control_endpoints for one Service (pure): pods is
 * every Pod, nodes the Nodes by name (an object). A new array, sorted so
 * the same pods always give the same subsets. */
json_t *st_endpoints_subsets(json_t *svc, json_t *pods, json_t *nodes);

/* Sets Node status fields under retry-on-conflict: merges patch (an object
 * with the same shape as the Node, only the keys to change) into the stored
 * Node. -ENOENT when the node is not stored. */
int st_control_node_patch(st_store *s, const char *node, json_t *patch, st_error *err);

/* Sets the Ready condition of a Node (True/False/Unknown) with reason and
 * message, and status.strata.phase; lastTransitionTime changes only when the
 * status does. */
int st_control_node_set_ready(st_store *s, const char *node, const char *status, const char *phase,
                              const char *reason, const char *message, st_error *err);

#endif
