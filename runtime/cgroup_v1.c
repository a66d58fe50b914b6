/* cgroup_v1.c: the cgroup v1 backend (this host's hybrid layout): one
 * hierarchy per controller, v1 file names (memory.limit_in_bytes,
 * cpu.cfs_quota_us, ...) and OOM kills from memory.oom_control. It writes
 * only through cgroup.c's libcgroup helpers. */
#include "cgroup_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devices.h"

/* freezer is optional (pausing); the others are created wherever mounted. */
static const char *const v1_ctrls[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

/* Only a cgroup that asks for them joins these: a cpuset level must be
 * filled before a task can join it, and a devices level starts as its
 * parent. hugetlb is its own hierarchy even when it is the cgroup2 mount
 * of a hybrid host (this one: hugetlb is all its cgroup2 offers). */
static bool wants_cpuset(const struct st_resources *res)
{
    return res == NULL || res->cpuset_cpus || res->cpuset_mems;
}
static bool wants_devices(const struct st_resources *res)
{
    return res == NULL || res->n_device_rules > 0;
}
static bool wants_hugetlb(const struct st_resources *res)
{
    return res == NULL || res->n_hugepage_limits > 0;
}

static int v1_missing(struct st_cgroup *cg, const char *ctrl, const char *field, st_error *err)
{
    (void)cg;
    return st_error_set(err, ENODEV,
                        "%s: the %s controller is not mounted (cgroup v1); mount it under "
                        "/sys/fs/cgroup/%s or drop the limit",
                        field, ctrl, ctrl);
}

static int v1_controllers(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    for (size_t i = 0; i < sizeof(v1_ctrls) / sizeof(v1_ctrls[0]); i++) {
        enum st_cgroup_layout v;
        if (st_cgroup_ctrl_mount(v1_ctrls[i], &v) && v == ST_CGROUP_HYBRID_V1) {
            int r = st_cgroup_ctrl_add(cg, v1_ctrls[i], err);
            if (r < 0)
                return r;
        }
    }
    const struct {
        const char *name;
        bool wanted, any_version;
    } optional[] = {
        {"cpuset", wants_cpuset(res), false},
        {"devices", wants_devices(res), false},
        {"hugetlb", wants_hugetlb(res), true},
    };
    for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
        enum st_cgroup_layout v;
        if (optional[i].wanted && st_cgroup_ctrl_mount(optional[i].name, &v) &&
            (optional[i].any_version || v == ST_CGROUP_HYBRID_V1)) {
            int r = st_cgroup_ctrl_add(cg, optional[i].name, err);
            if (r < 0)
                return r;
        }
    }
    cg->nhier = cg->nctrl;
    if (cg->nctrl == 0)
        return st_error_set(err, ENODEV,
                            "cgroup %s: none of memory, cpu, cpuacct, pids, freezer is mounted "
                            "as cgroup v1",
                            cg->path);
    return 0;
}

/* A new v1 cpuset level starts with empty cpus and mems, and the kernel
 * refuses tasks there (ENOSPC): give it its parent's. The limit itself is
 * written to the leaf afterwards. */
static int v1_level_made(struct st_cgroup *cg, const char *level, st_error *err)
{
    if (!st_cgroup_has_ctrl(cg, "cpuset"))
        return 0;
    char parent[FILENAME_MAX];
    snprintf(parent, sizeof(parent), "%s", level);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), "/");
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        char val[1024];
        int r = st_cgroup_read_line("cpuset", parent, files[i], val, sizeof(val), err);
        if (r == 0 && val[0] == '\0')
            r = st_error_set(err, ENOSPC,
                             "linux.resources.cpu: the parent cpuset %s has an empty %s: fill it "
                             "or pick another cgroupsPath",
                             parent, files[i]);
        if (r == 0)
            r = st_cgroup_set_value_at(
                level, "cpuset", files[i], val,
                i == 0 ? "linux.resources.cpu.cpus" : "linux.resources.cpu.mems", err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* In order, as the spec says: each entry one write to devices.allow or
 * devices.deny, which the kernel applies as devices.h's model does. */
static int v1_devices(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    for (size_t i = 0; i < res->n_device_rules; i++) {
        const struct st_device_rule *d = &res->device_rules[i];
        char v[64];
        st_device_rule_format(d, v, sizeof(v));
        int r = st_cgroup_set_value(cg, "devices", d->allow ? "devices.allow" : "devices.deny", v,
                                    "linux.resources.devices", false, NULL, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int v1_apply(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    char v[32];
    int r;
    /* memory first: memsw.limit_in_bytes may never be below limit_in_bytes. */
    if (res->memory_limit >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_limit);
        r = st_cgroup_set_value(cg, "memory", "memory.limit_in_bytes", v,
                                "linux.resources.memory.limit", false, NULL, err);
        if (r < 0)
            return r;
    }
    /* memsw exists only when the kernel accounts swap (swapaccount=1). */
    if (res->memory_swap >= 0) {
        bool absent = false;
        snprintf(v, sizeof(v), "%" PRId64, res->memory_swap);
        r = st_cgroup_set_value(cg, "memory", "memory.memsw.limit_in_bytes", v,
                                "linux.resources.memory.swap", true, &absent, err);
        if (r == 0 && absent)
            r = st_cgroup_swap_unaccounted("memory.memsw.limit_in_bytes", err);
        if (r < 0)
            return r;
    }
    if (res->cpu_shares > 0) {
        snprintf(v, sizeof(v), "%" PRIu64, res->cpu_shares);
        r = st_cgroup_set_value(cg, "cpu", "cpu.shares", v, "linux.resources.cpu.shares", false,
                                NULL, err);
        if (r < 0)
            return r;
    }
    /* period before quota: the kernel checks quota against the current period. */
    if (res->cpu_period > 0) {
        snprintf(v, sizeof(v), "%" PRIu64, res->cpu_period);
        r = st_cgroup_set_value(cg, "cpu", "cpu.cfs_period_us", v, "linux.resources.cpu.period",
                                false, NULL, err);
        if (r < 0)
            return r;
    }
    if (res->cpu_quota > 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->cpu_quota);
        r = st_cgroup_set_value(cg, "cpu", "cpu.cfs_quota_us", v, "linux.resources.cpu.quota",
                                false, NULL, err);
        if (r < 0)
            return r;
    }
    if (res->memory_reservation >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_reservation);
        r = st_cgroup_set_value(cg, "memory", "memory.soft_limit_in_bytes", v,
                                "linux.resources.memory.reservation", false, NULL, err);
        if (r < 0)
            return r;
    }
    if (res->memory_swappiness >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_swappiness);
        r = st_cgroup_set_value(cg, "memory", "memory.swappiness", v,
                                "linux.resources.memory.swappiness", false, NULL, err);
        if (r < 0)
            return r;
    }
    if (res->disable_oom_killer &&
        (r = st_cgroup_set_value(cg, "memory", "memory.oom_control", "1",
                                 "linux.resources.memory.disableOOMKiller", false, NULL, err)) < 0)
        return r;
    return v1_devices(cg, res, err);
}

const struct st_cgroup_ops st_cgroup_v1_ops = {
    .controllers = v1_controllers,
    .missing = v1_missing,
    .level_made = v1_level_made,
    .apply = v1_apply,
    .oom_events = "memory.oom_control",
};
