/* sysinfo.c: the facts strata-node reports about its machine in hello and
 * heartbeat (capacity, kernel release, uptime). Reads /proc and uname only;
 * it does not account for what pods use. */
#include "node.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static int meminfo_total(int64_t *bytes, st_error *err)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return st_error_sys(err, errno, "opening /proc/meminfo (is /proc mounted?)");
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        long long kb;
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) {
            *bytes = (int64_t)kb * 1024;
            return 0;
        }
    }
    return st_error_set(err, ENODATA, "/proc/meminfo has no MemTotal line");
}

int st_node_sysinfo_read(struct st_node_sysinfo *si, st_error *err)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return st_error_sys(err, errno ? errno : EINVAL, "counting online CPUs");
    si->cpu_millis = (int64_t)cpus * 1000;
    int rc = meminfo_total(&si->memory_bytes, err);
    if (rc < 0)
        return rc;
    struct utsname u;
    if (uname(&u) < 0)
        return st_error_sys(err, errno, "uname");
    snprintf(si->kernel, sizeof(si->kernel), "%s", u.release);
    return 0;
}

int st_node_uptime_ms(int64_t *ms, st_error *err)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/uptime", "re");
    if (f == NULL)
        return st_error_sys(err, errno, "opening /proc/uptime (is /proc mounted?)");
    long long sec = 0, frac = 0;
    char dot = 0;
    if (fscanf(f, "%lld%c%lld", &sec, &dot, &frac) < 1)
        return st_error_set(err, EPROTO, "/proc/uptime: unexpected format");
    /* the kernel prints two decimals */
    *ms = (int64_t)sec * 1000 + (dot == '.' ? frac * 10 : 0);
    return 0;
}

int64_t st_node_uptime_or_zero(void)
{
    int64_t ms = 0;
    st_error err = {0};
    if (st_node_uptime_ms(&ms, &err) < 0)
        st_node_log("%s", err.msg);
    return ms;
}
