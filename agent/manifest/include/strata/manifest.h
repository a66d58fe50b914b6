/* manifest.h: Kubernetes-style manifests (apps/v1 Deployment, v1 Pod,
 * v1 Secret) read with libyaml into validated, defaulted, Kubernetes-shaped
 * JSON objects: the data model of the agent. Reading only: no I/O besides
 * the file, no store, no scheduling decisions. */
#ifndef STRATA_MANIFEST_H
#define STRATA_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

/* One warning or error, already formatted as
 * "FILE:LINE:COLUMN: warning: ..." or "FILE:LINE:COLUMN: ..." (1-based). */
struct st_manifest_diag {
    struct st_manifest_diag *next;
    bool is_error;
    bool unknown_field; /* a field the kind does not have (see st_manifest_fields) */
    bool ignored_field; /* a Kubernetes field Strata reads and drops */
    int line, column;
    size_t msg; /* where the message starts in text, past "FILE:L:C: [warning: ]" */
    char text[];
};

/* What an unknown field is (the API's ?fieldValidation=): an error, a
 * warning (the object is read without it), or nothing at all. Fields Strata
 * knows but ignores are warnings in every mode. */
enum st_manifest_fields {
    ST_MANIFEST_FIELDS_STRICT = 0,
    ST_MANIFEST_FIELDS_WARN,
    ST_MANIFEST_FIELDS_IGNORE,
};

void st_manifest_diag_free(struct st_manifest_diag *diags);

/* Reads every document of the file (documents separated by "---", empty ones
 * skipped). On success *objects is a new JSON array of the objects, in file
 * order, with Kubernetes defaults applied; each container's "resources" gains
 * "strataNormalized" {cpuRequestMillis, memoryRequestBytes, cpuLimitMillis,
 * memoryLimitBytes} (0 = not set). Fields Kubernetes has but Strata ignores
 * are dropped with a warning.
 * On failure returns -EINVAL (or -errno for I/O), *objects is NULL and err
 * holds the errors (the first one first, up to 20 are collected).
 * diags (may be NULL) receives the warnings and, on failure, the errors;
 * free with st_manifest_diag_free. JSON text is YAML, so API bodies can be
 * read with st_manifest_parse_string too. */
int st_manifest_parse_file(const char *path, json_t **objects, struct st_manifest_diag **diags,
                           st_error *err);

/* Same for text in memory; name is used in messages ("<stdin>"). */
int st_manifest_parse_string(const char *name, const char *text, size_t len, json_t **objects,
                             struct st_manifest_diag **diags, st_error *err);

/* st_manifest_parse_string with unknown fields treated as mode says. */
int st_manifest_parse_string_fields(const char *name, const char *text, size_t len,
                                    enum st_manifest_fields mode, json_t **objects,
                                    struct st_manifest_diag **diags, st_error *err);

/* How a plain (unquoted) YAML scalar is typed, the way Kubernetes' YAML
 * reader types it (YAML 1.1: yes/no/on/off are booleans, 0x1f and 0755 are
 * integers). Quoted scalars are always strings. */
enum st_yaml_scalar {
    ST_YAML_STRING,
    ST_YAML_NULL,
    ST_YAML_BOOL,
    ST_YAML_INT,
    ST_YAML_FLOAT,
};
enum st_yaml_scalar st_yaml_scalar_resolve(const char *text);

#endif
