/* pod_status.c: what the host is told about a pod, computed from the pod
 * table with Kubernetes' rules: the phase (Pending until every container
 * was created; Succeeded or Failed once all ended for good; Running
 * otherwise; Failed, reason HostLost, once the self-fence killed it),
 * ready (every container running and ready), containerStatuses with state
 * and lastState, and a one-line summary (exitCode, reason, message) for
 * hosts that read no further. Reading only: it changes nothing, so the
 * caller can build a status at any time and compare. */
#include "node.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <string.h>

static const char *nonempty(const char *s)
{
    return s && s[0] ? s : NULL;
}

static json_t *term_json(const struct st_node_term *t)
{
    return json_pack("{s:{s:i, s:i, s:s, s:s?, s:s, s:s}}", "terminated", "exitCode", t->exit_code,
                     "signal", t->signal, "reason", t->reason, "message", nonempty(t->message),
                     "startedAt", t->started_at, "finishedAt", t->finished_at);
}

static bool ctr_ready(const struct st_node_ctr *c)
{
    return c->state == ST_NODE_CTR_RUNNING && c->kill_at < 0 && c->prober &&
           st_prober_ready(c->prober);
}

static json_t *ctr_json(const struct st_node_ctr *c)
{
    json_t *state = NULL;
    switch (c->state) {
    case ST_NODE_CTR_RUNNING:
        state = json_pack("{s:{s:s}}", "running", "startedAt", c->started_at);
        break;
    case ST_NODE_CTR_WAITING:
        state = json_pack("{s:{s:s, s:s?}}", "waiting", "reason", c->waiting_reason, "message",
                          nonempty(c->waiting_message));
        break;
    case ST_NODE_CTR_TERMINATED:
        state = term_json(&c->current);
        break;
    }
    json_t *last = c->last.set ? term_json(&c->last) : json_object();
    bool started = c->state == ST_NODE_CTR_RUNNING && c->prober && st_prober_started(c->prober);
    return json_pack("{s:s, s:s, s:b, s:b, s:i, s:o, s:o}", "name", c->spec->name, "image",
                     c->spec->image, "ready", ctr_ready(c), "started", started, "restartCount",
                     c->restart_count, "state", state, "lastState", last);
}

static const char *phase_of(const struct st_node_pod *pod)
{
    if (pod->reason != NULL)
        return "Pending";
    bool all_ended = true, any_failed = false, any_process = false;
    for (size_t i = 0; i < pod->n_ctrs; i++)
        any_process = any_process || pod->ctrs[i].c != NULL;
    /* stopped by the self-fence: Failed once its killed containers are gone */
    if (pod->fenced && !any_process)
        return "Failed";
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const struct st_node_ctr *c = &pod->ctrs[i];
        if (!c->created_once)
            return "Pending";
        if (c->state != ST_NODE_CTR_TERMINATED)
            all_ended = false;
        else if (c->current.exit_code != 0)
            any_failed = true;
    }
    if (!all_ended)
        return "Running";
    return any_failed ? "Failed" : "Succeeded";
}

/* The summary: a pod-level failure, else a container that cannot start,
 * else the end of a container (the current one, then the last one). */
static void summary(const struct st_node_pod *pod, struct st_proto_pod_status *ps)
{
    if (pod->fenced) {
        ps->reason = ST_NODE_REASON_HOST_LOST;
        ps->message = pod->fence_message;
        return;
    }
    if (pod->reason) {
        ps->reason = pod->reason;
        ps->message = pod->message;
        return;
    }
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const struct st_node_ctr *c = &pod->ctrs[i];
        if (c->state == ST_NODE_CTR_WAITING && strcmp(c->waiting_reason, "CrashLoopBackOff") != 0 &&
            strcmp(c->waiting_reason, "ContainerCreating") != 0) {
            ps->reason = c->waiting_reason;
            ps->message = nonempty(c->waiting_message);
            return;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < pod->n_ctrs; i++) {
            const struct st_node_ctr *c = &pod->ctrs[i];
            const struct st_node_term *t =
                pass == 0 ? (c->state == ST_NODE_CTR_TERMINATED ? &c->current : NULL)
                          : (c->last.set ? &c->last : NULL);
            if (t == NULL)
                continue;
            ps->has_exit_code = true;
            ps->exit_code = t->exit_code;
            ps->reason = t->reason;
            ps->message = nonempty(t->message);
            if (ps->message == NULL && c->state == ST_NODE_CTR_WAITING)
                ps->message = nonempty(c->waiting_message);
            return;
        }
    }
}

json_t *st_node_pod_status(const struct st_node_pod *pod, bool removed, st_error *err)
{
    struct st_proto_pod_status ps = {
        .pod = pod->name,
        .uid = pod->uid,
        .phase = phase_of(pod),
        .ready = pod->n_ctrs > 0 && !pod->stopping,
        .started_at = pod->started_at,
        .removed = removed,
    };
    char ip[16];
    if (pod->sandbox.pif.addr) {
        st_node_ipv4_str(pod->sandbox.pif.addr, ip);
        ps.pod_ip = ip;
    }
    json_t *ctrs = json_array();
    if (ctrs == NULL) {
        st_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const struct st_node_ctr *c = &pod->ctrs[i];
        ps.restart_count += c->restart_count;
        if (!ctr_ready(c))
            ps.ready = false;
        json_array_append_new(ctrs, ctr_json(c));
    }
    summary(pod, &ps);
    if (ps.message == NULL && pod->stopping)
        ps.message = "stopped by the host (pod_stop)";
    ps.containers = ctrs;
    json_t *msg = NULL;
    int r = st_proto_pod_status_build(&ps, &msg, err);
    json_decref(ctrs);
    if (r < 0)
        return NULL;
    if (pod->ns)
        json_object_set_new(msg, "namespace", json_string(pod->ns));
    return msg;
}
