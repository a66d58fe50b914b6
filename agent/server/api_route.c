/* api_route.c: which endpoint answers a request (agent/API.md), the
 * replies they build, and the one place an errno becomes an HTTP status.
 * Plain data in and out: api_http.c serves it over libmicrohttpd, the unit
 * tests call st_server_api_route directly. */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies --------------------------------------------------------------- */

void st_server_api_response_clear(struct st_server_response *r)
{
    free(r->body);
    st_server_stream_free(r->stream);
    json_decref(r->warnings);
    json_decref(r->headers);
    *r = (struct st_server_response){0};
}

/* A reply replaces the body, never the warnings and headers gathered on
 * the way. */
static void response_set(struct st_server_response *r, struct st_server_response next)
{
    json_t *warnings = r->warnings, *headers = r->headers;
    r->warnings = r->headers = NULL;
    st_server_api_response_clear(r);
    *r = next;
    r->warnings = warnings;
    r->headers = headers;
}

void st_server_api_header(struct st_server_call *c, const char *name, const char *value)
{
    if (c->out->headers == NULL)
        c->out->headers = json_object();
    json_object_set_new(c->out->headers, name, json_string(value));
}

void st_server_api_warn(struct st_server_call *c, const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->out->warnings == NULL)
        c->out->warnings = json_array();
    json_array_append_new(c->out->warnings, json_string(msg));
}

int st_server_api_reply_text(struct st_server_call *c, unsigned code, const char *type,
                             const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = 0;
    response_set(c->out, (struct st_server_response){
                             .status = code, .type = type, .body = copy, .len = len});
    return 0;
}

int st_server_api_reply_json(struct st_server_call *c, unsigned code, json_t *obj)
{
    _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        return -ENOMEM;
    return st_server_api_reply_text(c, code, "application/json", text, strlen(text));
}

int st_server_api_reply_stream(struct st_server_call *c, struct st_server_stream *s,
                               const char *type)
{
    if (s == NULL)
        return -ENOMEM;
    response_set(c->out, (struct st_server_response){.status = 200, .type = type, .stream = s});
    return 0;
}

static const char *reason_of(unsigned code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "AlreadyExists";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 503:
        return "ServiceUnavailable";
    case 507: /* Kubernetes names no reason for it; clients go by the code */
        return "InsufficientStorage";
    default:
        return code >= 500 ? "InternalError" : "BadRequest";
    }
}

static int reply_status_reason(struct st_server_call *c, unsigned code, const char *reason,
                               const char *msg)
{
    _cleanup_json_ json_t *st =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "status",
                  "Failure", "message", msg, "reason", reason, "code", (int)code);
    return st ? st_server_api_reply_json(c, code, st) : -ENOMEM;
}

int st_server_api_reply_status(struct st_server_call *c, unsigned code, const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return reply_status_reason(c, code, reason_of(code), msg);
}

int st_server_api_reply_success(struct st_server_call *c)
{
    _cleanup_json_ json_t *st = json_pack("{s:s, s:s}", "kind", "Status", "status", "Success");
    return st ? st_server_api_reply_json(c, 200, st) : -ENOMEM;
}

/* The one errno -> HTTP table (the codes are server_priv.h's and the
 * store's). */
static unsigned http_of(int r, enum st_server_api_errors kind)
{
    switch (-r) {
    case ENOENT:
        return 404;
    case EEXIST:
    case ST_ECONFLICT:
    case EBUSY:
    case EADDRINUSE:
        return 409;
    case EINVAL:
        return kind == ST_SERVER_API_COMMANDS ? 400 : 422;
    case EACCES: /* a protected namespace, or one being deleted */
        return kind == ST_SERVER_API_OBJECTS ? 403 : 500;
    case ENOSPC:
    case ENOEXEC:
        return kind == ST_SERVER_API_COMMANDS ? 422 : 500;
    case EAGAIN:
        return kind == ST_SERVER_API_COMMANDS ? 503 : 500;
    case EREMOTE: /* a node of another host: that host's stratad does it */
        return 409;
    case EHOSTUNREACH: /* `node add --host` of a host whose lease lapsed */
        return 503;
    case ST_ESTORE_DOWN: /* PostgreSQL gone: the same request works once it is back */
        return 503;
    case ST_ESTORE_FULL: /* the store's disk is full: nothing was written */
        return 507;
    default:
        return 500;
    }
}

int st_server_api_reply_error(struct st_server_call *c, int r, const st_error *err,
                              enum st_server_api_errors kind)
{
    unsigned code = http_of(r, kind);
    /* As the apiserver does on a 503: client-go then retries the request
     * by itself (a few times), so a PostgreSQL restart is only a delay. */
    if (-r == ST_ESTORE_DOWN) {
        char after[16];
        snprintf(after, sizeof(after), "%d", ST_STORE_RETRY_S);
        st_server_api_header(c, "Retry-After", after);
    }
    /* 409 is AlreadyExists for a create, Conflict for a stale write. */
    const char *reason = -r == ST_ECONFLICT || -r == EBUSY ? "Conflict" : reason_of(code);
    return reply_status_reason(c, code, reason, err->msg[0] ? err->msg : strerror(-r));
}

/* ---- the request ------------------------------------------------------------ */

void st_server_api_split_path(struct st_server_request *q, char *path)
{
    char *save = NULL;
    q->nseg = 0;
    for (char *t = strtok_r(path, "/", &save); t && q->nseg < ST_SERVER_API_SEGS_MAX;
         t = strtok_r(NULL, "/", &save))
        q->seg[q->nseg++] = t;
}

bool st_server_api_seg_is(const struct st_server_call *c, size_t i, const char *s)
{
    return i < c->q->nseg && strcmp(c->q->seg[i], s) == 0;
}

bool st_server_api_method_is(const struct st_server_call *c, const char *m)
{
    return strcmp(c->q->method, m) == 0;
}

const char *st_server_api_arg(const struct st_server_call *c, const char *key)
{
    return json_string_value(json_object_get(c->q->query, key));
}

bool st_server_api_arg_true(const struct st_server_call *c, const char *key)
{
    const char *v = st_server_api_arg(c, key);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

json_t *st_server_api_parse_body(const struct st_server_call *c, st_error *err)
{
    json_error_t je;
    json_t *j = json_loadb(c->q->body ? c->q->body : "", c->q->body_len, 0, &je);
    if (j == NULL)
        st_error_set(err, EINVAL,
                     "request body is not JSON: %s (line %d, column %d, byte %d); send a JSON "
                     "object",
                     je.text, je.line, je.column, je.position);
    return j;
}

/* ---- routing ------------------------------------------------------------------ */

int st_server_api_kubeconfig(struct st_server_call *c)
{
    st_error err = {0};
    _cleanup_free_ char *text = NULL;
    int r = st_api_pki_read_kubeconfig(&c->d->pki, &text, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    return st_server_api_reply_text(c, 200, "application/yaml", text, strlen(text));
}

/* The namespaced resource of that name in gv (discovery's table is the
 * one list); NULL for anything else. */
static const struct st_server_api_resource *namespaced_resource(const char *gv, const char *res)
{
    for (const struct st_server_api_resource *r = st_server_api_resources; r->name; r++)
        if (r->namespaced && strcmp(r->gv, gv) == 0 && strcmp(r->name, res) == 0)
            return r;
    return NULL;
}

/* Where the objects of a group-version served are: /api/v1/... (the
 * resource from segment 2 on) or /apis/GROUP/VERSION/... (from 3 on), with
 * *gv "v1" or "GROUP/VERSION"; 0 when the path is under neither. */
static size_t objects_base(const struct st_server_call *c, const char **gv)
{
    const struct st_server_request *q = c->q;
    *gv = NULL;
    if (st_server_api_seg_is(c, 0, "api") && st_server_api_seg_is(c, 1, "v1")) {
        *gv = "v1";
        return 2;
    }
    if (!st_server_api_seg_is(c, 0, "apis") || q->nseg < 3)
        return 0;
    for (const char *const *v = st_server_api_group_versions; *v; v++) {
        size_t n = strlen(q->seg[1]);
        if (strncmp(*v, q->seg[1], n) == 0 && (*v)[n] == '/' &&
            strcmp(*v + n + 1, q->seg[2]) == 0) {
            *gv = *v;
            return 3;
        }
    }
    return 0;
}

/* Kubernetes' longest object name (a DNS-1123 subdomain). */
#define NAME_LEN_MAX 253

/* A path naming an object (or namespace) longer than any name can be
 * names nothing: answered here, in a few words, before the store is asked
 * and before a 10,000-character name fills the message (a PUT's body would
 * be Invalid, anything else NotFound, as the apiserver answers). 1 when
 * the name is fine. */
static int name_checked(struct st_server_call *c, const char *resource, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len <= NAME_LEN_MAX)
        return 1;
    bool put = st_server_api_method_is(c, "PUT");
    return st_server_api_reply_status(c, put ? 422 : 404,
                                      "%s \"%.32s...\" %s: a name has at most %d characters "
                                      "(Kubernetes' DNS-1123 subdomain rule) and this one %zu",
                                      resource, name, put ? "is invalid" : "not found",
                                      NAME_LEN_MAX, len);
}

/* /api/v1/namespaces [NAME]: Namespaces are cluster-scoped. */
static int namespaces(struct st_server_call *c)
{
    const char *name = c->q->nseg == 4 ? c->q->seg[3] : NULL;
    int r = name_checked(c, "namespaces", name);
    if (r <= 0)
        return r;
    if (st_server_api_method_is(c, "GET"))
        return st_server_api_get(c, "Namespace", NULL, name);
    if (st_server_api_method_is(c, "POST") && name == NULL)
        return st_server_api_create(c, "Namespace", "");
    if (st_server_api_method_is(c, "PUT") && name)
        return st_server_api_replace(c, "Namespace", "", name);
    if ((st_server_api_method_is(c, "DELETE") || st_server_api_method_is(c, "PATCH")) && name)
        return st_server_api_objects(c, "Namespace", "", name);
    return st_server_api_reply_status(c, 405, "%s is not allowed here (see agent/API.md)",
                                      c->q->method);
}

/* Whether the path names an object, or a collection, of a kind served
 * (namespaces included, nodes and subresources not): where ?dryRun=All is
 * taken. */
static bool dry_run_path(const struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    const char *gv;
    size_t base = objects_base(c, &gv);
    if (base == 0 || q->nseg <= base || st_server_api_seg_is(c, base, "nodes"))
        return false;
    size_t left = q->nseg - base;
    if (st_server_api_seg_is(c, base, "namespaces"))
        return left <= 4; /* namespaces [NS [RESOURCE [NAME]]] */
    return left <= 2;     /* RESOURCE [NAME] */
}

/* ?dryRun on a write: All (the only value Kubernetes has) where it is
 * taken; 1 to go on. A dry run is never carried out for real. */
static int dry_run_checked(struct st_server_call *c)
{
    const char *v = st_server_api_arg(c, "dryRun");
    if (v == NULL || st_server_api_method_is(c, "GET"))
        return 1;
    if (strcmp(v, "All") != 0)
        return st_server_api_reply_status(c, 400,
                                          "dryRun=%s: the only value is All (check the write, "
                                          "store nothing); nothing was done",
                                          v);
    if (!dry_run_path(c))
        return st_server_api_reply_status(c, 400,
                                          "dryRun=All is taken by object create, replace, patch "
                                          "and delete only (not by nodes, subresources or "
                                          "Strata's own endpoints); this %s did nothing",
                                          c->q->method);
    c->dry_run = true;
    return 1;
}

/* A request whose body (if any) is JSON or text, within the limit. */
static int route_request(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    int dr = dry_run_checked(c);
    if (dr <= 0)
        return dr;
    if (st_server_api_seg_is(c, 0, "healthz") && q->nseg == 1)
        return st_server_api_reply_text(c, 200, "text/plain", "ok\n", 3);
    if (st_server_api_seg_is(c, 0, "kubeconfig") && q->nseg == 1 && !q->tcp &&
        st_server_api_method_is(c, "GET"))
        return st_server_api_kubeconfig(c);
    if (st_server_api_is_discovery(c))
        return st_server_api_discovery(c);
    if (st_server_api_seg_is(c, 0, "ui"))
        return st_server_api_ui(c);
    if (st_server_api_seg_is(c, 0, "strata") && st_server_api_seg_is(c, 1, "v1")) {
        if (st_server_api_seg_is(c, 2, "host") && q->nseg == 3 && st_server_api_method_is(c, "GET"))
            return st_server_api_host(c);
        if (st_server_api_seg_is(c, 2, "bench"))
            return st_server_api_bench(c);
        if (st_server_api_seg_is(c, 2, "node-templates") && q->nseg == 3)
            return st_server_api_node_templates(c);
    }
    if (st_server_api_seg_is(c, 0, "apply") && q->nseg == 1 && st_server_api_method_is(c, "POST"))
        return st_server_api_apply(c);
    const char *gv;
    size_t base = objects_base(c, &gv);
    bool core = base == 2;
    if (core && st_server_api_seg_is(c, 2, "nodes")) {
        int r = name_checked(c, "nodes", q->nseg > 3 ? q->seg[3] : NULL);
        return r <= 0 ? r : st_server_api_nodes(c);
    }
    if (core && st_server_api_seg_is(c, 2, "images"))
        return st_server_api_images(c);
    /* /api/v1/namespaces[/NAME] is the Namespace kind; with a resource
     * after it, the namespaced prefix below. */
    if (core && st_server_api_seg_is(c, 2, "namespaces") && q->nseg <= 4)
        return namespaces(c);
    if (st_server_api_seg_is(c, 0, "apis") && st_server_api_seg_is(c, 1, "discovery.k8s.io") &&
        st_server_api_seg_is(c, 2, "v1"))
        return st_server_api_endpointslices(c);
    if (base == 0)
        return st_server_api_reply_status(c, 404, "no such API path (see agent/API.md)");
    /* [namespaces NS] RESOURCE [NAME [log|scale]] */
    const char *ns = NULL;
    size_t i = base;
    if (st_server_api_seg_is(c, i, "namespaces") && i + 1 < q->nseg) {
        ns = q->seg[i + 1];
        i += 2;
    }
    const struct st_server_api_resource *res =
        i < q->nseg ? namespaced_resource(gv, q->seg[i]) : NULL;
    if (res == NULL)
        return st_server_api_reply_status(c, 404,
                                          "no such resource (pods, secrets, events, services, "
                                          "endpoints under /api/v1; deployments under "
                                          "/apis/apps/v1; leases under "
                                          "/apis/coordination.k8s.io/v1)");
    const char *kind = res->kind;
    const char *name = i + 1 < q->nseg ? q->seg[i + 1] : NULL;
    const char *sub = i + 2 < q->nseg ? q->seg[i + 2] : NULL;
    int r = name_checked(c, "namespaces", ns);
    if (r > 0)
        r = name_checked(c, q->seg[i], name);
    if (r <= 0)
        return r;
    if (i + 3 < q->nseg)
        return st_server_api_reply_status(c, 404, "no such API path (see agent/API.md)");
    if (sub) {
        if (strcmp(kind, "Pod") == 0 && strcmp(sub, "log") == 0 &&
            st_server_api_method_is(c, "GET"))
            return st_server_api_log(c, ns ? ns : "default", name);
        if ((strcmp(kind, "Pod") == 0 || strcmp(kind, "Service") == 0) &&
            strcmp(sub, "portforward") == 0 && st_server_api_method_is(c, "POST"))
            return st_server_api_forward(c, kind, ns ? ns : "default", name);
        return st_server_api_subresource(c, kind, ns ? ns : "default", name, sub);
    }
    if (st_server_api_method_is(c, "GET"))
        return st_server_api_get(c, kind, name && !ns ? "default" : ns, name);
    bool write = st_server_api_method_is(c, "POST") || st_server_api_method_is(c, "PUT") ||
                 st_server_api_method_is(c, "PATCH") || st_server_api_method_is(c, "DELETE");
    if (write && st_server_api_resource_read_only(res))
        return st_server_api_reply_status(c, 405,
                                          "%s is not allowed on %s: they are read-only, written "
                                          "by stratad only (get, list and watch them; see "
                                          "agent/API.md)",
                                          q->method, res->name);
    if (st_server_api_method_is(c, "POST") && name == NULL && ns)
        return st_server_api_create(c, kind, ns);
    if (st_server_api_method_is(c, "PUT") && name)
        return st_server_api_replace(c, kind, ns ? ns : "default", name);
    if ((st_server_api_method_is(c, "DELETE") || st_server_api_method_is(c, "PATCH")) && name)
        return st_server_api_objects(c, kind, ns ? ns : "default", name);
    return st_server_api_reply_status(c, 405, "%s is not allowed here (see agent/API.md)",
                                      q->method);
}

/* The protobuf body as its JSON, then routed as a JSON request would be;
 * the fields Strata does not read become warnings. */
static int route_protobuf(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    st_error err = {0};
    _cleanup_json_ json_t *obj = NULL, *notes = NULL;
    int r = st_server_api_proto_to_json(q->body, q->body_len, &obj, &notes, &err);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return st_server_api_reply_status(c, r == -ENOTSUP ? 415 : 400, "%s", err.msg);
    _cleanup_free_ char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        return -ENOMEM;
    size_t i;
    json_t *note;
    json_array_foreach(notes, i, note) st_server_api_warn(c, "%s", json_string_value(note));
    struct st_server_request as_json = *q;
    as_json.body = text;
    as_json.body_len = strlen(text);
    as_json.content_type = "application/json";
    c->q = &as_json;
    r = route_request(c);
    c->q = q;
    return r;
}

static int route(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    if (q->tcp && !q->gated) {
        int r = st_server_api_gate(c->d, q, c->out);
        if (r <= 0)
            return r;
    }
    if (q->body_too_big || q->body_len > ST_SERVER_API_BODY_MAX)
        return st_server_api_reply_status(
            c, 413,
            "the request body is over %u bytes (3 MiB), the API's limit; apply "
            "fewer objects at a time (a Secret holds at most 1 MiB)",
            ST_SERVER_API_BODY_MAX);
    /* client-go's typed clients (kubectl create namespace, drain) send
     * built-in kinds only as protobuf, with no fallback to JSON: a create,
     * replace or eviction is read into JSON (api_proto.c) and routed as
     * JSON. Nothing else takes a protobuf body (patches are never one). */
    if (q->content_type && q->body_len &&
        strncmp(q->content_type, ST_SERVER_API_PROTOBUF, strlen(ST_SERVER_API_PROTOBUF)) == 0) {
        if (st_server_api_method_is(c, "POST") || st_server_api_method_is(c, "PUT"))
            return route_protobuf(c);
        return st_server_api_reply_status(
            c, 415, "the body is protobuf (%s): a %s reads JSON; send application/json",
            q->content_type, q->method);
    }
    return route_request(c);
}

int st_server_api_route(struct st_server *d, const struct st_server_request *q,
                        struct st_server_response *out)
{
    *out = (struct st_server_response){0};
    struct st_server_call c = {.d = d, .q = q, .out = out};
    int r = route(&c);
    if (r < 0)
        st_server_api_response_clear(out);
    return r;
}
