/* ctl_format.h: what stratactl shows, as pure functions over Kubernetes-shaped
 * JSON: resource-name aliases, kubectl-style ages ("5s", "3m", "2h", "4d"),
 * objects turned into aligned table rows, and `describe` views. It never
 * talks HTTP, never reads the store, and writes only to the FILE it is given. */
#ifndef STRATA_CTL_FORMAT_H
#define STRATA_CTL_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "strata/error.h"
#include "strata/printers.h"

/* ---- resource kinds ----------------------------------------------------- */

enum stctl_fmt_kind_id {
    STCTL_FMT_NODE,
    STCTL_FMT_POD,
    STCTL_FMT_DEPLOYMENT,
    STCTL_FMT_SECRET,
    STCTL_FMT_EVENT,
    STCTL_FMT_IMAGE,
    STCTL_FMT_SERVICE,
    STCTL_FMT_ENDPOINTS,
    STCTL_FMT_NAMESPACE,
    STCTL_FMT_LEASE,
};

struct stctl_fmt_kind {
    enum stctl_fmt_kind_id id;
    const char *kind;     /* the API's kind: "Deployment" */
    const char *resource; /* the path segment: "deployments" */
    const char *ref;      /* how kubectl names it in messages: "deployment.apps" */
    const char *api;      /* path prefix: "/apis/apps/v1" or "/api/v1" */
    bool namespaced;      /* its API path has /namespaces/NS */
};

/* What a person typed ("pods", "pod", "po", "deploy", "no", case-insensitive),
 * or NULL when it names no kind stratactl knows. */
const struct stctl_fmt_kind *stctl_fmt_kind_lookup(const char *word);
/* By the API's kind ("Pod"); NULL when unknown. */
const struct stctl_fmt_kind *stctl_fmt_kind_by_kind(const char *kind);

/* Ages, durations and the cells kubectl computes (a pod's STATUS, READY,
 * RESTARTS ...) are strata/printers.h's, shared with stratad's Tables. */

/* ---- tables ------------------------------------------------------------- */

/* Left-aligned columns like kubectl's (each column as wide as its widest
 * cell plus three spaces, at least six; the last column unpadded; widths
 * are display columns, so UTF-8 text lines up). Rows
 * can be added after a write (watch): later writes keep the widths already
 * used, growing a column only when a new cell is wider. */
typedef struct stctl_fmt_table stctl_fmt_table;

/* headers: ncols column titles; NULL for a table without a header line. */
int stctl_fmt_table_new(size_t ncols, const char *const *headers, stctl_fmt_table **out,
                        st_error *err);
void stctl_fmt_table_free(stctl_fmt_table *t);
/* Spaces before every line (tables inside `describe`). */
void stctl_fmt_table_set_indent(stctl_fmt_table *t, int indent);
/* --no-headers: never write the header line. */
void stctl_fmt_table_set_no_headers(stctl_fmt_table *t, bool no_headers);
/* Copies ncols cells (NULL is an empty cell); newlines and tabs in a cell
 * become spaces, so a row stays one line. */
int stctl_fmt_table_add(stctl_fmt_table *t, const char *const *cells, st_error *err);
size_t stctl_fmt_table_rows(const stctl_fmt_table *t);
/* Writes the header (first time only) and every row added since the last
 * write. Nothing at all while no row was ever added. */
int stctl_fmt_table_write(FILE *out, stctl_fmt_table *t, st_error *err);

/* kubectl's flags that change a kind's columns. */
struct stctl_fmt_columns {
    bool wide;        /* -o wide: the extra columns below */
    bool namespace;   /* -A: NAMESPACE first */
    bool show_labels; /* --show-labels: LABELS last ("k=v,k2=v2" or <none>) */
    bool kind_prefix; /* several kinds at once: NAME as "pod/web-1" */
};

/* The table for objects of kind k (cols NULL: the defaults). Columns:
 *   Node:       NAME STATUS ACCEL CPU MEMORY BOOT AGE   (wide: + DOMAIN KERNEL-VERSION)
 *   Pod:        NAME READY STATUS RESTARTS AGE          (wide: + IP NODE REASON)
 *   Deployment: NAME READY UP-TO-DATE AVAILABLE AGE     (wide: + CONTAINERS IMAGES SELECTOR)
 *   Secret:     NAME TYPE DATA AGE
 *   Event:      LAST SEEN TYPE REASON OBJECT MESSAGE
 *   Image:      NAME SIZE AGE
 *   Service:    NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE   (wide: + SELECTOR)
 *   Endpoints:  NAME ENDPOINTS AGE
 *   Lease:      NAME HOLDER AGE */
int stctl_fmt_table_for_kind(const struct stctl_fmt_kind *k, const struct stctl_fmt_columns *cols,
                             stctl_fmt_table **out, st_error *err);
/* One row for obj, in a table made by stctl_fmt_table_for_kind; now is the
 * clock the AGE columns are measured against. */
int stctl_fmt_table_add_object(stctl_fmt_table *t, json_t *obj, time_t now, st_error *err);

/* ---- hosts (multi-host mode) -------------------------------------------- */

/* The hosts sharing stratad's database, as their leases tell (issue 17):
 * host_leases the Leases of kube-node-lease (those named strata-host-HOST
 * count, the rest are skipped), leader the Lease kube-system/strata-leader
 * (NULL: none). Judged at now_ms, THIS machine's clock in milliseconds
 * since the epoch: the leases' times are the database's, which a client
 * cannot read, so an age is only as right as the two clocks agree (a skew
 * of s moves every RENEWED by s and can call a host Expired, or Ready, s
 * early or late; the leader, which decides, reads the database's clock).
 * A JSON array (new reference; NULL: out of memory), sorted by host, of
 *   {"host", "lease" ("kube-node-lease/strata-host-HOST"), "holder" (absent
 *    when given up), "renewTime", "renewedMillis" (its age, never below 0),
 *    "leaseDurationSeconds", "acquireTime", "leaseTransitions",
 *    "leader" (its holder holds an unexpired leader lease),
 *    "status": "Ready" (renewTime + leaseDurationSeconds is still ahead),
 *              "Expired", "Released" (no holder: given up with
 *              st_store_lease_release; stratad keeps its host lease when
 *              it stops, as its VMs run on) or "Unknown" (no renewTime)} */
json_t *stctl_fmt_hosts(json_t *host_leases, json_t *leader, long long now_ms);
/* The table of stctl_fmt_hosts' array:
 *   HOST HOLDER RENEWED LEASE LEADER STATUS   (wide: + ACQUIRED TRANSITIONS)
 * RENEWED "0.4s" (tenths below 10 s, then kubectl's durations), LEASE "6s",
 * LEADER "yes" or "no"; ACQUIRED the age of acquireTime at now_ms. */
int stctl_fmt_hosts_table(json_t *hosts, bool wide, bool no_headers, long long now_ms,
                          stctl_fmt_table **out, st_error *err);
/* "0.4s", "9.9s", then "12s", "3m", "4d6h" ...; "<unknown>" below 0. */
void stctl_fmt_millis_age(long long ms, char *buf, size_t len);

/* ---- single values ------------------------------------------------------ */

/* The STATUS column of a node: "Ready", "NotReady", "Unknown", or the
 * provisioning phase while it is not Ready ("Provisioning", "Failed"). */
void stctl_fmt_node_status(json_t *node, char *buf, size_t len);
/* status.strata.phase, or status.phase; NULL when neither is set. */
const char *stctl_fmt_node_phase(json_t *node);
/* Byte counts as a person reads them: "512B", "1.5KiB", "12.3MiB", "2.0GiB". */
void stctl_fmt_size(long long bytes, char *buf, size_t len);

/* ---- describe ----------------------------------------------------------- */

/* Whether event (a core/v1 Event) is about kind/name in namespace ns (ns
 * NULL or "": any namespace). */
bool stctl_fmt_event_is_about(json_t *event, const char *kind, const char *ns, const char *name);

/* What describe shows beside an object, each NULL when it could not be
 * read: events, a JSON array of the Events about it, oldest first; pods (for
 * a Node), the JSON array of the pods bound to it; endpoints (for a
 * Service), the Endpoints object of its name (NULL too when there is none). */
struct stctl_fmt_related {
    json_t *events;
    json_t *pods;
    json_t *endpoints;
};

/* The multi-line view of obj (of kind k), as kubectl describe shows it:
 * metadata, labels, status, conditions; for pods the phase and each
 * container's state (with its reason), restarts and probes; for nodes the
 * requests and limits of its non-terminated pods ("Non-terminated Pods",
 * "Allocated resources", with percentages of capacity); for services the
 * ports with their ready endpoints (and the not-ready ones, Strata's
 * "NotReadyEndpoints:"); then the events.
 * rel may be NULL (nothing related could be read). */
int stctl_fmt_describe(FILE *out, const struct stctl_fmt_kind *k, json_t *obj,
                       const struct stctl_fmt_related *rel, time_t now, st_error *err);

#endif
