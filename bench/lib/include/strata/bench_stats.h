/* bench_stats.h: the arithmetic of a benchmark: the median and 90th
 * percentile of a set of timings, ratios to the fastest, and how a duration
 * in ms is printed. Pure: it runs nothing and times nothing; the caller
 * measures, this sums up. */
#ifndef STRATA_BENCH_STATS_H
#define STRATA_BENCH_STATS_H

#include <stddef.h>

#include "strata/error.h"

typedef struct st_bench_stats {
    size_t n;
    double median; /* the middle value; the mean of the two middle ones for even n */
    double p90;    /* nearest rank: the ceil(0.9 n)-th smallest value */
    double p99;    /* nearest rank: the ceil(0.99 n)-th smallest value */
    double min, max;
} st_bench_stats;

/* Summarizes n timings (ms, in any order; runs_ms is not changed). EINVAL
 * for n == 0 or a value that is negative or not a number. */
int st_bench_stats_compute(const double *runs_ms, size_t n, st_bench_stats *out, st_error *err);

/* value / fastest, or 0 when fastest is not positive. */
double st_bench_ratio(double value, double fastest);

/* A ratio as "1.00x", "13.4x", "142x". */
void st_bench_fmt_ratio(double ratio, char *buf, size_t len);

#endif
