/* stats.c: medians, percentiles, ratios and how a duration is printed, for
 * every bench that sums up timings (bench/startup, node_boot, runtime_start).
 * The arithmetic lives once so the figures of all benches mean the same. */
#include "strata/bench_stats.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int st_bench_stats_compute(const double *runs_ms, size_t n, st_bench_stats *out, st_error *err)
{
    if (n == 0)
        return st_error_set(err, EINVAL, "no timings to summarize");
    for (size_t i = 0; i < n; i++)
        if (isnan(runs_ms[i]) || runs_ms[i] < 0)
            return st_error_set(err, EINVAL, "timing %zu is %g ms: not a duration", i + 1,
                                runs_ms[i]);
    double *v = malloc(n * sizeof(*v));
    if (v == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    memcpy(v, runs_ms, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);
    /* nearest rank: the smallest value with at least 90% of the runs at or
     * below it; integer arithmetic for ceil(0.9 n) */
    size_t rank = (9 * n + 9) / 10;
    *out = (st_bench_stats){
        .n = n,
        .median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
        .p90 = v[rank - 1],
        .p99 = v[(99 * n + 99) / 100 - 1],
        .min = v[0],
        .max = v[n - 1],
    };
    free(v);
    return 0;
}

double st_bench_ratio(double value, double fastest)
{
    return fastest > 0 ? value / fastest : 0;
}

void st_bench_fmt_ratio(double ratio, char *buf, size_t len)
{
    if (ratio < 9.995)
        snprintf(buf, len, "%.2fx", ratio);
    else if (ratio < 99.95)
        snprintf(buf, len, "%.1fx", ratio);
    else
        snprintf(buf, len, "%.0fx", ratio);
}
