/* pod_ctr.c: one container of a pod on the node, from start to end: its
 * overlay on the image, the runtime's create and start, its output pipes,
 * its probes, the restart back-off and the kill with a grace period. The
 * pod table (pods.c) drives these steps; nothing here blocks for long. */
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
#include <fcntl.h>

void st_node_ctr_log_line(void *ctx, const char *stream, const char *line)
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
    st_node_pods_emit(c->pod->pods, msg);
}

int st_node_pod_grace_s(const struct st_node_pod *pod)
{
    int g = pod->spec ? pod->spec->grace_s : 0;
    return g > MAX_GRACE_S ? MAX_GRACE_S : g;
}

void st_node_format_delay(long long ms, char *buf, size_t len)
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
    c->retry = retry && !st_node_pod_halted(c->pod);
    if (c->retry)
        c->restart_at = now + st_backoff_next(&c->backoff, now, now);
}

/* Stops what a run left: probes, pipes, the container (cgroup and state)
 * and its overlay. The process must be gone or is SIGKILLed here. */
void st_node_ctr_teardown(struct st_node_ctr *c)
{
    st_error err = {0};
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        st_probe_cancel(c->runs[k]);
        c->runs[k] = NULL;
        c->run_fds[k] = -1;
    }
    st_node_logpipe_close(&c->out);
    st_node_logpipe_close(&c->err);
    if (c->pidfd >= 0) {
        st_node_self_fence_untrack(c->pod->pods->fence, c);
        close(c->pidfd);
    }
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
    bool wanted = policy == ST_NODE_RESTART_ALWAYS ||
                  (policy == ST_NODE_RESTART_ON_FAILURE && t->exit_code != 0);
    bool restart = wanted && !st_node_pod_halted(pod);
    st_node_log("pod %s: container %s ended: exit code %d, %s%s%s", pod->name, c->spec->name,
                t->exit_code, t->reason, t->message[0] ? ": " : "", t->message);
    if (wanted && pod->fenced && !pod->stopping)
        st_node_log("pod %s: not restarting container %s: the self-fence stopped the pod; only "
                    "the host's pod_run starts it again",
                    pod->name, c->spec->name);
    if (!restart) {
        c->state = ST_NODE_CTR_TERMINATED;
        c->current = *t;
        c->retry = false;
        return;
    }
    c->last = *t;
    long long delay = st_backoff_next(&c->backoff, now, c->started_ms);
    char d[32], msg[256];
    st_node_format_delay(delay, d, sizeof(d));
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
    st_node_logpipe_read(&c->out, "stdout", true, st_node_ctr_log_line, c);
    st_node_logpipe_read(&c->err, "stderr", true, st_node_ctr_log_line, c);
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
    st_node_ctr_teardown(c);
    ctr_after_end(c, &t, now);
}

/* Creates and starts one run of the container. Every failure ends in a
 * state with a reason: waiting (image missing, create refused: tried
 * again after the back-off) or a run that ended with StartError. */
void st_node_ctr_begin(struct st_node_ctr *c, int64_t now)
{
    struct st_node_pod *pod = c->pod;
    struct st_node_pods *p = pod->pods;
    st_error err = {0};
    c->retry = false;
    char source[256], rootfs[PATH_MAX];
    snprintf(source, sizeof(source), "strata-%s", c->id);
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", c->dir);
    const char *reason = "CreateContainerError";
    bool retry = true;
    int out_w = -1, err_w = -1;
    int64_t t0 = st_clock_ns(), t_overlay = 0, t_create = 0;
    int r = st_node_overlay_mount(c->dir, p->images_dir, c->spec->layers, c->spec->n_layers, source,
                                  &err);
    if (r == -ENOENT) {
        /* a layer gone from the store under the node: not a crash */
        st_error_prefix(&err, "image %s: ", c->spec->image);
        st_node_log("pod %s: container %s: %s", pod->name, c->spec->name, err.msg);
        ctr_wait(c, "ImageNotFound", err.msg, true, now);
        st_node_pod_event(pod, now, "Warning", "Failed", "%s", err.msg);
        return;
    }
    if (r < 0)
        goto fail;
    c->mounted = true;
    t_overlay = st_clock_ns();
    if ((r = st_node_container_config(c->spec, rootfs, &pod->sandbox, pod->hosts, &c->cfg, &err)) <
        0) {
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
    int64_t t_config = st_clock_ns();
    r = st_container_create(&opts, &c->c, &err);
    t_create = st_clock_ns();
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
    if (c->pidfd < 0) {
        r = st_error_sys(&err, errno, "pidfd_open of container %s", c->id);
    } else if (st_node_self_fence_track(p->fence, c, c->pidfd, pod->uid)) {
        /* created while the host is silent past its grace: killed already */
        st_node_pod_fence(pod,
                          "strata-node has heard nothing from its host for longer than "
                          "hostGraceMs: a container that started then was killed (self-fence)",
                          st_clock_ns(), now);
        r = st_error_set(&err, ESRCH, "container %s: killed by the self-fence before its start",
                         c->id);
    } else {
        r = st_container_start(c->c, &err);
    }
    if (r < 0) {
        struct st_node_term t;
        term_begin(c, &t);
        st_node_logpipe_read(&c->out, "stdout", true, st_node_ctr_log_line, c);
        st_node_logpipe_read(&c->err, "stderr", true, st_node_ctr_log_line, c);
        /* what the kubelet reports for a command that cannot run */
        t.exit_code = 128;
        snprintf(t.reason, sizeof(t.reason), "StartError");
        snprintf(t.message, sizeof(t.message), "%s", err.msg);
        st_node_pod_event(pod, now, "Warning", "Failed", "Error: %s", err.msg);
        st_node_ctr_teardown(c);
        ctr_after_end(c, &t, now);
        return;
    }
    st_prober_reset(c->prober, now);
    c->state = ST_NODE_CTR_RUNNING;
    c->waiting_reason[0] = c->waiting_message[0] = '\0';
    c->kill_at = -1;
    /* Where a start's time goes (pod_run's arrival to here), to find what
     * makes a slow one slow. */
    int64_t t_start = st_clock_ns();
    st_node_log("pod %s: container %s started (pid %d, restarts %d) %.1f ms after pod_run: "
                "sandbox %.1f, overlay %.1f, config %.1f, create %.1f, start %.1f ms",
                pod->name, c->spec->name, (int)st_container_pid(c->c), c->restart_count,
                (double)(t_start - pod->run_ns) / 1e6,
                (double)(pod->sandbox_ns - pod->run_ns) / 1e6, (double)(t_overlay - t0) / 1e6,
                (double)(t_config - t_overlay) / 1e6, (double)(t_create - t_config) / 1e6,
                (double)(t_start - t_create) / 1e6);
    st_node_pod_event(pod, now, "Normal", "Started", "Started container %s", c->spec->name);
    return;

fail:
    if (out_w >= 0)
        close(out_w);
    if (err_w >= 0)
        close(err_w);
    st_node_log("pod %s: container %s: %s", pod->name, c->spec->name, err.msg);
    st_node_ctr_teardown(c);
    ctr_wait(c, reason, err.msg, retry, now);
    st_node_pod_event(pod, now, "Warning", "Failed", "Error: %s", err.msg);
}

/* SIGTERM now and SIGKILL after the grace period (at once when 0). */
void st_node_ctr_kill(struct st_node_ctr *c, int grace, const char *message, int64_t now)
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
    st_node_ctr_kill(c, st_node_pod_grace_s(c->pod), why, now);
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

void st_node_ctr_process(struct st_node_ctr *c, int64_t now)
{
    if (c->c == NULL) {
        if (c->state == ST_NODE_CTR_WAITING && c->retry && !st_node_pod_halted(c->pod) &&
            now >= c->restart_at)
            st_node_ctr_begin(c, now);
        return;
    }
    if (c->out.revents)
        st_node_logpipe_read(&c->out, "stdout", false, st_node_ctr_log_line, c);
    if (c->err.revents)
        st_node_logpipe_read(&c->err, "stderr", false, st_node_ctr_log_line, c);
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

void st_node_ctr_watch(struct st_node_ctr *c, struct st_node_pollset *ps, int64_t now, int *r)
{
    if (c->c == NULL) {
        if (c->state == ST_NODE_CTR_WAITING && c->retry && !st_node_pod_halted(c->pod))
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
