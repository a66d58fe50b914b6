/* strategic_patch.c: Kubernetes' strategic merge patch for the kinds
 * Strata serves (what kubectl apply, cordon and edit send). It is a JSON
 * merge patch except for lists: a list whose Go type has a patch merge key
 * (containers by name, ports by containerPort or port, volumeMounts by
 * mountPath, conditions by type ...) is merged element by element, a list
 * with the merge strategy and no key (finalizers) is a union, others are
 * replaced. Directives: $patch (replace, delete, merge), $retainKeys,
 * $deleteFromPrimitiveList/FIELD and $setElementOrder/FIELD. The keys are
 * Kubernetes' (k8s.io/api's patchMergeKey tags), for these kinds only. */
#include "strata/object_patch.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <string.h>

#define DELETE_ME 1 /* merge_map's answer: {"$patch":"delete"} */

static const struct {
    const char *field, *key;
} merge_keys[] = {
    {"containers", "name"},
    {"initContainers", "name"},
    {"ephemeralContainers", "name"},
    {"volumes", "name"},
    {"env", "name"},
    {"imagePullSecrets", "name"},
    {"volumeMounts", "mountPath"},
    {"volumeDevices", "devicePath"},
    {"conditions", "type"},
    {"addresses", "type"}, /* a Node's status.addresses */
    {"ownerReferences", "uid"},
    {"hostAliases", "ip"},
    {"topologySpreadConstraints", "topologyKey"},
};

/* The merge key of a list field, NULL when the list is replaced. ports:
 * a container's merge by containerPort, a Service's by port. */
static const char *merge_key_of(const char *field, json_t *dst, json_t *patch)
{
    if (strcmp(field, "ports") == 0) {
        json_t *lists[] = {dst, patch};
        for (size_t l = 0; l < 2; l++) {
            size_t i;
            json_t *e;
            json_array_foreach(lists[l], i,
                               e) if (json_object_get(e, "containerPort")) return "containerPort";
        }
        return "port";
    }
    for (size_t i = 0; i < sizeof(merge_keys) / sizeof(merge_keys[0]); i++)
        if (strcmp(merge_keys[i].field, field) == 0)
            return merge_keys[i].key;
    return NULL;
}

/* Lists of scalars merged as sets (patchStrategy "merge" without a key). */
static bool primitive_merge(const char *field)
{
    return strcmp(field, "finalizers") == 0;
}

static const char *directive(json_t *obj)
{
    return json_string_value(json_object_get(obj, "$patch"));
}

static int merge_map(json_t *dst, json_t *patch, st_error *err);

/* A value new to dst: the patch without its directives. *out a new
 * reference, NULL when the patch deletes what is not there. */
static int fresh(json_t *patch, json_t **out, st_error *err)
{
    *out = NULL;
    if (!json_is_object(patch)) {
        *out = json_deep_copy(patch);
        return *out ? 0 : -ENOMEM;
    }
    json_t *obj = json_object();
    int r = merge_map(obj, patch, err);
    if (r != 0) {
        json_decref(obj);
        return r == DELETE_ME ? 0 : r;
    }
    *out = obj;
    return 0;
}

static ssize_t find_by_key(json_t *list, const char *key, json_t *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i,
                       e) if (json_equal(json_object_get(e, key), value)) return (ssize_t)i;
    return -1;
}

static ssize_t find_equal(json_t *list, json_t *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (json_equal(e, value)) return (ssize_t)i;
    return -1;
}

/* dst: the list as it is (may be NULL); *out the merged list. */
static int merge_list(const char *field, json_t *dst, json_t *patch, json_t **out, st_error *err)
{
    *out = NULL;
    size_t i;
    json_t *e;
    /* [{"$patch":"replace"}, ...]: the rest of the patch is the list. */
    bool replace = false;
    json_array_foreach(patch, i, e) if (json_is_object(e) && directive(e) &&
                                        strcmp(directive(e), "replace") == 0) replace = true;
    const char *key = merge_key_of(field, dst, patch);
    _cleanup_json_ json_t *list =
        replace || !json_is_array(dst) || (!key && !primitive_merge(field)) ? json_array()
                                                                            : json_deep_copy(dst);
    if (list == NULL)
        return -ENOMEM;
    json_array_foreach(patch, i, e)
    {
        if (replace && json_is_object(e) && directive(e) && json_object_size(e) == 1)
            continue;
        /* An element that is not an object, or whose key is null, matches
         * nothing: it would be appended again at every apply. */
        if (key && !replace && !json_is_object(e))
            return st_error_set(err, EINVAL,
                                "strategic merge patch: an element of %s is not an object; its "
                                "elements are objects merged by \"%s\"",
                                field, key);
        if (key && !replace) {
            json_t *kv = json_object_get(e, key);
            if (kv == NULL || json_is_null(kv))
                return st_error_set(err, EINVAL,
                                    "strategic merge patch: an element of %s has no \"%s\", the "
                                    "key its elements are merged by",
                                    field, key);
            ssize_t at = find_by_key(list, key, kv);
            if (directive(e) && strcmp(directive(e), "delete") == 0) {
                if (at >= 0)
                    json_array_remove(list, (size_t)at);
                continue;
            }
            if (at >= 0) {
                int r = merge_map(json_array_get(list, (size_t)at), e, err);
                if (r == DELETE_ME)
                    json_array_remove(list, (size_t)at);
                else if (r < 0)
                    return r;
                continue;
            }
        } else if (primitive_merge(field) && !replace && find_equal(list, e) >= 0)
            continue;
        json_t *v = NULL;
        int r = fresh(e, &v, err);
        if (r < 0)
            return r;
        if (v)
            json_array_append_new(list, v);
    }
    *out = json_incref(list);
    return 0;
}

/* $setElementOrder/FIELD: the elements named in order first, in that order,
 * then the others as they were. */
static void set_order(json_t *dst, const char *field, json_t *order)
{
    json_t *list = json_object_get(dst, field);
    if (!json_is_array(list) || !json_is_array(order))
        return;
    const char *key = merge_key_of(field, list, NULL);
    _cleanup_json_ json_t *rest = json_deep_copy(list);
    _cleanup_json_ json_t *sorted = json_array();
    size_t i;
    json_t *want;
    json_array_foreach(order, i, want)
    {
        ssize_t at = key && json_is_object(want)
                         ? find_by_key(rest, key, json_object_get(want, key))
                         : find_equal(rest, want);
        if (at < 0)
            continue;
        json_array_append(sorted, json_array_get(rest, (size_t)at));
        json_array_remove(rest, (size_t)at);
    }
    json_array_extend(sorted, rest);
    json_object_set(dst, field, sorted);
}

static int merge_value(json_t *dst, const char *k, json_t *v, st_error *err)
{
    json_t *cur = json_object_get(dst, k);
    if (json_is_null(v))
        return json_object_del(dst, k), 0;
    if (json_is_object(v) && json_is_object(cur)) {
        int r = merge_map(cur, v, err);
        if (r == DELETE_ME)
            json_object_del(dst, k);
        return r < 0 ? r : 0;
    }
    json_t *next = NULL;
    int r = json_is_array(v) ? merge_list(k, cur, v, &next, err) : fresh(v, &next, err);
    if (r < 0)
        return r;
    if (next == NULL)
        return json_object_del(dst, k), 0;
    return json_object_set_new(dst, k, next) == 0 ? 0 : -ENOMEM;
}

static const char DELETE_FROM[] = "$deleteFromPrimitiveList/";
static const char SET_ORDER[] = "$setElementOrder/";

/* 0, DELETE_ME when the patch says {"$patch":"delete"}, or -errno. */
static int merge_map(json_t *dst, json_t *patch, st_error *err)
{
    const char *d = directive(patch);
    if (d && strcmp(d, "delete") == 0)
        return DELETE_ME;
    if (d && strcmp(d, "replace") == 0)
        json_object_clear(dst);
    else if (d && strcmp(d, "merge") != 0)
        return st_error_set(err, EINVAL,
                            "strategic merge patch: unknown $patch \"%s\": use replace, delete or "
                            "merge",
                            d);
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (strncmp(k, DELETE_FROM, sizeof(DELETE_FROM) - 1) == 0) {
            json_t *list = json_object_get(dst, k + sizeof(DELETE_FROM) - 1);
            size_t i;
            json_t *gone;
            json_array_foreach(v, i, gone)
            {
                ssize_t at;
                while (json_is_array(list) && (at = find_equal(list, gone)) >= 0)
                    json_array_remove(list, (size_t)at);
            }
            continue;
        }
        if (k[0] == '$')
            continue; /* the directives of this map, and $setElementOrder after the merge */
        int r = merge_value(dst, k, v, err);
        if (r < 0)
            return r;
    }
    json_object_foreach(patch, k, v) if (strncmp(k, SET_ORDER, sizeof(SET_ORDER) - 1) == 0)
        set_order(dst, k + sizeof(SET_ORDER) - 1, v);
    json_t *retain = json_object_get(patch, "$retainKeys");
    if (json_is_array(retain)) {
        void *tmp;
        json_t *unused;
        json_object_foreach_safe(dst, tmp, k, unused)
        {
            bool keep = false;
            size_t i;
            json_t *name;
            json_array_foreach(retain, i, name) if (json_is_string(name) &&
                                                    strcmp(json_string_value(name), k) == 0) keep =
                true;
            if (!keep)
                json_object_del(dst, k);
        }
    }
    return 0;
}

int st_strategic_merge_patch(json_t *dst, json_t *patch, st_error *err)
{
    if (!json_is_object(dst) || !json_is_object(patch))
        return st_error_set(err, EINVAL,
                            "a strategic merge patch is a JSON object, such as "
                            "{\"spec\":{\"replicas\":2}}");
    int r = merge_map(dst, patch, err);
    if (r == DELETE_ME)
        return st_error_set(err, EINVAL, "a strategic merge patch cannot delete the object");
    return r;
}
