/* cgroup_backend.h: what cgroup.c shares with its two backends (cgroup_v1.c,
 * cgroup_v2.c): the st_cgroup object, the ops table, and the libcgroup helpers
 * every backend uses. A backend holds only what differs between the layouts;
 * what is the same (which limit needs which controller, pids.max, reading the
 * OOM counter) is kept once, beside the table, in cgroup.c. Internal to
 * runtime/; not for other layers. */
#ifndef STRATA_CGROUP_BACKEND_H
#define STRATA_CGROUP_BACKEND_H

#include <libcgroup.h>
#include "strata/cgroup.h"

#define ST_CGROUP_MAX_CTRL  8
#define ST_CGROUP_CTRL_NAME 32

struct st_cgroup_ops;

struct st_cgroup {
    char *path; /* normalized, "a/b" */
    enum st_cgroup_layout layout;
    const struct st_cgroup_ops *ops;
    /* The libcgroup controllers the cgroup lives in. On v1 each is its own
     * hierarchy; on v2 they share one directory, so only ctrl[0] is used to
     * attach, list, and remove (nhier == 1). */
    char ctrl[ST_CGROUP_MAX_CTRL][ST_CGROUP_CTRL_NAME];
    size_t nctrl;
    size_t nhier;
};

struct st_cgroup_ops {
    /* Fills cg->ctrl/nctrl/nhier from the mounted controllers: the ones
     * every cgroup is in, and those res asks for (cpuset, devices,
     * hugetlb); res NULL (opening an existing cgroup) lists them all. */
    int (*controllers)(struct st_cgroup *cg, const struct st_resources *res, st_error *err);
    /* Refuses, before anything is created, a limit this layout has no file
     * for (v2: swappiness, disableOOMKiller). NULL: nothing to refuse. */
    int (*check)(struct st_cgroup *cg, const struct st_resources *res, st_error *err);
    /* Called for each level create made, top down, before res is applied
     * (v1: a new cpuset level copies its parent's cpus and mems, without
     * which no task may join it). NULL: nothing to do. */
    int (*level_made)(struct st_cgroup *cg, const char *level, st_error *err);
    /* The error for a limit (OCI field) whose controller ctrl the cgroup is
     * not in, saying what to do on this layout. Which limit needs which
     * controller is the same on both: cgroup.c checks that, once. */
    int (*missing)(struct st_cgroup *cg, const char *ctrl, const char *field, st_error *err);
    /* Writes res into the existing cgroup, one value at a time, so a refusal
     * names its OCI field; what has the same file on both (pids.max,
     * cpuset.cpus/mems, hugetlb by the hugetlb mount's version) is
     * cgroup.c's. */
    int (*apply)(struct st_cgroup *cg, const struct st_resources *res, st_error *err);
    /* The memory controller's file with the "oom_kill N" counter. */
    const char *oom_events;
};

extern const struct st_cgroup_ops st_cgroup_v1_ops;
extern const struct st_cgroup_ops st_cgroup_v2_ops;

/* The mount libcgroup knows for controller name with its version, or NULL. */
const char *st_cgroup_ctrl_mount(const char *name, enum st_cgroup_layout *version);
/* The first controller libcgroup lists on a cgroup2 mount, or NULL. */
const char *st_cgroup_first_v2_ctrl(void);

/* Adds a controller name to cg->ctrl (ignores duplicates). */
int st_cgroup_ctrl_add(struct st_cgroup *cg, const char *name, st_error *err);
bool st_cgroup_has_ctrl(const struct st_cgroup *cg, const char *name);

/* A libcgroup return code as a positive errno (ECGOTHER: the errno behind it). */
int st_cgroup_errno(int lcg_code);

/* Writes value into file of controller ctrl through cgroup_modify_cgroup.
 * field is the OCI field for the message. When optional and the file does not
 * exist, sets *absent (if given) and succeeds. */
int st_cgroup_set_value(struct st_cgroup *cg, const char *ctrl, const char *file, const char *value,
                        const char *field, bool optional, bool *absent, st_error *err);

/* memory.swap was asked for but the kernel has no swap limit file (swap
 * is not accounted): fine when the host has no swap at all (there is none
 * to use), else an error naming the field, never a silent drop. */
int st_cgroup_swap_unaccounted(const char *file, st_error *err);

/* Reads the first line of file of controller ctrl in the cgroup at path
 * (not necessarily cg's: a parent), without its newline. */
int st_cgroup_read_line(const char *ctrl, const char *path, const char *file, char *buf,
                        size_t size, st_error *err);

/* st_cgroup_set_value for the cgroup at path (a level of cg being made). */
int st_cgroup_set_value_at(const char *path, const char *ctrl, const char *file, const char *value,
                           const char *field, st_error *err);

/* Reads a "key N" line of a flat-keyed file (memory.events, memory.oom_control)
 * through cgroup_read_value_*; *found is false when no line has that key. */
int st_cgroup_read_counter(struct st_cgroup *cg, const char *ctrl, const char *file,
                           const char *key, int64_t *out, bool *found, st_error *err);

static inline void st_lcg_freep(struct cgroup **g)
{
    if (*g)
        cgroup_free(g);
}
#define _cleanup_lcg_ __attribute__((cleanup(st_lcg_freep)))

#endif
