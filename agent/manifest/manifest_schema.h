/* manifest_schema.h: private contract between the generic manifest reader
 * (manifest.c: YAML, types, defaults, locations), its scalar typing
 * (manifest_scalar.c) and the declarative schema tables plus kind-specific
 * rules (manifest_schema.c). Not for other modules. */
#ifndef STRATA_MANIFEST_SCHEMA_H
#define STRATA_MANIFEST_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

enum st_mtype {
    ST_MT_STRING,
    ST_MT_INT,
    ST_MT_BOOL,
    ST_MT_STRING_MAP,
    ST_MT_OBJECT,
    ST_MT_OBJECT_LIST,
    ST_MT_STRING_LIST,
    ST_MT_QUANTITY,      /* "cpu" fields in millicores, others in bytes */
    ST_MT_INT_OR_STRING, /* probe ports, maxSurge */
    ST_MT_UNIMPLEMENTED, /* a Kubernetes field Strata ignores: warning, dropped */
    ST_MT_DERIVED,       /* written by Strata itself: accepted, dropped, recomputed */
};

#define ST_MF_REQUIRED 0x1u /* absent, null or "" is an error; lists need one entry */
#define ST_MF_RANGE    0x2u /* integer within [min, max] */

struct st_mctx;
/* A rule run after the type checks passed: node is the YAML node (NULL when
 * the value was defaulted), value the JSON built from it (may be changed). */
typedef void (*st_mcheck_fn)(struct st_mctx *c, yaml_node_t *node, json_t *value);

struct st_mschema;

struct st_mfield {
    const char *name;
    enum st_mtype type;
    unsigned flags;
    const struct st_mschema *schema; /* ST_MT_OBJECT, ST_MT_OBJECT_LIST */
    const char *def;                 /* JSON text of the default ("{}" builds nested defaults) */
    int64_t min, max;                /* with ST_MF_RANGE */
    const char *const *values;       /* allowed strings, NULL-terminated */
    st_mcheck_fn check;
};

struct st_mschema {
    const struct st_mfield *fields; /* ends with a NULL name */
    st_mcheck_fn check;             /* object rule, runs when the object had no error */
};

/* Table helpers: a Kubernetes field read and dropped with a warning; the
 * two fields every object starts with. */
#define ST_IGNORED(n)                                                                              \
    {                                                                                              \
        .name = n, .type = ST_MT_UNIMPLEMENTED                                                     \
    }
#define ST_TYPE_FIELDS                                                                             \
    {.name = "apiVersion", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED},                         \
    {                                                                                              \
        .name = "kind", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED                              \
    }

struct st_mkind {
    const char *api_version;
    const char *kind;
    const struct st_mschema *schema;
};

/* Ends with a NULL kind. */
extern const struct st_mkind st_manifest_kinds[];

/* Services of manifest.c for the rules. Messages are prefixed with
 * "FILE:LINE:COLUMN: " of at (or of the nearest enclosing node when NULL). */
void st_mctx_error(struct st_mctx *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void st_mctx_warn(struct st_mctx *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Dotted path of the value being checked, e.g. "spec.containers[0].ports". */
const char *st_mctx_path(const struct st_mctx *c);
/* The value node of key in mapping, NULL when absent (or mapping is NULL). */
yaml_node_t *st_mctx_child(const struct st_mctx *c, const yaml_node_t *mapping, const char *key);
/* The key node of key in mapping (to point at a field name), or mapping. */
yaml_node_t *st_mctx_key(const struct st_mctx *c, yaml_node_t *mapping, const char *key);
/* Node of a sequence entry, NULL when out of range. */
yaml_node_t *st_mctx_item(const struct st_mctx *c, const yaml_node_t *seq, size_t index);

/* Scalar typing (manifest_scalar.c), beside st_yaml_scalar_resolve. */
bool st_mword_in(const char *s, const char *const *words); /* words ends with NULL */
/* A YAML 1.1 integer (sign, 0x, 0b, leading-0 octal); false when s is not. */
bool st_myaml_int_value(const char *s, long long *out);
/* Whether a scalar typed ST_YAML_BOOL is true. */
bool st_myaml_bool_value(const char *text);
/* manifest_secret.c: the Secret rules (schema checks, see st_mcheck_fn). */
#define ST_SECRET_MAX_BYTES 1048576 /* Kubernetes' MaxSecretSize */
void st_check_secret_key(struct st_mctx *c, yaml_node_t *node, json_t *value);
void st_check_secret_data(struct st_mctx *c, yaml_node_t *node, json_t *map);
void st_check_secret_string_data(struct st_mctx *c, yaml_node_t *node, json_t *map);
void st_check_secret(struct st_mctx *c, yaml_node_t *node, json_t *obj);

/* manifest_schema.c: rules and tables other kinds' files reuse. */
extern const struct st_mschema st_pod_meta; /* a namespaced object's metadata */
void st_check_dns_label(struct st_mctx *c, yaml_node_t *node, json_t *value);
void st_check_labels(struct st_mctx *c, yaml_node_t *node, json_t *map);
/* A container port's name (IANA service name), when value is a string. */
void st_check_port_name(struct st_mctx *c, yaml_node_t *node, json_t *value);

/* manifest_service.c: v1 Service and v1 Endpoints, and the rule that spans
 * documents (a Service's named targetPort against the workloads it selects
 * in the same file). */
extern const struct st_mschema st_service;
extern const struct st_mschema st_endpoints;
/* Where a value was, kept past its document (line and column 1-based). */
void st_mctx_error_line(struct st_mctx *c, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void st_mctx_node_pos(const yaml_node_t *n, int *line, int *column);
/* The current document's notes: an object a rule fills for the checks
 * across documents (kept beside the document's object, freed after). */
json_t *st_mctx_doc_notes(struct st_mctx *c);
/* Runs once all documents were read: objects[i] was read with notes[i]
 * (null when its document left none). */
void st_manifest_check_across(struct st_mctx *c, json_t *objects, json_t *notes);

#endif
