/* podspec.h: the resource figures of a pod spec as integers, read from the
 * JSON objects st_manifest_parse_* produced ("strataNormalized"), with the
 * quantity strings as the fallback. Reading only: never changes the spec. */
#ifndef STRATA_PODSPEC_H
#define STRATA_PODSPEC_H

#include <jansson.h>
#include <stdint.h>

#include "strata/error.h"

/* Sum of the containers' requests (what the scheduler reserves). A container
 * without a request counts 0. */
int st_pod_requests(json_t *podspec, int64_t *cpu_millis, int64_t *mem_bytes, st_error *err);

/* One container's requests / limits; 0 = not set (no limit). */
int st_container_requests(json_t *container, int64_t *cpu_millis, int64_t *mem_bytes,
                          st_error *err);
int st_container_limits(json_t *container, int64_t *cpu_millis, int64_t *mem_bytes, st_error *err);

#endif
