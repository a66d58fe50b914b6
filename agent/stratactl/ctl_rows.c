/* ctl_rows.c: one table row per object, with stratactl's columns for each
 * kind (the cells kubectl computes, a pod's STATUS or a Service's PORT(S),
 * are strata/printers.h's) and a node's STATUS with Strata's provisioning
 * phase; plus the NAMESPACE, LABELS and kind/name forms of `get -A`,
 * `--show-labels` and several kinds at once. */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/cleanup.h"
#include "strata/time.h"

const char *stctl_fmt_node_phase(json_t *node)
{
    const char *p = ctlfmt_str_at(node, "status.strata.phase");
    return p ? p : ctlfmt_str_at(node, "status.phase");
}

void stctl_fmt_node_status(json_t *node, char *buf, size_t len)
{
    /* Strata's addition to Kubernetes' rule: while a node is not Ready, its
     * provisioning phase says more than NotReady. */
    const char *ready = ctlfmt_str_at(st_print_condition(node, "Ready"), "status");
    const char *phase = stctl_fmt_node_phase(node);
    if (!(ready && strcmp(ready, "True") == 0) && phase && strcmp(phase, "Ready") != 0 &&
        strcmp(phase, "Running") != 0)
        snprintf(buf, len, "%s", phase);
    else
        st_print_node_status(node, buf, len);
}

/* The last reason a container stopped for, else the pod's reason. */
static const char *pod_last_reason(json_t *pod)
{
    size_t i;
    json_t *cs;
    json_array_foreach(ctlfmt_at(pod, "status.containerStatuses"), i, cs)
    {
        const char *r = ctlfmt_str_at(cs, "lastState.terminated.reason");
        if (r == NULL)
            r = ctlfmt_str_at(cs, "state.terminated.reason");
        if (r)
            return r;
    }
    return ctlfmt_str_or(pod, "status.reason", NONE);
}

/* ---- rows ----------------------------------------------------------------- */

#define MAX_COLS 10

static const char *const node_cols[] = {"NAME", "STATUS", "ACCEL",          "CPU", "MEMORY", "BOOT",
                                        "AGE",  "DOMAIN", "KERNEL-VERSION", "HOST"};
static const char *const pod_cols[] = {"NAME", "READY", "STATUS", "RESTARTS",
                                       "AGE",  "IP",    "NODE",   "REASON"};
static const char *const deploy_cols[] = {"NAME", "READY",      "UP-TO-DATE", "AVAILABLE",
                                          "AGE",  "CONTAINERS", "IMAGES",     "SELECTOR"};
static const char *const secret_cols[] = {"NAME", "TYPE", "DATA", "AGE"};
static const char *const event_cols[] = {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"};
static const char *const image_cols[] = {"NAME", "TAG", "DIGEST", "SIZE", "CREATED"};
static const char *const service_cols[] = {"NAME",    "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
                                           "PORT(S)", "AGE",  "SELECTOR"};
static const char *const endpoints_cols[] = {"NAME", "ENDPOINTS", "AGE"};
static const char *const namespace_cols[] = {"NAME", "STATUS", "AGE"};
static const char *const lease_cols[] = {"NAME", "HOLDER", "AGE"};

static void kind_columns(enum stctl_fmt_kind_id id, bool wide, const char *const **cols, size_t *n)
{
    switch (id) {
    case STCTL_FMT_NODE:
        *cols = node_cols, *n = wide ? 10 : 7;
        break;
    case STCTL_FMT_POD:
        *cols = pod_cols, *n = wide ? 8 : 5;
        break;
    case STCTL_FMT_DEPLOYMENT:
        *cols = deploy_cols, *n = wide ? 8 : 5;
        break;
    case STCTL_FMT_SECRET:
        *cols = secret_cols, *n = 4;
        break;
    case STCTL_FMT_EVENT:
        *cols = event_cols, *n = 5;
        break;
    case STCTL_FMT_IMAGE:
        *cols = image_cols, *n = 5;
        break;
    case STCTL_FMT_SERVICE:
        *cols = service_cols, *n = wide ? 7 : 6;
        break;
    case STCTL_FMT_ENDPOINTS:
        *cols = endpoints_cols, *n = 3;
        break;
    case STCTL_FMT_NAMESPACE:
        *cols = namespace_cols, *n = 3;
        break;
    case STCTL_FMT_LEASE:
        *cols = lease_cols, *n = 3;
        break;
    }
}

int stctl_fmt_table_for_kind(const struct stctl_fmt_kind *k, const struct stctl_fmt_columns *cols,
                             stctl_fmt_table **out, st_error *err)
{
    static const struct stctl_fmt_columns defaults = {0};
    if (cols == NULL)
        cols = &defaults;
    const char *const *kc = NULL;
    size_t n = 0;
    kind_columns(k->id, cols->wide, &kc, &n);
    const char *headers[MAX_COLS + 3];
    size_t h = 0;
    if (cols->namespace && k->namespaced)
        headers[h++] = "NAMESPACE";
    for (size_t i = 0; i < n; i++)
        headers[h++] = kc[i];
    if (cols->show_labels)
        headers[h++] = "LABELS";
    int r = stctl_fmt_table_new(h, headers, out, err);
    if (r == 0) {
        (*out)->kind = k;
        (*out)->cols = *cols;
        (*out)->cols.namespace = cols->namespace && k->namespaced;
    }
    return r;
}

int stctl_fmt_table_add_object(stctl_fmt_table *t, json_t *obj, time_t now, st_error *err)
{
    if (t->kind == NULL)
        return st_error_set(err, EINVAL, "the table was not made for a kind of object");
    char b[MAX_COLS + 1][256];
    const char *cell[MAX_COLS + 1] = {0};
    const char *created = ctlfmt_str_at(obj, "metadata.creationTimestamp");
    cell[0] = ctlfmt_obj_name(obj);
    switch (t->kind->id) {
    case STCTL_FMT_NODE:
        stctl_fmt_node_status(obj, b[1], sizeof(b[1]));
        cell[1] = b[1];
        cell[2] = ctlfmt_str_or(obj, "status.strata.accel", NONE);
        cell[3] =
            ctlfmt_scalar_text(ctlfmt_at(obj, "status.capacity.cpu"), b[3], sizeof(b[3]), NONE);
        ctlfmt_memory_text(ctlfmt_at(obj, "status.capacity.memory"), b[4], sizeof(b[4]));
        cell[4] = b[4];
        ctlfmt_millis_text(st_json_int_at(obj, "status.strata.bootMillis", 0), b[5], sizeof(b[5]));
        cell[5] = b[5];
        st_print_age(created, now, b[6], sizeof(b[6]));
        cell[6] = b[6];
        cell[7] = ctlfmt_str_or(obj, "status.strata.domain", NONE);
        cell[8] = ctlfmt_str_or(obj, "status.nodeInfo.kernelVersion", NONE);
        cell[9] =
            json_string_value(json_object_get(ctlfmt_at(obj, "metadata.labels"), "strata.io/host"));
        if (cell[9] == NULL)
            cell[9] = NONE;
        break;
    case STCTL_FMT_POD:
        st_print_pod_ready(obj, b[1], sizeof(b[1]));
        cell[1] = b[1];
        st_print_pod_status(obj, b[2], sizeof(b[2]));
        cell[2] = b[2];
        st_print_pod_restarts(obj, now, b[3], sizeof(b[3]));
        cell[3] = b[3];
        st_print_age(created, now, b[4], sizeof(b[4]));
        cell[4] = b[4];
        cell[5] = ctlfmt_str_or(obj, "status.podIP", NONE);
        cell[6] = ctlfmt_str_or(obj, "spec.nodeName", NONE);
        cell[7] = pod_last_reason(obj);
        break;
    case STCTL_FMT_DEPLOYMENT:
        snprintf(b[1], sizeof(b[1]), "%lld/%lld", st_json_int_at(obj, "status.readyReplicas", 0),
                 st_json_int_at(obj, "spec.replicas", 1));
        cell[1] = b[1];
        snprintf(b[2], sizeof(b[2]), "%lld", st_json_int_at(obj, "status.updatedReplicas", 0));
        cell[2] = b[2];
        snprintf(b[3], sizeof(b[3]), "%lld", st_json_int_at(obj, "status.availableReplicas", 0));
        cell[3] = b[3];
        st_print_age(created, now, b[4], sizeof(b[4]));
        cell[4] = b[4];
        st_print_containers_text(ctlfmt_at(obj, "spec.template.spec"), "name", b[5], sizeof(b[5]));
        cell[5] = b[5];
        st_print_containers_text(ctlfmt_at(obj, "spec.template.spec"), "image", b[6], sizeof(b[6]));
        cell[6] = b[6];
        st_print_map_text(ctlfmt_at(obj, "spec.selector.matchLabels"), b[7], sizeof(b[7]));
        cell[7] = b[7];
        break;
    case STCTL_FMT_SECRET:
        cell[1] = ctlfmt_str_or(obj, "type", "Opaque");
        snprintf(b[2], sizeof(b[2]), "%zu", json_object_size(ctlfmt_at(obj, "data")));
        cell[2] = b[2];
        st_print_age(created, now, b[3], sizeof(b[3]));
        cell[3] = b[3];
        break;
    case STCTL_FMT_EVENT:
        st_print_event_seen(obj, now, b[0], sizeof(b[0]));
        cell[0] = b[0];
        cell[1] = ctlfmt_str_or(obj, "type", "Normal");
        cell[2] = ctlfmt_str_or(obj, "reason", "");
        st_print_event_object(obj, b[3], sizeof(b[3]));
        cell[3] = b[3];
        cell[4] = ctlfmt_str_or(obj, "message", "");
        break;
    case STCTL_FMT_IMAGE: {
        /* as `docker images`: the digest's first 12 hex digits */
        const char *digest = ctlfmt_str_or(obj, "digest", "");
        const char *hex = strchr(digest, ':');
        cell[1] = ctlfmt_str_or(obj, "tag", NONE);
        snprintf(b[2], sizeof(b[2]), "%.12s", hex ? hex + 1 : NONE);
        cell[2] = b[2];
        stctl_fmt_size(st_json_int_at(obj, "size", 0), b[3], sizeof(b[3]));
        cell[3] = b[3];
        const char *created = ctlfmt_str_at(obj, "created");
        if (created && *created)
            st_print_age(created, now, b[4], sizeof(b[4]));
        else
            snprintf(b[4], sizeof(b[4]), "%s", NONE);
        cell[4] = b[4];
        break;
    }
    case STCTL_FMT_SERVICE:
        cell[1] = ctlfmt_str_or(obj, "spec.type", "ClusterIP");
        cell[2] = ctlfmt_str_or(obj, "spec.clusterIP", NONE);
        st_print_service_external_ip(obj, t->cols.wide, b[3], sizeof(b[3]));
        cell[3] = b[3];
        st_print_service_ports(obj, b[4], sizeof(b[4]));
        cell[4] = b[4];
        st_print_age(created, now, b[5], sizeof(b[5]));
        cell[5] = b[5];
        st_print_map_text(ctlfmt_at(obj, "spec.selector"), b[6], sizeof(b[6]));
        cell[6] = b[6];
        break;
    case STCTL_FMT_ENDPOINTS:
        st_print_endpoints_text(obj, "addresses", NULL, b[1], sizeof(b[1]));
        cell[1] = b[1];
        st_print_age(created, now, b[2], sizeof(b[2]));
        cell[2] = b[2];
        break;
    case STCTL_FMT_NAMESPACE:
        cell[1] = ctlfmt_str_or(obj, "status.phase", "Active");
        st_print_age(created, now, b[2], sizeof(b[2]));
        cell[2] = b[2];
        break;
    case STCTL_FMT_LEASE:
        /* as kubectl: empty when nobody holds it */
        cell[1] = ctlfmt_str_or(obj, "spec.holderIdentity", "");
        st_print_age(created, now, b[2], sizeof(b[2]));
        cell[2] = b[2];
        break;
    }
    /* kubectl's additions around the kind's own columns. */
    char name[320], labels[1024];
    if (t->cols.kind_prefix && t->kind->id != STCTL_FMT_EVENT) {
        snprintf(name, sizeof(name), "%s/%s", t->kind->ref, cell[0]);
        cell[0] = name;
    }
    const char *row[MAX_COLS + 3];
    size_t n = 0;
    if (t->cols.namespace)
        row[n++] = ctlfmt_str_or(obj, "metadata.namespace", "");
    for (size_t i = 0; n < t->ncols && i <= MAX_COLS; i++)
        row[n++] = cell[i];
    if (t->cols.show_labels) {
        st_print_map_text(ctlfmt_at(obj, "metadata.labels"), labels, sizeof(labels));
        row[t->ncols - 1] = labels;
    }
    return stctl_fmt_table_add(t, row, err);
}
