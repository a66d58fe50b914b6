/* meminfo.h: one field of /proc/meminfo (MemTotal, MemAvailable, ...), for
 * strata-node's capacity and stratad's check that the host can hold a new
 * node. Reads the file only. */
#ifndef STRATA_MEMINFO_H
#define STRATA_MEMINFO_H

#include <stdint.h>

#include "strata/error.h"

#define ST_MEMINFO_PATH "/proc/meminfo"

/* The value of "FIELD: N kB" in path (NULL → ST_MEMINFO_PATH), in KiB.
 * -ENODATA when the field is missing. */
int st_meminfo_kib(const char *path, const char *field, int64_t *kib, st_error *err);

#endif
