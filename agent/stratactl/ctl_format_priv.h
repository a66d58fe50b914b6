/* ctl_format_priv.h: what the files behind ctl_format.h share and nobody
 * else sees: JSON lookups by dotted path, cell text helpers, the table's
 * insides (rows need to know the kind a table was made for) and describe's
 * two-column writer. */
#ifndef STRATA_CTL_FORMAT_PRIV_H
#define STRATA_CTL_FORMAT_PRIV_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "ctl_format.h"
#include "strata/jsonpath.h"

#define NONE ST_PRINT_NONE

/* ---- JSON and cell text (ctl_values.c) ----------------------------------- */

/* The value at a dotted path ("status.strata.phase"), or NULL. */
json_t *ctlfmt_at(json_t *obj, const char *path);
/* A non-empty string at path, or NULL / def. */
const char *ctlfmt_str_at(json_t *obj, const char *path);
const char *ctlfmt_str_or(json_t *obj, const char *path, const char *def);
/* A scalar as text (strings as they are, numbers printed), or def. */
const char *ctlfmt_scalar_text(json_t *v, char *buf, size_t len, const char *def);
/* metadata.name, else name (images). */
const char *ctlfmt_obj_name(json_t *obj);
/* A memory quantity (text or a byte count) in Kubernetes units ("192Mi"). */
void ctlfmt_memory_text(json_t *v, char *buf, size_t len);
/* Bytes as Kubernetes prints a sum of quantities: "64Mi", "1Gi", "0". */
void ctlfmt_bytes_text(long long bytes, char *buf, size_t len);
/* Millicores as Kubernetes prints them: "250m", "2", "0". */
void ctlfmt_cpu_text(long long millis, char *buf, size_t len);
void ctlfmt_millis_text(long long ms, char *buf, size_t len);

/* ---- tables (ctl_table.c) ------------------------------------------------ */

struct stctl_fmt_table {
    size_t ncols;
    struct libscols_table *tb;
    size_t *widths; /* widest cell of each column so far (rows only grow it) */
    size_t nrows;   /* rows added */
    size_t written; /* rows already written */
    bool headers;   /* has a header line */
    bool header_written;
    bool no_headers; /* stctl_fmt_table_set_no_headers */
    int indent;
    const struct stctl_fmt_kind *kind; /* set by stctl_fmt_table_for_kind */
    struct stctl_fmt_columns cols;
};

/* ---- describe (ctl_describe.c) ------------------------------------------- */

/* "Key:" padded to width, then the value: describe's two columns. */
void ctlfmt_field(FILE *out, int indent, int width, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A string map, one "k=v" a line, aligned under the first. */
void ctlfmt_field_map(FILE *out, int indent, int width, const char *key, json_t *map);
/* "2024-05-01T12:00:00Z (5m ago)". */
void ctlfmt_field_time(FILE *out, int indent, int width, const char *key, const char *ts,
                       time_t now);
/* Name, Namespace, Created, Labels. */
void ctlfmt_metadata(FILE *out, json_t *obj, bool namespaced, time_t now);
/* The Conditions table (details: with reason, transition and message). */
int ctlfmt_conditions(FILE *out, json_t *obj, time_t now, bool details, st_error *err);
/* The Events table (events NULL: they could not be read). */
int ctlfmt_events_section(FILE *out, json_t *events, time_t now, st_error *err);

/* The end of a describe table: written when r is 0 (the rows went in),
 * freed either way; returns r or the write's failure. */
int ctlfmt_table_done(FILE *out, stctl_fmt_table *t, int r, st_error *err);
/* A table indented two spaces under a section heading, its first row the
 * rule under the headers (rule NULL: each header's length in dashes, "Type"
 * -> "----"), as kubectl's describe tables. */
int ctlfmt_ruled_table(size_t ncols, const char *const *headers, const char *const *rule,
                       stctl_fmt_table **out, st_error *err);

/* ---- describe node (ctl_describe_node.c) --------------------------------- */

int ctlfmt_describe_node(FILE *out, json_t *node, const struct stctl_fmt_related *rel, time_t now,
                         st_error *err);

/* ---- services and endpoints (ctl_service.c) ------------------------------ */

int ctlfmt_describe_service(FILE *out, json_t *svc, const struct stctl_fmt_related *rel, time_t now,
                            st_error *err);
int ctlfmt_describe_endpoints(FILE *out, json_t *ep, json_t *events, time_t now, st_error *err);

/* ---- leases (ctl_hosts.c) ------------------------------------------------ */

int ctlfmt_describe_lease(FILE *out, json_t *lease, time_t now);

#endif
