/* store.h: the agent's state store: Kubernetes-shaped JSON objects (Pod,
 * Deployment, Secret, Node, Event, Service, Endpoints, Namespace, Lease)
 * behind an ops table,
 * so PostgreSQL and the in-memory backend differ without #ifdefs. It keeps
 * objects; it never reconciles, schedules or talks to libvirt. */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <errno.h>
#include <stddef.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/secret_crypt.h"

/* An update or delete whose expected metadata.resourceVersion is not the
 * stored one returns -ST_ECONFLICT ("the object has been modified; please
 * apply your changes to the latest version"): optimistic concurrency, two
 * writers never lose each other's update. Missing objects: -ENOENT; create
 * of an existing one: -EEXIST; an invalid object: -EINVAL. */
#define ST_ECONFLICT ESTALE

/* The store cannot be reached (its PostgreSQL stopped, restarting, or the
 * connection lost and not back yet): -ST_ESTORE_DOWN, which the API answers
 * with 503 while stratad tries again every ST_STORE_RETRY_S seconds. Its
 * disk is full: -ST_ESTORE_FULL (507), and nothing was written. Codes of
 * their own because ENOSPC already means "no address or memory left" to the
 * API's callers, and EIO "something else broke" (500). */
#define ST_ESTORE_DOWN   EHOSTDOWN
#define ST_ESTORE_FULL   EDQUOT
#define ST_STORE_RETRY_S 2

/* Kinds the store keeps: "Pod", "Deployment", "Secret", "Event",
 * "Service", "Endpoints", "Lease" (strata/store_lease.h) are namespaced
 * (metadata.namespace defaults to "default"); "Node" and "Namespace" are
 * cluster-scoped (namespace ""). The store does not check that an
 * object's namespace exists: the API does (controller.h,
 * st_control_namespace_admit). The store assigns metadata.uid (a random
 * UUID from libuuid), metadata.resourceVersion (a number as a string,
 * increasing across all kinds) and metadata.creationTimestamp (RFC 3339
 * UTC); what a caller puts there is ignored, except the resourceVersion an
 * update expects. */

typedef struct st_store_query {
    const char *kind;           /* required */
    const char *namespace;      /* NULL or "": every namespace */
    const char *label_selector; /* NULL: any; "app=web,tier!=db,canary,!legacy" */
    /* NULL: any; dotted JSON paths, = or !=, comma-separated:
     * "spec.nodeName=n1", "spec.nodeName=" (unscheduled), "status.phase!=Failed" */
    const char *field_selector;
    const char *owner; /* NULL: any; name of the controller ownerReference (Pods) */
} st_store_query;

typedef enum st_store_op_kind {
    ST_STORE_CREATE, /* fails -EEXIST */
    ST_STORE_UPDATE, /* needs metadata.resourceVersion; -ST_ECONFLICT, -ENOENT */
    ST_STORE_DELETE, /* kind + metadata.name/namespace; resourceVersion checked if set */
    ST_STORE_APPLY,  /* create, or replace whatever is stored (kubectl apply) */
} st_store_op_kind;

typedef enum st_store_action {
    ST_STORE_NONE,
    ST_STORE_CREATED,
    ST_STORE_CONFIGURED, /* updated or deleted */
    ST_STORE_UNCHANGED,  /* APPLY of what was already stored: nothing written */
} st_store_action;

typedef struct st_store_op {
    st_store_op_kind op;
    json_t *object;         /* borrowed; never modified */
    json_t *result;         /* out: the stored object (new reference), NULL for DELETE */
    st_store_action action; /* out */
} st_store_op;

/* Scheduling many pods at once: sets spec.nodeName of each pod, which must
 * exist and be unbound (spec.nodeName unset or ""), all in one transaction. */
typedef struct st_store_binding {
    const char *namespace;
    const char *name;
    const char *node_name;
} st_store_binding;

/* A store: an in-memory or a PostgreSQL backend behind the functions
 * below (store_backend.h is the backends' contract). Every store is
 * thread-safe: the calls on one store are serialized (store_lock.c). */
typedef struct st_store st_store;

/* The in-memory backend (unit tests, benchmarks): same semantics, nothing
 * persisted. */
int st_store_mem_open(st_store **out, st_error *err);

/* The PostgreSQL backend. Applies pending migrations (their count in
 * *migrations_applied, may be NULL). Secrets are sealed with key (borrowed;
 * it must outlive the store); key NULL: writing a Secret fails. A connection
 * lost (server restart) is re-established and the operation re-run once.
 * One connection: the store's calls are serialized anyway. */
int st_store_pg_open(const char *dsn, const st_secret_key *key, int *migrations_applied,
                     st_store **out, st_error *err);

/* *out: a new reference the caller owns and may modify. */
int st_store_get(st_store *s, const char *kind, const char *ns, const char *name, json_t **out,
                 st_error *err);
/* *out: a new JSON array, sorted by namespace then name. */
int st_store_list(st_store *s, const st_store_query *q, json_t **out, st_error *err);
/* obj is not modified; *out (optional) is the stored object. */
int st_store_create(st_store *s, json_t *obj, json_t **out, st_error *err);
/* obj carries the resourceVersion it was read at; uid and
 * creationTimestamp are kept from the stored object. */
int st_store_update(st_store *s, json_t *obj, json_t **out, st_error *err);
/* expected_rv NULL: delete whatever is stored. */
int st_store_delete(st_store *s, const char *kind, const char *ns, const char *name,
                    const char *expected_rv, st_error *err);
/* All ops or none; on failure every result is NULL and err names the op. */
int st_store_apply_batch(st_store *s, st_store_op *ops, size_t n, st_error *err);
int st_store_bind_pods(st_store *s, const st_store_binding *b, size_t n, st_error *err);
/* A core/v1 Event; metadata.name is generated when missing, count
 * defaults to 1, firstTimestamp/lastTimestamp to now. */
int st_store_append_event(st_store *s, json_t *event, json_t **out, st_error *err);
/* q->kind is ignored; oldest first (by resourceVersion). */
int st_store_list_events(st_store *s, const st_store_query *q, json_t **out, st_error *err);
/* NULL-safe. */
void st_store_close(st_store *s);
/* Whether the store answers now: 0, or -ST_ESTORE_DOWN with err saying why
 * (a store that is down is tried again when ST_STORE_RETRY_S has passed
 * since the last try, so calling this often costs nothing). */
int st_store_ping(st_store *s, st_error *err);

/* The change feed: after every write that succeeded (create, update,
 * delete, each item of a batch, each pod bound, appended events), fn gets
 * type ("ADDED", "MODIFIED", "DELETED") and the object as stored (borrowed,
 * never changed; fn may keep a reference). A delete takes a resourceVersion
 * of its own, so a DELETED object sorts after every earlier change. fn runs
 * with the store's lock held, in resourceVersion order, after the commit:
 * it must be quick (copy into a queue) and must not call the store. One
 * hook per store; fn NULL removes it. */
typedef void (*st_store_watch_fn)(void *arg, const char *type, json_t *obj);
void st_store_set_watch_hook(st_store *s, st_store_watch_fn fn, void *arg);
/* st_store_list, and *rv: the newest resourceVersion the hook had been
 * given when the list was read (0: none yet): every change up to *rv is in
 * the list, every later one reaches the hook after it. A watch starts there
 * so nothing is lost or seen twice. */
int st_store_list_at(st_store *s, const st_store_query *q, json_t **out, unsigned long long *rv,
                     st_error *err);
/* obj's metadata.resourceVersion as a number (0: none). */
unsigned long long st_store_object_rv(json_t *obj);
/* Does obj match the query's namespace, labels, fields and owner? A bad
 * selector is -EINVAL; otherwise 1 (match) or 0. The rule lists filter by,
 * for those who filter a change feed. */
int st_store_query_match(const st_store_query *q, json_t *obj, st_error *err);

/* A copy of an Event ready to store: kind/apiVersion, metadata.name
 * (generated from involvedObject.name when missing), namespace (from
 * involvedObject), count 1, first/lastTimestamp now, type Normal. */
int st_store_event_prepare(json_t *event, json_t **out, st_error *err);

/* What a mutate function decided about the object it was given. */
typedef enum st_store_verdict {
    ST_STORE_KEEP = 0,   /* nothing to write */
    ST_STORE_WRITE = 1,  /* write the object as changed */
    ST_STORE_REMOVE = 2, /* delete it (at the version read) */
} st_store_verdict;

/* Changes obj in place and returns a verdict, or a negative error it put
 * in err (then nothing is written). It may be called again on a fresh
 * copy, so it decides from obj alone, not from what an earlier call saw. */
typedef int (*st_store_mutate_fn)(json_t *obj, void *arg, st_error *err);

/* The one read-modify-write loop: reads kind ns/name, lets fn decide, and
 * writes (or deletes) at the version read; when another writer came first,
 * reads and decides again, up to 8 times, then -ST_ECONFLICT (reported,
 * never dropped). -ENOENT: there is no such object (any more). Returns the
 * verdict carried out. *out (may be NULL): the object as stored afterwards:
 * the one written, the one read when fn kept it, NULL when removed. */
int st_store_mutate(st_store *s, const char *kind, const char *ns, const char *name,
                    st_store_mutate_fn fn, void *arg, json_t **out, st_error *err);

/* The store's errors, worded as the apiserver words them ("pods \"x\" not
 * found"), for whoever answers the same condition before the store does:
 * fill err and return -ST_ECONFLICT, -ENOENT, -EEXIST. */
int st_store_err_conflict(st_error *err, const char *kind, const char *ns, const char *name);
int st_store_err_not_found(st_error *err, const char *kind, const char *ns, const char *name);
int st_store_err_exists(st_error *err, const char *kind, const char *ns, const char *name);

/* Releases the results of a batch (after success). */
void st_store_ops_release(st_store_op *ops, size_t n);

#endif
