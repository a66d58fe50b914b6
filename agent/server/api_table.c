/* api_table.c: server-side tables (api_table.h). kubectl asks every `get`
 * for a meta.k8s.io Table and prints the cells as they come, so the columns
 * here are what a person sees: the ones the apiserver's printers give each
 * kind (priority 1 for those only `-o wide` shows), with cells computed by
 * strata/printers.h, the rules stratactl uses too. */
#include "strata/api_table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/lease.h"
#include "strata/printers.h"

/* Cells are for people: long ones are cut (kubectl would wrap nothing). */
#define CELL_MAX 1024

/* ---- Accept ------------------------------------------------------------- */

/* The value of parameter key in a media range's parameters
 * (";as=Table;v=v1"), copied into out; false when absent. */
static bool media_param(const char *params, size_t plen, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    const char *p = params, *end = params + plen;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(stop - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1, *ve = stop;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            snprintf(out, len, "%.*s", (int)(ve - v), v);
            return true;
        }
        p = semi ? semi + 1 : end;
    }
    return false;
}

/* What one media range asks: 1 a Table we serve, 0 plain JSON, -1 neither. */
static int media_range(const char *r, size_t len)
{
    while (len > 0 && (*r == ' ' || *r == '\t'))
        r++, len--;
    const char *semi = memchr(r, ';', len);
    size_t tlen = semi ? (size_t)(semi - r) : len;
    while (tlen > 0 && (r[tlen - 1] == ' ' || r[tlen - 1] == '\t'))
        tlen--;
    const char *params = semi ? semi + 1 : r + len;
    size_t plen = semi ? len - (size_t)(semi + 1 - r) : 0;
    char as[32], g[32], v[32];
    bool json = tlen == strlen("application/json") && strncasecmp(r, "application/json", tlen) == 0;
    bool any = (tlen == 3 && strncmp(r, "*/*", 3) == 0) ||
               (tlen == 13 && strncasecmp(r, "application/*", 13) == 0);
    if (!json)
        return any ? 0 : -1;
    if (!media_param(params, plen, "as", as, sizeof(as)))
        return 0;
    if (strcmp(as, "Table") != 0 || !media_param(params, plen, "g", g, sizeof(g)) ||
        strcmp(g, "meta.k8s.io") != 0 || !media_param(params, plen, "v", v, sizeof(v)))
        return -1;
    return strcmp(v, "v1") == 0 || strcmp(v, "v1beta1") == 0 ? 1 : -1;
}

bool st_server_api_wants_table(const char *accept)
{
    const char *p = accept;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int r = media_range(p, len);
        if (r >= 0)
            return r == 1;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

int st_api_table_object_parse(const char *text, enum st_api_table_object *out)
{
    if (text == NULL || strcmp(text, "Metadata") == 0)
        *out = ST_API_TABLE_METADATA;
    else if (strcmp(text, "Object") == 0)
        *out = ST_API_TABLE_OBJECT;
    else if (strcmp(text, "None") == 0)
        *out = ST_API_TABLE_NONE;
    else
        return -EINVAL;
    return 0;
}

/* ---- columns ------------------------------------------------------------ */

struct column {
    const char *name;
    const char *type;   /* "string", "integer" */
    const char *format; /* "name" for the Name column, else "" */
    int priority;
    const char *description;
};

#define NAME_COL                                                                                   \
    {                                                                                              \
        "Name", "string", "name", 0, "The object's name, unique in its namespace."                 \
    }
#define AGE_COL                                                                                    \
    {                                                                                              \
        "Age", "string", "", 0, "How long ago the object was created."                             \
    }

static const struct column pod_cols[] = {
    NAME_COL,
    {"Ready", "string", "", 0, "Containers ready, of the pod's containers."},
    {"Status", "string", "", 0,
     "The pod's state as kubectl tells it: its phase, or why a container waits or ended."},
    {"Restarts", "string", "", 0,
     "Times the pod's containers restarted, and how long ago the last one did."},
    AGE_COL,
    {"IP", "string", "", 1, "The pod's IP address."},
    {"Node", "string", "", 1, "The node the pod is bound to."},
    {"Nominated Node", "string", "", 1, "The node the scheduler nominated for a preemption."},
    {"Readiness Gates", "string", "", 1, "Readiness gates met, of the pod's readiness gates."},
};

static const struct column deployment_cols[] = {
    NAME_COL,
    {"Ready", "string", "", 0, "Ready replicas, of the desired replicas."},
    {"Up-to-date", "integer", "", 0, "Replicas that run the latest pod template."},
    {"Available", "integer", "", 0, "Replicas available to serve."},
    AGE_COL,
    {"Containers", "string", "", 1, "The names of the pod template's containers."},
    {"Images", "string", "", 1, "The images of the pod template's containers."},
    {"Selector", "string", "", 1, "The label selector of the deployment's pods."},
};

static const struct column service_cols[] = {
    NAME_COL,
    {"Type", "string", "", 0, "How the service is exposed: ClusterIP, NodePort, LoadBalancer."},
    {"Cluster-IP", "string", "", 0, "The service's virtual address inside the cluster."},
    {"External-IP", "string", "", 0, "Addresses the service is reached at from outside."},
    {"Port(s)", "string", "", 0, "The service's ports (port:nodePort/protocol)."},
    AGE_COL,
    {"Selector", "string", "", 1, "The labels of the pods the service sends traffic to."},
};

static const struct column endpoints_cols[] = {
    NAME_COL,
    {"Endpoints", "string", "", 0, "The ready addresses and ports behind the service."},
    AGE_COL,
};

static const struct column node_cols[] = {
    NAME_COL,
    {"Status", "string", "", 0, "Whether the node is Ready, and SchedulingDisabled if cordoned."},
    {"Roles", "string", "", 0, "The node's roles, from its node-role labels."},
    AGE_COL,
    {"Version", "string", "", 0, "The version of the node agent."},
    {"Internal-IP", "string", "", 1, "The node's internal address."},
    {"External-IP", "string", "", 1, "The node's external address."},
    {"OS-Image", "string", "", 1, "The operating system the node runs."},
    {"Kernel-Version", "string", "", 1, "The node's kernel version."},
    {"Container-Runtime", "string", "", 1, "The node's container runtime and its version."},
    {"Host", "string", "", 1, "The host whose stratad runs the node's VM (strata.io/host)."},
};

static const struct column secret_cols[] = {
    NAME_COL,
    {"Type", "string", "", 0, "The type of the secret's data."},
    {"Data", "integer", "", 0, "How many keys the secret holds."},
    AGE_COL,
};

static const struct column event_cols[] = {
    {"Last Seen", "string", "", 0, "When the event was last seen."},
    {"Type", "string", "", 0, "Normal or Warning."},
    {"Reason", "string", "", 0, "Why the event happened, in one word."},
    {"Object", "string", "", 0, "The object the event is about (kind/name)."},
    {"Subobject", "string", "", 1, "The part of the object the event is about."},
    {"Source", "string", "", 1, "The component, and host, that reported the event."},
    {"Message", "string", "", 0, "What happened, for a person."},
    {"First Seen", "string", "", 1, "When the event was first seen."},
    {"Count", "integer", "", 1, "How many times the event happened."},
    {"Name", "string", "name", 1, "The event's name."},
};

static const struct column namespace_cols[] = {
    NAME_COL,
    {"Status", "string", "", 0, "Active, or Terminating while its objects are deleted."},
    AGE_COL,
};

/* As the apiserver prints a Lease: an empty Holder when nobody holds it. */
static const struct column lease_cols[] = {
    NAME_COL,
    {"Holder", "string", "", 0,
     "The identity of the lease's holder (a stratad's HOST/INSTANCE); empty when given up."},
    AGE_COL,
};

static const struct column default_cols[] = {NAME_COL, AGE_COL};

/* ---- cells -------------------------------------------------------------- */

static const char *str_or(json_t *obj, const char *path, const char *def)
{
    const char *s = st_json_str_at(obj, path);
    return s && *s ? s : def;
}

static void add_str(json_t *cells, const char *s)
{
    json_array_append_new(cells, json_string(s ? s : ""));
}

static void add_int(json_t *cells, long long v)
{
    json_array_append_new(cells, json_integer(v));
}

static void add_age(json_t *cells, json_t *obj, const char *path, time_t now)
{
    char b[32];
    st_print_age(st_json_str_at(obj, path), now, b, sizeof(b));
    add_str(cells, b);
}

/* "met/total" of a pod's readiness gates, <none> without any. */
static void readiness_gates(json_t *pod, char *buf, size_t len)
{
    json_t *gates = st_json_at(pod, "spec.readinessGates");
    size_t met = 0, i;
    json_t *g;
    json_array_foreach(gates, i, g)
    {
        const char *type = str_or(g, "conditionType", "");
        const char *s = st_json_str_at(st_print_condition(pod, type), "status");
        if (s && strcmp(s, "True") == 0)
            met++;
    }
    if (json_array_size(gates) == 0)
        snprintf(buf, len, "%s", ST_PRINT_NONE);
    else
        snprintf(buf, len, "%zu/%zu", met, json_array_size(gates));
}

static void pod_row(json_t *pod, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    add_str(cells, str_or(pod, "metadata.name", ""));
    st_print_pod_ready(pod, b, sizeof(b));
    add_str(cells, b);
    st_print_pod_status(pod, b, sizeof(b));
    add_str(cells, b);
    st_print_pod_restarts(pod, now, b, sizeof(b));
    add_str(cells, b);
    add_age(cells, pod, "metadata.creationTimestamp", now);
    add_str(cells, str_or(pod, "status.podIP", ST_PRINT_NONE));
    add_str(cells, str_or(pod, "spec.nodeName", ST_PRINT_NONE));
    add_str(cells, str_or(pod, "status.nominatedNodeName", ST_PRINT_NONE));
    readiness_gates(pod, b, sizeof(b));
    add_str(cells, b);
}

static void deployment_row(json_t *dep, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    add_str(cells, str_or(dep, "metadata.name", ""));
    snprintf(b, sizeof(b), "%lld/%lld", st_json_int_at(dep, "status.readyReplicas", 0),
             st_json_int_at(dep, "spec.replicas", 1));
    add_str(cells, b);
    add_int(cells, st_json_int_at(dep, "status.updatedReplicas", 0));
    add_int(cells, st_json_int_at(dep, "status.availableReplicas", 0));
    add_age(cells, dep, "metadata.creationTimestamp", now);
    st_print_containers_text(st_json_at(dep, "spec.template.spec"), "name", b, sizeof(b));
    add_str(cells, b);
    st_print_containers_text(st_json_at(dep, "spec.template.spec"), "image", b, sizeof(b));
    add_str(cells, b);
    st_print_map_text(st_json_at(dep, "spec.selector.matchLabels"), b, sizeof(b));
    add_str(cells, b);
}

static void service_row(json_t *svc, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    add_str(cells, str_or(svc, "metadata.name", ""));
    add_str(cells, str_or(svc, "spec.type", "ClusterIP"));
    add_str(cells, str_or(svc, "spec.clusterIP", ST_PRINT_NONE));
    /* The apiserver sends the whole list; kubectl has no width to keep. */
    st_print_service_external_ip(svc, true, b, sizeof(b));
    add_str(cells, b);
    st_print_service_ports(svc, b, sizeof(b));
    add_str(cells, b);
    add_age(cells, svc, "metadata.creationTimestamp", now);
    st_print_map_text(st_json_at(svc, "spec.selector"), b, sizeof(b));
    add_str(cells, b);
}

static void endpoints_row(json_t *ep, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    add_str(cells, str_or(ep, "metadata.name", ""));
    st_print_endpoints_text(ep, "addresses", NULL, b, sizeof(b));
    add_str(cells, b);
    add_age(cells, ep, "metadata.creationTimestamp", now);
}

/* ROLES: the X of each node-role.kubernetes.io/X label (and the value of
 * kubernetes.io/role), sorted; <none> without any. */
static void node_roles(json_t *node, char *buf, size_t len)
{
    static const char prefix[] = "node-role.kubernetes.io/";
    json_t *labels = st_json_at(node, "metadata.labels");
    size_t n;
    _cleanup_free_ const char **keys = st_print_sorted_keys(labels, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *role = NULL;
        if (strncmp(keys[i], prefix, sizeof(prefix) - 1) == 0)
            role = keys[i] + sizeof(prefix) - 1;
        else if (strcmp(keys[i], "kubernetes.io/role") == 0)
            role = json_string_value(json_object_get(labels, keys[i]));
        if (role && *role)
            st_print_appendf(buf, len, "%s%s", buf[0] ? "," : "", role);
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", ST_PRINT_NONE);
}

/* The first status.addresses entry of that type, or <none>. */
static const char *node_address(json_t *node, const char *type)
{
    size_t i;
    json_t *a;
    json_array_foreach(st_json_at(node, "status.addresses"), i, a)
    {
        if (strcmp(str_or(a, "type", ""), type) == 0)
            return str_or(a, "address", ST_PRINT_NONE);
    }
    return ST_PRINT_NONE;
}

static void node_row(json_t *node, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    add_str(cells, str_or(node, "metadata.name", ""));
    st_print_node_status(node, b, sizeof(b));
    add_str(cells, b);
    node_roles(node, b, sizeof(b));
    add_str(cells, b);
    add_age(cells, node, "metadata.creationTimestamp", now);
    add_str(cells, str_or(node, "status.nodeInfo.kubeletVersion", ""));
    add_str(cells, node_address(node, "InternalIP"));
    add_str(cells, node_address(node, "ExternalIP"));
    add_str(cells, str_or(node, "status.nodeInfo.osImage", "<unknown>"));
    add_str(cells, str_or(node, "status.nodeInfo.kernelVersion", "<unknown>"));
    add_str(cells, str_or(node, "status.nodeInfo.containerRuntimeVersion", "<unknown>"));
    const char *host = st_node_host(node);
    add_str(cells, host ? host : ST_PRINT_NONE);
}

static void secret_row(json_t *secret, time_t now, json_t *cells)
{
    add_str(cells, str_or(secret, "metadata.name", ""));
    add_str(cells, str_or(secret, "type", "Opaque"));
    add_int(cells, (long long)json_object_size(st_json_at(secret, "data")));
    add_age(cells, secret, "metadata.creationTimestamp", now);
}

static void event_row(json_t *ev, time_t now, json_t *cells)
{
    char b[CELL_MAX];
    /* The last time alone: Count and First Seen have their own columns. */
    st_print_age(st_print_event_last_time(ev), now, b, sizeof(b));
    add_str(cells, b);
    add_str(cells, str_or(ev, "type", "Normal"));
    add_str(cells, str_or(ev, "reason", ""));
    st_print_event_object(ev, b, sizeof(b));
    add_str(cells, b);
    add_str(cells, str_or(ev, "involvedObject.fieldPath", ""));
    /* "component, host" as the apiserver prints a source. */
    snprintf(b, sizeof(b), "%s",
             str_or(ev, "source.component", str_or(ev, "reportingComponent", "")));
    if (str_or(ev, "source.host", NULL))
        st_print_appendf(b, sizeof(b), ", %s", str_or(ev, "source.host", ""));
    add_str(cells, b);
    add_str(cells, str_or(ev, "message", ""));
    const char *first = str_or(ev, "firstTimestamp", str_or(ev, "eventTime", NULL));
    first = first ? first : str_or(ev, "metadata.creationTimestamp", NULL);
    st_print_age(first, now, b, sizeof(b));
    add_str(cells, b);
    json_t *count = json_object_get(ev, "count");
    add_int(cells, json_is_integer(count) ? (long long)json_integer_value(count) : 1);
    add_str(cells, str_or(ev, "metadata.name", ""));
}

static void namespace_row(json_t *ns, time_t now, json_t *cells)
{
    add_str(cells, str_or(ns, "metadata.name", ""));
    add_str(cells, str_or(ns, "status.phase", "Active"));
    add_age(cells, ns, "metadata.creationTimestamp", now);
}

static void lease_row(json_t *lease, time_t now, json_t *cells)
{
    add_str(cells, str_or(lease, "metadata.name", ""));
    add_str(cells, str_or(lease, "spec.holderIdentity", ""));
    add_age(cells, lease, "metadata.creationTimestamp", now);
}

static void default_row(json_t *obj, time_t now, json_t *cells)
{
    add_str(cells, str_or(obj, "metadata.name", str_or(obj, "name", "")));
    add_age(cells, obj, "metadata.creationTimestamp", now);
}

#define KIND(k, cols, row)                                                                         \
    {                                                                                              \
        k, cols, sizeof(cols) / sizeof(cols[0]), row                                               \
    }

static const struct kind_table {
    const char *kind;
    const struct column *cols;
    size_t ncols;
    void (*row)(json_t *obj, time_t now, json_t *cells);
} kinds[] = {
    KIND("Pod", pod_cols, pod_row),
    KIND("Deployment", deployment_cols, deployment_row),
    KIND("Service", service_cols, service_row),
    KIND("Endpoints", endpoints_cols, endpoints_row),
    KIND("Node", node_cols, node_row),
    KIND("Secret", secret_cols, secret_row),
    KIND("Event", event_cols, event_row),
    KIND("Namespace", namespace_cols, namespace_row),
    KIND("Lease", lease_cols, lease_row),
};

static const struct kind_table default_kind = KIND(NULL, default_cols, default_row);

/* ---- the Table ---------------------------------------------------------- */

/* What a row carries beside its cells. */
static json_t *row_object(json_t *obj, enum st_api_table_object include)
{
    switch (include) {
    case ST_API_TABLE_OBJECT:
        return json_incref(obj);
    case ST_API_TABLE_NONE:
        return NULL;
    case ST_API_TABLE_METADATA:
        break;
    }
    json_t *md = json_object_get(obj, "metadata");
    return json_pack("{s:s, s:s, s:o}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata", md ? json_incref(md) : json_object());
}

json_t *st_api_table(const char *kind, json_t *items, const char *rv,
                     enum st_api_table_object include, time_t now)
{
    const struct kind_table *k = &default_kind;
    for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            k = &kinds[i];
    _cleanup_json_ json_t *cols = json_array();
    _cleanup_json_ json_t *rows = json_array();
    if (cols == NULL || rows == NULL)
        return NULL;
    for (size_t i = 0; i < k->ncols; i++)
        json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", k->cols[i].name,
                                              "type", k->cols[i].type, "format", k->cols[i].format,
                                              "description", k->cols[i].description, "priority",
                                              k->cols[i].priority));
    size_t i;
    json_t *obj;
    json_array_foreach(items, i, obj)
    {
        json_t *cells = json_array();
        k->row(obj, now, cells);
        json_t *row = json_pack("{s:o}", "cells", cells);
        json_t *o = row_object(obj, include);
        if (o)
            json_object_set_new(row, "object", o);
        json_array_append_new(rows, row);
    }
    json_t *md = json_object();
    if (rv)
        json_object_set_new(md, "resourceVersion", json_string(rv));
    return json_pack("{s:s, s:s, s:o, s:O, s:O}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                     "metadata", md, "columnDefinitions", cols, "rows", rows);
}
