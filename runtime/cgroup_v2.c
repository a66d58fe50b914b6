/* cgroup_v2.c: the cgroup v2 backend (what the node VMs mount): one unified
 * directory, controllers handed down through cgroup.subtree_control, limits in
 * memory.max, memory.swap.max, memory.low, cpu.max, cpu.weight, device rules
 * as a BPF program on the directory, OOM kills counted in memory.events. It
 * writes files only through cgroup.c's libcgroup helpers. */
#include "cgroup_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "devices.h"

static const char *const v2_ctrls[] = {"memory", "cpu", "pids"};

static int v2_missing(struct st_cgroup *cg, const char *ctrl, const char *field, st_error *err)
{
    const char *mnt = st_cgroup_ctrl_mount(cg->ctrl[0], NULL);
    return st_error_set(err, ENODEV,
                        "%s: the %s controller is not available in cgroup v2 at %s (not in its "
                        "cgroup.controllers: bound to a v1 hierarchy or disabled at boot)",
                        field, ctrl, mnt ? mnt : "?");
}

static int v2_controllers(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    for (size_t i = 0; i < sizeof(v2_ctrls) / sizeof(v2_ctrls[0]); i++) {
        enum st_cgroup_layout v;
        if (st_cgroup_ctrl_mount(v2_ctrls[i], &v) && v == ST_CGROUP_UNIFIED_V2) {
            int r = st_cgroup_ctrl_add(cg, v2_ctrls[i], err);
            if (r < 0)
                return r;
        }
    }
    /* Enabled in the parents' subtree_control only for a cgroup that asks:
     * cpuset and hugetlb cost every sibling their accounting otherwise. */
    const struct {
        const char *name;
        bool wanted;
    } optional[] = {
        {"cpuset", res == NULL || res->cpuset_cpus || res->cpuset_mems},
        {"hugetlb", res == NULL || res->n_hugepage_limits > 0},
    };
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        enum st_cgroup_layout v;
        if (optional[i].wanted && st_cgroup_ctrl_mount(optional[i].name, &v) &&
            v == ST_CGROUP_UNIFIED_V2) {
            int r = st_cgroup_ctrl_add(cg, optional[i].name, err);
            if (r < 0)
                return r;
        }
    }
    if (cg->nctrl == 0) {
        /* None of memory, cpu, pids on v2 (a v2 tree whose controllers are bound
         * to v1 elsewhere). libcgroup 2.0 can only create, attach and remove
         * through a real controller name (its "cgroup" pseudo-controller fails
         * in cgroup_create_cgroup), so carry the cgroup on whichever controller
         * this mount offers. No limit can be set then. */
        const char *carrier = st_cgroup_first_v2_ctrl();
        if (carrier == NULL)
            return st_error_set(
                err, ENODEV, "cgroup %s: the cgroup2 mount offers no controller at all", cg->path);
        int r = st_cgroup_ctrl_add(cg, carrier, err);
        if (r < 0)
            return r;
    }
    cg->nhier = 1; /* one directory for all controllers */
    return 0;
}

/* v2 has no file for these; crun refuses them too (runc drops them). */
static int v2_check(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    (void)cg;
    if (res->memory_swappiness >= 0)
        return st_error_set(err, EOPNOTSUPP,
                            "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup "
                            "swappiness (it is v1's memory.swappiness): remove it");
    if (res->disable_oom_killer)
        return st_error_set(err, EOPNOTSUPP,
                            "linux.resources.memory.disableOOMKiller: cgroup v2 cannot turn the "
                            "OOM killer off for a cgroup (v1's memory.oom_control): remove it or "
                            "set it to false");
    return 0;
}

/* The directory the device program is attached to. */
static int v2_devices(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    if (res->n_device_rules == 0)
        return 0;
    const char *mnt = st_cgroup_ctrl_mount(cg->ctrl[0], NULL);
    char dir[FILENAME_MAX];
    if (mnt == NULL || snprintf(dir, sizeof(dir), "%s/%s", mnt, cg->path) >= (int)sizeof(dir))
        return st_error_set(err, ENAMETOOLONG, "cgroup %s: no directory for the device program",
                            cg->path);
    return st_devices_bpf_attach(dir, res->device_rules, res->n_device_rules, err);
}

static int v2_apply(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    char v[64];
    int r;
    if (res->memory_limit >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_limit);
        r = st_cgroup_set_value(cg, "memory", "memory.max", v, "linux.resources.memory.limit",
                                false, NULL, err);
        if (r < 0)
            return r;
    }
    if (res->memory_swap >= 0) {
        int64_t swap = 0;
        r = st_cgroup_swap_max(res->memory_limit, res->memory_swap, &swap, err);
        if (r < 0)
            return r;
        snprintf(v, sizeof(v), "%" PRId64, swap);
        /* memory.swap.max is missing when swap is not accounted. */
        bool absent = false;
        r = st_cgroup_set_value(cg, "memory", "memory.swap.max", v, "linux.resources.memory.swap",
                                true, &absent, err);
        if (r == 0 && absent)
            r = st_cgroup_swap_unaccounted("memory.swap.max", err);
        if (r < 0)
            return r;
    }
    if (res->cpu_shares > 0) {
        snprintf(v, sizeof(v), "%" PRIu64, st_cgroup_shares_to_weight(res->cpu_shares));
        r = st_cgroup_set_value(cg, "cpu", "cpu.weight", v, "linux.resources.cpu.shares", false,
                                NULL, err);
        if (r < 0)
            return r;
    }
    if (res->cpu_quota > 0 || res->cpu_period > 0) {
        r = st_cgroup_cpu_max(res->cpu_quota, res->cpu_period, v, sizeof(v), err);
        if (r < 0)
            return r;
        r = st_cgroup_set_value(cg, "cpu", "cpu.max", v,
                                res->cpu_quota > 0 ? "linux.resources.cpu.quota"
                                                   : "linux.resources.cpu.period",
                                false, NULL, err);
        if (r < 0)
            return r;
    }
    /* v1's soft limit is what v2 calls best-effort protection. */
    if (res->memory_reservation >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_reservation);
        r = st_cgroup_set_value(cg, "memory", "memory.low", v, "linux.resources.memory.reservation",
                                false, NULL, err);
        if (r < 0)
            return r;
    }
    return v2_devices(cg, res, err);
}

const struct st_cgroup_ops st_cgroup_v2_ops = {
    .controllers = v2_controllers,
    .check = v2_check,
    .missing = v2_missing,
    .apply = v2_apply,
    .oom_events = "memory.events",
};
