/* ctl_describe_node.c: `describe node`: what the VM is (accel, domain,
 * boot time, kernel), its capacity, and as kubectl shows them the pods it
 * runs with their requests and limits ("Non-terminated Pods") and their
 * sums against capacity ("Allocated resources"). */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/cleanup.h"
#include "strata/quantity.h"

/* ---- requests and limits -------------------------------------------------- */

struct usage {
    long long cpu_req, cpu_lim; /* millicores */
    long long mem_req, mem_lim; /* bytes */
};

static long long cpu_of(json_t *v)
{
    int64_t m = 0;
    if (json_is_integer(v))
        return (long long)json_integer_value(v) * 1000;
    if (json_is_real(v))
        return (long long)(json_real_value(v) * 1000);
    if (json_is_string(v) && st_quantity_parse_millis(json_string_value(v), &m, NULL) == 0)
        return (long long)m;
    return 0;
}

static long long memory_of(json_t *v)
{
    int64_t b = 0;
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_string(v) && st_quantity_parse_bytes(json_string_value(v), &b, NULL) == 0)
        return (long long)b;
    return 0;
}

/* A pod's requests and limits: the sums over its containers, as the
 * scheduler and kubectl count them. */
static struct usage pod_usage(json_t *pod)
{
    struct usage u = {0};
    size_t i;
    json_t *c;
    json_array_foreach(ctlfmt_at(pod, "spec.containers"), i, c)
    {
        u.cpu_req += cpu_of(ctlfmt_at(c, "resources.requests.cpu"));
        u.cpu_lim += cpu_of(ctlfmt_at(c, "resources.limits.cpu"));
        u.mem_req += memory_of(ctlfmt_at(c, "resources.requests.memory"));
        u.mem_lim += memory_of(ctlfmt_at(c, "resources.limits.memory"));
    }
    return u;
}

/* "100m (10%)": an amount and its share of capacity, truncated as kubectl does. */
static void share(long long amount, long long capacity, bool cpu, char *buf, size_t len)
{
    char q[32];
    if (cpu)
        ctlfmt_cpu_text(amount, q, sizeof(q));
    else
        ctlfmt_bytes_text(amount, q, sizeof(q));
    long long pct = capacity > 0 ? (long long)((double)amount / (double)capacity * 100.0) : 0;
    snprintf(buf, len, "%s (%lld%%)", q, pct);
}

static bool terminated(json_t *pod)
{
    const char *phase = ctlfmt_str_or(pod, "status.phase", "");
    return strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
}

/* "Non-terminated Pods" and "Allocated resources", as kubectl shows them. */
static int node_pods(FILE *out, json_t *node, json_t *pods, time_t now, st_error *err)
{
    if (pods == NULL) {
        ctlfmt_field(out, 0, 21, "Non-terminated Pods", "<unknown: the pods could not be read>");
        return 0;
    }
    long long cpu_cap = cpu_of(ctlfmt_at(node, "status.capacity.cpu"));
    long long mem_cap = memory_of(ctlfmt_at(node, "status.capacity.memory"));
    size_t n = 0, i;
    json_t *p;
    json_array_foreach(pods, i, p) n += !terminated(p);
    ctlfmt_field(out, 0, 30, "Non-terminated Pods", "(%zu in total)", n);
    static const char *const cols[] = {
        "Namespace",       "Name",          "CPU Requests", "CPU Limits",
        "Memory Requests", "Memory Limits", "Age"};
    stctl_fmt_table *t = NULL;
    int r = ctlfmt_ruled_table(7, cols, NULL, &t, err);
    if (r < 0)
        return r;
    struct usage total = {0};
    json_array_foreach(pods, i, p)
    {
        if (terminated(p))
            continue;
        struct usage u = pod_usage(p);
        total.cpu_req += u.cpu_req, total.cpu_lim += u.cpu_lim;
        total.mem_req += u.mem_req, total.mem_lim += u.mem_lim;
        char b[5][64];
        share(u.cpu_req, cpu_cap, true, b[0], sizeof(b[0]));
        share(u.cpu_lim, cpu_cap, true, b[1], sizeof(b[1]));
        share(u.mem_req, mem_cap, false, b[2], sizeof(b[2]));
        share(u.mem_lim, mem_cap, false, b[3], sizeof(b[3]));
        st_print_age(ctlfmt_str_at(p, "metadata.creationTimestamp"), now, b[4], sizeof(b[4]));
        const char *cells[] = {ctlfmt_str_or(p, "metadata.namespace", "default"),
                               ctlfmt_obj_name(p),
                               b[0],
                               b[1],
                               b[2],
                               b[3],
                               b[4]};
        if (r == 0)
            r = stctl_fmt_table_add(t, cells, err);
    }
    if ((r = ctlfmt_table_done(out, t, r, err)) < 0)
        return r;

    fprintf(out, "Allocated resources:\n"
                 "  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
    static const char *const acols[] = {"Resource", "Requests", "Limits"};
    if ((r = ctlfmt_ruled_table(3, acols, NULL, &t, err)) < 0)
        return r;
    char b[4][64];
    share(total.cpu_req, cpu_cap, true, b[0], sizeof(b[0]));
    share(total.cpu_lim, cpu_cap, true, b[1], sizeof(b[1]));
    share(total.mem_req, mem_cap, false, b[2], sizeof(b[2]));
    share(total.mem_lim, mem_cap, false, b[3], sizeof(b[3]));
    const char *cpu[] = {"cpu", b[0], b[1]};
    const char *mem[] = {"memory", b[2], b[3]};
    r = stctl_fmt_table_add(t, cpu, err);
    if (r == 0)
        r = stctl_fmt_table_add(t, mem, err);
    return ctlfmt_table_done(out, t, r, err);
}

/* ---- the view ------------------------------------------------------------- */

int ctlfmt_describe_node(FILE *out, json_t *node, const struct stctl_fmt_related *rel, time_t now,
                         st_error *err)
{
    char buf[256];
    ctlfmt_metadata(out, node, false, now);
    stctl_fmt_node_status(node, buf, sizeof(buf));
    ctlfmt_field(out, 0, 15, "Status", "%s", buf);
    ctlfmt_field(out, 0, 15, "Phase", "%s",
                 stctl_fmt_node_phase(node) ? stctl_fmt_node_phase(node) : NONE);
    if (ctlfmt_str_at(node, "status.message"))
        ctlfmt_field(out, 0, 15, "Message", "%s", ctlfmt_str_at(node, "status.message"));
    if (ctlfmt_str_at(node, "status.strata.accelReason"))
        ctlfmt_field(out, 0, 15, "Accel", "%s (%s)",
                     ctlfmt_str_or(node, "status.strata.accel", NONE),
                     ctlfmt_str_at(node, "status.strata.accelReason"));
    else
        ctlfmt_field(out, 0, 15, "Accel", "%s", ctlfmt_str_or(node, "status.strata.accel", NONE));
    ctlfmt_field(out, 0, 15, "Domain", "%s", ctlfmt_str_or(node, "status.strata.domain", NONE));
    long long boot = st_json_int_at(node, "status.strata.bootMillis", 0);
    if (boot > 0)
        ctlfmt_field(out, 0, 15, "Boot", "%lld ms", boot);
    else
        ctlfmt_field(out, 0, 15, "Boot", "%s", NONE);
    ctlfmt_field(out, 0, 15, "Kernel", "%s",
                 ctlfmt_str_or(node, "status.nodeInfo.kernelVersion", NONE));
    fprintf(out, "Capacity:\n");
    ctlfmt_field(
        out, 2, 9, "cpu", "%s",
        ctlfmt_scalar_text(ctlfmt_at(node, "status.capacity.cpu"), buf, sizeof(buf), NONE));
    ctlfmt_memory_text(ctlfmt_at(node, "status.capacity.memory"), buf, sizeof(buf));
    ctlfmt_field(out, 2, 9, "memory", "%s", buf);
    int r = ctlfmt_conditions(out, node, now, true, err);
    if (r == 0)
        r = node_pods(out, node, rel ? rel->pods : NULL, now, err);
    return r < 0 ? r : ctlfmt_events_section(out, rel ? rel->events : NULL, now, err);
}
