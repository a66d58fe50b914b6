/* cgroup.h: a container's control group, through libcgroup, on both the host's
 * cgroup v1 hybrid layout and a pure cgroup v2 (what the node VMs mount).
 * It never writes cgroup files by hand and never touches a cgroup it did not
 * create or open; a failed create leaves nothing behind. */
#ifndef STRATA_CGROUP_H
#define STRATA_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "strata/error.h"

/* Device access bits, the values of the kernel's BPF_DEVCG_ACC_* (so a v2
 * device program compares them as they are). */
#define ST_DEV_ACC_MKNOD 1u
#define ST_DEV_ACC_READ  2u
#define ST_DEV_ACC_WRITE 4u
#define ST_DEV_ACC_ALL   7u

/* One linux.resources.devices entry (or one the runtime adds after them:
 * the default devices and linux.devices, allowed as runc does). */
struct st_device_rule {
    bool allow;
    char type;            /* 'a' (all), 'c' or 'b' */
    int64_t major, minor; /* -1 = any ("*") */
    unsigned access;      /* ST_DEV_ACC_* */
};

/* One linux.resources.hugepageLimits entry, page size in the kernel's
 * spelling of the hugetlb files ("2MB", "1GB", "64KB"). */
struct st_hugepage_limit {
    char size[24];
    uint64_t limit; /* bytes */
};

struct st_resources {
    int64_t memory_limit;       /* bytes, -1 = unset (OCI linux.resources.memory.limit) */
    int64_t memory_swap;        /* OCI memory.swap (memory+swap) bytes, -1 = unset */
    int64_t memory_reservation; /* OCI memory.reservation (soft limit) bytes, -1 = unset */
    int64_t memory_swappiness;  /* 0..100, -1 = unset (v1 only: refused on v2) */
    bool disable_oom_killer;    /* OCI memory.disableOOMKiller (v1 only: refused on v2) */
    int64_t cpu_quota;          /* microseconds per period, -1 = unset */
    uint64_t cpu_period;        /* microseconds, 0 = unset */
    uint64_t cpu_shares; /* OCI cpu.shares (v1 scale 2..262144), 0 = unset; on v2 -> cpu.weight */
    char *cpuset_cpus;   /* OCI cpu.cpus ("0-3,7"), NULL = unset; owned */
    char *cpuset_mems;   /* OCI cpu.mems, NULL = unset; owned */
    int64_t pids_limit;  /* -1 = unset */
    struct st_hugepage_limit *hugepage_limits; /* owned */
    size_t n_hugepage_limits;
    /* The device rules in the order they apply, NULL when the config gives
     * none (then the cgroup keeps its parent's device access). v1 writes
     * them to devices.allow/deny; v2 attaches a BPF program built from
     * them (devices.h). Owned. */
    struct st_device_rule *device_rules;
    size_t n_device_rules;
};

void st_resources_init(struct st_resources *r); /* everything unset */
/* Frees what st_resources owns (cpuset strings, hugepage limits, device
 * rules) and sets everything unset again. */
void st_resources_clear(struct st_resources *r);

/* Rejects what no kernel would take, naming the OCI field: negative values
 * other than -1, memory.swap below memory.limit, cpu.shares outside 2..262144,
 * swappiness above 100, a cpuset list that is not one ("0-3,7").
 * st_cgroup_create calls it first. */
int st_resources_check(const struct st_resources *r, st_error *err);

enum st_cgroup_layout { ST_CGROUP_HYBRID_V1 = 1, ST_CGROUP_UNIFIED_V2 = 2 };

/* Calls cgroup_init() once per process (later calls return the first result).
 * Every function below calls it; call it yourself only before using libcgroup
 * directly. */
int st_cgroup_init(st_error *err);

/* HYBRID_V1 when the memory/cpu/pids controllers are on v1 hierarchies (an
 * empty or nearly empty cgroup2 beside them, as on this host, is ignored);
 * UNIFIED_V2 when libcgroup only knows a cgroup2 mount. */
int st_cgroup_layout(enum st_cgroup_layout *out, st_error *err);

/* true when /sys/fs/cgroup is itself a cgroup2 mount (a pure v2 host): a
 * cgroup made before the clone lets clone3 start the process in it
 * (st_cgroup_dir_open) without the migration lock. Elsewhere a process is
 * attached after its clone either way, and the cgroup can be made while it
 * sets up. A hint for ordering only, read from the filesystem without
 * cgroup_init (whose first call zeroes libcgroup's ~800 KB mount table). */
bool st_cgroup_prefers_clone_into(void);

struct st_cgroup; /* opaque */

/* path is relative to the hierarchy roots: "strata-<id>" or an OCI cgroupsPath
 * like "/a/b" (no "." or ".." components). Creates it, and any missing parent,
 * in every controller it needs:
 *   v1: memory, cpu, cpuacct, pids, freezer (each where mounted), and only
 *       when res asks for them cpuset (new levels get their parent's cpus and
 *       mems, or no task could join), devices, hugetlb (which may be on the
 *       cgroup2 mount of a hybrid host: its own hierarchy either way);
 *   v2: the unified tree, enabling memory, cpu, pids (where available), and
 *       cpuset, hugetlb when res asks, in each parent's
 *       cgroup.subtree_control; device rules become a BPF_CGROUP_DEVICE
 *       program attached to the directory;
 * then applies res. A limit the layout cannot honour (swappiness or
 * disableOOMKiller on v2, a huge page size the host lacks) is refused before
 * anything is created. A value the kernel refuses fails with the OCI field named
 * ("linux.resources.memory.limit: the kernel refused 4096 ...") and nothing
 * created is left behind. Parents that existed before are never removed. */
int st_cgroup_create(const char *path, const struct st_resources *res, struct st_cgroup **out,
                     st_error *err);

/* An existing cgroup (exec joining it, destroy from another process).
 * -ENOENT when it exists in none of the hierarchies. */
int st_cgroup_open(const char *path, struct st_cgroup **out, st_error *err);

/* Moves the process pid (all its threads) into the cgroup, in every hierarchy. */
int st_cgroup_attach(struct st_cgroup *cg, pid_t pid, st_error *err);

/* v2: the cgroup's directory, opened (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
 * for clone3's CLONE_INTO_CGROUP, which starts a process in it without the
 * global migration lock st_cgroup_attach takes. v1: -EOPNOTSUPP (one
 * directory per controller; attach instead). */
int st_cgroup_dir_open(const struct st_cgroup *cg, st_error *err);

/* true when the kernel OOM-killed a process of this cgroup (or below it):
 *   v2: the oom_kill counter of memory.events is > 0;
 *   v1: the oom_kill counter of memory.oom_control is > 0 (kernel >= 4.13).
 * A v1 kernel without that counter gives -EOPNOTSUPP: then memory.failcnt > 0
 * together with a SIGKILLed process is the caller's judgement. -EOPNOTSUPP
 * too when the memory controller is not available. */
int st_cgroup_oom_killed(struct st_cgroup *cg, bool *killed, st_error *err);

/* The processes (not threads) in the cgroup itself, from cgroup.procs; *pids
 * is malloc'd (NULL when *n == 0). */
int st_cgroup_pids(struct st_cgroup *cg, pid_t **pids, size_t *n, st_error *err);

/* Sends sig to every process in the cgroup (a process that is already gone
 * is not an error). */
int st_cgroup_kill(struct st_cgroup *cg, int sig, st_error *err);

/* Kills what is left (SIGKILL, then waits until the cgroup is empty, bounded
 * ~2 s), removes it from every hierarchy. Parents are left alone. cg must
 * still be freed. */
int st_cgroup_destroy(struct st_cgroup *cg, st_error *err);

void st_cgroup_free(struct st_cgroup *cg);

/* The normalized path: no leading or trailing '/' ("a/b"). */
const char *st_cgroup_path(const struct st_cgroup *cg);

enum st_cgroup_layout st_cgroup_get_layout(const struct st_cgroup *cg);

/* ---- Conversions (pure; the v2 backend uses them, unit tests check them) ---- */

/* OCI cpu.shares (2..262144, v1 scale) to v2 cpu.weight (1..10000), the
 * mapping runc and crun use: 1 + ((shares - 2) * 9999) / 262142. Out-of-range
 * shares are clamped first; 0 (unset) gives 0. */
uint64_t st_cgroup_shares_to_weight(uint64_t shares);

/* The v2 cpu.max value: "<quota> <period>" or "max <period>" (quota -1).
 * period 0 means the kernel's default, 100000. Fails with -EINVAL naming
 * linux.resources.cpu.quota when quota is < -1 or 0. */
int st_cgroup_cpu_max(int64_t quota, uint64_t period, char *buf, size_t size, st_error *err);

/* The v2 memory.swap.max value from OCI memory.swap (memory+swap) and
 * memory.limit: swap - limit, -1 when swap is unlimited (-1). Fails with
 * -EINVAL naming linux.resources.memory.swap when swap is set without a
 * memory limit or below it. */
int st_cgroup_swap_max(int64_t memory_limit, int64_t memory_swap, int64_t *out, st_error *err);

#endif
