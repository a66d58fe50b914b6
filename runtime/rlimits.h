/* rlimits.h (private to the runtime): process.rlimits applied with
 * setrlimit in the container's process before execve. */
#ifndef STRATA_RLIMITS_H
#define STRATA_RLIMITS_H

#include "strata/error.h"
#include "strata/oci_config.h"

int st_rlimits_apply(const struct st_oci_config *c, st_error *err);

#endif
