/* startup.c: bench_startup, start-up times on this host side by side, N
 * runs each: a VM node from the start call to its hello; a container in such
 * a node from pod_run to its first Running (or Succeeded) pod_status; a
 * container on the host by strata-run and by runc (the named peer). Prints
 * median, p90 and the ratio to the fastest as a table (or JSON) and a last
 * line of figures, and can draw the medians as an SVG chart. bench/startup
 * runs it, and so does `stratactl bench startup`, which keeps libvirt out of
 * the CLI by running this program instead of linking it.
 *
 * It works on this host directly (libvirt, the runtimes), not through
 * stratad, so it needs root. Everything it makes (domains strata-bench-*,
 * one folder under /tmp, container state) is removed at the end, also after
 * an error or Ctrl-C: the signal only sets a flag that every loop checks,
 * and the way out is always the same cleanup. This file holds the options,
 * the checks, the run order and the cleanup; the rows live in startup_src/. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "startup.h"
#include "strata/chart_svg.h"
#include "strata/cleanup.h"
#include "strata/exe_dir.h"
#include "strata/fs.h"

#define PROG "bench_startup"
#define USAGE_ARGS                                                                                 \
    "[--runs N] [-o json] [--svg FILE] [--results FILE] [--node-image DIR] [--images DIR]"
#define RUNS_DEFAULT 10
#define RUNS_MAX     1000
#define EXIT_FAIL    1
#define EXIT_USAGE   2

volatile sig_atomic_t startup_interrupted;
/* How usage names us: argv[0]'s last element; `stratactl bench startup`
 * passes its own words, so its users read the command they typed. */
static const char *prog_name = PROG;

static void on_signal(int sig)
{
    (void)sig;
    startup_interrupted = 1;
}

/* ---- shared helpers ------------------------------------------------------- */

int startup_pathf(char *buf, size_t len, st_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        return st_error_set(err, ENAMETOOLONG, "path too long: %s...", buf);
    return 0;
}

double startup_ms_since(int64_t t0_ns, int64_t t1_ns)
{
    return (double)(t1_ns - t0_ns) / 1e6;
}

void startup_row_na(struct startup_row *row, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->why, sizeof(row->why), fmt, ap);
    va_end(ap);
    row->state = STARTUP_ROW_NA;
    fprintf(stderr, "bench: %s: %s\n", row->name, row->why);
}

void startup_row_fail(struct startup_row *row, const st_error *err)
{
    if (startup_interrupted)
        return; /* an interruption, not a failure */
    row->state = STARTUP_ROW_FAILED;
    fprintf(stderr, "error: %s: %s\n", row->name, err->msg);
}

void startup_row_record(struct startup_row *row, int i, int runs, double ms)
{
    row->runs_ms[i] = ms;
    row->n = (size_t)i + 1;
    char text[32];
    st_chart_fmt_ms(ms, text, sizeof(text));
    fprintf(stderr, "bench: %s: run %d/%d: %s ms\n", row->name, i + 1, runs, text);
}

static void row_finish(struct startup_row *row, int runs)
{
    if (row->state == STARTUP_ROW_PENDING && row->n == (size_t)runs && !startup_interrupted &&
        st_bench_stats_compute(row->runs_ms, row->n, &row->stats, NULL) == 0)
        row->state = STARTUP_ROW_DONE;
}

/* ---- checks --------------------------------------------------------------- */

/* Whether another user (QEMU runs as libvirt-qemu and serves the image
 * store to the node over 9p) can enter every folder from / down to path
 * and list path. */
static bool open_to_others(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    struct stat st;
    if (stat(p, &st) < 0 || (st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH))
        return false;
    for (char *slash; (slash = strrchr(p, '/')) != NULL;) {
        *slash = '\0';
        if (stat(p[0] ? p : "/", &st) < 0 || !(st.st_mode & S_IXOTH))
            return false;
    }
    return true;
}

static void host_describe(char *buf, size_t len)
{
    struct utsname u;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) < 0)
        snprintf(buf, len, "unknown host, %ld CPUs", cpus);
    else
        snprintf(buf, len, "%s, %s %s, %ld CPU%s", u.nodename, u.sysname, u.release, cpus,
                 cpus == 1 ? "" : "s");
}

/* dst = src, or def relative to the bin folder, made absolute and clean
 * when it exists (libvirt wants such paths). */
static int resolve_dir(char *dst, size_t len, const char *src, const char *bin_dir, const char *def,
                       st_error *err)
{
    int r = src ? startup_pathf(dst, len, err, "%s", src)
                : startup_pathf(dst, len, err, "%s/%s", bin_dir, def);
    char real[PATH_MAX];
    if (r == 0 && realpath(dst, real) != NULL)
        r = startup_pathf(dst, len, err, "%s", real);
    return r;
}

/* Everything that can be checked before anything is made, each failure
 * one line saying what to do. */
static int startup_check(struct startup *b, const char *image_dir, const char *images,
                         st_error *err)
{
    int r;
    if (geteuid() != 0)
        return st_error_set(err, EPERM,
                            "the start-up bench needs root (it starts VMs through libvirt's "
                            "qemu:///system and containers on this host): run it with sudo");
    if ((r = st_exe_dir(b->bin_dir, sizeof(b->bin_dir), err)) < 0 ||
        (r = resolve_dir(b->image_dir, sizeof(b->image_dir), image_dir, b->bin_dir, "../image",
                         err)) < 0 ||
        (r = resolve_dir(b->images, sizeof(b->images), images, b->bin_dir, "../fixtures", err)) <
            0 ||
        (r = startup_pathf(b->kernel, sizeof(b->kernel), err, "%s/vmlinux", b->image_dir)) < 0 ||
        (r = startup_pathf(b->initramfs, sizeof(b->initramfs), err, "%s/initramfs.cpio",
                           b->image_dir)) < 0 ||
        (r = startup_pathf(b->rootfs, sizeof(b->rootfs), err, "%s/busybox/rootfs", b->images)) <
            0 ||
        (r = startup_pathf(b->strata_run, sizeof(b->strata_run), err, "%s/strata-run",
                           b->bin_dir)) < 0)
        return r;
    st_error why = {0};
    if (st_vmm_boot_files_check(b->kernel, b->initramfs, &why) < 0)
        return st_error_set(err, ENOENT,
                            "no usable node image in %s (%s): build it with `cmake --build "
                            "build --target node-image`, or give --node-image DIR",
                            b->image_dir, why.msg);
    char true_path[PATH_MAX];
    if ((r = startup_pathf(true_path, sizeof(true_path), err, "%s/bin/true", b->rootfs)) < 0)
        return r;
    if (access(true_path, X_OK) < 0)
        return st_error_set(err, ENOENT,
                            "no busybox image in %s (no %s): build the build's own with "
                            "`cmake --build build --target fixtures`, or make one with "
                            "scripts/mkrootfs-busybox DIR/busybox/rootfs and give --images DIR",
                            b->images, true_path);
    /* The pods' image: the first layer of the store (bench/startup makes
     * one of the busybox root). */
    char layers[PATH_MAX];
    if ((r = startup_pathf(layers, sizeof(layers), err, "%s/layers", b->images)) < 0)
        return r;
    _cleanup_closedir_ DIR *ld = opendir(layers);
    for (struct dirent *de; ld && (de = readdir(ld)) != NULL;)
        if (de->d_name[0] != '.' && strlen(de->d_name) < sizeof(b->layer) - 8) {
            snprintf(b->layer, sizeof(b->layer), "layers/%s", de->d_name);
            break;
        }
    if (b->layer[0] == '\0')
        return st_error_set(err, ENOENT,
                            "no image layer in %s (the pods run one, as stratad sends them): "
                            "copy DIR/busybox/rootfs to DIR/layers/<hex> (bench/startup does)",
                            layers);
    if (!open_to_others(b->images))
        return st_error_set(err, EACCES,
                            "QEMU (it runs as another user) cannot read the image store %s: a "
                            "folder on its path is closed to others; make one under /tmp with "
                            "scripts/mkrootfs-busybox DIR/busybox/rootfs and give --images DIR",
                            b->images);
    if (access(b->strata_run, X_OK) < 0)
        return st_error_set(err, ENOENT,
                            "%s is missing: build it with `cmake --build build --target "
                            "strata-run` (it is found next to " PROG ")",
                            b->strata_run);
    /* The bench image is optional: without it the crun row says how to
     * make it. */
    char bench_dir[PATH_MAX];
    st_error no_bench = {0};
    if (resolve_dir(bench_dir, sizeof(bench_dir), NULL, b->bin_dir, "../image-bench", &no_bench) ==
            0 &&
        startup_pathf(b->bench_kernel, sizeof(b->bench_kernel), &no_bench, "%s/vmlinux",
                      bench_dir) == 0 &&
        startup_pathf(b->bench_initramfs, sizeof(b->bench_initramfs), &no_bench,
                      "%s/initramfs.cpio", bench_dir) == 0 &&
        st_vmm_boot_files_check(b->bench_kernel, b->bench_initramfs, &no_bench) == 0)
        b->crun_in_vm = true;
    host_describe(b->host, sizeof(b->host));
    if ((r = st_accel_choose(NULL, ST_ACCEL_AUTO, &b->accel, err)) < 0)
        return r;
    if (st_vmm_open(NULL, &b->vmm, &why) < 0)
        return st_error_set(err, EHOSTDOWN,
                            "cannot use libvirt at %s (%s): is libvirtd running? run "
                            "scripts/setup",
                            ST_VMM_URI_DEFAULT, why.msg);
    return 0;
}

/* ---- run order and cleanup ------------------------------------------------ */

static void startup_cleanup(struct startup *b)
{
    startup_node_remove(b);
    if (b->tmp[0]) {
        startup_host_cleanup(b);
        st_fs_rmtree(b->tmp, NULL);
    }
    st_vmm_close(b->vmm);
    b->vmm = NULL;
    for (int i = 0; i < STARTUP_ROW_COUNT; i++)
        free(b->rows[i].runs_ms);
}

static int rows_init(struct startup *b, st_error *err)
{
    static const char *const names[STARTUP_ROW_COUNT] = {
        [STARTUP_ROW_VM] = NULL, /* named after the accelerator */
        [STARTUP_ROW_POD] = "container in VM (strata)",
        [STARTUP_ROW_CRUN] = "crun in VM",
        [STARTUP_ROW_STRATA_RUN] = "container on host (strata-run)",
        [STARTUP_ROW_RUNC] = "container on host (runc)",
    };
    for (int i = 0; i < STARTUP_ROW_COUNT; i++) {
        struct startup_row *row = &b->rows[i];
        if (names[i])
            snprintf(row->name, sizeof(row->name), "%s", names[i]);
        else
            snprintf(row->name, sizeof(row->name), "vm node (%s)", st_accel_name(b->accel.accel));
        row->runs_ms = calloc((size_t)b->runs, sizeof(double));
        if (row->runs_ms == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
    }
    /* The peer of a pod in a VM: crun in the same VM, which only the bench
     * variant of the node image carries. */
    if (!b->crun_in_vm)
        startup_row_na(&b->rows[STARTUP_ROW_CRUN],
                       "n/a (no bench node image next to the binaries: cmake --build build "
                       "--target node-image-bench, which needs crun on this host)");
    return 0;
}

static int startup_run(struct startup *b, const char *image_dir, const char *images, st_error *err)
{
    int r = startup_check(b, image_dir, images, err);
    if (r < 0 || (r = rows_init(b, err)) < 0)
        return r;
    snprintf(b->tmp, sizeof(b->tmp), "/tmp/strata-bench-XXXXXX");
    if (mkdtemp(b->tmp) == NULL) {
        r = st_error_sys(err, errno, "cannot create a folder under /tmp");
        b->tmp[0] = '\0';
        return r;
    }
    if ((r = st_fs_mkdir_mode(b->tmp, 0755, err)) < 0)
        return r;
    fprintf(stderr, "bench: %d run%s each; accel %s; node image %s; images %s; scratch %s\n",
            b->runs, b->runs == 1 ? "" : "s", b->accel.reason, b->image_dir, b->images, b->tmp);
    /* host containers first: the quickest to fail if something is amiss */
    startup_host(b);
    startup_vm(b);
    if (!startup_interrupted)
        startup_pods(b);
    for (int i = 0; i < STARTUP_ROW_COUNT; i++)
        row_finish(&b->rows[i], b->runs);
    if (startup_interrupted)
        return st_error_set(err, EINTR, "interrupted; removed what the bench had made");
    return 0;
}

/* ---- main ----------------------------------------------------------------- */

static void help(void)
{
    printf("usage: %s " USAGE_ARGS "\n\n"
           "Start-up times on this host, side by side, N runs each (default %d):\n"
           "  vm node                  the vmm library's start call until the node's hello\n"
           "  container in VM          pod_run to that node until the pod is Running\n"
           "  container on host        `strata-run run` and `runc run` of /bin/true\n"
           "The table gives median, p90 and the ratio to the fastest; its last line\n"
           "states the figures and the ratios to runc. Needs root (libvirt, runtimes).\n\n"
           "  --runs N          runs of each (1..%d)\n"
           "  -o json           every run as JSON instead of the table\n"
           "  --svg FILE        also draw the medians as an SVG chart\n"
           "  --results FILE    also write the results as JSON to FILE (stratactl sends\n"
           "                    them to stratad, for the dashboard's chart)\n"
           "  --node-image DIR  vmlinux and initramfs.cpio (default: ../image next to bin)\n"
           "  --images DIR      an image store with busybox/rootfs, readable by QEMU\n"
           "                    (default: ../fixtures next to bin, the build's own)\n",
           prog_name, RUNS_DEFAULT, RUNS_MAX);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; usage: %s " USAGE_ARGS "\n", prog_name);
    va_end(ap);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"svg", required_argument, NULL, 's'},
        {"results", required_argument, NULL, 'R'},
        {"node-image", required_argument, NULL, 'i'},
        {"images", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int runs = RUNS_DEFAULT, c;
    bool json = false;
    const char *svg = NULL, *results = NULL, *image_dir = NULL, *images = NULL;
    if (argc > 0 && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog_name = slash ? slash + 1 : argv[0];
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > RUNS_MAX)
                return usage_error("--runs needs a count from 1 to %d, got \"%s\"", RUNS_MAX,
                                   optarg);
            runs = (int)v;
            break;
        }
        case 'o':
            if (strcmp(optarg, "json") != 0)
                return usage_error("-o takes json (the default is a table), not \"%s\"", optarg);
            json = true;
            break;
        case 's':
            svg = optarg;
            break;
        case 'R':
            results = optarg;
            break;
        case 'i':
            image_dir = optarg;
            break;
        case 'I':
            images = optarg;
            break;
        case 'h':
            help();
            return 0;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);

    /* a chart that cannot be written is known now, not after the runs */
    FILE *svg_file = NULL;
    if (svg && (svg_file = fopen(svg, "we")) == NULL) {
        fprintf(stderr, "error: cannot write the chart to %s: %s\n", svg, strerror(errno));
        return EXIT_FAIL;
    }

    _cleanup_fclose_ FILE *results_file = NULL;
    if (results && (results_file = fopen(results, "we")) == NULL) {
        fprintf(stderr, "error: cannot write the results to %s: %s\n", results, strerror(errno));
        return EXIT_FAIL;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: a wait for a child returns, and the loop sees the flag */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct startup b = {.runs = runs};
    st_error err = {0};
    int r = startup_run(&b, image_dir, images, &err);
    int failed = 0;
    for (int i = 0; i < STARTUP_ROW_COUNT; i++)
        failed += b.rows[i].state == STARTUP_ROW_FAILED;
    if (r == 0) {
        if (json)
            r = startup_print_json(&b, stdout, &err);
        else
            startup_print_table(&b);
        fflush(stdout);
        if (r == 0 && results_file)
            r = startup_print_json(&b, results_file, &err);
        if (r == 0 && svg_file)
            r = startup_write_svg(&b, st_steal_ptr(&svg_file), svg, &err);
    }
    if (svg_file)
        fclose(svg_file);
    if (svg && r < 0)
        unlink(svg); /* no chart: leave no empty or partial file behind */
    startup_cleanup(&b);
    if (r < 0) {
        fprintf(stderr, "error: %s\n", err.msg);
        return EXIT_FAIL;
    }
    if (failed) {
        fprintf(stderr, "error: %d of the measurements failed (see the errors above)\n", failed);
        return EXIT_FAIL;
    }
    return 0;
}
