/* devices.c: device access for containers: the default devices, the model
 * of the v1 devices cgroup that decides what a rule list means, the v2
 * BPF_CGROUP_DEVICE program generated from that model, and the
 * linux.devices nodes. The program is the kernel's to run: this file only
 * emits its instructions and hands them to bpf(2) (no libbpf needed for a
 * program with no maps and no helpers). */
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/fs.h"

/* ---- the default devices ---- */

const struct st_default_device st_default_devices[] = {
    {"null", 'c', 1, 3},
    {"zero", 'c', 1, 5},
    {"full", 'c', 1, 7},
    {"random", 'c', 1, 8},
    {"urandom", 'c', 1, 9},
    {"tty", 'c', 5, 0},
    /* no node of their own: /dev/ptmx and /dev/pts/N come from devpts */
    {NULL, 'c', 5, 2},
    {NULL, 'c', 136, -1},
};
const size_t st_n_default_devices = sizeof(st_default_devices) / sizeof(st_default_devices[0]);

/* ---- rules ---- */

void st_device_rule_format(const struct st_device_rule *r, char *buf, size_t size)
{
    if (r->type == 'a') {
        snprintf(buf, size, "a");
        return;
    }
    char maj[24], min[24], acc[4];
    size_t k = 0;
    if (r->major < 0)
        snprintf(maj, sizeof(maj), "*");
    else
        snprintf(maj, sizeof(maj), "%lld", (long long)r->major);
    if (r->minor < 0)
        snprintf(min, sizeof(min), "*");
    else
        snprintf(min, sizeof(min), "%lld", (long long)r->minor);
    if (r->access & ST_DEV_ACC_READ)
        acc[k++] = 'r';
    if (r->access & ST_DEV_ACC_WRITE)
        acc[k++] = 'w';
    if (r->access & ST_DEV_ACC_MKNOD)
        acc[k++] = 'm';
    acc[k] = '\0';
    snprintf(buf, size, "%c %s:%s %s", r->type, maj, min, acc);
}

static bool same_node(const struct st_device_rule *a, const struct st_device_rule *b)
{
    return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

static bool num_overlaps(int64_t a, int64_t b)
{
    return a < 0 || b < 0 || a == b;
}

/* Some device and some access bit both entries name. */
static bool overlaps(const struct st_device_rule *a, const struct st_device_rule *b)
{
    return a->type == b->type && num_overlaps(a->major, b->major) &&
           num_overlaps(a->minor, b->minor) && (a->access & b->access) != 0;
}

void st_devices_model_clear(struct st_devices_model *m)
{
    free(m->ex);
    memset(m, 0, sizeof(*m));
}

/* The kernel's exception add: an identical entry gains the access bits. */
static int model_add(struct st_devices_model *m, const struct st_device_rule *r, st_error *err)
{
    for (size_t k = 0; k < m->n; k++) {
        if (same_node(&m->ex[k], r)) {
            m->ex[k].access |= r->access;
            return 0;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct st_device_rule *nx = realloc(m->ex, cap * sizeof(*nx));
        if (nx == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        m->ex = nx;
        m->cap = cap;
    }
    m->ex[m->n] = *r;
    m->ex[m->n].allow = !m->default_allow;
    m->n++;
    return 0;
}

/* The kernel's exception removal: only identical entries lose the bits. */
static void model_remove(struct st_devices_model *m, const struct st_device_rule *r)
{
    size_t keep = 0;
    for (size_t k = 0; k < m->n; k++) {
        if (same_node(&m->ex[k], r))
            m->ex[k].access &= ~r->access;
        if (m->ex[k].access != 0)
            m->ex[keep++] = m->ex[k];
    }
    m->n = keep;
}

int st_devices_model_build(const struct st_device_rule *rules, size_t n, size_t n_given,
                           struct st_devices_model *m, st_error *err)
{
    memset(m, 0, sizeof(*m));
    m->default_allow = true;
    for (size_t i = 0; i < n; i++) {
        const struct st_device_rule *r = &rules[i];
        if (r->type == 'a') {
            m->default_allow = r->allow;
            m->n = 0;
            continue;
        }
        /* An allow under "deny by default" (or a deny under "allow by
         * default") is an exception; the opposite takes one away. */
        if (r->allow != m->default_allow) {
            int rc = model_add(m, r, err);
            if (rc < 0) {
                st_devices_model_clear(m);
                return rc;
            }
            continue;
        }
        model_remove(m, r);
        for (size_t k = 0; k < m->n && i < n_given; k++) {
            if (!overlaps(&m->ex[k], r))
                continue;
            char rs[64], es[64];
            st_device_rule_format(r, rs, sizeof(rs));
            st_device_rule_format(&m->ex[k], es, sizeof(es));
            st_devices_model_clear(m);
            if (!r->allow)
                return st_error_set(err, EINVAL,
                                    "linux.resources.devices[%zu]: denying \"%s\" inside the "
                                    "allowed \"%s\" cannot be expressed by the devices cgroup "
                                    "(it only removes an identical entry, so the device would "
                                    "stay allowed): deny everything first ({\"allow\": false, "
                                    "\"access\": \"rwm\"}) and allow only what is needed",
                                    i, rs, es);
            return st_error_set(err, EINVAL,
                                "linux.resources.devices[%zu]: allowing \"%s\" inside the "
                                "denied \"%s\" cannot be expressed by the devices cgroup (it "
                                "only removes an identical entry, so the device would stay "
                                "denied): deny everything first and allow what is needed",
                                i, rs, es);
        }
    }
    return 0;
}

bool st_devices_model_allows(const struct st_devices_model *m, char type, uint32_t major,
                             uint32_t minor, unsigned access)
{
    for (size_t k = 0; k < m->n; k++) {
        const struct st_device_rule *e = &m->ex[k];
        if (e->type != type || (e->major >= 0 && (uint32_t)e->major != major) ||
            (e->minor >= 0 && (uint32_t)e->minor != minor))
            continue;
        /* Under "allow", any overlap denies; under "deny", one entry must
         * grant every bit asked for. */
        if (m->default_allow && (access & e->access))
            return false;
        if (!m->default_allow && (access & ~e->access) == 0)
            return true;
    }
    return m->default_allow;
}

int st_devices_complete_rules(struct st_resources *res, const struct st_oci_device *devs,
                              size_t n_devs, st_error *err)
{
    size_t n_given = res->n_device_rules;
    if (n_given == 0)
        return 0;
    size_t total = n_given + st_n_default_devices + n_devs;
    struct st_device_rule *all = realloc(res->device_rules, total * sizeof(*all));
    if (all == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    res->device_rules = all;
    for (size_t i = 0; i < st_n_default_devices; i++)
        all[res->n_device_rules++] = (struct st_device_rule){
            .allow = true,
            .type = st_default_devices[i].type,
            .major = st_default_devices[i].major,
            .minor = st_default_devices[i].minor,
            .access = ST_DEV_ACC_ALL,
        };
    for (size_t i = 0; i < n_devs; i++) {
        if (devs[i].format == S_IFIFO)
            continue; /* a FIFO is not a device: no rule needed */
        all[res->n_device_rules++] = (struct st_device_rule){
            .allow = true,
            .type = devs[i].format == S_IFBLK ? 'b' : 'c',
            .major = devs[i].major,
            .minor = devs[i].minor,
            .access = ST_DEV_ACC_ALL,
        };
    }
    struct st_devices_model m;
    int r = st_devices_model_build(res->device_rules, res->n_device_rules, n_given, &m, err);
    st_devices_model_clear(&m);
    return r;
}

/* ---- the v2 program ---- */

/* The context the kernel passes (struct bpf_cgroup_dev_ctx): access_type
 * (access << 16 | type), major, minor, each a u32. */
#define CTX_ACCESS_TYPE 0
#define CTX_MAJOR       4
#define CTX_MINOR       8

/* Registers: r1 the context, then r2 access bits, r3 type, r4 major, r5
 * minor, r1 reused as scratch. */
enum { R0, R1, R2, R3, R4, R5 };

struct prog {
    struct bpf_insn *insns;
    size_t n, cap;
    bool oom;
};

static size_t emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct bpf_insn *ni = realloc(p->insns, cap * sizeof(*ni));
        if (ni == NULL) {
            p->oom = true;
            return p->n;
        }
        p->insns = ni;
        p->cap = cap;
    }
    p->insns[p->n] =
        (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
    return p->n++;
}

static void emit_return(struct prog *p, int verdict)
{
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, verdict);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

int st_devices_bpf_program(const struct st_devices_model *m, struct bpf_insn **out, size_t *n,
                           st_error *err)
{
    struct prog p = {0};
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, R2, R1, CTX_ACCESS_TYPE, 0);
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, R4, R1, CTX_MAJOR, 0);
    emit(&p, BPF_LDX | BPF_MEM | BPF_W, R5, R1, CTX_MINOR, 0);
    emit(&p, BPF_ALU | BPF_MOV | BPF_X, R3, R2, 0, 0);
    emit(&p, BPF_ALU | BPF_AND | BPF_K, R3, 0, 0, 0xffff);
    emit(&p, BPF_ALU | BPF_RSH | BPF_K, R2, 0, 0, 16);
    /* One block per exception: each compare that fails jumps to the next
     * block (patched once the block's length is known). */
    for (size_t k = 0; k < m->n; k++) {
        const struct st_device_rule *e = &m->ex[k];
        size_t jumps[4], nj = 0;
        jumps[nj++] = emit(&p, BPF_JMP | BPF_JNE | BPF_K, R3, 0, 0,
                           e->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        if (e->major >= 0)
            jumps[nj++] = emit(&p, BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, (int32_t)e->major);
        if (e->minor >= 0)
            jumps[nj++] = emit(&p, BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, (int32_t)e->minor);
        if (m->default_allow) {
            /* a deny entry: it applies when any asked bit is in it */
            emit(&p, BPF_ALU | BPF_MOV | BPF_X, R1, R2, 0, 0);
            emit(&p, BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, (int32_t)e->access);
            jumps[nj++] = emit(&p, BPF_JMP | BPF_JEQ | BPF_K, R1, 0, 0, 0);
            emit_return(&p, 0);
        } else {
            /* an allow entry: it applies when every asked bit is in it */
            jumps[nj++] =
                emit(&p, BPF_JMP | BPF_JSET | BPF_K, R2, 0, 0, (int32_t)(~e->access & 0xffff));
            emit_return(&p, 1);
        }
        for (size_t j = 0; j < nj && !p.oom; j++)
            p.insns[jumps[j]].off = (int16_t)(p.n - jumps[j] - 1);
    }
    emit_return(&p, m->default_allow ? 1 : 0);
    if (p.oom || p.n > BPF_MAXINSNS) {
        free(p.insns);
        return p.oom ? st_error_set(err, ENOMEM, "out of memory")
                     : st_error_set(err, E2BIG,
                                    "linux.resources.devices: %zu instructions is more than a "
                                    "device program may have (%d): merge rules",
                                    p.n, BPF_MAXINSNS);
    }
    *out = p.insns;
    *n = p.n;
    return 0;
}

static int bpf_call(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int st_devices_bpf_attach(const char *dir, const struct st_device_rule *rules, size_t n,
                          st_error *err)
{
    struct st_devices_model m;
    int r = st_devices_model_build(rules, n, 0, &m, err);
    if (r < 0)
        return r;
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t ninsns = 0;
    r = st_devices_bpf_program(&m, &insns, &ninsns, err);
    st_devices_model_clear(&m);
    if (r < 0)
        return r;
    /* No helper is called, so the license only has to be a string. */
    static char license[] = "GPL";
    char log[4096] = "";
    union bpf_attr load;
    memset(&load, 0, sizeof(load));
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)insns;
    load.insn_cnt = (uint32_t)ninsns;
    load.license = (uint64_t)(uintptr_t)license;
    load.log_buf = (uint64_t)(uintptr_t)log;
    load.log_size = sizeof(log);
    load.log_level = 1;
    _cleanup_close_ int prog = bpf_call(BPF_PROG_LOAD, &load);
    if (prog < 0) {
        int e = errno;
        char *last = strrchr(log, '\n');
        while (last && last > log && last[1] == '\0') {
            *last = '\0';
            last = strrchr(log, '\n');
        }
        return st_error_set(err, e,
                            "linux.resources.devices: the kernel refused the device program "
                            "(%s%s%s): is CONFIG_CGROUP_BPF on and strata-run root?",
                            strerror(e), log[0] ? "; verifier: " : "", last ? last + 1 : log);
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return st_error_sys(err, errno, "linux.resources.devices: cannot open the cgroup %s", dir);
    union bpf_attr at;
    memset(&at, 0, sizeof(at));
    at.target_fd = (uint32_t)dfd;
    at.attach_bpf_fd = (uint32_t)prog;
    at.attach_type = BPF_CGROUP_DEVICE;
    at.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf_call(BPF_PROG_ATTACH, &at) < 0)
        return st_error_sys(err, errno,
                            "linux.resources.devices: cannot attach the device program to %s", dir);
    return 0;
}

/* ---- linux.devices nodes ---- */

/* An empty file (or folder) at path, with its parents, to bind over. */
static int make_parent(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return 0;
    *slash = '\0';
    return st_fs_mkdir_p(buf, 0755, NULL);
}

static const char *format_name(mode_t f)
{
    switch (f & S_IFMT) {
    case S_IFCHR:
        return "character device";
    case S_IFBLK:
        return "block device";
    case S_IFIFO:
        return "FIFO";
    case S_IFDIR:
        return "folder";
    case S_IFLNK:
        return "symlink";
    case S_IFREG:
        return "file";
    default:
        return "special file";
    }
}

static bool matches(const struct st_oci_device *d, const struct stat *st)
{
    if ((st->st_mode & S_IFMT) != d->format)
        return false;
    return d->format == S_IFIFO || st->st_rdev == makedev(d->major, d->minor);
}

/* mknod is not permitted (a user namespace): the host's node at the same
 * path is bound instead, as runc does. It keeps the host's mode and owner,
 * so a fileMode/uid/gid that differs cannot be honoured: refuse it. */
static int bind_host_node(const struct st_oci_config *c, size_t i, const char *target,
                          st_error *err)
{
    const struct st_oci_device *d = &c->devices[i];
    struct stat st;
    if (stat(d->path, &st) < 0 || !matches(d, &st))
        return st_error_set(err, EPERM,
                            "%s: linux.devices[%zu]: mknod %s is not permitted here (a user "
                            "namespace) and the host has no matching %c %u:%u at %s to bind: "
                            "create it on the host or drop the device",
                            c->where, i, d->path, d->type, d->major, d->minor, d->path);
    if (d->has_mode && (st.st_mode & 07777) != d->mode)
        return st_error_set(err, EPERM,
                            "%s: linux.devices[%zu].fileMode: %04o cannot be set: mknod is not "
                            "permitted here, so the host's %s is bound and keeps its %04o; drop "
                            "fileMode or make it match",
                            c->where, i, (unsigned)d->mode, d->path,
                            (unsigned)(st.st_mode & 07777));
    if ((d->has_uid && st.st_uid != d->uid) || (d->has_gid && st.st_gid != d->gid))
        return st_error_set(err, EPERM,
                            "%s: linux.devices[%zu].uid/gid: %u:%u cannot be set: mknod is not "
                            "permitted here, so the host's %s is bound and keeps its owner "
                            "(%u:%u as seen in the container); drop uid/gid or make them match",
                            c->where, i, (unsigned)d->uid, (unsigned)d->gid, d->path,
                            (unsigned)st.st_uid, (unsigned)st.st_gid);
    _cleanup_close_ int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return st_error_sys(err, errno, "%s: linux.devices[%zu]: cannot create %s to bind on",
                            c->where, i, target);
    if (mount(d->path, target, NULL, MS_BIND, NULL) < 0)
        return st_error_sys(err, errno, "%s: linux.devices[%zu]: cannot bind the host's %s",
                            c->where, i, d->path);
    return 0;
}

static int create_one(const struct st_oci_config *c, size_t i, st_error *err)
{
    const struct st_oci_device *d = &c->devices[i];
    char target[PATH_MAX];
    if (snprintf(target, sizeof(target), "%s%s", c->root_path, d->path) >= (int)sizeof(target))
        return st_error_set(err, ENAMETOOLONG, "%s: linux.devices[%zu].path: too long", c->where,
                            i);
    int r = make_parent(target);
    if (r < 0)
        return st_error_sys(err, -r, "%s: linux.devices[%zu].path: cannot create the folder of %s",
                            c->where, i, target);
    mode_t mode = d->has_mode ? d->mode : 0666;
    struct stat st;
    if (lstat(target, &st) == 0) {
        /* The spec: a file already there that is not this device is an error. */
        if (!matches(d, &st))
            return st_error_set(err, EEXIST,
                                "%s: linux.devices[%zu].path %s: a %s is already there, not %c "
                                "%u:%u: remove it from the rootfs or pick another path",
                                c->where, i, d->path, format_name(st.st_mode), d->type, d->major,
                                d->minor);
    } else if (mknod(target, d->format | mode, makedev(d->major, d->minor)) < 0) {
        if (errno == EPERM && d->format != S_IFIFO)
            return bind_host_node(c, i, target, err);
        return st_error_sys(err, errno, "%s: linux.devices[%zu]: mknod %s failed", c->where, i,
                            d->path);
    }
    /* mknod applies the umask; the owner is the container's, ids as mapped. */
    if (chmod(target, mode) < 0)
        return st_error_sys(err, errno, "%s: linux.devices[%zu].fileMode: chmod %s failed",
                            c->where, i, d->path);
    if ((d->has_uid || d->has_gid) &&
        chown(target, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1) < 0)
        return st_error_sys(err, errno,
                            "%s: linux.devices[%zu].uid/gid: chown %s failed (is the id mapped "
                            "in the user namespace?)",
                            c->where, i, d->path);
    return 0;
}

int st_devices_create(const struct st_oci_config *c, st_error *err)
{
    for (size_t i = 0; i < c->n_devices; i++) {
        int r = create_one(c, i, err);
        if (r < 0)
            return r;
    }
    return 0;
}
