/* node_report.h: where a node's word about its pods enters the control
 * plane. The node protocol's pod_status message (what strata-node sends,
 * runtime/node_proto.c reads) becomes a typed st_control_pod_report here, so
 * the controllers never see the wire format. It decides nothing: the node
 * controller (st_control_pod_status) does. */
#ifndef STRATA_NODE_REPORT_H
#define STRATA_NODE_REPORT_H

#include <jansson.h>

#include "strata/controller.h"
#include "strata/error.h"
#include "strata/store.h"

/* Reads a pod_status message (with its optional "namespace") into *rep,
 * whose strings and containers are borrowed from msg. A malformed message:
 * -EPROTO, naming the field. */
int st_server_pod_report_parse(json_t *msg, st_control_pod_report *rep, st_error *err);

/* Parses msg and applies it (st_control_pod_status): 1 when a pod was
 * updated, 0 when the store no longer has the pod the node reports,
 * negative on a malformed message or a store error. */
int st_server_pod_report_apply(st_store *s, const char *node, json_t *msg, st_error *err);

#endif
