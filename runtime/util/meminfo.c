/* meminfo.c: see meminfo.h. */
#include "strata/meminfo.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int st_meminfo_kib(const char *path, const char *field, int64_t *kib, st_error *err)
{
    if (path == NULL)
        path = ST_MEMINFO_PATH;
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f == NULL)
        return st_error_sys(err, errno, "opening %s (is /proc mounted?)", path);
    size_t flen = strlen(field);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        long long v;
        if (strncmp(line, field, flen) == 0 && line[flen] == ':' &&
            sscanf(line + flen + 1, " %lld kB", &v) == 1) {
            *kib = (int64_t)v;
            return 0;
        }
    }
    return st_error_set(err, ENODATA, "%s has no %s line", path, field);
}
