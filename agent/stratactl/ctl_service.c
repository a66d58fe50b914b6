/* ctl_service.c: `describe service` with the endpoints of each port
 * (Strata adds the not-ready ones, so a person sees why a Service sends
 * nowhere) and `describe endpoints`. The cells of `get services|endpoints`
 * (EXTERNAL-IP, PORT(S), ENDPOINTS with its "+ N more...") are
 * strata/printers.h's, so get, describe and stratad's Tables never
 * disagree. */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* kubectl's loadBalancerWidth: the EXTERNAL-IP cell without -o wide. */
#define LB_WIDTH 16
/* kubectl's formatEndpoints shows this many addresses, then "+ N more...". */
#define EP_SHOWN 3

/* ---- cells ---------------------------------------------------------------- */

/* ---- describe ------------------------------------------------------------- */

/* The width of describe service's first column: kubectl's tabwriter makes
 * it the longest key shown plus two, so it depends on what is shown. */
static int service_key_width(json_t *svc, json_t *ep)
{
    int w = (int)strlen("Session Affinity:");
    if (json_array_size(ctlfmt_at(svc, "status.loadBalancer.ingress")) > 0)
        w = (int)strlen("LoadBalancer Ingress:");
    size_t i;
    json_t *s;
    json_array_foreach(ctlfmt_at(ep, "subsets"), i, s)
    {
        if (json_array_size(json_object_get(s, "notReadyAddresses")) > 0 &&
            w < (int)strlen("NotReadyEndpoints:"))
            w = (int)strlen("NotReadyEndpoints:");
    }
    return w + 2;
}

/* Port, TargetPort, NodePort and the endpoints of one Service port. */
static void service_port(FILE *out, int w, json_t *p, json_t *ep)
{
    const char *name = ctlfmt_str_or(p, "name", "<unset>");
    const char *proto = ctlfmt_str_or(p, "protocol", "TCP");
    char buf[1024];
    ctlfmt_field(out, 0, w, "Port", "%s  %lld/%s", name, st_json_int_at(p, "port", 0), proto);
    json_t *target = json_object_get(p, "targetPort");
    ctlfmt_field(
        out, 0, w, "TargetPort", "%s/%s",
        ctlfmt_scalar_text(target ? target : json_object_get(p, "port"), buf, sizeof(buf), "?"),
        proto);
    if (st_json_int_at(p, "nodePort", 0) > 0)
        ctlfmt_field(out, 0, w, "NodePort", "%s  %lld/%s", name, st_json_int_at(p, "nodePort", 0),
                     proto);
    const char *key = ctlfmt_str_or(p, "name", "");
    st_print_endpoints_text(ep, "addresses", key, buf, sizeof(buf));
    ctlfmt_field(out, 0, w, "Endpoints", "%s", buf);
    st_print_endpoints_text(ep, "notReadyAddresses", key, buf, sizeof(buf));
    if (strcmp(buf, NONE) != 0)
        ctlfmt_field(out, 0, w, "NotReadyEndpoints", "%s", buf);
}

int ctlfmt_describe_service(FILE *out, json_t *svc, const struct stctl_fmt_related *rel, time_t now,
                            st_error *err)
{
    json_t *ep = rel ? rel->endpoints : NULL;
    const int w = service_key_width(svc, ep);
    char buf[1024];
    ctlfmt_field(out, 0, w, "Name", "%s", ctlfmt_obj_name(svc));
    ctlfmt_field(out, 0, w, "Namespace", "%s", ctlfmt_str_or(svc, "metadata.namespace", "default"));
    ctlfmt_field_map(out, 0, w, "Labels", ctlfmt_at(svc, "metadata.labels"));
    ctlfmt_field_map(out, 0, w, "Annotations", ctlfmt_at(svc, "metadata.annotations"));
    st_print_map_text(ctlfmt_at(svc, "spec.selector"), buf, sizeof(buf));
    ctlfmt_field(out, 0, w, "Selector", "%s", buf);
    ctlfmt_field(out, 0, w, "Type", "%s", ctlfmt_str_or(svc, "spec.type", "ClusterIP"));
    ctlfmt_field(out, 0, w, "IP", "%s", ctlfmt_str_or(svc, "spec.clusterIP", NONE));
    buf[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(ctlfmt_at(svc, "spec.clusterIPs"), i, v)
    {
        st_print_appendf(buf, sizeof(buf), "%s%s", i ? "," : "", json_string_value(v));
    }
    ctlfmt_field(out, 0, w, "IPs", "%s", buf[0] ? buf : NONE);
    if (json_array_size(ctlfmt_at(svc, "spec.externalIPs")) > 0) {
        st_print_service_external_ip(svc, true, buf, sizeof(buf));
        ctlfmt_field(out, 0, w, "External IPs", "%s", buf);
    }
    st_print_ingress_text(svc, ", ", buf, sizeof(buf));
    if (buf[0])
        ctlfmt_field(out, 0, w, "LoadBalancer Ingress", "%s", buf);
    json_array_foreach(ctlfmt_at(svc, "spec.ports"), i, v) service_port(out, w, v, ep);
    ctlfmt_field(out, 0, w, "Session Affinity", "%s",
                 ctlfmt_str_or(svc, "spec.sessionAffinity", "None"));
    int r = 0;
    /* Strata's own: why the proxy cannot serve it (Listening, Allocated). */
    if (json_array_size(ctlfmt_at(svc, "status.conditions")) > 0)
        r = ctlfmt_conditions(out, svc, now, true, err);
    return r < 0 ? r : ctlfmt_events_section(out, rel ? rel->events : NULL, now, err);
}

/* The ip of each address of a subset's list, comma-joined, or <none>. */
static void subset_ips(json_t *subset, const char *list, char *buf, size_t len)
{
    size_t i;
    json_t *a;
    buf[0] = '\0';
    json_array_foreach(json_object_get(subset, list), i, a)
    {
        st_print_appendf(buf, len, "%s%s", i ? "," : "", ctlfmt_str_or(a, "ip", ""));
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", NONE);
}

int ctlfmt_describe_endpoints(FILE *out, json_t *ep, json_t *events, time_t now, st_error *err)
{
    const int w = 14;
    char buf[4096];
    ctlfmt_field(out, 0, w, "Name", "%s", ctlfmt_obj_name(ep));
    ctlfmt_field(out, 0, w, "Namespace", "%s", ctlfmt_str_or(ep, "metadata.namespace", "default"));
    ctlfmt_field_map(out, 0, w, "Labels", ctlfmt_at(ep, "metadata.labels"));
    ctlfmt_field_map(out, 0, w, "Annotations", ctlfmt_at(ep, "metadata.annotations"));
    fprintf(out, "Subsets:\n");
    size_t i;
    json_t *s;
    int r = 0;
    json_array_foreach(ctlfmt_at(ep, "subsets"), i, s)
    {
        subset_ips(s, "addresses", buf, sizeof(buf));
        ctlfmt_field(out, 2, 20, "Addresses", "%s", buf);
        subset_ips(s, "notReadyAddresses", buf, sizeof(buf));
        ctlfmt_field(out, 2, 20, "NotReadyAddresses", "%s", buf);
        json_t *ports = json_object_get(s, "ports");
        if (r == 0 && json_array_size(ports) > 0) {
            static const char *const cols[] = {"Name", "Port", "Protocol"};
            stctl_fmt_table *t = NULL;
            if ((r = ctlfmt_ruled_table(3, cols, NULL, &t, err)) < 0)
                break;
            stctl_fmt_table_set_indent(t, 4);
            size_t j;
            json_t *p;
            json_array_foreach(ports, j, p)
            {
                char num[32];
                snprintf(num, sizeof(num), "%lld", st_json_int_at(p, "port", 0));
                const char *cells[] = {ctlfmt_str_or(p, "name", "<unset>"), num,
                                       ctlfmt_str_or(p, "protocol", "TCP")};
                if (r == 0)
                    r = stctl_fmt_table_add(t, cells, err);
            }
            fprintf(out, "  Ports:\n");
            r = ctlfmt_table_done(out, t, r, err);
        }
        fputc('\n', out);
    }
    return r < 0 ? r : ctlfmt_events_section(out, events, now, err);
}
