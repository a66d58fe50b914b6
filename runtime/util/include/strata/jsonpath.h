/* jsonpath.h: looking up a value in a JSON document by a dotted path of
 * object keys ("status.strata.phase"), as field selectors and the CLI's
 * columns name fields. A key holding a '.' cannot be named.
 * It must not create, change or copy anything: it only reads (borrowed
 * references), and it knows no array indexes or JSONPath expressions. */
#ifndef STRATA_JSONPATH_H
#define STRATA_JSONPATH_H

#include <jansson.h>

/* The value at path below obj (borrowed), or NULL when a key is missing or a
 * step is not an object. An empty path is obj itself. */
json_t *st_json_at(const json_t *obj, const char *path);

/* The string at path, or NULL when it is missing or not a string. */
const char *st_json_str_at(const json_t *obj, const char *path);

/* The number at path (a real cut to its whole part), or def when it is
 * missing or not a number. */
long long st_json_int_at(const json_t *obj, const char *path, long long def);

#endif
