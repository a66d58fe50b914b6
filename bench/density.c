/* density.c: how many idle nodes a host holds. Starts N nodes through the
 * vmm library, at most one start per online core at once (as stratad's
 * start pool, agent/server/node_pool.c), times until all said hello, lets
 * them idle SETTLE seconds, then reads each QEMU's RSS and PSS
 * (smaps_rollup; PSS splits the pages QEMUs share, such as the kernel file
 * they map) and its CPU time over a 10 s window. Three rows, one after the
 * other in one run: N nodes restored from a booted template (`node add
 * --from-template`, the template made first and timed apart), N booted
 * cold, and the peer: N booted cold without the virtio-balloon (free page
 * reporting off), a plain libvirt node. Removes every domain and template
 * it made. Last line:
 * density: nodes=N all_ready_ms=N rss_per_node_mib=N idle_cpu_pct=N ... */
#include "strata/meminfo.h"
#include "strata/node_template.h"
#include "strata/vmm.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODES_MAX     64
#define CPU_WINDOW_S  10
#define READY_TIMEOUT 120000

struct run {
    st_vmm *vmm;
    const char *image, *dir, *tag;
    const char *template_dir; /* non-NULL: restore the nodes from a template there */
    st_accel accel;
    bool balloon_off;
    int n;
    atomic_int next, failed;
    char names[NODES_MAX][40];
};

struct figures {
    double all_ready_ms, rss_mib, pss_mib, cpu_pct, avail_drop_mib;
};

static void *boot_worker(void *arg)
{
    struct run *r = arg;
    char kernel[4096], initramfs[4096];
    snprintf(kernel, sizeof(kernel), "%s/vmlinux", r->image);
    snprintf(initramfs, sizeof(initramfs), "%s/initramfs.cpio", r->image);
    for (int i; (i = atomic_fetch_add(&r->next, 1)) < r->n;) {
        st_node_spec spec = {.name = r->names[i],
                             .accel = r->accel,
                             .kernel = kernel,
                             .initramfs = initramfs,
                             .state_dir = r->dir,
                             .balloon_off = r->balloon_off};
        st_vmm_start_report rep = {0};
        st_vmm_start_options so = {
            .ready_timeout_ms = READY_TIMEOUT, .template_dir = r->template_dir, .report = &rep};
        st_error err = {0};
        if (st_vmm_node_start(r->vmm, &spec, &so, NULL, &err) < 0) {
            fprintf(stderr, "density: %s: %s\n", r->names[i], err.msg);
            atomic_fetch_add(&r->failed, 1);
        } else if (r->template_dir && !rep.restored) {
            /* a cold boot in the template row would not measure restores */
            fprintf(stderr, "density: %s: booted cold, not restored: %s\n", r->names[i],
                    rep.fallback);
            atomic_fetch_add(&r->failed, 1);
        }
    }
    return NULL;
}

/* Reads what the nodes send for ms, so their channels never back up. */
static void drain_for(st_vmm *vmm, int64_t ms)
{
    int64_t end = st_vmm_now_ns() + ms * 1000000;
    while (st_vmm_now_ns() < end) {
        st_vmm_event ev;
        st_error err = {0};
        int left = (int)((end - st_vmm_now_ns()) / 1000000);
        if (left <= 0)
            break;
        if (st_vmm_event_next(vmm, left < 200 ? left : 200, &ev, &err) == 1)
            st_vmm_event_clear(&ev);
    }
}

static int qemu_pid(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/run/libvirt/qemu/%s%s.pid", ST_NODE_DOMAIN_PREFIX, name);
    FILE *f = fopen(path, "r");
    int pid = -1;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = -1;
        fclose(f);
    }
    return pid;
}

static int rollup_kib(int pid, int64_t *rss, int64_t *pss)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    st_error err = {0};
    if (st_meminfo_kib(path, "Rss", rss, &err) < 0 || st_meminfo_kib(path, "Pss", pss, &err) < 0) {
        fprintf(stderr, "density: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* utime + stime of pid, in clock ticks. */
static int64_t cpu_ticks(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)(ut + st);
}

static int64_t mem_available_kib(void)
{
    int64_t kib = 0;
    st_error err = {0};
    return st_meminfo_kib("/proc/meminfo", "MemAvailable", &kib, &err) < 0 ? -1 : kib;
}

/* One node's domain and the files its start left in dir. */
static void node_remove(st_vmm *vmm, const char *dir, const char *name)
{
    st_vmm_node_destroy(vmm, name, NULL);
    st_vmm_node_undefine(vmm, name, NULL);
    const char *suffix[] = {".sock", ST_NODE_DATA_SOCK_SUFFIX, ".console.log"};
    for (int k = 0; k < 3; k++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix[k]);
        unlink(path);
    }
}

static void remove_all(struct run *r)
{
    for (int i = 0; i < r->n; i++)
        node_remove(r->vmm, r->dir, r->names[i]);
}

static int measure(struct run *r, unsigned slots, int settle_s, struct figures *out)
{
    for (int i = 0; i < r->n; i++)
        snprintf(r->names[i], sizeof(r->names[i]), "dens-%s-%d-%d", r->tag, (int)getpid(), i);
    int64_t avail0 = mem_available_kib();
    int64_t t0 = st_vmm_now_ns();
    pthread_t th[NODES_MAX];
    unsigned started = 0;
    for (; started < slots && started < (unsigned)r->n; started++)
        if (pthread_create(&th[started], NULL, boot_worker, r) != 0)
            break;
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    out->all_ready_ms = (double)(st_vmm_now_ns() - t0) / 1e6;
    if (started == 0 || atomic_load(&r->failed) > 0) {
        fprintf(stderr, "density: %s: %d of %d nodes failed to start\n", r->tag,
                atomic_load(&r->failed), r->n);
        return -1;
    }
    fprintf(stderr, "density: %s: %d nodes Ready in %.0f ms; idling %d s\n", r->tag, r->n,
            out->all_ready_ms, settle_s);
    drain_for(r->vmm, (int64_t)settle_s * 1000);
    int pids[NODES_MAX];
    int64_t ticks0[NODES_MAX], rss = 0, pss = 0;
    for (int i = 0; i < r->n; i++) {
        int64_t a = 0, b = 0;
        if ((pids[i] = qemu_pid(r->names[i])) < 0 || rollup_kib(pids[i], &a, &b) < 0 ||
            (ticks0[i] = cpu_ticks(pids[i])) < 0) {
            fprintf(stderr, "density: %s: cannot read its QEMU process\n", r->names[i]);
            return -1;
        }
        rss += a;
        pss += b;
    }
    int64_t avail1 = mem_available_kib();
    int64_t w0 = st_vmm_now_ns();
    drain_for(r->vmm, CPU_WINDOW_S * 1000);
    double window_s = (double)(st_vmm_now_ns() - w0) / 1e9;
    int64_t ticks = 0;
    for (int i = 0; i < r->n; i++) {
        int64_t t = cpu_ticks(pids[i]);
        if (t < 0) {
            fprintf(stderr, "density: %s: its QEMU exited while idle\n", r->names[i]);
            return -1;
        }
        ticks += t - ticks0[i];
    }
    out->rss_mib = (double)rss / 1024.0 / r->n;
    out->pss_mib = (double)pss / 1024.0 / r->n;
    out->cpu_pct = 100.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK) / window_s / r->n;
    out->avail_drop_mib = (double)(avail0 - avail1) / 1024.0 / r->n;
    fprintf(stderr,
            "density: %s: per node rss %.1f MiB, pss %.1f MiB, MemAvailable drop %.1f MiB, idle "
            "cpu %.2f%%\n",
            r->tag, out->rss_mib, out->pss_mib, out->avail_drop_mib, out->cpu_pct);
    return 0;
}

/* The host's transparent hugepage mode, the bracketed word of
 * /sys/kernel/mm/transparent_hugepage/enabled ("?" when unreadable): with
 * THP on, QEMU asks for huge pages for guest RAM and a guest's scattered
 * pages cost 2 MiB each on the host (scripts/setup turns it off). */
static void thp_mode(char *out, size_t len)
{
    snprintf(out, len, "?");
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    char buf[128];
    if (f == NULL)
        return;
    if (fgets(buf, sizeof(buf), f)) {
        char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
        if (a && b)
            snprintf(out, len, "%.*s", (int)(b - a - 1), a + 1);
    }
    fclose(f);
}

/* The template of the row "template": made by a first template start
 * (booted cold, saved, then restored once), not one of the timed starts. */
static int make_template(st_vmm *vmm, const char *image, const char *dir, const char *tdir,
                         st_accel accel, int64_t *ms)
{
    char kernel[4096], initramfs[4096], name[40];
    snprintf(kernel, sizeof(kernel), "%s/vmlinux", image);
    snprintf(initramfs, sizeof(initramfs), "%s/initramfs.cpio", image);
    snprintf(name, sizeof(name), "dens-t-%d", (int)getpid());
    st_node_spec spec = {
        .name = name, .accel = accel, .kernel = kernel, .initramfs = initramfs, .state_dir = dir};
    st_vmm_start_report rep = {0};
    st_vmm_start_options so = {
        .ready_timeout_ms = READY_TIMEOUT, .template_dir = tdir, .report = &rep};
    st_error err = {0};
    int rc = st_vmm_node_start(vmm, &spec, &so, NULL, &err);
    if (rc < 0 || !rep.restored)
        fprintf(stderr, "density: making the template: %s\n", rc < 0 ? err.msg : rep.fallback);
    else
        fprintf(stderr, "density: template made in %lld ms (cold boot + save)\n",
                (long long)rep.template_ms);
    *ms = rep.template_ms;
    node_remove(vmm, dir, name);
    return rc < 0 || !rep.restored ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_density IMAGE_DIR NODES [SETTLE_S]\n");
        return 2;
    }
    const char *image = argv[1];
    int n = atoi(argv[2]), settle_s = argc > 3 ? atoi(argv[3]) : 30;
    if (n < 1 || n > NODES_MAX || settle_s < 0 || settle_s > 600) {
        fprintf(stderr, "bench_density: NODES 1..%d, SETTLE_S 0..600\n", NODES_MAX);
        return 2;
    }
    char dir[] = "/tmp/strata-density-XXXXXX";
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0) {
        perror("mkdtemp");
        return 1;
    }
    st_error err = {0};
    st_vmm *vmm = NULL;
    st_accel_choice accel;
    if (st_accel_choose(NULL, ST_ACCEL_AUTO, &accel, &err) < 0 ||
        st_vmm_open(NULL, &vmm, &err) < 0) {
        fprintf(stderr, "density: %s\n", err.msg);
        rmdir(dir);
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned slots = cores < 1 ? 1 : (unsigned)cores;
    int64_t avail = mem_available_kib();
    char thp[32];
    thp_mode(thp, sizeof(thp));
    fprintf(stderr, "density: %d nodes, %u starts at once, transparent hugepages %s, %s\n", n,
            slots, thp, accel.reason);
    char tdir[64];
    snprintf(tdir, sizeof(tdir), "%s/templates", dir);
    int64_t template_ms = -1;
    int rc = make_template(vmm, image, dir, tdir, accel.accel, &template_ms) < 0 ? 1 : 0;
    enum { ROW_TEMPLATE, ROW_COLD, ROW_PEER, ROWS };
    static struct run runs[ROWS];
    struct figures fig[ROWS] = {0};
    const char *tags[ROWS] = {"template", "cold", "peer"};
    for (int v = 0; v < ROWS && rc == 0; v++) {
        runs[v] = (struct run){.vmm = vmm,
                               .image = image,
                               .dir = dir,
                               .tag = tags[v],
                               .template_dir = v == ROW_TEMPLATE ? tdir : NULL,
                               .accel = accel.accel,
                               .balloon_off = v == ROW_PEER,
                               .n = n};
        rc = measure(&runs[v], slots, settle_s, &fig[v]) < 0 ? 1 : 0;
        remove_all(&runs[v]);
    }
    st_template_drop_all(tdir, NULL);
    rmdir(tdir);
    st_vmm_close(vmm);
    rmdir(dir);
    if (rc != 0)
        return rc;
    for (int v = ROW_COLD; v < ROWS; v++)
        printf("density_%s: nodes=%d all_ready_ms=%.0f rss_per_node_mib=%.0f "
               "pss_per_node_mib=%.0f idle_cpu_pct=%.2f balloon=%s\n",
               tags[v], n, fig[v].all_ready_ms, fig[v].rss_mib, fig[v].pss_mib, fig[v].cpu_pct,
               v == ROW_PEER ? "off" : "on");
    /* What this host holds: its memory at the start over each idle node's
     * PSS (shared pages counted once), and its cores over their idle CPU. */
    const struct figures *t = &fig[ROW_TEMPLATE], *peer = &fig[ROW_PEER];
    double fit_mem = (double)avail / 1024.0 / t->pss_mib;
    double fit_cpu = t->cpu_pct > 0 ? 100.0 * (double)cores / t->cpu_pct : 0;
    printf("density: nodes=%d all_ready_ms=%.0f rss_per_node_mib=%.0f idle_cpu_pct=%.2f "
           "pss_per_node_mib=%.0f memavail_drop_per_node_mib=%.0f fits_by_memory=%.0f "
           "fits_by_cpu=%.0f from=template template_ms=%lld cold_all_ready_ms=%.0f "
           "cold_rss_per_node_mib=%.0f peer=cold_balloon_off rss_ratio=%.2f pss_ratio=%.2f "
           "thp=%s accel=%s\n",
           n, t->all_ready_ms, t->rss_mib, t->cpu_pct, t->pss_mib, t->avail_drop_mib, fit_mem,
           fit_cpu, (long long)template_ms, fig[ROW_COLD].all_ready_ms, fig[ROW_COLD].rss_mib,
           t->rss_mib / peer->rss_mib, t->pss_mib / peer->pss_mib, thp, st_accel_name(accel.accel));
    return 0;
}
