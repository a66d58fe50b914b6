/* startup_results.h: the start-up comparison's results as one JSON document,
 * the shape bench_startup prints (-o json, --results FILE), stratactl sends
 * to stratad and the dashboard reads (GET /strata/v1/bench/startup):
 *   {"rows": [{"name": "vm node (tcg)", "medianMs": 2781.2, "p90Ms": 2900.1,
 *              "runs": 10, "runsMs": [...]}, ...],
 *    "accel": "tcg", "host": "NAME, Linux RELEASE, N CPUs",
 *    "when": "2026-12-01T10:00:00Z"}
 * rows holds the measured rows only. Its chart is drawn here, once, for the
 * CLI's --svg and the dashboard's SVG alike. */
#ifndef STRATA_STARTUP_RESULTS_H
#define STRATA_STARTUP_RESULTS_H

#include <jansson.h>
#include <stdio.h>

#include "strata/error.h"

/* -EINVAL (err says which field) unless doc has that shape: at least one
 * row, each with a name and a non-negative medianMs; p90Ms, runs, runsMs,
 * accel, host and when optional but of their types when given. */
int st_startup_results_check(const json_t *doc, st_error *err);

/* The chart of a checked doc (the medians, on a log axis) into out. */
int st_startup_results_svg(FILE *out, const json_t *doc, st_error *err);

#endif
