/* pod_spec.c: a Kubernetes PodSpec, as stratad sends it in pod_run, turned
 * into what the runtime library runs: per container an OCI config (command
 * and args with $(VAR) expansion, env, the container runtime's default
 * capabilities, RuntimeDefault seccomp unless Unconfined, no_new_privs when
 * allowPrivilegeEscalation is false, cgroup limits from resources and a
 * pids limit) and its probe specs. Secrets were resolved by stratad: env
 * entries arrive as plain name/value. It validates and translates only; it
 * never touches the system, so a bad spec fails its pod before anything is
 * made. Every message names the field. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/meminfo.h"
#include "strata/names.h"
#include "strata/node_proto.h"
#include "strata/seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What containerd and CRI-O give a container by default (Kubernetes leaves
 * the set to the runtime): the rest of root's capabilities are dropped. */
static const char *const default_caps[] = {"CAP_CHOWN",
                                           "CAP_DAC_OVERRIDE",
                                           "CAP_FSETID",
                                           "CAP_FOWNER",
                                           "CAP_MKNOD",
                                           "CAP_NET_RAW",
                                           "CAP_SETGID",
                                           "CAP_SETUID",
                                           "CAP_SETFCAP",
                                           "CAP_SETPCAP",
                                           "CAP_NET_BIND_SERVICE",
                                           "CAP_SYS_CHROOT",
                                           "CAP_KILL",
                                           "CAP_AUDIT_WRITE",
                                           NULL};

#define DEFAULT_PATH     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CPU_PERIOD_US    100000 /* the kubelet's CFS period */
#define CPU_QUOTA_MIN_US 1000   /* the kernel refuses less; the kubelet rounds up */

/* ---- helpers ---------------------------------------------------------- */

/* Optional integer member in [min, max]; *out keeps its value when absent. */
static int get_int(json_t *obj, const char *key, long long min, long long max, long long *out,
                   const char *where, st_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return st_error_set(err, EINVAL, "%s.%s: expected an integer from %lld to %lld", where, key,
                            min, max);
    *out = json_integer_value(v);
    return 0;
}

/* Optional string member; NULL when absent. */
static int get_str(json_t *obj, const char *key, const char **out, const char *where, st_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return st_error_set(err, EINVAL, "%s.%s: expected a string", where, key);
    *out = json_string_value(v);
    return 0;
}

/* Optional array of strings; NULL when absent. */
static int get_strings(json_t *obj, const char *key, json_t **out, const char *where, st_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    size_t i;
    json_t *s;
    if (!json_is_array(v))
        return st_error_set(err, EINVAL, "%s.%s: expected an array of strings", where, key);
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return st_error_set(err, EINVAL, "%s.%s[%zu]: expected a string", where, key, i);
    }
    *out = v;
    return 0;
}

static json_t *strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (; a && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

/* ---- $(VAR) expansion, as the kubelet does it -------------------------
 * $(NAME) becomes NAME's value when defined, and stays as written when not;
 * $$ is a literal $. env is "NAME=value" strings, n of them (the ones
 * defined so far, for env values). */
static const char *env_lookup(char **env, size_t n, const char *name, size_t len)
{
    for (size_t i = n; i-- > 0;)
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
            return env[i] + len + 1;
    return NULL;
}

static char *expand(const char *in, char **env, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f == NULL)
        return NULL;
    for (const char *p = in; *p; p++) {
        if (p[0] != '$' || p[1] == '\0') {
            fputc(*p, f);
            continue;
        }
        if (p[1] == '$') {
            fputc('$', f);
            p++;
            continue;
        }
        const char *close = p[1] == '(' ? strchr(p + 2, ')') : NULL;
        if (close == NULL) {
            fputc(*p, f);
            continue;
        }
        const char *val = env_lookup(env, n, p + 2, (size_t)(close - p - 2));
        if (val)
            fputs(val, f);
        else
            fwrite(p, 1, (size_t)(close - p + 1), f);
        p = close;
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- sections --------------------------------------------------------- */

/* env: the defaults, then the spec's entries in order (a later one with the
 * same name replaces an earlier one), values expanded. A NULL-terminated
 * vector of "NAME=value". */
static int build_env(json_t *c, const char *pod, const char *where, char ***out, st_error *err)
{
    json_t *list = json_object_get(c, "env");
    if (list && !json_is_null(list) && !json_is_array(list))
        return st_error_set(err, EINVAL, "%s.env: expected an array of {name, value}", where);
    size_t n_spec = json_is_array(list) ? json_array_size(list) : 0;
    _cleanup_strv_ char **env = calloc(n_spec + 3, sizeof(char *));
    if (env == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    size_t n = 0;
    env[n++] = strdup(DEFAULT_PATH);
    if (asprintf(&env[n++], "HOSTNAME=%s", pod) < 0)
        env[n - 1] = NULL;
    if (env[0] == NULL || env[1] == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n_spec; i++) {
        json_t *e = json_array_get(list, i);
        char ewhere[128];
        snprintf(ewhere, sizeof(ewhere), "%s.env[%zu]", where, i);
        const char *name = NULL, *value = NULL;
        int r;
        if (!json_is_object(e))
            return st_error_set(err, EINVAL, "%s: expected an object {name, value}", ewhere);
        if ((r = get_str(e, "name", &name, ewhere, err)) < 0 ||
            (r = get_str(e, "value", &value, ewhere, err)) < 0)
            return r;
        if (name == NULL || name[0] == '\0' || strchr(name, '=') != NULL)
            return st_error_set(err, EINVAL, "%s.name: expected a variable name without '='",
                                ewhere);
        if (json_object_get(e, "valueFrom") != NULL && value == NULL)
            return st_error_set(err, EINVAL,
                                "%s (%s): valueFrom was not resolved; stratad must send env "
                                "entries as plain name/value",
                                ewhere, name);
        _cleanup_free_ char *val = expand(value ? value : "", env, n);
        char *entry = NULL;
        if (val == NULL || asprintf(&entry, "%s=%s", name, val) < 0)
            return st_error_set(err, ENOMEM, "out of memory");
        size_t nl = strlen(name);
        size_t k;
        for (k = 0; k < n; k++)
            if (strncmp(env[k], name, nl) == 0 && env[k][nl] == '=')
                break;
        if (k < n)
            free(env[k]);
        else
            n++;
        env[k] = entry;
    }
    *out = st_steal_ptr(&env);
    return 0;
}

/* process.args: command then args, each expanded against the container's
 * environment. stratad sends the argv the image config and the pod decided
 * (strata/image.h) as command, so at least one is there. */
static int build_args(json_t *c, char **env, const char *where, json_t **out, st_error *err)
{
    json_t *command, *args;
    int r;
    if ((r = get_strings(c, "command", &command, where, err)) < 0 ||
        (r = get_strings(c, "args", &args, where, err)) < 0)
        return r;
    size_t n_env = 0;
    while (env[n_env])
        n_env++;
    _cleanup_json_ json_t *argv = json_array();
    json_t *parts[2] = {command, args};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *s;
        json_array_foreach(parts[k], i, s)
        {
            _cleanup_free_ char *x = expand(json_string_value(s), env, n_env);
            if (x == NULL || json_array_append_new(argv, json_string(x)) < 0)
                return st_error_set(err, ENOMEM, "out of memory");
        }
    }
    if (json_array_size(argv) == 0)
        return st_error_set(err, EINVAL,
                            "%s: no command or args: stratad sends the image's entrypoint as "
                            "command",
                            where);
    *out = st_steal_ptr(&argv);
    return 0;
}

/* linux.resources from resources.strataNormalized (stratad parsed the
 * quantities): memory limit, CPU quota over the kubelet's 100 ms period,
 * and the request as cpu.shares (the kubelet's MilliCPUToShares). */
static int build_resources(json_t *c, const char *where, json_t **out, st_error *err)
{
    json_t *res = json_object_get(c, "resources");
    if (res && !json_is_null(res) && !json_is_object(res))
        return st_error_set(err, EINVAL, "%s.resources: expected an object", where);
    json_t *norm = json_object_get(res, "strataNormalized");
    long long cpu_req = 0, mem_req = 0, cpu_lim = 0, mem_lim = 0;
    char rwhere[128];
    snprintf(rwhere, sizeof(rwhere), "%s.resources.strataNormalized", where);
    if (norm == NULL) {
        if (json_object_size(json_object_get(res, "limits")) > 0 ||
            json_object_size(json_object_get(res, "requests")) > 0)
            return st_error_set(err, EINVAL,
                                "%s.resources: limits or requests without strataNormalized; "
                                "stratad sends the quantities normalized",
                                where);
    } else {
        int r;
        if (!json_is_object(norm))
            return st_error_set(err, EINVAL, "%s: expected an object", rwhere);
        if ((r = get_int(norm, "cpuRequestMillis", 0, INT32_MAX, &cpu_req, rwhere, err)) < 0 ||
            (r = get_int(norm, "memoryRequestBytes", 0, INT64_MAX, &mem_req, rwhere, err)) < 0 ||
            (r = get_int(norm, "cpuLimitMillis", 0, INT32_MAX, &cpu_lim, rwhere, err)) < 0 ||
            (r = get_int(norm, "memoryLimitBytes", 0, INT64_MAX, &mem_lim, rwhere, err)) < 0)
            return r;
    }
    (void)mem_req; /* a scheduling figure; the kernel has no memory "request" to set */
    _cleanup_json_ json_t *lr = json_object();
    long long shares = cpu_req > 0 ? cpu_req * 1024 / 1000 : cpu_lim * 1024 / 1000;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    json_t *cpu = json_pack("{s:I}", "shares", (json_int_t)shares);
    if (cpu_lim > 0) {
        long long quota = cpu_lim * CPU_PERIOD_US / 1000;
        if (quota < CPU_QUOTA_MIN_US)
            quota = CPU_QUOTA_MIN_US;
        json_object_set_new(cpu, "quota", json_integer(quota));
        json_object_set_new(cpu, "period", json_integer(CPU_PERIOD_US));
    }
    json_object_set_new(lr, "cpu", cpu);
    if (mem_lim > 0)
        json_object_set_new(lr, "memory", json_pack("{s:I}", "limit", (json_int_t)mem_lim));
    json_object_set_new(lr, "pids",
                        json_pack("{s:I}", "limit", (json_int_t)st_node_container_pids_limit()));
    /* Every device denied but the runtime's defaults (null, zero, full,
     * random, urandom, tty, the ptys), as containerd asks: CAP_MKNOD is in
     * the default set, and with no devices cgroup a pod could make and open
     * any device of the node, its virtio-serial channel to stratad too. */
    json_object_set_new(lr, "devices", json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm"));
    *out = st_steal_ptr(&lr);
    return 0;
}

/* "RuntimeDefault", "Unconfined" or NULL (not said) from a securityContext. */
static int seccomp_type(json_t *sc, const char *where, const char **out, st_error *err)
{
    json_t *prof = json_object_get(sc, "seccompProfile");
    *out = NULL;
    if (prof == NULL || json_is_null(prof))
        return 0;
    char pwhere[160];
    snprintf(pwhere, sizeof(pwhere), "%s.securityContext.seccompProfile", where);
    if (!json_is_object(prof))
        return st_error_set(err, EINVAL, "%s: expected an object {type}", pwhere);
    int r = get_str(prof, "type", out, pwhere, err);
    if (r < 0)
        return r;
    if (*out && strcmp(*out, "RuntimeDefault") != 0 && strcmp(*out, "Unconfined") != 0)
        return st_error_set(err, EINVAL,
                            "%s.type: \"%s\" is not supported: use RuntimeDefault or Unconfined",
                            pwhere, *out);
    return 0;
}

/* ---- probes ----------------------------------------------------------- */

/* A probe's port: a number, or the name of one of the container's ports. */
static int probe_port(json_t *c, json_t *v, const char *where, int *port, st_error *err)
{
    if (json_is_integer(v)) {
        long long n = json_integer_value(v);
        if (n < 1 || n > 65535)
            return st_error_set(err, EINVAL, "%s.port: %lld is not a port number (1..65535)", where,
                                n);
        *port = (int)n;
        return 0;
    }
    if (!json_is_string(v))
        return st_error_set(err, EINVAL, "%s.port: expected a port number or a port name", where);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "ports"), i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        json_t *num = json_object_get(p, "containerPort");
        if (name && strcmp(name, json_string_value(v)) == 0 && json_is_integer(num)) {
            *port = (int)json_integer_value(num);
            return 0;
        }
    }
    return st_error_set(err, EINVAL,
                        "%s.port: the container has no port named \"%s\" (ports[].name)", where,
                        json_string_value(v));
}

static int parse_probe(json_t *c, enum st_probe_kind kind, const char *where,
                       struct st_node_container_spec *cs, st_error *err)
{
    static const char *const keys[] = {"startupProbe", "livenessProbe", "readinessProbe"};
    json_t *p = json_object_get(c, keys[kind]);
    if (p == NULL || json_is_null(p))
        return 0;
    char pwhere[160];
    snprintf(pwhere, sizeof(pwhere), "%s.%s", where, keys[kind]);
    if (!json_is_object(p))
        return st_error_set(err, EINVAL, "%s: expected an object", pwhere);
    struct st_probe_spec *s = &cs->probe_store[kind];
    memset(s, 0, sizeof(*s));
    long long v[5] = {0, 0, 0, 0, 0};
    static const char *const nums[] = {"initialDelaySeconds", "periodSeconds", "timeoutSeconds",
                                       "successThreshold", "failureThreshold"};
    int r;
    for (size_t i = 0; i < 5; i++)
        if ((r = get_int(p, nums[i], 0, INT32_MAX, &v[i], pwhere, err)) < 0)
            return r;
    s->initial_delay_s = (int)v[0];
    s->period_s = (int)v[1];
    s->timeout_s = (int)v[2];
    s->success_threshold = (int)v[3];
    s->failure_threshold = (int)v[4];

    json_t *exec = json_object_get(p, "exec"), *tcp = json_object_get(p, "tcpSocket"),
           *http = json_object_get(p, "httpGet");
    if ((exec != NULL) + (tcp != NULL) + (http != NULL) != 1)
        return st_error_set(err, EINVAL, "%s: needs exactly one of exec, tcpSocket, httpGet",
                            pwhere);
    char hwhere[200];
    if (exec) {
        snprintf(hwhere, sizeof(hwhere), "%s.exec", pwhere);
        json_t *cmd;
        if ((r = get_strings(exec, "command", &cmd, hwhere, err)) < 0)
            return r;
        size_t n = json_array_size(cmd);
        cs->probe_argv[kind] = calloc(n + 1, sizeof(char *));
        if (cs->probe_argv[kind] == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            cs->probe_argv[kind][i] = (char *)json_string_value(json_array_get(cmd, i));
        s->handler = ST_PROBE_HANDLER_EXEC;
        s->command = cs->probe_argv[kind];
    } else {
        json_t *h = tcp ? tcp : http;
        snprintf(hwhere, sizeof(hwhere), "%s.%s", pwhere, tcp ? "tcpSocket" : "httpGet");
        s->handler = tcp ? ST_PROBE_HANDLER_TCP : ST_PROBE_HANDLER_HTTP;
        if ((r = probe_port(c, json_object_get(h, "port"), hwhere, &s->port, err)) < 0 ||
            (r = get_str(h, "host", &s->host, hwhere, err)) < 0)
            return r;
        /* Kubernetes' default host is the pod IP: the pod's own netns here */
        if (s->host && s->host[0] == '\0')
            s->host = NULL;
    }
    if (http) {
        if ((r = get_str(http, "path", &s->path, hwhere, err)) < 0 ||
            (r = get_str(http, "scheme", &s->scheme, hwhere, err)) < 0)
            return r;
        json_t *hdrs = json_object_get(http, "httpHeaders");
        if (hdrs && !json_is_null(hdrs)) {
            if (!json_is_array(hdrs))
                return st_error_set(err, EINVAL, "%s.httpHeaders: expected an array", hwhere);
            size_t n = json_array_size(hdrs);
            cs->probe_headers[kind] = calloc(n + 1, sizeof(struct st_probe_http_header));
            if (cs->probe_headers[kind] == NULL)
                return st_error_set(err, ENOMEM, "out of memory");
            for (size_t i = 0; i < n; i++) {
                json_t *hd = json_array_get(hdrs, i);
                cs->probe_headers[kind][i].name = json_string_value(json_object_get(hd, "name"));
                cs->probe_headers[kind][i].value = json_string_value(json_object_get(hd, "value"));
                if (cs->probe_headers[kind][i].value == NULL)
                    cs->probe_headers[kind][i].value = "";
            }
            s->headers = cs->probe_headers[kind];
            s->n_headers = n;
        }
    }
    if ((r = st_probe_spec_validate(s, kind, err)) < 0) {
        st_error_prefix(err, "%s.", where);
        return r;
    }
    cs->probes[kind] = s;
    return 0;
}

/* imageLayers: what stratad resolved the image to, layer dirs of the
 * image store bottom to top (possibly none: an empty image). */
static int parse_layers(json_t *c, const char *where, struct st_node_container_spec *cs,
                        st_error *err)
{
    json_t *layers;
    int r;
    if ((r = get_strings(c, "imageLayers", &layers, where, err)) < 0)
        return r;
    if (layers == NULL)
        return st_error_set(err, EINVAL,
                            "%s.imageLayers: missing: stratad sends the layers its image "
                            "store resolved the image to",
                            where);
    size_t n = json_array_size(layers);
    cs->layers = calloc(n + 1, sizeof(char *));
    if (cs->layers == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *l = json_string_value(json_array_get(layers, i));
        if (strncmp(l, "layers/", 7) != 0 || l[7] == '\0' || strchr(l + 7, '/') != NULL ||
            strstr(l, "..") != NULL)
            return st_error_set(err, EINVAL,
                                "%s.imageLayers[%zu]: \"%s\" is not a layer of the image store "
                                "(layers/<hex>)",
                                where, i, l);
        cs->layers[i] = l;
    }
    cs->n_layers = n;
    return 0;
}

/* process.noNewPrivileges from securityContext.allowPrivilegeEscalation:
 * only an explicit false sets no_new_privs (Kubernetes' default is true), so
 * a setuid binary in the image raises nothing. */
static int no_new_privs(json_t *c, const char *where, bool *out, st_error *err)
{
    json_t *v = json_object_get(json_object_get(c, "securityContext"), "allowPrivilegeEscalation");
    *out = false;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return st_error_set(err, EINVAL,
                            "%s.securityContext.allowPrivilegeEscalation: expected true or false",
                            where);
    *out = json_is_false(v);
    return 0;
}

/* Kubernetes leaves a pod's process count to the node (the kubelet's
 * podPidsLimit, unlimited unless set): without a limit a fork bomb in any
 * pod takes the whole node. Each container's pids.max is 1024 (CRI-O's old
 * default), fewer on a small node: one per 512 KiB of its memory, as a
 * process costs ~100 KiB of kernel memory, so a bomb at the limit holds
 * about a fifth of the node (a 192 MiB node: ~370). */
#define PIDS_LIMIT_MAX      1024
#define PIDS_LIMIT_MIN      64
#define PIDS_LIMIT_KIB_EACH 512

long long st_node_container_pids_limit(void)
{
    int64_t kib = 0;
    if (st_meminfo_kib(NULL, "MemTotal", &kib, NULL) < 0)
        return PIDS_LIMIT_MAX;
    long long n = kib / PIDS_LIMIT_KIB_EACH;
    return n > PIDS_LIMIT_MAX ? PIDS_LIMIT_MAX : n < PIDS_LIMIT_MIN ? PIDS_LIMIT_MIN : n;
}

/* process.user from securityContext.runAsUser/runAsGroup: stratad sends
 * them resolved (the pod's, else the image's User), 0 when absent. */
static int build_user(json_t *c, const char *where, json_t **out, st_error *err)
{
    json_t *sc = json_object_get(c, "securityContext");
    long long uid = 0, gid = 0;
    char swhere[96];
    snprintf(swhere, sizeof(swhere), "%s.securityContext", where);
    int r;
    if (sc && !json_is_null(sc) && !json_is_object(sc))
        return st_error_set(err, EINVAL, "%s: expected an object", swhere);
    if ((r = get_int(sc, "runAsUser", 0, UINT32_MAX - 1, &uid, swhere, err)) < 0 ||
        (r = get_int(sc, "runAsGroup", 0, UINT32_MAX - 1, &gid, swhere, err)) < 0)
        return r;
    *out = json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid);
    return *out ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

/* ---- one container ---------------------------------------------------- */

static int parse_container(json_t *c, size_t idx, const char *pod, const char *pod_seccomp,
                           struct st_node_container_spec *cs, st_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "spec.containers[%zu]", idx);
    int r;
    if (!json_is_object(c))
        return st_error_set(err, EINVAL, "%s: expected an object", where);
    if ((r = get_str(c, "name", &cs->name, where, err)) < 0 ||
        (r = get_str(c, "image", &cs->image, where, err)) < 0)
        return r;
    if (cs->name == NULL || !st_name_dns_label_ok(cs->name))
        return st_error_set(err, EINVAL,
                            "%s.name: \"%s\" is not a DNS label (1-63 of a-z 0-9 -, no '-' at "
                            "either end)",
                            where, cs->name ? cs->name : "");
    if (cs->image == NULL || cs->image[0] == '\0')
        return st_error_set(err, EINVAL, "%s.image: missing: name an image of the image store",
                            where);
    if ((r = parse_layers(c, where, cs, err)) < 0)
        return r;

    _cleanup_strv_ char **env = NULL;
    _cleanup_json_ json_t *args = NULL, *resources = NULL, *seccomp = NULL, *user = NULL;
    const char *cwd = NULL, *sec = NULL;
    bool nnp = false;
    if ((r = build_env(c, pod, where, &env, err)) < 0 ||
        (r = build_args(c, env, where, &args, err)) < 0 ||
        (r = build_resources(c, where, &resources, err)) < 0 ||
        (r = get_str(c, "workingDir", &cwd, where, err)) < 0 ||
        (r = build_user(c, where, &user, err)) < 0 || (r = no_new_privs(c, where, &nnp, err)) < 0 ||
        (r = seccomp_type(json_object_get(c, "securityContext"), where, &sec, err)) < 0)
        return r;
    if (cwd && cwd[0] != '/')
        return st_error_set(err, EINVAL, "%s.workingDir: expected an absolute path", where);
    if (sec == NULL)
        sec = pod_seccomp ? pod_seccomp : "RuntimeDefault";
    if (strcmp(sec, "RuntimeDefault") == 0 && (r = st_seccomp_default_spec(&seccomp, err)) < 0)
        return r;

    /* The runc-style default spec gives the mounts, masked and read-only
     * paths; the rest is Kubernetes': no hostname of its own (the pod's UTS
     * namespace has it), privilege escalation allowed unless the container
     * says allowPrivilegeEscalation: false, limits inherited. */
    _cleanup_json_ json_t *oci = st_oci_config_default_json();
    if (oci == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    json_object_del(oci, "hostname");
    json_t *proc = json_object_get(oci, "process");
    json_t *caps = json_pack("{s:o, s:o, s:o, s:[], s:[]}", "bounding", strv_json(default_caps),
                             "effective", strv_json(default_caps), "permitted",
                             strv_json(default_caps), "inheritable", "ambient");
    json_t *envj = strv_json((const char *const *)env);
    if (caps == NULL || envj == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    json_object_set_new(proc, "capabilities", caps);
    json_object_set_new(proc, "env", envj);
    json_object_set(proc, "args", args);
    json_object_set_new(proc, "cwd", json_string(cwd ? cwd : "/"));
    json_object_set(proc, "user", user);
    json_object_set_new(proc, "noNewPrivileges", json_boolean(nnp));
    json_object_del(proc, "rlimits");
    json_t *linux = json_object_get(oci, "linux");
    json_object_set_new(linux, "namespaces",
                        json_pack("[{s:s}, {s:s}]", "type", "pid", "type", "mount"));
    json_object_set(linux, "resources", resources);
    if (seccomp)
        json_object_set(linux, "seccomp", seccomp);
    json_object_set_new(json_object_get(oci, "root"), "readonly", json_false());
    json_object_set_new(oci, "annotations",
                        json_pack("{s:s, s:s}", "io.kubernetes.pod.name", pod,
                                  "io.kubernetes.container.name", cs->name));

    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++)
        if ((r = parse_probe(c, (enum st_probe_kind)k, where, cs, err)) < 0)
            return r;
    cs->oci = st_steal_ptr(&oci);
    return 0;
}

/* ---- API -------------------------------------------------------------- */

void st_node_pod_spec_free(struct st_node_pod_spec *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n_containers; i++) {
        struct st_node_container_spec *cs = &ps->containers[i];
        json_decref(cs->oci);
        free(cs->layers);
        for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
            free(cs->probe_argv[k]);
            free(cs->probe_headers[k]);
        }
    }
    free(ps->containers);
    json_decref(ps->json);
    free(ps);
}

static void pod_spec_freep(struct st_node_pod_spec **ps)
{
    st_node_pod_spec_free(*ps);
}

int st_node_pod_spec_parse(json_t *spec, const char *pod, struct st_node_pod_spec **out,
                           st_error *err)
{
    if (!json_is_object(spec))
        return st_error_set(err, EINVAL, "spec: expected a PodSpec object");
    __attribute__((cleanup(pod_spec_freep))) struct st_node_pod_spec *ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    ps->json = json_incref(spec);

    int r;
    const char *policy = NULL;
    if ((r = get_str(spec, "restartPolicy", &policy, "spec", err)) < 0)
        return r;
    if (policy == NULL || strcmp(policy, "Always") == 0)
        ps->restart = ST_NODE_RESTART_ALWAYS;
    else if (strcmp(policy, "OnFailure") == 0)
        ps->restart = ST_NODE_RESTART_ON_FAILURE;
    else if (strcmp(policy, "Never") == 0)
        ps->restart = ST_NODE_RESTART_NEVER;
    else
        return st_error_set(err, EINVAL,
                            "spec.restartPolicy: \"%s\" is not Always, OnFailure or Never", policy);
    long long grace = 30;
    if ((r = get_int(spec, "terminationGracePeriodSeconds", 0, INT32_MAX, &grace, "spec", err)) < 0)
        return r;
    ps->grace_s = (int)grace;
    const char *pod_seccomp = NULL;
    if ((r = seccomp_type(json_object_get(spec, "securityContext"), "spec", &pod_seccomp, err)) < 0)
        return r;

    json_t *ctrs = json_object_get(spec, "containers");
    if (!json_is_array(ctrs) || json_array_size(ctrs) == 0)
        return st_error_set(err, EINVAL, "spec.containers: expected a non-empty array");
    size_t n = json_array_size(ctrs);
    ps->containers = calloc(n, sizeof(*ps->containers));
    if (ps->containers == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        ps->n_containers = i + 1;
        if ((r = parse_container(json_array_get(ctrs, i), i, pod, pod_seccomp, &ps->containers[i],
                                 err)) < 0)
            return r;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ps->containers[k].name, ps->containers[i].name) == 0)
                return st_error_set(err, EINVAL,
                                    "spec.containers[%zu].name: \"%s\" is already the name of "
                                    "spec.containers[%zu]",
                                    i, ps->containers[i].name, k);
    }
    *out = st_steal_ptr(&ps);
    return 0;
}

int st_node_container_config(const struct st_node_container_spec *cs, const char *rootfs,
                             const struct st_node_sandbox *sb, const char *hosts,
                             struct st_oci_config **out, st_error *err)
{
    _cleanup_json_ json_t *oci = json_deep_copy(cs->oci);
    if (oci == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    json_object_set_new(json_object_get(oci, "root"), "path", json_string(rootfs));
    json_t *nss = json_object_get(json_object_get(oci, "linux"), "namespaces");
    static const char *const shared[][2] = {{"network", "net"}, {"ipc", "ipc"}, {"uts", "uts"}};
    for (size_t i = 0; i < 3; i++) {
        char path[64];
        st_node_sandbox_ns_path(sb, shared[i][1], path, sizeof(path));
        json_array_append_new(nss, json_pack("{s:s, s:s}", "type", shared[i][0], "path", path));
    }
    /* The runtime creates /etc/hosts in the rootfs (an overlay's upper
     * layer) when the image has none, before binding the file on it. */
    if (hosts && json_array_append_new(json_object_get(oci, "mounts"),
                                       json_pack("{s:s, s:s, s:s, s:[s,s,s,s]}", "destination",
                                                 "/etc/hosts", "type", "bind", "source", hosts,
                                                 "options", "bind", "ro", "nosuid", "nodev")) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    char where[128];
    snprintf(where, sizeof(where), "container %s", cs->name);
    return st_oci_config_from_json(oci, where, NULL, out, err);
}
