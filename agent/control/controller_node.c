/* controller_node.c: what the node controller writes: Node status (Ready
 * condition, phase, capacity), pods lost with their node, and pod status as
 * nodes report it. It never fences or talks to a node: stratad's node
 * manager decides when, this file records what. */
#include "strata/controller.h"
#include "strata/cleanup.h"
#include "strata/time.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define COMPONENT "node-controller"

static int patch_fn(json_t *obj, void *arg, st_error *err)
{
    (void)err;
    st_json_merge_patch(obj, arg);
    return 1;
}

int st_control_node_patch(st_store *s, const char *node, json_t *patch, st_error *err)
{
    int r = st_store_mutate(s, "Node", "", node, patch_fn, patch, NULL, err);
    return r < 0 ? r : 0;
}

struct ready_arg {
    const char *status, *phase, *reason, *message;
};

static json_t *status_of(json_t *obj)
{
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "status", st);
    }
    return st;
}

static json_t *child(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(obj, key, c);
    }
    return c;
}

/* Sets condition type in status.conditions; the transition time moves only
 * when the status does. Returns whether anything changed. */
static bool set_condition(json_t *st, const char *type, const char *status, const char *reason,
                          const char *message)
{
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    json_t *c = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(conds, i, it)
    {
        const char *t = json_string_value(json_object_get(it, "type"));
        if (t && strcmp(t, type) == 0)
            c = it;
    }
    char now[32];
    st_time_now_rfc3339(now);
    if (c == NULL) {
        c = json_pack("{s:s, s:s, s:s}", "type", type, "status", status, "lastTransitionTime", now);
        json_array_append_new(conds, c);
    } else {
        const char *old = json_string_value(json_object_get(c, "status"));
        const char * or = json_string_value(json_object_get(c, "reason"));
        const char *om = json_string_value(json_object_get(c, "message"));
        if (old && strcmp(old, status) == 0 && (reason == NULL || (or &&strcmp(or, reason) == 0)) &&
            (message == NULL || (om && strcmp(om, message) == 0)))
            return false;
        if (!old || strcmp(old, status) != 0)
            json_object_set_new(c, "lastTransitionTime", json_string(now));
        json_object_set_new(c, "status", json_string(status));
    }
    if (reason)
        json_object_set_new(c, "reason", json_string(reason));
    if (message)
        json_object_set_new(c, "message", json_string(message));
    return true;
}

bool st_condition_set(json_t *obj, const char *type, const char *status, const char *reason,
                      const char *message)
{
    return set_condition(status_of(obj), type, status, reason, message);
}

static int ready_fn(json_t *obj, void *arg, st_error *err)
{
    (void)err;
    struct ready_arg *a = arg;
    json_t *st = status_of(obj);
    bool changed = set_condition(st, "Ready", a->status, a->reason, a->message);
    json_t *strata = child(st, "strata");
    const char *ph = json_string_value(json_object_get(strata, "phase"));
    if (a->phase && (!ph || strcmp(ph, a->phase) != 0)) {
        json_object_set_new(strata, "phase", json_string(a->phase));
        changed = true;
    }
    return changed;
}

int st_control_node_set_ready(st_store *s, const char *node, const char *status, const char *phase,
                              const char *reason, const char *message, st_error *err)
{
    struct ready_arg a = {status, phase, reason, message};
    int r = st_store_mutate(s, "Node", "", node, ready_fn, &a, NULL, err);
    return r < 0 ? r : 0;
}

/* ---- lost nodes --------------------------------------------------------- */

/* Nobody can vouch for the containers of a pod whose node is silent or
 * gone: none is shown ready. */
static void containers_not_ready(json_t *st)
{
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(st, "containerStatuses"), i, cs)
        json_object_set_new(cs, "ready", json_false());
}

static int lost_fn(json_t *pod, void *arg, st_error *err)
{
    (void)err;
    if (st_pod_is_terminal(pod))
        return 0;
    json_t *st = status_of(pod);
    json_object_set_new(st, "phase", json_string("Failed"));
    json_object_set_new(st, "reason", json_string("NodeLost"));
    json_object_set_new(st, "message", json_string(arg));
    set_condition(st, "Ready", "False", "NodeLost", NULL);
    containers_not_ready(st);
    return 1;
}

/* The pods bound to node (of namespace ns; NULL: any). */
static int pods_on(st_store *s, const char *node, const char *ns, json_t **out, st_error *err)
{
    char sel[300];
    snprintf(sel, sizeof(sel), "spec.nodeName=%s", node);
    st_store_query q = {.kind = "Pod", .namespace = ns, .field_selector = sel};
    return st_store_list(s, &q, out, err);
}

/* Runs fn over every pod bound to node; *changed (may be NULL) counts the
 * pods written, and each gets the event type/reason/event_msg when reason is
 * not NULL. */
static int node_pods_mutate(st_store *s, const char *node, st_store_mutate_fn fn, void *arg,
                            const char *type, const char *reason, const char *event_msg,
                            int *changed, st_error *err)
{
    if (changed)
        *changed = 0;
    _cleanup_json_ json_t *pods = NULL;
    int r = pods_on(s, node, NULL, &pods, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        json_t *md = json_object_get(p, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        r = st_store_mutate(s, "Pod", ns, name, fn, arg, NULL, err);
        if (r == -ENOENT) {
            st_error_clear(err);
            continue;
        }
        if (r < 0)
            return r;
        if (r != ST_STORE_WRITE)
            continue;
        if (changed)
            (*changed)++;
        if (reason)
            st_event_record(s, "Pod", ns, name, type, reason, COMPONENT, "%s", event_msg);
    }
    return 0;
}

int st_control_node_lost(st_store *s, const char *node, const char *why, int *lost, st_error *err)
{
    char msg[512], ev[600];
    snprintf(msg, sizeof(msg), "node %s was lost (%s)", node, why);
    snprintf(ev, sizeof(ev), "Marked lost: %s; it will be replaced on a Ready node", msg);
    return node_pods_mutate(s, node, lost_fn, msg, "Warning", "NodeLost", ev, lost, err);
}

/* ---- silent nodes --------------------------------------------------------- */

/* As the Kubernetes node lifecycle controller does (MarkPodsNotReady): the
 * pod may still run, so its phase and binding stay, but it is not ready. */
static int unknown_fn(json_t *pod, void *arg, st_error *err)
{
    (void)err;
    if (st_pod_is_terminal(pod))
        return 0;
    json_t *st = status_of(pod);
    json_t *snapshot = json_deep_copy(st);
    json_object_set_new(st, "reason", json_string("NodeLost"));
    json_object_set_new(st, "message", json_string(arg));
    set_condition(st, "Ready", "False", NULL, NULL);
    containers_not_ready(st);
    int changed = !json_equal(snapshot, st);
    json_decref(snapshot);
    return changed;
}

/* Undoes what unknown_fn marked and the node did not report again. */
static int known_fn(json_t *pod, void *arg, st_error *err)
{
    (void)arg;
    (void)err;
    json_t *st = json_object_get(pod, "status");
    const char *reason = json_string_value(json_object_get(st, "reason"));
    if (st_pod_is_terminal(pod) || reason == NULL || strcmp(reason, "NodeLost") != 0)
        return 0;
    json_object_del(st, "reason");
    json_object_del(st, "message");
    return 1;
}

int st_control_node_pods_unknown(st_store *s, const char *node, const char *why, int *changed,
                                 st_error *err)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "node %s is unresponsive (%s); the pod may still run there", node,
             why);
    return node_pods_mutate(s, node, unknown_fn, msg, "Warning", "NodeNotReady", msg, changed, err);
}

int st_control_node_pods_known(st_store *s, const char *node, int *changed, st_error *err)
{
    return node_pods_mutate(s, node, known_fn, NULL, NULL, NULL, NULL, changed, err);
}

/* ---- pod status from a node ------------------------------------------------ */

struct status_arg {
    const st_control_pod_report *rep;
    int64_t old_restarts;
    bool changed_phase;
};

/* The one container status a report without any stands for. */
static json_t *container_status(json_t *pod, const st_control_pod_report *rep)
{
    json_t *c0 = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    const char *cname = json_string_value(json_object_get(c0, "name"));
    const char *image = json_string_value(json_object_get(c0, "image"));
    json_int_t code = rep->has_exit_code ? rep->exit_code : 0;
    json_t *state;
    if (strcmp(rep->phase, "Running") == 0)
        state = json_pack("{s:{}}", "running");
    else if (strcmp(rep->phase, "Pending") == 0)
        state = json_pack("{s:{s:s, s:s}}", "waiting", "reason",
                          rep->reason ? rep->reason : "ContainerCreating", "message",
                          rep->message ? rep->message : "");
    else
        state = json_pack("{s:{s:I, s:s}}", "terminated", "exitCode", code, "reason",
                          rep->reason ? rep->reason : (code == 0 ? "Completed" : "Error"));
    json_t *cs = json_pack("{s:s, s:s, s:b, s:I, s:o}", "name", cname ? cname : "main", "image",
                           image ? image : "", "ready", rep->ready, "restartCount",
                           (json_int_t)rep->restarts, "state", state);
    /* A running container that restarted: why the last one ended. */
    if (strcmp(rep->phase, "Running") == 0 && rep->restarts > 0 && rep->reason)
        json_object_set_new(
            cs, "lastState",
            json_pack("{s:{s:I, s:s}}", "terminated", "exitCode", code, "reason", rep->reason));
    return cs;
}

static int status_fn(json_t *pod, void *arg, st_error *err)
{
    (void)err;
    struct status_arg *a = arg;
    const st_control_pod_report *rep = a->rep;
    json_t *st = status_of(pod);
    json_t *old_cs = json_array_get(json_object_get(st, "containerStatuses"), 0);
    a->old_restarts = json_integer_value(json_object_get(old_cs, "restartCount"));
    const char *old_phase = json_string_value(json_object_get(st, "phase"));
    a->changed_phase = !old_phase || strcmp(old_phase, rep->phase) != 0;
    _cleanup_json_ json_t *snapshot = json_deep_copy(st);
    json_object_set_new(st, "phase", json_string(rep->phase));
    set_condition(st, "PodScheduled", "True", NULL, NULL);
    set_condition(st, "Ready", rep->ready ? "True" : "False", NULL, NULL);
    if (json_array_size(rep->containers) > 0)
        json_object_set(st, "containerStatuses", rep->containers);
    else
        json_object_set_new(st, "containerStatuses", json_pack("[o]", container_status(pod, rep)));
    if (strcmp(rep->phase, "Running") != 0 && rep->reason)
        json_object_set_new(st, "reason", json_string(rep->reason));
    else
        json_object_del(st, "reason");
    if (rep->message && *rep->message)
        json_object_set_new(st, "message", json_string(rep->message));
    else
        json_object_del(st, "message");
    if (rep->reason)
        json_object_set_new(st, "lastReason", json_string(rep->reason));
    if (rep->pod_ip && *rep->pod_ip) {
        json_object_set_new(st, "podIP", json_string(rep->pod_ip));
        json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", rep->pod_ip));
    }
    if (!json_object_get(st, "startTime") && strcmp(rep->phase, "Running") == 0) {
        char now[32];
        st_time_now_rfc3339(now);
        json_object_set_new(st, "startTime", json_string(now));
    }
    return !json_equal(snapshot, st);
}

/* A Terminating pod its node has stopped: graceful deletion ends, the
 * object goes (kubectl shows the deletion after Terminating). */
static int stopped_while_terminating(st_store *s, json_t *pod, st_error *err)
{
    json_t *md = json_object_get(pod, "metadata");
    int r = st_control_pod_stopped(s, json_string_value(json_object_get(md, "namespace")),
                                   json_string_value(json_object_get(md, "name")),
                                   json_string_value(json_object_get(md, "uid")), err);
    return r < 0 ? r : 1;
}

/* The events a report is worth: restarts, trouble, a new phase. */
static void status_events(st_store *s, const char *node, const char *ns, const char *name,
                          const struct status_arg *a)
{
    const st_control_pod_report *rep = a->rep;
    const char *reason = rep->reason;
    if (rep->restarts > a->old_restarts)
        st_event_record(s, "Pod", ns, name, "Warning", "BackOff", "kubelet",
                        "Container restarted (restart %lld on %s, last ended: %s)",
                        (long long)rep->restarts, node, reason ? reason : "Error");
    bool trouble =
        reason && (strcmp(rep->phase, "Pending") == 0 || strcmp(rep->phase, "Failed") == 0);
    if (a->changed_phase && trouble)
        st_event_record(s, "Pod", ns, name, "Warning", "Failed", "kubelet", "%s: %s", reason,
                        rep->message ? rep->message : "see stratactl describe");
    else if (a->changed_phase)
        st_event_record(s, "Pod", ns, name, "Normal", rep->phase, "kubelet", "Pod is %s on %s%s%s",
                        rep->phase, node, reason ? ": " : "", reason ? reason : "");
}

int st_control_pod_status(st_store *s, const char *node, const st_control_pod_report *rep,
                          st_error *err)
{
    if (rep->uid == NULL || rep->phase == NULL)
        return st_error_set(err, EINVAL, "node %s: a pod report needs the pod's uid and phase",
                            node);
    _cleanup_json_ json_t *pods = NULL;
    int r = pods_on(s, node, rep->ns, &pods, err);
    if (r < 0)
        return r;
    json_t *pod = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *uid = json_string_value(json_object_get(json_object_get(p, "metadata"), "uid"));
        if (uid && strcmp(uid, rep->uid) == 0)
            pod = p;
    }
    if (pod && st_pod_is_terminating(pod) &&
        (rep->removed || strcmp(rep->phase, "Succeeded") == 0 || strcmp(rep->phase, "Failed") == 0))
        return stopped_while_terminating(s, pod, err);
    if (pod == NULL || st_pod_is_terminal(pod))
        return pod == NULL ? 0 : 1;
    json_t *md = json_object_get(pod, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    struct status_arg a = {.rep = rep};
    r = st_store_mutate(s, "Pod", ns, name, status_fn, &a, NULL, err);
    if (r == -ENOENT) {
        st_error_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    status_events(s, node, ns, name, &a);
    return 1;
}
