/* object_patch.h: changing a stored object the way the Kubernetes API does
 * besides apply: a JSON merge patch (RFC 7386, which is what kubectl's
 * strategic merge patches amount to on maps), validated as a manifest again
 * so a patch can never store what apply would refuse; and the fields the
 * cluster owns (status, uid, owners, deletion, metadata.generation), which
 * a client's write keeps rather than replaces. */
#ifndef STRATA_OBJECT_PATCH_H
#define STRATA_OBJECT_PATCH_H

#include <jansson.h>

#include "strata/error.h"
#include "strata/manifest.h"
#include "strata/store.h"

/* RFC 7386 on dst in place: objects merge key by key, null removes a key,
 * anything else (arrays too) replaces. */
void st_json_merge_patch(json_t *dst, json_t *patch);

/* JSON Patch (RFC 6902, json_patch.c) on doc in place: add, remove,
 * replace, move, copy, test. -EINVAL naming the operation's index when
 * one fails (a test, a missing path); doc may then be half patched. */
int st_json_patch_apply(json_t *doc, json_t *patch, st_error *err);

/* Kubernetes' strategic merge patch (strategic_patch.c) on dst in place,
 * with the merge keys of the kinds Strata serves. */
int st_strategic_merge_patch(json_t *dst, json_t *patch, st_error *err);

/* The patch types of the API, by Content-Type. */
enum st_patch_type {
    ST_PATCH_MERGE,     /* application/merge-patch+json */
    ST_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    ST_PATCH_JSON,      /* application/json-patch+json */
};

/* Applies a patch of type to doc in place. */
int st_patch_apply(enum st_patch_type type, json_t *doc, json_t *patch, st_error *err);

/* next is what a client wrote over stored (NULL: a new object). Keeps from
 * stored what the cluster owns: status, a Pod's spec.nodeName, a Service's
 * spec.clusterIP(s) and node ports when next gives none, and
 * metadata.ownerReferences, finalizers, deletionTimestamp and
 * deletionGracePeriodSeconds; a new Namespace gets status.phase Active.
 * Sets metadata.generation as Kubernetes counts
 * it for objects with a spec: 1 when new, one more whenever spec changes. */
void st_object_keep_server_fields(json_t *stored, json_t *next);

/* Reads kind ns/name, applies patch, validates the result with the
 * manifest reader (its first error in err, -EINVAL; the name, namespace and
 * kind cannot change) and writes it, again when another writer came first.
 * *out (may be NULL): the stored result. */
int st_object_patch(st_store *s, const char *kind, const char *ns, const char *name, json_t *patch,
                    json_t **out, st_error *err);

struct st_object_patch_opts {
    enum st_patch_type type;
    enum st_manifest_fields fields;  /* unknown fields in the result (?fieldValidation=) */
    bool status_only;                /* the status subresource: only status changes, unvalidated */
    struct st_manifest_diag **diags; /* may be NULL: the reader's warnings (caller frees) */
    bool dry_run;                    /* *out as it would be stored; nothing written */
};

/* st_object_patch with a patch type, a field mode, or on status only; the
 * uid cannot change either. */
int st_object_patch_with(st_store *s, const char *kind, const char *ns, const char *name,
                         json_t *patch, const struct st_object_patch_opts *o, json_t **out,
                         st_error *err);

#endif
