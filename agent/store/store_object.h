/* store_object.h (private to the store backends): what both backends must
 * agree on: the kinds and their tables, object validation, the fields the
 * store assigns (uid, resourceVersion, creationTimestamp) and selector
 * matching. No storage here. */
#ifndef STRATA_STORE_OBJECT_H
#define STRATA_STORE_OBJECT_H

#include <stdbool.h>
#include <time.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/store.h"

typedef struct st_store_kind {
    const char *kind;  /* "Pod" */
    const char *table; /* "pods" */
    bool namespaced;
} st_store_kind;

#define ST_STORE_KIND_COUNT 8
extern const st_store_kind st_store_kinds[ST_STORE_KIND_COUNT];

/* The kind's descriptor, or NULL with err set naming the kinds known. */
const st_store_kind *st_store_kind_find(const char *kind, st_error *err);

/* Checks obj is an object of a known kind with a valid metadata.name, and
 * fills the kind, namespace (defaulted) and name (borrowed from obj). */
int st_store_object_check(json_t *obj, const st_store_kind **kind, const char **ns,
                          const char **name, st_error *err);

/* The namespace a kind keeps: "" for cluster-scoped, "default" when unset. */
const char *st_store_ns_normalize(const st_store_kind *k, const char *ns);

/* A new metadata.uid: a random (version 4) UUID from libuuid, lowercase,
 * "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
#define ST_STORE_UID_LEN 37
void st_store_uid_new(char out[ST_STORE_UID_LEN]);

/* The name of the controller ownerReference (else the first), or NULL. */
const char *st_store_object_owner(json_t *obj);
/* spec.nodeName, or NULL. */
const char *st_store_object_node(json_t *obj);

/* A deep copy with metadata.uid/resourceVersion/creationTimestamp removed:
 * the content two writers compare, and what PostgreSQL stores as jsonb. */
json_t *st_store_object_content(json_t *obj);

/* Sets metadata.uid, .resourceVersion, .creationTimestamp, .namespace
 * (removed when ns is NULL or "": cluster-scoped). */
void st_store_object_stamp(json_t *obj, const char *ns, const char *uid, const char *rv,
                           const char *created);

/* What kubectl apply writes over cur (NULL: nothing stored): obj's content
 * with metadata.namespace ns (none for a cluster-scoped kind), and cur's
 * status when obj has none: status belongs to the controllers. */
json_t *st_store_apply_content(json_t *obj, json_t *cur, const st_store_kind *k, const char *ns);

/* *want: the metadata.resourceVersion an update of obj expects; -EINVAL
 * when there is none (an update needs the version it was read at). */
int st_store_update_rv(json_t *obj, const st_store_kind *k, const char *name, const char **want,
                       st_error *err);

/* The errors both backends report, in the same words (the not found,
 * exists and conflict ones are public: strata/store.h). A binding of a pod
 * already bound: -ST_ECONFLICT. */
int st_store_err_bound(st_error *err, const char *ns, const char *name, const char *node);

/* Sorts a JSON array of objects in place: by namespace then name, or by
 * resourceVersion (numerically) when by_rv. */
void st_store_array_sort(json_t *arr, bool by_rv);

/* The equality requirements "k=v" of a label selector as a JSON object
 * (new reference), for an indexed containment pre-filter. */
json_t *st_store_selector_equalities(const char *selector);

#endif
