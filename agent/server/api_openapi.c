/* api_openapi.c: the OpenAPI v3 documents kubectl reads (/openapi/v3 and
 * one document per group-version): `kubectl explain` renders the kinds'
 * schemas, and `kubectl apply/create/replace` look for the
 * fieldValidation query parameter on the write operations to leave field
 * validation to the server (without it they would validate on the client
 * against /openapi/v2). The schemas come from the manifest reader's tables
 * (strata/manifest_openapi.h), so they say what apply accepts; the paths
 * from the resource table (api_discovery.c).
 *
 * The patch operations offer JSON patch and JSON merge patch but not
 * strategic merge patch: when kubectl apply sees strategic merge in a
 * group-version's document it computes its patches from that document's
 * schemas, which do not describe the inside of the fields Strata ignores;
 * without it kubectl computes them from the Kubernetes types it is built
 * with, which know every field. /openapi/v2 is not served (kubectl 1.32
 * reads v3 for explain and for the fieldValidation check). */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/manifest_openapi.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* "apps/v1" -> "apps" and "v1"; "v1" -> "" and "v1". */
static void split_gv(const char *gv, char *group, size_t cap, const char **version)
{
    const char *slash = strchr(gv, '/');
    snprintf(group, cap, "%.*s", slash ? (int)(slash - gv) : 0, gv);
    *version = slash ? slash + 1 : gv;
}

/* The Go package Kubernetes names a group's types after: "core" for the
 * core group, else the group's first label ("coordination.k8s.io" ->
 * "coordination"). */
static void group_package(const char *group, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", group[0] ? (int)strcspn(group, ".") : 4, group[0] ? group : "core");
}

/* The component name Kubernetes gives a kind: io.k8s.api.core.v1.Pod,
 * io.k8s.api.coordination.v1.Lease. */
static void schema_name(const char *gv, const char *kind, char *out, size_t cap)
{
    char group[64], pkg[64];
    const char *version;
    split_gv(gv, group, sizeof(group), &version);
    group_package(group, pkg, sizeof(pkg));
    snprintf(out, cap, "io.k8s.api.%s.%s.%s", pkg, version, kind);
}

/* A kind the manifest reader has no table for (Node, Namespace, Event):
 * the fields every object has, the rest as it comes. */
static json_t *plain_schema(const char *gv, const char *kind)
{
    char group[64];
    const char *version;
    split_gv(gv, group, sizeof(group), &version);
    return json_pack(
        "{s:s, s:s, s:b, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:b, s:s}}, s:[{s:s, s:s, s:s}]}",
        "type", "object", "description",
        "An object stratad keeps; its fields are those of Kubernetes' kind of the same name.",
        "x-kubernetes-preserve-unknown-fields", 1, "properties", "apiVersion", "type", "string",
        "description", "The API group and version of the object's schema.", "kind", "type",
        "string", "description", "The kind of object.", "metadata", "type", "object",
        "x-kubernetes-preserve-unknown-fields", 1, "description",
        "The object's name, labels and annotations, and what stratad records about it.",
        "x-kubernetes-group-version-kind", "group", group, "kind", kind, "version", version);
}

static json_t *query_param(const char *name, const char *text)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", name, "in", "query", "description", text,
                     "schema", "type", "string");
}

static json_t *path_param(const char *name, const char *text)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:{s:s}}", "name", name, "in", "path", "description",
                     text, "required", 1, "schema", "type", "string");
}

static json_t *json_content(const char *ref)
{
    return ref ? json_pack("{s:{s:{s:s}}}", "application/json", "schema", "$ref", ref)
               : json_pack("{s:{s:{s:s}}}", "application/json", "schema", "type", "object");
}

/* One operation on r: action is Kubernetes' x-kubernetes-action. */
static json_t *operation(const struct st_server_api_resource *r, const char *action, bool all_ns,
                         const char *ref)
{
    char group[64], id[128];
    const char *version;
    split_gv(r->gv, group, sizeof(group), &version);
    /* patchCoreV1NamespacedPod, listAppsV1DeploymentForAllNamespaces,
     * listCoordinationV1NamespacedLease */
    char g[64], v[32];
    group_package(group, g, sizeof(g));
    snprintf(v, sizeof(v), "%s", version);
    g[0] = (char)toupper((unsigned char)g[0]);
    v[0] = (char)toupper((unsigned char)v[0]);
    snprintf(id, sizeof(id), "%s%s%s%s%s%s", action, g, v,
             r->namespaced && !all_ns ? "Namespaced" : "", r->kind,
             all_ns ? "ForAllNamespaces" : "");
    bool list = strcmp(action, "list") == 0;
    json_t *op = json_pack("{s:s, s:s, s:o, s:s, s:{s:s, s:s, s:s}}", "operationId", id,
                           "description", "", "responses",
                           json_pack("{s:{s:s, s:o}}", "200", "description", "OK", "content",
                                     json_content(list ? NULL : ref)),
                           "x-kubernetes-action", action, "x-kubernetes-group-version-kind",
                           "group", group, "version", version, "kind", r->kind);
    if (op == NULL)
        return NULL;
    json_t *params = json_array();
    if (list) {
        json_array_append_new(params, query_param("labelSelector", "Only objects whose labels "
                                                                   "match this selector."));
        json_array_append_new(params, query_param("watch", "Stream changes instead of a list."));
        json_array_append_new(params,
                              query_param("resourceVersion", "Watch from after this version."));
    }
    bool write =
        strcmp(action, "post") == 0 || strcmp(action, "put") == 0 || strcmp(action, "patch") == 0;
    if (write) {
        json_array_append_new(params,
                              query_param("dryRun", "All: check the write, store nothing."));
        json_array_append_new(params,
                              query_param("fieldManager", "The name of the writer (recorded)."));
        json_array_append_new(
            params, query_param("fieldValidation",
                                "What the server does with fields it does not know: Strict "
                                "refuses the write, Warn (the default) answers a Warning header "
                                "for each, Ignore drops them silently."));
        json_t *body = strcmp(action, "patch") == 0
                           ? json_pack("{s:{s:{s:s}}, s:{s:{s:s}}}", "application/json-patch+json",
                                       "schema", "type", "object", "application/merge-patch+json",
                                       "schema", "type", "object")
                           : json_content(ref);
        json_object_set_new(op, "requestBody",
                            json_pack("{s:o, s:b}", "content", body, "required", 1));
    }
    if (strcmp(action, "delete") == 0) {
        json_array_append_new(params, query_param("propagationPolicy",
                                                  "Background, Foreground or Orphan: what "
                                                  "happens to the objects this one owns."));
        json_array_append_new(params,
                              query_param("gracePeriodSeconds", "Seconds the pods get to stop."));
    }
    json_object_set_new(op, "parameters", params);
    return op;
}

/* The paths of r: the collection (list, create), one object (get, put,
 * patch, delete) and, when namespaced, the list across namespaces. */
static void add_paths(json_t *paths, const struct st_server_api_resource *r, const char *ref)
{
    char base[128], coll[192], item[224];
    snprintf(base, sizeof(base), "%s%s", strchr(r->gv, '/') ? "/apis/" : "/api/", r->gv);
    snprintf(coll, sizeof(coll), "%s%s/%s", base, r->namespaced ? "/namespaces/{namespace}" : "",
             r->name);
    snprintf(item, sizeof(item), "%s/{name}", coll);
    json_t *c = json_object(), *i = json_object();
    json_t *cp = json_array(), *ip = json_array();
    if (r->namespaced) {
        json_array_append_new(cp, path_param("namespace", "The object's namespace."));
        json_array_append_new(ip, path_param("namespace", "The object's namespace."));
    }
    json_array_append_new(ip, path_param("name", "The object's name."));
    json_object_set_new(c, "parameters", cp);
    json_object_set_new(i, "parameters", ip);
    static const struct {
        const char *verb, *method, *action;
        bool item;
    } ops[] = {
        {"list", "get", "list", false},    {"create", "post", "post", false},
        {"get", "get", "get", true},       {"update", "put", "put", true},
        {"patch", "patch", "patch", true}, {"delete", "delete", "delete", true},
    };
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
        if (st_server_api_resource_can(r, ops[k].verb))
            json_object_set_new(ops[k].item ? i : c, ops[k].method,
                                operation(r, ops[k].action, false, ref));
    json_object_set_new(paths, coll, c);
    json_object_set_new(paths, item, i);
    if (r->namespaced && st_server_api_resource_can(r, "list")) {
        char all[160];
        snprintf(all, sizeof(all), "%s/%s", base, r->name);
        json_object_set_new(paths, all, json_pack("{s:o}", "get", operation(r, "list", true, ref)));
    }
}

/* The OpenAPI document of one group-version ("v1", "apps/v1"). */
json_t *st_server_api_openapi_doc(const char *gv)
{
    json_t *paths = json_object(), *schemas = json_object();
    for (const struct st_server_api_resource *r = st_server_api_resources; r->name; r++) {
        if (strcmp(r->gv, gv) != 0 || strchr(r->name, '/'))
            continue;
        char name[128], ref[160];
        schema_name(gv, r->kind, name, sizeof(name));
        snprintf(ref, sizeof(ref), "#/components/schemas/%s", name);
        json_t *s = st_manifest_openapi_schema(gv, r->kind);
        json_object_set_new(schemas, name, s ? s : plain_schema(gv, r->kind));
        add_paths(paths, r, ref);
    }
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     "Strata", "version", ST_API_GIT_VERSION, "paths", paths, "components",
                     "schemas", schemas);
}

/* The document's hash, as the apiserver puts it in serverRelativeURL so
 * clients can cache by URL: SHA-512 of the document, upper-case hex. */
static int doc_hash(json_t *doc, char *out, size_t cap)
{
    _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (text == NULL || !EVP_Digest(text, strlen(text), md, &len, EVP_sha512(), NULL))
        return -1;
    for (unsigned i = 0; i < len && 2 * i + 2 < cap; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
    return 0;
}

static json_t *root_doc(void)
{
    json_t *paths = json_object();
    for (const char *const *gv = st_server_api_group_versions; *gv; gv++) {
        _cleanup_json_ json_t *doc = st_server_api_openapi_doc(*gv);
        char hash[2 * EVP_MAX_MD_SIZE + 1] = "";
        char key[128], url[sizeof("/openapi/v3/?hash=") + sizeof(key) + sizeof(hash)];
        if (doc == NULL || doc_hash(doc, hash, sizeof(hash)) < 0) {
            json_decref(paths);
            return NULL;
        }
        snprintf(key, sizeof(key), "%s%s", strchr(*gv, '/') ? "apis/" : "api/", *gv);
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, hash);
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
    }
    return json_pack("{s:o}", "paths", paths);
}

int st_server_api_openapi(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    json_t *doc = NULL;
    if (st_server_api_seg_is(c, 1, "v3")) {
        if (q->nseg == 2) {
            doc = root_doc();
        } else {
            /* api/v1 or apis/GROUP/VERSION */
            char gv[128] = "";
            if (q->nseg == 4 && st_server_api_seg_is(c, 2, "api"))
                snprintf(gv, sizeof(gv), "%s", q->seg[3]);
            else if (q->nseg == 5 && st_server_api_seg_is(c, 2, "apis"))
                snprintf(gv, sizeof(gv), "%s/%s", q->seg[3], q->seg[4]);
            for (const char *const *v = st_server_api_group_versions; *v && gv[0]; v++)
                if (strcmp(*v, gv) == 0)
                    doc = st_server_api_openapi_doc(gv);
            if (doc == NULL)
                return st_server_api_reply_status(
                    c, 404,
                    "no OpenAPI document here: /openapi/v3 lists them (api/v1, apis/apps/v1)");
        }
    } else {
        return st_server_api_reply_status(c, 404,
                                          "Strata serves OpenAPI v3 only, at /openapi/v3 "
                                          "(kubectl 1.27 and later read it)");
    }
    if (doc == NULL)
        return st_server_api_reply_status(c, 500, "out of memory building the OpenAPI document");
    int r = st_server_api_reply_json(c, 200, doc);
    json_decref(doc);
    return r;
}
