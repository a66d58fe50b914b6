/* startup.c: the start-up results document (strata/startup_results.h): its
 * check, for what arrives over the API, and its chart, so the SVG the CLI
 * writes and the one the dashboard shows are the same drawing. */
#include "strata/startup_results.h"
#include "strata/chart_svg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* The longest list of rows the document may carry: bench_startup has 5. */
#define ROWS_MAX 32

static bool optional_is(const json_t *v, bool (*is)(const json_t *))
{
    return v == NULL || is(v);
}

static bool is_string(const json_t *v)
{
    return json_is_string(v);
}

static bool is_number(const json_t *v)
{
    return json_is_number(v) && json_number_value(v) >= 0;
}

static bool is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool is_array(const json_t *v)
{
    return json_is_array(v);
}

int st_startup_results_check(const json_t *doc, st_error *err)
{
    if (!json_is_object(doc))
        return st_error_set(err, EINVAL, "the results are not a JSON object");
    json_t *rows = json_object_get(doc, "rows");
    if (!json_is_array(rows) || json_array_size(rows) == 0 || json_array_size(rows) > ROWS_MAX)
        return st_error_set(err, EINVAL, "rows: give 1 to %d measured rows", ROWS_MAX);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (!json_is_object(row) || !json_is_string(json_object_get(row, "name")) ||
            !is_number(json_object_get(row, "medianMs")))
            return st_error_set(err, EINVAL,
                                "rows[%zu]: each row has a name and a medianMs of 0 or more", i);
        if (!optional_is(json_object_get(row, "p90Ms"), is_number) ||
            !optional_is(json_object_get(row, "runs"), is_count) ||
            !optional_is(json_object_get(row, "runsMs"), is_array))
            return st_error_set(err, EINVAL,
                                "rows[%zu]: p90Ms is a number, runs a count, runsMs an array", i);
    }
    static const char *const texts[] = {"accel", "host", "when"};
    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
        if (!optional_is(json_object_get(doc, texts[k]), is_string))
            return st_error_set(err, EINVAL, "%s is a string", texts[k]);
    return 0;
}

int st_startup_results_svg(FILE *out, const json_t *doc, st_error *err)
{
    int r = st_startup_results_check(doc, err);
    if (r < 0)
        return r;
    json_t *rows = json_object_get(doc, "rows");
    st_chart_bar bars[ROWS_MAX];
    size_t n = 0;
    json_int_t runs = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        bars[n++] = (st_chart_bar){json_string_value(json_object_get(row, "name")),
                                   json_number_value(json_object_get(row, "medianMs"))};
        json_int_t k = json_integer_value(json_object_get(row, "runs"));
        if (k > runs)
            runs = k;
    }
    const char *host = json_string_value(json_object_get(doc, "host"));
    const char *accel = json_string_value(json_object_get(doc, "accel"));
    char title[640], subtitle[256];
    snprintf(title, sizeof(title), "Start-up time on %s (accel %s)", host ? host : "this host",
             accel ? accel : "unknown");
    snprintf(subtitle, sizeof(subtitle),
             "median of %lld run%s each; VM: start call to hello; containers: until running",
             (long long)runs, runs == 1 ? "" : "s");
    return st_chart_svg_write(out, title, subtitle, bars, n, err);
}
