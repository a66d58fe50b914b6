/* api_present.c: stored objects turned into what the API shows (see
 * api_present.h). PostgreSQL's jsonb hands keys back shortest first
 * ("kind", "spec", "status", "metadata", "apiVersion") and the store keeps
 * fields only Strata reads; this is the one place that puts them back in
 * Kubernetes' shape, so every endpoint (get, list, watch, scale) agrees. */
#include "strata/api_present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/b64.h"
#include "strata/time.h"

/* ---- what Strata keeps for itself ----------------------------------------- */

static void strip_normalized(json_t *podspec)
{
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(podspec, lists[l]), i, c)
        {
            json_t *res = json_object_get(c, "resources");
            json_object_del(res, "strataNormalized");
        }
    }
}

static void move_last_reason(json_t *pod)
{
    json_t *st = json_object_get(pod, "status");
    json_t *reason = json_object_get(st, "lastReason");
    if (reason == NULL)
        return;
    if (json_is_string(reason)) {
        json_t *md = json_object_get(pod, "metadata");
        if (!json_is_object(md)) {
            md = json_object();
            json_object_set_new(pod, "metadata", md);
        }
        json_t *ann = json_object_get(md, "annotations");
        if (!json_is_object(ann)) {
            ann = json_object();
            json_object_set_new(md, "annotations", ann);
        }
        json_object_set(ann, ST_API_ANNOTATION_LAST_REASON, reason);
    }
    json_object_del(st, "lastReason");
}

/* stringData is write-only in Kubernetes: the apiserver folds it into data. */
static void fold_string_data(json_t *secret)
{
    json_t *sd = json_object_get(secret, "stringData");
    if (!json_is_object(sd)) {
        json_object_del(secret, "stringData");
        return;
    }
    json_t *data = json_object_get(secret, "data");
    if (!json_is_object(data)) {
        data = json_object();
        json_object_set_new(secret, "data", data);
    }
    const char *k;
    json_t *v;
    json_object_foreach(sd, k, v)
    {
        char *enc = NULL;
        if (json_is_string(v) &&
            st_b64_encode(json_string_value(v), json_string_length(v), &enc, NULL) == 0)
            json_object_set_new(data, k, json_string(enc));
        free(enc);
    }
    json_object_del(secret, "stringData");
}

/* ---- order and nulls ------------------------------------------------------ */

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *tidy(json_t *v);

/* Copies obj's non-null members into out: first the keys in lead (in that
 * order), then the rest by name. */
static void tidy_object(json_t *obj, json_t *out, const char *const *lead, size_t nlead)
{
    for (size_t i = 0; i < nlead; i++) {
        json_t *child = json_object_get(obj, lead[i]);
        if (child && !json_is_null(child))
            json_object_set_new(out, lead[i], tidy(child));
    }
    size_t n = json_object_size(obj), k = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (keys == NULL)
        return;
    const char *key;
    json_t *child;
    json_object_foreach(obj, key, child)
    {
        if (!json_is_null(child) && json_object_get(out, key) == NULL)
            keys[k++] = key;
    }
    qsort(keys, k, sizeof(*keys), cmp_key);
    for (size_t i = 0; i < k; i++)
        json_object_set_new(out, keys[i], tidy(json_object_get(obj, keys[i])));
    free(keys);
}

/* A deep copy with object keys by name and nulls left out. */
static json_t *tidy(json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        tidy_object(v, out, NULL, 0);
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_null(e))
                json_array_append_new(out, tidy(e));
        }
        return out;
    }
    return json_copy(v);
}

/* ---- API ------------------------------------------------------------------ */

/* The group-version of a stored kind (and of its List): the core group's
 * unless named here. */
static const char *api_version(const char *kind)
{
    static const struct {
        const char *kind, *gv;
    } groups[] = {
        {"Deployment", "apps/v1"},
        {"Lease", "coordination.k8s.io/v1"},
    };
    for (size_t i = 0; kind && i < sizeof(groups) / sizeof(groups[0]); i++)
        if (strcmp(groups[i].kind, kind) == 0)
            return groups[i].gv;
    return "v1";
}

void st_api_present(const char *kind, json_t **obj)
{
    json_t *o = *obj;
    if (!json_is_object(o) || kind == NULL)
        return;
    if (strcmp(kind, "Secret") == 0)
        fold_string_data(o);
    if (strcmp(kind, "Pod") == 0) {
        strip_normalized(json_object_get(o, "spec"));
        move_last_reason(o);
    }
    if (strcmp(kind, "Deployment") == 0)
        strip_normalized(
            json_object_get(json_object_get(json_object_get(o, "spec"), "template"), "spec"));
    if (!json_is_string(json_object_get(o, "apiVersion")))
        json_object_set_new(o, "apiVersion", json_string(api_version(kind)));
    if (!json_is_string(json_object_get(o, "kind")))
        json_object_set_new(o, "kind", json_string(kind));
    static const char *const lead[] = {"apiVersion", "kind", "metadata", "spec", "status"};
    json_t *out = json_object();
    tidy_object(o, out, lead, sizeof(lead) / sizeof(lead[0]));
    json_decref(o);
    *obj = out;
}

json_t *st_api_present_list(const char *kind, json_t *items, const char *resource_version)
{
    char list_kind[64];
    snprintf(list_kind, sizeof(list_kind), "%sList", kind);
    json_t *md = json_object();
    if (resource_version && *resource_version)
        json_object_set_new(md, "resourceVersion", json_string(resource_version));
    return json_pack("{s:s, s:s, s:o, s:O}", "apiVersion", api_version(kind), "kind", list_kind,
                     "metadata", md, "items", items);
}

json_t *st_api_present_deleted(const char *kind, json_t *last)
{
    json_t *gone = json_deep_copy(last);
    json_t *md = json_object_get(gone, "metadata");
    if (kind && strcmp(kind, "Pod") == 0 && json_is_object(md) &&
        !json_is_string(json_object_get(md, "deletionTimestamp"))) {
        char now[ST_TIME_RFC3339_LEN];
        st_time_now_rfc3339(now);
        json_object_set_new(md, "deletionTimestamp", json_string(now));
        json_object_set_new(gone, "metadata", tidy(md)); /* keys by name again */
    }
    return gone;
}
