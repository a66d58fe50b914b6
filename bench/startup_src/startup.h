/* startup.h: what the parts of bench_startup share: the bench's state (its
 * scratch folder, the libvirt connection, one row per thing measured), the
 * Ctrl-C flag every loop checks, and how a row records a run or says why it
 * has none. The parts are: startup.c (options, checks, run order, cleanup),
 * vm.c (VM nodes and pods in them), host.c (containers on the host) and
 * report.c (table, JSON, SVG). Nothing here prints the results. */
#ifndef STRATA_BENCH_STARTUP_H
#define STRATA_BENCH_STARTUP_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "strata/bench_stats.h"
#include "strata/error.h"
#include "strata/vmm.h"

/* Set by SIGINT/SIGTERM; every wait and loop checks it, and the way out is
 * always the same cleanup. */
extern volatile sig_atomic_t startup_interrupted;

enum startup_row_id {
    STARTUP_ROW_VM,
    STARTUP_ROW_POD,
    STARTUP_ROW_CRUN,
    STARTUP_ROW_STRATA_RUN,
    STARTUP_ROW_RUNC,
    STARTUP_ROW_COUNT
};

enum startup_row_state {
    STARTUP_ROW_PENDING, /* not reached (an interruption) */
    STARTUP_ROW_DONE,
    STARTUP_ROW_NA,     /* cannot be measured here; why says why */
    STARTUP_ROW_FAILED, /* the error was printed when it happened */
};

struct startup_row {
    char name[64];
    enum startup_row_state state;
    char why[256];
    double *runs_ms; /* state DONE: n values in run order */
    size_t n;
    st_bench_stats stats;
};

struct startup {
    int runs;
    char tmp[32]; /* /tmp/strata-bench-XXXXXX, 0755: QEMU (libvirt-qemu) reads below it */
    char bin_dir[PATH_MAX];
    char image_dir[PATH_MAX];
    char kernel[PATH_MAX], initramfs[PATH_MAX];
    /* The bench variant of the node image (build-image --bench: crun and
     * the bench_exec hook); the pods' node boots it when crun_in_vm, so the
     * "crun in VM" row runs in the same VM as the pods. */
    bool crun_in_vm;
    char bench_kernel[PATH_MAX], bench_initramfs[PATH_MAX];
    char images[PATH_MAX];    /* an image store holding busybox/rootfs */
    char rootfs[PATH_MAX];    /* images/busybox/rootfs */
    char layer[NAME_MAX + 8]; /* "layers/<hex>": the same root as the pods' one image layer */
    char strata_run[PATH_MAX];
    char host[512]; /* "NAME, Linux RELEASE, N CPUs" */
    st_vmm *vmm;
    st_accel_choice accel;
    char live_node[ST_NODE_NAME_MAX + 1]; /* a running node to remove on the way out */
    struct startup_row rows[STARTUP_ROW_COUNT];
};

/* snprintf into a path buffer; ENAMETOOLONG when it does not fit. */
int startup_pathf(char *buf, size_t len, st_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

double startup_ms_since(int64_t t0_ns, int64_t t1_ns);

/* ---- rows (startup.c) */

/* The row cannot be measured here: why, also said on stderr at once. */
void startup_row_na(struct startup_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An error ends the row (not the bench): said on stderr at once, one line. */
void startup_row_fail(struct startup_row *row, const st_error *err);
/* Run i (of runs) took ms. */
void startup_row_record(struct startup_row *row, int i, int runs, double ms);

/* ---- VM nodes and pods in them (vm.c) */

/* N node boots, start call to hello, one at a time. */
void startup_vm(struct startup *b);
/* One node with the bench's image store, then N pods of /bin/true on it,
 * one at a time: each from its pod_run until it runs; with crun_in_vm, a
 * `crun run` of /bin/true in the same node after each pod (bench_exec,
 * timed from its send until its answer, as the pod is). */
void startup_pods(struct startup *b);
/* Removes the node that is up, if any; errors say how to clean up by hand. */
void startup_node_remove(struct startup *b);

/* ---- containers on the host (host.c) */

/* strata-run and runc, alternated run by run so both see the same load. */
void startup_host(struct startup *b);
/* Deletes what the runtimes still keep under the scratch folder. */
void startup_host_cleanup(struct startup *b);

/* ---- output (report.c) */

/* The table, then one line with every figure and the ratios to runc, the
 * named peer ("startup: vm_ms=... ratio..."), for scripts and the README. */
void startup_print_table(const struct startup *b);
/* The results document (strata/startup_results.h) into f. */
int startup_print_json(const struct startup *b, FILE *f, st_error *err);
/* Writes the chart into f, opened (and so checked) before the bench ran;
 * closes f. */
int startup_write_svg(const struct startup *b, FILE *f, const char *path, st_error *err);

#endif
