/* ctl_describe.c: `describe` views as kubectl prints them: two columns of
 * "Key:  value", containers with their state and the reason under it,
 * probes, environment, conditions and the events table. Nodes have their
 * own file (ctl_describe_node.c), Services and Endpoints too (ctl_service.c). */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/time.h"

/* ---- describe: helpers ---------------------------------------------------- */

/* "Key:" padded to width, then the value: describe's two columns. */
void ctlfmt_field(FILE *out, int indent, int width, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void ctlfmt_field(FILE *out, int indent, int width, const char *key, const char *fmt, ...)
{
    fprintf(out, "%*s%s:", indent, "", key);
    int pad = width - (int)strlen(key) - 1;
    fprintf(out, "%*s", pad > 1 ? pad : 1, "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
}

/* A string map, one "k=v" a line, aligned under the first. */
void ctlfmt_field_map(FILE *out, int indent, int width, const char *key, json_t *map)
{
    size_t n;
    _cleanup_free_ const char **keys = st_print_sorted_keys(map, &n);
    if (n == 0) {
        ctlfmt_field(out, indent, width, key, "%s", NONE);
        return;
    }
    /* Where ctlfmt_field() puts the value: after the key, padded to width. */
    int pad = width - (int)strlen(key) - 1;
    int col = indent + (int)strlen(key) + 1 + (pad > 1 ? pad : 1);
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        const char *v = ctlfmt_scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp), "");
        if (i == 0)
            ctlfmt_field(out, indent, width, key, "%s=%s", keys[i], v);
        else
            fprintf(out, "%*s%s=%s\n", col, "", keys[i], v);
    }
}

void ctlfmt_field_time(FILE *out, int indent, int width, const char *key, const char *ts,
                       time_t now)
{
    if (ts == NULL) {
        ctlfmt_field(out, indent, width, key, "%s", NONE);
        return;
    }
    char age[32];
    st_print_age(ts, now, age, sizeof(age));
    ctlfmt_field(out, indent, width, key, "%s (%s ago)", ts, age);
}

/* Space-joined strings of an array ("/bin/sh -c 'x'" without the quoting). */
static void join_strings(json_t *arr, char *buf, size_t len)
{
    size_t i;
    json_t *s;
    buf[0] = '\0';
    json_array_foreach(arr, i, s)
    {
        st_print_appendf(buf, len, "%s%s", i ? " " : "", json_string_value(s));
    }
}

/* kubectl's probe line: "http-get http://:8080/ delay=0s timeout=1s
 * period=10s #success=1 #failure=3". */
static void probe_text(json_t *p, char *buf, size_t len)
{
    char port[32];
    buf[0] = '\0';
    if (ctlfmt_at(p, "httpGet")) {
        const char *scheme = ctlfmt_str_or(p, "httpGet.scheme", "HTTP");
        st_print_appendf(buf, len, "http-get %s://%s:%s%s",
                         strcasecmp(scheme, "HTTPS") == 0 ? "https" : "http",
                         ctlfmt_str_or(p, "httpGet.host", ""),
                         ctlfmt_scalar_text(ctlfmt_at(p, "httpGet.port"), port, sizeof(port), "?"),
                         ctlfmt_str_or(p, "httpGet.path", "/"));
    } else if (ctlfmt_at(p, "tcpSocket")) {
        st_print_appendf(
            buf, len, "tcp-socket %s:%s", ctlfmt_str_or(p, "tcpSocket.host", ""),
            ctlfmt_scalar_text(ctlfmt_at(p, "tcpSocket.port"), port, sizeof(port), "?"));
    } else if (ctlfmt_at(p, "exec")) {
        char cmd[512];
        join_strings(ctlfmt_at(p, "exec.command"), cmd, sizeof(cmd));
        st_print_appendf(buf, len, "exec [%s]", cmd);
    } else {
        st_print_appendf(buf, len, "unknown");
    }
    st_print_appendf(
        buf, len, " delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld",
        st_json_int_at(p, "initialDelaySeconds", 0), st_json_int_at(p, "timeoutSeconds", 1),
        st_json_int_at(p, "periodSeconds", 10), st_json_int_at(p, "successThreshold", 1),
        st_json_int_at(p, "failureThreshold", 3));
}

/* Limits or Requests: "cpu: 250m" lines, without Strata's normalized copy. */
static void resources(FILE *out, int indent, const char *key, json_t *map)
{
    if (json_object_size(map) == 0)
        return;
    fprintf(out, "%*s%s:\n", indent, "", key);
    size_t n;
    _cleanup_free_ const char **keys = st_print_sorted_keys(map, &n);
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        ctlfmt_field(out, indent + 2, 9, keys[i], "%s",
                     ctlfmt_scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp), "?"));
    }
}

/* Command or Args as kubectl shows them: the heading, then each element on
 * its own line two columns in, a multi-line element line by line. */
static void string_lines(FILE *out, int indent, const char *key, json_t *arr)
{
    if (json_array_size(arr) == 0)
        return;
    fprintf(out, "%*s%s:\n", indent, "", key);
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        const char *text = json_string_value(s) ? json_string_value(s) : "";
        for (const char *line = text, *nl;; line = nl + 1) {
            nl = strchr(line, '\n');
            fprintf(out, "%*s%.*s\n", indent + 2, "", nl ? (int)(nl - line) : (int)strlen(line),
                    line);
            if (nl == NULL)
                break;
        }
    }
}

/* What the container's image says it serves (its config's ExposedPorts),
 * which stratad notes on the pod as the annotation strata.io/exposed-ports,
 * {"CONTAINER": ["8080/tcp", ...]}. */
static void image_ports(FILE *out, int indent, int w, json_t *pod, json_t *c)
{
    /* the key holds '.', which a dotted path cannot name */
    json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
    const char *text = json_string_value(json_object_get(ann, "strata.io/exposed-ports"));
    if (text == NULL)
        return;
    _cleanup_json_ json_t *all = json_loads(text, 0, NULL);
    json_t *ports = json_object_get(all, ctlfmt_str_or(c, "name", ""));
    char buf[512] = "";
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
        st_print_appendf(buf, sizeof(buf), "%s%s", i ? ", " : "", json_string_value(p));
    if (buf[0])
        ctlfmt_field(out, indent, w, "Image Ports", "%s", buf);
}

static void container_head(FILE *out, int indent, json_t *pod, json_t *c)
{
    const int w = 16;
    char buf[1024];
    ctlfmt_field(out, indent, w, "Image", "%s", ctlfmt_str_or(c, "image", NONE));
    if (pod)
        image_ports(out, indent, w, pod, c);
    size_t i;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(json_object_get(c, "ports"), i, p)
    {
        st_print_appendf(buf, sizeof(buf), "%s%lld/%s", i ? ", " : "",
                         st_json_int_at(p, "containerPort", 0),
                         ctlfmt_str_or(p, "protocol", "TCP"));
        if (ctlfmt_str_at(p, "name"))
            st_print_appendf(buf, sizeof(buf), " (%s)", ctlfmt_str_at(p, "name"));
    }
    if (buf[0])
        ctlfmt_field(out, indent, w, i > 1 ? "Ports" : "Port", "%s", buf);
    string_lines(out, indent, "Command", json_object_get(c, "command"));
    string_lines(out, indent, "Args", json_object_get(c, "args"));
}

/* State or Last State of a container status, with its details below. */
static void container_state(FILE *out, int indent, const char *key, json_t *state)
{
    const int w = 16;
    if (ctlfmt_at(state, "running")) {
        ctlfmt_field(out, indent, w, key, "Running");
        ctlfmt_field(out, indent + 2, w - 2, "Started", "%s",
                     ctlfmt_str_or(state, "running.startedAt", NONE));
    } else if (ctlfmt_at(state, "waiting")) {
        ctlfmt_field(out, indent, w, key, "Waiting");
        ctlfmt_field(out, indent + 2, w - 2, "Reason", "%s",
                     ctlfmt_str_or(state, "waiting.reason", NONE));
        if (ctlfmt_str_at(state, "waiting.message"))
            ctlfmt_field(out, indent + 2, w - 2, "Message", "%s",
                         ctlfmt_str_at(state, "waiting.message"));
    } else if (ctlfmt_at(state, "terminated")) {
        ctlfmt_field(out, indent, w, key, "Terminated");
        ctlfmt_field(out, indent + 2, w - 2, "Reason", "%s",
                     ctlfmt_str_or(state, "terminated.reason", NONE));
        if (ctlfmt_str_at(state, "terminated.message"))
            ctlfmt_field(out, indent + 2, w - 2, "Message", "%s",
                         ctlfmt_str_at(state, "terminated.message"));
        ctlfmt_field(out, indent + 2, w - 2, "Exit Code", "%lld",
                     st_json_int_at(state, "terminated.exitCode", 0));
        if (st_json_int_at(state, "terminated.signal", 0))
            ctlfmt_field(out, indent + 2, w - 2, "Signal", "%lld",
                         st_json_int_at(state, "terminated.signal", 0));
        if (ctlfmt_str_at(state, "terminated.startedAt"))
            ctlfmt_field(out, indent + 2, w - 2, "Started", "%s",
                         ctlfmt_str_at(state, "terminated.startedAt"));
        if (ctlfmt_str_at(state, "terminated.finishedAt"))
            ctlfmt_field(out, indent + 2, w - 2, "Finished", "%s",
                         ctlfmt_str_at(state, "terminated.finishedAt"));
    } else if (strcmp(key, "State") == 0) {
        ctlfmt_field(out, indent, w, key, "Waiting");
    }
}

static void container_tail(FILE *out, int indent, json_t *c)
{
    const int w = 16;
    char buf[1024];
    resources(out, indent, "Limits", ctlfmt_at(c, "resources.limits"));
    resources(out, indent, "Requests", ctlfmt_at(c, "resources.requests"));
    static const char *const probes[][2] = {{"livenessProbe", "Liveness"},
                                            {"readinessProbe", "Readiness"},
                                            {"startupProbe", "Startup"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_object_get(c, probes[i][0]);
        if (p) {
            probe_text(p, buf, sizeof(buf));
            ctlfmt_field(out, indent, w, probes[i][1], "%s", buf);
        }
    }
    json_t *env = json_object_get(c, "env");
    if (json_array_size(env) == 0) {
        ctlfmt_field(out, indent, w, "Environment", "%s", NONE);
        return;
    }
    fprintf(out, "%*sEnvironment:\n", indent, "");
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *name = ctlfmt_str_or(e, "name", "?");
        if (json_is_string(json_object_get(e, "value")))
            ctlfmt_field(out, indent + 2, 0, name, "%s",
                         json_string_value(json_object_get(e, "value")));
        else if (ctlfmt_at(e, "valueFrom.secretKeyRef"))
            ctlfmt_field(out, indent + 2, 0, name, "<set to the key '%s' in secret '%s'>",
                         ctlfmt_str_or(e, "valueFrom.secretKeyRef.key", "?"),
                         ctlfmt_str_or(e, "valueFrom.secretKeyRef.name", "?"));
        else if (ctlfmt_at(e, "valueFrom.fieldRef"))
            ctlfmt_field(out, indent + 2, 0, name, "(%s)",
                         ctlfmt_str_or(e, "valueFrom.fieldRef.fieldPath", "?"));
        else
            ctlfmt_field(out, indent + 2, 0, name, "%s", "");
    }
}

int ctlfmt_conditions(FILE *out, json_t *obj, time_t now, bool details, st_error *err)
{
    json_t *conds = ctlfmt_at(obj, "status.conditions");
    if (json_array_size(conds) == 0) {
        ctlfmt_field(out, 0, 15, "Conditions", "%s", NONE);
        return 0;
    }
    static const char *const cols[] = {"Type", "Status", "Reason", "Last Transition", "Message"};
    stctl_fmt_table *t = NULL;
    int r = stctl_fmt_table_new(details ? 5 : 2, cols, &t, err);
    if (r < 0)
        return r;
    stctl_fmt_table_set_indent(t, 2);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        char age[32];
        st_print_age(ctlfmt_str_at(c, "lastTransitionTime"), now, age, sizeof(age));
        const char *cells[] = {ctlfmt_str_or(c, "type", "?"), ctlfmt_str_or(c, "status", "Unknown"),
                               ctlfmt_str_or(c, "reason", ""),
                               ctlfmt_str_at(c, "lastTransitionTime") ? age : "",
                               ctlfmt_str_or(c, "message", "")};
        if (r == 0)
            r = stctl_fmt_table_add(t, cells, err);
    }
    fprintf(out, "Conditions:\n");
    return ctlfmt_table_done(out, t, r, err);
}

int ctlfmt_table_done(FILE *out, stctl_fmt_table *t, int r, st_error *err)
{
    if (r == 0)
        r = stctl_fmt_table_write(out, t, err);
    stctl_fmt_table_free(t);
    return r;
}

int ctlfmt_ruled_table(size_t ncols, const char *const *headers, const char *const *rule,
                       stctl_fmt_table **out, st_error *err)
{
    int r = stctl_fmt_table_new(ncols, headers, out, err);
    if (r < 0)
        return r;
    stctl_fmt_table_set_indent(*out, 2);
    /* The rule: each header's length in dashes ("Type" -> "----"). */
    char rules[16][32];
    const char *cells[16];
    for (size_t i = 0; i < ncols && i < 16; i++) {
        size_t n =
            strlen(headers[i]) < sizeof(rules[i]) ? strlen(headers[i]) : sizeof(rules[i]) - 1;
        memset(rules[i], '-', n);
        rules[i][n] = '\0';
        cells[i] = rule ? rule[i] : rules[i];
    }
    if (ncols > 16)
        r = st_error_set(err, EINVAL, "a ruled table has at most 16 columns");
    if (r == 0)
        r = stctl_fmt_table_add(*out, cells, err);
    if (r < 0) {
        stctl_fmt_table_free(*out);
        *out = NULL;
    }
    return r;
}

int ctlfmt_events_section(FILE *out, json_t *events, time_t now, st_error *err)
{
    if (events == NULL) {
        ctlfmt_field(out, 0, 15, "Events", "<unknown: the events could not be read>");
        return 0;
    }
    if (json_array_size(events) == 0) {
        ctlfmt_field(out, 0, 15, "Events", "%s", NONE);
        return 0;
    }
    static const char *const cols[] = {"Type", "Reason", "Age", "From", "Message"};
    /* kubectl draws Age's rule one dash longer here. */
    static const char *const rule[] = {"----", "------", "----", "----", "-------"};
    stctl_fmt_table *t = NULL;
    int r = ctlfmt_ruled_table(5, cols, rule, &t, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char seen[64];
        st_print_event_seen(ev, now, seen, sizeof(seen));
        const char *cells[] = {ctlfmt_str_or(ev, "type", "Normal"), ctlfmt_str_or(ev, "reason", ""),
                               seen, ctlfmt_str_or(ev, "source.component", ""),
                               ctlfmt_str_or(ev, "message", "")};
        if (r == 0)
            r = stctl_fmt_table_add(t, cells, err);
    }
    fprintf(out, "Events:\n");
    return ctlfmt_table_done(out, t, r, err);
}

void ctlfmt_metadata(FILE *out, json_t *obj, bool namespaced, time_t now)
{
    ctlfmt_field(out, 0, 15, "Name", "%s", ctlfmt_obj_name(obj));
    if (namespaced)
        ctlfmt_field(out, 0, 15, "Namespace", "%s",
                     ctlfmt_str_or(obj, "metadata.namespace", "default"));
    ctlfmt_field_time(out, 0, 15, "Created", ctlfmt_str_at(obj, "metadata.creationTimestamp"), now);
    ctlfmt_field_map(out, 0, 15, "Labels", ctlfmt_at(obj, "metadata.labels"));
}

/* The controller in metadata.ownerReferences, "Deployment/web". */
static void controlled_by(FILE *out, json_t *obj)
{
    size_t i;
    json_t *o;
    json_array_foreach(ctlfmt_at(obj, "metadata.ownerReferences"), i, o)
    {
        if (json_is_true(json_object_get(o, "controller"))) {
            ctlfmt_field(out, 0, 15, "Controlled By", "%s/%s", ctlfmt_str_or(o, "kind", "?"),
                         ctlfmt_str_or(o, "name", "?"));
            return;
        }
    }
}

/* ---- describe: kinds ------------------------------------------------------ */

static json_t *container_status(json_t *pod, const char *name)
{
    size_t i;
    json_t *cs;
    json_array_foreach(ctlfmt_at(pod, "status.containerStatuses"), i, cs)
    {
        const char *n = ctlfmt_str_at(cs, "name");
        if (n && name && strcmp(n, name) == 0)
            return cs;
    }
    return NULL;
}

/* Whether a container's state or last state already shows reason. */
static bool container_reason(json_t *pod, const char *reason)
{
    static const char *const paths[] = {"state.waiting.reason", "state.terminated.reason",
                                        "lastState.terminated.reason"};
    size_t i;
    json_t *cs;
    json_array_foreach(ctlfmt_at(pod, "status.containerStatuses"), i, cs)
    {
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
            const char *r = ctlfmt_str_at(cs, paths[p]);
            if (r && strcmp(r, reason) == 0)
                return true;
        }
    }
    return false;
}

/* kubectl's Status: the phase, or Terminating while a pod is being deleted;
 * why a container waits or ended is shown under the container. */
static void pod_status_fields(FILE *out, json_t *pod, time_t now)
{
    const char *phase = ctlfmt_str_or(pod, "status.phase", "Pending");
    const char *deleting = ctlfmt_str_at(pod, "metadata.deletionTimestamp");
    time_t until = 0;
    if (deleting && strcmp(phase, "Failed") != 0 && strcmp(phase, "Succeeded") != 0) {
        char lasts[32];
        if (st_time_parse_rfc3339(deleting, &until, NULL) == 0 && until > now) {
            st_print_duration((long long)(until - now), lasts, sizeof(lasts));
            ctlfmt_field(out, 0, 15, "Status", "Terminating (lasts %s)", lasts);
        } else {
            ctlfmt_field(out, 0, 15, "Status", "Terminating");
        }
        if (ctlfmt_at(pod, "metadata.deletionGracePeriodSeconds"))
            ctlfmt_field(out, 0, 15, "Termination Grace Period", "%llds",
                         st_json_int_at(pod, "metadata.deletionGracePeriodSeconds", 0));
    } else {
        ctlfmt_field(out, 0, 15, "Status", "%s", phase);
    }
    const char *reason = ctlfmt_str_at(pod, "status.reason");
    if (reason && !container_reason(pod, reason))
        ctlfmt_field(out, 0, 15, "Reason", "%s", reason);
    if (ctlfmt_str_at(pod, "status.message"))
        ctlfmt_field(out, 0, 15, "Message", "%s", ctlfmt_str_at(pod, "status.message"));
}

static int describe_pod(FILE *out, json_t *pod, json_t *events, time_t now, st_error *err)
{
    ctlfmt_metadata(out, pod, true, now);
    ctlfmt_field(out, 0, 15, "Node", "%s", ctlfmt_str_or(pod, "spec.nodeName", NONE));
    pod_status_fields(out, pod, now);
    controlled_by(out, pod);
    fprintf(out, "Containers:\n");
    size_t i;
    json_t *c;
    json_array_foreach(ctlfmt_at(pod, "spec.containers"), i, c)
    {
        fprintf(out, "  %s:\n", ctlfmt_str_or(c, "name", "?"));
        container_head(out, 4, pod, c);
        json_t *cs = container_status(pod, ctlfmt_str_at(c, "name"));
        container_state(out, 4, "State", ctlfmt_at(cs, "state"));
        container_state(out, 4, "Last State", ctlfmt_at(cs, "lastState"));
        ctlfmt_field(out, 4, 16, "Ready", "%s",
                     json_is_true(json_object_get(cs, "ready")) ? "True" : "False");
        ctlfmt_field(out, 4, 16, "Restart Count", "%lld", st_json_int_at(cs, "restartCount", 0));
        container_tail(out, 4, c);
    }
    int r = ctlfmt_conditions(out, pod, now, false, err);
    return r < 0 ? r : ctlfmt_events_section(out, events, now, err);
}

static int describe_deployment(FILE *out, json_t *d, json_t *events, time_t now, st_error *err)
{
    char buf[512];
    ctlfmt_metadata(out, d, true, now);
    st_print_map_text(ctlfmt_at(d, "spec.selector.matchLabels"), buf, sizeof(buf));
    ctlfmt_field(out, 0, 15, "Selector", "%s", buf);
    long long want = st_json_int_at(d, "spec.replicas", 1),
              avail = st_json_int_at(d, "status.availableReplicas", 0);
    ctlfmt_field(out, 0, 15, "Replicas",
                 "%lld desired | %lld updated | %lld total | %lld available | %lld unavailable",
                 want, st_json_int_at(d, "status.updatedReplicas", 0),
                 st_json_int_at(d, "status.replicas", 0), avail, want > avail ? want - avail : 0);
    fprintf(out, "Pod Template:\n");
    ctlfmt_field_map(out, 2, 9, "Labels", ctlfmt_at(d, "spec.template.metadata.labels"));
    fprintf(out, "  Containers:\n");
    size_t i;
    json_t *c;
    json_array_foreach(ctlfmt_at(d, "spec.template.spec.containers"), i, c)
    {
        fprintf(out, "   %s:\n", ctlfmt_str_or(c, "name", "?"));
        container_head(out, 4, NULL, c);
        container_tail(out, 4, c);
    }
    int r = ctlfmt_conditions(out, d, now, true, err);
    return r < 0 ? r : ctlfmt_events_section(out, events, now, err);
}

static int describe_secret(FILE *out, json_t *s, json_t *events, time_t now, st_error *err)
{
    ctlfmt_metadata(out, s, true, now);
    ctlfmt_field(out, 0, 15, "Type", "%s", ctlfmt_str_or(s, "type", "Opaque"));
    fprintf(out, "\nData\n====\n");
    size_t n;
    json_t *data = ctlfmt_at(s, "data");
    _cleanup_free_ const char **keys = st_print_sorted_keys(data, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(data, keys[i]));
        fprintf(out, "%s:  %zu bytes\n", keys[i], st_b64_decoded_len(v));
    }
    fputc('\n', out);
    return ctlfmt_events_section(out, events, now, err);
}

static int describe_namespace(FILE *out, json_t *ns, json_t *events, time_t now, st_error *err)
{
    ctlfmt_metadata(out, ns, false, now);
    ctlfmt_field(out, 0, 15, "Status", "%s", ctlfmt_str_or(ns, "status.phase", "Active"));
    fputc('\n', out);
    return ctlfmt_events_section(out, events, now, err);
}

static int describe_image(FILE *out, json_t *img)
{
    char buf[64];
    ctlfmt_field(out, 0, 15, "Name", "%s", ctlfmt_obj_name(img));
    ctlfmt_field(out, 0, 15, "Tag", "%s", ctlfmt_str_or(img, "tag", NONE));
    ctlfmt_field(out, 0, 15, "Digest", "%s", ctlfmt_str_or(img, "digest", NONE));
    stctl_fmt_size(st_json_int_at(img, "size", 0), buf, sizeof(buf));
    ctlfmt_field(out, 0, 15, "Size", "%s (%lld bytes)", buf, st_json_int_at(img, "size", 0));
    ctlfmt_field(out, 0, 15, "Layers", "%lld", st_json_int_at(img, "layers", 0));
    ctlfmt_field(out, 0, 15, "Created", "%s", ctlfmt_str_or(img, "created", NONE));
    return 0;
}

static int describe_event(FILE *out, json_t *ev, time_t now)
{
    char buf[256];
    ctlfmt_field(out, 0, 15, "Name", "%s", ctlfmt_obj_name(ev));
    st_print_event_object(ev, buf, sizeof(buf));
    ctlfmt_field(out, 0, 15, "Object", "%s", buf);
    ctlfmt_field(out, 0, 15, "Type", "%s", ctlfmt_str_or(ev, "type", "Normal"));
    ctlfmt_field(out, 0, 15, "Reason", "%s", ctlfmt_str_or(ev, "reason", NONE));
    ctlfmt_field(out, 0, 15, "From", "%s", ctlfmt_str_or(ev, "source.component", NONE));
    st_print_event_seen(ev, now, buf, sizeof(buf));
    ctlfmt_field(out, 0, 15, "Last Seen", "%s", buf);
    ctlfmt_field(out, 0, 15, "Message", "%s", ctlfmt_str_or(ev, "message", ""));
    return 0;
}

bool stctl_fmt_event_is_about(json_t *event, const char *kind, const char *ns, const char *name)
{
    const char *k = ctlfmt_str_at(event, "involvedObject.kind");
    const char *n = ctlfmt_str_at(event, "involvedObject.name");
    const char *ens = ctlfmt_str_at(event, "involvedObject.namespace");
    if (k == NULL || n == NULL || kind == NULL || name == NULL)
        return false;
    if (strcasecmp(k, kind) != 0 || strcmp(n, name) != 0)
        return false;
    return ns == NULL || *ns == '\0' || ens == NULL || strcmp(ens, ns) == 0;
}

int stctl_fmt_describe(FILE *out, const struct stctl_fmt_kind *k, json_t *obj,
                       const struct stctl_fmt_related *rel, time_t now, st_error *err)
{
    json_t *events = rel ? rel->events : NULL;
    if (!json_is_object(obj))
        return st_error_set(err, EINVAL, "stratad sent a %s that is not a JSON object", k->kind);
    int r = 0;
    switch (k->id) {
    case STCTL_FMT_POD:
        r = describe_pod(out, obj, events, now, err);
        break;
    case STCTL_FMT_DEPLOYMENT:
        r = describe_deployment(out, obj, events, now, err);
        break;
    case STCTL_FMT_NODE:
        r = ctlfmt_describe_node(out, obj, rel, now, err);
        break;
    case STCTL_FMT_SECRET:
        r = describe_secret(out, obj, events, now, err);
        break;
    case STCTL_FMT_EVENT:
        r = describe_event(out, obj, now);
        break;
    case STCTL_FMT_IMAGE:
        r = describe_image(out, obj);
        break;
    case STCTL_FMT_SERVICE:
        r = ctlfmt_describe_service(out, obj, rel, now, err);
        break;
    case STCTL_FMT_ENDPOINTS:
        r = ctlfmt_describe_endpoints(out, obj, events, now, err);
        break;
    case STCTL_FMT_NAMESPACE:
        r = describe_namespace(out, obj, events, now, err);
        break;
    case STCTL_FMT_LEASE:
        r = ctlfmt_describe_lease(out, obj, now);
        break;
    }
    if (r == 0 && ferror(out))
        return st_error_sys(err, errno ? errno : EIO, "cannot write the description");
    return r;
}
