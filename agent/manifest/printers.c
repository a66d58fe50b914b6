/* printers.c: the cells of kubectl's tables (printers.h), one rule each,
 * for stratactl's tables and stratad's server-side Tables alike. The rules
 * follow what kubectl and the apiserver print, so a person reading either
 * sees what a real cluster would show. */
#include "strata/printers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/time.h"

/* kubectl's loadBalancerWidth: the EXTERNAL-IP cell without -o wide. */
#define LB_WIDTH 16
/* kubectl's formatEndpoints shows this many addresses, then "+ N more...". */
#define EP_SHOWN 3

/* ---- JSON ----------------------------------------------------------------- */

/* A non-empty string at path, else def: an empty field reads as unset. */
static const char *str_or(json_t *obj, const char *path, const char *def)
{
    const char *s = st_json_str_at(obj, path);
    return s && *s ? s : def;
}

/* ---- text ----------------------------------------------------------------- */

void st_print_appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **st_print_sorted_keys(json_t *obj, size_t *n)
{
    *n = json_is_object(obj) ? json_object_size(obj) : 0;
    if (*n == 0)
        return NULL;
    const char **keys = calloc(*n, sizeof(*keys));
    if (keys == NULL) {
        *n = 0;
        return NULL;
    }
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

/* A map's value as text: strings as they are, numbers and booleans printed. */
static const char *scalar_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    else
        return "";
    return buf;
}

void st_print_map_text(json_t *map, char *buf, size_t len)
{
    size_t n;
    _cleanup_free_ const char **keys = st_print_sorted_keys(map, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        st_print_appendf(buf, len, "%s%s=%s", i ? "," : "", keys[i],
                         scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp)));
    }
    if (n == 0)
        snprintf(buf, len, "%s", ST_PRINT_NONE);
}

/* ---- time ----------------------------------------------------------------- */

/* "5m" or "5m30s": kubectl's two-unit durations drop a zero second unit. */
static void two_units(char *buf, size_t len, long long big, char big_unit, long long small,
                      char small_unit)
{
    if (small)
        snprintf(buf, len, "%lld%c%lld%c", big, big_unit, small, small_unit);
    else
        snprintf(buf, len, "%lld%c", big, big_unit);
}

void st_print_duration(long long seconds, char *buf, size_t len)
{
    /* kubectl tolerates a second of clock skew as "now". */
    if (seconds < -1) {
        snprintf(buf, len, "<invalid>");
        return;
    }
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120) {
        snprintf(buf, len, "%llds", seconds);
        return;
    }
    long long minutes = seconds / 60;
    if (minutes < 10) {
        two_units(buf, len, minutes, 'm', seconds % 60, 's');
        return;
    }
    if (minutes < 3 * 60) {
        snprintf(buf, len, "%lldm", minutes);
        return;
    }
    long long hours = minutes / 60;
    if (hours < 8) {
        two_units(buf, len, hours, 'h', minutes % 60, 'm');
        return;
    }
    if (hours < 48) {
        snprintf(buf, len, "%lldh", hours);
        return;
    }
    long long days = hours / 24;
    if (days < 8) {
        two_units(buf, len, days, 'd', hours % 24, 'h');
        return;
    }
    if (days < 2 * 365) {
        snprintf(buf, len, "%lldd", days);
        return;
    }
    long long years = days / 365;
    two_units(buf, len, years, 'y', years < 8 ? days % 365 : 0, 'd');
}

void st_print_age(const char *timestamp, time_t now, char *buf, size_t len)
{
    time_t t = 0;
    if (timestamp == NULL || st_time_parse_rfc3339(timestamp, &t, NULL) < 0) {
        snprintf(buf, len, "<unknown>");
        return;
    }
    st_print_duration((long long)now - (long long)t, buf, len);
}

/* ---- pods and nodes ------------------------------------------------------- */

json_t *st_print_condition(json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(st_json_at(obj, "status.conditions"), i, c)
    {
        const char *t = st_json_str_at(c, "type");
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

void st_print_pod_ready(json_t *pod, char *buf, size_t len)
{
    json_t *statuses = st_json_at(pod, "status.containerStatuses");
    size_t total = json_array_size(st_json_at(pod, "spec.containers"));
    if (total == 0)
        total = json_array_size(statuses);
    size_t ready = 0, i;
    json_t *cs;
    json_array_foreach(statuses, i, cs)
    {
        if (json_is_true(json_object_get(cs, "ready")))
            ready++;
    }
    snprintf(buf, len, "%zu/%zu", ready, total);
}

void st_print_pod_status(json_t *pod, char *buf, size_t len)
{
    const char *reason = str_or(pod, "status.phase", "Pending");
    reason = str_or(pod, "status.reason", reason);
    char tmp[32];
    bool running_ready = false;
    json_t *statuses = st_json_at(pod, "status.containerStatuses");
    /* From the last container to the first, so the first one's reason wins. */
    for (size_t i = json_array_size(statuses); i-- > 0;) {
        json_t *cs = json_array_get(statuses, i);
        json_t *term = st_json_at(cs, "state.terminated");
        if (str_or(cs, "state.waiting.reason", NULL)) {
            reason = str_or(cs, "state.waiting.reason", NULL);
        } else if (term) {
            if (str_or(term, "reason", NULL))
                reason = str_or(term, "reason", NULL);
            else if (st_json_int_at(term, "signal", 0) != 0) {
                snprintf(tmp, sizeof(tmp), "Signal:%lld", st_json_int_at(term, "signal", 0));
                reason = tmp;
            } else {
                snprintf(tmp, sizeof(tmp), "ExitCode:%lld", st_json_int_at(term, "exitCode", 0));
                reason = tmp;
            }
        } else if (json_is_true(json_object_get(cs, "ready")) && st_json_at(cs, "state.running")) {
            running_ready = true;
        }
    }
    /* A finished container beside a running one: the pod is still running. */
    if (strcmp(reason, "Completed") == 0 && running_ready) {
        const char *r = st_json_str_at(st_print_condition(pod, "Ready"), "status");
        reason = r && strcmp(r, "True") == 0 ? "Running" : "NotReady";
    }
    if (str_or(pod, "metadata.deletionTimestamp", NULL))
        reason =
            strcmp(str_or(pod, "status.reason", ""), "NodeLost") == 0 ? "Unknown" : "Terminating";
    snprintf(buf, len, "%s", reason);
}

void st_print_pod_restarts(json_t *pod, time_t now, char *buf, size_t len)
{
    long long restarts = 0;
    time_t latest = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(st_json_at(pod, "status.containerStatuses"), i, cs)
    {
        restarts += st_json_int_at(cs, "restartCount", 0);
        time_t t = 0;
        const char *fin = st_json_str_at(cs, "lastState.terminated.finishedAt");
        if (fin && st_time_parse_rfc3339(fin, &t, NULL) == 0 && t > latest)
            latest = t;
    }
    snprintf(buf, len, "%lld", restarts);
    if (restarts > 0 && latest > 0) {
        char age[32];
        st_print_duration((long long)now - (long long)latest, age, sizeof(age));
        st_print_appendf(buf, len, " (%s ago)", age);
    }
}

void st_print_node_status(json_t *node, char *buf, size_t len)
{
    const char *ready = st_json_str_at(st_print_condition(node, "Ready"), "status");
    if (ready && strcmp(ready, "True") == 0)
        snprintf(buf, len, "Ready");
    else if (ready && strcmp(ready, "False") == 0)
        snprintf(buf, len, "NotReady");
    else
        snprintf(buf, len, "Unknown");
    if (json_is_true(st_json_at(node, "spec.unschedulable")))
        st_print_appendf(buf, len, ",SchedulingDisabled");
}

void st_print_containers_text(json_t *podspec, const char *field, char *buf, size_t len)
{
    size_t i;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach(json_object_get(podspec, "containers"), i, c)
    {
        st_print_appendf(buf, len, "%s%s", i ? "," : "", str_or(c, field, ""));
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", ST_PRINT_NONE);
}

/* ---- services and endpoints ----------------------------------------------- */

void st_print_ingress_text(json_t *svc, const char *sep, char *buf, size_t len)
{
    size_t i;
    json_t *in;
    buf[0] = '\0';
    json_array_foreach(st_json_at(svc, "status.loadBalancer.ingress"), i, in)
    {
        st_print_appendf(buf, len, "%s%s", buf[0] ? sep : "",
                         str_or(in, "ip", str_or(in, "hostname", "")));
    }
}

void st_print_service_external_ip(json_t *svc, bool wide, char *buf, size_t len)
{
    const char *type = str_or(svc, "spec.type", "ClusterIP");
    char ext[256] = "";
    size_t i;
    json_t *ip;
    json_array_foreach(st_json_at(svc, "spec.externalIPs"), i, ip)
    {
        st_print_appendf(ext, sizeof(ext), "%s%s", i ? "," : "", json_string_value(ip));
    }
    if (strcmp(type, "LoadBalancer") != 0) {
        snprintf(buf, len, "%s", ext[0] ? ext : ST_PRINT_NONE);
        return;
    }
    st_print_ingress_text(svc, ",", buf, len);
    if (ext[0])
        st_print_appendf(buf, len, "%s%s", buf[0] ? "," : "", ext);
    if (buf[0] == '\0')
        snprintf(buf, len, "<pending>");
    else if (!wide && strlen(buf) > LB_WIDTH && len > LB_WIDTH)
        snprintf(buf + LB_WIDTH - 3, len - (LB_WIDTH - 3), "...");
}

void st_print_service_ports(json_t *svc, char *buf, size_t len)
{
    size_t i;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(st_json_at(svc, "spec.ports"), i, p)
    {
        st_print_appendf(buf, len, "%s%lld", i ? "," : "", st_json_int_at(p, "port", 0));
        if (st_json_int_at(p, "nodePort", 0) > 0)
            st_print_appendf(buf, len, ":%lld", st_json_int_at(p, "nodePort", 0));
        st_print_appendf(buf, len, "/%s", str_or(p, "protocol", "TCP"));
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", ST_PRINT_NONE);
}

/* Whether an EndpointPort is the Service port named port_name ("" for an
 * unnamed one, as Kubernetes keys them). */
static bool port_named(json_t *port, const char *port_name)
{
    return strcmp(str_or(port, "name", ""), port_name) == 0;
}

void st_print_endpoints_text(json_t *ep, const char *list, const char *port_name, char *buf,
                             size_t len)
{
    size_t shown = 0, count = 0, i, j, k;
    json_t *s, *port, *addr;
    buf[0] = '\0';
    /* kubectl's order: subset, then port, then address. */
    json_array_foreach(st_json_at(ep, "subsets"), i, s)
    {
        json_t *addrs = json_object_get(s, list);
        json_t *ports = json_object_get(s, "ports");
        if (json_array_size(ports) == 0) {
            count += json_array_size(addrs);
            json_array_foreach(addrs, k, addr)
            {
                if (shown < EP_SHOWN)
                    st_print_appendf(buf, len, "%s%s", shown++ ? "," : "", str_or(addr, "ip", ""));
            }
            continue;
        }
        json_array_foreach(ports, j, port)
        {
            if (port_name && !port_named(port, port_name))
                continue;
            count += json_array_size(addrs);
            json_array_foreach(addrs, k, addr)
            {
                if (shown < EP_SHOWN)
                    st_print_appendf(buf, len, "%s%s:%lld", shown++ ? "," : "",
                                     str_or(addr, "ip", ""), st_json_int_at(port, "port", 0));
            }
        }
    }
    if (count > shown)
        st_print_appendf(buf, len, " + %zu more...", count - shown);
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", ST_PRINT_NONE);
}

/* ---- events --------------------------------------------------------------- */

const char *st_print_event_last_time(json_t *ev)
{
    const char *last = str_or(ev, "lastTimestamp", NULL);
    if (last == NULL)
        last = str_or(ev, "eventTime", NULL);
    if (last == NULL)
        last = str_or(ev, "firstTimestamp", NULL);
    if (last == NULL)
        last = str_or(ev, "metadata.creationTimestamp", NULL);
    return last;
}

void st_print_event_seen(json_t *ev, time_t now, char *buf, size_t len)
{
    st_print_age(st_print_event_last_time(ev), now, buf, len);
    long long count = st_json_int_at(ev, "count", 1);
    const char *first = str_or(ev, "firstTimestamp", NULL);
    if (count > 1 && first) {
        char over[32];
        st_print_age(first, now, over, sizeof(over));
        st_print_appendf(buf, len, " (x%lld over %s)", count, over);
    }
}

void st_print_event_object(json_t *ev, char *buf, size_t len)
{
    const char *kind = str_or(ev, "involvedObject.kind", "");
    size_t i = 0;
    for (; kind[i] && i + 1 < len; i++)
        buf[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a' : kind[i]);
    buf[i] = '\0';
    st_print_appendf(buf, len, "/%s", str_or(ev, "involvedObject.name", ""));
}
