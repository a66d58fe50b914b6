/* delete_options.h: the Kubernetes API's DeleteOptions as both sides read
 * them: stratactl checks --cascade before it sends, stratad checks what it
 * receives, with one rule. It parses; it never deletes anything. */
#ifndef STRATA_DELETE_OPTIONS_H
#define STRATA_DELETE_OPTIONS_H

#include <jansson.h>

#include "strata/error.h"

/* What happens to the objects an owner owns (metadata.ownerReferences,
 * matched by uid) when it is deleted: Kubernetes' propagationPolicy. */
typedef enum st_propagation {
    ST_PROPAGATE_BACKGROUND, /* the owner goes now; the collector deletes its dependents */
    ST_PROPAGATE_FOREGROUND, /* dependents first (finalizer foregroundDeletion), then it */
    ST_PROPAGATE_ORPHAN,     /* dependents stay without the reference (finalizer orphan) */
} st_propagation;

/* "Background", "Foreground", "Orphan" (the API's propagationPolicy) or
 * kubectl's --cascade values "background", "foreground", "orphan" (and the
 * older "true"/"false"). NULL or "": Background. */
int st_propagation_parse(const char *text, st_propagation *out, st_error *err);

/* DeleteOptions as the Kubernetes API takes them: propagationPolicy and
 * gracePeriodSeconds from the query (policy, grace: NULL when absent), else
 * from the body (a DeleteOptions object, may be NULL). *out_grace -1: the
 * pod's own. -EINVAL with a message for a bad value. */
int st_delete_options_parse(const char *policy, const char *grace, json_t *body,
                            st_propagation *out_policy, int *out_grace, st_error *err);

#endif
