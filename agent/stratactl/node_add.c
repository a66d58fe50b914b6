/* node_add.c: `stratactl node add NAME`: POST the node, then poll it every
 * 100 ms until its Ready condition is True (prints the boot time and the
 * accelerator chosen), its phase is Failed (prints why), or --timeout
 * passes. --timeout also bounds stratad's wait for the VM's hello (it then
 * removes the VM and says why). Progress goes to stderr, a line per change
 * of phase or accel. --from-template restores the node from this stratad's
 * booted template of the image and size (made by the first such add); any
 * problem with the template boots cold, said in `stratactl events`.
 * --host H asks the stratad of host H (sharing this one's database) to
 * boot it; the wait is the same. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/clock.h"
#include "strata/cleanup.h"
#include "strata/quantity.h"

#define POLL_MS           100
#define DEFAULT_TIMEOUT_S 120
/* With --timeout, stratad gives up at the timeout, destroys the VM and
 * records why; this long is left to read that. */
#define FAILURE_REPORT_S 15

struct node_opts {
    long cpus, memory_mib, timeout_s;
    bool timeout_given;
    bool from_template;
    const char *accel;
    const char *host; /* --host: another host sharing the database boots it */
};

static const char *str_in(json_t *obj, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(json_object_get(obj, a), b);
    if (c)
        v = json_object_get(v, c);
    const char *s = json_string_value(v);
    return s && *s ? s : NULL;
}

static bool is_ready(json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        if (type && strcmp(type, "Ready") == 0)
            return status && strcmp(status, "True") == 0;
    }
    return false;
}

/* Why a node failed: status.message, else its Ready condition's message. */
static const char *failure_message(json_t *node)
{
    const char *msg = str_in(node, "status", "message", NULL);
    if (msg)
        return msg;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *m = json_string_value(json_object_get(c, "message"));
        if (type && strcmp(type, "Ready") == 0 && m && *m)
            return m;
    }
    return NULL;
}

static long parse_long(const char *text, long min, long max, bool *ok)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    *ok = errno == 0 && end != text && *end == '\0' && v >= min && v <= max;
    return v;
}

/* --memory: MiB ("512"), or a quantity in whole MiB ("512Mi", "1Gi"). */
static bool parse_memory(const char *text, long *mib)
{
    bool ok;
    *mib = parse_long(text, 1, INT_MAX, &ok);
    if (ok)
        return true;
    int64_t bytes = 0;
    if (st_quantity_parse_bytes(text, &bytes, NULL) < 0 || bytes <= 0 || bytes % (1 << 20))
        return false;
    *mib = (long)(bytes >> 20);
    return *mib > 0 && *mib <= INT_MAX;
}

static int parse_opts(struct stctl *ctl, int argc, char **argv, struct node_opts *o)
{
    static const struct option opts[] = {
        {"cpus", required_argument, NULL, 'c'},
        {"memory", required_argument, NULL, 'm'},
        {"accel", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"from-template", no_argument, NULL, 'T'},
        {"host", required_argument, NULL, 'H'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int c;
    bool ok = true;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->cpus = parse_long(optarg, 1, 1024, &ok);
            if (!ok)
                return stctl_usage(STCTL_USAGE_NODE_ADD, "--cpus needs a count from 1, got \"%s\"",
                                   optarg);
            break;
        case 'm':
            if (!parse_memory(optarg, &o->memory_mib))
                return stctl_usage(STCTL_USAGE_NODE_ADD,
                                   "--memory needs MiB (\"512\", \"1Gi\"), got \"%s\"", optarg);
            break;
        case 'a':
            if (strcmp(optarg, "auto") && strcmp(optarg, "kvm") && strcmp(optarg, "tcg"))
                return stctl_usage(STCTL_USAGE_NODE_ADD, "--accel is auto, kvm or tcg, not \"%s\"",
                                   optarg);
            o->accel = optarg;
            break;
        case 'T':
            o->from_template = true;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 't':
            o->timeout_s = parse_long(optarg, 1, 86400, &ok);
            o->timeout_given = true;
            if (!ok)
                return stctl_usage(STCTL_USAGE_NODE_ADD,
                                   "--timeout needs seconds from 1, got \"%s\"", optarg);
            break;
        default: {
            int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_NODE_ADD);
            if (r >= 0)
                return r;
        }
        }
    }
    return -1;
}

/* One progress line when the phase or the accelerator changes. */
static void progress(const char *name, json_t *node, char *last, size_t len)
{
    const char *phase = stctl_fmt_node_phase(node);
    const char *accel = str_in(node, "status", "strata", "accel");
    const char *why = str_in(node, "status", "strata", "accelReason");
    char line[1024];
    int n = snprintf(line, sizeof(line), "node/%s: %s", name, phase ? phase : "Pending");
    if (accel && n > 0 && (size_t)n < sizeof(line))
        /* The reason names the choice already ("tcg: /dev/kvm is ..."). */
        snprintf(line + n, sizeof(line) - (size_t)n, " (accel %s)", why ? why : accel);
    if (strcmp(line, last) != 0) {
        fprintf(stderr, "%s\n", line);
        snprintf(last, len, "%s", line);
    }
}

int stctl_node_add(struct stctl *ctl, int argc, char **argv)
{
    struct node_opts o = {
        .cpus = 1, .memory_mib = 192, .accel = "auto", .timeout_s = DEFAULT_TIMEOUT_S};
    int r = parse_opts(ctl, argc, argv, &o);
    if (r >= 0)
        return r;
    if (argc - optind != 1)
        return stctl_usage(STCTL_USAGE_NODE_ADD, "name one node");
    const char *name = argv[optind];
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup("nodes");
    _cleanup_free_ char *path = NULL;
    char post[64] = "/api/v1/nodes";
    if (o.timeout_given)
        snprintf(post, sizeof(post), "/api/v1/nodes?timeoutSeconds=%ld", o.timeout_s);
    _cleanup_json_ json_t *body =
        json_pack("{s:{s:s}, s:{s:I, s:I, s:s}}", "metadata", "name", name, "spec", "cpus",
                  (json_int_t)o.cpus, "memoryMiB", (json_int_t)o.memory_mib, "accel", o.accel);
    if (body && o.from_template)
        json_object_set_new(json_object_get(body, "spec"), "fromTemplate", json_true());
    if (body && o.host)
        json_object_set_new(json_object_get(body, "spec"), "host", json_string(o.host));
    json_t *node = NULL;
    if (body == NULL)
        return stctl_failf("out of memory");
    long long start = st_clock_ms();
    if (stctl_call(cl, "POST", post, body, &node, &err) < 0 ||
        stctl_path(cl, k, NULL, name, NULL, &path, &err) < 0) {
        json_decref(node);
        return stctl_fail(&err);
    }
    char last[1024] = "";
    for (;;) {
        if (json_is_object(node)) {
            const char *phase = stctl_fmt_node_phase(node);
            if (is_ready(node)) {
                json_t *boot = json_object_get(
                    json_object_get(json_object_get(node, "status"), "strata"), "bootMillis");
                long long ms = json_is_integer(boot) && json_integer_value(boot) > 0
                                   ? (long long)json_integer_value(boot)
                                   : st_clock_ms() - start;
                const char *accel = str_in(node, "status", "strata", "accel");
                printf("node/%s Ready in %lld ms%s%s%s\n", name, ms, accel ? " (accel " : "",
                       accel ? accel : "", accel ? ")" : "");
                json_decref(node);
                return 0;
            }
            progress(name, node, last, sizeof(last));
            if (phase && strcmp(phase, "Failed") == 0) {
                const char *msg = failure_message(node);
                r = msg ? stctl_failf("%s", msg)
                        : stctl_failf("node/%s failed to start: see `stratactl describe node %s`",
                                      name, name);
                json_decref(node);
                return r;
            }
        }
        long wait_s = o.timeout_s + (o.timeout_given ? FAILURE_REPORT_S : 0);
        if (st_clock_ms() - start >= wait_s * 1000LL) {
            const char *phase = stctl_fmt_node_phase(node);
            r = stctl_failf("node/%s is not Ready after %ld s (phase %s): see `stratactl "
                            "describe node %s` and `stratactl events`",
                            name, o.timeout_s, phase ? phase : "unknown", name);
            json_decref(node);
            return r;
        }
        json_decref(node);
        node = NULL;
        struct timespec pause = {0, POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
        if (stctl_call(cl, "GET", path, NULL, &node, &err) < 0)
            return stctl_fail(&err);
    }
}
