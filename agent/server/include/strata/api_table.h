/* api_table.h: server-side tables, as the Kubernetes apiserver answers a
 * client that sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
 * (kubectl get does): a meta.k8s.io/v1 Table with the columns kubectl shows
 * for each kind (priority 1: only with -o wide) and one row of cells per
 * object. The cells follow strata/printers.h, as stratactl's tables do.
 * Pure functions over presented objects (st_api_present), so the unit tests
 * and the watch feed (one row per event) call them as the GET handler does. */
#ifndef STRATA_API_TABLE_H
#define STRATA_API_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

/* Whether an Accept header asks for a Table: read in the client's order,
 * a media range application/json with as=Table, g=meta.k8s.io and v=v1
 * or v1beta1 comes before any plain JSON one (application/json, or any type).
 * Ranges Strata does not serve (protobuf, other as=) are passed over. */
bool st_server_api_wants_table(const char *accept);

/* What each row carries beside its cells (?includeObject=). */
enum st_api_table_object {
    ST_API_TABLE_METADATA, /* PartialObjectMetadata: the default */
    ST_API_TABLE_OBJECT,   /* the whole object */
    ST_API_TABLE_NONE,     /* nothing */
};

/* The includeObject query value ("None", "Metadata", "Object"; NULL is
 * the default). -EINVAL for anything else. */
int st_api_table_object_parse(const char *text, enum st_api_table_object *out);

/* A new meta.k8s.io/v1 Table of items (borrowed: presented objects of kind,
 * e.g. a list's items, or one object in an array) with
 * metadata.resourceVersion rv (NULL: none). Ages are measured at now.
 * A kind without its own columns gets Name and Age. NULL only when out of
 * memory. */
json_t *st_api_table(const char *kind, json_t *items, const char *rv,
                     enum st_api_table_object include, time_t now);

#endif
