/* features.h: the OCI runtime-spec "features" document (features.md,
 * features-linux.md) that `strata-run features` prints: what config.json may
 * ask of this runtime. It is built from the tables the config loader and
 * the seccomp compiler use, so it cannot claim more or less than they take. */
#ifndef STRATA_FEATURES_H
#define STRATA_FEATURES_H

#include <jansson.h>

#define ST_RUNTIME_VERSION "0.1.0"

/* A new object, NULL only when out of memory. */
json_t *st_features_json(void);

#endif
