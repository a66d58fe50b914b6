/* pods.c: the node's pod table and each pod's lifecycle. pod_run creates
 * the pod's sandbox and starts its containers with the runtime library
 * (each on an overlay of its image); the agent loop then hands over what
 * fired: a container's pidfd (it ended), its output pipes (log lines), a
 * probe's result pipe; and the timers: probes due, restarts after the
 * back-off, SIGKILL after the grace period. Restarts follow restartPolicy
 * with Kubernetes' back-off; every change of a pod's status is reported,
 * and what the kubelet would record as an event (pod_events.c). One
 * container's steps are pod_ctr.c's; this file keeps the table and the pods.
 *
 * Nothing here blocks for long: a container start is a clone and a few
 * mounts (milliseconds), probes run in children (st_probe_start), and
 * killing is a signal plus a deadline, never a wait. A pod the node cannot
 * run is reported with a reason; it never stops the node.
 *
 * Processes are reaped one by one (pidfd, waitpid on that pid; probe runs
 * by st_probe_finish): no waitpid(-1), so nothing steals another's status. */
#include "node.h"
#include "pods_priv.h"
#include "strata/cleanup.h"
#include "strata/clock.h"
#include "strata/fs.h"
#include "strata/node_proto.h"
#include "strata/state.h"
#include "strata/time.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static bool uid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static void emit(struct st_node_pods *p, json_t *msg)
{
    if (msg)
        p->emit(p->ctx, msg);
}

static void states_changed(struct st_node_pods *p)
{
    p->states_dirty = true;
    p->generation++;
}

/* ---- one pod ---------------------------------------------------------- */

static void pod_free(struct st_node_pod *pod)
{
    if (pod == NULL)
        return;
    st_error err = {0};
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        struct st_node_ctr *c = &pod->ctrs[i];
        st_node_ctr_teardown(c);
        st_prober_free(c->prober);
        free(c->id);
        free(c->dir);
    }
    free(pod->ctrs);
    st_node_sandbox_destroy(&pod->sandbox);
    if (pod->dir && st_fs_rmtree(pod->dir, &err) < 0)
        st_node_log("pod %s: %s", pod->name, err.msg);
    st_node_pod_spec_free(pod->spec);
    json_decref(pod->status);
    free(pod->name);
    free(pod->uid);
    free(pod->ns);
    free(pod->dir);
    free(pod->reason);
    free(pod->message);
    free(pod->hosts);
    free(pod->fence_message);
    json_decref(pod->rerun);
    free(pod);
}

/* Reports the pod's status when it changed (always the final one). */
static void pod_report(struct st_node_pod *pod, bool final)
{
    st_error err = {0};
    json_t *st = st_node_pod_status(pod, final, &err);
    if (st == NULL) {
        st_node_log("pod %s: cannot build its status: %s", pod->name, err.msg);
        return;
    }
    if (!final && pod->status && json_equal(st, pod->status)) {
        json_decref(st);
        return;
    }
    json_decref(pod->status);
    pod->status = st;
    states_changed(pod->pods);
    emit(pod->pods, json_deep_copy(st));
}

static bool pod_has_processes(const struct st_node_pod *pod)
{
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (pod->ctrs[i].c)
            return true;
    return false;
}

static void pod_unlink(struct st_node_pods *p, struct st_node_pod *pod)
{
    for (struct st_node_pod **pp = &p->head; *pp; pp = &(*pp)->next)
        if (*pp == pod) {
            *pp = pod->next;
            break;
        }
    states_changed(p);
}

/* A pod the self-fence stopped has no process left: its sandbox goes (and
 * its address), and a pod_run that came meanwhile starts it again. true
 * when the pod was freed for that. */
static bool fence_settle(struct st_node_pod *pod)
{
    if (pod->sandbox.pid) {
        st_node_sandbox_destroy(&pod->sandbox);
        st_node_log("pod %s (uid %s): self-fence: its processes were gone %.1f ms after the "
                    "deadline",
                    pod->name, pod->uid, (double)(st_clock_ns() - pod->fence_deadline_ns) / 1e6);
    }
    if (pod->rerun == NULL)
        return false;
    json_t *msg = pod->rerun;
    struct st_node_pods *p = pod->pods;
    pod->rerun = NULL;
    pod_unlink(p, pod);
    pod_free(pod);
    st_node_pods_run(p, msg);
    json_decref(msg);
    return true;
}

/* After any change: report it, and once a stopping pod has no process
 * left, remove what it made, send its final status and forget it. */
static void pod_settle(struct st_node_pod *pod)
{
    if (pod->fenced && !pod->stopping && !pod_has_processes(pod) && fence_settle(pod))
        return;
    if (!pod->stopping || pod_has_processes(pod)) {
        pod_report(pod, false);
        return;
    }
    struct st_node_pods *p = pod->pods;
    pod_unlink(p, pod);
    st_node_sandbox_destroy(&pod->sandbox);
    pod_report(pod, true);
    st_node_log("pod %s (uid %s) stopped and removed", pod->name, pod->uid);
    pod_free(pod);
}

static struct st_node_pod *pod_find(struct st_node_pods *p, const char *uid)
{
    for (struct st_node_pod *pod = p->head; pod; pod = pod->next)
        if (strcmp(pod->uid, uid) == 0)
            return pod;
    return NULL;
}

/* The pod's hosts file from its address and the Services snapshot. */
static int pod_hosts_write(struct st_node_pod *pod, st_error *err)
{
    char ip[16];
    st_node_ipv4_str(pod->sandbox.pif.addr, ip);
    _cleanup_free_ char *text = NULL;
    int r = st_node_hosts_render(ip, pod->name, pod->ns ? pod->ns : "default", pod->pods->services,
                                 &text, err);
    return r < 0 ? r : st_node_hosts_write(pod->hosts, text, err);
}

/* On the pod network the containers get a hosts file of their own; it must
 * exist before the first container's mounts name it. */
static int pod_hosts_init(struct st_node_pod *pod, st_error *err)
{
    if (pod->sandbox.net == NULL)
        return 0;
    /* a dot name: never a container's folder (container names are DNS
     * labels), and skipped by clean_leftovers' walk of the pod folder */
    if (asprintf(&pod->hosts, "%s/.hosts", pod->dir) < 0) {
        pod->hosts = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    return pod_hosts_write(pod, err);
}

static void pod_refuse(struct st_node_pod *pod, const char *reason, const char *message)
{
    st_node_log("pod %s: %s: %s", pod->name, reason, message);
    free(pod->reason);
    free(pod->message);
    pod->reason = strdup(reason);
    pod->message = strdup(message);
    st_node_pod_event(pod, st_node_now_ms(), "Warning", "Failed", "Error: %s", message);
}

/* The containers' table entries; the spec is parsed. */
static int pod_init_ctrs(struct st_node_pod *pod, int64_t now, st_error *err)
{
    struct st_node_pods *p = pod->pods;
    pod->ctrs = calloc(pod->spec->n_containers, sizeof(*pod->ctrs));
    if (pod->ctrs == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < pod->spec->n_containers; i++) {
        struct st_node_ctr *c = &pod->ctrs[i];
        pod->n_ctrs = i + 1;
        c->pod = pod;
        c->spec = &pod->spec->containers[i];
        c->pidfd = c->out.fd = c->err.fd = -1;
        for (int k = 0; k < ST_PROBE_KIND_COUNT; k++)
            c->run_fds[k] = -1;
        c->kill_at = -1;
        c->state = ST_NODE_CTR_WAITING;
        snprintf(c->waiting_reason, sizeof(c->waiting_reason), "ContainerCreating");
        st_backoff_init(&c->backoff, p->backoff_base_ms, 0, 0);
        if (asprintf(&c->id, "%s-%s", pod->uid, c->spec->name) < 0 ||
            asprintf(&c->dir, "%s/%s", pod->dir, c->spec->name) < 0)
            return st_error_set(err, ENOMEM, "out of memory");
        int r = st_prober_new(c->spec->probes[ST_PROBE_STARTUP], c->spec->probes[ST_PROBE_LIVENESS],
                              c->spec->probes[ST_PROBE_READINESS], now, &c->prober, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Something of the pod runs or may start again: a container not ended
 * for good, and no pod-level failure (which started nothing). */
static bool pod_live(const struct st_node_pod *pod)
{
    if (pod->reason || pod->spec == NULL)
        return false;
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (pod->ctrs[i].state != ST_NODE_CTR_TERMINATED || pod->ctrs[i].c)
            return true;
    return false;
}

void st_node_pod_fence(struct st_node_pod *pod, const char *message, int64_t deadline_ns,
                       int64_t now)
{
    if (pod->fenced)
        return;
    pod->fenced = true;
    pod->fence_deadline_ns = deadline_ns;
    free(pod->fence_message);
    pod->fence_message = strdup(message);
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        struct st_node_ctr *c = &pod->ctrs[i];
        c->retry = false;
        st_node_ctr_kill(c, 0, message, now);
    }
    st_node_log("pod %s (uid %s): stopped by the self-fence; it stays stopped until the host "
                "sends pod_run",
                pod->name, pod->uid);
    st_node_pod_event(pod, now, "Warning", ST_NODE_REASON_HOST_LOST, "%s", message);
}

/* ---- API -------------------------------------------------------------- */

/* Removes what an earlier strata-node left under the state dir (it was
 * killed, or the host test box reuses the folder): containers first, so no
 * process holds an overlay, then the overlays and work folders. */
static void clean_leftovers(struct st_node_pods *p)
{
    st_error err = {0};
    _cleanup_strv_ char **ids = NULL;
    if (st_state_list(p->run_dir, &ids, &err) == 0) {
        for (char **id = ids; *id; id++) {
            struct st_container *c = NULL;
            st_error_clear(&err);
            if (st_container_load(p->run_dir, *id, &c, &err) == 0 &&
                st_container_delete(c, true, &err) == 0)
                st_node_log("removed container %s left by an earlier run", *id);
            else
                st_node_log("cannot remove container %s left by an earlier run: %s", *id, err.msg);
            st_container_free(c);
        }
    }
    _cleanup_closedir_ DIR *d = opendir(p->pods_dir);
    struct dirent *pe;
    while (d && (pe = readdir(d)) != NULL) {
        if (pe->d_name[0] == '.')
            continue;
        char pod_dir[PATH_MAX];
        if (snprintf(pod_dir, sizeof(pod_dir), "%s/%s", p->pods_dir, pe->d_name) >=
            (int)sizeof(pod_dir))
            continue;
        _cleanup_closedir_ DIR *cd = opendir(pod_dir);
        struct dirent *ce;
        while (cd && (ce = readdir(cd)) != NULL) {
            if (ce->d_name[0] == '.')
                continue;
            char dir[PATH_MAX];
            if (snprintf(dir, sizeof(dir), "%s/%s", pod_dir, ce->d_name) >= (int)sizeof(dir))
                continue;
            st_error_clear(&err);
            if (st_node_overlay_remove(dir, &err) < 0)
                st_node_log("cannot remove %s left by an earlier run: %s", dir, err.msg);
        }
        st_error_clear(&err);
        if (st_fs_rmtree(pod_dir, &err) < 0)
            st_node_log("cannot remove %s left by an earlier run: %s", pod_dir, err.msg);
        else
            st_node_log("removed pod folder %s left by an earlier run", pod_dir);
    }
}

int st_node_pods_new(const struct st_node_pods_opts *o, struct st_node_pods **out, st_error *err)
{
    struct st_node_pods *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    p->emit = o->emit;
    p->ctx = o->ctx;
    p->net = o->net;
    p->backoff_base_ms = o->backoff_base_ms;
    p->fence = o->fence;
    p->states = json_array();
    int r = 0;
    if (p->states == NULL || (p->images_dir = strdup(o->images_dir)) == NULL ||
        asprintf(&p->pods_dir, "%s/pods", o->state_dir) < 0 ||
        asprintf(&p->run_dir, "%s/run", o->state_dir) < 0)
        r = st_error_set(err, ENOMEM, "out of memory");
    if (r == 0 && ((r = st_fs_mkdir_p(p->pods_dir, 0700, err)) < 0 ||
                   (r = st_fs_mkdir_p(p->run_dir, 0700, err)) < 0))
        st_error_prefix(err, "--state-dir %s: ", o->state_dir);
    if (r < 0) {
        st_node_pods_free(p);
        return r;
    }
    clean_leftovers(p);
    *out = p;
    return 0;
}

void st_node_pods_free(struct st_node_pods *p)
{
    if (p == NULL)
        return;
    while (p->head) {
        struct st_node_pod *pod = p->head;
        p->head = pod->next;
        st_node_log("pod %s (uid %s): removing it (strata-node is stopping)", pod->name, pod->uid);
        pod_free(pod);
    }
    json_decref(p->states);
    json_decref(p->services);
    free(p->images_dir);
    free(p->pods_dir);
    free(p->run_dir);
    free(p);
}

void st_node_pods_run(struct st_node_pods *p, json_t *msg)
{
    st_error err = {0};
    struct st_proto_pod_run pr = {0};
    if (st_proto_pod_run_parse(msg, &pr, &err) < 0) {
        st_node_log("ignoring a pod_run: %s", err.msg);
        return;
    }
    struct st_node_pod *pod = pod_find(p, pr.uid);
    if (pod && pod->fenced && !pod->stopping && pod_has_processes(pod)) {
        /* the host wants it back while its killed containers are still
         * on their way out (milliseconds): run it once they are gone */
        st_node_log("pod_run for pod %s (uid %s): the self-fence stopped it; it starts again "
                    "once its killed containers are gone",
                    pr.pod, pr.uid);
        json_decref(pod->rerun);
        pod->rerun = json_incref(msg);
        return;
    }
    if (pod && pod->fenced && !pod->stopping) {
        /* the host decides: it still owns the pod, so a fresh run */
        st_node_log("pod_run for pod %s (uid %s): the self-fence stopped it; starting it again",
                    pr.pod, pr.uid);
        pod_unlink(p, pod);
        pod_free(pod);
        pod = NULL;
    }
    if (pod) {
        /* the host re-sends what it believes runs (after its own restart):
         * answer with the state, never start a second copy */
        st_node_log("pod_run for pod %s (uid %s): already here", pr.pod, pr.uid);
        if (pod->status)
            emit(p, json_deep_copy(pod->status));
        return;
    }
    if (!uid_ok(pr.uid)) {
        struct st_proto_pod_status ps = {.pod = pr.pod,
                                         .uid = pr.uid,
                                         .phase = "Failed",
                                         .reason = "InvalidPodUID",
                                         .message = "the pod uid must be 1-64 of [A-Za-z0-9_.-]"};
        json_t *st = NULL;
        if (st_proto_pod_status_build(&ps, &st, &err) == 0)
            emit(p, st);
        st_node_log("refusing pod_run for pod %s: uid \"%s\" is not usable", pr.pod, pr.uid);
        return;
    }
    pod = calloc(1, sizeof(*pod));
    if (pod == NULL || (pod->name = strdup(pr.pod)) == NULL ||
        (pod->uid = strdup(pr.uid)) == NULL ||
        asprintf(&pod->dir, "%s/%s", p->pods_dir, pr.uid) < 0) {
        st_node_log("pod %s: out of memory", pr.pod);
        if (pod)
            pod->dir = NULL;
        pod_free(pod);
        return;
    }
    pod->pods = p;
    pod->run_ns = st_clock_ns();
    st_node_event_limit_init(&pod->events);
    const char *ns = json_string_value(json_object_get(msg, "namespace"));
    if (ns && (pod->ns = strdup(ns)) == NULL)
        st_node_log("pod %s: out of memory keeping its namespace", pod->name);
    st_time_now_rfc3339(pod->started_at);
    /* into the table first: whatever fails below is the pod's status */
    struct st_node_pod **tail = &p->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = pod;
    states_changed(p);
    st_node_log("pod_run: pod %s (uid %s)", pod->name, pod->uid);

    int64_t now = st_node_now_ms();
    if (st_node_pod_spec_parse(pr.spec, pod->name, &pod->spec, &err) < 0) {
        pod_refuse(pod, "CreateContainerConfigError", err.msg);
    } else if (pod_init_ctrs(pod, now, &err) < 0) {
        pod_refuse(pod, "CreateContainerConfigError", err.msg);
    } else if (st_fs_mkdir_p(pod->dir, 0700, &err) < 0 ||
               st_node_sandbox_create(pod->name, p->net, &pod->sandbox, &err) < 0 ||
               pod_hosts_init(pod, &err) < 0) {
        pod_refuse(pod, "CreatePodSandboxError", err.msg);
    } else {
        pod->sandbox_ns = st_clock_ns();
        for (size_t i = 0; i < pod->n_ctrs; i++)
            st_node_ctr_begin(&pod->ctrs[i], now);
    }
    pod_settle(pod);
}

void st_node_pods_stop(struct st_node_pods *p, json_t *msg)
{
    st_error err = {0};
    struct st_proto_pod_stop ps = {0};
    if (st_proto_pod_stop_parse(msg, &ps, &err) < 0) {
        st_node_log("ignoring a pod_stop: %s", err.msg);
        return;
    }
    struct st_node_pod *pod = pod_find(p, ps.uid);
    if (pod == NULL) {
        st_node_log("pod_stop for pod %s (uid %s): not here, nothing to stop", ps.pod, ps.uid);
        return;
    }
    if (pod->stopping) {
        /* Again (a restarted stratad re-sends it): the SIGKILL deadline of
         * the first one stands. */
        st_node_log("pod_stop: pod %s (uid %s) is already stopping", pod->name, pod->uid);
        return;
    }
    st_node_log("pod_stop: pod %s (uid %s)", pod->name, pod->uid);
    int64_t now = st_node_now_ms();
    pod->stopping = true;
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        struct st_node_ctr *c = &pod->ctrs[i];
        c->retry = false;
        st_node_ctr_kill(c, st_node_pod_grace_s(pod), NULL, now);
    }
    pod_settle(pod);
}

void st_node_pods_fence(struct st_node_pods *p, const struct st_node_fence_fire *fire)
{
    char message[256];
    snprintf(message, sizeof(message),
             "strata-node heard nothing from its host for %lld ms (hostGraceMs %lld) and killed "
             "the pod's containers (self-fence): another host may run the pod now; only this "
             "host's pod_run starts it here again",
             (long long)fire->silent_ms, (long long)fire->grace_ms);
    int64_t now = st_node_now_ms();
    int n = 0;
    struct st_node_pod *next;
    for (struct st_node_pod *pod = p->head; pod; pod = next) {
        next = pod->next; /* pod_settle may free pod */
        if (pod->fenced || pod->stopping || pod->run_ns > fire->fired_ns || !pod_live(pod))
            continue;
        st_node_pod_fence(pod, message, fire->deadline_ns, now);
        n++;
        pod_settle(pod);
    }
    st_node_log("self-fence: %d pods stopped (the watchdog SIGKILLed %d containers of %d pods "
                "%.1f ms after the deadline)",
                n, fire->killed, fire->pods, (double)(fire->fired_ns - fire->deadline_ns) / 1e6);
}

void st_node_pods_set_services(struct st_node_pods *p, json_t *services)
{
    json_decref(p->services);
    p->services = json_incref(services);
    for (struct st_node_pod *pod = p->head; pod; pod = pod->next) {
        st_error err = {0};
        if (pod->hosts && pod_hosts_write(pod, &err) < 0)
            st_node_log("pod %s: %s", pod->name, err.msg);
    }
}

uint64_t st_node_pods_generation(const struct st_node_pods *p)
{
    return p->generation;
}

void st_node_pods_emit(struct st_node_pods *p, json_t *msg)
{
    emit(p, msg);
}

json_t *st_node_pods_states(struct st_node_pods *p)
{
    if (p->states_dirty) {
        json_array_clear(p->states);
        for (struct st_node_pod *pod = p->head; pod; pod = pod->next)
            if (pod->status)
                json_array_append(p->states, pod->status);
        p->states_dirty = false;
    }
    return p->states;
}

int st_node_pods_watch(struct st_node_pods *p, struct st_node_pollset *ps, st_error *err)
{
    int64_t now = st_node_now_ms();
    int r = 0;
    for (struct st_node_pod *pod = p->head; pod; pod = pod->next)
        for (size_t i = 0; i < pod->n_ctrs; i++)
            st_node_ctr_watch(&pod->ctrs[i], ps, now, &r);
    if (r < 0)
        return st_error_set(err, -r, "out of memory watching the pods");
    return 0;
}

void st_node_pods_process(struct st_node_pods *p)
{
    int64_t now = st_node_now_ms();
    struct st_node_pod *next;
    for (struct st_node_pod *pod = p->head; pod; pod = next) {
        next = pod->next; /* pod_settle may free pod */
        for (size_t i = 0; i < pod->n_ctrs; i++)
            st_node_ctr_process(&pod->ctrs[i], now);
        pod_settle(pod);
    }
}
