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
#include "strata/store_lease.h"

typedef struct st_store_kind {
    const char *kind;  /* "Pod" */
    const char *table; /* "pods" */
    bool namespaced;
} st_store_kind;

#define ST_STORE_KIND_COUNT 9
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

/* ---- Leases (store_lease.c): the rules both backends take a lease by ---- */

/* Checks a lease call's arguments (holder NULL: release/get have none to
 * check but the name; duration_ms < 0: none given) and fills *obj (may be
 * NULL) with a new Lease without spec: apiVersion, kind, metadata. */
int st_store_lease_args(const char *ns, const char *name, const char *holder, int duration_ms,
                        json_t **obj, st_error *err);

/* The lease's time text (RFC 3339 in UTC with microseconds, as
 * Kubernetes' MicroTime: "2026-12-02T02:06:17.123000Z") of ms. */
#define ST_STORE_LEASE_TIME_LEN 40
void st_store_lease_time(int64_t ms, char out[ST_STORE_LEASE_TIME_LEN]);

/* What a try writes over cur (NULL: no lease) at now_ms: a new content
 * (new reference; it takes, creates or renews the lease), or NULL when
 * someone else holds it and it is left alone. The memory backend's rule;
 * PostgreSQL's statement (store_pg_lease.c) is the same rule in SQL. */
json_t *st_store_lease_next(json_t *cur, json_t *skel, const char *holder, int duration_ms,
                            int64_t now_ms);

/* The lease release leaves (new reference), or NULL when holder does not
 * hold cur. */
json_t *st_store_lease_released(json_t *cur, const char *holder, int64_t now_ms);

/* *out from a stored Lease (NULL: none) and the database's now. A lease
 * whose times do not parse reads as expired long ago (0). */
void st_store_lease_state_of(json_t *lease, int64_t db_now_ms, st_lease_state *out);

#endif
