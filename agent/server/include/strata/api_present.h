/* api_present.h: how stratad shows a stored object through its API: in
 * Kubernetes' shape, so `stratactl -o yaml|json` (and later kubectl) reads
 * it as Kubernetes would. The store and strata-node keep what they need
 * (resources.strataNormalized, status.lastReason); the API never shows it
 * under Kubernetes' own field names. Pure functions over JSON. */
#ifndef STRATA_API_PRESENT_H
#define STRATA_API_PRESENT_H

#include <jansson.h>

/* Annotation carrying a pod's last reason a container stopped for
 * (status.lastReason in the store); Strata's own data, in Kubernetes' place
 * for it. */
#define ST_API_ANNOTATION_LAST_REASON "strata.io/last-reason"

/* Replaces *obj (a stored object of kind "Pod", "Deployment", "Secret",
 * "Node", "Event") by a new object as the API shows it:
 *   - apiVersion ("apps/v1" for Deployments, else "v1") and kind set;
 *   - keys in Kubernetes' order: apiVersion, kind, metadata, spec, status,
 *     then the others (data, type, involvedObject ...) by name; below the
 *     top level, keys by name, as kubectl prints them;
 *   - no null values (a field that is not set is left out);
 *   - derived fields stripped: resources.strataNormalized of every
 *     container of a Pod or a Deployment's pod template;
 *   - status.lastReason of a Pod moved to the strata.io/last-reason
 *     annotation;
 *   - a Secret's stringData folded into base64 data, as the apiserver does.
 * Node's status.strata (domain, accel, bootMillis, phase ...) stays: it is
 * Strata's named extension of NodeStatus, which kubectl tolerates. */
void st_api_present(const char *kind, json_t **obj);

/* A new list object for items (borrowed; each already presented):
 * {apiVersion, kind: KIND"List", metadata: {resourceVersion}, items}, with
 * apiVersion "apps/v1" for Deployments. resource_version may be NULL. */
json_t *st_api_present_list(const char *kind, json_t *items, const char *resource_version);

/* A new copy of last (an object as it was last shown) for a watch's
 * DELETED event: a Pod without metadata.deletionTimestamp gets the time of
 * now, because Kubernetes deletes pods gracefully and the last pod a
 * watcher sees always carries it (so it never reads as running). */
json_t *st_api_present_deleted(const char *kind, json_t *last);

#endif
