/* node_report.c: a node's pod_status message, read with the node
 * protocol's own parser and handed to the node controller as a typed
 * report (see node_report.h). The only place the two vocabularies meet. */
#include "strata/node_report.h"
#include "strata/node_proto.h"

int st_server_pod_report_parse(json_t *msg, st_control_pod_report *rep, st_error *err)
{
    struct st_proto_pod_status ps;
    int r = st_proto_pod_status_parse(msg, &ps, err);
    if (r < 0)
        return r;
    *rep = (st_control_pod_report){
        .pod = ps.pod,
        .uid = ps.uid,
        /* strata-node echoes the namespace stratad sent with pod_run. */
        .ns = json_string_value(json_object_get(msg, "namespace")),
        .phase = ps.phase,
        .ready = ps.ready,
        .restarts = ps.restart_count,
        .has_exit_code = ps.has_exit_code,
        .exit_code = ps.exit_code,
        .reason = ps.reason,
        .message = ps.message,
        .removed = ps.removed,
        .containers = ps.containers,
        /* Absent while the pod has no address on the node's pod network. */
        .pod_ip = json_string_value(json_object_get(msg, "podIP")),
    };
    return 0;
}

int st_server_pod_report_apply(st_store *s, const char *node, json_t *msg, st_error *err)
{
    st_control_pod_report rep;
    int r = st_server_pod_report_parse(msg, &rep, err);
    if (r < 0)
        return r;
    return st_control_pod_status(s, node, &rep, err);
}
