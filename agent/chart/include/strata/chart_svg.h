/* chart_svg.h: a standalone SVG bar chart on a log axis, for results that
 * span decades (a VM boot next to a container start). Pure output: it
 * writes the document it is given bars for and measures nothing. bench
 * programs and stratad (the dashboard's chart) draw with the same code. */
#ifndef STRATA_CHART_SVG_H
#define STRATA_CHART_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "strata/error.h"

/* One bar of the chart. */
typedef struct st_chart_bar {
    const char *label;
    double value_ms; /* the median; drawn on a log axis, so at most the axis start is empty */
} st_chart_bar;

/* A duration in ms with the digits that mean something at its size:
 * "0.42", "8.31", "17.8", "2345" (two decimals below 10, one below 100,
 * none above). Never longer than len - 1. */
void st_chart_fmt_ms(double ms, char *buf, size_t len);

/* Axis of a chart: the decades it spans, 10^lo .. 10^hi ms. Always covers
 * 1 .. 10000 ms, and more decades when a value lies outside them. */
void st_chart_svg_axis(const st_chart_bar *bars, size_t n, int *lo, int *hi);

/* Writes a standalone SVG document (viewable in a browser): title and
 * subtitle (may be NULL) on top, one labelled horizontal bar per entry with
 * its value in ms at the bar's end, and a log axis in ms below with a tick
 * and a grid line per decade ("1", "10", ..., "10000"). Text is
 * XML-escaped. EINVAL for no bars; EIO when writing fails. */
int st_chart_svg_write(FILE *out, const char *title, const char *subtitle, const st_chart_bar *bars,
                       size_t n, st_error *err);

#endif
