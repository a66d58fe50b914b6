/* vm.c: the VM rows of bench_startup: a node's boot (the vmm library's
 * start call until the node's hello) and a container in such a node (the
 * node protocol's pod_run until its first Running or Succeeded pod_status).
 * It talks to libvirt and the node directly, not through stratad, so the
 * figures are the parts' own and no API or store time is in them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "startup.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/node_proto.h"

/* A pod of /bin/true is Running within a second even under TCG; the bound
 * only keeps a node that never answers (no pod support) from hanging us. */
#define POD_START_TIMEOUT_MS 60000
/* pod_stop of an exited container is immediate; a stuck one gets the
 * node's grace period (at most 10 s) and is then killed. */
#define POD_REMOVE_TIMEOUT_MS 15000
/* How often a wait looks at the Ctrl-C flag. */
#define EVENT_POLL_MS 200

void startup_node_remove(struct startup *b)
{
    if (b->live_node[0] == '\0')
        return;
    st_error err = {0};
    if (st_vmm_node_destroy(b->vmm, b->live_node, &err) < 0 ||
        st_vmm_node_undefine(b->vmm, b->live_node, &err) < 0)
        fprintf(stderr, "error: cannot remove node %s (domain %s%s): %s; remove it with virsh\n",
                b->live_node, ST_NODE_DOMAIN_PREFIX, b->live_node, err.msg);
    b->live_node[0] = '\0';
}

/* Starts node name (optionally sharing images_dir) and waits for its hello;
 * on success it is b->live_node until node_remove. */
static int node_start(struct startup *b, const char *name, const char *images_dir, bool bench,
                      double *ms, st_error *err)
{
    char state_dir[PATH_MAX];
    int r = startup_pathf(state_dir, sizeof(state_dir), err, "%s/state", b->tmp);
    if (r < 0 || (r = st_fs_mkdir_mode(state_dir, 0755, err)) < 0)
        return r;
    st_node_spec spec = {
        .name = name,
        .accel = b->accel.accel,
        .kernel = bench ? b->bench_kernel : b->kernel,
        .initramfs = bench ? b->bench_initramfs : b->initramfs,
        .state_dir = state_dir,
        .images_dir = images_dir,
    };
    int64_t t0 = st_vmm_now_ns();
    if ((r = st_vmm_node_start(b->vmm, &spec, NULL, NULL, err)) < 0)
        return r;
    *ms = startup_ms_since(t0, st_vmm_now_ns());
    snprintf(b->live_node, sizeof(b->live_node), "%s", name);
    return 0;
}

void startup_vm(struct startup *b)
{
    struct startup_row *row = &b->rows[STARTUP_ROW_VM];
    for (int i = 0; i < b->runs && !startup_interrupted; i++) {
        char name[ST_NODE_NAME_MAX + 1];
        snprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), i + 1);
        st_error err = {0};
        double ms;
        if (node_start(b, name, NULL, false, &ms, &err) < 0) {
            startup_row_fail(row, &err);
            return;
        }
        startup_row_record(row, i, b->runs, ms);
        startup_node_remove(b);
    }
}

enum pod_wait { POD_WAIT_STARTED, POD_WAIT_REMOVED };

/* Reads node events until the pod_status of uid that want asks for: its
 * first Running or Succeeded phase (*at_ns: when it was queued), or its
 * removal. Failed, the node's death, the deadline and Ctrl-C are errors. */
static int pod_wait(struct startup *b, const char *node, const char *uid, enum pod_wait want,
                    int timeout_ms, int64_t *at_ns, st_error *err)
{
    int64_t deadline = st_vmm_now_ns() + (int64_t)timeout_ms * 1000000;
    char phase[384] = "none yet";
    for (;;) {
        if (startup_interrupted)
            return st_error_set(err, EINTR, "startup_interrupted");
        int64_t left_ms = (deadline - st_vmm_now_ns()) / 1000000;
        if (left_ms <= 0)
            return st_error_set(err, ETIMEDOUT,
                                "pod uid %s: no %s within %d s (last phase seen: %s); does the "
                                "node image's strata-node run pods?",
                                uid,
                                want == POD_WAIT_STARTED ? "Running or Succeeded status"
                                                         : "removal after pod_stop",
                                timeout_ms / 1000, phase);
        st_vmm_event ev = {0};
        int r = st_vmm_event_next(b->vmm, left_ms < EVENT_POLL_MS ? (int)left_ms : EVENT_POLL_MS,
                                  &ev, err);
        if (r <= 0) {
            if (r < 0)
                return r;
            continue;
        }
        if (strcmp(ev.node, node) != 0) {
            st_vmm_event_clear(&ev);
            continue;
        }
        if (ev.kind == ST_VMM_EVENT_DEAD) {
            r = st_error_set(
                err, EPIPE, "node %s died (%s%s%s) while the bench waited for pod uid %s", node,
                st_node_death_name(ev.cause), ev.detail[0] ? ": " : "", ev.detail, uid);
            st_vmm_event_clear(&ev);
            return r;
        }
        struct st_proto_pod_status ps = {0};
        if (ev.type == NULL || strcmp(ev.type, ST_PROTO_POD_STATUS) != 0 ||
            st_proto_pod_status_parse(ev.msg, &ps, NULL) < 0 || strcmp(ps.uid, uid) != 0) {
            st_vmm_event_clear(&ev);
            continue;
        }
        /* the whole status: a container's waiting reason says why it is not running */
        _cleanup_free_ char *text = json_dumps(ps.containers, JSON_COMPACT);
        snprintf(phase, sizeof(phase), "%s %s", ps.phase, text ? text : "");
        bool started = strcmp(ps.phase, "Running") == 0 || strcmp(ps.phase, "Succeeded") == 0;
        if (want == POD_WAIT_STARTED && strcmp(ps.phase, "Failed") == 0) {
            r = st_error_set(err, EIO, "pod uid %s failed: %s%s%s", uid,
                             ps.reason ? ps.reason : "no reason given", ps.message ? ": " : "",
                             ps.message ? ps.message : "");
            st_vmm_event_clear(&ev);
            return r;
        }
        int64_t t = ev.mono_ns;
        bool done = want == POD_WAIT_STARTED ? started : ps.removed;
        st_vmm_event_clear(&ev);
        if (done) {
            if (at_ns)
                *at_ns = t;
            return 0;
        }
    }
}

static int pod_send_run(struct startup *b, const char *node, const char *pod, const char *uid,
                        st_error *err)
{
    _cleanup_json_ json_t *spec = json_pack("{s:[{s:s, s:s, s:[s], s:[s]}], s:s}", "containers",
                                            "name", "c", "image", "busybox", "command", "/bin/true",
                                            "imageLayers", b->layer, "restartPolicy", "Never");
    if (spec == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    struct st_proto_pod_run pr = {.pod = pod, .uid = uid, .spec = spec};
    _cleanup_json_ json_t *msg = NULL;
    int r = st_proto_pod_run_build(&pr, &msg, err);
    return r < 0 ? r : st_vmm_node_send(b->vmm, node, msg, err);
}

static int pod_send_stop(struct startup *b, const char *node, const char *pod, const char *uid,
                         st_error *err)
{
    struct st_proto_pod_stop ps = {.pod = pod, .uid = uid};
    _cleanup_json_ json_t *msg = NULL;
    int r = st_proto_pod_stop_build(&ps, &msg, err);
    return r < 0 ? r : st_vmm_node_send(b->vmm, node, msg, err);
}

/* ---- crun in the same VM (the bench image's bench_exec hook) ---- */

/* The bundle crun runs: `crun spec`'s own config, with /bin/true, no
 * terminal, and the busybox root the pods' image store gives the guest
 * (read-only, as the spec has it). */
#define CRUN_BUNDLE "/run/strata-bench-crun"
#define CRUN_STATE  "/run/strata-bench-crun-state"
#define CRUN_SETUP                                                                                 \
    "set -e; mkdir -p " CRUN_BUNDLE "; cd " CRUN_BUNDLE "; rm -f config.json; crun spec; "         \
    "sed -i -e 's/\"terminal\": true/\"terminal\": false/' "                                       \
    "-e 's/^\\([[:space:]]*\\)\"sh\"$/\\1\"\\/bin\\/true\"/' "                                     \
    "-e 's|\"path\": \"rootfs\"|\"path\": \"/var/lib/strata/images/busybox/rootfs\"|' "            \
    "config.json; grep -q /bin/true config.json"

/* Sends argv as bench_exec and waits for its bench_result; *ms from the
 * send until the answer arrived (the pod row's measure: channel both ways). */
static int bench_exec(struct startup *b, const char *node, json_t *argv, int64_t id, double *ms,
                      st_error *err)
{
    _cleanup_json_ json_t *msg =
        json_pack("{s:s, s:I, s:O}", "type", "bench_exec", "id", (json_int_t)id, "argv", argv);
    if (msg == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int64_t t0 = st_vmm_now_ns();
    int r = st_vmm_node_send(b->vmm, node, msg, err);
    if (r < 0)
        return r;
    int64_t deadline = t0 + (int64_t)POD_START_TIMEOUT_MS * 1000000;
    for (;;) {
        if (startup_interrupted)
            return st_error_set(err, EINTR, "startup_interrupted");
        int64_t left_ms = (deadline - st_vmm_now_ns()) / 1000000;
        if (left_ms <= 0)
            return st_error_set(err, ETIMEDOUT,
                                "node %s: no bench_result within %d s: was it booted from the "
                                "bench image (build-image --bench)?",
                                node, POD_START_TIMEOUT_MS / 1000);
        st_vmm_event ev = {0};
        r = st_vmm_event_next(b->vmm, left_ms < EVENT_POLL_MS ? (int)left_ms : EVENT_POLL_MS, &ev,
                              err);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        if (strcmp(ev.node, node) == 0 && ev.kind == ST_VMM_EVENT_DEAD) {
            st_vmm_event_clear(&ev);
            return st_error_set(err, EPIPE, "node %s died during a bench_exec", node);
        }
        if (strcmp(ev.node, node) != 0 || ev.type == NULL || strcmp(ev.type, "bench_result") != 0 ||
            json_integer_value(json_object_get(ev.msg, "id")) != id) {
            st_vmm_event_clear(&ev);
            continue;
        }
        int64_t t1 = ev.mono_ns;
        int status = (int)json_integer_value(json_object_get(ev.msg, "status"));
        const char *out = json_string_value(json_object_get(ev.msg, "output"));
        if (status != 0)
            r = st_error_set(err, EIO, "in node %s, %s exited %d: %s", node,
                             json_string_value(json_array_get(argv, 0)), status,
                             out && *out ? out : "(no output)");
        st_vmm_event_clear(&ev);
        if (r < 0)
            return r;
        *ms = startup_ms_since(t0, t1);
        return 0;
    }
}

static int crun_setup(struct startup *b, const char *node, st_error *err)
{
    _cleanup_json_ json_t *argv = json_pack("[s, s, s]", "sh", "-c", CRUN_SETUP);
    double ms;
    return argv ? bench_exec(b, node, argv, 0, &ms, err)
                : st_error_set(err, ENOMEM, "out of memory");
}

static int crun_run(struct startup *b, const char *node, int i, double *ms, st_error *err)
{
    char id[32];
    snprintf(id, sizeof(id), "bench-%d", i + 1);
    _cleanup_json_ json_t *argv =
        json_pack("[s, s, s, s, s, s, s, s]", "crun", "--root", CRUN_STATE, "run", "--no-pivot",
                  "--bundle", CRUN_BUNDLE, id);
    return argv ? bench_exec(b, node, argv, i + 1, ms, err)
                : st_error_set(err, ENOMEM, "out of memory");
}

/* One node with the bench's image store, then N pods of /bin/true on it,
 * one at a time: each timed from its pod_run until it runs, then stopped. */
void startup_pods(struct startup *b)
{
    struct startup_row *row = &b->rows[STARTUP_ROW_POD];
    st_error err = {0};
    char node[ST_NODE_NAME_MAX + 1];
    snprintf(node, sizeof(node), "bench-%d-pods", (int)getpid());
    double boot_ms;
    fprintf(stderr, "bench: %s: starting node %s\n", row->name, node);
    if (node_start(b, node, b->images, b->crun_in_vm, &boot_ms, &err) < 0) {
        startup_row_fail(row, &err);
        return;
    }
    struct startup_row *crun = &b->rows[STARTUP_ROW_CRUN];
    bool crun_ok = b->crun_in_vm;
    if (crun_ok && crun_setup(b, node, &err) < 0) {
        startup_row_fail(crun, &err);
        st_error_clear(&err);
        crun_ok = false;
    }
    for (int i = 0; i < b->runs && !startup_interrupted; i++) {
        /* alternated with the pods, run by run, so both see the same VM */
        double crun_ms;
        if (crun_ok && crun_run(b, node, i, &crun_ms, &err) < 0) {
            startup_row_fail(crun, &err);
            st_error_clear(&err);
            crun_ok = false;
        } else if (crun_ok) {
            startup_row_record(crun, i, b->runs, crun_ms);
        }
        char pod[32], uid[64];
        snprintf(pod, sizeof(pod), "bench-%d", i + 1);
        snprintf(uid, sizeof(uid), "bench-%d-%d", (int)getpid(), i + 1);
        int64_t t0 = st_vmm_now_ns(), t1 = 0;
        if (pod_send_run(b, node, pod, uid, &err) < 0 ||
            pod_wait(b, node, uid, POD_WAIT_STARTED, POD_START_TIMEOUT_MS, &t1, &err) < 0) {
            startup_row_fail(row, &err);
            break;
        }
        startup_row_record(row, i, b->runs, startup_ms_since(t0, t1));
        /* the next pod starts on a node that has let go of this one */
        if (pod_send_stop(b, node, pod, uid, &err) < 0) {
            startup_row_fail(row, &err);
            break;
        }
        if (pod_wait(b, node, uid, POD_WAIT_REMOVED, POD_REMOVE_TIMEOUT_MS, NULL, &err) < 0 &&
            !startup_interrupted) {
            fprintf(stderr, "bench: %s: %s; going on\n", row->name, err.msg);
            st_error_clear(&err);
        }
    }
    startup_node_remove(b);
}
