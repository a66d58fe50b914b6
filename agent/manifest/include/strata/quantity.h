/* quantity.h: Kubernetes resource quantities ("250m", "0.5", "64Mi", "129e6")
 * turned into whole millicores or bytes, rounded up the way Kubernetes does.
 * Pure parsing: no JSON, no YAML, no I/O; negative values are refused. */
#ifndef STRATA_QUANTITY_H
#define STRATA_QUANTITY_H

#include <stdint.h>

#include "strata/error.h"

/* CPU: "1" = 1000, "250m" = 250, "0.1" = 100, "1.0001" = 1001 (rounded up). */
int st_quantity_parse_millis(const char *text, int64_t *millis, st_error *err);

/* Memory and other byte counts: "64Mi", "1G", "129e6", "123k"; fractions of a
 * byte round up ("0.5" = 1). */
int st_quantity_parse_bytes(const char *text, int64_t *bytes, st_error *err);

#endif
