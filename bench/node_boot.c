/* node_boot.c: time from "start a node" to its hello, through the vmm
 * library: booted cold (define + start + connect + hello) and restored from
 * a booted template (restore + identity + hello; the template is made once
 * before the runs, its cost printed apart), against a bare `virsh create`
 * of the same domain XML, same kernel and initramfs (create → first line on
 * the channel). Runs one VM at a time, alternating, and removes every
 * domain and template it made. */
#include "strata/bench_stats.h"
#include "strata/cleanup.h"
#include "strata/node_template.h"
#include "strata/vmm.h"

#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int run(char *const argv[])
{
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    int st = 0;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Connects to path (retrying while QEMU sets it up) and reads until the
 * first '\n'. Returns 0 with *t_ns the time the line was complete. */
static int first_line(const char *path, int timeout_ms, int64_t *t_ns)
{
    int64_t deadline = st_vmm_now_ns() + (int64_t)timeout_ms * 1000000;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    _cleanup_close_ int fd = -1;
    while (fd < 0) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        close(fd);
        fd = -1;
        if (st_vmm_now_ns() > deadline)
            return -ETIMEDOUT;
        usleep(10000);
    }
    char c;
    for (;;) {
        int left = (int)((deadline - st_vmm_now_ns()) / 1000000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -ETIMEDOUT;
        ssize_t n = read(fd, &c, 1);
        if (n <= 0)
            return -EPIPE;
        if (c == '\n') {
            *t_ns = st_vmm_now_ns();
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    int runs = 5;
    const char *image = argc > 1 ? argv[1] : "build/image";
    if (argc > 2)
        runs = atoi(argv[2]);
    if (runs < 1 || runs > 50) {
        fprintf(stderr, "usage: bench_node_boot IMAGE_DIR [RUNS 1..50]\n");
        return 2;
    }
    char kernel[4096], initramfs[4096], dir[] = "/tmp/strata-bench-XXXXXX";
    snprintf(kernel, sizeof(kernel), "%s/vmlinux", image);
    snprintf(initramfs, sizeof(initramfs), "%s/initramfs.cpio", image);
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0) {
        perror("mkdtemp");
        return 1;
    }
    st_error err = {0};
    st_vmm *vmm = NULL;
    st_accel_choice accel;
    if (st_accel_choose(NULL, ST_ACCEL_AUTO, &accel, &err) < 0 ||
        st_vmm_open(NULL, &vmm, &err) < 0) {
        fprintf(stderr, "node_boot: %s\n", err.msg);
        rmdir(dir);
        return 1;
    }
    fprintf(stderr, "node_boot: accel %s\n", accel.reason);
    long long strata[50], bare[50], restored[50];
    int rc = 0;
    char tdir[64];
    snprintf(tdir, sizeof(tdir), "%s/templates", dir);
    /* The template, made by a first template start (not one of the runs). */
    {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d-t", (int)getpid());
        st_node_spec spec = {.name = name,
                             .accel = accel.accel,
                             .kernel = kernel,
                             .initramfs = initramfs,
                             .state_dir = dir};
        st_vmm_start_report rep;
        st_vmm_start_options so = {.template_dir = tdir, .report = &rep};
        int64_t t0 = st_vmm_now_ns();
        if (st_vmm_node_start(vmm, &spec, &so, NULL, &err) < 0 || !rep.restored) {
            fprintf(stderr, "node_boot: making the template: %s\n",
                    rep.fallback[0] ? rep.fallback : err.msg);
            rc = 1;
        } else {
            fprintf(stderr,
                    "node_boot: template made in %lld ms (cold boot + save), first restore "
                    "included: %lld ms\n",
                    (long long)rep.template_ms, (long long)((st_vmm_now_ns() - t0) / 1000000));
        }
        st_vmm_node_destroy(vmm, name, NULL);
        st_vmm_node_undefine(vmm, name, NULL);
    }
    for (int i = 0; i < runs && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d-%d", (int)getpid(), i);
        st_node_spec spec = {.name = name,
                             .accel = accel.accel,
                             .kernel = kernel,
                             .initramfs = initramfs,
                             .state_dir = dir};
        /* strata: the library's start call returns at hello. */
        int64_t t0 = st_vmm_now_ns();
        if (st_vmm_node_start(vmm, &spec, NULL, NULL, &err) < 0) {
            fprintf(stderr, "node_boot: %s\n", err.msg);
            rc = 1;
            break;
        }
        strata[i] = (st_vmm_now_ns() - t0) / 1000000;
        st_vmm_node_destroy(vmm, name, NULL);
        st_vmm_node_undefine(vmm, name, NULL);

        /* restore: the same call with the template folder. */
        st_vmm_start_report rep;
        st_vmm_start_options so = {.template_dir = tdir, .report = &rep};
        t0 = st_vmm_now_ns();
        if (st_vmm_node_start(vmm, &spec, &so, NULL, &err) < 0 || !rep.restored) {
            fprintf(stderr, "node_boot: restore: %s\n", rep.fallback[0] ? rep.fallback : err.msg);
            st_vmm_node_destroy(vmm, name, NULL);
            st_vmm_node_undefine(vmm, name, NULL);
            rc = 1;
            break;
        }
        restored[i] = (st_vmm_now_ns() - t0) / 1000000;
        fprintf(stderr,
                "node_boot: run %d: restore: libvirt %lld ms, define %lld ms, identity sent "
                "%lld ms, identity to hello %lld ms\n",
                i + 1, (long long)rep.restore_ms, (long long)rep.define_ms,
                (long long)rep.identity_ms, (long long)rep.hello_ms);
        st_vmm_node_destroy(vmm, name, NULL);
        st_vmm_node_undefine(vmm, name, NULL);

        /* bare: virsh create of the same XML (transient), first channel line. */
        char bname[40], xmlpath[4200], sock[4200], dname[64];
        snprintf(bname, sizeof(bname), "bare-%d-%d", (int)getpid(), i);
        spec.name = bname;
        _cleanup_free_ char *xml = NULL;
        if (st_domain_xml_build(&spec, &xml, &err) < 0) {
            fprintf(stderr, "node_boot: %s\n", err.msg);
            rc = 1;
            break;
        }
        snprintf(xmlpath, sizeof(xmlpath), "%s/%s.xml", dir, bname);
        snprintf(sock, sizeof(sock), "%s/%s.sock", dir, bname);
        snprintf(dname, sizeof(dname), "strata-%s", bname);
        FILE *f = fopen(xmlpath, "w");
        if (f == NULL || fputs(xml, f) < 0 || fclose(f) != 0) {
            perror(xmlpath);
            rc = 1;
            break;
        }
        char *create[] = {"virsh", "-q", "-c", "qemu:///system", "create", xmlpath, NULL};
        char *destroy[] = {"virsh", "-q", "-c", "qemu:///system", "destroy", dname, NULL};
        int64_t t1 = st_vmm_now_ns(), t2 = 0;
        if (run(create) != 0 || first_line(sock, 60000, &t2) < 0) {
            fprintf(stderr, "node_boot: bare virsh create of %s failed\n", dname);
            rc = 1;
        }
        bare[i] = (t2 - t1) / 1000000;
        run(destroy);
        unlink(xmlpath);
        unlink(sock);
        snprintf(xmlpath, sizeof(xmlpath), "%s/%s.console.log", dir, bname);
        unlink(xmlpath);
        if (rc == 0)
            fprintf(stderr, "node_boot: run %d: cold %lld ms, restore %lld ms, bare %lld ms\n",
                    i + 1, strata[i], restored[i], bare[i]);
    }
    st_vmm_close(vmm);
    st_template_drop_all(tdir, NULL);
    rmdir(tdir);
    rmdir(dir);
    if (rc != 0)
        return rc;
    double ds[50], db[50], dr[50];
    for (int i = 0; i < runs; i++) {
        ds[i] = (double)strata[i];
        db[i] = (double)bare[i];
        dr[i] = (double)restored[i];
    }
    st_bench_stats ss, sb, sr;
    if (st_bench_stats_compute(ds, (size_t)runs, &ss, &err) < 0 ||
        st_bench_stats_compute(db, (size_t)runs, &sb, &err) < 0 ||
        st_bench_stats_compute(dr, (size_t)runs, &sr, &err) < 0) {
        fprintf(stderr, "node_boot: %s\n", err.msg);
        return 1;
    }
    printf("node_boot: cold_ms=%.0f restore_ms=%.0f bare_ms=%.0f restore_ratio=%.2f "
           "cold_ratio=%.2f accel=%s\n",
           ss.median, sr.median, sb.median, st_bench_ratio(sr.median, sb.median),
           st_bench_ratio(ss.median, sb.median), st_accel_name(accel.accel));
    return 0;
}
