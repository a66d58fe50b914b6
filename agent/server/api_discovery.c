/* api_discovery.c: what a Kubernetes client asks before any object:
 * /version, the health checks (/livez, /readyz), and discovery (/api,
 * /api/v1, /apis, /apis/GROUP, /apis/GROUP/VERSION), which tells kubectl
 * the resources, their kinds, verbs and short names. The resource table
 * here is the one list of what the API serves; api_openapi.c describes the
 * same resources. Discovery is answered in the unaggregated form
 * (APIVersions, APIGroupList, APIResourceList) with Content-Type
 * application/json: client-go asks for the aggregated form first and reads
 * the plain one when the Content-Type says that is what came. */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"

#include <stdio.h>
#include <string.h>

/* The version kubectl compares its own with (the Git version is
 * api_priv.h's): within one minor of 1.32 it warns of no skew. */
#define ST_API_MAJOR "1"
#define ST_API_MINOR "32"

#if defined(__x86_64__)
#define ST_API_ARCH "amd64"
#elif defined(__aarch64__)
#define ST_API_ARCH "arm64"
#else
#define ST_API_ARCH "unknown"
#endif

/* ---- what is served ---- */

static const char *const rw_verbs[] = {"create", "delete", "get",   "list",
                                       "patch",  "update", "watch", NULL};
static const char *const read_verbs[] = {"get", "list", "watch", NULL};
static const char *const node_verbs[] = {"delete", "get", "list", "patch", "update", "watch", NULL};
static const char *const get_verbs[] = {"get", NULL};
static const char *const list_verbs[] = {"get", "list", NULL};
static const char *const sub_verbs[] = {"get", "patch", "update", NULL};
static const char *const create_verbs[] = {"create", NULL};

/* Pod port-forward and the images are Strata's own (not the Kubernetes
 * forms), so discovery does not offer them to kubectl. */
const struct st_server_api_resource st_server_api_resources[] = {
    {.gv = "v1",
     .name = "pods",
     .singular = "pod",
     .kind = "Pod",
     .short_name = "po",
     .namespaced = true,
     .in_all = true,
     .verbs = rw_verbs},
    {.gv = "v1", .name = "pods/log", .kind = "Pod", .namespaced = true, .verbs = get_verbs},
    {.gv = "v1", .name = "pods/status", .kind = "Pod", .namespaced = true, .verbs = sub_verbs},
    {.gv = "v1",
     .name = "pods/eviction",
     .kind = "Eviction",
     .sub_group = "policy",
     .sub_version = "v1",
     .namespaced = true,
     .verbs = create_verbs},
    {.gv = "v1",
     .name = "secrets",
     .singular = "secret",
     .kind = "Secret",
     .namespaced = true,
     .verbs = rw_verbs},
    {.gv = "v1",
     .name = "services",
     .singular = "service",
     .kind = "Service",
     .short_name = "svc",
     .namespaced = true,
     .in_all = true,
     .verbs = rw_verbs},
    {.gv = "v1",
     .name = "endpoints",
     .singular = "endpoints",
     .kind = "Endpoints",
     .short_name = "ep",
     .namespaced = true,
     .verbs = rw_verbs},
    {.gv = "v1",
     .name = "events",
     .singular = "event",
     .kind = "Event",
     .short_name = "ev",
     .namespaced = true,
     .verbs = read_verbs},
    {.gv = "v1",
     .name = "nodes",
     .singular = "node",
     .kind = "Node",
     .short_name = "no",
     .verbs = node_verbs},
    {.gv = "v1",
     .name = "namespaces",
     .singular = "namespace",
     .kind = "Namespace",
     .short_name = "ns",
     .verbs = rw_verbs},
    {.gv = "apps/v1",
     .name = "deployments",
     .singular = "deployment",
     .kind = "Deployment",
     .short_name = "deploy",
     .namespaced = true,
     .in_all = true,
     .verbs = rw_verbs},
    {.gv = "apps/v1",
     .name = "deployments/scale",
     .kind = "Scale",
     .sub_group = "autoscaling",
     .sub_version = "v1",
     .namespaced = true,
     .verbs = sub_verbs},
    {.gv = "apps/v1",
     .name = "deployments/status",
     .kind = "Deployment",
     .namespaced = true,
     .verbs = sub_verbs},
    {.gv = "discovery.k8s.io/v1",
     .name = "endpointslices",
     .singular = "endpointslice",
     .kind = "EndpointSlice",
     .namespaced = true,
     .verbs = list_verbs},
    /* The host and leader leases of multi-host mode (issue 17): stratad
     * alone writes them, on the database's clock (strata/store_lease.h). */
    {.gv = "coordination.k8s.io/v1",
     .name = "leases",
     .singular = "lease",
     .kind = "Lease",
     .namespaced = true,
     .verbs = read_verbs},
    {0},
};

/* The group-versions, core first; the groups under /apis are the others. */
const char *const st_server_api_group_versions[] = {"v1", "apps/v1", "discovery.k8s.io/v1",
                                                    "coordination.k8s.io/v1", NULL};

bool st_server_api_resource_can(const struct st_server_api_resource *r, const char *verb)
{
    for (const char *const *v = r->verbs; *v; v++)
        if (strcmp(*v, verb) == 0)
            return true;
    return false;
}

bool st_server_api_resource_read_only(const struct st_server_api_resource *r)
{
    static const char *const writes[] = {"create", "update", "patch", "delete"};
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
        if (st_server_api_resource_can(r, writes[i]))
            return false;
    return true;
}

/* ---- the documents ---- */

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (; a && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *resource_list(const char *gv)
{
    json_t *res = json_array();
    for (const struct st_server_api_resource *r = st_server_api_resources; r->name; r++) {
        if (strcmp(r->gv, gv) != 0)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->name, "singularName",
                              r->singular ? r->singular : "", "namespaced", r->namespaced, "kind",
                              r->kind, "verbs", strings(r->verbs));
        if (o == NULL)
            continue;
        if (r->sub_group) {
            json_object_set_new(o, "group", json_string(r->sub_group));
            json_object_set_new(o, "version", json_string(r->sub_version));
        }
        if (r->short_name)
            json_object_set_new(o, "shortNames", json_pack("[s]", r->short_name));
        if (r->in_all)
            json_object_set_new(o, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, o);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", res);
}

/* An APIGroup: GROUP's versions (all of them preferred: one each). */
static json_t *group_of(const char *group)
{
    size_t n = strlen(group);
    json_t *versions = json_array();
    const char *preferred = NULL;
    for (const char *const *gv = st_server_api_group_versions; *gv; gv++) {
        if (strncmp(*gv, group, n) != 0 || (*gv)[n] != '/')
            continue;
        json_array_append_new(versions,
                              json_pack("{s:s, s:s}", "groupVersion", *gv, "version", *gv + n + 1));
        if (preferred == NULL)
            preferred = *gv;
    }
    if (preferred == NULL) {
        json_decref(versions);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:s}}", "kind", "APIGroup", "apiVersion", "v1",
                     "name", group, "versions", versions, "preferredVersion", "groupVersion",
                     preferred, "version", preferred + n + 1);
}

static json_t *group_list(void)
{
    json_t *groups = json_array();
    for (const char *const *gv = st_server_api_group_versions; *gv; gv++) {
        const char *slash = strchr(*gv, '/');
        if (slash == NULL)
            continue; /* the core group is /api's */
        char group[64];
        snprintf(group, sizeof(group), "%.*s", (int)(slash - *gv), *gv);
        bool seen = false; /* a group with two versions is listed once */
        for (size_t i = 0; i < json_array_size(groups); i++)
            seen |= strcmp(st_json_str_at(json_array_get(groups, i), "name"), group) == 0;
        if (seen)
            continue;
        json_t *o = group_of(group);
        json_object_del(o, "kind");
        json_object_del(o, "apiVersion");
        json_array_append_new(groups, o);
    }
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                     groups);
}

/* Where clients reach the API over TCP: the HTTPS port as it listens. */
static json_t *versions(const struct st_server *d)
{
    char addr[96];
    snprintf(addr, sizeof(addr), "%s:%u", d->api_host[0] ? d->api_host : "127.0.0.1",
             d->api_port ? d->api_port : 6443);
    return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                     "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                     addr);
}

static json_t *version_info(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", ST_API_MAJOR,
                     "minor", ST_API_MINOR, "gitVersion", ST_API_GIT_VERSION, "gitCommit", "",
                     "gitTreeState", "clean", "buildDate", __DATE__, "goVersion", "n/a", "compiler",
                     "gcc", "platform", "linux/" ST_API_ARCH);
}

/* ---- the endpoint ---- */

bool st_server_api_is_discovery(const struct st_server_call *c)
{
    size_t n = c->q->nseg;
    if (n >= 1 && st_server_api_seg_is(c, 0, "openapi"))
        return true;
    if (n == 1 && (st_server_api_seg_is(c, 0, "version") || st_server_api_seg_is(c, 0, "livez") ||
                   st_server_api_seg_is(c, 0, "readyz") || st_server_api_seg_is(c, 0, "api")))
        return true;
    if (n == 2 && st_server_api_seg_is(c, 0, "api") && st_server_api_seg_is(c, 1, "v1"))
        return true;
    return n >= 1 && n <= 3 && st_server_api_seg_is(c, 0, "apis");
}

static int reply_doc(struct st_server_call *c, json_t *doc)
{
    if (doc == NULL)
        return st_server_api_reply_status(c, 500, "out of memory building the document");
    int r = st_server_api_reply_json(c, 200, doc);
    json_decref(doc);
    return r;
}

int st_server_api_discovery(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    if (!st_server_api_method_is(c, "GET") && !st_server_api_method_is(c, "HEAD"))
        return st_server_api_reply_status(c, 405, "%s is not allowed here: %s is read with GET",
                                          q->method, q->seg[0]);
    if (st_server_api_seg_is(c, 0, "openapi"))
        return st_server_api_openapi(c);
    if (st_server_api_seg_is(c, 0, "livez") || st_server_api_seg_is(c, 0, "readyz"))
        return st_server_api_reply_text(c, 200, "text/plain", "ok", 2);
    if (st_server_api_seg_is(c, 0, "version"))
        return reply_doc(c, version_info());
    if (st_server_api_seg_is(c, 0, "api"))
        return reply_doc(c, q->nseg == 1 ? versions(c->d) : resource_list("v1"));
    if (q->nseg == 1)
        return reply_doc(c, group_list());
    char gv[128];
    snprintf(gv, sizeof(gv), "%s%s%s", q->seg[1], q->nseg == 3 ? "/" : "",
             q->nseg == 3 ? q->seg[2] : "");
    if (q->nseg == 2) {
        json_t *g = group_of(q->seg[1]);
        if (g)
            return reply_doc(c, g);
    } else {
        /* only a version served, never a resource of another */
        for (const char *const *v = st_server_api_group_versions; *v; v++)
            if (strcmp(*v, gv) == 0)
                return reply_doc(c, resource_list(gv));
    }
    return st_server_api_reply_status(c, 404,
                                      "the server could not find the requested resource: no API "
                                      "group %s (served: /api/v1, /apis/apps/v1, "
                                      "/apis/discovery.k8s.io/v1, "
                                      "/apis/coordination.k8s.io/v1)",
                                      gv);
}
