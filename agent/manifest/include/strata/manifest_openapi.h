/* manifest_openapi.h: the kinds the manifest reader accepts, described as
 * OpenAPI v3 schemas (what the API serves under /openapi/v3 for kubectl
 * explain and for clients that validate). Generated from the reader's own
 * tables, so the description never drifts from what apply accepts. */
#ifndef STRATA_MANIFEST_OPENAPI_H
#define STRATA_MANIFEST_OPENAPI_H

#include <jansson.h>

/* The schema of kind (of api_version, e.g. "apps/v1"): an OpenAPI 3.0
 * schema object with every field the reader knows, its type, a short
 * description, the list extensions Kubernetes gives its lists
 * (x-kubernetes-list-type, -patch-merge-key, -patch-strategy) and the
 * status fields Strata fills (read-only). Fields Kubernetes has and
 * Strata ignores are listed and say so. A new reference, or NULL when the
 * reader has no table for kind (or out of memory). */
json_t *st_manifest_openapi_schema(const char *api_version, const char *kind);

#endif
