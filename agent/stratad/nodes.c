/* nodes.c: stratad's node manager. Starts node VMs in worker threads,
 * re-adopts running ones after a restart, turns vmm events into store
 * writes (hello, heartbeats, pod status, logs, deaths), and fences a node
 * whose heartbeats stop before its pods go elsewhere. What each live node
 * runs is dispatch.c's. */
#include "stratad.h"
#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/names.h"
#include "strata/node_proto.h"
#include "strata/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "node-controller"

/* ---- the runtime table ------------------------------------------------- */

/* [lock] held by the caller. */
static struct node_rt *rt_find(struct stratad *d, const char *name)
{
    for (struct node_rt *n = d->nodes; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}

struct node_rt *stratad_node_rt(struct stratad *d, const char *name)
{
    return rt_find(d, name);
}

/* [lock] held by the caller. A fresh entry (or the old one, reset). */
static struct node_rt *rt_reset(struct stratad *d, const char *name)
{
    struct node_rt *n = rt_find(d, name);
    if (n == NULL) {
        n = calloc(1, sizeof(*n));
        if (n == NULL)
            return NULL;
        snprintf(n->name, sizeof(n->name), "%s", name);
        n->next = d->nodes;
        d->nodes = n;
    }
    json_decref(n->sent);
    n->sent = json_object();
    n->provisioning = n->connected = n->dead = n->fencing = false;
    n->last_msg_ns = st_vmm_now_ns();
    return n;
}

void stratad_nodes_drain(struct stratad *d)
{
    /* A worker blocks in st_vmm_node_start for at most the ready timeout;
     * the vmm and the store must outlive it. */
    int64_t end = st_vmm_now_ns() + (int64_t)(ST_VMM_READY_TIMEOUT_MS_DEFAULT + 5000) * 1000000;
    bool said = false;
    while (atomic_load(&d->workers) > 0 && st_vmm_now_ns() < end) {
        if (!said) {
            stratad_log("waiting for %d node start%s to finish", atomic_load(&d->workers),
                        atomic_load(&d->workers) == 1 ? "" : "s");
            said = true;
        }
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
}

void stratad_nodes_free(struct stratad *d)
{
    /* Workers still booting a VM hold no pointer into this table: they
     * look entries up under the lock and stop at d->stopping. */
    pthread_mutex_lock(&d->lock);
    struct node_rt *n = d->nodes;
    d->nodes = NULL;
    pthread_mutex_unlock(&d->lock);
    while (n) {
        struct node_rt *next = n->next;
        json_decref(n->sent);
        free(n);
        n = next;
    }
}

static json_t *node_get(struct stratad *d, const char *name)
{
    json_t *obj = NULL;
    if (st_store_get(d->store, "Node", "", name, &obj, NULL) < 0)
        return NULL;
    return obj;
}

static const char *node_phase(json_t *node)
{
    const char *p = json_string_value(
        json_object_get(json_object_get(json_object_get(node, "status"), "strata"), "phase"));
    return p ? p : "";
}

static void set_ready(struct stratad *d, const char *name, const char *status, const char *phase,
                      const char *reason, const char *message)
{
    st_error err = {0};
    if (st_ctl_node_set_ready(d->store, name, status, phase, reason, message, &err) < 0 &&
        err.code != ENOENT)
        stratad_log("node %s: cannot record %s: %s", name, phase, err.msg);
    stratad_kick(d);
}

/* The node is gone: record it, give up its pods (the controllers replace
 * them), and forget what was sent to it. */
static void node_dead(struct stratad *d, const char *name, const char *why)
{
    pthread_mutex_lock(&d->lock);
    struct node_rt *n = rt_find(d, name);
    bool already = n && n->dead;
    if (n) {
        n->dead = true;
        n->connected = false;
        json_object_clear(n->sent);
    }
    pthread_mutex_unlock(&d->lock);
    if (already)
        return;
    stratad_log("node %s is dead: %s", name, why);
    set_ready(d, name, "False", "Dead", "NodeLost", why);
    st_event_record(d->store, "Node", "", name, "Warning", "NodeLost", COMPONENT, "Node %s: %s",
                    name, why);
    int lost = 0;
    st_error err = {0};
    if (st_ctl_node_lost(d->store, name, why, &lost, &err) < 0)
        stratad_log("node %s: marking its pods lost: %s", name, err.msg);
    else if (lost)
        stratad_log("node %s: %d pod%s lost, to be replaced", name, lost, lost == 1 ? "" : "s");
    stratad_kick(d);
}

/* ---- provisioning ------------------------------------------------------ */

struct start_job {
    struct stratad *d;
    char name[64];
    unsigned cpus, memory_mib;
    st_accel accel;
    char accel_reason[ST_ACCEL_REASON_MAX];
};

static void *start_worker(void *arg)
{
    struct start_job *job = arg;
    struct stratad *d = job->d;
    _cleanup_free_ char *kernel = NULL, *initrd = NULL;
    if (asprintf(&kernel, "%s/vmlinux", d->cfg.node_image) < 0 ||
        asprintf(&initrd, "%s/initramfs.cpio", d->cfg.node_image) < 0) {
        free(job);
        atomic_fetch_sub(&d->workers, 1);
        return NULL;
    }
    st_node_spec spec = {
        .name = job->name,
        .vcpus = job->cpus,
        .memory_mib = job->memory_mib,
        .accel = job->accel,
        .kernel = kernel,
        .initramfs = initrd,
        .state_dir = d->nodes_dir,
        .images_dir = d->images_dir,
    };
    st_error err = {0};
    json_t *hello = NULL;
    int64_t t0 = st_vmm_now_ns();
    int r = st_vmm_node_start(d->vmm, &spec, NULL, &hello, &err);
    int64_t ms = (st_vmm_now_ns() - t0) / 1000000;
    json_decref(hello);
    if (r < 0) {
        stratad_log("node %s failed to start: %s", job->name, err.msg);
        _cleanup_json_ json_t *patch = json_pack("{s:{s:s, s:{s:s}}}", "status", "message", err.msg,
                                                 "strata", "phase", "Failed");
        st_ctl_node_patch(d->store, job->name, patch, NULL);
        set_ready(d, job->name, "False", "Failed", "StartFailed", err.msg);
        st_event_record(d->store, "Node", "", job->name, "Warning", "StartFailed", COMPONENT, "%s",
                        err.msg);
        pthread_mutex_lock(&d->lock);
        struct node_rt *n = rt_find(d, job->name);
        if (n) {
            n->provisioning = false;
            n->dead = true;
        }
        pthread_mutex_unlock(&d->lock);
    } else {
        stratad_log("node %s is up in %lld ms (%s)", job->name, (long long)ms,
                    st_accel_name(job->accel));
        _cleanup_json_ json_t *patch =
            json_pack("{s:{s:{s:I}}}", "status", "strata", "bootMillis", (json_int_t)ms);
        st_ctl_node_patch(d->store, job->name, patch, NULL);
        st_event_record(d->store, "Node", "", job->name, "Normal", "Started", COMPONENT,
                        "VM %s%s booted to hello in %lld ms (%s)", ST_NODE_DOMAIN_PREFIX, job->name,
                        (long long)ms, job->accel_reason);
        pthread_mutex_lock(&d->lock);
        struct node_rt *n = rt_find(d, job->name);
        if (n)
            n->provisioning = false;
        pthread_mutex_unlock(&d->lock);
    }
    stratad_kick(d);
    free(job);
    atomic_fetch_sub(&d->workers, 1);
    return NULL;
}

int stratad_node_add(struct stratad *d, json_t *body, json_t **node, int *http, st_error *err)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
    json_t *spec = json_object_get(body, "spec");
    json_int_t cpus = json_integer_value(json_object_get(spec, "cpus"));
    json_int_t mem = json_integer_value(json_object_get(spec, "memoryMiB"));
    const char *accel_text = json_string_value(json_object_get(spec, "accel"));
    *http = 400;
    if (!st_name_dns_label_ok(name) || strlen(name) > ST_NODE_NAME_MAX)
        return st_error_set(err, EINVAL,
                            "metadata.name \"%s\": a node name is lowercase letters, digits and "
                            "'-' (not at either end), at most %d characters",
                            name ? name : "", ST_NODE_NAME_MAX);
    if (cpus == 0)
        cpus = ST_NODE_VCPUS_DEFAULT;
    if (mem == 0)
        mem = ST_NODE_MEMORY_DEFAULT_MIB;
    if (cpus < 1 || cpus > ST_NODE_VCPUS_MAX)
        return st_error_set(err, EINVAL, "spec.cpus %lld: give 1 to %d", (long long)cpus,
                            ST_NODE_VCPUS_MAX);
    if (mem < ST_NODE_MEMORY_MIN_MIB)
        return st_error_set(err, EINVAL,
                            "spec.memoryMiB %lld: a node needs at least %d MiB (default %d)",
                            (long long)mem, ST_NODE_MEMORY_MIN_MIB, ST_NODE_MEMORY_DEFAULT_MIB);
    st_accel accel;
    int r;
    if ((r = st_accel_parse(accel_text, &accel, err)) < 0)
        return r;
    st_accel_choice choice;
    if ((r = st_accel_choose(NULL, accel, &choice, err)) < 0)
        return r;
    _cleanup_free_ char *kernel = NULL, *initrd = NULL;
    if (asprintf(&kernel, "%s/vmlinux", d->cfg.node_image) < 0 ||
        asprintf(&initrd, "%s/initramfs.cpio", d->cfg.node_image) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if ((r = st_vmm_boot_files_check(kernel, initrd, err)) < 0) {
        *http = 503;
        st_error_prefix(err, "node image %s: ", d->cfg.node_image);
        return r;
    }

    /* A node that died or failed may be added again under its name: its old
     * domain goes first. A live or starting one may not. */
    _cleanup_json_ json_t *old = node_get(d, name);
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, name);
    bool busy = rt && (rt->provisioning || (!rt->dead && old));
    pthread_mutex_unlock(&d->lock);
    const char *ph = old ? node_phase(old) : "";
    if (busy || (old && strcmp(ph, "Dead") != 0 && strcmp(ph, "Failed") != 0)) {
        *http = 409;
        return st_error_set(err, EEXIST,
                            "node %s already exists (%s); remove it first with `stratactl node rm "
                            "%s`, or pick another name",
                            name, *ph ? ph : "starting", name);
    }
    if (old) {
        st_error uerr = {0};
        st_vmm_node_destroy(d->vmm, name, &uerr);
        st_error_clear(&uerr);
        if (st_vmm_node_undefine(d->vmm, name, &uerr) < 0 && uerr.code != ENOENT) {
            *http = 500;
            return st_error_set(err, uerr.code, "%s", uerr.msg);
        }
        st_store_delete(d->store, "Node", "", name, NULL, NULL);
    }

    char now[ST_TIME_RFC3339_LEN];
    st_time_now_rfc3339(now);
    _cleanup_json_ json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:I, s:I, s:s},"
                  " s:{s:[{s:s, s:s, s:s, s:s, s:s}], s:{s:s, s:s, s:s, s:I}}}",
                  "apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels",
                  "kubernetes.io/hostname", name, "spec", "cpus", cpus, "memoryMiB", mem, "accel",
                  st_accel_name(accel), "status", "conditions", "type", "Ready", "status", "False",
                  "reason", "Provisioning", "message", "the VM is booting", "lastTransitionTime",
                  now, "strata", "domain", "", "accel", st_accel_name(choice.accel), "accelReason",
                  choice.reason, "bootMillis", (json_int_t)0);
    json_object_set_new(json_object_get(json_object_get(obj, "status"), "strata"), "phase",
                        json_string("Provisioning"));
    char domain[ST_NODE_NAME_MAX + 16];
    snprintf(domain, sizeof(domain), "%s%s", ST_NODE_DOMAIN_PREFIX, name);
    json_object_set_new(json_object_get(json_object_get(obj, "status"), "strata"), "domain",
                        json_string(domain));
    if ((r = st_store_create(d->store, obj, node, err)) < 0) {
        *http = r == -EEXIST ? 409 : 500;
        return r;
    }
    struct start_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    *job = (struct start_job){
        .d = d, .cpus = (unsigned)cpus, .memory_mib = (unsigned)mem, .accel = choice.accel};
    snprintf(job->name, sizeof(job->name), "%s", name);
    snprintf(job->accel_reason, sizeof(job->accel_reason), "%s", choice.reason);
    pthread_mutex_lock(&d->lock);
    rt = rt_reset(d, name);
    if (rt)
        rt->provisioning = true;
    pthread_mutex_unlock(&d->lock);
    stratad_log("node %s: starting (%lld vCPU, %lld MiB, %s)", name, (long long)cpus,
                (long long)mem, choice.reason);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&d->workers, 1);
    r = pthread_create(&th, &attr, start_worker, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        atomic_fetch_sub(&d->workers, 1);
        free(job);
        *http = 500;
        return st_error_set(err, r, "cannot start a worker thread for node %s", name);
    }
    *http = 201;
    return 0;
}

int stratad_node_kill(struct stratad *d, const char *name, int *http, st_error *err)
{
    _cleanup_json_ json_t *obj = node_get(d, name);
    if (obj == NULL) {
        *http = 404;
        return st_error_set(err, ENOENT, "node %s not found (see `stratactl get nodes`)", name);
    }
    int r = st_vmm_node_destroy(d->vmm, name, err);
    if (r < 0) {
        *http = r == -ENOENT ? 404 : 500;
        return r;
    }
    st_event_record(d->store, "Node", "", name, "Warning", "Killed", "stratactl",
                    "VM %s%s destroyed on request (simulated node loss)", ST_NODE_DOMAIN_PREFIX,
                    name);
    *http = 200;
    return 0;
}

int stratad_node_remove(struct stratad *d, const char *name, int *http, st_error *err)
{
    _cleanup_json_ json_t *obj = node_get(d, name);
    if (obj == NULL) {
        *http = 404;
        return st_error_set(err, ENOENT, "node %s not found (see `stratactl get nodes`)", name);
    }
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, name);
    bool provisioning = rt && rt->provisioning;
    pthread_mutex_unlock(&d->lock);
    if (provisioning) {
        *http = 409;
        return st_error_set(err, EBUSY,
                            "node %s is still booting; remove it once `stratactl get nodes` "
                            "shows it Ready or Failed",
                            name);
    }
    set_ready(d, name, "False", "Removing", "Removing", "graceful shutdown requested");
    st_error serr = {0};
    /* The node's init has no ACPI daemon: the power button is a request it
     * may ignore, so the wait is short before the VM is destroyed. */
    int r = st_vmm_node_shutdown(d->vmm, name, STRATAD_SHUTDOWN_MS, &serr);
    if (r < 0 && serr.code != ENOENT)
        stratad_log("node %s: shutdown: %s", name, serr.msg);
    node_dead(d, name, "removed by `stratactl node rm`");
    st_error_clear(&serr);
    if ((r = st_vmm_node_undefine(d->vmm, name, &serr)) < 0 && serr.code != ENOENT) {
        *http = 500;
        return st_error_set(err, serr.code, "%s", serr.msg);
    }
    if ((r = st_store_delete(d->store, "Node", "", name, NULL, err)) < 0 && r != -ENOENT) {
        *http = 500;
        return r;
    }
    pthread_mutex_lock(&d->lock);
    for (struct node_rt **pp = &d->nodes; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct node_rt *gone = *pp;
            *pp = gone->next;
            json_decref(gone->sent);
            free(gone);
            break;
        }
    pthread_mutex_unlock(&d->lock);
    st_event_record(d->store, "Node", "", name, "Normal", "Removed", "stratactl",
                    "Node %s shut down and removed", name);
    stratad_kick(d);
    *http = 200;
    return 0;
}

/* ---- re-adoption -------------------------------------------------------- */

int stratad_nodes_readopt(struct stratad *d, st_error *err)
{
    st_store_query q = {.kind = "Node"};
    _cleanup_json_ json_t *nodes = NULL;
    int r = st_store_list(d->store, &q, &nodes, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
        const char *ph = node_phase(n);
        if (strcmp(ph, "Dead") == 0 || strcmp(ph, "Failed") == 0) {
            pthread_mutex_lock(&d->lock);
            struct node_rt *rt = rt_reset(d, name);
            if (rt)
                rt->dead = true;
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        pthread_mutex_lock(&d->lock);
        rt_reset(d, name);
        pthread_mutex_unlock(&d->lock);
        st_error aerr = {0};
        if (st_vmm_node_adopt(d->vmm, name, &aerr) == 0) {
            /* Its hello (with the pods it runs) follows; until then it is
             * Unknown, and fenced if nothing comes within the grace. */
            stratad_log("node %s: re-adopted its running VM", name);
            set_ready(d, name, "Unknown", "Adopting", "Adopting",
                      "stratad restarted; waiting for the node's hello");
            continue;
        }
        node_dead(d, name, aerr.msg);
    }
    return 0;
}

/* ---- the host's clock to nodes ------------------------------------------- */

/* A node's wall clock starts from the RTC (1 s resolution) and drifts
 * under TCG; the host's goes to it on hello and then at this interval, so
 * the times a node reports (startedAt) never precede the store's own. */
#define CLOCK_EVERY_NS (30LL * 1000000000)

static void send_clock(struct stratad *d, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    _cleanup_json_ json_t *msg = NULL;
    st_error err = {0};
    if (st_proto_clock_build(ms, &msg, &err) < 0 || st_vmm_node_send(d->vmm, name, msg, &err) < 0) {
        stratad_log("node %s: cannot send the clock: %s", name, err.msg);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, name);
    if (rt)
        rt->clock_sent_ns = st_vmm_now_ns();
    pthread_mutex_unlock(&d->lock);
}

/* Every connected node whose clock is due gets the host's. */
static void send_clocks(struct stratad *d)
{
    int64_t now = st_vmm_now_ns();
    char due[64][64];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct node_rt *rt = d->nodes; rt && n < 64; rt = rt->next)
        if (rt->connected && !rt->dead && !rt->fencing && now - rt->clock_sent_ns >= CLOCK_EVERY_NS)
            snprintf(due[n++], sizeof(due[0]), "%s", rt->name);
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++)
        send_clock(d, due[i]);
}

/* ---- messages from nodes ------------------------------------------------ */

/* The pods a node reports (hello) become what was sent to it: a restarted
 * stratad then never sends them a second time. */
static void remember_pods(struct stratad *d, const char *name, json_t *pods)
{
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, name);
    if (rt) {
        json_object_clear(rt->sent);
        size_t i;
        json_t *p;
        json_array_foreach(pods, i, p)
        {
            const char *uid = json_string_value(json_object_get(p, "uid"));
            const char *pod = json_string_value(json_object_get(p, "pod"));
            if (uid)
                json_object_set_new(rt->sent, uid, json_string(pod ? pod : ""));
        }
    }
    pthread_mutex_unlock(&d->lock);
}

static void on_hello(struct stratad *d, const char *name, json_t *msg)
{
    struct st_proto_hello h;
    st_error err = {0};
    if (st_proto_hello_parse(msg, &h, &err) < 0) {
        stratad_log("node %s: bad hello: %s", name, err.msg);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, name);
    if (rt) {
        rt->connected = true;
        rt->last_msg_ns = st_vmm_now_ns();
    }
    pthread_mutex_unlock(&d->lock);
    remember_pods(d, name, h.pods);
    char cpu[32], mem[32];
    snprintf(cpu, sizeof(cpu), "%lldm", (long long)h.cpu_millis);
    snprintf(mem, sizeof(mem), "%lldKi", (long long)(h.memory_bytes / 1024));
    _cleanup_json_ json_t *patch =
        json_pack("{s:{s:{s:s, s:s}, s:{s:s}, s:{s:I, s:I, s:s}}}", "status", "capacity", "cpu",
                  cpu, "memory", mem, "nodeInfo", "kernelVersion", h.kernel ? h.kernel : "",
                  "strata", "cpuMillis", (json_int_t)h.cpu_millis, "memoryBytes",
                  (json_int_t)h.memory_bytes, "agentVersion", h.version ? h.version : "");
    st_ctl_node_patch(d->store, name, patch, NULL);
    set_ready(d, name, "True", "Ready", "NodeReady", "strata-node said hello");
    stratad_log("node %s: hello (%lld mCPU, %lld MiB, kernel %s, %zu pods)", name,
                (long long)h.cpu_millis, (long long)(h.memory_bytes >> 20), h.kernel,
                json_array_size(h.pods));
    /* Pods it reports are running: their status is news to the store. */
    size_t i;
    json_t *p;
    json_array_foreach(h.pods, i, p)
    {
        json_t *m = json_deep_copy(p);
        json_object_set_new(m, "type", json_string(ST_PROTO_POD_STATUS));
        json_object_set_new(m, "seq", json_integer(0));
        st_ctl_pod_status(d->store, name, m, NULL);
        json_decref(m);
    }
    send_clock(d, name);
}

static void on_log(struct stratad *d, const char *node, json_t *msg)
{
    struct st_proto_log lg;
    if (st_proto_log_parse(msg, &lg, NULL) < 0)
        return;
    const char *ns = json_string_value(json_object_get(msg, "namespace"));
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", ns ? ns : "default", lg.pod);
    (void)node;
    pthread_mutex_lock(&d->lock);
    json_t *entry = json_object_get(d->logs, key);
    if (entry == NULL) {
        entry = json_pack("{s:I, s:[]}", "dropped", (json_int_t)0, "lines");
        json_object_set_new(d->logs, key, entry);
    }
    json_t *lines = json_object_get(entry, "lines");
    json_array_append_new(lines, json_string(lg.line));
    if (json_array_size(lines) > STRATAD_LOG_LINES) {
        json_array_remove(lines, 0);
        json_object_set_new(
            entry, "dropped",
            json_integer(json_integer_value(json_object_get(entry, "dropped")) + 1));
    }
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

/* What the node's kubelet-style agent saw happen to a pod (probe failures,
 * kills, back-off) becomes an Event about the pod, from the kubelet of
 * that node. The node limits how often it repeats one. */
static void on_pod_event(struct stratad *d, const char *node, json_t *msg)
{
    struct st_proto_event ev;
    st_error err = {0};
    if (st_proto_event_parse(msg, &ev, &err) < 0) {
        stratad_log("node %s: bad event: %s", node, err.msg);
        return;
    }
    char component[96];
    snprintf(component, sizeof(component), "kubelet/%s", node);
    st_event_record(d->store, "Pod", ev.ns ? ev.ns : "default", ev.pod, ev.event_type, ev.reason,
                    component, "%s", ev.message);
}

static void on_message(struct stratad *d, st_vmm_event *ev)
{
    pthread_mutex_lock(&d->lock);
    struct node_rt *rt = rt_find(d, ev->node);
    bool dead = rt == NULL || rt->dead;
    if (rt && !dead)
        rt->last_msg_ns = ev->mono_ns;
    bool connected = rt && rt->connected;
    pthread_mutex_unlock(&d->lock);
    if (dead)
        return;
    if (strcmp(ev->type, ST_PROTO_HELLO) == 0) {
        on_hello(d, ev->node, ev->msg);
        return;
    }
    if (!connected) {
        /* Messages before hello (an adopted node mid-greeting) still prove
         * it alive; their content waits for the hello. */
        return;
    }
    if (strcmp(ev->type, ST_PROTO_POD_STATUS) == 0) {
        st_error err = {0};
        int r = st_ctl_pod_status(d->store, ev->node, ev->msg, &err);
        if (r < 0)
            stratad_log("node %s: pod status: %s", ev->node, err.msg);
        stratad_kick(d);
    } else if (strcmp(ev->type, ST_PROTO_LOG) == 0) {
        on_log(d, ev->node, ev->msg);
    } else if (strcmp(ev->type, ST_PROTO_EVENT) == 0) {
        on_pod_event(d, ev->node, ev->msg);
    }
}

/* A node past its heartbeat deadline is fenced: its domain is destroyed
 * before anything it ran is started elsewhere; the death that follows
 * (channel EOF, libvirt STOPPED) gives its pods up. */
static void check_deadlines(struct stratad *d)
{
    int64_t now = st_vmm_now_ns();
    int64_t grace = (int64_t)d->cfg.grace_ms * 1000000;
    char late[16][64];
    size_t nlate = 0;
    pthread_mutex_lock(&d->lock);
    for (struct node_rt *n = d->nodes; n && nlate < 16; n = n->next) {
        if (n->dead || n->provisioning || n->fencing || now - n->last_msg_ns < grace)
            continue;
        n->fencing = true;
        snprintf(late[nlate++], sizeof(late[0]), "%s", n->name);
    }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < nlate; i++) {
        const char *name = late[i];
        stratad_log("node %s: no heartbeat for %d ms: fencing (destroying its VM)", name,
                    d->cfg.grace_ms);
        set_ready(d, name, "Unknown", "Fencing", "NodeStatusUnknown",
                  "heartbeats stopped; fencing the VM before its pods move");
        st_error err = {0};
        int r = st_vmm_node_destroy(d->vmm, name, &err);
        st_event_record(d->store, "Node", "", name, "Warning", "Fenced", COMPONENT,
                        "No heartbeat for %d ms: VM %s%s destroyed%s%s", d->cfg.grace_ms,
                        ST_NODE_DOMAIN_PREFIX, name, r < 0 ? ": " : "", r < 0 ? err.msg : "");
        /* Destroyed (or already gone): nothing of it can run any more. */
        char why[128];
        snprintf(why, sizeof(why), "fenced after %d ms without heartbeat", d->cfg.grace_ms);
        node_dead(d, name, why);
    }
}

void stratad_nodes_events(struct stratad *d)
{
    st_vmm_event ev;
    st_error err = {0};
    /* Bounded per pass so the controllers run even under a message flood. */
    for (int k = 0; k < 1000 && st_vmm_event_next(d->vmm, 0, &ev, &err) == 1; k++) {
        if (ev.kind == ST_VMM_EVENT_DEAD) {
            char why[256];
            const char *cause = st_node_death_name(ev.cause);
            if (ev.detail[0] && strcmp(ev.detail, cause) != 0)
                snprintf(why, sizeof(why), "%s (%s)", cause, ev.detail);
            else
                snprintf(why, sizeof(why), "%s", cause);
            pthread_mutex_lock(&d->lock);
            struct node_rt *rt = rt_find(d, ev.node);
            bool starting = rt && rt->provisioning;
            pthread_mutex_unlock(&d->lock);
            /* A VM dying before hello is the start worker's failure. */
            if (!starting)
                node_dead(d, ev.node, why);
        } else if (ev.kind == ST_VMM_EVENT_MESSAGE) {
            on_message(d, &ev);
        }
        st_vmm_event_clear(&ev);
    }
    send_clocks(d);
    check_deadlines(d);
}
