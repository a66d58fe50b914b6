/* cgroup.c: the layout-independent half of the cgroup facility: libcgroup
 * initialisation, create/open with rollback, attach, listing, kill, destroy.
 * Everything goes through libcgroup; what differs between v1 and v2 (which
 * controllers, which files, where the OOM counter is) lives in cgroup_v1.c /
 * cgroup_v2.c, what is the same for both here. */
#include "cgroup_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "strata/clock.h"
#include "strata/cleanup.h"

/* How long destroy waits for killed processes to leave, and how often it looks. */
#define ST_CGROUP_DRAIN_MS 2000
#define ST_CGROUP_POLL_MS  5

/* ---- libcgroup initialisation and the controller table ---- */

struct st_ctrl_mount {
    char name[ST_CGROUP_CTRL_NAME];
    char path[FILENAME_MAX];
    enum st_cgroup_layout version;
};

#define ST_CGROUP_MAX_MOUNTS 32

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_code; /* libcgroup code of cgroup_init, or ECGOTHER + init_errno */
static int init_errno;
static struct st_ctrl_mount mounts[ST_CGROUP_MAX_MOUNTS];
static size_t nmounts;

/* libcgroup 2.0 only says "controller X at path P". Whether P is a cgroup2
 * mount decides the file names, so ask the filesystem itself. */
static void init_run(void)
{
    init_code = cgroup_init();
    if (init_code != 0) {
        init_errno = cgroup_get_last_errno();
        return;
    }
    void *h = NULL;
    struct cgroup_mount_point mp;
    int r = cgroup_get_controller_begin(&h, &mp);
    while (r == 0 && nmounts < ST_CGROUP_MAX_MOUNTS) {
        struct statfs sfs;
        size_t name_len = strlen(mp.name);
        if (statfs(mp.path, &sfs) == 0 && name_len < ST_CGROUP_CTRL_NAME) {
            struct st_ctrl_mount *m = &mounts[nmounts++];
            memcpy(m->name, mp.name, name_len + 1);
            snprintf(m->path, sizeof(m->path), "%s", mp.path);
            m->version =
                sfs.f_type == CGROUP2_SUPER_MAGIC ? ST_CGROUP_UNIFIED_V2 : ST_CGROUP_HYBRID_V1;
        }
        r = cgroup_get_controller_next(&h, &mp);
    }
    if (h)
        cgroup_get_controller_end(&h);
}

int st_cgroup_init(st_error *err)
{
    pthread_once(&init_once, init_run);
    if (init_code == 0)
        return 0;
    if (init_code == ECGROUPNOTMOUNTED)
        return st_error_set(err, ENOENT,
                            "cgroup_init: no cgroup hierarchy with a controller is mounted "
                            "(libcgroup 2.0 ignores a cgroup2 mount whose cgroup.controllers is "
                            "empty): mount cgroup2 on /sys/fs/cgroup or the v1 controllers");
    if (init_code == ECGOTHER)
        return st_error_sys(err, init_errno ? init_errno : EIO,
                            "cgroup_init: cannot read /proc/cgroups or /proc/mounts");
    return st_error_set(err, EIO, "cgroup_init failed: %s (libcgroup code %d)",
                        cgroup_strerror(init_code), init_code);
}

const char *st_cgroup_ctrl_mount(const char *name, enum st_cgroup_layout *version)
{
    for (size_t i = 0; i < nmounts; i++) {
        if (strcmp(mounts[i].name, name) == 0) {
            if (version)
                *version = mounts[i].version;
            return mounts[i].path;
        }
    }
    return NULL;
}

const char *st_cgroup_first_v2_ctrl(void)
{
    for (size_t i = 0; i < nmounts; i++)
        if (mounts[i].version == ST_CGROUP_UNIFIED_V2)
            return mounts[i].name;
    return NULL;
}

bool st_cgroup_prefers_clone_into(void)
{
    struct statfs sfs;
    return statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

int st_cgroup_layout(enum st_cgroup_layout *out, st_error *err)
{
    int r = st_cgroup_init(err);
    if (r < 0)
        return r;
    /* The resource controllers decide: this host binds them to v1 and leaves a
     * cgroup2 beside them that holds at most leftovers such as hugetlb. */
    static const char *const resource_ctrls[] = {"memory", "cpu", "pids"};
    bool any_v2 = false;
    for (size_t i = 0; i < sizeof(resource_ctrls) / sizeof(resource_ctrls[0]); i++) {
        enum st_cgroup_layout v;
        if (st_cgroup_ctrl_mount(resource_ctrls[i], &v)) {
            *out = v;
            return 0;
        }
    }
    for (size_t i = 0; i < nmounts; i++)
        any_v2 |= mounts[i].version == ST_CGROUP_UNIFIED_V2;
    if (any_v2) {
        *out = ST_CGROUP_UNIFIED_V2;
        return 0;
    }
    if (nmounts > 0) {
        *out = ST_CGROUP_HYBRID_V1;
        return 0;
    }
    return st_error_set(err, ENOENT,
                        "no cgroup controller is mounted: mount cgroup2 on "
                        "/sys/fs/cgroup (or the v1 controllers)");
}

/* ---- helpers shared with the backends ---- */

int st_cgroup_errno(int code)
{
    switch (code) {
    case 0:
        return 0;
    case ECGOTHER: {
        int e = cgroup_get_last_errno();
        return e > 0 ? e : EIO;
    }
    case ECGROUPNOTEXIST:
    case ECGROUPVALUENOTEXIST:
        return ENOENT;
    case ECGROUPNOTMOUNTED:
    case ECGROUPSUBSYSNOTMOUNTED:
        return ENODEV;
    case ECGROUPNOTOWNER:
        return EPERM;
    case ECGROUPNOTALLOWED:
        return EACCES;
    case ECGNONEMPTY:
        return EBUSY;
    case ECGINVAL:
        return EINVAL;
    default:
        return EIO;
    }
}

/* "cgroup strerror" that is right for ECGOTHER too (libcgroup then means errno). */
static const char *lcg_strerror(int code)
{
    return code == ECGOTHER ? strerror(st_cgroup_errno(code)) : cgroup_strerror(code);
}

int st_cgroup_ctrl_add(struct st_cgroup *cg, const char *name, st_error *err)
{
    if (st_cgroup_has_ctrl(cg, name))
        return 0;
    if (cg->nctrl >= ST_CGROUP_MAX_CTRL || strlen(name) >= ST_CGROUP_CTRL_NAME)
        return st_error_set(err, E2BIG, "cgroup %s: too many controllers (at %s)", cg->path, name);
    snprintf(cg->ctrl[cg->nctrl++], ST_CGROUP_CTRL_NAME, "%s", name);
    return 0;
}

bool st_cgroup_has_ctrl(const struct st_cgroup *cg, const char *name)
{
    for (size_t i = 0; i < cg->nctrl; i++)
        if (strcmp(cg->ctrl[i], name) == 0)
            return true;
    return false;
}

/* One value into one file; ECGROUPVALUENOTEXIST is returned as is (the
 * caller decides whether a missing file is an error). */
static int set_value(const char *path, const char *ctrl, const char *file, const char *value,
                     const char *field, bool optional, st_error *err)
{
    /* A fresh struct per value: cgroup_modify_cgroup writes every value it
     * holds, and one value per call is what lets the error name the field. */
    _cleanup_lcg_ struct cgroup *g = cgroup_new_cgroup(path);
    if (g == NULL)
        return st_error_set(err, ENOMEM, "cgroup %s: out of memory", path);
    struct cgroup_controller *c = cgroup_add_controller(g, ctrl);
    if (c == NULL || cgroup_add_value_string(c, file, value) != 0)
        return st_error_set(err, ENOMEM, "cgroup %s: cannot prepare %s", path, file);
    int r = cgroup_modify_cgroup(g);
    if (r == 0 || (r == ECGROUPVALUENOTEXIST && optional))
        return r;
    const char *mnt = st_cgroup_ctrl_mount(ctrl, NULL);
    return st_error_set(err, st_cgroup_errno(r), "%s: the kernel refused %s (%s/%s/%s): %s", field,
                        value, mnt ? mnt : ctrl, path, file, lcg_strerror(r));
}

int st_cgroup_set_value(struct st_cgroup *cg, const char *ctrl, const char *file, const char *value,
                        const char *field, bool optional, bool *absent, st_error *err)
{
    int r = set_value(cg->path, ctrl, file, value, field, optional, err);
    if (absent)
        *absent = r == ECGROUPVALUENOTEXIST;
    return r < 0 ? r : 0;
}

int st_cgroup_set_value_at(const char *path, const char *ctrl, const char *file, const char *value,
                           const char *field, st_error *err)
{
    int r = set_value(path, ctrl, file, value, field, false, err);
    return r < 0 ? r : 0;
}

int st_cgroup_swap_unaccounted(const char *file, st_error *err)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/swaps", "re");
    char line[256];
    int lines = 0;
    while (f && fgets(line, sizeof(line), f))
        lines++;
    if (f && lines <= 1) /* the header alone: no swap anywhere */
        return 0;
    return st_error_set(err, EOPNOTSUPP,
                        "linux.resources.memory.swap: the kernel does not account swap (no %s), "
                        "so swap use cannot be limited while this host has swap: boot with "
                        "swapaccount=1 or drop memory.swap",
                        file);
}

int st_cgroup_read_line(const char *ctrl, const char *path, const char *file, char *buf,
                        size_t size, st_error *err)
{
    void *h = NULL;
    buf[0] = '\0';
    int r = cgroup_read_value_begin(ctrl, path, (char *)file, &h, buf, (int)size);
    if (h)
        cgroup_read_value_end(&h);
    if (r != 0 && r != ECGEOF)
        return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot read %s (%s): %s",
                            path[0] ? path : "/", file, ctrl, lcg_strerror(r));
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int st_cgroup_read_counter(struct st_cgroup *cg, const char *ctrl, const char *file,
                           const char *key, int64_t *out, bool *found, st_error *err)
{
    char line[256];
    void *h = NULL;
    size_t klen = strlen(key);
    *found = false;
    *out = 0;
    int r = cgroup_read_value_begin(ctrl, cg->path, (char *)file, &h, line, sizeof(line));
    while (r == 0) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoll(line + klen + 1, NULL, 10);
            *found = true;
            break;
        }
        r = cgroup_read_value_next(&h, line, sizeof(line));
    }
    if (h)
        cgroup_read_value_end(&h);
    if (r != 0 && r != ECGEOF)
        return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot read %s (%s): %s", cg->path,
                            file, ctrl, lcg_strerror(r));
    return 0;
}

/* ---- paths ---- */

/* "/a//b/" -> "a/b"; refuses "", "/", "." and ".." components. */
static int path_normalize(const char *in, char **out, st_error *err)
{
    if (in == NULL)
        return st_error_set(err, EINVAL, "cgroup path: missing (give \"strata-<id>\" or /a/b)");
    size_t len = strlen(in);
    if (len >= FILENAME_MAX / 2)
        return st_error_set(err, ENAMETOOLONG, "cgroup path: %zu bytes is too long", len);
    _cleanup_free_ char *p = malloc(len + 1);
    if (p == NULL)
        return st_error_set(err, ENOMEM, "cgroup path: out of memory");
    size_t n = 0;
    const char *s = in;
    while (*s) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t clen = (size_t)(e - s);
        if (clen == 0)
            break;
        if ((clen == 1 && s[0] == '.') || (clen == 2 && s[0] == '.' && s[1] == '.'))
            return st_error_set(err, EINVAL, "cgroup path \"%s\": \".\" and \"..\" are not allowed",
                                in);
        if (n > 0)
            p[n++] = '/';
        memcpy(p + n, s, clen);
        n += clen;
        s = e;
    }
    p[n] = '\0';
    if (n == 0)
        return st_error_set(err, EINVAL,
                            "cgroup path \"%s\": names the root; give \"strata-<id>\" or /a/b", in);
    *out = st_steal_ptr(&p);
    return 0;
}

/* "2MB" -> 2048 (the kB of /sys/kernel/mm/hugepages/hugepages-<N>kB). */
static uint64_t hugepage_kb(const char *size)
{
    char *end;
    uint64_t n = strtoull(size, &end, 10);
    switch (*end) {
    case 'G':
        return n << 20;
    case 'M':
        return n << 10;
    default:
        return n;
    }
}

/* Exists in controller ctrl: its cgroup.procs can be opened. */
static bool exists_in(const char *ctrl, const char *path)
{
    char line[64];
    void *h = NULL;
    int r = cgroup_read_value_begin(ctrl, path, "cgroup.procs", &h, line, sizeof(line));
    if (h)
        cgroup_read_value_end(&h);
    return r == 0 || r == ECGEOF;
}

static struct cgroup *lcg_new(const struct st_cgroup *cg, const char *path, size_t nctrl)
{
    struct cgroup *g = cgroup_new_cgroup(path);
    if (g == NULL)
        return NULL;
    for (size_t i = 0; i < nctrl; i++) {
        if (cgroup_add_controller(g, cg->ctrl[i]) == NULL) {
            cgroup_free(&g);
            return NULL;
        }
    }
    return g;
}

/* Creates one level. On v2 libcgroup enables each controller in the parent's
 * cgroup.subtree_control first; libcgroup 2.0.2 does so only for the
 * immediate parent levels below the root of a nested name, which is why the
 * caller creates parents one level at a time, top down. */
static int create_one(const struct st_cgroup *cg, const char *path, st_error *err)
{
    _cleanup_lcg_ struct cgroup *g = lcg_new(cg, path, cg->nctrl);
    if (g == NULL)
        return st_error_set(err, ENOMEM, "cgroup %s: out of memory", path);
    int r = cgroup_create_cgroup(g, 1);
    if (r == 0)
        return 0;
    const char *hint = cg->layout == ST_CGROUP_UNIFIED_V2
                           ? "; in cgroup v2 a parent that holds processes cannot hand "
                             "controllers to its children"
                           : "";
    return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot create it (%s): %s%s", path,
                        cg->ctrl[0], lcg_strerror(r), hint);
}

static int delete_one(const struct st_cgroup *cg, const char *path, st_error *err)
{
    _cleanup_lcg_ struct cgroup *g = lcg_new(cg, path, cg->nhier);
    if (g == NULL)
        return st_error_set(err, ENOMEM, "cgroup %s: out of memory", path);
    /* EMPTY_ONLY: never migrate processes to the parent, never recurse. */
    int r = cgroup_delete_cgroup_ext(g, CGFLAG_DELETE_EMPTY_ONLY);
    if (r == 0)
        return 0;
    return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot remove it: %s", path,
                        lcg_strerror(r));
}

/* Every limit res sets needs its controller, on v1 and v2 alike: a limit
 * the cgroup cannot enforce fails here, naming its OCI field, rather than
 * being dropped. */
static int check_controllers(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    const struct {
        bool wanted;
        const char *ctrl, *field;
    } needs[] = {
        {res->memory_limit >= 0, "memory", "linux.resources.memory.limit"},
        {res->memory_swap >= 0, "memory", "linux.resources.memory.swap"},
        {res->cpu_shares > 0, "cpu", "linux.resources.cpu.shares"},
        {res->cpu_quota > 0 || res->cpu_period > 0, "cpu", "linux.resources.cpu.quota"},
        {res->pids_limit >= 0, "pids", "linux.resources.pids.limit"},
        {res->memory_reservation >= 0, "memory", "linux.resources.memory.reservation"},
        {res->memory_swappiness >= 0, "memory", "linux.resources.memory.swappiness"},
        {res->disable_oom_killer, "memory", "linux.resources.memory.disableOOMKiller"},
        {res->cpuset_cpus != NULL, "cpuset", "linux.resources.cpu.cpus"},
        {res->cpuset_mems != NULL, "cpuset", "linux.resources.cpu.mems"},
        {res->n_hugepage_limits > 0, "hugetlb", "linux.resources.hugepageLimits"},
        /* v2 has no devices controller: a BPF program on the directory does it */
        {res->n_device_rules > 0 && cg->layout == ST_CGROUP_HYBRID_V1, "devices",
         "linux.resources.devices"},
    };
    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
        if (needs[i].wanted && !st_cgroup_has_ctrl(cg, needs[i].ctrl))
            return cg->ops->missing(cg, needs[i].ctrl, needs[i].field, err);
    /* A page size the host has no pool for has no hugetlb files either. */
    for (size_t i = 0; i < res->n_hugepage_limits; i++) {
        char path[128];
        uint64_t kb = hugepage_kb(res->hugepage_limits[i].size);
        snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%" PRIu64 "kB", kb);
        if (access(path, F_OK) < 0)
            return st_error_set(err, ENODEV,
                                "linux.resources.hugepageLimits[%zu].pageSize: this host has no "
                                "%s huge pages (no %s): use a size listed in "
                                "/sys/kernel/mm/hugepages or drop the limit",
                                i, res->hugepage_limits[i].size, path);
    }
    return cg->ops->check ? cg->ops->check(cg, res, err) : 0;
}

/* hugetlb file names follow the hugetlb mount's version, which on a hybrid
 * host may differ from the layout (cgroup2 there holds hugetlb). The
 * reservation limit exists only on kernels that account reservations: set
 * it too where it does, so a mmap fails instead of a later SIGBUS. */
static int apply_hugetlb(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    enum st_cgroup_layout v = ST_CGROUP_HYBRID_V1;
    st_cgroup_ctrl_mount("hugetlb", &v);
    const char *suffix = v == ST_CGROUP_UNIFIED_V2 ? "max" : "limit_in_bytes";
    for (size_t i = 0; i < res->n_hugepage_limits; i++) {
        const struct st_hugepage_limit *h = &res->hugepage_limits[i];
        char file[64], rsvd[64], val[32], field[64];
        snprintf(file, sizeof(file), "hugetlb.%s.%s", h->size, suffix);
        snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.%s", h->size, suffix);
        snprintf(val, sizeof(val), "%" PRIu64, h->limit);
        snprintf(field, sizeof(field), "linux.resources.hugepageLimits[%zu]", i);
        int r = st_cgroup_set_value(cg, "hugetlb", file, val, field, false, NULL, err);
        if (r == 0)
            r = st_cgroup_set_value(cg, "hugetlb", rsvd, val, field, true, NULL, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The backend's limits, then what is the same file on both layouts. */
static int apply_resources(struct st_cgroup *cg, const struct st_resources *res, st_error *err)
{
    int r = cg->ops->apply(cg, res, err);
    if (r < 0)
        return r;
    char v[32];
    if (res->pids_limit >= 0) {
        snprintf(v, sizeof(v), "%" PRId64, res->pids_limit);
        r = st_cgroup_set_value(cg, "pids", "pids.max", v, "linux.resources.pids.limit", false,
                                NULL, err);
        if (r < 0)
            return r;
    }
    if (res->cpuset_mems &&
        (r = st_cgroup_set_value(cg, "cpuset", "cpuset.mems", res->cpuset_mems,
                                 "linux.resources.cpu.mems", false, NULL, err)) < 0)
        return r;
    if (res->cpuset_cpus &&
        (r = st_cgroup_set_value(cg, "cpuset", "cpuset.cpus", res->cpuset_cpus,
                                 "linux.resources.cpu.cpus", false, NULL, err)) < 0)
        return r;
    return apply_hugetlb(cg, res, err);
}

static int cg_new(const char *path, const struct st_resources *res, struct st_cgroup **out,
                  st_error *err)
{
    _cleanup_free_ char *norm = NULL;
    int r = path_normalize(path, &norm, err);
    if (r < 0)
        return r;
    enum st_cgroup_layout layout;
    r = st_cgroup_layout(&layout, err);
    if (r < 0)
        return r;
    struct st_cgroup *cg = calloc(1, sizeof(*cg));
    if (cg == NULL)
        return st_error_set(err, ENOMEM, "cgroup %s: out of memory", norm);
    cg->path = st_steal_ptr(&norm);
    cg->layout = layout;
    cg->ops = layout == ST_CGROUP_UNIFIED_V2 ? &st_cgroup_v2_ops : &st_cgroup_v1_ops;
    r = cg->ops->controllers(cg, res, err);
    if (r == 0 && res)
        r = check_controllers(cg, res, err);
    if (r < 0) {
        st_cgroup_free(cg);
        return r;
    }
    *out = cg;
    return 0;
}

/* ---- API ---- */

void st_resources_init(struct st_resources *r)
{
    memset(r, 0, sizeof(*r));
    r->memory_limit = -1;
    r->memory_swap = -1;
    r->memory_reservation = -1;
    r->memory_swappiness = -1;
    r->cpu_quota = -1;
    r->pids_limit = -1;
}

void st_resources_clear(struct st_resources *r)
{
    free(r->cpuset_cpus);
    free(r->cpuset_mems);
    free(r->hugepage_limits);
    free(r->device_rules);
    st_resources_init(r);
}

/* "0-3,7": numbers and ascending ranges joined by commas. */
static bool cpuset_list_ok(const char *s)
{
    if (*s == '\0')
        return false;
    while (*s) {
        char *end;
        if (*s < '0' || *s > '9')
            return false;
        unsigned long a = strtoul(s, &end, 10);
        s = end;
        if (*s == '-') {
            s++;
            if (*s < '0' || *s > '9')
                return false;
            unsigned long b = strtoul(s, &end, 10);
            if (b < a)
                return false;
            s = end;
        }
        if (*s == ',' && s[1] != '\0')
            s++;
        else if (*s != '\0')
            return false;
    }
    return true;
}

int st_resources_check(const struct st_resources *r, st_error *err)
{
    if (r->memory_limit < -1)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.limit: %lld is not a size (use -1 for none)",
                            (long long)r->memory_limit);
    if (r->memory_swap < -1)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.swap: %lld is not a size (use -1 for none)",
                            (long long)r->memory_swap);
    if (r->memory_swap >= 0 && r->memory_limit >= 0 && r->memory_swap < r->memory_limit)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.swap: %lld is below memory.limit %lld; it "
                            "counts memory plus swap, so it must be at least the limit",
                            (long long)r->memory_swap, (long long)r->memory_limit);
    if (r->cpu_quota < -1 || r->cpu_quota == 0)
        return st_error_set(err, EINVAL,
                            "linux.resources.cpu.quota: %lld is not a quota (microseconds per "
                            "period, or -1 for none)",
                            (long long)r->cpu_quota);
    if (r->cpu_shares != 0 && (r->cpu_shares < 2 || r->cpu_shares > 262144))
        return st_error_set(err, EINVAL, "linux.resources.cpu.shares: %llu is outside 2..262144",
                            (unsigned long long)r->cpu_shares);
    if (r->pids_limit < -1)
        return st_error_set(err, EINVAL,
                            "linux.resources.pids.limit: %lld is not a count (use -1 for none)",
                            (long long)r->pids_limit);
    if (r->memory_reservation < -1)
        return st_error_set(
            err, EINVAL, "linux.resources.memory.reservation: %lld is not a size (use -1 for none)",
            (long long)r->memory_reservation);
    if (r->memory_swappiness < -1 || r->memory_swappiness > 100)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.swappiness: %lld is outside 0..100",
                            (long long)r->memory_swappiness);
    if (r->cpuset_cpus && !cpuset_list_ok(r->cpuset_cpus))
        return st_error_set(err, EINVAL,
                            "linux.resources.cpu.cpus: \"%s\" is not a CPU list (such as "
                            "\"0-3,7\")",
                            r->cpuset_cpus);
    if (r->cpuset_mems && !cpuset_list_ok(r->cpuset_mems))
        return st_error_set(err, EINVAL,
                            "linux.resources.cpu.mems: \"%s\" is not a memory node list (such as "
                            "\"0-1\")",
                            r->cpuset_mems);
    return 0;
}

int st_cgroup_create(const char *path, const struct st_resources *res, struct st_cgroup **out,
                     st_error *err)
{
    struct st_resources none;
    if (res == NULL) {
        st_resources_init(&none);
        res = &none;
    }
    int r = st_resources_check(res, err);
    if (r < 0)
        return r;
    struct st_cgroup *cg = NULL;
    r = cg_new(path, res, &cg, err);
    if (r < 0)
        return r;
    if (exists_in(cg->ctrl[0], cg->path)) {
        r = st_error_set(err, EEXIST,
                         "cgroup %s already exists: open it (st_cgroup_open) or destroy it first",
                         cg->path);
        st_cgroup_free(cg);
        return r;
    }

    /* Create missing levels top down, remembering which ones are ours: only
     * those are removed again when something fails. */
    size_t len = strlen(cg->path);
    _cleanup_free_ size_t *made = calloc(len + 1, sizeof(size_t));
    _cleanup_free_ char *level = strdup(cg->path);
    size_t nmade = 0;
    if (made == NULL || level == NULL) {
        st_cgroup_free(cg);
        return st_error_set(err, ENOMEM, "cgroup %s: out of memory", path);
    }
    for (size_t end = 1; end <= len && r == 0; end++) {
        if (end < len && cg->path[end] != '/')
            continue;
        level[end] = '\0';
        if (end == len || !exists_in(cg->ctrl[0], level)) {
            r = create_one(cg, level, err);
            if (r == 0)
                made[nmade++] = end;
            if (r == 0 && cg->ops->level_made)
                r = cg->ops->level_made(cg, level, err);
        }
        level[end] = cg->path[end];
    }
    if (r == 0)
        r = apply_resources(cg, res, err);
    if (r < 0) {
        while (nmade > 0) {
            size_t end = made[--nmade];
            level[end] = '\0';
            delete_one(cg, level, err); /* err keeps the first failure */
        }
        st_cgroup_free(cg);
        return r;
    }
    *out = cg;
    return 0;
}

int st_cgroup_open(const char *path, struct st_cgroup **out, st_error *err)
{
    struct st_cgroup *cg = NULL;
    int r = cg_new(path, NULL, &cg, err);
    if (r < 0)
        return r;
    /* Keep only the hierarchies it is really in (v1: someone may have made it
     * in fewer controllers than we would). */
    size_t keep = 0;
    for (size_t i = 0; i < cg->nhier; i++) {
        if (exists_in(cg->ctrl[i], cg->path)) {
            if (keep != i)
                memcpy(cg->ctrl[keep], cg->ctrl[i], ST_CGROUP_CTRL_NAME);
            keep++;
        }
    }
    if (keep == 0) {
        r = st_error_set(err, ENOENT, "cgroup %s does not exist (looked in %s and %zu more)",
                         cg->path, cg->ctrl[0], cg->nhier - 1);
        st_cgroup_free(cg);
        return r;
    }
    if (cg->nhier == cg->nctrl) /* v1: one hierarchy per controller */
        cg->nctrl = keep;
    cg->nhier = keep;
    *out = cg;
    return 0;
}

int st_cgroup_attach(struct st_cgroup *cg, pid_t pid, st_error *err)
{
    const char *ctrls[ST_CGROUP_MAX_CTRL + 1];
    for (size_t i = 0; i < cg->nhier; i++)
        ctrls[i] = cg->ctrl[i];
    ctrls[cg->nhier] = NULL;
    /* cgroup_change_cgroup_path moves every thread of pid (v1 "tasks" takes
     * one thread per write); cgroup_attach_task_pid alone would move one. */
    int r = cgroup_change_cgroup_path(cg->path, pid, ctrls);
    if (r != 0)
        return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot move pid %d into it: %s",
                            cg->path, (int)pid, lcg_strerror(r));
    return 0;
}

int st_cgroup_dir_open(const struct st_cgroup *cg, st_error *err)
{
    if (cg->layout != ST_CGROUP_UNIFIED_V2)
        return st_error_set(err, EOPNOTSUPP,
                            "cgroup %s: v1 has one directory per controller: attach instead",
                            cg->path);
    const char *mnt = st_cgroup_ctrl_mount(cg->ctrl[0], NULL);
    if (mnt == NULL)
        return st_error_set(err, ENOENT, "cgroup %s: controller %s is not mounted", cg->path,
                            cg->ctrl[0]);
    char dir[FILENAME_MAX * 2];
    snprintf(dir, sizeof(dir), "%s/%s", mnt, cg->path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "cgroup %s: cannot open %s", cg->path, dir);
    return fd;
}

static int procs_read(struct st_cgroup *cg, const char *ctrl, pid_t **pids, size_t *n,
                      st_error *err)
{
    char line[64];
    void *h = NULL;
    size_t cap = 0;
    *pids = NULL;
    *n = 0;
    int r = cgroup_read_value_begin(ctrl, cg->path, "cgroup.procs", &h, line, sizeof(line));
    while (r == 0) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            pid_t *np = realloc(*pids, cap * sizeof(pid_t));
            if (np == NULL) {
                r = ECGOTHER;
                break;
            }
            *pids = np;
        }
        (*pids)[(*n)++] = (pid_t)strtol(line, NULL, 10);
        r = cgroup_read_value_next(&h, line, sizeof(line));
    }
    if (h)
        cgroup_read_value_end(&h);
    if (r != ECGEOF) {
        free(*pids);
        *pids = NULL;
        *n = 0;
        return st_error_set(err, st_cgroup_errno(r), "cgroup %s: cannot read cgroup.procs (%s): %s",
                            cg->path, ctrl, lcg_strerror(r));
    }
    return 0;
}

int st_cgroup_pids(struct st_cgroup *cg, pid_t **pids, size_t *n, st_error *err)
{
    return procs_read(cg, cg->ctrl[0], pids, n, err);
}

int st_cgroup_kill(struct st_cgroup *cg, int sig, st_error *err)
{
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = procs_read(cg, cg->ctrl[0], &pids, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            return st_error_sys(err, errno, "cgroup %s: kill(%d, %d)", cg->path, (int)pids[i], sig);
    return 0;
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Removes the cgroup from every hierarchy; -EBUSY when one still has it.
 * libcgroup 2.0.2's cgroup_delete_cgroup_ext (EMPTY_ONLY) returns 0 when a
 * hierarchy refuses with EBUSY (it drops its own ECGNONEMPTY), so whether
 * the cgroup is gone is looked at, not taken from it. */
static int remove_all(struct st_cgroup *cg, st_error *err)
{
    int r = delete_one(cg, cg->path, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < cg->nhier; i++)
        if (exists_in(cg->ctrl[i], cg->path))
            return st_error_set(err, EBUSY, "cgroup %s: cannot remove it from %s", cg->path,
                                cg->ctrl[i]);
    return 0;
}

int st_cgroup_destroy(struct st_cgroup *cg, st_error *err)
{
    /* Usually it is empty by now (a container's init was reaped, and its
     * pid namespace took every other process with it): removing it right
     * away spares reading cgroup.procs of every hierarchy (a failed open
     * per hierarchy says it is gone). A hierarchy that still holds a
     * process refuses and keeps it; those removed count as gone below. */
    st_error busy = {0};
    if (remove_all(cg, &busy) == 0)
        return 0;
    long long deadline = st_clock_ms() + ST_CGROUP_DRAIN_MS;
    /* Kill and look again until every hierarchy is empty: a process may fork
     * between the read and the kill, and its child lands in the cgroup too. */
    for (;;) {
        size_t total = 0;
        pid_t first = 0;
        for (size_t i = 0; i < cg->nhier; i++) {
            _cleanup_free_ pid_t *pids = NULL;
            size_t n = 0;
            st_error ignored = {0};
            if (procs_read(cg, cg->ctrl[i], &pids, &n, &ignored) < 0)
                continue; /* gone from this hierarchy already */
            for (size_t k = 0; k < n; k++)
                kill(pids[k], SIGKILL);
            if (n > 0 && first == 0)
                first = pids[0];
            total += n;
        }
        if (total == 0)
            break;
        if (st_clock_ms() > deadline)
            return st_error_set(err, EBUSY,
                                "cgroup %s: %zu processes (pid %d first) still in it %d ms after "
                                "SIGKILL; a process stuck in the kernel (D state) cannot leave",
                                cg->path, total, (int)first, ST_CGROUP_DRAIN_MS);
        pause_ms(ST_CGROUP_POLL_MS);
    }
    /* v1 can answer EBUSY for a moment after the last task left. */
    for (;;) {
        st_error e = {0};
        int r = remove_all(cg, &e);
        if (r == 0)
            return 0;
        if (r != -EBUSY || st_clock_ms() > deadline) {
            return st_error_set(err, -r, "%s%s", e.msg,
                                r == -EBUSY ? " (it still has child cgroups or tasks)" : "");
        }
        pause_ms(ST_CGROUP_POLL_MS);
    }
}

/* Both layouts count OOM kills as "oom_kill N" (since Linux 4.13), only in
 * another file. Older kernels count limit hits, not kills: judging those
 * against the exit signal is left to the caller (-EOPNOTSUPP here). */
int st_cgroup_oom_killed(struct st_cgroup *cg, bool *killed, st_error *err)
{
    *killed = false;
    const char *file = cg->ops->oom_events;
    if (!st_cgroup_has_ctrl(cg, "memory"))
        return st_error_set(err, EOPNOTSUPP,
                            "cgroup %s: not in the memory controller, so there is no %s to read",
                            cg->path, file);
    int64_t n = 0;
    bool found = false;
    int r = st_cgroup_read_counter(cg, "memory", file, "oom_kill", &n, &found, err);
    if (r < 0)
        return r;
    if (!found)
        return st_error_set(err, EOPNOTSUPP,
                            "cgroup %s: %s has no oom_kill counter (kernel older than 4.13); "
                            "judge an OOM kill by the exit signal instead",
                            cg->path, file);
    *killed = n > 0;
    return 0;
}

void st_cgroup_free(struct st_cgroup *cg)
{
    if (cg == NULL)
        return;
    free(cg->path);
    free(cg);
}

const char *st_cgroup_path(const struct st_cgroup *cg)
{
    return cg->path;
}

enum st_cgroup_layout st_cgroup_get_layout(const struct st_cgroup *cg)
{
    return cg->layout;
}

/* ---- conversions ---- */

uint64_t st_cgroup_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

int st_cgroup_cpu_max(int64_t quota, uint64_t period, char *buf, size_t size, st_error *err)
{
    if (quota < -1 || quota == 0)
        return st_error_set(err, EINVAL,
                            "linux.resources.cpu.quota: %lld is not a quota (microseconds per "
                            "period, or -1 for none)",
                            (long long)quota);
    if (period == 0)
        period = 100000;
    int n = quota == -1
                ? snprintf(buf, size, "max %llu", (unsigned long long)period)
                : snprintf(buf, size, "%lld %llu", (long long)quota, (unsigned long long)period);
    if (n < 0 || (size_t)n >= size)
        return st_error_set(err, ERANGE, "cpu.max: a %zu-byte buffer is too small", size);
    return 0;
}

int st_cgroup_swap_max(int64_t memory_limit, int64_t memory_swap, int64_t *out, st_error *err)
{
    if (memory_swap == -1) {
        *out = -1;
        return 0;
    }
    if (memory_limit < 0)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.swap: %lld is memory plus swap, which cgroup "
                            "v2 can only honour with linux.resources.memory.limit set",
                            (long long)memory_swap);
    if (memory_swap < memory_limit)
        return st_error_set(err, EINVAL,
                            "linux.resources.memory.swap: %lld is below memory.limit %lld",
                            (long long)memory_swap, (long long)memory_limit);
    *out = memory_swap - memory_limit;
    return 0;
}
