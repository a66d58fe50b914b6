/* pods.c: the node's pod table and each pod's lifecycle. pod_run creates
 * the pod's sandbox and starts its containers with the runtime library
 * (each on an overlay of its image); the agent loop then hands over what
 * fired: a container's pidfd (it ended), its output pipes (log lines), a
 * probe's result pipe; and the timers: probes due, restarts after the
 * back-off, SIGKILL after the grace period. Restarts follow restartPolicy
 * with Kubernetes' back-off; every change of a pod's status is reported,
 * and what the kubelet would record as an event (pod_events.c).
 *
 * Nothing here blocks for long: a container start is a clone and a few
 * mounts (milliseconds), probes run in children (st_probe_start), and
 * killing is a signal plus a deadline, never a wait. A pod the node cannot
 * run is reported with a reason; it never stops the node.
 *
 * Processes are reaped one by one (pidfd, waitpid on that pid; probe runs
 * by st_probe_finish): no waitpid(-1), so nothing steals another's status. */
#include "node.h"
#include "strata/cleanup.h"
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

/* terminationGracePeriodSeconds above this is cut: a node agent must not
 * keep a stopping pod (and the host waiting) for the default 30 s. */
#define MAX_GRACE_S 10
/* While SIGKILLed processes go, the kill is repeated at this interval. */
#define KILL_REPEAT_MS 1000

struct st_node_pods {
    char *images_dir;
    char *pods_dir; /* <state>/pods: overlays, per pod and container */
    char *run_dir;  /* <state>/run: the runtime's container state */
    long long backoff_base_ms;
    st_node_emit_fn emit;
    void *ctx;
    struct st_node_pod *head;
    json_t *states;
    bool states_dirty;
    uint64_t generation; /* bumped with states_dirty: the heartbeat's digest is stale */
};

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

static void on_line(void *ctx, const char *stream, const char *line)
{
    struct st_node_ctr *c = ctx;
    struct st_proto_log lg = {
        .pod = c->pod->name, .container = c->spec->name, .stream = stream, .line = line};
    json_t *msg = NULL;
    st_error err = {0};
    if (st_proto_log_build(&lg, &msg, &err) < 0) {
        st_node_log("pod %s: cannot build a log message: %s", c->pod->name, err.msg);
        return;
    }
    if (c->pod->ns)
        json_object_set_new(msg, "namespace", json_string(c->pod->ns));
    emit(c->pod->pods, msg);
}

static int grace_s(const struct st_node_pod *pod)
{
    int g = pod->spec ? pod->spec->grace_s : 0;
    return g > MAX_GRACE_S ? MAX_GRACE_S : g;
}

static void format_delay(long long ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", ms / 1000);
    else
        snprintf(buf, len, "%lldms", ms);
}

/* ---- one container ---------------------------------------------------- */

static void ctr_wait(struct st_node_ctr *c, const char *reason, const char *message, bool retry,
                     int64_t now)
{
    c->state = ST_NODE_CTR_WAITING;
    snprintf(c->waiting_reason, sizeof(c->waiting_reason), "%s", reason);
    snprintf(c->waiting_message, sizeof(c->waiting_message), "%s", message ? message : "");
    c->retry = retry && !c->pod->stopping;
    if (c->retry)
        c->restart_at = now + st_backoff_next(&c->backoff, now, now);
}

/* Stops what a run left: probes, pipes, the container (cgroup and state)
 * and its overlay. The process must be gone or is SIGKILLed here. */
static void ctr_teardown(struct st_node_ctr *c)
{
    st_error err = {0};
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        st_probe_cancel(c->runs[k]);
        c->runs[k] = NULL;
        c->run_fds[k] = -1;
    }
    st_node_logpipe_close(&c->out);
    st_node_logpipe_close(&c->err);
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->pidfd = -1;
    if (c->c) {
        if (st_container_delete(c->c, true, &err) < 0)
            st_node_log("pod %s: container %s: %s", c->pod->name, c->spec->name, err.msg);
        st_container_free(c->c);
        c->c = NULL;
    }
    st_oci_config_free(c->cfg);
    c->cfg = NULL;
    if (c->mounted) {
        st_error_clear(&err);
        if (st_node_overlay_remove(c->dir, &err) < 0)
            st_node_log("pod %s: container %s: %s", c->pod->name, c->spec->name, err.msg);
        c->mounted = false;
    }
    c->kill_at = -1;
    c->kill_message[0] = '\0';
}

/* A run ended (t filled): restart it per restartPolicy after the back-off,
 * or leave it terminated. */
static void ctr_after_end(struct st_node_ctr *c, const struct st_node_term *t, int64_t now)
{
    struct st_node_pod *pod = c->pod;
    enum st_node_restart_policy policy = pod->spec->restart;
    bool restart = !pod->stopping && (policy == ST_NODE_RESTART_ALWAYS ||
                                      (policy == ST_NODE_RESTART_ON_FAILURE && t->exit_code != 0));
    st_node_log("pod %s: container %s ended: exit code %d, %s%s%s", pod->name, c->spec->name,
                t->exit_code, t->reason, t->message[0] ? ": " : "", t->message);
    if (!restart) {
        c->state = ST_NODE_CTR_TERMINATED;
        c->current = *t;
        c->retry = false;
        return;
    }
    c->last = *t;
    long long delay = st_backoff_next(&c->backoff, now, c->started_ms);
    char d[32], msg[256];
    format_delay(delay, d, sizeof(d));
    snprintf(msg, sizeof(msg), "back-off %s restarting failed container=%s pod=%s", d,
             c->spec->name, pod->name);
    c->state = ST_NODE_CTR_WAITING;
    snprintf(c->waiting_reason, sizeof(c->waiting_reason), "CrashLoopBackOff");
    snprintf(c->waiting_message, sizeof(c->waiting_message), "%s", msg);
    c->retry = true;
    c->restart_at = now + delay;
    st_node_pod_event(pod, now, "Warning", "BackOff",
                      "Back-off restarting failed container %s in pod %s", c->spec->name,
                      pod->name);
}

static void term_begin(const struct st_node_ctr *c, struct st_node_term *t)
{
    memset(t, 0, sizeof(*t));
    t->set = true;
    snprintf(t->started_at, sizeof(t->started_at), "%s", c->started_at);
    st_time_now_rfc3339(t->finished_at);
}

/* The process ended (res from st_container_poll). */
static void ctr_ended(struct st_node_ctr *c, const struct st_container_result *res, int64_t now)
{
    /* the writers are gone: what is in the pipes is all there is */
    st_node_logpipe_read(&c->out, "stdout", true, on_line, c);
    st_node_logpipe_read(&c->err, "stderr", true, on_line, c);
    struct st_node_term t;
    term_begin(c, &t);
    t.exit_code = res->exit_status;
    t.signal = res->signal;
    /* Kubernetes says Error for a killed container; OOMKilled wins */
    const char *reason = res->oom_killed         ? "OOMKilled"
                         : res->exit_status == 0 ? "Completed"
                                                 : "Error";
    snprintf(t.reason, sizeof(t.reason), "%s", reason);
    snprintf(t.message, sizeof(t.message), "%s", c->kill_message);
    ctr_teardown(c);
    ctr_after_end(c, &t, now);
}

/* Creates and starts one run of the container. Every failure ends in a
 * state with a reason: waiting (image missing, create refused: tried
 * again after the back-off) or a run that ended with StartError. */
static void ctr_begin(struct st_node_ctr *c, int64_t now)
{
    struct st_node_pod *pod = c->pod;
    struct st_node_pods *p = pod->pods;
    st_error err = {0};
    c->retry = false;
    _cleanup_free_ char *lower = NULL;
    int r = st_node_image_rootfs(p->images_dir, c->spec->image, &lower, &err);
    if (r < 0) {
        st_node_log("pod %s: container %s: %s", pod->name, c->spec->name, err.msg);
        ctr_wait(c, r == -ENOENT ? "ImageNotFound" : "InvalidImageName", err.msg, true, now);
        st_node_pod_event(pod, now, "Warning", "Failed", "%s", err.msg);
        return;
    }
    char source[256], rootfs[PATH_MAX];
    snprintf(source, sizeof(source), "strata-%s", c->id);
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", c->dir);
    const char *reason = "CreateContainerError";
    bool retry = true;
    int out_w = -1, err_w = -1;
    if ((r = st_node_overlay_mount(c->dir, lower, source, &err)) < 0)
        goto fail;
    c->mounted = true;
    if ((r = st_node_container_config(c->spec, rootfs, &pod->sandbox, &c->cfg, &err)) < 0) {
        reason = "CreateContainerConfigError";
        retry = false;
        goto fail;
    }
    if ((r = st_node_logpipe_open(&c->out, &out_w, &err)) < 0 ||
        (r = st_node_logpipe_open(&c->err, &err_w, &err)) < 0)
        goto fail;
    struct st_container_opts opts;
    st_container_opts_init(&opts);
    opts.id = c->id;
    opts.config = c->cfg;
    opts.state_root = p->run_dir;
    opts.stdin_fd = -1;
    opts.stdout_fd = out_w;
    opts.stderr_fd = err_w;
    r = st_container_create(&opts, &c->c, &err);
    close(out_w);
    close(err_w);
    out_w = err_w = -1;
    if (r < 0)
        goto fail;

    /* a run exists from here: it counts, and it ends through ctr_ended */
    st_node_pod_event(pod, now, "Normal", "Created", "Created container %s", c->spec->name);
    if (c->created_once)
        c->restart_count++;
    else
        st_backoff_reset(&c->backoff); /* waiting for the image was no crash */
    c->created_once = true;
    c->started_ms = now;
    st_time_now_rfc3339(c->started_at);
    c->pidfd = pidfd_open(st_container_pid(c->c), 0);
    if (c->pidfd < 0)
        r = st_error_sys(&err, errno, "pidfd_open of container %s", c->id);
    else
        r = st_container_start(c->c, &err);
    if (r < 0) {
        struct st_node_term t;
        term_begin(c, &t);
        st_node_logpipe_read(&c->out, "stdout", true, on_line, c);
        st_node_logpipe_read(&c->err, "stderr", true, on_line, c);
        /* what the kubelet reports for a command that cannot run */
        t.exit_code = 128;
        snprintf(t.reason, sizeof(t.reason), "StartError");
        snprintf(t.message, sizeof(t.message), "%s", err.msg);
        st_node_pod_event(pod, now, "Warning", "Failed", "Error: %s", err.msg);
        ctr_teardown(c);
        ctr_after_end(c, &t, now);
        return;
    }
    st_prober_reset(c->prober, now);
    c->state = ST_NODE_CTR_RUNNING;
    c->waiting_reason[0] = c->waiting_message[0] = '\0';
    c->kill_at = -1;
    st_node_log("pod %s: container %s started (pid %d, restarts %d)", pod->name, c->spec->name,
                (int)st_container_pid(c->c), c->restart_count);
    st_node_pod_event(pod, now, "Normal", "Started", "Started container %s", c->spec->name);
    return;

fail:
    if (out_w >= 0)
        close(out_w);
    if (err_w >= 0)
        close(err_w);
    st_node_log("pod %s: container %s: %s", pod->name, c->spec->name, err.msg);
    ctr_teardown(c);
    ctr_wait(c, reason, err.msg, retry, now);
    st_node_pod_event(pod, now, "Warning", "Failed", "Error: %s", err.msg);
}

/* SIGTERM now and SIGKILL after the grace period (at once when 0). */
static void ctr_kill(struct st_node_ctr *c, int grace, const char *message, int64_t now)
{
    if (c->c == NULL)
        return;
    int64_t deadline = now + (int64_t)grace * 1000;
    if (c->kill_at >= 0 && c->kill_at <= deadline)
        return; /* already on its way out, as soon or sooner */
    if (message && c->kill_message[0] == '\0')
        snprintf(c->kill_message, sizeof(c->kill_message), "%s", message);
    st_error err = {0};
    st_container_kill(c->c, grace > 0 ? SIGTERM : SIGKILL, &err); /* ESRCH: already gone */
    c->kill_at = grace > 0 ? deadline : now + KILL_REPEAT_MS;
}

/* A probe's result: the kubelet's Unhealthy event when it failed, then
 * what the prober makes of it. */
static void ctr_probe_result(struct st_node_ctr *c, enum st_probe_kind k, bool ok, const char *msg,
                             int64_t now)
{
    if (!ok)
        st_node_pod_event(c->pod, now, "Warning", "Unhealthy", "%s probe failed%s%s",
                          st_probe_kind_name(k), msg[0] ? ": " : "", msg);
    unsigned ev = st_prober_report(c->prober, k, ok, msg, now);
    if (!(ev & ST_PROBE_EV_RESTART_NEEDED))
        return;
    const char *why = st_prober_restart_reason(c->prober);
    st_node_log("pod %s: container %s: %s; killing it", c->pod->name, c->spec->name,
                why ? why : "probe failed");
    st_node_pod_event(c->pod, now, "Normal", "Killing",
                      "Container %s failed %s probe, will be restarted", c->spec->name,
                      k == ST_PROBE_STARTUP ? "startup" : "liveness");
    ctr_kill(c, grace_s(c->pod), why, now);
}

static void ctr_probes(struct st_node_ctr *c, int64_t now)
{
    for (int k = 0; k < ST_PROBE_KIND_COUNT && c->c; k++) {
        if (c->runs[k] == NULL || c->run_revents[k] == 0)
            continue;
        bool ok = false;
        char msg[ST_PROBE_MSG_MAX];
        st_error err = {0};
        if (st_probe_finish(c->runs[k], &ok, msg, sizeof(msg), &err) < 0) {
            ok = false;
            snprintf(msg, sizeof(msg), "%.*s", (int)sizeof(msg) - 1, err.msg);
        }
        c->runs[k] = NULL;
        c->run_fds[k] = -1;
        c->run_revents[k] = 0;
        ctr_probe_result(c, (enum st_probe_kind)k, ok, msg, now);
    }
    if (c->c == NULL || c->kill_at >= 0)
        return;
    unsigned due = st_prober_due(c->prober, now);
    for (int k = 0; k < ST_PROBE_KIND_COUNT && c->kill_at < 0; k++) {
        if (!(due & ST_PROBE_BIT(k)))
            continue;
        st_error err = {0};
        const struct st_probe_spec *spec = st_prober_spec(c->prober, (enum st_probe_kind)k);
        if (st_probe_start(spec, st_container_pid(c->c), st_container_cgroup_path(c->c),
                           &c->runs[k], &c->run_fds[k], &err) < 0) {
            c->runs[k] = NULL;
            c->run_fds[k] = -1;
            ctr_probe_result(c, (enum st_probe_kind)k, false, err.msg, now);
        }
    }
}

static void ctr_process(struct st_node_ctr *c, int64_t now)
{
    if (c->c == NULL) {
        if (c->state == ST_NODE_CTR_WAITING && c->retry && !c->pod->stopping &&
            now >= c->restart_at)
            ctr_begin(c, now);
        return;
    }
    if (c->out.revents)
        st_node_logpipe_read(&c->out, "stdout", false, on_line, c);
    if (c->err.revents)
        st_node_logpipe_read(&c->err, "stderr", false, on_line, c);
    c->out.revents = c->err.revents = 0;
    if (c->pid_revents) {
        c->pid_revents = 0;
        bool done = false;
        struct st_container_result res;
        st_error err = {0};
        if (st_container_poll(c->c, &done, &res, &err) < 0) {
            st_node_log("pod %s: container %s: %s", c->pod->name, c->spec->name, err.msg);
            memset(&res, 0, sizeof(res));
            res.exit_status = 128;
            done = true;
        }
        if (done) {
            ctr_ended(c, &res, now);
            return;
        }
    }
    if (c->kill_at >= 0 && now >= c->kill_at) {
        st_error err = {0};
        st_container_kill(c->c, SIGKILL, &err);
        c->kill_at = now + KILL_REPEAT_MS;
    }
    ctr_probes(c, now);
}

static void ctr_watch(struct st_node_ctr *c, struct st_node_pollset *ps, int64_t now, int *r)
{
    if (c->c == NULL) {
        if (c->state == ST_NODE_CTR_WAITING && c->retry && !c->pod->stopping)
            st_node_pollset_deadline(ps, c->restart_at);
        return;
    }
    if (*r >= 0 && c->pidfd >= 0)
        *r = st_node_pollset_add(ps, c->pidfd, POLLIN, &c->pid_revents);
    if (*r >= 0 && c->out.fd >= 0)
        *r = st_node_pollset_add(ps, c->out.fd, POLLIN, &c->out.revents);
    if (*r >= 0 && c->err.fd >= 0)
        *r = st_node_pollset_add(ps, c->err.fd, POLLIN, &c->err.revents);
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++)
        if (*r >= 0 && c->runs[k])
            *r = st_node_pollset_add(ps, c->run_fds[k], POLLIN, &c->run_revents[k]);
    if (c->kill_at >= 0)
        st_node_pollset_deadline(ps, c->kill_at);
    else
        st_node_pollset_deadline(ps, st_prober_next_due(c->prober, now, NULL));
}

/* ---- one pod ---------------------------------------------------------- */

static void pod_free(struct st_node_pod *pod)
{
    if (pod == NULL)
        return;
    st_error err = {0};
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        struct st_node_ctr *c = &pod->ctrs[i];
        ctr_teardown(c);
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

/* After any change: report it, and once a stopping pod has no process
 * left, remove what it made, send its final status and forget it. */
static void pod_settle(struct st_node_pod *pod)
{
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
    p->backoff_base_ms = o->backoff_base_ms;
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
               st_node_sandbox_create(pod->name, &pod->sandbox, &err) < 0) {
        pod_refuse(pod, "CreatePodSandboxError", err.msg);
    } else {
        for (size_t i = 0; i < pod->n_ctrs; i++)
            ctr_begin(&pod->ctrs[i], now);
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
        ctr_kill(c, grace_s(pod), NULL, now);
    }
    pod_settle(pod);
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
            ctr_watch(&pod->ctrs[i], ps, now, &r);
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
            ctr_process(&pod->ctrs[i], now);
        pod_settle(pod);
    }
}
