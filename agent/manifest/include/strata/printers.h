/* printers.h: the cells kubectl shows for Kubernetes objects, computed by
 * the rules kubectl and the apiserver's printers use: ages ("5s", "2m10s",
 * "4d"), a pod's READY and STATUS (CrashLoopBackOff, Terminating, ...) and
 * RESTARTS, a node's STATUS, a Service's EXTERNAL-IP and PORT(S), an
 * Endpoints' addresses. stratactl's tables and stratad's server-side Tables
 * (Accept: ...;as=Table) both read them from here, so `stratactl get` and
 * `kubectl get` never disagree. Pure functions over JSON: each writes a
 * NUL-terminated cell into a fixed buffer, truncating quietly (cells are for
 * people). */
#ifndef STRATA_PRINTERS_H
#define STRATA_PRINTERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* What kubectl shows for a field that is not set. */
#define ST_PRINT_NONE "<none>"

/* ---- text ----------------------------------------------------------------- */

/* Appends to a fixed buffer, truncating quietly. */
void st_print_appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The keys of a JSON object, sorted (kubectl sorts labels and data keys);
 * malloc'd, *n set; NULL when there are none. */
const char **st_print_sorted_keys(json_t *obj, size_t *n);
/* "k=v,k2=v2" from a string map, sorted by key; "<none>" when empty. */
void st_print_map_text(json_t *map, char *buf, size_t len);

/* ---- time ----------------------------------------------------------------- */

/* kubectl's short durations: "0s".."119s", "2m5s", "45m", "3h20m", "15h",
 * "4d6h", "30d", "2y100d", "9y"; "<invalid>" for a time well in the future. */
void st_print_duration(long long seconds, char *buf, size_t len);
/* The age of an RFC 3339 timestamp at now; "<unknown>" when missing or bad. */
void st_print_age(const char *timestamp, time_t now, char *buf, size_t len);

/* ---- objects -------------------------------------------------------------- */

/* The status.conditions entry of that type, or NULL. */
json_t *st_print_condition(json_t *obj, const char *type);
/* A pod's READY: ready containers / containers ("1/2"). */
void st_print_pod_ready(json_t *pod, char *buf, size_t len);
/* A pod's STATUS, as kubectl computes it: the phase, unless a container is
 * waiting or terminated with a reason (ContainerCreating, CrashLoopBackOff,
 * ErrImagePull, Completed, Error, OOMKilled, ExitCode:1), or the pod is being
 * deleted (Terminating). */
void st_print_pod_status(json_t *pod, char *buf, size_t len);
/* A pod's RESTARTS: the sum, and how long ago the latest one ended at now
 * ("2 (5m ago)"). */
void st_print_pod_restarts(json_t *pod, time_t now, char *buf, size_t len);
/* A node's STATUS as Kubernetes has it: "Ready", "NotReady" or "Unknown"
 * from its Ready condition, then ",SchedulingDisabled" when cordoned. */
void st_print_node_status(json_t *node, char *buf, size_t len);
/* Names, or images (field "name" or "image"), of a pod spec's containers,
 * comma-separated; "<none>" when there is none. */
void st_print_containers_text(json_t *podspec, const char *field, char *buf, size_t len);
/* The ingress addresses (ip, else hostname) of a Service's
 * status.loadBalancer, joined by sep ("," in tables, ", " in describe). */
void st_print_ingress_text(json_t *svc, const char *sep, char *buf, size_t len);
/* EXTERNAL-IP of a Service: a LoadBalancer's ingress addresses
 * ("<pending>" while none; cut to 16 characters unless wide), else
 * spec.externalIPs or <none>. */
void st_print_service_external_ip(json_t *svc, bool wide, char *buf, size_t len);
/* PORT(S) of a Service: "80:31234/TCP,443/TCP" (the node port when there is
 * one); <none> when it has none. */
void st_print_service_ports(json_t *svc, char *buf, size_t len);
/* An Endpoints object's "ip:port" pairs from each subset's list
 * ("addresses" or "notReadyAddresses"), for the ports named port_name
 * ("" the unnamed one; NULL every port): at most three, then " + N
 * more...", as kubectl; <none> when there is none. */
void st_print_endpoints_text(json_t *ep, const char *list, const char *port_name, char *buf,
                             size_t len);
/* When an Event was last seen: lastTimestamp, else eventTime, else
 * firstTimestamp, else its creation; NULL when it has none. */
const char *st_print_event_last_time(json_t *ev);
/* An Event's LAST SEEN at now: "5s", or for a repeated one "5s (x3 over 10m)". */
void st_print_event_seen(json_t *ev, time_t now, char *buf, size_t len);
/* An Event's OBJECT: "pod/web-1", the kind in lower case. */
void st_print_event_object(json_t *ev, char *buf, size_t len);

#endif
