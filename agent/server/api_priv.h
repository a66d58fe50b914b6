/* api_priv.h: what the files of the HTTP API share (private to
 * agent/server/ and its unit tests). A request is plain data (method, path
 * segments, query, body) and routing answers a plain response (status and
 * body, or a stream for watch and log follow), so the API runs without
 * libmicrohttpd in tests; api_http.c is the only file that speaks HTTP.
 * errno values become HTTP statuses only in api_route.c. */
#ifndef STRATA_SERVER_API_PRIV_H
#define STRATA_SERVER_API_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "server_priv.h"
#include "strata/api_table.h"
#include "strata/manifest.h"

/* kube-apiserver's limit on a request body; a Secret holds at most 1 MiB. */
#define ST_SERVER_API_BODY_MAX (3u * 1024 * 1024)
#define ST_SERVER_API_SEGS_MAX 10

struct st_server_request {
    const char *method;
    const char *seg[ST_SERVER_API_SEGS_MAX]; /* the path split at '/', empty parts dropped */
    size_t nseg;
    json_t *query; /* name -> string: the query arguments (NULL: none) */
    const char *body;
    size_t body_len;
    bool body_too_big;        /* over ST_SERVER_API_BODY_MAX: the body was not kept */
    const char *accept;       /* the Accept header (NULL: none) */
    const char *content_type; /* the Content-Type header (NULL: none), e.g. a patch's type */
    bool tcp;                 /* came over the HTTPS port, not the unix socket */
    bool gated;               /* tcp, and st_server_api_gate already let it in */
    /* what api_ui.c authenticates an HTTPS request by (NULL: none) */
    const char *authorization; /* the Authorization header */
    const char *cookie;        /* the Cookie header */
    const char *ui_header;     /* X-Strata-UI: the page sends "1" with every request */
};

struct st_server_stream;

struct st_server_response {
    unsigned status;
    const char *type; /* Content-Type */
    char *body;       /* owned */
    size_t len;
    struct st_server_stream *stream; /* owned: the body is read from it (watch, follow) */
    json_t *warnings; /* owned, NULL or an array of strings: one `Warning: 299 - "..."` each */
    json_t *headers;  /* owned, NULL or name -> value: more headers (Set-Cookie, Location ...) */
};

/* Splits path (changed in place) into q's segments. */
void st_server_api_split_path(struct st_server_request *q, char *path);
/* Answers q. 0, or -ENOMEM when not even an error could be built. */
int st_server_api_route(struct st_server *d, const struct st_server_request *q,
                        struct st_server_response *out);
void st_server_api_response_clear(struct st_server_response *r);

/* ---- for the endpoint files ---------------------------------------------- */

struct st_server_call {
    struct st_server *d;
    const struct st_server_request *q;
    struct st_server_response *out;
    /* ?dryRun=All on a write: checked and answered as if done, nothing
     * stored (only object create, replace, patch and delete take it; the
     * router refuses it anywhere else before anything happens) */
    bool dry_run;
};

/* How errors read to a client: where an object is written, EINVAL is the
 * object's fault (422 Invalid); for node and image commands it is the
 * request's (400 BadRequest), and their other codes (server_priv.h) apply. */
enum st_server_api_errors { ST_SERVER_API_OBJECTS, ST_SERVER_API_COMMANDS };

/* The replies: each 0, or -ENOMEM. */
int st_server_api_reply_text(struct st_server_call *c, unsigned code, const char *type,
                             const char *text, size_t len);
int st_server_api_reply_json(struct st_server_call *c, unsigned code, json_t *obj);
int st_server_api_reply_status(struct st_server_call *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int st_server_api_reply_error(struct st_server_call *c, int r, const st_error *err,
                              enum st_server_api_errors kind);
int st_server_api_reply_stream(struct st_server_call *c, struct st_server_stream *s,
                               const char *type);
/* Adds a warning to the response (a Warning header, as the apiserver
 * sends for unknown fields under fieldValidation=Warn). */
void st_server_api_warn(struct st_server_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a response header (kept whatever reply follows). */
void st_server_api_header(struct st_server_call *c, const char *name, const char *value);
/* {"kind":"Status","status":"Success"} */
int st_server_api_reply_success(struct st_server_call *c);

bool st_server_api_seg_is(const struct st_server_call *c, size_t i, const char *s);
bool st_server_api_method_is(const struct st_server_call *c, const char *m);
const char *st_server_api_arg(const struct st_server_call *c, const char *key);
bool st_server_api_arg_true(const struct st_server_call *c, const char *key);
/* The body as JSON, or NULL with err set (EINVAL: a 400). */
json_t *st_server_api_parse_body(const struct st_server_call *c, st_error *err);

/* api_proto.c: a body sent as application/vnd.kubernetes.protobuf (kubectl's
 * typed clients: create namespace|secret|deployment|service, drain) as the
 * JSON object it stands for (Namespace, Secret, Service, Pod, Deployment,
 * Eviction). *notes: a new array of warnings, one per field on the wire
 * that Strata does not read. -EINVAL: the body cannot be read (a 400);
 * -ENOTSUP: a kind or encoding Strata does not read (a 415). */
int st_server_api_proto_to_json(const char *body, size_t len, json_t **out, json_t **notes,
                                st_error *err);
#define ST_SERVER_API_PROTOBUF "application/vnd.kubernetes.protobuf"

/* GET /kubeconfig (the unix socket only): STATE_DIR/kubeconfig */
int st_server_api_kubeconfig(struct st_server_call *c);

/* api_objects.c */
/* Whether c asks for a Table (Accept ...;as=Table, as kubectl get does)
 * and what each row carries (?includeObject=); false with err set (a 400)
 * when includeObject is none of None, Metadata, Object. */
bool st_server_api_table_request(const struct st_server_call *c, bool *table,
                                 enum st_api_table_object *include, st_error *err);
int st_server_api_objects(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name);
int st_server_api_get(struct st_server_call *c, const char *kind, const char *ns, const char *name);
/* The objects of q as the API shows them (st_api_present). */
int st_server_api_list(struct st_server *d, const st_store_query *q, json_t **items, st_error *err);
/* The same, and rv: the list's resourceVersion (where a watch goes on). */
int st_server_api_list_at(struct st_server *d, const st_store_query *q, json_t **items, char rv[32],
                          st_error *err);
/* api_apply.c */
int st_server_api_apply(struct st_server_call *c);
/* api_write.c: create (POST to a collection) and replace (PUT), and what
 * every write of objects shares. */
int st_server_api_create(struct st_server_call *c, const char *kind, const char *ns);
int st_server_api_replace(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name);
/* "pods" for "Pod": the resource in the apiserver's messages. */
const char *st_server_api_resource_of(const char *kind);
/* 409 Conflict: "Operation cannot be fulfilled on pods \"x\": the object
 * has been modified ...", the apiserver's words. */
int st_server_api_reply_conflict(struct st_server_call *c, const char *kind, const char *name);
/* ?fieldValidation= (def when absent); false when it is none of these: */
#define ST_SERVER_API_FIELD_MODES "fieldValidation: use Strict, Warn or Ignore"
bool st_server_api_field_mode(const struct st_server_call *c, enum st_manifest_fields def,
                              enum st_manifest_fields *mode);
/* Reads text (objects as YAML/JSON) with the manifest reader: 0 with
 * *objects and the reader's warnings added to the reply, or 0 with an
 * error replied as the apiserver would (400 for unknown fields under
 * Strict and for unreadable text, else 422 "KIND \"NAME\" is invalid" when
 * kind and name are given), or -ENOMEM. */
int st_server_api_read_objects(struct st_server_call *c, const char *text, size_t len,
                               enum st_manifest_fields mode, const char *kind, const char *name,
                               json_t **objects);
/* The same failure reply and warnings from a reader's diagnostics. */
int st_server_api_reply_invalid(struct st_server_call *c, const struct st_manifest_diag *diags,
                                const st_error *err, const char *kind, const char *name);
void st_server_api_warn_diags(struct st_server_call *c, const struct st_manifest_diag *diags);
/* Stores ops in one batch, Services given their addresses first; an
 * object created in a namespace that does not exist is refused (-ENOENT, a
 * 404), in one being deleted too (-EACCES, a 403). */
int st_server_api_store_ops(struct st_server *d, st_store_op *ops, size_t n, st_error *err);
/* api_patch.c: PATCH by Content-Type; status_only for the status
 * subresource. And the subresources: status, scale, eviction. */
int st_server_api_patch(struct st_server_call *c, const char *kind, const char *ns,
                        const char *name);
/* PATCH /api/v1/nodes/NAME: labels, annotations, spec.unschedulable. */
int st_server_api_patch_node(struct st_server_call *c, const char *name);
int st_server_api_subresource(struct st_server_call *c, const char *kind, const char *ns,
                              const char *name, const char *sub);
/* api_nodes.c, api_images.c */
int st_server_api_nodes(struct st_server_call *c);
/* api_nodeproxy.c: GET /api/v1/nodes/NAME/proxy/pods, the PodList the node
 * itself reports now (kubelet's /pods): 404 no such node, 503 it is not
 * connected, 504 it did not answer in time. */
int st_server_api_node_pods(struct st_server_call *c, const char *name);
int st_server_api_images(struct st_server_call *c);
/* api_forward.c: POST .../pods|services/NAME/portforward?ports=L:R */
int st_server_api_forward(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name);
/* api_endpointslice.c: GET /apis/discovery.k8s.io/v1/...endpointslices,
 * a read-only view of the Endpoints (kubectl describe service reads it). */
int st_server_api_endpointslices(struct st_server_call *c);
/* api_ui.c: the dashboard (issue 16): its embedded files under /ui/,
 * sessions and one-time login links, and who may use the HTTPS port. */
/* How long a one-time link and a session last. */
#define ST_SERVER_UI_LINK_TTL_MS    (60 * 1000)
#define ST_SERVER_UI_SESSION_TTL_MS (12LL * 3600 * 1000)
#define ST_SERVER_UI_COOKIE         "strata_session"
/* Whether an HTTPS request may go on: 1 yes; 0 no, with out the 401
 * (no bearer token nor session) or 403 (a session's request that changes
 * state without X-Strata-UI: 1) to send; -ENOMEM. Health, version, the
 * page's files and its login are public. */
int st_server_api_gate(struct st_server *d, const struct st_server_request *q,
                       struct st_server_response *out);
/* /ui[/...] */
int st_server_api_ui(struct st_server_call *c);
/* api_host.c: GET /strata/v1/host: the physical layer (CPUs, memory, the
 * accelerator nodes get and why, the node count). */
int st_server_api_host(struct st_server_call *c);
int st_server_api_node_templates(struct st_server_call *c);
/* api_bench.c: /strata/v1/bench/startup[.svg]: the last start-up results
 * (strata/startup_results.h), kept in STATE/bench-startup.json. */
int st_server_api_bench(struct st_server_call *c);
#define ST_SERVER_BENCH_FILE "bench-startup.json"

/* api_logs.c */
int st_server_api_log(struct st_server_call *c, const char *ns, const char *name);

/* api_discovery.c: /version, /livez, /readyz, discovery (/api, /api/v1,
 * /apis, /apis/GROUP, /apis/GROUP/VERSION) and, through api_openapi.c,
 * /openapi/... . Whether c's path is one of those (route hands it over
 * then, whatever the method). */
bool st_server_api_is_discovery(const struct st_server_call *c);
int st_server_api_discovery(struct st_server_call *c);

/* The version /version and the OpenAPI documents give. */
#define ST_API_GIT_VERSION "v1.32.0-strata"

/* What the API serves, as discovery lists it: gv "v1" or "apps/v1"; a
 * subresource's name is "pods/log", with the group and version of its kind
 * when that is another group's (Scale, Eviction). Ends with a NULL name. */
struct st_server_api_resource {
    const char *gv, *name, *singular, *kind, *short_name;
    const char *sub_group, *sub_version;
    bool namespaced, in_all;  /* in_all: in the "all" category (kubectl get all) */
    const char *const *verbs; /* NULL-terminated */
};
extern const struct st_server_api_resource st_server_api_resources[];
/* The group-versions served, "v1" first; NULL-terminated. */
extern const char *const st_server_api_group_versions[];
/* Whether r takes verb ("create", "watch" ...). */
bool st_server_api_resource_can(const struct st_server_api_resource *r, const char *verb);
/* Read-only: none of create, update, patch, delete (Events, Leases:
 * stratad alone writes them); the API answers their writes 405. */
bool st_server_api_resource_read_only(const struct st_server_api_resource *r);

/* api_openapi.c: GET /openapi/v3[/api/v1|/apis/GROUP/VERSION]. */
int st_server_api_openapi(struct st_server_call *c);
/* The OpenAPI v3 document of gv (new reference; NULL: out of memory). */
json_t *st_server_api_openapi_doc(const char *gv);

/* api_watch.c: the streams. A watch shows kind's changes (in ns, or all
 * when ns is NULL) as ADDED / MODIFIED / DELETED lines from the ring of
 * recent events (watch_ring.h); a log stream, the pod's log lines as they
 * come. */
struct st_server_watch_opts {
    const char *kind;
    const char *ns;                         /* NULL: every namespace */
    const char *label_selector;             /* checked already; NULL: any */
    const char *field_selector;             /* NULL: any */
    const char *resource_version;           /* NULL, "" or "0": the objects there now first */
    bool bookmarks;                         /* BOOKMARK events instead of blank keep-alive lines */
    long timeout_s;                         /* > 0: the stream ends after it */
    bool table;                             /* each event's object as a Table of one row */
    enum st_api_table_object table_include; /* with table: what each row carries */
};
/* -EINVAL (err says why: a 400) for a selector or resourceVersion that
 * cannot be read. A version older than the ring keeps is a stream that
 * says so (an ERROR event, 410 Expired) and ends, as the apiserver's. */
int st_server_stream_watch(struct st_server *d, const struct st_server_watch_opts *o,
                           struct st_server_stream **out, st_error *err);
/* GET ...?watch=1: the options from the query, the stream as the reply. */
int st_server_api_watch(struct st_server_call *c, const char *kind, const char *ns);
/* How long a stream stays quiet before it sends a keep-alive (tests: 0). */
void st_server_stream_set_keepalive_ms(struct st_server_stream *s, int ms);
/* How often a Lease watch reads the store again (default 500; tests: 0). */
void st_server_stream_set_poll_ms(struct st_server_stream *s, int ms);
struct st_server_stream *st_server_stream_log(struct st_server *d, const char *ns,
                                              const char *name);
/* The stream starts at the last n lines (?tailLines=n) rather than the
 * first line kept. */
void st_server_stream_log_tail(struct st_server_stream *s, size_t n);
/* What is there now, without waiting: the log so far. */
void st_server_stream_fill(struct st_server_stream *s);
/* A port-forward's stream: first, then a blank line a second while the
 * client and pod last; freeing it closes the relay listener key. */
struct st_server_stream *st_server_stream_forward(struct st_server *d, const char *key, json_t *pod,
                                                  const char *first);
/* The text gathered by st_server_stream_fill. */
const char *st_server_stream_text(const struct st_server_stream *s, size_t *len);
/* Up to max bytes, waiting for news (a keep-alive blank line at times);
 * -1 once the server stops. */
ssize_t st_server_stream_read(struct st_server_stream *s, char *out, size_t max);
void st_server_stream_free(struct st_server_stream *s);

#endif
