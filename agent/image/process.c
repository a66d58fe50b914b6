/* process.c: the image config as Kubernetes applies it to a container:
 * which argv runs (the four cases of command/args against Entrypoint/Cmd),
 * the environment (the image's under the pod's), the working directory and
 * the user (the pod's securityContext over the image's User, a name
 * resolved in the image's own /etc/passwd and /etc/group, as containerd
 * does). Pure: stratad reads the files from the store and sends the node
 * the result, so the node runs exactly what was decided here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/image.h"

/* The largest id a user or group may have (2^32 - 2; -1 means "none"). */
#define ID_MAX 4294967294LL

/* A JSON array of strings (NULL and null read as absent). Returns the
 * number of entries, or -EINVAL naming what when it is not one. */
static int strings(json_t *v, const char *what, st_error *err)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return st_error_set(err, EINVAL, "%s must be a list of strings", what);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return st_error_set(err, EINVAL, "%s[%zu] must be a string", what, i);
    }
    return (int)json_array_size(v);
}

static void append_all(json_t *argv, json_t *from)
{
    size_t i;
    json_t *s;
    if (from == NULL || !json_is_array(from))
        return;
    json_array_foreach(from, i, s) json_array_append(argv, s);
}

/* Kubernetes' four cases: a command replaces Entrypoint and drops Cmd;
 * args alone replace Cmd; neither runs Entrypoint + Cmd. An empty list is
 * as absent (kubelet checks the length). */
static int make_argv(json_t *container, json_t *config, json_t *argv, st_error *err)
{
    json_t *command = json_object_get(container, "command");
    json_t *args = json_object_get(container, "args");
    json_t *entrypoint = config ? json_object_get(config, "Entrypoint") : NULL;
    json_t *cmd = config ? json_object_get(config, "Cmd") : NULL;
    int ncommand, nargs, r;
    if ((ncommand = strings(command, "the container's command", err)) < 0 ||
        (nargs = strings(args, "the container's args", err)) < 0)
        return ncommand < 0 ? ncommand : nargs;
    if ((r = strings(entrypoint, "the image's Entrypoint", err)) < 0 ||
        (r = strings(cmd, "the image's Cmd", err)) < 0)
        return r;
    if (ncommand > 0) {
        append_all(argv, command);
        append_all(argv, args);
    } else if (nargs > 0) {
        append_all(argv, entrypoint);
        append_all(argv, args);
    } else {
        append_all(argv, entrypoint);
        append_all(argv, cmd);
    }
    if (json_array_size(argv) == 0)
        return st_error_set(err, EINVAL,
                            "the image has no Entrypoint or Cmd and the pod no command: give "
                            "the container a command");
    return 0;
}

/* The index in env ("K=V" strings) of name, or -1. */
static int env_find(json_t *env, const char *name, size_t nlen)
{
    size_t i;
    json_t *s;
    json_array_foreach(env, i, s)
    {
        const char *kv = json_string_value(s);
        if (strncmp(kv, name, nlen) == 0 && kv[nlen] == '=')
            return (int)i;
    }
    return -1;
}

/* The image's Env first; each of the pod's replaces the image's of its
 * name where it stood (as containerd merges), or is appended. */
static int make_env(json_t *container, json_t *config, json_t *env, st_error *err)
{
    json_t *image_env = config ? json_object_get(config, "Env") : NULL;
    int r = strings(image_env, "the image's Env", err);
    if (r < 0)
        return r;
    size_t i;
    json_t *e;
    json_array_foreach(image_env, i, e)
    {
        const char *kv = json_string_value(e);
        const char *eq = strchr(kv, '=');
        /* "K" alone (no '=') is how Docker unsets: nothing to pass on. */
        if (eq == NULL || eq == kv)
            continue;
        int at = env_find(env, kv, (size_t)(eq - kv));
        if (at >= 0)
            json_array_set(env, (size_t)at, e);
        else
            json_array_append(env, e);
    }
    json_t *pod_env = json_object_get(container, "env");
    if (pod_env == NULL || json_is_null(pod_env))
        return 0;
    if (!json_is_array(pod_env))
        return st_error_set(err, EINVAL, "the container's env must be a list");
    json_array_foreach(pod_env, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *value = json_object_get(e, "value");
        if (name == NULL || name[0] == '\0' || strchr(name, '='))
            return st_error_set(err, EINVAL, "the container's env[%zu] has no valid name", i);
        if (value && !json_is_null(value) && !json_is_string(value))
            return st_error_set(err, EINVAL, "the container's env %s: the value must be a string",
                                name);
        _cleanup_free_ char *kv = NULL;
        if (asprintf(&kv, "%s=%s", name,
                     value && json_is_string(value) ? json_string_value(value) : "") < 0)
            return st_error_set(err, ENOMEM, "out of memory building the environment");
        int at = env_find(env, name, strlen(name));
        if (at >= 0)
            json_array_set_new(env, (size_t)at, json_string(kv));
        else
            json_array_append_new(env, json_string(kv));
    }
    return 0;
}

/* A decimal id in [0, ID_MAX], the whole of s[0..n). */
static bool parse_id(const char *s, size_t n, long long *id)
{
    if (n == 0 || n > 10)
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > ID_MAX)
        return false;
    *id = v;
    return true;
}

/* Finds a line of a passwd or group file (NAME:x:ID:...) whose field
 * key_field (0 the name, 2 the id) equals key; fills id (field 2) and,
 * when gid is not NULL, field 3 (passwd's primary group). */
static bool db_find(const char *db, int key_field, const char *key, size_t klen, long long *id,
                    long long *gid)
{
    for (const char *line = db; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *f[5] = {0};
        size_t fl[5] = {0};
        int nf = 0;
        for (const char *p = line; nf < 5 && p <= line + len;) {
            const char *c = memchr(p, ':', (size_t)(line + len - p));
            size_t n = c ? (size_t)(c - p) : (size_t)(line + len - p);
            f[nf] = p;
            fl[nf++] = n;
            if (!c)
                break;
            p = c + 1;
        }
        long long v = 0, g = 0;
        if (line[0] != '#' && nf >= 3 && fl[key_field] == klen &&
            memcmp(f[key_field], key, klen) == 0 && parse_id(f[2], fl[2], &v) &&
            (gid == NULL || (nf >= 4 && parse_id(f[3], fl[3], &g)))) {
            *id = v;
            if (gid)
                *gid = g;
            return true;
        }
        line = eol ? eol + 1 : NULL;
    }
    return false;
}

/* The image's User: "", "name", "uid", "uid:gid", "name:group" (or a
 * mix). A user given alone takes its primary group from /etc/passwd (0
 * when a numeric uid is not listed there). */
static int image_user(const char *user, const char *passwd, const char *group, long long *uid,
                      long long *gid, st_error *err)
{
    *uid = 0;
    *gid = 0;
    if (user == NULL || user[0] == '\0')
        return 0;
    const char *colon = strchr(user, ':');
    size_t ulen = colon ? (size_t)(colon - user) : strlen(user);
    long long pgid = 0;
    if (parse_id(user, ulen, uid)) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", *uid);
        long long ignored;
        if (passwd == NULL || !db_find(passwd, 2, key, strlen(key), &ignored, &pgid))
            pgid = 0;
    } else if (ulen == 0 || passwd == NULL || !db_find(passwd, 0, user, ulen, uid, &pgid)) {
        return st_error_set(err, EINVAL,
                            "the image's User \"%s\": no user \"%.*s\" in the image's "
                            "/etc/passwd; set securityContext.runAsUser",
                            user, (int)ulen, user);
    }
    *gid = pgid;
    if (colon) {
        const char *g = colon + 1;
        size_t glen = strlen(g);
        if (!parse_id(g, glen, gid) &&
            (glen == 0 || group == NULL || !db_find(group, 0, g, glen, gid, NULL)))
            return st_error_set(err, EINVAL,
                                "the image's User \"%s\": no group \"%s\" in the image's "
                                "/etc/group; set securityContext.runAsGroup",
                                user, g);
    }
    return 0;
}

/* securityContext.runAsUser / runAsGroup: -1 when absent. */
static int security_id(json_t *container, const char *key, long long *id, st_error *err)
{
    json_t *sc = json_object_get(container, "securityContext");
    json_t *v = sc ? json_object_get(sc, key) : NULL;
    *id = -1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > ID_MAX)
        return st_error_set(err, EINVAL, "securityContext.%s must be a number from 0 to %lld", key,
                            ID_MAX);
    *id = json_integer_value(v);
    return 0;
}

/* The pod's runAsUser replaces the image's User whole (its group too, as
 * containerd does: the uid's primary group, or 0); runAsGroup replaces
 * only the group. */
static int make_ids(json_t *container, json_t *config, const char *passwd, const char *group,
                    long long *uid, long long *gid, st_error *err)
{
    long long run_uid, run_gid;
    int r;
    if ((r = security_id(container, "runAsUser", &run_uid, err)) < 0 ||
        (r = security_id(container, "runAsGroup", &run_gid, err)) < 0)
        return r;
    if (run_uid >= 0) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", run_uid);
        long long ignored;
        *uid = run_uid;
        if (passwd == NULL || !db_find(passwd, 2, key, strlen(key), &ignored, gid))
            *gid = 0;
    } else {
        json_t *user = config ? json_object_get(config, "User") : NULL;
        if (user && !json_is_null(user) && !json_is_string(user))
            return st_error_set(err, EINVAL, "the image's User must be a string");
        if ((r = image_user(json_string_value(user), passwd, group, uid, gid, err)) < 0)
            return r;
    }
    if (run_gid >= 0)
        *gid = run_gid;
    return 0;
}

int st_image_process(json_t *container, json_t *config, const char *passwd, const char *group,
                     json_t **process, st_error *err)
{
    *process = NULL;
    if (!json_is_object(container))
        return st_error_set(err, EINVAL, "the container must be an object");
    if (config && !json_is_object(config))
        config = NULL;
    _cleanup_json_ json_t *argv = json_array();
    _cleanup_json_ json_t *env = json_array();
    long long uid = 0, gid = 0;
    int r;
    if ((r = make_argv(container, config, argv, err)) < 0 ||
        (r = make_env(container, config, env, err)) < 0 ||
        (r = make_ids(container, config, passwd, group, &uid, &gid, err)) < 0)
        return r;

    const char *cwd = json_string_value(json_object_get(container, "workingDir"));
    if (cwd == NULL || cwd[0] == '\0')
        cwd = config ? json_string_value(json_object_get(config, "WorkingDir")) : NULL;
    if (cwd == NULL || cwd[0] == '\0')
        cwd = "/";
    if (cwd[0] != '/')
        return st_error_set(err, EINVAL, "working directory \"%s\" must be an absolute path", cwd);

    *process = json_pack("{s:O, s:O, s:s, s:I, s:I}", "args", argv, "env", env, "cwd", cwd, "uid",
                         (json_int_t)uid, "gid", (json_int_t)gid);
    if (*process == NULL)
        return st_error_set(err, ENOMEM, "out of memory building the process");
    return 0;
}
