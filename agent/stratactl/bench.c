/* bench.c: `stratactl bench startup`: start-up times on this host, side by
 * side, N runs each: a VM node from the start call to its hello; a container
 * in such a node from pod_run to its first Running (or Succeeded)
 * pod_status; a container on the host by strata-run and by runc. Prints
 * median, p90 and the ratio to the fastest as a table (or JSON), and can
 * draw the medians as an SVG chart.
 *
 * It works on this host directly (libvirt, the runtimes), not through
 * stratad, so it needs root. Everything it makes (domains strata-bench-*,
 * one folder under /tmp, container state) is removed at the end, also after
 * an error or Ctrl-C: the signal only sets a flag that every loop checks,
 * and the way out is always the same cleanup. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "strata/bench_stats.h"
#include "strata/fs.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"
#include "strata/vmm.h"

extern char **environ;

#define USAGE        STCTL_USAGE_BENCH " [--node-image DIR]"
#define RUNS_DEFAULT 10
#define RUNS_MAX     1000
/* A pod of /bin/true is Running within a second even under TCG; the bound
 * only keeps a node that never answers (no pod support) from hanging us. */
#define POD_START_TIMEOUT_MS 60000
/* pod_stop of an exited container is immediate; a stuck one gets the
 * node's grace period (at most 10 s) and is then killed. */
#define POD_REMOVE_TIMEOUT_MS 15000
/* How often a wait looks at the Ctrl-C flag. */
#define EVENT_POLL_MS 200
#define BUSYBOX       "/bin/busybox"

/* ---- interruption --------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- what is measured ----------------------------------------------------- */

enum row_id { ROW_VM, ROW_POD, ROW_CRUN, ROW_STRATA_RUN, ROW_RUNC, ROW_COUNT };

enum row_state {
    ROW_PENDING, /* not reached (an interruption) */
    ROW_DONE,
    ROW_NA,     /* cannot be measured here; why says why */
    ROW_FAILED, /* the error was printed when it happened */
};

struct row {
    char name[64];
    enum row_state state;
    char why[256];
    double *runs_ms; /* state DONE: n values in run order */
    size_t n;
    st_bench_stats stats;
};

struct bench {
    int runs;
    char tmp[32]; /* /tmp/strata-bench-XXXXXX, 0755: QEMU (libvirt-qemu) reads below it */
    char bin_dir[PATH_MAX];
    char image_dir[PATH_MAX];
    char kernel[PATH_MAX], initramfs[PATH_MAX];
    char strata_run[PATH_MAX];
    char runc[PATH_MAX]; /* empty: not installed */
    char host[512];      /* "NAME, Linux RELEASE, N CPUs" */
    st_vmm *vmm;
    st_accel_choice accel;
    char live_node[ST_NODE_NAME_MAX + 1]; /* a running node to remove on the way out */
    struct row rows[ROW_COUNT];
};

/* ---- helpers -------------------------------------------------------------- */

static int pathf(char *buf, size_t len, st_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int pathf(char *buf, size_t len, st_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        return st_error_set(err, ENAMETOOLONG, "path too long: %s...", buf);
    return 0;
}

static double ms_since(int64_t t0_ns, int64_t t1_ns)
{
    return (double)(t1_ns - t0_ns) / 1e6;
}

/* The folder of the running stratactl: strata-run and the node image are
 * found next to it, as the build lays them out. */
static int exe_dir(char *buf, size_t len, st_error *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n < 0)
        return st_error_sys(err, errno, "cannot read /proc/self/exe");
    if ((size_t)n >= len - 1)
        return st_error_set(err, ENAMETOOLONG, "the path of stratactl is too long");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        return st_error_set(err, EINVAL, "cannot tell stratactl's folder from \"%s\"", buf);
    *slash = '\0';
    return 0;
}

/* The first executable prog on $PATH (or the usual folders) into out;
 * false when there is none. */
static bool find_in_path(const char *prog, char *out, size_t len)
{
    const char *env = getenv("PATH");
    _cleanup_free_ char *path =
        strdup(env && *env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;
    for (char *dir = path ? strtok_r(path, ":", &save) : NULL; dir;
         dir = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, len, "%s/%s", dir, prog);
        if (n > 0 && (size_t)n < len && access(out, X_OK) == 0)
            return true;
    }
    out[0] = '\0';
    return false;
}

/* The last non-empty line of a (small) file, for quoting a child's error. */
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, len, "%s", line);
    }
}

/* Runs argv with stdin and stdout on /dev/null and stderr into err_path;
 * *ms is the time from spawning to reaping. Non-zero exit: an error that
 * quotes the last line the child wrote. */
static int run_timed(char *const argv[], const char *err_path, double *ms, st_error *err)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return st_error_set(err, ENOMEM, "out of memory");
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int64_t t0 = st_vmm_now_ns();
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return st_error_set(err, r, "cannot run %s: %s", argv[0], strerror(r));
    int status = 0;
    /* Ctrl-C reaches the child too (same process group): wait it out */
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return st_error_sys(err, errno, "cannot wait for %s", argv[0]);
    *ms = ms_since(t0, st_vmm_now_ns());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char why[1024];
    last_line(err_path, why, sizeof(why));
    if (WIFSIGNALED(status))
        return st_error_set(err, ECHILD, "%s was killed by signal %d%s%s", argv[0],
                            WTERMSIG(status), why[0] ? ": " : "", why);
    return st_error_set(err, ECHILD, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
                        why[0] ? ": " : "", why);
}

/* true for an ELF file without a program interpreter (statically linked):
 * the minimal rootfs has no shared libraries. */
static bool is_static_elf(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
            return false;
        if (ph.p_type == PT_INTERP)
            return false;
    }
    return true;
}

static int copy_file(const char *src, const char *dst, mode_t mode, st_error *err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return st_error_sys(err, errno, "cannot read %s", src);
    _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0)
        return st_error_sys(err, errno, "cannot create %s", dst);
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "cannot read %s", src);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return st_error_sys(err, errno, "cannot write %s", dst);
            off += w;
        }
    }
    /* the umask may have taken bits away; others must read (QEMU, 9p) */
    if (fchmod(out, mode) < 0)
        return st_error_sys(err, errno, "cannot chmod %s", dst);
    return 0;
}

/* A minimal root filesystem at dir: busybox with the two applets the bench
 * runs (sh, true), and the folders a container mounts over. Readable by
 * others: QEMU serves it to the VM over 9p as libvirt-qemu. */
static int make_rootfs(const char *dir, st_error *err)
{
    static const struct {
        const char *name;
        mode_t mode;
    } dirs[] = {{"bin", 0755}, {"dev", 0755},  {"etc", 0755},  {"proc", 0755},
                {"sys", 0755}, {"tmp", 01777}, {"root", 0700}, {"run", 0755}};
    char path[PATH_MAX];
    int r = st_fs_mkdir_mode(dir, 0755, err);
    for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if ((r = pathf(path, sizeof(path), err, "%s/%s", dir, dirs[i].name)) == 0)
            r = st_fs_mkdir_mode(path, dirs[i].mode, err);
    if (r == 0 && (r = pathf(path, sizeof(path), err, "%s/bin/busybox", dir)) == 0)
        r = copy_file(BUSYBOX, path, 0755, err);
    static const char *const applets[] = {"sh", "true"};
    for (size_t i = 0; r == 0 && i < sizeof(applets) / sizeof(applets[0]); i++) {
        if ((r = pathf(path, sizeof(path), err, "%s/bin/%s", dir, applets[i])) == 0 &&
            symlink("busybox", path) < 0)
            r = st_error_sys(err, errno, "cannot create %s", path);
    }
    return r;
}

/* One of a newc header's 8-digit hex fields. */
static unsigned long cpio_field(const char *hdr, size_t off)
{
    char text[9];
    memcpy(text, hdr + off, 8);
    text[8] = '\0';
    return strtoul(text, NULL, 16);
}

/* Whether a newc cpio archive (the node's initramfs) holds an executable
 * or symlink whose last path element is prog. */
static int cpio_has_program(const char *path, const char *prog, bool *found, st_error *err)
{
    *found = false;
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f == NULL)
        return st_error_sys(err, errno, "cannot read %s", path);
    for (;;) {
        char hdr[110], name[PATH_MAX];
        if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
            return st_error_set(err, EINVAL, "%s ends before the archive's trailer", path);
        if (memcmp(hdr, "07070", 5) != 0 || (hdr[5] != '1' && hdr[5] != '2'))
            return st_error_set(err, EINVAL, "%s is not an uncompressed newc cpio archive", path);
        unsigned long mode = cpio_field(hdr, 14), size = cpio_field(hdr, 54),
                      namesize = cpio_field(hdr, 94);
        if (namesize == 0 || namesize > sizeof(name) || fread(name, 1, namesize, f) != namesize)
            return st_error_set(err, EINVAL, "%s: a damaged entry", path);
        name[namesize - 1] = '\0';
        if (strcmp(name, "TRAILER!!!") == 0)
            return 0;
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        if (strcmp(base, prog) == 0 && (S_ISLNK(mode) || (S_ISREG(mode) && (mode & 0111)))) {
            *found = true;
            return 0;
        }
        /* the name, then the data, each padded to 4 bytes */
        long skip = (long)((4 - (sizeof(hdr) + namesize) % 4) % 4 + size + (4 - size % 4) % 4);
        if (fseek(f, skip, SEEK_CUR) < 0)
            return st_error_sys(err, errno, "cannot read %s", path);
    }
}

/* ---- rows ----------------------------------------------------------------- */

static void row_na(struct row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_na(struct row *row, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->why, sizeof(row->why), fmt, ap);
    va_end(ap);
    row->state = ROW_NA;
    fprintf(stderr, "bench: %s: %s\n", row->name, row->why);
}

/* An error ends the row (not the bench): say so at once, in one line. */
static void row_fail(struct row *row, const st_error *err)
{
    if (interrupted)
        return; /* an interruption, not a failure */
    row->state = ROW_FAILED;
    fprintf(stderr, "error: %s: %s\n", row->name, err->msg);
}

static void row_record(struct row *row, int i, int runs, double ms)
{
    row->runs_ms[i] = ms;
    row->n = (size_t)i + 1;
    char text[32];
    st_bench_fmt_ms(ms, text, sizeof(text));
    fprintf(stderr, "bench: %s: run %d/%d: %s ms\n", row->name, i + 1, runs, text);
}

static void row_finish(struct row *row, int runs)
{
    if (row->state == ROW_PENDING && row->n == (size_t)runs && !interrupted &&
        st_bench_stats_compute(row->runs_ms, row->n, &row->stats, NULL) == 0)
        row->state = ROW_DONE;
}

/* ---- VM nodes ------------------------------------------------------------- */

static void node_remove(struct bench *b)
{
    if (b->live_node[0] == '\0')
        return;
    st_error err = {0};
    if (st_vmm_node_destroy(b->vmm, b->live_node, &err) < 0 ||
        st_vmm_node_undefine(b->vmm, b->live_node, &err) < 0)
        fprintf(stderr, "error: cannot remove node %s (domain %s%s): %s; remove it with virsh\n",
                b->live_node, ST_NODE_DOMAIN_PREFIX, b->live_node, err.msg);
    b->live_node[0] = '\0';
}

/* Starts node name (optionally sharing images_dir) and waits for its hello;
 * on success it is b->live_node until node_remove. */
static int node_start(struct bench *b, const char *name, const char *images_dir, double *ms,
                      st_error *err)
{
    char state_dir[PATH_MAX];
    int r = pathf(state_dir, sizeof(state_dir), err, "%s/state", b->tmp);
    if (r < 0 || (r = st_fs_mkdir_mode(state_dir, 0755, err)) < 0)
        return r;
    st_node_spec spec = {
        .name = name,
        .accel = b->accel.accel,
        .kernel = b->kernel,
        .initramfs = b->initramfs,
        .state_dir = state_dir,
        .images_dir = images_dir,
    };
    int64_t t0 = st_vmm_now_ns();
    if ((r = st_vmm_node_start(b->vmm, &spec, NULL, NULL, err)) < 0)
        return r;
    *ms = ms_since(t0, st_vmm_now_ns());
    snprintf(b->live_node, sizeof(b->live_node), "%s", name);
    return 0;
}

static void bench_vm(struct bench *b)
{
    struct row *row = &b->rows[ROW_VM];
    for (int i = 0; i < b->runs && !interrupted; i++) {
        char name[ST_NODE_NAME_MAX + 1];
        snprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), i + 1);
        st_error err = {0};
        double ms;
        if (node_start(b, name, NULL, &ms, &err) < 0) {
            row_fail(row, &err);
            return;
        }
        row_record(row, i, b->runs, ms);
        node_remove(b);
    }
}

/* ---- containers in a VM --------------------------------------------------- */

enum pod_wait { POD_WAIT_STARTED, POD_WAIT_REMOVED };

/* Reads node events until the pod_status of uid that want asks for: its
 * first Running or Succeeded phase (*at_ns: when it was queued), or its
 * removal. Failed, the node's death, the deadline and Ctrl-C are errors. */
static int pod_wait(struct bench *b, const char *node, const char *uid, enum pod_wait want,
                    int timeout_ms, int64_t *at_ns, st_error *err)
{
    int64_t deadline = st_vmm_now_ns() + (int64_t)timeout_ms * 1000000;
    char phase[32] = "none yet";
    for (;;) {
        if (interrupted)
            return st_error_set(err, EINTR, "interrupted");
        int64_t left_ms = (deadline - st_vmm_now_ns()) / 1000000;
        if (left_ms <= 0)
            return st_error_set(err, ETIMEDOUT,
                                "pod uid %s: no %s within %d s (last phase seen: %s); does the "
                                "node image's strata-node run pods?",
                                uid,
                                want == POD_WAIT_STARTED ? "Running or Succeeded status"
                                                         : "removal after pod_stop",
                                timeout_ms / 1000, phase);
        st_vmm_event ev = {0};
        int r = st_vmm_event_next(b->vmm, left_ms < EVENT_POLL_MS ? (int)left_ms : EVENT_POLL_MS,
                                  &ev, err);
        if (r <= 0) {
            if (r < 0)
                return r;
            continue;
        }
        if (strcmp(ev.node, node) != 0) {
            st_vmm_event_clear(&ev);
            continue;
        }
        if (ev.kind == ST_VMM_EVENT_DEAD) {
            r = st_error_set(
                err, EPIPE, "node %s died (%s%s%s) while the bench waited for pod uid %s", node,
                st_node_death_name(ev.cause), ev.detail[0] ? ": " : "", ev.detail, uid);
            st_vmm_event_clear(&ev);
            return r;
        }
        struct st_proto_pod_status ps = {0};
        if (ev.type == NULL || strcmp(ev.type, ST_PROTO_POD_STATUS) != 0 ||
            st_proto_pod_status_parse(ev.msg, &ps, NULL) < 0 || strcmp(ps.uid, uid) != 0) {
            st_vmm_event_clear(&ev);
            continue;
        }
        snprintf(phase, sizeof(phase), "%s", ps.phase);
        bool started = strcmp(ps.phase, "Running") == 0 || strcmp(ps.phase, "Succeeded") == 0;
        if (want == POD_WAIT_STARTED && strcmp(ps.phase, "Failed") == 0) {
            r = st_error_set(err, EIO, "pod uid %s failed: %s%s%s", uid,
                             ps.reason ? ps.reason : "no reason given", ps.message ? ": " : "",
                             ps.message ? ps.message : "");
            st_vmm_event_clear(&ev);
            return r;
        }
        int64_t t = ev.mono_ns;
        bool done = want == POD_WAIT_STARTED ? started : ps.removed;
        st_vmm_event_clear(&ev);
        if (done) {
            if (at_ns)
                *at_ns = t;
            return 0;
        }
    }
}

static int pod_send_run(struct bench *b, const char *node, const char *pod, const char *uid,
                        st_error *err)
{
    _cleanup_json_ json_t *spec =
        json_pack("{s:[{s:s, s:s, s:[s]}], s:s}", "containers", "name", "c", "image", "busybox",
                  "command", "/bin/true", "restartPolicy", "Never");
    if (spec == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    struct st_proto_pod_run pr = {.pod = pod, .uid = uid, .spec = spec};
    _cleanup_json_ json_t *msg = NULL;
    int r = st_proto_pod_run_build(&pr, &msg, err);
    return r < 0 ? r : st_vmm_node_send(b->vmm, node, msg, err);
}

static int pod_send_stop(struct bench *b, const char *node, const char *pod, const char *uid,
                         st_error *err)
{
    struct st_proto_pod_stop ps = {.pod = pod, .uid = uid};
    _cleanup_json_ json_t *msg = NULL;
    int r = st_proto_pod_stop_build(&ps, &msg, err);
    return r < 0 ? r : st_vmm_node_send(b->vmm, node, msg, err);
}

/* One node with the bench's image store, then N pods of /bin/true on it,
 * one at a time: each timed from its pod_run until it runs, then stopped. */
static void bench_pods(struct bench *b)
{
    struct row *row = &b->rows[ROW_POD];
    st_error err = {0};
    char images[PATH_MAX], rootfs[PATH_MAX], node[ST_NODE_NAME_MAX + 1];
    snprintf(node, sizeof(node), "bench-%d-pods", (int)getpid());
    double boot_ms;
    if (pathf(images, sizeof(images), &err, "%s/images", b->tmp) < 0 ||
        st_fs_mkdir_mode(images, 0755, &err) < 0 ||
        pathf(rootfs, sizeof(rootfs), &err, "%s/busybox", images) < 0 ||
        st_fs_mkdir_mode(rootfs, 0755, &err) < 0 ||
        pathf(rootfs, sizeof(rootfs), &err, "%s/busybox/rootfs", images) < 0 ||
        make_rootfs(rootfs, &err) < 0) {
        row_fail(row, &err);
        return;
    }
    fprintf(stderr, "bench: %s: starting node %s\n", row->name, node);
    if (node_start(b, node, images, &boot_ms, &err) < 0) {
        row_fail(row, &err);
        return;
    }
    for (int i = 0; i < b->runs && !interrupted; i++) {
        char pod[32], uid[64];
        snprintf(pod, sizeof(pod), "bench-%d", i + 1);
        snprintf(uid, sizeof(uid), "bench-%d-%d", (int)getpid(), i + 1);
        int64_t t0 = st_vmm_now_ns(), t1 = 0;
        if (pod_send_run(b, node, pod, uid, &err) < 0 ||
            pod_wait(b, node, uid, POD_WAIT_STARTED, POD_START_TIMEOUT_MS, &t1, &err) < 0) {
            row_fail(row, &err);
            break;
        }
        row_record(row, i, b->runs, ms_since(t0, t1));
        /* the next pod starts on a node that has let go of this one */
        if (pod_send_stop(b, node, pod, uid, &err) < 0) {
            row_fail(row, &err);
            break;
        }
        if (pod_wait(b, node, uid, POD_WAIT_REMOVED, POD_REMOVE_TIMEOUT_MS, NULL, &err) < 0 &&
            !interrupted) {
            fprintf(stderr, "bench: %s: %s; going on\n", row->name, err.msg);
            st_error_clear(&err);
        }
    }
    node_remove(b);
}

/* ---- containers on the host ----------------------------------------------- */

/* TMP/bundle: the busybox rootfs and strata-run's default config.json,
 * running /bin/true without a terminal. runc runs the same bundle. */
static int make_bundle(struct bench *b, char *bundle, size_t len, st_error *err)
{
    char rootfs[PATH_MAX], config[PATH_MAX], errlog[PATH_MAX];
    double ms;
    int r;
    if ((r = pathf(bundle, len, err, "%s/bundle", b->tmp)) < 0 ||
        (r = st_fs_mkdir_mode(bundle, 0755, err)) < 0 ||
        (r = pathf(rootfs, sizeof(rootfs), err, "%s/rootfs", bundle)) < 0 ||
        (r = make_rootfs(rootfs, err)) < 0 ||
        (r = pathf(config, sizeof(config), err, "%s/config.json", bundle)) < 0 ||
        (r = pathf(errlog, sizeof(errlog), err, "%s/spec.err", b->tmp)) < 0)
        return r;
    char *const spec[] = {b->strata_run, "spec", "--bundle", bundle, NULL};
    if ((r = run_timed(spec, errlog, &ms, err)) < 0)
        return r;
    json_error_t jerr;
    _cleanup_json_ json_t *cfg = json_load_file(config, 0, &jerr);
    if (cfg == NULL)
        return st_error_set(err, EINVAL, "%s: %s (line %d)", config, jerr.text, jerr.line);
    json_t *process = json_object_get(cfg, "process");
    if (!json_is_object(process) ||
        json_object_set_new(process, "args", json_pack("[s]", "/bin/true")) < 0 ||
        json_object_set_new(process, "terminal", json_false()) < 0)
        return st_error_set(err, EINVAL, "%s: no \"process\" object to set", config);
    if (json_dump_file(cfg, config, JSON_INDENT(2)) < 0)
        return st_error_set(err, EIO, "cannot write %s", config);
    return 0;
}

/* strata-run and runc, alternated run by run so both see the same load. */
static void bench_host(struct bench *b)
{
    struct row *srow = &b->rows[ROW_STRATA_RUN], *rrow = &b->rows[ROW_RUNC];
    char bundle[PATH_MAX], sroot[PATH_MAX], rroot[PATH_MAX], errlog[PATH_MAX];
    st_error err = {0};
    if (b->runc[0] == '\0')
        row_na(rrow, "n/a (runc is not installed: apt-get install runc)");
    if (pathf(sroot, sizeof(sroot), &err, "%s/strata-root", b->tmp) < 0 ||
        pathf(rroot, sizeof(rroot), &err, "%s/runc-root", b->tmp) < 0 ||
        pathf(errlog, sizeof(errlog), &err, "%s/run.err", b->tmp) < 0 ||
        make_bundle(b, bundle, sizeof(bundle), &err) < 0) {
        row_fail(srow, &err);
        if (rrow->state == ROW_PENDING)
            row_fail(rrow, &err);
        return;
    }
    for (int i = 0; i < b->runs && !interrupted; i++) {
        char id[64];
        double ms;
        snprintf(id, sizeof(id), "bench-%d-s%d", (int)getpid(), i + 1);
        char *const srun[] = {b->strata_run, "--root", sroot, "run", "--bundle", bundle, id, NULL};
        if (srow->state == ROW_PENDING) {
            st_error_clear(&err);
            if (run_timed(srun, errlog, &ms, &err) < 0)
                row_fail(srow, &err);
            else if (!interrupted)
                row_record(srow, i, b->runs, ms);
        }
        snprintf(id, sizeof(id), "bench-%d-r%d", (int)getpid(), i + 1);
        char *const rrun[] = {b->runc, "--root", rroot, "run", "--bundle", bundle, id, NULL};
        if (rrow->state == ROW_PENDING && !interrupted) {
            st_error_clear(&err);
            if (run_timed(rrun, errlog, &ms, &err) < 0)
                row_fail(rrow, &err);
            else if (!interrupted)
                row_record(rrow, i, b->runs, ms);
        }
        if (srow->state != ROW_PENDING && rrow->state != ROW_PENDING)
            break;
    }
}

/* Deletes every container a runtime still keeps under root (an interrupted
 * or failed run); each is a folder named by its id. */
static void containers_remove(const char *runtime, const char *root, const char *errlog)
{
    _cleanup_closedir_ DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *const del[] = {(char *)runtime, "--root",  (char *)root, "delete",
                             "--force",       e->d_name, NULL};
        double ms;
        st_error err = {0};
        if (run_timed(del, errlog, &ms, &err) < 0)
            fprintf(stderr, "bench: cannot delete container %s: %s\n", e->d_name, err.msg);
    }
}

/* ---- output --------------------------------------------------------------- */

static double fastest_median(const struct bench *b)
{
    double best = 0;
    for (int i = 0; i < ROW_COUNT; i++)
        if (b->rows[i].state == ROW_DONE && (best == 0 || b->rows[i].stats.median < best))
            best = b->rows[i].stats.median;
    return best;
}

static void print_table(const struct bench *b)
{
    int w = (int)strlen("NAME");
    for (int i = 0; i < ROW_COUNT; i++)
        if ((int)strlen(b->rows[i].name) > w)
            w = (int)strlen(b->rows[i].name);
    double best = fastest_median(b);
    printf("%-*s   %9s   %9s   %8s\n", w, "NAME", "MEDIAN MS", "P90 MS", "RATIO");
    for (int i = 0; i < ROW_COUNT; i++) {
        const struct row *row = &b->rows[i];
        switch (row->state) {
        case ROW_DONE: {
            char med[32], p90[32], ratio[32];
            st_bench_fmt_ms(row->stats.median, med, sizeof(med));
            st_bench_fmt_ms(row->stats.p90, p90, sizeof(p90));
            st_bench_fmt_ratio(st_bench_ratio(row->stats.median, best), ratio, sizeof(ratio));
            printf("%-*s   %9s   %9s   %8s\n", w, row->name, med, p90, ratio);
            break;
        }
        case ROW_NA:
            printf("%-*s   %s\n", w, row->name, row->why);
            break;
        case ROW_FAILED:
            printf("%-*s   failed (see the error above)\n", w, row->name);
            break;
        case ROW_PENDING:
            printf("%-*s   not measured (interrupted)\n", w, row->name);
            break;
        }
    }
    printf("%d run%s each; accel %s; host %s\n", b->runs, b->runs == 1 ? "" : "s",
           st_accel_name(b->accel.accel), b->host);
}

/* Rounded to the microsecond: more digits are noise. */
static json_t *json_ms(double ms)
{
    return json_real((double)(long long)(ms * 1000 + 0.5) / 1000);
}

static int print_json(const struct bench *b, st_error *err)
{
    _cleanup_json_ json_t *results = json_array();
    if (results == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    for (int i = 0; i < ROW_COUNT; i++) {
        const struct row *row = &b->rows[i];
        if (row->state != ROW_DONE)
            continue;
        json_t *runs = json_array();
        for (size_t k = 0; runs && k < row->n; k++)
            json_array_append_new(runs, json_ms(row->runs_ms[k]));
        if (runs == NULL ||
            json_array_append_new(results,
                                  json_pack("{s:s, s:o, s:o, s:o}", "name", row->name, "median_ms",
                                            json_ms(row->stats.median), "p90_ms",
                                            json_ms(row->stats.p90), "runs_ms", runs)) < 0)
            return st_error_set(err, ENOMEM, "out of memory");
    }
    _cleanup_json_ json_t *doc = json_pack("{s:O, s:s, s:s}", "results", results, "accel",
                                           st_accel_name(b->accel.accel), "host", b->host);
    if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) < 0)
        return st_error_set(err, EIO, "cannot print the results");
    putchar('\n');
    return 0;
}

/* Writes the chart into f, opened (and so checked) before the bench ran;
 * closes f. */
static int write_svg(const struct bench *b, FILE *f, const char *path, st_error *err)
{
    st_bench_bar bars[ROW_COUNT];
    size_t n = 0;
    for (int i = 0; i < ROW_COUNT; i++)
        if (b->rows[i].state == ROW_DONE)
            bars[n++] = (st_bench_bar){b->rows[i].name, b->rows[i].stats.median};
    char title[640], subtitle[256];
    snprintf(title, sizeof(title), "Start-up time on %s (accel %s)", b->host,
             st_accel_name(b->accel.accel));
    snprintf(subtitle, sizeof(subtitle),
             "median of %d run%s each; VM: start call to hello; containers: until running", b->runs,
             b->runs == 1 ? "" : "s");
    int r = n ? st_bench_svg_write(f, title, subtitle, bars, n, err)
              : st_error_set(err, ENODATA, "nothing was measured, so there is no chart");
    if (fclose(f) != 0 && r == 0)
        r = st_error_sys(err, errno, "cannot write the chart");
    if (r < 0)
        st_error_prefix(err, "%s: ", path);
    else
        fprintf(stderr, "bench: chart written to %s\n", path);
    return r;
}

/* ---- setup and teardown --------------------------------------------------- */

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

/* Everything that can be checked before anything is made, each failure
 * one line saying what to do. */
static int bench_check(struct bench *b, const char *image_dir, st_error *err)
{
    int r;
    if (geteuid() != 0)
        return st_error_set(err, EPERM,
                            "bench startup needs root (it starts VMs through libvirt's "
                            "qemu:///system and containers on this host): run it with sudo");
    if ((r = exe_dir(b->bin_dir, sizeof(b->bin_dir), err)) < 0)
        return r;
    if (image_dir)
        r = pathf(b->image_dir, sizeof(b->image_dir), err, "%s", image_dir);
    else
        r = pathf(b->image_dir, sizeof(b->image_dir), err, "%s/../image", b->bin_dir);
    if (r < 0 || (r = pathf(b->kernel, sizeof(b->kernel), err, "%s/vmlinux", b->image_dir)) < 0 ||
        (r = pathf(b->initramfs, sizeof(b->initramfs), err, "%s/initramfs.cpio", b->image_dir)) <
            0 ||
        (r = pathf(b->strata_run, sizeof(b->strata_run), err, "%s/strata-run", b->bin_dir)) < 0)
        return r;
    /* libvirt wants absolute, clean paths */
    char real[PATH_MAX];
    if (realpath(b->image_dir, real) != NULL &&
        ((r = pathf(b->image_dir, sizeof(b->image_dir), err, "%s", real)) < 0 ||
         (r = pathf(b->kernel, sizeof(b->kernel), err, "%s/vmlinux", real)) < 0 ||
         (r = pathf(b->initramfs, sizeof(b->initramfs), err, "%s/initramfs.cpio", real)) < 0))
        return r;
    st_error why = {0};
    if (st_vmm_boot_files_check(b->kernel, b->initramfs, &why) < 0)
        return st_error_set(err, ENOENT,
                            "no usable node image in %s (%s): build it with `cmake --build "
                            "build --target node-image`, or give --node-image DIR",
                            b->image_dir, why.msg);
    if (access(b->strata_run, X_OK) < 0)
        return st_error_set(err, ENOENT,
                            "%s is missing: build it with `cmake --build build --target "
                            "strata-run` (it is found next to stratactl)",
                            b->strata_run);
    if (!is_static_elf(BUSYBOX))
        return st_error_set(err, ENOENT,
                            "%s is not a statically linked busybox (the containers' rootfs "
                            "has no libraries): run scripts/setup (installs busybox-static)",
                            BUSYBOX);
    find_in_path("runc", b->runc, sizeof(b->runc));
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

static void bench_cleanup(struct bench *b)
{
    node_remove(b);
    if (b->tmp[0]) {
        char root[PATH_MAX], errlog[PATH_MAX];
        snprintf(errlog, sizeof(errlog), "%s/delete.err", b->tmp);
        snprintf(root, sizeof(root), "%s/strata-root", b->tmp);
        containers_remove(b->strata_run, root, errlog);
        snprintf(root, sizeof(root), "%s/runc-root", b->tmp);
        if (b->runc[0])
            containers_remove(b->runc, root, errlog);
        st_fs_rmtree(b->tmp, NULL);
    }
    st_vmm_close(b->vmm);
    b->vmm = NULL;
    for (int i = 0; i < ROW_COUNT; i++)
        free(b->rows[i].runs_ms);
}

static int bench_rows_init(struct bench *b, st_error *err)
{
    static const char *const names[ROW_COUNT] = {
        [ROW_VM] = NULL, /* named after the accelerator */
        [ROW_POD] = "container in VM (strata)",
        [ROW_CRUN] = "crun in VM",
        [ROW_STRATA_RUN] = "container on host (strata-run)",
        [ROW_RUNC] = "container on host (runc)",
    };
    for (int i = 0; i < ROW_COUNT; i++) {
        struct row *row = &b->rows[i];
        if (names[i])
            snprintf(row->name, sizeof(row->name), "%s", names[i]);
        else
            snprintf(row->name, sizeof(row->name), "vm node (%s)", st_accel_name(b->accel.accel));
        row->runs_ms = calloc((size_t)b->runs, sizeof(double));
        if (row->runs_ms == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* crun in a VM would need crun in the node image and a way to run it there
 * (the node protocol runs pods with strata's own runtime only). */
static void bench_crun(struct bench *b)
{
    struct row *row = &b->rows[ROW_CRUN];
    bool found = false;
    st_error err = {0};
    if (cpio_has_program(b->initramfs, "crun", &found, &err) < 0)
        row_na(row, "n/a (cannot look into the node image: %s)", err.msg);
    else if (!found)
        row_na(row, "n/a (crun is not in the node image)");
    else
        row_na(row, "n/a (crun is in the node image, but the node protocol cannot run it)");
}

static int bench_run(struct bench *b, const char *image_dir, st_error *err)
{
    int r = bench_check(b, image_dir, err);
    if (r < 0 || (r = bench_rows_init(b, err)) < 0)
        return r;
    snprintf(b->tmp, sizeof(b->tmp), "/tmp/strata-bench-XXXXXX");
    if (mkdtemp(b->tmp) == NULL) {
        r = st_error_sys(err, errno, "cannot create a folder under /tmp");
        b->tmp[0] = '\0';
        return r;
    }
    if ((r = st_fs_mkdir_mode(b->tmp, 0755, err)) < 0)
        return r;
    fprintf(stderr, "bench: %d run%s each; accel %s; node image %s; scratch %s\n", b->runs,
            b->runs == 1 ? "" : "s", b->accel.reason, b->image_dir, b->tmp);
    /* host containers first: the quickest to fail if something is amiss */
    bench_host(b);
    bench_crun(b);
    bench_vm(b);
    if (!interrupted)
        bench_pods(b);
    for (int i = 0; i < ROW_COUNT; i++)
        row_finish(&b->rows[i], b->runs);
    if (interrupted)
        return st_error_set(err, EINTR, "interrupted; removed what the bench had made");
    return 0;
}

/* ---- the verb ------------------------------------------------------------- */

static int bench_startup(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"svg", required_argument, NULL, 's'},
        {"node-image", required_argument, NULL, 'i'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int runs = RUNS_DEFAULT, c;
    bool json = false;
    const char *svg = NULL, *image_dir = NULL;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'r': {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > RUNS_MAX)
                return stctl_usage(USAGE, "--runs needs a count from 1 to %d, got \"%s\"", RUNS_MAX,
                                   optarg);
            runs = (int)v;
            break;
        }
        case 'o':
            if (strcmp(optarg, "json") != 0)
                return stctl_usage(USAGE, "-o takes json (the default is a table), not \"%s\"",
                                   optarg);
            json = true;
            break;
        case 's':
            svg = optarg;
            break;
        case 'i':
            image_dir = optarg;
            break;
        default: {
            int r = stctl_common_option(ctl, c, argv, USAGE);
            if (r >= 0)
                return r;
        }
        }
    }
    if (optind < argc)
        return stctl_usage(USAGE, "unexpected argument \"%s\"", argv[optind]);

    /* a chart that cannot be written is known now, not after the runs */
    FILE *svg_file = NULL;
    if (svg && (svg_file = fopen(svg, "we")) == NULL)
        return stctl_failf("cannot write the chart to %s: %s", svg, strerror(errno));

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: a wait for a child returns, and the loop sees the flag */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;

    struct bench b = {.runs = runs};
    st_error err = {0};
    int r = bench_run(&b, image_dir, &err);
    int failed = 0;
    for (int i = 0; i < ROW_COUNT; i++)
        failed += b.rows[i].state == ROW_FAILED;
    if (r == 0) {
        if (json)
            r = print_json(&b, &err);
        else
            print_table(&b);
        fflush(stdout);
        if (r == 0 && svg_file)
            r = write_svg(&b, st_steal_ptr(&svg_file), svg, &err);
    }
    if (svg_file)
        fclose(svg_file);
    if (svg && r < 0)
        unlink(svg); /* no chart: leave no empty or partial file behind */
    bench_cleanup(&b);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (r < 0)
        return stctl_fail(&err);
    if (failed)
        return stctl_failf("%d of the measurements failed (see the errors above)", failed);
    return 0;
}

int stctl_verb_bench(struct stctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return stctl_usage(USAGE, "say what to measure (startup)");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        printf("usage: stratactl %s\n", USAGE);
        return 0;
    }
    if (strcmp(sub, "startup") != 0)
        return stctl_usage(USAGE, "unknown bench \"%s\" (there is: startup)", sub);
    optind = 0;
    return bench_startup(ctl, argc - 1, argv + 1);
}
