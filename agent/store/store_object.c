/* store_object.c: the rules both store backends share, so the in-memory
 * store the unit tests use cannot drift from PostgreSQL: kinds, validation,
 * assigned metadata, selectors. No storage and no I/O except the random
 * bytes of UIDs (libuuid) and Event names. */
#include "store_object.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <uuid/uuid.h>

#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/label_selector.h"
#include "strata/names.h"
#include "strata/time.h"

const st_store_kind st_store_kinds[ST_STORE_KIND_COUNT] = {
    {"Pod", "pods", true},
    {"Deployment", "deployments", true},
    {"Secret", "secrets", true},
    {"Node", "nodes", false},
    {"Event", "events", true},
    {"Service", "services", true},
    {"Endpoints", "endpoints", true},
    {"Namespace", "namespaces", false},
    {"Lease", "leases", true},
};

const st_store_kind *st_store_kind_find(const char *kind, st_error *err)
{
    for (size_t i = 0; kind && i < ST_STORE_KIND_COUNT; i++)
        if (strcmp(st_store_kinds[i].kind, kind) == 0)
            return &st_store_kinds[i];
    st_error_set(err, EINVAL,
                 "kind \"%s\" is not kept by the store; use Pod, Deployment, Secret, Node, "
                 "Event, Service, Endpoints, Namespace or Lease",
                 kind ? kind : "(missing)");
    return NULL;
}

const char *st_store_ns_normalize(const st_store_kind *k, const char *ns)
{
    if (!k->namespaced)
        return "";
    return ns && *ns ? ns : "default";
}

int st_store_object_check(json_t *obj, const st_store_kind **kind, const char **ns,
                          const char **name, st_error *err)
{
    if (!json_is_object(obj))
        return st_error_set(err, EINVAL, "object is not a JSON object");
    const char *k = json_string_value(json_object_get(obj, "kind"));
    const st_store_kind *sk = st_store_kind_find(k, err);
    if (sk == NULL)
        return -EINVAL;
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md))
        return st_error_set(err, EINVAL, "%s: metadata is missing; give metadata.name", k);
    const char *nm = json_string_value(json_object_get(md, "name"));
    if (nm == NULL || !st_name_dns_subdomain_ok(nm))
        return st_error_set(err, EINVAL,
                            "%s: metadata.name \"%s\" is invalid: use 1-253 lowercase letters, "
                            "digits, '-' or '.', starting and ending with a letter or digit",
                            k, nm ? nm : "(missing)");
    json_t *jns = json_object_get(md, "namespace");
    if (jns && !json_is_string(jns))
        return st_error_set(err, EINVAL, "%s %s: metadata.namespace must be a string", k, nm);
    const char *n = st_store_ns_normalize(sk, json_string_value(jns));
    if (sk->namespaced && !st_name_dns_subdomain_ok(n))
        return st_error_set(err, EINVAL, "%s %s: metadata.namespace \"%s\" is invalid", k, nm, n);
    json_t *labels = json_object_get(md, "labels");
    if (labels && !json_is_object(labels))
        return st_error_set(err, EINVAL, "%s %s: metadata.labels must be an object", k, nm);
    *kind = sk;
    *ns = n;
    *name = nm;
    return 0;
}

void st_store_uid_new(char out[ST_STORE_UID_LEN])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

const char *st_store_object_owner(json_t *obj)
{
    json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        if (json_is_true(json_object_get(ref, "controller")))
            return json_string_value(json_object_get(ref, "name"));
    }
    return json_string_value(json_object_get(json_array_get(refs, 0), "name"));
}

const char *st_store_object_node(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
}

json_t *st_store_object_content(json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_t *md = json_object_get(c, "metadata");
    json_object_del(md, "uid");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "creationTimestamp");
    return c;
}

void st_store_object_stamp(json_t *obj, const char *ns, const char *uid, const char *rv,
                           const char *created)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    if (ns && *ns)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace"); /* cluster-scoped */
    json_object_set_new(md, "uid", json_string(uid));
    json_object_set_new(md, "resourceVersion", json_string(rv));
    json_object_set_new(md, "creationTimestamp", json_string(created));
}

json_t *st_store_apply_content(json_t *obj, json_t *cur, const st_store_kind *k, const char *ns)
{
    json_t *c = st_store_object_content(obj);
    json_t *md = json_object_get(c, "metadata");
    if (k->namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace");
    if (cur && !json_object_get(c, "status") && json_object_get(cur, "status"))
        json_object_set(c, "status", json_object_get(cur, "status"));
    return c;
}

int st_store_update_rv(json_t *obj, const st_store_kind *k, const char *name, const char **want,
                       st_error *err)
{
    *want = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (*want == NULL)
        return st_error_set(err, EINVAL,
                            "%s %s: metadata.resourceVersion is required to update; get the "
                            "object, change it and update that",
                            k->kind, name);
    return 0;
}

/* The resource's name as the apiserver's messages give it ("pods"). */
static const char *resource_of(const char *kind)
{
    for (size_t i = 0; kind && i < ST_STORE_KIND_COUNT; i++)
        if (strcmp(st_store_kinds[i].kind, kind) == 0)
            return st_store_kinds[i].table;
    return kind;
}

/* The three messages read as the apiserver's, word for word, so kubectl
 * and stratactl users see what they know. */
int st_store_err_conflict(st_error *err, const char *kind, const char *ns, const char *name)
{
    (void)ns;
    return st_error_set(err, ST_ECONFLICT,
                        "Operation cannot be fulfilled on %s \"%s\": the object has been "
                        "modified; please apply your changes to the latest version and try again",
                        resource_of(kind), name);
}

int st_store_err_not_found(st_error *err, const char *kind, const char *ns, const char *name)
{
    (void)ns;
    return st_error_set(err, ENOENT, "%s \"%s\" not found", resource_of(kind), name);
}

int st_store_err_exists(st_error *err, const char *kind, const char *ns, const char *name)
{
    (void)ns;
    return st_error_set(err, EEXIST, "%s \"%s\" already exists", resource_of(kind), name);
}

int st_store_err_bound(st_error *err, const char *ns, const char *name, const char *node)
{
    return st_error_set(err, ST_ECONFLICT,
                        "pod %s/%s is already bound to node %s; a pod is bound once", ns, name,
                        node);
}

/* ---- selectors ---- */

/* The value a field selector compares: a string as is, a number or bool as
 * text, anything missing or null as "". Copied into buf. */
static void field_text(json_t *obj, const char *path, char *buf, size_t len)
{
    json_t *cur = st_json_at(obj, path);
    buf[0] = '\0';
    if (json_is_string(cur))
        snprintf(buf, len, "%s", json_string_value(cur));
    else if (json_is_integer(cur))
        snprintf(buf, len, "%lld", (long long)json_integer_value(cur));
    else if (json_is_real(cur))
        snprintf(buf, len, "%g", json_real_value(cur));
    else if (json_is_boolean(cur))
        snprintf(buf, len, "%s", json_is_true(cur) ? "true" : "false");
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* One field selector term "k=v", "k==v", "k!=v" split in place. */
typedef struct requirement {
    char *key;
    char *value;
    bool negate;
} requirement;

static int requirement_parse(char *term, const char *what, requirement *r, st_error *err)
{
    term = trim(term);
    r->negate = false;
    r->value = NULL;
    char *op = strstr(term, "!=");
    if (op) {
        r->negate = true;
        *op = '\0';
        r->value = trim(op + 2);
    } else if ((op = strchr(term, '=')) != NULL) {
        *op = '\0';
        r->value = trim(op + (op[1] == '=' ? 2 : 1));
    } else {
        return st_error_set(err, EINVAL, "%s term \"%s\" needs = or !=", what, term);
    }
    r->key = trim(term);
    if (*r->key == '\0' || strpbrk(r->key, " ()!=") || strpbrk(r->value, " ()!="))
        return st_error_set(err, EINVAL,
                            "%s term \"%s\" is not supported: use key=value or "
                            "key!=value",
                            what, r->key);
    return 0;
}

/* A field selector's comma-separated terms; 1 when all hold. */
static int field_selector_match(const char *sel, json_t *obj, st_error *err)
{
    if (sel == NULL || *sel == '\0')
        return 1;
    _cleanup_free_ char *copy = strdup(sel);
    if (copy == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    char *save = NULL;
    int all = 1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        requirement r = {0};
        int rc = requirement_parse(t, "field selector", &r, err);
        if (rc < 0)
            return rc;
        char buf[512];
        field_text(obj, r.key, buf, sizeof(buf));
        if ((strcmp(buf, r.value) == 0) == r.negate)
            all = 0;
    }
    return all;
}

/* Labels follow Kubernetes' whole grammar (label_selector.c). */
static int label_selector_match(const char *sel, json_t *obj, st_error *err)
{
    if (sel == NULL || *sel == '\0')
        return 1;
    st_label_selector *ls = NULL;
    int r = st_label_selector_parse(sel, &ls, err);
    if (r < 0)
        return r;
    bool ok =
        st_label_selector_matches(ls, json_object_get(json_object_get(obj, "metadata"), "labels"));
    st_label_selector_free(ls);
    return ok;
}

int st_store_query_match(const st_store_query *q, json_t *obj, st_error *err)
{
    json_t *md = json_object_get(obj, "metadata");
    if (q->namespace && *q->namespace) {
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        if (ns == NULL || strcmp(ns, q->namespace) != 0)
            return 0;
    }
    if (q->owner) {
        const char *o = st_store_object_owner(obj);
        if (o == NULL || strcmp(o, q->owner) != 0)
            return 0;
    }
    int r = label_selector_match(q->label_selector, obj, err);
    if (r <= 0)
        return r;
    return field_selector_match(q->field_selector, obj, err);
}

json_t *st_store_selector_equalities(const char *selector)
{
    st_label_selector *ls = NULL;
    if (st_label_selector_parse(selector, &ls, NULL) < 0)
        return json_object();
    json_t *eq = st_label_selector_equalities(ls);
    st_label_selector_free(ls);
    return eq;
}

/* ---- events and ordering ---- */

int st_store_event_prepare(json_t *event, json_t **out, st_error *err)
{
    if (!json_is_object(event))
        return st_error_set(err, EINVAL, "event is not a JSON object");
    json_t *ev = json_deep_copy(event);
    json_object_set_new(ev, "kind", json_string("Event"));
    if (!json_object_get(ev, "apiVersion"))
        json_object_set_new(ev, "apiVersion", json_string("v1"));
    json_t *md = json_object_get(ev, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(ev, "metadata", md);
    }
    json_t *inv = json_object_get(ev, "involvedObject");
    if (!json_object_get(md, "namespace")) {
        const char *ns = json_string_value(json_object_get(inv, "namespace"));
        json_object_set_new(md, "namespace", json_string(ns && *ns ? ns : "default"));
    }
    if (!json_object_get(md, "name")) {
        unsigned long long r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
            json_decref(ev);
            return st_error_sys(err, errno, "getrandom for an event name");
        }
        const char *base = json_string_value(json_object_get(inv, "name"));
        char name[300];
        snprintf(name, sizeof(name), "%.200s.%016llx", base && *base ? base : "event", r);
        json_object_set_new(md, "name", json_string(name));
    }
    char now[32];
    st_time_now_rfc3339(now);
    if (!json_object_get(ev, "count"))
        json_object_set_new(ev, "count", json_integer(1));
    if (!json_object_get(ev, "firstTimestamp"))
        json_object_set_new(ev, "firstTimestamp", json_string(now));
    if (!json_object_get(ev, "lastTimestamp"))
        json_object_set_new(ev, "lastTimestamp", json_string(now));
    if (!json_object_get(ev, "type"))
        json_object_set_new(ev, "type", json_string("Normal"));
    *out = ev;
    return 0;
}

static const char *md_str(json_t *o, const char *field)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), field));
    return s ? s : "";
}

static int cmp_name(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(md_str(x, "namespace"), md_str(y, "namespace"));
    return c ? c : strcmp(md_str(x, "name"), md_str(y, "name"));
}

static int cmp_rv(const void *a, const void *b)
{
    long long x = strtoll(md_str(*(json_t *const *)a, "resourceVersion"), NULL, 10);
    long long y = strtoll(md_str(*(json_t *const *)b, "resourceVersion"), NULL, 10);
    return (x > y) - (x < y);
}

void st_store_array_sort(json_t *arr, bool by_rv)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return;
    json_t **v = malloc(n * sizeof(*v));
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), by_rv ? cmp_rv : cmp_name);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}
