/* oci_config.c: config.json -> struct st_oci_config, with errors that name the
 * file and the JSON path ("b/config.json: process.args: expected ...").
 * It only reads and validates; nothing here touches the system's state. */
#include "strata/oci_config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "devices.h"
#include "strata/cleanup.h"

/* ---- typed getters: each names the JSON path on error ---- */

struct parse {
    const char *where;
    st_error *err;
};

static int bad(struct parse *p, const char *path, const char *what)
{
    return st_error_set(p->err, EINVAL, "%s: %s: %s", p->where, path, what);
}

/* Optional member: *out = NULL when absent or null. */
static int get_member(struct parse *p, json_t *obj, const char *key, const char *path, json_type t,
                      const char *tname, json_t **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_typeof(v) != t && !(t == JSON_TRUE && json_is_boolean(v))) {
        char what[64];
        snprintf(what, sizeof(what), "expected %s", tname);
        return bad(p, path, what);
    }
    *out = v;
    return 0;
}

static int get_string(struct parse *p, json_t *obj, const char *key, const char *path, char **out)
{
    json_t *v;
    int r = get_member(p, obj, key, path, JSON_STRING, "a string", &v);
    if (r < 0 || v == NULL)
        return r;
    *out = strdup(json_string_value(v));
    return *out ? 0 : st_error_set(p->err, ENOMEM, "out of memory");
}

static int get_bool(struct parse *p, json_t *obj, const char *key, const char *path, bool *out)
{
    json_t *v;
    int r = get_member(p, obj, key, path, JSON_TRUE, "true or false", &v);
    if (r == 0 && v)
        *out = json_is_true(v);
    return r;
}

static int get_int(struct parse *p, json_t *obj, const char *key, const char *path, long long min,
                   long long max, bool *present, long long *out)
{
    json_t *v;
    *present = false;
    int r = get_member(p, obj, key, path, JSON_INTEGER, "an integer", &v);
    if (r < 0 || v == NULL)
        return r;
    long long n = json_integer_value(v);
    if (n < min || n > max) {
        char what[128];
        snprintf(what, sizeof(what), "%lld is out of range (%lld..%lld)", n, min, max);
        return bad(p, path, what);
    }
    *present = true;
    *out = n;
    return 0;
}

/* NULL-terminated copy of an array of strings; absent -> empty vector. */
static int get_strv(struct parse *p, json_t *obj, const char *key, const char *path, char ***out)
{
    json_t *v;
    int r = get_member(p, obj, key, path, JSON_ARRAY, "an array of strings", &v);
    if (r < 0)
        return r;
    size_t n = v ? json_array_size(v) : 0;
    char **vec = calloc(n + 1, sizeof(char *));
    if (vec == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s)) {
            st_strvfreep(&vec);
            return bad(p, path, "expected an array of strings");
        }
        vec[i] = strdup(json_string_value(s));
    }
    *out = vec;
    return 0;
}

/* ---- tables ---- */

struct mount_opt {
    const char *name;
    bool clear;
    unsigned long flag;
};

static const struct mount_opt mount_opts[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

struct named {
    const char *name;
    unsigned long value;
};

static const struct named propagations[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static const struct named namespaces[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP},
};

static const struct named rlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static const struct named *lookup(const struct named *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sections ---- */

static int parse_mount_options(struct parse *p, json_t *opts, const char *path,
                               struct st_oci_mount *m)
{
    char data[1024] = "";
    size_t dlen = 0;
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o)
    {
        char ipath[256];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (!json_is_string(o))
            return bad(p, ipath, "expected a string");
        const char *s = json_string_value(o);
        bool known = false;
        for (size_t k = 0; k < NELEM(mount_opts); k++) {
            if (strcmp(mount_opts[k].name, s) == 0) {
                if (mount_opts[k].clear)
                    m->flags &= ~mount_opts[k].flag;
                else
                    m->flags |= mount_opts[k].flag;
                known = true;
                break;
            }
        }
        const struct named *pr = known ? NULL : lookup(propagations, NELEM(propagations), s);
        if (pr) {
            m->propagation = pr->value;
            known = true;
        }
        if (known)
            continue;
        size_t sl = strlen(s);
        if (dlen + sl + 2 > sizeof(data))
            return bad(p, ipath, "mount data too long (limit 1023 bytes)");
        if (dlen)
            data[dlen++] = ',';
        memcpy(data + dlen, s, sl + 1);
        dlen += sl;
    }
    if (dlen && (m->data = strdup(data)) == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    return 0;
}

static int parse_mounts(struct parse *p, json_t *root, struct st_oci_config *c)
{
    json_t *arr;
    int r = get_member(p, root, "mounts", "mounts", JSON_ARRAY, "an array", &arr);
    if (r < 0 || arr == NULL)
        return r;
    c->mounts = calloc(json_array_size(arr) + 1, sizeof(*c->mounts));
    if (c->mounts == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    size_t i;
    json_t *mj;
    json_array_foreach(arr, i, mj)
    {
        char path[128], fpath[160];
        snprintf(path, sizeof(path), "mounts[%zu]", i);
        if (!json_is_object(mj))
            return bad(p, path, "expected an object");
        struct st_oci_mount *m = &c->mounts[c->n_mounts++];
        snprintf(fpath, sizeof(fpath), "%s.destination", path);
        if ((r = get_string(p, mj, "destination", fpath, &m->destination)) < 0)
            return r;
        if (m->destination == NULL || m->destination[0] != '/')
            return bad(p, fpath, "expected an absolute path inside the container");
        snprintf(fpath, sizeof(fpath), "%s.type", path);
        if ((r = get_string(p, mj, "type", fpath, &m->type)) < 0)
            return r;
        snprintf(fpath, sizeof(fpath), "%s.source", path);
        if ((r = get_string(p, mj, "source", fpath, &m->source)) < 0)
            return r;
        snprintf(fpath, sizeof(fpath), "%s.options", path);
        json_t *opts;
        if ((r = get_member(p, mj, "options", fpath, JSON_ARRAY, "an array of strings", &opts)) < 0)
            return r;
        if (opts && (r = parse_mount_options(p, opts, fpath, m)) < 0)
            return r;
        /* idmapped mounts (runtime-spec 1.2) would change who owns the
         * files the container sees. */
        static const char *const idmaps[] = {"uidMappings", "gidMappings"};
        for (size_t k = 0; k < NELEM(idmaps); k++) {
            json_t *v = json_object_get(mj, idmaps[k]);
            snprintf(fpath, sizeof(fpath), "%s.%s", path, idmaps[k]);
            if (v && !json_is_null(v))
                return bad(p, fpath, "idmapped mounts are not supported by strata-run: remove it");
        }
        if (m->type == NULL || strcmp(m->type, "none") == 0) {
            if (!(m->flags & MS_BIND))
                return bad(p, path, "no type and no bind option: say what to mount");
            free(m->type);
            m->type = strdup("bind");
        }
        if (strcmp(m->type, "bind") == 0)
            m->flags |= MS_BIND;
        if ((m->flags & MS_BIND) && m->source == NULL)
            return bad(p, path, "a bind mount needs a source");
    }
    return 0;
}

static int parse_caps_set(struct parse *p, json_t *caps, const char *key, uint64_t *mask)
{
    char path[96];
    snprintf(path, sizeof(path), "process.capabilities.%s", key);
    json_t *arr;
    int r = get_member(p, caps, key, path, JSON_ARRAY, "an array of capability names", &arr);
    if (r < 0 || arr == NULL)
        return r;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char ipath[128];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        cap_value_t cv;
        if (!json_is_string(v))
            return bad(p, ipath, "expected a capability name such as \"CAP_KILL\"");
        if (cap_from_name(json_string_value(v), &cv) < 0 || cv < 0 || cv >= 64) {
            char what[128];
            snprintf(what, sizeof(what), "unknown capability \"%.60s\" (expected e.g. CAP_KILL)",
                     json_string_value(v));
            return bad(p, ipath, what);
        }
        *mask |= 1ULL << cv;
    }
    return 0;
}

static int parse_process(struct parse *p, json_t *root, struct st_oci_config *c)
{
    json_t *proc;
    int r = get_member(p, root, "process", "process", JSON_OBJECT, "an object", &proc);
    if (r < 0)
        return r;
    if (proc == NULL)
        return bad(p, "process", "missing: say what to run (process.args)");
    bool terminal = false;
    if ((r = get_bool(p, proc, "terminal", "process.terminal", &terminal)) < 0)
        return r;
    if (terminal)
        return bad(p, "process.terminal", "true is not supported: set it to false");
    if ((r = get_strv(p, proc, "args", "process.args", &c->args)) < 0)
        return r;
    if (c->args[0] == NULL)
        return bad(p, "process.args", "expected a non-empty array of strings");
    if ((r = get_strv(p, proc, "env", "process.env", &c->env)) < 0)
        return r;
    for (size_t i = 0; c->env[i]; i++)
        if (strchr(c->env[i], '=') == NULL) {
            char path[64];
            snprintf(path, sizeof(path), "process.env[%zu]", i);
            return bad(p, path, "expected \"NAME=value\"");
        }
    if ((r = get_string(p, proc, "cwd", "process.cwd", &c->cwd)) < 0)
        return r;
    if (c->cwd == NULL)
        c->cwd = strdup("/");
    if (c->cwd[0] != '/')
        return bad(p, "process.cwd", "expected an absolute path");
    if ((r = get_bool(p, proc, "noNewPrivileges", "process.noNewPrivileges",
                      &c->no_new_privileges)) < 0)
        return r;

    json_t *user;
    if ((r = get_member(p, proc, "user", "process.user", JSON_OBJECT, "an object", &user)) < 0)
        return r;
    bool has;
    long long n;
    if ((r = get_int(p, user, "uid", "process.user.uid", 0, UINT32_MAX - 1, &has, &n)) < 0)
        return r;
    c->uid = has ? (uid_t)n : 0;
    if ((r = get_int(p, user, "gid", "process.user.gid", 0, UINT32_MAX - 1, &has, &n)) < 0)
        return r;
    c->gid = has ? (gid_t)n : 0;
    if ((r = get_int(p, user, "umask", "process.user.umask", 0, 0777, &has, &n)) < 0)
        return r;
    c->umask = has ? (int)n : -1;
    json_t *gids;
    if ((r = get_member(p, user, "additionalGids", "process.user.additionalGids", JSON_ARRAY,
                        "an array of integers", &gids)) < 0)
        return r;
    if (gids) {
        c->additional_gids = calloc(json_array_size(gids) + 1, sizeof(gid_t));
        size_t i;
        json_t *g;
        json_array_foreach(gids, i, g)
        {
            if (!json_is_integer(g) || json_integer_value(g) < 0 ||
                json_integer_value(g) >= UINT32_MAX)
                return bad(p, "process.user.additionalGids", "expected an array of integers");
            c->additional_gids[c->n_additional_gids++] = (gid_t)json_integer_value(g);
        }
    }

    json_t *caps;
    if ((r = get_member(p, proc, "capabilities", "process.capabilities", JSON_OBJECT, "an object",
                        &caps)) < 0)
        return r;
    if (caps) {
        c->has_caps = true;
        if ((r = parse_caps_set(p, caps, "bounding", &c->caps.bounding)) < 0 ||
            (r = parse_caps_set(p, caps, "effective", &c->caps.effective)) < 0 ||
            (r = parse_caps_set(p, caps, "permitted", &c->caps.permitted)) < 0 ||
            (r = parse_caps_set(p, caps, "inheritable", &c->caps.inheritable)) < 0 ||
            (r = parse_caps_set(p, caps, "ambient", &c->caps.ambient)) < 0)
            return r;
    }

    json_t *rl;
    if ((r = get_member(p, proc, "rlimits", "process.rlimits", JSON_ARRAY, "an array", &rl)) < 0)
        return r;
    if (rl) {
        c->rlimits = calloc(json_array_size(rl) + 1, sizeof(*c->rlimits));
        size_t i;
        json_t *o;
        json_array_foreach(rl, i, o)
        {
            char path[64], fpath[96];
            snprintf(path, sizeof(path), "process.rlimits[%zu]", i);
            if (!json_is_object(o))
                return bad(p, path, "expected an object {type, soft, hard}");
            _cleanup_free_ char *type = NULL;
            snprintf(fpath, sizeof(fpath), "%s.type", path);
            if ((r = get_string(p, o, "type", fpath, &type)) < 0)
                return r;
            const struct named *t = type ? lookup(rlimits, NELEM(rlimits), type) : NULL;
            if (t == NULL)
                return bad(p, fpath, "expected an RLIMIT_* name such as \"RLIMIT_NOFILE\"");
            struct st_oci_rlimit *lim = &c->rlimits[c->n_rlimits++];
            lim->resource = (int)t->value;
            json_t *soft = json_object_get(o, "soft"), *hard = json_object_get(o, "hard");
            if (!json_is_integer(soft) || !json_is_integer(hard))
                return bad(p, path, "soft and hard must be integers");
            lim->soft = (uint64_t)json_integer_value(soft);
            lim->hard = (uint64_t)json_integer_value(hard);
            if (lim->soft > lim->hard)
                return bad(p, path, "soft is above hard: lower soft or raise hard");
        }
    }
    return 0;
}

static int parse_idmaps(struct parse *p, json_t *linux, const char *key, struct st_oci_idmap **out,
                        size_t *n)
{
    char path[64];
    snprintf(path, sizeof(path), "linux.%s", key);
    json_t *arr;
    int r = get_member(p, linux, key, path, JSON_ARRAY, "an array", &arr);
    if (r < 0 || arr == NULL)
        return r;
    *out = calloc(json_array_size(arr) + 1, sizeof(**out));
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char ipath[96];
        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        json_t *a = json_object_get(o, "containerID"), *b = json_object_get(o, "hostID"),
               *s = json_object_get(o, "size");
        if (!json_is_integer(a) || !json_is_integer(b) || !json_is_integer(s) ||
            json_integer_value(s) <= 0)
            return bad(p, ipath, "expected {containerID, hostID, size} integers, size > 0");
        (*out)[*n].container_id = (uint32_t)json_integer_value(a);
        (*out)[*n].host_id = (uint32_t)json_integer_value(b);
        (*out)[*n].size = (uint32_t)json_integer_value(s);
        (*n)++;
    }
    return 0;
}

/* A member the spec defines that strata-run does not apply: refused by
 * name when present, never dropped (only names the spec does not define
 * are ignored, as it requires). */
static int refuse_member(struct parse *p, json_t *obj, const char *key, const char *path,
                         const char *why)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    return bad(p, path, why);
}

/* Like refuse_member, but the value that changes nothing (-1 for a
 * deprecated limit, 0 for cpu.idle) is accepted. */
static int refuse_unless(struct parse *p, json_t *obj, const char *key, const char *path,
                         long long noop, const char *why)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (v == NULL || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == noop))
        return 0;
    return bad(p, path, why);
}

/* ---- linux.resources ---- */

static int parse_device_rules(struct parse *p, json_t *res, struct st_resources *rs)
{
    json_t *arr;
    int r = get_member(p, res, "devices", "linux.resources.devices", JSON_ARRAY, "an array", &arr);
    if (r < 0 || arr == NULL || json_array_size(arr) == 0)
        return r;
    rs->device_rules = calloc(json_array_size(arr), sizeof(*rs->device_rules));
    if (rs->device_rules == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64], fpath[96];
        snprintf(path, sizeof(path), "linux.resources.devices[%zu]", i);
        if (!json_is_object(o))
            return bad(p, path, "expected an object {allow, type, major, minor, access}");
        struct st_device_rule *d = &rs->device_rules[rs->n_device_rules++];
        json_t *allow = json_object_get(o, "allow");
        snprintf(fpath, sizeof(fpath), "%s.allow", path);
        if (!json_is_boolean(allow))
            return bad(p, fpath, "missing or not true/false: say whether the entry allows");
        d->allow = json_is_true(allow);
        _cleanup_free_ char *type = NULL, *access = NULL;
        snprintf(fpath, sizeof(fpath), "%s.type", path);
        if ((r = get_string(p, o, "type", fpath, &type)) < 0)
            return r;
        if (type && (strlen(type) != 1 || strchr("acb", type[0]) == NULL))
            return bad(p, fpath, "expected \"a\" (all), \"c\" or \"b\"");
        d->type = type ? type[0] : 'a';
        bool has;
        long long n;
        /* -1 is "any"; else the kernel's dev_t: 12 bits of major, 20 of minor */
        snprintf(fpath, sizeof(fpath), "%s.major", path);
        if ((r = get_int(p, o, "major", fpath, -1, 4095, &has, &n)) < 0)
            return r;
        d->major = has ? n : -1;
        snprintf(fpath, sizeof(fpath), "%s.minor", path);
        if ((r = get_int(p, o, "minor", fpath, -1, (1 << 20) - 1, &has, &n)) < 0)
            return r;
        d->minor = has ? n : -1;
        snprintf(fpath, sizeof(fpath), "%s.access", path);
        if ((r = get_string(p, o, "access", fpath, &access)) < 0)
            return r;
        /* Absent or empty: every access, as "all" is for type and numbers. */
        for (const char *a = access && access[0] ? access : "rwm"; *a; a++) {
            unsigned bit = *a == 'r'   ? ST_DEV_ACC_READ
                           : *a == 'w' ? ST_DEV_ACC_WRITE
                           : *a == 'm' ? ST_DEV_ACC_MKNOD
                                       : 0;
            if (bit == 0)
                return bad(p, fpath, "expected letters from \"rwm\"");
            d->access |= bit;
        }
        /* The kernel reads any "a" entry as "every device, every access". */
        if (d->type == 'a' && (d->major >= 0 || d->minor >= 0 || d->access != ST_DEV_ACC_ALL))
            return bad(p, path,
                       "type \"a\" means every device with every access: drop major, minor "
                       "and a partial access, or use type \"c\" or \"b\"");
    }
    return 0;
}

/* "2MB" -> the kernel's "2MB"; "2048KB" -> "2MB" (the hugetlb files name a
 * size in the largest unit at or below it, base 1024). */
static int hugepage_size(struct parse *p, const char *path, const char *s, char *out, size_t size)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end == s || errno || s[0] == '-')
        return bad(p, path, "expected a size such as \"2MB\" or \"1GB\"");
    if (strcmp(end, "KB") == 0)
        shift = 10;
    else if (strcmp(end, "MB") == 0)
        shift = 20;
    else if (strcmp(end, "GB") == 0)
        shift = 30;
    else if (strcmp(end, "B") != 0)
        return bad(p, path, "expected a size such as \"2MB\" or \"1GB\" (units B, KB, MB, GB)");
    if (n == 0 || n > (1ULL << 40) >> shift)
        return bad(p, path, "expected a size such as \"2MB\" or \"1GB\"");
    unsigned long long bytes = n << shift;
    if (bytes >= 1ULL << 30 && bytes % (1ULL << 30) == 0)
        snprintf(out, size, "%lluGB", bytes >> 30);
    else if (bytes >= 1ULL << 20 && bytes % (1ULL << 20) == 0)
        snprintf(out, size, "%lluMB", bytes >> 20);
    else if (bytes >= 1ULL << 10 && bytes % (1ULL << 10) == 0)
        snprintf(out, size, "%lluKB", bytes >> 10);
    else
        return bad(p, path, "no huge page size is a fraction of a KB");
    return 0;
}

static int parse_hugepages(struct parse *p, json_t *res, struct st_resources *rs)
{
    json_t *arr;
    int r = get_member(p, res, "hugepageLimits", "linux.resources.hugepageLimits", JSON_ARRAY,
                       "an array", &arr);
    if (r < 0 || arr == NULL || json_array_size(arr) == 0)
        return r;
    rs->hugepage_limits = calloc(json_array_size(arr), sizeof(*rs->hugepage_limits));
    if (rs->hugepage_limits == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64], fpath[96];
        snprintf(path, sizeof(path), "linux.resources.hugepageLimits[%zu]", i);
        if (!json_is_object(o))
            return bad(p, path, "expected an object {pageSize, limit}");
        struct st_hugepage_limit *h = &rs->hugepage_limits[rs->n_hugepage_limits];
        _cleanup_free_ char *ps = NULL;
        snprintf(fpath, sizeof(fpath), "%s.pageSize", path);
        if ((r = get_string(p, o, "pageSize", fpath, &ps)) < 0)
            return r;
        if (ps == NULL)
            return bad(p, fpath, "missing: give the page size, such as \"2MB\"");
        if ((r = hugepage_size(p, fpath, ps, h->size, sizeof(h->size))) < 0)
            return r;
        for (size_t k = 0; k < rs->n_hugepage_limits; k++)
            if (strcmp(rs->hugepage_limits[k].size, h->size) == 0)
                return bad(p, fpath, "this page size is listed twice: keep one entry");
        bool has;
        long long n;
        snprintf(fpath, sizeof(fpath), "%s.limit", path);
        if ((r = get_int(p, o, "limit", fpath, 0, INT64_MAX, &has, &n)) < 0)
            return r;
        if (!has)
            return bad(p, fpath, "missing: give the limit in bytes");
        h->limit = (uint64_t)n;
        rs->n_hugepage_limits++;
    }
    return 0;
}

static int parse_memory(struct parse *p, json_t *mem, struct st_resources *rs)
{
    int r;
    bool has, b;
    long long n;
    if ((r = get_int(p, mem, "limit", "linux.resources.memory.limit", -1, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->memory_limit = n;
    if ((r = get_int(p, mem, "swap", "linux.resources.memory.swap", -1, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->memory_swap = n;
    if ((r = get_int(p, mem, "reservation", "linux.resources.memory.reservation", -1, INT64_MAX,
                     &has, &n)) < 0)
        return r;
    if (has)
        rs->memory_reservation = n;
    /* -1 has meant "leave it" in Docker's configs. */
    if ((r = get_int(p, mem, "swappiness", "linux.resources.memory.swappiness", -1, 100, &has,
                     &n)) < 0)
        return r;
    if (has)
        rs->memory_swappiness = n;
    if ((r = get_bool(p, mem, "disableOOMKiller", "linux.resources.memory.disableOOMKiller",
                      &rs->disable_oom_killer)) < 0)
        return r;
    b = true;
    if ((r = get_bool(p, mem, "useHierarchy", "linux.resources.memory.useHierarchy", &b)) < 0)
        return r;
    if (!b)
        return bad(p, "linux.resources.memory.useHierarchy",
                   "false is not possible: current kernels always account hierarchically; "
                   "remove it");
    /* checkBeforeUpdate only concerns updating a running container's limit,
     * which strata-run has no verb for: at create there is nothing to check. */
    if ((r = get_bool(p, mem, "checkBeforeUpdate", "linux.resources.memory.checkBeforeUpdate",
                      &b)) < 0)
        return r;
    if ((r = refuse_unless(p, mem, "kernel", "linux.resources.memory.kernel", -1,
                           "kernel memory limits are deprecated and not supported (the kernel "
                           "counts kernel memory in memory.limit): remove it or set -1")) < 0 ||
        (r = refuse_unless(p, mem, "kernelTCP", "linux.resources.memory.kernelTCP", -1,
                           "kernel TCP memory limits are deprecated and not supported: remove it "
                           "or set -1")) < 0)
        return r;
    return 0;
}

static int parse_cpu(struct parse *p, json_t *cpu, struct st_resources *rs)
{
    int r;
    bool has;
    long long n;
    if ((r = get_int(p, cpu, "quota", "linux.resources.cpu.quota", -1, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->cpu_quota = n;
    if ((r = get_int(p, cpu, "period", "linux.resources.cpu.period", 0, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->cpu_period = (uint64_t)n;
    if ((r = get_int(p, cpu, "shares", "linux.resources.cpu.shares", 0, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->cpu_shares = (uint64_t)n;
    if ((r = get_string(p, cpu, "cpus", "linux.resources.cpu.cpus", &rs->cpuset_cpus)) < 0 ||
        (r = get_string(p, cpu, "mems", "linux.resources.cpu.mems", &rs->cpuset_mems)) < 0)
        return r;
    /* "" is "not set" in configs generated from empty fields */
    if (rs->cpuset_cpus && rs->cpuset_cpus[0] == '\0')
        free(st_steal_ptr(&rs->cpuset_cpus));
    if (rs->cpuset_mems && rs->cpuset_mems[0] == '\0')
        free(st_steal_ptr(&rs->cpuset_mems));
    if ((r = refuse_member(p, cpu, "realtimeRuntime", "linux.resources.cpu.realtimeRuntime",
                           "real-time CPU limits are not supported: remove it")) < 0 ||
        (r = refuse_member(p, cpu, "realtimePeriod", "linux.resources.cpu.realtimePeriod",
                           "real-time CPU limits are not supported: remove it")) < 0 ||
        (r = refuse_member(p, cpu, "burst", "linux.resources.cpu.burst",
                           "CPU burst is not supported: remove it")) < 0 ||
        (r = refuse_unless(p, cpu, "idle", "linux.resources.cpu.idle", 0,
                           "SCHED_IDLE cgroups are not supported: remove it or set 0")) < 0)
        return r;
    return 0;
}

static int parse_resources(struct parse *p, json_t *linux, struct st_oci_config *c)
{
    json_t *res, *mem, *cpu, *pids;
    int r;
    bool has;
    long long n;
    if ((r = get_member(p, linux, "resources", "linux.resources", JSON_OBJECT, "an object", &res)) <
            0 ||
        res == NULL)
        return r;
    if ((r = get_member(p, res, "memory", "linux.resources.memory", JSON_OBJECT, "an object",
                        &mem)) < 0 ||
        (r = get_member(p, res, "cpu", "linux.resources.cpu", JSON_OBJECT, "an object", &cpu)) <
            0 ||
        (r = get_member(p, res, "pids", "linux.resources.pids", JSON_OBJECT, "an object", &pids)) <
            0)
        return r;
    struct st_resources *rs = &c->resources;
    if ((r = parse_memory(p, mem, rs)) < 0 || (r = parse_cpu(p, cpu, rs)) < 0)
        return r;
    if ((r = get_int(p, pids, "limit", "linux.resources.pids.limit", -1, INT64_MAX, &has, &n)) < 0)
        return r;
    if (has)
        rs->pids_limit = n;
    if ((r = parse_device_rules(p, res, rs)) < 0 || (r = parse_hugepages(p, res, rs)) < 0)
        return r;
    json_t *unified = json_object_get(res, "unified");
    if (json_is_object(unified) && json_object_size(unified) == 0)
        unified = NULL;
    if ((r = refuse_member(p, res, "blockIO", "linux.resources.blockIO",
                           "block I/O limits are not supported: remove it")) < 0 ||
        (r = refuse_member(p, res, "network", "linux.resources.network",
                           "net_cls/net_prio are not supported: remove it")) < 0 ||
        (r = refuse_member(p, res, "rdma", "linux.resources.rdma",
                           "RDMA limits are not supported: remove it")) < 0 ||
        (unified && (r = bad(p, "linux.resources.unified",
                             "raw cgroup v2 files are not supported: use the typed fields "
                             "(memory, cpu, pids, hugepageLimits) instead")) < 0))
        return r;
    return 0;
}

/* ---- linux.namespaces, linux.devices ---- */

static int parse_namespaces(struct parse *p, json_t *linux, struct st_oci_config *c)
{
    json_t *nss;
    int r = get_member(p, linux, "namespaces", "linux.namespaces", JSON_ARRAY, "an array", &nss);
    if (r < 0 || nss == NULL)
        return r;
    c->namespaces = calloc(json_array_size(nss) + 1, sizeof(*c->namespaces));
    if (c->namespaces == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(nss, i, o)
    {
        char path[64], fpath[96];
        snprintf(path, sizeof(path), "linux.namespaces[%zu]", i);
        if (!json_is_object(o))
            return bad(p, path, "expected an object {type, path}");
        _cleanup_free_ char *type = NULL;
        snprintf(fpath, sizeof(fpath), "%s.type", path);
        if ((r = get_string(p, o, "type", fpath, &type)) < 0)
            return r;
        const struct named *t = type ? lookup(namespaces, NELEM(namespaces), type) : NULL;
        if (t == NULL)
            return bad(p, fpath,
                       "expected one of pid, network, mount, ipc, uts, user, cgroup (time "
                       "namespaces are not supported)");
        if ((c->ns_flags | c->ns_joined) & (int)t->value)
            return bad(p, fpath, "this namespace type is listed twice: keep one entry");
        struct st_oci_namespace *ns = &c->namespaces[c->n_namespaces++];
        ns->type = (int)t->value;
        snprintf(fpath, sizeof(fpath), "%s.path", path);
        if ((r = get_string(p, o, "path", fpath, &ns->path)) < 0)
            return r;
        if (ns->path && ns->path[0] != '/')
            return bad(p, fpath, "expected an absolute path such as /proc/PID/ns/TYPE");
        if (ns->path)
            c->ns_joined |= ns->type;
        else
            c->ns_flags |= ns->type;
    }
    return 0;
}

static bool has_dotdot(const char *path)
{
    for (const char *s = path; (s = strstr(s, "..")) != NULL; s += 2)
        if ((s == path || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
            return true;
    return false;
}

static int parse_devices(struct parse *p, json_t *linux, struct st_oci_config *c)
{
    json_t *arr;
    int r = get_member(p, linux, "devices", "linux.devices", JSON_ARRAY, "an array", &arr);
    if (r < 0 || arr == NULL)
        return r;
    c->devices = calloc(json_array_size(arr) + 1, sizeof(*c->devices));
    if (c->devices == NULL)
        return st_error_set(p->err, ENOMEM, "out of memory");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        char path[64], fpath[96];
        snprintf(path, sizeof(path), "linux.devices[%zu]", i);
        if (!json_is_object(o))
            return bad(p, path,
                       "expected an object {path, type, major, minor, fileMode, uid, gid}");
        struct st_oci_device *d = &c->devices[c->n_devices++];
        snprintf(fpath, sizeof(fpath), "%s.path", path);
        if ((r = get_string(p, o, "path", fpath, &d->path)) < 0)
            return r;
        if (d->path == NULL || d->path[0] != '/' || strcmp(d->path, "/") == 0 ||
            has_dotdot(d->path))
            return bad(p, fpath, "expected an absolute path inside the container, without \"..\"");
        for (size_t k = 0; k + 1 < c->n_devices; k++)
            if (strcmp(c->devices[k].path, d->path) == 0)
                return bad(p, fpath, "this path is listed twice: keep one entry");
        _cleanup_free_ char *type = NULL;
        snprintf(fpath, sizeof(fpath), "%s.type", path);
        if ((r = get_string(p, o, "type", fpath, &type)) < 0)
            return r;
        if (type == NULL || strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
            return bad(p, fpath, "expected \"c\", \"b\", \"u\" or \"p\"");
        d->type = type[0];
        d->format = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
        bool has_major, has_minor;
        long long n;
        /* the kernel's dev_t: 12 bits of major, 20 of minor */
        snprintf(fpath, sizeof(fpath), "%s.major", path);
        if ((r = get_int(p, o, "major", fpath, 0, 4095, &has_major, &n)) < 0)
            return r;
        d->major = (uint32_t)n;
        snprintf(fpath, sizeof(fpath), "%s.minor", path);
        if ((r = get_int(p, o, "minor", fpath, 0, (1 << 20) - 1, &has_minor, &n)) < 0)
            return r;
        d->minor = (uint32_t)n;
        if (d->type != 'p' && (!has_major || !has_minor))
            return bad(p, path, "a c, b or u device needs major and minor");
        if (d->type == 'p')
            d->major = d->minor = 0;
        snprintf(fpath, sizeof(fpath), "%s.fileMode", path);
        if ((r = get_int(p, o, "fileMode", fpath, 0, 07777, &d->has_mode, &n)) < 0)
            return r;
        d->mode = (mode_t)n;
        snprintf(fpath, sizeof(fpath), "%s.uid", path);
        if ((r = get_int(p, o, "uid", fpath, 0, UINT32_MAX - 1, &d->has_uid, &n)) < 0)
            return r;
        d->uid = (uid_t)n;
        snprintf(fpath, sizeof(fpath), "%s.gid", path);
        if ((r = get_int(p, o, "gid", fpath, 0, UINT32_MAX - 1, &d->has_gid, &n)) < 0)
            return r;
        d->gid = (gid_t)n;
    }
    return 0;
}

/* ---- linux.personality, process.oomScoreAdj ---- */

static int parse_personality(struct parse *p, json_t *linux, struct st_oci_config *c)
{
    json_t *pers;
    int r =
        get_member(p, linux, "personality", "linux.personality", JSON_OBJECT, "an object", &pers);
    if (r < 0 || pers == NULL)
        return r;
    _cleanup_free_ char *domain = NULL;
    if ((r = get_string(p, pers, "domain", "linux.personality.domain", &domain)) < 0)
        return r;
    if (domain && strcmp(domain, "LINUX") == 0)
        c->personality = PER_LINUX;
    else if (domain && strcmp(domain, "LINUX32") == 0)
        c->personality = PER_LINUX32;
    else
        return bad(p, "linux.personality.domain", "expected \"LINUX\" or \"LINUX32\"");
    json_t *flags;
    if ((r = get_member(p, pers, "flags", "linux.personality.flags", JSON_ARRAY, "an array",
                        &flags)) < 0)
        return r;
    if (flags && json_array_size(flags) > 0)
        return bad(p, "linux.personality.flags",
                   "no flag is supported (the spec defines none yet): remove them");
    c->has_personality = true;
    return 0;
}

/* process.oomScoreAdj is a Linux process setting: read with the linux
 * section (the rest of process is parse_process's). */
static int parse_oom_score_adj(struct parse *p, json_t *root, struct st_oci_config *c)
{
    bool has;
    long long n;
    int r = get_int(p, json_object_get(root, "process"), "oomScoreAdj", "process.oomScoreAdj",
                    -1000, 1000, &has, &n);
    if (r == 0 && has) {
        c->has_oom_score_adj = true;
        c->oom_score_adj = (int)n;
    }
    return r;
}

/* A joined mount namespace is shared with whoever made it: strata-run
 * makes no mounts there (they would show in every member, and pivot_root
 * would move every member's root) and only chroots into root.path as that
 * namespace sees it. What would need a mount is refused. */
static int check_joined_mount(struct parse *p, const struct st_oci_config *c)
{
    static const char fix[] = "strata-run makes no mounts in a joined mount namespace (linux."
                              "namespaces mount path): prepare it there, or drop the path";
    char what[256];
    const char *field = NULL;
    if (c->n_mounts > 0)
        field = "mounts";
    else if (c->masked_paths[0])
        field = "linux.maskedPaths";
    else if (c->readonly_paths[0])
        field = "linux.readonlyPaths";
    else if (c->root_readonly)
        field = "root.readonly";
    else if (c->n_devices > 0)
        field = "linux.devices";
    else if (c->rootfs_propagation_set)
        field = "linux.rootfsPropagation";
    if (field == NULL)
        return 0;
    snprintf(what, sizeof(what), "%s", fix);
    return bad(p, field, what);
}

static int parse_linux(struct parse *p, json_t *root, struct st_oci_config *c)
{
    json_t *linux;
    int r = get_member(p, root, "linux", "linux", JSON_OBJECT, "an object", &linux);
    if (r < 0)
        return r;
    if ((r = parse_oom_score_adj(p, root, c)) < 0 || linux == NULL)
        return r;
    if ((r = parse_namespaces(p, linux, c)) < 0)
        return r;
    if ((r = parse_idmaps(p, linux, "uidMappings", &c->uid_mappings, &c->n_uid_mappings)) < 0 ||
        (r = parse_idmaps(p, linux, "gidMappings", &c->gid_mappings, &c->n_gid_mappings)) < 0)
        return r;
    if ((c->ns_flags & CLONE_NEWUSER) && (c->n_uid_mappings == 0 || c->n_gid_mappings == 0))
        return bad(p, "linux.uidMappings",
                   "a user namespace needs uidMappings and gidMappings: add them");
    if ((c->ns_joined & CLONE_NEWUSER) && (c->n_uid_mappings || c->n_gid_mappings))
        return bad(p, "linux.uidMappings",
                   "a joined user namespace has its mappings already: remove uidMappings and "
                   "gidMappings");
    if (!((c->ns_flags | c->ns_joined) & CLONE_NEWUSER) && (c->n_uid_mappings || c->n_gid_mappings))
        return bad(p, "linux.uidMappings",
                   "mappings need a new user namespace: add {\"type\": \"user\"} to "
                   "linux.namespaces or remove them");
    if ((r = get_strv(p, linux, "maskedPaths", "linux.maskedPaths", &c->masked_paths)) < 0 ||
        (r = get_strv(p, linux, "readonlyPaths", "linux.readonlyPaths", &c->readonly_paths)) < 0)
        return r;
    if ((r = get_string(p, linux, "cgroupsPath", "linux.cgroupsPath", &c->cgroups_path)) < 0)
        return r;
    _cleanup_free_ char *prop = NULL;
    if ((r = get_string(p, linux, "rootfsPropagation", "linux.rootfsPropagation", &prop)) < 0)
        return r;
    if (prop) {
        const struct named *pr = lookup(propagations, NELEM(propagations), prop);
        if (pr == NULL)
            return bad(p, "linux.rootfsPropagation",
                       "expected shared, slave, private or unbindable (or rshared, rslave, "
                       "rprivate, runbindable)");
        c->rootfs_propagation = pr->value;
        c->rootfs_propagation_set = true;
    }
    json_t *sysctl;
    if ((r = get_member(p, linux, "sysctl", "linux.sysctl", JSON_OBJECT, "an object of strings",
                        &sysctl)) < 0)
        return r;
    if (sysctl) {
        const char *k;
        json_t *v;
        json_object_foreach(sysctl, k, v)
        {
            if (!json_is_string(v))
                return bad(p, "linux.sysctl", "expected an object of strings");
        }
        c->sysctl = json_incref(sysctl);
    }
    json_t *sec;
    if ((r = get_member(p, linux, "seccomp", "linux.seccomp", JSON_OBJECT, "an object", &sec)) < 0)
        return r;
    if (sec)
        c->seccomp = json_incref(sec);
    if ((r = parse_devices(p, linux, c)) < 0 || (r = parse_resources(p, linux, c)) < 0 ||
        (r = parse_personality(p, linux, c)) < 0)
        return r;
    if ((r = st_devices_complete_rules(&c->resources, c->devices, c->n_devices, p->err)) < 0) {
        st_error_prefix(p->err, "%s: ", p->where);
        return r;
    }
    if ((r = refuse_member(p, linux, "intelRdt", "linux.intelRdt",
                           "Intel RDT (resctrl) is not supported by strata-run: remove it")) < 0 ||
        (r = refuse_member(p, linux, "mountLabel", "linux.mountLabel",
                           "SELinux labels are not supported (no SELinux here): remove it")) < 0 ||
        (r = refuse_member(p, linux, "timeOffsets", "linux.timeOffsets",
                           "time namespaces are not supported by strata-run: remove it")) < 0 ||
        (r = refuse_member(p, linux, "memoryPolicy", "linux.memoryPolicy",
                           "NUMA memory policies are not supported: remove it (use "
                           "linux.resources.cpu.mems to pick nodes)")) < 0 ||
        (r = refuse_member(p, linux, "netDevices", "linux.netDevices",
                           "moving network devices into the container is not supported: remove "
                           "it")) < 0)
        return r;
    if ((c->ns_joined & CLONE_NEWNS) && (r = check_joined_mount(p, c)) < 0)
        return r;
    return 0;
}

/* ---- hooks ---- */

const char *const st_oci_hook_names[ST_HOOK_KINDS] = {
    [ST_HOOK_PRESTART] = "prestart",
    [ST_HOOK_CREATE_RUNTIME] = "createRuntime",
    [ST_HOOK_CREATE_CONTAINER] = "createContainer",
    [ST_HOOK_START_CONTAINER] = "startContainer",
    [ST_HOOK_POSTSTART] = "poststart",
    [ST_HOOK_POSTSTOP] = "poststop",
};

static int parse_hook(struct parse *p, json_t *o, const char *path, struct st_oci_hook *h)
{
    char fpath[160];
    int r;
    if (!json_is_object(o))
        return bad(p, path, "expected an object {path, args, env, timeout}");
    snprintf(fpath, sizeof(fpath), "%s.path", path);
    if ((r = get_string(p, o, "path", fpath, &h->path)) < 0)
        return r;
    if (h->path == NULL)
        return bad(p, fpath, "missing: give the absolute path of the program to run");
    /* The spec requires it, and a relative path would resolve against
     * whatever folder the runtime happens to run in. */
    if (h->path[0] != '/')
        return bad(p, fpath, "expected an absolute path (the OCI spec requires one)");
    snprintf(fpath, sizeof(fpath), "%s.args", path);
    if ((r = get_strv(p, o, "args", fpath, &h->args)) < 0)
        return r;
    if (h->args[0] == NULL) {
        st_strvfreep(&h->args);
        h->args = calloc(2, sizeof(char *));
        if (h->args == NULL || (h->args[0] = strdup(h->path)) == NULL)
            return st_error_set(p->err, ENOMEM, "out of memory");
    }
    json_t *env;
    snprintf(fpath, sizeof(fpath), "%s.env", path);
    if ((r = get_member(p, o, "env", fpath, JSON_ARRAY, "an array of strings", &env)) < 0)
        return r;
    if (env && (r = get_strv(p, o, "env", fpath, &h->env)) < 0)
        return r;
    for (size_t i = 0; h->env && h->env[i]; i++)
        if (strchr(h->env[i], '=') == NULL) {
            snprintf(fpath, sizeof(fpath), "%s.env[%zu]", path, i);
            return bad(p, fpath, "expected \"NAME=value\"");
        }
    bool has;
    long long n;
    snprintf(fpath, sizeof(fpath), "%s.timeout", path);
    if ((r = get_int(p, o, "timeout", fpath, 1, INT_MAX, &has, &n)) < 0) {
        st_error_clear(p->err);
        return bad(p, fpath, "expected a number of seconds greater than 0");
    }
    h->timeout = has ? (int)n : 0;
    return 0;
}

int st_oci_hooks_from_json(json_t *hooks, const char *where, struct st_oci_hooks *out,
                           st_error *err)
{
    struct parse p = {.where = where ? where : "config", .err = err};
    memset(out, 0, sizeof(*out));
    if (hooks == NULL || json_is_null(hooks))
        return 0;
    if (!json_is_object(hooks))
        return bad(&p, "hooks", "expected an object");
    out->json = json_incref(hooks);
    for (int k = 0; k < ST_HOOK_KINDS; k++) {
        char path[64];
        snprintf(path, sizeof(path), "hooks.%s", st_oci_hook_names[k]);
        json_t *arr;
        int r = get_member(&p, hooks, st_oci_hook_names[k], path, JSON_ARRAY, "an array", &arr);
        if (r == 0 && arr &&
            (out->list[k] = calloc(json_array_size(arr) + 1, sizeof(struct st_oci_hook))) == NULL)
            r = st_error_set(err, ENOMEM, "out of memory");
        size_t i;
        json_t *o;
        if (r == 0 && arr)
            json_array_foreach(arr, i, o)
            {
                char ipath[96];
                snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
                out->n[k]++;
                if ((r = parse_hook(&p, o, ipath, &out->list[k][i])) < 0)
                    break;
            }
        if (r < 0) {
            st_oci_hooks_clear(out);
            return r;
        }
    }
    return 0;
}

void st_oci_hooks_clear(struct st_oci_hooks *h)
{
    for (int k = 0; k < ST_HOOK_KINDS; k++) {
        for (size_t i = 0; i < h->n[k]; i++) {
            free(h->list[k][i].path);
            st_strvfreep(&h->list[k][i].args);
            st_strvfreep(&h->list[k][i].env);
        }
        free(h->list[k]);
    }
    json_decref(h->json);
    memset(h, 0, sizeof(*h));
}

/* ---- ociVersion and the fields this runtime does not implement ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Dot-separated non-empty [0-9A-Za-z-] identifiers up to stop or the end;
 * returns where they end, NULL when malformed. */
static const char *semver_idents(const char *s, char stop)
{
    bool empty = true;
    for (; *s && *s != stop; s++) {
        if (*s == '.') {
            if (empty)
                return NULL;
            empty = true;
        } else if (is_digit(*s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                   *s == '-') {
            empty = false;
        } else {
            return NULL;
        }
    }
    return empty ? NULL : s;
}

/* SemVer 2.0.0: MAJOR.MINOR.PATCH (no leading zeros), then an optional
 * -prerelease and +build. Returns MAJOR, or -1 when s is not a version. */
static long semver_major(const char *s)
{
    long major = -1;
    for (int part = 0; part < 3; part++) {
        if (part > 0 && *s++ != '.')
            return -1;
        if (!is_digit(s[0]) || (s[0] == '0' && is_digit(s[1])))
            return -1;
        char *end;
        long n = strtol(s, &end, 10);
        if (part == 0)
            major = n;
        s = end;
    }
    if (*s == '-' && (s = semver_idents(s + 1, '+')) == NULL)
        return -1;
    if (*s == '+' && (s = semver_idents(s + 1, '\0')) == NULL)
        return -1;
    return *s == '\0' ? major : -1;
}

static int check_version(struct parse *p, json_t *root)
{
    json_t *ver = json_object_get(root, "ociVersion");
    if (ver == NULL || json_is_null(ver))
        return bad(p, "ociVersion",
                   "missing: set it to the runtime-spec version the config follows, e.g. "
                   "\"1.0.2\"");
    if (!json_is_string(ver))
        return bad(p, "ociVersion", "expected a string such as \"1.0.2\"");
    const char *v = json_string_value(ver);
    long major = semver_major(v);
    char what[160];
    if (major < 0) {
        snprintf(what, sizeof(what),
                 "\"%.40s\" is not a version: expected MAJOR.MINOR.PATCH such as \"1.0.2\"", v);
        return bad(p, "ociVersion", what);
    }
    if (major != 1) {
        snprintf(what, sizeof(what),
                 "\"%.40s\": major version %ld is not supported (this runtime reads %s to %s)", v,
                 major, ST_OCI_VERSION_MIN, ST_OCI_VERSION_MAX);
        return bad(p, "ociVersion", what);
    }
    return 0;
}

/* Fields of the runtime spec (up to ST_OCI_VERSION_MAX) that this runtime
 * does not implement and that would change how the container runs: a config
 * that sets one is refused, never run as if it were absent. Fields the spec
 * does not define stay ignored, as the spec requires. An entry is a dotted
 * path from the top; absent, null and "" count as not set. */
static const struct {
    const char *path;
    const char *what; /* why it is refused and what to do */
} unimplemented[] = {
    {"process.apparmorProfile", "AppArmor profiles are not supported by strata-run: remove it"},
    {"process.selinuxLabel", "SELinux labels are not supported by strata-run: remove it"},
    {"process.scheduler", "scheduling policies are not supported by strata-run: remove it"},
    {"process.ioPriority", "I/O priorities are not supported by strata-run: remove it"},
    {"process.execCPUAffinity", "exec CPU affinity is not supported by strata-run: remove it"},
    {"windows", "a Windows container: strata-run runs Linux containers only"},
    {"solaris", "a Solaris container: strata-run runs Linux containers only"},
    {"zos", "a z/OS container: strata-run runs Linux containers only"},
    {"vm", "a virtual-machine container: strata-run runs Linux containers in namespaces only"},
};

static int refuse_unimplemented(struct parse *p, json_t *root)
{
    for (size_t i = 0; i < NELEM(unimplemented); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s", unimplemented[i].path);
        json_t *v = root;
        for (char *save = NULL, *tok = strtok_r(path, ".", &save); tok && v;
             tok = strtok_r(NULL, ".", &save))
            v = json_is_object(v) ? json_object_get(v, tok) : NULL;
        if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
            continue;
        return bad(p, unimplemented[i].path, unimplemented[i].what);
    }
    return 0;
}

/* ---- the names the loader knows, for the features document ---- */

const char *st_oci_known_mount_option(size_t i)
{
    if (i < NELEM(mount_opts))
        return mount_opts[i].name;
    i -= NELEM(mount_opts);
    return i < NELEM(propagations) ? propagations[i].name : NULL;
}

const char *st_oci_known_namespace(size_t i)
{
    return i < NELEM(namespaces) ? namespaces[i].name : NULL;
}

/* parse_caps_set accepts what cap_from_name knows below 64; libcap numbers
 * its names from 0 without gaps, so the first number it cannot name ends the
 * list. */
const char *st_oci_known_capability(size_t i, char buf[64])
{
    if (i >= 64)
        return NULL;
    char *name = cap_to_name((cap_value_t)i);
    if (name == NULL)
        return NULL;
    bool named = strncmp(name, "cap_", 4) == 0;
    size_t k = 0;
    for (; named && name[k] && k < 63; k++)
        buf[k] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 'a' + 'A' : name[k]);
    buf[k] = '\0';
    cap_free(name);
    cap_value_t cv;
    if (!named || cap_from_name(buf, &cv) < 0 || cv != (cap_value_t)i)
        return NULL;
    return buf;
}

/* ---- API ---- */

int st_oci_config_from_json(json_t *root, const char *where, const char *bundle,
                            struct st_oci_config **out, st_error *err)
{
    struct parse p = {.where = where ? where : "config", .err = err};
    if (!json_is_object(root))
        return st_error_set(err, EINVAL, "%s: expected a JSON object at the top", p.where);
    struct st_oci_config *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    st_resources_init(&c->resources);
    c->umask = -1;
    c->rootfs_propagation = MS_SLAVE | MS_REC;
    c->where = strdup(p.where);
    c->bundle = bundle ? strdup(bundle) : NULL;

    int r;
    json_t *rootobj;
    _cleanup_free_ char *rootpath = NULL;
    if ((r = check_version(&p, root)) < 0 || (r = refuse_unimplemented(&p, root)) < 0)
        goto fail;
    if ((r = get_member(&p, root, "root", "root", JSON_OBJECT, "an object", &rootobj)) < 0)
        goto fail;
    if (rootobj == NULL) {
        r = bad(&p, "root", "missing: set root.path to the root filesystem folder");
        goto fail;
    }
    if ((r = get_string(&p, rootobj, "path", "root.path", &rootpath)) < 0 ||
        (r = get_bool(&p, rootobj, "readonly", "root.readonly", &c->root_readonly)) < 0)
        goto fail;
    if (rootpath == NULL || rootpath[0] == '\0') {
        r = bad(&p, "root.path", "missing: set it to the root filesystem folder");
        goto fail;
    }
    if (rootpath[0] == '/')
        c->root_path = st_steal_ptr(&rootpath);
    else if (bundle == NULL) {
        r = bad(&p, "root.path", "expected an absolute path (no bundle to resolve it against)");
        goto fail;
    } else if (asprintf(&c->root_path, "%s/%s", bundle, rootpath) < 0) {
        c->root_path = NULL;
        r = st_error_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    if ((r = get_string(&p, root, "hostname", "hostname", &c->hostname)) < 0 ||
        (r = get_string(&p, root, "domainname", "domainname", &c->domainname)) < 0)
        goto fail;
    if ((r = st_oci_hooks_from_json(json_object_get(root, "hooks"), p.where, &c->hooks, err)) < 0)
        goto fail;
    json_t *ann;
    if ((r = get_member(&p, root, "annotations", "annotations", JSON_OBJECT, "an object", &ann)) <
        0)
        goto fail;
    c->annotations = ann ? json_incref(ann) : json_object();
    if ((r = parse_process(&p, root, c)) < 0 || (r = parse_mounts(&p, root, c)) < 0 ||
        (r = parse_linux(&p, root, c)) < 0)
        goto fail;
    if (c->masked_paths == NULL)
        c->masked_paths = calloc(1, sizeof(char *));
    if (c->readonly_paths == NULL)
        c->readonly_paths = calloc(1, sizeof(char *));
    if (c->hostname && !((c->ns_flags | c->ns_joined) & CLONE_NEWUTS)) {
        r = bad(&p, "hostname",
                "setting a hostname needs a new or joined uts namespace (linux.namespaces)");
        goto fail;
    }
    if (c->domainname && !((c->ns_flags | c->ns_joined) & CLONE_NEWUTS)) {
        r = bad(&p, "domainname",
                "setting a domainname needs a new or joined uts namespace (linux.namespaces)");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    st_oci_config_free(c);
    return r;
}

int st_oci_config_load(const char *bundle, struct st_oci_config **out, st_error *err)
{
    _cleanup_free_ char *abs = realpath(bundle, NULL);
    if (abs == NULL)
        return st_error_sys(err, errno, "bundle %s: cannot open it (pass an existing folder)",
                            bundle);
    _cleanup_free_ char *where = NULL;
    if (asprintf(&where, "%s/config.json", bundle) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_free_ char *file = NULL;
    if (asprintf(&file, "%s/config.json", abs) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    json_error_t jerr;
    json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (jerr.line <= 0)
            return st_error_set(err, ENOENT, "%s: %s (create it, e.g. with `strata-run spec`)",
                                where, jerr.text);
        return st_error_set(err, EINVAL, "%s:%d:%d: %s: fix the JSON syntax", where, jerr.line,
                            jerr.column, jerr.text);
    }
    int r = st_oci_config_from_json(root, where, abs, out, err);
    json_decref(root);
    return r;
}

void st_oci_config_free(struct st_oci_config *c)
{
    if (c == NULL)
        return;
    free(c->where);
    free(c->bundle);
    free(c->root_path);
    free(c->hostname);
    free(c->domainname);
    st_oci_hooks_clear(&c->hooks);
    st_strvfreep(&c->args);
    st_strvfreep(&c->env);
    free(c->cwd);
    free(c->additional_gids);
    free(c->rlimits);
    for (size_t i = 0; i < c->n_mounts; i++) {
        free(c->mounts[i].destination);
        free(c->mounts[i].type);
        free(c->mounts[i].source);
        free(c->mounts[i].data);
    }
    free(c->mounts);
    for (size_t i = 0; i < c->n_namespaces; i++)
        free(c->namespaces[i].path);
    free(c->namespaces);
    for (size_t i = 0; i < c->n_devices; i++)
        free(c->devices[i].path);
    free(c->devices);
    st_resources_clear(&c->resources);
    free(c->uid_mappings);
    free(c->gid_mappings);
    st_strvfreep(&c->masked_paths);
    st_strvfreep(&c->readonly_paths);
    free(c->cgroups_path);
    json_decref(c->sysctl);
    json_decref(c->seccomp);
    json_decref(c->annotations);
    free(c);
}

/* ---- the default spec ---- */

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *mount_json(const char *dst, const char *type, const char *src,
                          const char *const *opts)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
                     "options", strv_json(opts));
}

json_t *st_oci_config_default_json(void)
{
    static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
    static const char *const env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL};
    static const char *const args[] = {"sh", NULL};
    static const char *const masked[] = {"/proc/acpi",
                                         "/proc/asound",
                                         "/proc/kcore",
                                         "/proc/keys",
                                         "/proc/latency_stats",
                                         "/proc/timer_list",
                                         "/proc/timer_stats",
                                         "/proc/sched_debug",
                                         "/proc/scsi",
                                         "/sys/firmware",
                                         "/sys/devices/virtual/powercap",
                                         NULL};
    static const char *const ro[] = {"/proc/bus",           "/proc/fs", "/proc/irq", "/proc/sys",
                                     "/proc/sysrq-trigger", NULL};
    json_t *capobj = json_object();
    const char *sets[] = {"bounding", "effective", "permitted", "ambient"};
    for (size_t i = 0; i < NELEM(sets); i++)
        json_object_set_new(capobj, sets[i], strv_json(caps));
    json_t *process =
        json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:[{s:s, s:i, s:i}], s:b}", "terminal",
                  0, "user", "uid", 0, "gid", 0, "args", strv_json(args), "env", strv_json(env),
                  "cwd", "/", "capabilities", capobj, "rlimits", "type", "RLIMIT_NOFILE", "hard",
                  1024, "soft", 1024, "noNewPrivileges", 1);
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount_json("/proc", "proc", "proc", (const char *[]){NULL}));
    json_array_append_new(mounts, mount_json("/dev", "tmpfs", "tmpfs",
                                             (const char *[]){"nosuid", "strictatime", "mode=755",
                                                              "size=65536k", NULL}));
    json_array_append_new(
        mounts, mount_json("/dev/pts", "devpts", "devpts",
                           (const char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                            "mode=0620", "gid=5", NULL}));
    json_array_append_new(mounts, mount_json("/dev/shm", "tmpfs", "shm",
                                             (const char *[]){"nosuid", "noexec", "nodev",
                                                              "mode=1777", "size=65536k", NULL}));
    json_array_append_new(mounts, mount_json("/dev/mqueue", "mqueue", "mqueue",
                                             (const char *[]){"nosuid", "noexec", "nodev", NULL}));
    json_array_append_new(mounts,
                          mount_json("/sys", "sysfs", "sysfs",
                                     (const char *[]){"nosuid", "noexec", "nodev", "ro", NULL}));
    json_t *nss = json_array();
    const char *ns[] = {"pid", "network", "ipc", "uts", "mount"};
    for (size_t i = 0; i < NELEM(ns); i++)
        json_array_append_new(nss, json_pack("{s:s}", "type", ns[i]));
    json_t *linux = json_pack("{s:o, s:o, s:o}", "namespaces", nss, "maskedPaths",
                              strv_json(masked), "readonlyPaths", strv_json(ro));
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.0.2", "process",
                     process, "root", "path", "rootfs", "readonly", 1, "hostname", "strata",
                     "mounts", mounts, "linux", linux);
}
