/* yaml_out.h: JSON objects written as YAML (stratactl's "-o yaml"), through
 * libyaml's emitter. Strings that YAML would read back as another type
 * ("true", "8080", "") are quoted, so reading the output gives the same JSON. */
#ifndef STRATA_YAML_OUT_H
#define STRATA_YAML_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "strata/error.h"

/* Writes value as one YAML document; with documents, value must be an array
 * and each element becomes its own document ("---" between them). */
int st_yaml_write(FILE *out, json_t *value, bool documents, st_error *err);

/* The same into a malloc'd, NUL-terminated string. */
int st_yaml_dumps(json_t *value, bool documents, char **text, st_error *err);

#endif
