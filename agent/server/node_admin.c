/* node_admin.c: what `stratactl node add|kill|rm` asks of stratad: add
 * checks the request and the host's memory, records the Node and boots its
 * VM in a worker, which waits for a start slot (node_pool.c) and records
 * Ready or why it failed; kill destroys a VM to simulate node loss; rm
 * shuts a node down and forgets it. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/names.h"
#include "strata/netalloc.h"
#include "strata/node_template.h"
#include "strata/time.h"
#include "strata/lease.h"
#include "strata/store_lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "node-controller"

struct start_job {
    struct st_server *d;
    char name[64];
    unsigned cpus, memory_mib;
    int ready_timeout_ms; /* 0: the vmm's default */
    st_accel accel;
    char accel_reason[ST_ACCEL_REASON_MAX];
    char pod_cidr[ST_NET_CIDR_LEN];
    bool from_template; /* spec.fromTemplate: restore a booted template */
};

static pthread_mutex_t pod_cidr_lock = PTHREAD_MUTEX_INITIALIZER;

static void *start_worker(void *arg)
{
    struct start_job *job = arg;
    struct st_server *d = job->d;
    _cleanup_free_ char *kernel = NULL, *initrd = NULL, *cmdline = NULL;
    if (asprintf(&kernel, "%s/vmlinux", d->cfg.node_image) < 0 ||
        asprintf(&initrd, "%s/initramfs.cpio", d->cfg.node_image) < 0 ||
        asprintf(&cmdline,
                 "strata.heartbeat_ms=%d strata.podcidr=%s strata.svccidr=%s "
                 "strata.host_grace_ms=%d",
                 st_server_liveness_heartbeat_ms(d), job->pod_cidr, ST_NET_SERVICE_CIDR,
                 st_server_hosts_grace_ms(d)) < 0) {
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
        .cmdline_extra = cmdline,
        .state_dir = d->nodes_dir,
        .images_dir = d->images_dir,
    };
    st_error err = {0};
    json_t *hello = NULL;
    /* A few boots at once (node_pool.c); its ready timeout starts with its
     * slot, and the host's memory is checked again then, after the nodes
     * booted before it took theirs. */
    int r = st_server_node_pool_enter(&d->node_pool, &err);
    bool slot = r == 0;
    if (slot)
        st_server_log("node %s: booting (one of at most %u at once)", job->name,
                      d->node_pool.slots);
    if (slot && (r = d->vmm.ops->host_memory_check(d->vmm.ctx, job->memory_mib, &err)) < 0)
        st_error_prefix(&err, "when its turn to boot came: ");
    int64_t t0 = st_server_now_ns(d);
    st_vmm_start_report rep = {0};
    st_vmm_start_options so = {.ready_timeout_ms = job->ready_timeout_ms,
                               .template_dir = job->from_template ? d->templates_dir : NULL,
                               .report = &rep};
    if (r == 0)
        r = d->vmm.ops->node_start(d->vmm.ctx, &spec, &so, &hello, &err);
    if (rep.fallback[0]) {
        st_server_log("node %s: %s", job->name, rep.fallback);
        st_event_record(d->store, "Node", "", job->name, "Warning", "TemplateUnused", COMPONENT,
                        "%s", rep.fallback);
    }
    if (rep.template_made)
        st_event_record(d->store, "Node", "", job->name, "Normal", "TemplateMade", COMPONENT,
                        "booted and saved a node template in %lld ms (in %s)",
                        (long long)rep.template_ms, d->templates_dir);
    int64_t ms = (st_server_now_ns(d) - t0) / 1000000;
    json_decref(hello);
    /* Logged before the slot is left, so the log never shows more boots
     * at once than slots (itest_nodes_at_once reads it). */
    if (r < 0)
        st_server_log("node %s failed to start: %s", job->name, err.msg);
    else
        st_server_log("node %s is up in %lld ms (%s)", job->name, (long long)ms,
                      st_accel_name(job->accel));
    if (slot)
        st_server_node_pool_leave(&d->node_pool);
    if (r < 0) {
        _cleanup_json_ json_t *patch = json_pack("{s:{s:s, s:{s:s}}}", "status", "message", err.msg,
                                                 "strata", "phase", "Failed");
        st_control_node_patch(d->store, job->name, patch, NULL);
        st_server_node_set_ready(d, job->name, "False", "Failed", "StartFailed", err.msg);
        st_event_record(d->store, "Node", "", job->name, "Warning", "StartFailed", COMPONENT, "%s",
                        err.msg);
        pthread_mutex_lock(&d->lock);
        struct st_server_node *n = st_server_node_find(d, job->name);
        if (n) {
            n->provisioning = false;
            n->dead = true;
        }
        pthread_mutex_unlock(&d->lock);
    } else {
        _cleanup_json_ json_t *patch =
            json_pack("{s:{s:{s:I}}}", "status", "strata", "bootMillis", (json_int_t)ms);
        st_control_node_patch(d->store, job->name, patch, NULL);
        st_event_record(d->store, "Node", "", job->name, "Normal", "Started", COMPONENT,
                        "VM %s%s %s to hello in %lld ms (%s)", ST_NODE_DOMAIN_PREFIX, job->name,
                        rep.restored ? "restored from a template" : "booted", (long long)ms,
                        job->accel_reason);
        pthread_mutex_lock(&d->lock);
        struct st_server_node *n = st_server_node_find(d, job->name);
        if (n)
            n->provisioning = false;
        pthread_mutex_unlock(&d->lock);
    }
    st_server_kick(d);
    free(job);
    atomic_fetch_sub(&d->workers, 1);
    return NULL;
}

/* What this host checks before it records a node it boots: the
 * accelerator, the node image, and that the node fits in its memory. */
static int node_local_checks(struct st_server *d, const char *name, st_accel accel, unsigned mem,
                             st_accel_choice *choice, st_error *err)
{
    int r;
    if (st_accel_choose(NULL, accel, choice, err) < 0)
        return st_server_recode(err, EINVAL);
    _cleanup_free_ char *kernel = NULL, *initrd = NULL;
    if (asprintf(&kernel, "%s/vmlinux", d->cfg.node_image) < 0 ||
        asprintf(&initrd, "%s/initramfs.cpio", d->cfg.node_image) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if (d->vmm.ops->boot_files_check(d->vmm.ctx, kernel, initrd, err) < 0) {
        st_error_prefix(err, "node image %s: ", d->cfg.node_image);
        return st_server_recode(err, EAGAIN);
    }
    /* Before anything is made: a node that cannot fit leaves nothing. */
    if ((r = d->vmm.ops->host_memory_check(d->vmm.ctx, mem, err)) < 0) {
        st_error_prefix(err, "node %s: ", name);
        return st_server_recode(err, r == -ENOMEM ? ENOSPC : EIO);
    }
    return 0;
}

/* `node add --host H` for another host: a stratad serves H (its lease is
 * there and current). */
static int host_check(struct st_server *d, const char *host, st_error *err)
{
    if (d->hosts == NULL)
        return st_error_set(err, EINVAL,
                            "spec.host %s: this stratad runs alone (its own PostgreSQL); hosts "
                            "share a cluster through one PostgreSQL given with --db",
                            host);
    char lease[128];
    st_lease_state st = {0};
    int r = st_lease_host_name(host, lease, sizeof(lease), err);
    if (r < 0)
        return st_server_recode(err, EINVAL);
    r = st_store_lease_get(d->store, ST_LEASE_HOST_NS, lease, &st, err);
    if (r == -ENOENT) {
        st_error_clear(err); /* the store's "not found" says less than this */
        return st_error_set(err, ENOENT,
                            "host %s: no stratad serves it (no lease %s/%s); start one there with "
                            "--host-name %s and this --db, or see `stratactl get hosts`",
                            host, ST_LEASE_HOST_NS, lease, host);
    }
    if (r < 0)
        return r;
    if (st_lease_host_lost(&st, 0))
        return st_error_set(err, EHOSTUNREACH,
                            "host %s: its stratad has not renewed its lease for %lld ms (lease %d "
                            "ms): it is down or cut off; its nodes are lost",
                            host, (long long)(st.db_now_ms - st.renew_ms), st.duration_ms);
    return 0;
}

/* Boots node name in a worker (a start slot first). */
static int start_spawn(struct st_server *d, const char *name, unsigned cpus, unsigned mem,
                       int ready_timeout_ms, const st_accel_choice *choice, const char *cidr,
                       bool from_template, st_error *err)
{
    struct start_job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    *job = (struct start_job){.d = d,
                              .cpus = cpus,
                              .memory_mib = mem,
                              .ready_timeout_ms = ready_timeout_ms,
                              .accel = choice->accel,
                              .from_template = from_template};
    snprintf(job->name, sizeof(job->name), "%s", name);
    snprintf(job->accel_reason, sizeof(job->accel_reason), "%s", choice->reason);
    snprintf(job->pod_cidr, sizeof(job->pod_cidr), "%s", cidr);
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_reset(d, name);
    if (rt)
        rt->provisioning = true;
    pthread_mutex_unlock(&d->lock);
    st_server_log("node %s: starting (%u vCPU, %u MiB, %s)", name, cpus, mem, choice->reason);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&d->workers, 1);
    int r = pthread_create(&th, &attr, start_worker, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        atomic_fetch_sub(&d->workers, 1);
        free(job);
        return st_error_set(err, EIO, "cannot start a worker thread for node %s", name);
    }
    return 0;
}

int st_server_node_add(struct st_server *d, json_t *body, int ready_timeout_ms, json_t **node,
                       st_error *err)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
    json_t *spec = json_object_get(body, "spec");
    json_int_t cpus = json_integer_value(json_object_get(spec, "cpus"));
    json_int_t mem = json_integer_value(json_object_get(spec, "memoryMiB"));
    const char *accel_text = json_string_value(json_object_get(spec, "accel"));
    json_t *from_template = json_object_get(spec, "fromTemplate");
    if (from_template && !json_is_boolean(from_template))
        return st_error_set(err, EINVAL, "spec.fromTemplate: true or false");
    const char *host = json_string_value(json_object_get(spec, "host"));
    if (json_object_get(spec, "host") && (host == NULL || !st_name_dns_label_ok(host)))
        return st_error_set(err, EINVAL,
                            "spec.host: the name of a host (see `stratactl get hosts`)");
    bool remote = host && strcmp(host, d->host_name) != 0;
    int r;
    if (remote && (r = host_check(d, host, err)) < 0)
        return r;
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
    if (st_accel_parse(accel_text, &accel, err) < 0)
        return st_server_recode(err, EINVAL);
    st_accel_choice choice = {.accel = accel};
    /* Another host's accelerator, image and memory are its own stratad's
     * to check, when it claims the node. */
    if (remote)
        snprintf(choice.reason, sizeof(choice.reason), "chosen by host %s", host);
    else if ((r = node_local_checks(d, name, accel, (unsigned)mem, &choice, err)) < 0)
        return r;

    /* A node that died or failed may be added again under its name: its old
     * domain goes first. A live or starting one may not. */
    _cleanup_json_ json_t *old = st_server_node_get(d, name);
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, name);
    bool busy = rt && (rt->provisioning || (!rt->dead && old));
    pthread_mutex_unlock(&d->lock);
    const char *ph = old ? st_server_node_phase(old) : "";
    if (busy || (old && strcmp(ph, "Dead") != 0 && strcmp(ph, "Failed") != 0)) {
        return st_error_set(err, EEXIST,
                            "node %s already exists (%s); remove it first with `stratactl node rm "
                            "%s`, or pick another name",
                            name, *ph ? ph : "starting", name);
    }
    if (old && !st_server_node_mine(d, old)) {
        st_store_delete(d->store, "Node", "", name, NULL, NULL);
    } else if (old) {
        st_error uerr = {0};
        d->vmm.ops->node_destroy(d->vmm.ctx, name, &uerr);
        st_error_clear(&uerr);
        if (d->vmm.ops->node_undefine(d->vmm.ctx, name, &uerr) < 0 && uerr.code != ENOENT)
            return st_error_set(err, EIO, "%s", uerr.msg);
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
    json_object_set_new(json_object_get(json_object_get(obj, "metadata"), "labels"), ST_HOST_LABEL,
                        json_string(remote ? host : d->host_name));
    json_object_set_new(json_object_get(json_object_get(obj, "status"), "strata"), "phase",
                        json_string(remote ? ST_NODE_PHASE_REQUESTED : "Provisioning"));
    if (remote) {
        json_t *c =
            json_array_get(json_object_get(json_object_get(obj, "status"), "conditions"), 0);
        json_object_set_new(c, "reason", json_string(ST_NODE_PHASE_REQUESTED));
        char msg[160];
        snprintf(msg, sizeof(msg), "waiting for host %s's stratad to boot it", host);
        json_object_set_new(c, "message", json_string(msg));
        if (from_template)
            json_object_set(json_object_get(obj, "spec"), "fromTemplate", from_template);
    }
    char domain[ST_NODE_NAME_MAX + 16];
    snprintf(domain, sizeof(domain), "%s%s", ST_NODE_DOMAIN_PREFIX, name);
    json_object_set_new(json_object_get(json_object_get(obj, "status"), "strata"), "domain",
                        json_string(domain));
    /* Its pod CIDR: picked and stored under one lock, so nodes added at
     * once never get the same. */
    char cidr[ST_NET_CIDR_LEN];
    pthread_mutex_lock(&pod_cidr_lock);
    r = st_control_node_pod_cidr(d->store, cidr, err);
    if (r == 0) {
        json_t *spec = json_object_get(obj, "spec");
        json_object_set_new(spec, "podCIDR", json_string(cidr));
        json_object_set_new(spec, "podCIDRs", json_pack("[s]", cidr));
        r = st_store_create(d->store, obj, node, err);
    }
    pthread_mutex_unlock(&pod_cidr_lock);
    if (r == -ENOSPC)
        return r;
    if (r < 0)
        return r == -EEXIST ? r : st_server_recode(err, EIO);
    /* Another host may have stored a node with the same CIDR meanwhile
     * (pod_cidr_lock is this process's): one of the two picks again. */
    if (d->hosts && (r = st_control_node_pod_cidr_settle(d->store, name, cidr, err)) < 0)
        return st_server_recode(err, EIO);
    if (remote)
        return 0;
    return start_spawn(d, name, (unsigned)cpus, (unsigned)mem, ready_timeout_ms, &choice, cidr,
                       json_is_true(from_template), err);
}

bool st_server_node_mine(struct st_server *d, json_t *node)
{
    const char *h = st_node_host(node);
    return d->hosts == NULL || (h && strcmp(h, d->host_name) == 0);
}

int st_server_node_local(struct st_server *d, json_t *node, const char *what, st_error *err)
{
    if (st_server_node_mine(d, node))
        return 0;
    const char *h = st_node_host(node);
    return st_error_set(
        err, EREMOTE,
        "node %s runs on host %s, not on this one (%s): %s it through that "
        "host's stratad",
        json_string_value(json_object_get(json_object_get(node, "metadata"), "name")),
        h ? h : "(none)", d->host_name, what);
}

struct claim {
    bool claimed;
};

static int claim_fn(json_t *obj, void *arg, st_error *err)
{
    (void)err;
    struct claim *c = arg;
    json_t *strata = json_object_get(json_object_get(obj, "status"), "strata");
    if (strcmp(json_string_value(json_object_get(strata, "phase")) ?: "",
               ST_NODE_PHASE_REQUESTED) != 0)
        return ST_STORE_KEEP;
    json_object_set_new(strata, "phase", json_string("Provisioning"));
    json_t *c0 = json_array_get(json_object_get(json_object_get(obj, "status"), "conditions"), 0);
    json_object_set_new(c0, "reason", json_string("Provisioning"));
    json_object_set_new(c0, "message", json_string("the VM is booting"));
    c->claimed = true;
    return ST_STORE_WRITE;
}

int st_server_node_boot_requested(struct st_server *d, json_t *node, st_error *err)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
    json_t *spec = json_object_get(node, "spec");
    unsigned cpus = (unsigned)json_integer_value(json_object_get(spec, "cpus"));
    unsigned mem = (unsigned)json_integer_value(json_object_get(spec, "memoryMiB"));
    const char *cidr = json_string_value(json_object_get(spec, "podCIDR"));
    st_accel accel;
    st_accel_choice choice = {0};
    int r;
    if (name == NULL || cidr == NULL)
        return st_error_set(err, EINVAL, "a requested node without a name or pod CIDR");
    if (st_accel_parse(json_string_value(json_object_get(spec, "accel")), &accel, err) < 0 ||
        (r = node_local_checks(d, name, accel, mem, &choice, err)) < 0) {
        /* It cannot boot here: say so on the node, as a failed start. */
        _cleanup_json_ json_t *patch = json_pack("{s:{s:s, s:{s:s}}}", "status", "message",
                                                 err->msg, "strata", "phase", "Failed");
        st_control_node_patch(d->store, name, patch, NULL);
        st_server_node_set_ready(d, name, "False", "Failed", "StartFailed", err->msg);
        return -err->code;
    }
    struct claim c = {0};
    if ((r = st_store_mutate(d->store, "Node", "", name, claim_fn, &c, NULL, err)) < 0)
        return r;
    if (!c.claimed)
        return 0;
    _cleanup_json_ json_t *patch =
        json_pack("{s:{s:{s:s, s:s}}}", "status", "strata", "accel", st_accel_name(choice.accel),
                  "accelReason", choice.reason);
    st_control_node_patch(d->store, name, patch, NULL);
    /* the CIDR as settled with the nodes other hosts stored meanwhile */
    char settled[ST_NET_CIDR_LEN];
    if ((r = st_control_node_pod_cidr_settle(d->store, name, settled, err)) < 0)
        return r;
    return start_spawn(d, name, cpus ? cpus : ST_NODE_VCPUS_DEFAULT,
                       mem ? mem : ST_NODE_MEMORY_DEFAULT_MIB, 0, &choice, settled,
                       json_is_true(json_object_get(spec, "fromTemplate")), err);
}

/* The stored node, or -ENOENT saying where to look, or the store's own
 * error (down: 503, never a "not found" that is not known). */
static int node_lookup(struct st_server *d, const char *name, json_t **obj, st_error *err)
{
    int r = st_store_get(d->store, "Node", "", name, obj, err);
    if (r == -ENOENT)
        return st_error_set(err, ENOENT, "node %s not found (see `stratactl get nodes`)", name);
    return r < 0 ? r : 0;
}

int st_server_node_kill(struct st_server *d, const char *name, st_error *err)
{
    _cleanup_json_ json_t *obj = NULL;
    int r = node_lookup(d, name, &obj, err);
    if (r < 0 || (r = st_server_node_local(d, obj, "kill", err)) < 0)
        return r;
    r = d->vmm.ops->node_destroy(d->vmm.ctx, name, err);
    if (r < 0)
        return r == -ENOENT ? r : st_server_recode(err, EIO);
    st_event_record(d->store, "Node", "", name, "Warning", "Killed", "stratactl",
                    "VM %s%s destroyed on request (simulated node loss)", ST_NODE_DOMAIN_PREFIX,
                    name);
    return 0;
}

int st_server_node_remove(struct st_server *d, const char *name, st_error *err)
{
    _cleanup_json_ json_t *obj = NULL;
    int r = node_lookup(d, name, &obj, err);
    if (r < 0 || (r = st_server_node_local(d, obj, "remove", err)) < 0)
        return r;
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, name);
    bool provisioning = rt && rt->provisioning;
    /* Its channel closing while it powers off is the removal, not a loss;
     * neither is its silence meanwhile. */
    if (rt && !provisioning)
        rt->removing = true;
    pthread_mutex_unlock(&d->lock);
    if (provisioning)
        return st_error_set(err, EBUSY,
                            "node %s is still booting; remove it once `stratactl get nodes` "
                            "shows it Ready or Failed",
                            name);
    st_server_node_set_ready(d, name, "False", "Removing", "Removing",
                             "graceful shutdown requested");
    st_error serr = {0};
    /* The node's init has no ACPI daemon: the power button is a request it
     * may ignore, so the wait is short before the VM is destroyed. */
    r = d->vmm.ops->node_shutdown(d->vmm.ctx, name, ST_SERVER_SHUTDOWN_MS, &serr);
    if (r < 0 && serr.code != ENOENT)
        st_server_log("node %s: shutdown: %s", name, serr.msg);
    st_server_node_dead(d, name, "removed by `stratactl node rm`", true);
    st_error_clear(&serr);
    if ((r = d->vmm.ops->node_undefine(d->vmm.ctx, name, &serr)) < 0 && serr.code != ENOENT)
        return st_error_set(err, EIO, "%s", serr.msg);
    if ((r = st_store_delete(d->store, "Node", "", name, NULL, err)) < 0 && r != -ENOENT)
        return st_server_recode(err, EIO);
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node **pp = &d->nodes; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            struct st_server_node *gone = *pp;
            *pp = gone->next;
            json_decref(gone->sent);
            json_decref(gone->reported);
            free(gone);
            break;
        }
    pthread_mutex_unlock(&d->lock);
    st_event_record(d->store, "Node", "", name, "Normal", "Removed", "stratactl",
                    "Node %s shut down and removed", name);
    st_server_kick(d);
    return 0;
}

int st_server_node_templates_drop(struct st_server *d, st_error *err)
{
    int n = st_template_drop_all(d->templates_dir, err);
    if (n > 0)
        st_server_log("dropped %d node template(s) in %s", n, d->templates_dir);
    return n;
}
