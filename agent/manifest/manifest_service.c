/* manifest_service.c: what Strata reads of v1 Service and v1 Endpoints
 * (the Kubernetes subset its proxy implements: TCP, ClusterIP, NodePort,
 * LoadBalancer; no headless or ExternalName Services), and the one rule
 * that spans documents: a Service's named targetPort must be declared by
 * the containers of the workloads it selects in the same file, or the
 * Service could never reach them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/label_selector.h"

/* ---- single fields ---- */

static void st_check_ipv4(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    struct in_addr a;
    if (inet_pton(AF_INET, json_string_value(value), &a) != 1)
        st_mctx_error(c, node, "%s: \"%s\" is not an IPv4 address such as 10.96.0.10",
                      st_mctx_path(c), json_string_value(value));
}

static void st_check_cluster_ip(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    if (strcmp(json_string_value(value), "None") == 0) {
        st_mctx_error(c, node,
                      "%s: headless Services (clusterIP None) are not supported by Strata: "
                      "remove clusterIP to get an address from the service CIDR",
                      st_mctx_path(c));
        return;
    }
    st_check_ipv4(c, node, value);
}

static void st_check_tcp_only(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *p = json_string_value(value);
    if (strcmp(p, "TCP") != 0)
        st_mctx_error(c, node,
                      "%s: %s is not supported by Strata: its Services carry only TCP; use TCP",
                      st_mctx_path(c), p);
}

static void st_check_service_type(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    if (strcmp(json_string_value(value), "ExternalName") == 0)
        st_mctx_error(c, node,
                      "%s: ExternalName Services are not supported by Strata: use a Service "
                      "without a selector and an Endpoints object with the addresses",
                      st_mctx_path(c));
}

/* ---- ports ---- */

/* Multi-port objects need a unique name per port (Kubernetes' rule: the
 * name is what Endpoints and environment variables key on). */
static void st_check_port_names(struct st_mctx *c, yaml_node_t *seq, json_t *ports)
{
    size_t n = json_array_size(ports);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(ports, i);
        yaml_node_t *item = st_mctx_item(c, seq, i);
        const char *name = json_string_value(json_object_get(p, "name"));
        if (n > 1 && (name == NULL || *name == '\0')) {
            st_mctx_error(c, item,
                          "%s.ports[%zu].name: required when there is more than one port; give "
                          "each port a name",
                          st_mctx_path(c), i);
            continue;
        }
        for (size_t j = 0; name && j < i; j++) {
            const char *other =
                json_string_value(json_object_get(json_array_get(ports, j), "name"));
            if (other && strcmp(other, name) == 0) {
                st_mctx_error(c, st_mctx_child(c, item, "name"),
                              "%s.ports[%zu].name: duplicate port name \"%s\"", st_mctx_path(c), i,
                              name);
                break;
            }
        }
    }
}

static void st_check_service_spec(struct st_mctx *c, yaml_node_t *node, json_t *spec)
{
    json_t *ports = json_object_get(spec, "ports");
    yaml_node_t *seq = st_mctx_child(c, node, "ports");
    st_check_port_names(c, seq, ports);
    const char *type = json_string_value(json_object_get(spec, "type"));
    bool node_ports = type && strcmp(type, "ClusterIP") != 0;
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        yaml_node_t *item = st_mctx_item(c, seq, i);
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        for (size_t j = 0; j < i; j++) {
            if (json_integer_value(json_object_get(json_array_get(ports, j), "port")) == port) {
                st_mctx_error(c, st_mctx_child(c, item, "port"),
                              "%s.ports[%zu].port: port %lld is already spec.ports[%zu]",
                              st_mctx_path(c), i, (long long)port, j);
                break;
            }
        }
        if (!node_ports && json_object_get(p, "nodePort"))
            st_mctx_error(c, st_mctx_child(c, item, "nodePort"),
                          "%s.ports[%zu].nodePort: only a NodePort or LoadBalancer Service has "
                          "node ports; remove it or set spec.type",
                          st_mctx_path(c), i);
        json_t *target = json_object_get(p, "targetPort");
        if (target == NULL) {
            json_object_set_new(p, "targetPort", json_integer(port));
        } else if (json_is_string(target)) {
            /* Checked against the selected workloads once the file is read. */
            int line, col;
            st_mctx_node_pos(st_mctx_child(c, item, "targetPort"), &line, &col);
            json_t *notes = st_mctx_doc_notes(c);
            json_t *named = json_object_get(notes, "targetPorts");
            if (named == NULL)
                json_object_set_new(notes, "targetPorts", named = json_array());
            json_array_append_new(named, json_pack("{s:I, s:O, s:i, s:i}", "index", (json_int_t)i,
                                                   "name", target, "line", line, "column", col));
        }
    }
    json_t *ip = json_object_get(spec, "clusterIP");
    json_t *ips = json_object_get(spec, "clusterIPs");
    if (ip && json_array_size(ips) > 0 && !json_equal(json_array_get(ips, 0), ip))
        st_mctx_error(c, st_mctx_child(c, node, "clusterIPs"),
                      "%s.clusterIPs: the first entry must be spec.clusterIP (%s)", st_mctx_path(c),
                      json_string_value(ip));
}

/* Kubernetes' Service names are DNS-1035 labels: they become environment
 * variable names, so they start with a letter. */
static void st_check_service(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (name && !(name[0] >= 'a' && name[0] <= 'z'))
        st_mctx_error(c, st_mctx_child(c, st_mctx_child(c, node, "metadata"), "name"),
                      "metadata.name: \"%s\": a Service name must start with a letter", name);
}

static void st_check_endpoint_subset(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    st_check_port_names(c, st_mctx_child(c, node, "ports"), json_object_get(obj, "ports"));
}

/* ---- the tables ---- */

#define ST_TCP_PORT .flags = ST_MF_REQUIRED | ST_MF_RANGE, .min = 1, .max = 65535

static const char *const st_protocols[] = {"TCP", "UDP", "SCTP", NULL};

static const struct st_mfield st_service_port_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .check = st_check_dns_label},
    {.name = "protocol",
     .type = ST_MT_STRING,
     .def = "\"TCP\"",
     .values = st_protocols,
     .check = st_check_tcp_only},
    {.name = "port", .type = ST_MT_INT, ST_TCP_PORT},
    {.name = "targetPort",
     .type = ST_MT_INT_OR_STRING,
     .flags = ST_MF_RANGE,
     .min = 1,
     .max = 65535,
     .check = st_check_port_name},
    {.name = "nodePort", .type = ST_MT_INT, .flags = ST_MF_RANGE, .min = 30000, .max = 32767},
    ST_IGNORED("appProtocol"),
    {0},
};
static const struct st_mschema st_service_port = {st_service_port_fields, NULL};

static const char *const st_service_types[] = {"ClusterIP", "NodePort", "LoadBalancer",
                                               "ExternalName", NULL};
static const struct st_mfield st_service_spec_fields[] = {
    {.name = "selector", .type = ST_MT_STRING_MAP, .check = st_check_labels},
    {.name = "type",
     .type = ST_MT_STRING,
     .def = "\"ClusterIP\"",
     .values = st_service_types,
     .check = st_check_service_type},
    {.name = "ports",
     .type = ST_MT_OBJECT_LIST,
     .flags = ST_MF_REQUIRED,
     .schema = &st_service_port},
    {.name = "clusterIP", .type = ST_MT_STRING, .check = st_check_cluster_ip},
    {.name = "clusterIPs", .type = ST_MT_STRING_LIST},
    ST_IGNORED("externalName"),
    ST_IGNORED("externalIPs"),
    ST_IGNORED("externalTrafficPolicy"),
    ST_IGNORED("internalTrafficPolicy"),
    ST_IGNORED("healthCheckNodePort"),
    ST_IGNORED("ipFamilies"),
    ST_IGNORED("ipFamilyPolicy"),
    ST_IGNORED("loadBalancerIP"),
    ST_IGNORED("loadBalancerClass"),
    ST_IGNORED("loadBalancerSourceRanges"),
    ST_IGNORED("allocateLoadBalancerNodePorts"),
    ST_IGNORED("publishNotReadyAddresses"),
    ST_IGNORED("sessionAffinity"),
    ST_IGNORED("sessionAffinityConfig"),
    ST_IGNORED("trafficDistribution"),
    {0},
};
static const struct st_mschema st_service_spec = {st_service_spec_fields, st_check_service_spec};

static const struct st_mfield st_service_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_meta},
    {.name = "spec", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_service_spec},
    ST_IGNORED("status"),
    {0},
};
const struct st_mschema st_service = {st_service_fields, st_check_service};

static const struct st_mfield st_object_ref_fields[] = {
    {.name = "kind", .type = ST_MT_STRING},
    {.name = "name", .type = ST_MT_STRING},
    {.name = "namespace", .type = ST_MT_STRING},
    {.name = "uid", .type = ST_MT_STRING},
    {.name = "apiVersion", .type = ST_MT_STRING},
    ST_IGNORED("resourceVersion"),
    ST_IGNORED("fieldPath"),
    {0},
};
static const struct st_mschema st_object_ref = {st_object_ref_fields, NULL};

static const struct st_mfield st_endpoint_address_fields[] = {
    {.name = "ip", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_ipv4},
    {.name = "nodeName", .type = ST_MT_STRING},
    {.name = "targetRef", .type = ST_MT_OBJECT, .schema = &st_object_ref},
    ST_IGNORED("hostname"),
    {0},
};
static const struct st_mschema st_endpoint_address = {st_endpoint_address_fields, NULL};

static const struct st_mfield st_endpoint_port_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .check = st_check_dns_label},
    {.name = "port", .type = ST_MT_INT, ST_TCP_PORT},
    {.name = "protocol",
     .type = ST_MT_STRING,
     .def = "\"TCP\"",
     .values = st_protocols,
     .check = st_check_tcp_only},
    ST_IGNORED("appProtocol"),
    {0},
};
static const struct st_mschema st_endpoint_port = {st_endpoint_port_fields, NULL};

static const struct st_mfield st_endpoint_subset_fields[] = {
    {.name = "addresses", .type = ST_MT_OBJECT_LIST, .schema = &st_endpoint_address},
    {.name = "notReadyAddresses", .type = ST_MT_OBJECT_LIST, .schema = &st_endpoint_address},
    {.name = "ports", .type = ST_MT_OBJECT_LIST, .schema = &st_endpoint_port},
    {0},
};
static const struct st_mschema st_endpoint_subset = {st_endpoint_subset_fields,
                                                     st_check_endpoint_subset};

static const struct st_mfield st_endpoints_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_meta},
    {.name = "subsets", .type = ST_MT_OBJECT_LIST, .schema = &st_endpoint_subset},
    {0},
};
const struct st_mschema st_endpoints = {st_endpoints_fields, NULL};

/* ---- across documents ---- */

static const char *st_str_at(json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b));
}

/* The pod template a workload runs (a Pod is its own), NULL for others. */
static json_t *st_workload_pod(json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, "Pod") == 0)
        return obj;
    if (kind && strcmp(kind, "Deployment") == 0)
        return json_object_get(json_object_get(obj, "spec"), "template");
    return NULL;
}

static bool st_pod_declares_port(json_t *pod, const char *name)
{
    size_t i, j;
    json_t *ctr, *port;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, ctr)
    {
        json_array_foreach(json_object_get(ctr, "ports"), j, port)
        {
            const char *n = json_string_value(json_object_get(port, "name"));
            if (n && strcmp(n, name) == 0)
                return true;
        }
    }
    return false;
}

static void st_check_target_ports(struct st_mctx *c, json_t *svc, json_t *named, json_t *objects)
{
    json_t *selector = json_object_get(json_object_get(svc, "spec"), "selector");
    const char *ns = st_str_at(svc, "metadata", "namespace");
    if (json_object_size(selector) == 0)
        return;
    size_t i, j;
    json_t *obj, *note;
    json_array_foreach(objects, i, obj)
    {
        json_t *pod = st_workload_pod(obj);
        const char *ons = st_str_at(obj, "metadata", "namespace");
        if (pod == NULL || !ns || !ons || strcmp(ns, ons) != 0 ||
            !st_label_map_matches(selector,
                                  json_object_get(json_object_get(pod, "metadata"), "labels")))
            continue;
        json_array_foreach(named, j, note)
        {
            const char *name = json_string_value(json_object_get(note, "name"));
            if (st_pod_declares_port(pod, name))
                continue;
            st_mctx_error_line(
                c, (int)json_integer_value(json_object_get(note, "line")),
                (int)json_integer_value(json_object_get(note, "column")),
                "spec.ports[%lld].targetPort: no container of %s %s (selected by Service %s) "
                "declares a port named \"%s\": add it to the container's ports or give the "
                "port number",
                (long long)json_integer_value(json_object_get(note, "index")),
                json_string_value(json_object_get(obj, "kind")), st_str_at(obj, "metadata", "name"),
                st_str_at(svc, "metadata", "name"), name);
        }
    }
}

void st_manifest_check_across(struct st_mctx *c, json_t *objects, json_t *notes)
{
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        json_t *named = json_object_get(json_array_get(notes, i), "targetPorts");
        if (named)
            st_check_target_ports(c, obj, named, objects);
    }
}
