/* report.c: how bench_startup shows its results: a table (median, p90 and
 * the ratio to the fastest row) with one last line of figures for scripts,
 * JSON with every run (strata/startup_results.h's document, which
 * stratactl also sends to stratad), or an SVG chart of the medians, drawn
 * by the same code as the dashboard's (agent/chart). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "startup.h"
#include "strata/chart_svg.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"
#include "strata/startup_results.h"
#include "strata/time.h"

static double fastest_median(const struct startup *b)
{
    double best = 0;
    for (int i = 0; i < STARTUP_ROW_COUNT; i++)
        if (b->rows[i].state == STARTUP_ROW_DONE && (best == 0 || b->rows[i].stats.median < best))
            best = b->rows[i].stats.median;
    return best;
}

/* A row's median as a figure for the last line, "na" when not measured. */
static void figure(const struct startup *b, enum startup_row_id id, char *buf, size_t len)
{
    const struct startup_row *row = &b->rows[id];
    if (row->state == STARTUP_ROW_DONE)
        st_chart_fmt_ms(row->stats.median, buf, len);
    else
        snprintf(buf, len, "na");
}

/* row's median over runc's, the named peer: "0.26", or "na". */
static void ratio_to_runc(const struct startup *b, enum startup_row_id id, char *buf, size_t len)
{
    const struct startup_row *row = &b->rows[id], *runc = &b->rows[STARTUP_ROW_RUNC];
    if (row->state == STARTUP_ROW_DONE && runc->state == STARTUP_ROW_DONE && runc->stats.median > 0)
        snprintf(buf, len, "%.2f", st_bench_ratio(row->stats.median, runc->stats.median));
    else
        snprintf(buf, len, "na");
}

/* One line a script can read, as every bench ends: the medians, and each
 * strata row against runc on this host. */
static void print_figures(const struct startup *b)
{
    char vm[32], pod[32], srun[32], runc[32], vm_r[32], pod_r[32], srun_r[32];
    figure(b, STARTUP_ROW_VM, vm, sizeof(vm));
    figure(b, STARTUP_ROW_POD, pod, sizeof(pod));
    figure(b, STARTUP_ROW_STRATA_RUN, srun, sizeof(srun));
    figure(b, STARTUP_ROW_RUNC, runc, sizeof(runc));
    ratio_to_runc(b, STARTUP_ROW_VM, vm_r, sizeof(vm_r));
    ratio_to_runc(b, STARTUP_ROW_POD, pod_r, sizeof(pod_r));
    ratio_to_runc(b, STARTUP_ROW_STRATA_RUN, srun_r, sizeof(srun_r));
    /* and the pod against crun in the same VM, the peer measured in there */
    char crun[32], pod_c[32];
    const struct startup_row *pr = &b->rows[STARTUP_ROW_POD], *cr = &b->rows[STARTUP_ROW_CRUN];
    figure(b, STARTUP_ROW_CRUN, crun, sizeof(crun));
    if (pr->state == STARTUP_ROW_DONE && cr->state == STARTUP_ROW_DONE && cr->stats.median > 0)
        snprintf(pod_c, sizeof(pod_c), "%.2f", st_bench_ratio(pr->stats.median, cr->stats.median));
    else
        snprintf(pod_c, sizeof(pod_c), "na");
    printf("startup: vm_ms=%s pod_in_vm_ms=%s crun_in_vm_ms=%s strata_run_ms=%s runc_ms=%s "
           "vm_vs_runc=%s pod_in_vm_vs_runc=%s pod_in_vm_vs_crun_in_vm=%s strata_run_vs_runc=%s "
           "accel=%s\n",
           vm, pod, crun, srun, runc, vm_r, pod_r, pod_c, srun_r, st_accel_name(b->accel.accel));
}

void startup_print_table(const struct startup *b)
{
    int w = (int)strlen("NAME");
    for (int i = 0; i < STARTUP_ROW_COUNT; i++)
        if ((int)strlen(b->rows[i].name) > w)
            w = (int)strlen(b->rows[i].name);
    double best = fastest_median(b);
    printf("%-*s   %9s   %9s   %8s\n", w, "NAME", "MEDIAN MS", "P90 MS", "RATIO");
    for (int i = 0; i < STARTUP_ROW_COUNT; i++) {
        const struct startup_row *row = &b->rows[i];
        switch (row->state) {
        case STARTUP_ROW_DONE: {
            char med[32], p90[32], ratio[32];
            st_chart_fmt_ms(row->stats.median, med, sizeof(med));
            st_chart_fmt_ms(row->stats.p90, p90, sizeof(p90));
            st_bench_fmt_ratio(st_bench_ratio(row->stats.median, best), ratio, sizeof(ratio));
            printf("%-*s   %9s   %9s   %8s\n", w, row->name, med, p90, ratio);
            break;
        }
        case STARTUP_ROW_NA:
            printf("%-*s   %s\n", w, row->name, row->why);
            break;
        case STARTUP_ROW_FAILED:
            printf("%-*s   failed (see the error above)\n", w, row->name);
            break;
        case STARTUP_ROW_PENDING:
            printf("%-*s   not measured (interrupted)\n", w, row->name);
            break;
        }
    }
    printf("%d run%s each; accel %s; host %s\n", b->runs, b->runs == 1 ? "" : "s",
           st_accel_name(b->accel.accel), b->host);
    print_figures(b);
}

/* Rounded to the microsecond: more digits are noise. */
static json_t *json_ms(double ms)
{
    return json_real((double)(long long)(ms * 1000 + 0.5) / 1000);
}

/* The results as strata/startup_results.h's document (new reference). */
static json_t *results_doc(const struct startup *b, st_error *err)
{
    _cleanup_json_ json_t *rows = json_array();
    if (rows == NULL)
        goto oom;
    for (int i = 0; i < STARTUP_ROW_COUNT; i++) {
        const struct startup_row *row = &b->rows[i];
        if (row->state != STARTUP_ROW_DONE)
            continue;
        json_t *runs = json_array();
        for (size_t k = 0; runs && k < row->n; k++)
            json_array_append_new(runs, json_ms(row->runs_ms[k]));
        if (runs == NULL ||
            json_array_append_new(rows, json_pack("{s:s, s:o, s:o, s:I, s:o}", "name", row->name,
                                                  "medianMs", json_ms(row->stats.median), "p90Ms",
                                                  json_ms(row->stats.p90), "runs",
                                                  (json_int_t)row->n, "runsMs", runs)) < 0)
            goto oom;
    }
    char when[ST_TIME_RFC3339_LEN];
    json_t *doc =
        json_pack("{s:O, s:s, s:s, s:s}", "rows", rows, "accel", st_accel_name(b->accel.accel),
                  "host", b->host, "when", st_time_now_rfc3339(when));
    if (doc)
        return doc;
oom:
    st_error_set(err, ENOMEM, "out of memory");
    return NULL;
}

int startup_print_json(const struct startup *b, FILE *f, st_error *err)
{
    _cleanup_json_ json_t *doc = results_doc(b, err);
    if (doc == NULL)
        return -ENOMEM;
    if (json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) < 0 || fputc('\n', f) < 0 ||
        fflush(f) != 0)
        return st_error_sys(err, errno ? errno : EIO, "cannot write the results");
    return 0;
}

int startup_write_svg(const struct startup *b, FILE *f, const char *path, st_error *err)
{
    _cleanup_json_ json_t *doc = results_doc(b, err);
    int r = doc == NULL                                     ? -ENOMEM
            : json_array_size(json_object_get(doc, "rows")) ? st_startup_results_svg(f, doc, err)
                                                            : st_error_set(err, ENODATA,
                                                                           "nothing was measured, "
                                                                           "so there is no chart");
    if (fclose(f) != 0 && r == 0)
        r = st_error_sys(err, errno, "cannot write the chart");
    if (r < 0)
        st_error_prefix(err, "%s: ", path);
    else
        fprintf(stderr, "bench: chart written to %s\n", path);
    return r;
}
