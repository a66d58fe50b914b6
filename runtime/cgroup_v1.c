/* cgroup_v1.c: the cgroup v1 backend (this host's hybrid layout): one
 * hierarchy per controller, v1 file names (memory.limit_in_bytes,
 * cpu.cfs_quota_us, ...) and OOM kills from memory.oom_control. It writes
 * only through cgroup.c's libcgroup helpers. */
#include "cgroup_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

/* freezer is optional (pausing); the others are created wherever mounted. */
static const char *const v1_ctrls[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

static int v1_missing(struct st_cgroup *cg, const char *ctrl, const char *field, st_error *err)
{
    (void)cg;
    return st_error_set(err, ENODEV,
                        "%s: the %s controller is not mounted (cgroup v1); mount it under "
                        "/sys/fs/cgroup/%s or drop the limit",
                        field, ctrl, ctrl);
}

static int v1_controllers(struct st_cgroup *cg, st_error *err)
{
    for (size_t i = 0; i < sizeof(v1_ctrls) / sizeof(v1_ctrls[0]); i++) {
        enum st_cgroup_layout v;
        if (st_cgroup_ctrl_mount(v1_ctrls[i], &v) && v == ST_CGROUP_HYBRID_V1) {
            int r = st_cgroup_ctrl_add(cg, v1_ctrls[i], err);
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
    /* memsw exists only when the kernel accounts swap (swapaccount=1). Without
     * it swap is not limited; with no swap configured there is none to use. */
    if (res->memory_swap >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->memory_swap);
        r = st_cgroup_set_value(cg, "memory", "memory.memsw.limit_in_bytes", v,
                                "linux.resources.memory.swap", true, NULL, err);
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
    return 0;
}

const struct st_cgroup_ops st_cgroup_v1_ops = {
    .controllers = v1_controllers,
    .missing = v1_missing,
    .apply = v1_apply,
    .oom_events = "memory.oom_control",
};
