/* test_node_fence.c: the process-level fence of vmm/node_fence.c on fake
 * QEMU processes (a shell whose command line says "-name guest=DOMAIN"):
 * a stopped one is killed and its exit confirmed, found through a pid file
 * or /proc; a pid file naming another process never gets it killed; only
 * strata- domains are fenced. And the host memory check of
 * vmm/host_memory.c over a fake meminfo. */
#include "testutil.h"

#include "vmm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct fake {
    pid_t pid;
    int stdin_w; /* held open: the shell blocks in `read` */
    char domain[64];
};

static bool cmdline_ready(void *arg)
{
    struct fake *f = arg;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)f->pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, "guest=") != NULL;
}

static void fake_start(struct fake *f, const char *tag)
{
    snprintf(f->domain, sizeof(f->domain), "strata-%s%d", tag, (int)getpid());
    char name_arg[128];
    snprintf(name_arg, sizeof(name_arg), "guest=%s,debug-threads=on", f->domain);
    int p[2];
    assert_int_equal(pipe(p), 0);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", "read x", "qemu-fake", "-name", name_arg, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    f->stdin_w = p[1];
    assert_true(st_test_wait_until(cmdline_ready, f, 5000, 5));
}

/* Reaps the fake; returns the signal that ended it (0: it exited). */
static int fake_reap(struct fake *f)
{
    int st = 0;
    kill(f->pid, SIGKILL);
    assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
    close(f->stdin_w);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static bool exited(pid_t pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) == pid;
}

static void test_stopped_process_through_pid_file(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "fence");
    char *dir = st_test_mkdtemp("strata-fence");
    char pidfile[512], text[32];
    snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", dir, f.domain);
    snprintf(text, sizeof(text), "%d", (int)f.pid);
    st_test_write_file(pidfile, text);
    /* A hung node: libvirt's SIGTERM would wait forever. */
    assert_int_equal(kill(f.pid, SIGSTOP), 0);
    st_vmm_fence_report rep;
    st_error err = {0};
    assert_int_equal(st_vmm_fence_domain(f.domain, pidfile, 2000, &rep, &err), 0);
    assert_int_equal(rep.pid, f.pid);
    assert_non_null(strstr(rep.how, "pid file"));
    assert_true(rep.gone_ns > 0);
    /* Gone when it returned: a zombie waiting for its parent, killed by SIGKILL. */
    int st = 0;
    assert_int_equal(waitpid(f.pid, &st, WNOHANG), f.pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    close(f.stdin_w);
    st_test_rmrf(dir);
    free(dir);
}

static void test_found_in_proc_without_pid_file(void **state)
{
    (void)state;
    struct fake f;
    fake_start(&f, "fenceproc");
    assert_int_equal(kill(f.pid, SIGSTOP), 0);
    st_vmm_fence_report rep;
    st_error err = {0};
    assert_int_equal(st_vmm_fence_domain(f.domain, "/nonexistent/x.pid", 2000, &rep, &err), 0);
    assert_int_equal(rep.pid, f.pid);
    assert_non_null(strstr(rep.how, "/proc"));
    assert_int_equal(fake_reap(&f), SIGKILL);
}

static void test_pid_file_of_another_process_is_not_used(void **state)
{
    (void)state;
    struct fake other;
    fake_start(&other, "fenceother");
    char *dir = st_test_mkdtemp("strata-fence");
    char pidfile[512], text[32];
    snprintf(pidfile, sizeof(pidfile), "%s/stale.pid", dir);
    /* A stale pid file whose pid now belongs to another process. */
    snprintf(text, sizeof(text), "%d", (int)other.pid);
    st_test_write_file(pidfile, text);
    char domain[64];
    snprintf(domain, sizeof(domain), "strata-fencenone%d", (int)getpid());
    st_vmm_fence_report rep;
    st_error err = {0};
    assert_int_equal(st_vmm_fence_domain(domain, pidfile, 2000, &rep, &err), 0);
    assert_int_equal(rep.pid, 0);
    assert_non_null(strstr(rep.how, "no QEMU"));
    assert_false(exited(other.pid));
    assert_int_equal(fake_reap(&other), SIGKILL);
    st_test_rmrf(dir);
    free(dir);
}

static void test_only_strata_domains(void **state)
{
    (void)state;
    st_vmm_fence_report rep;
    st_error err = {0};
    assert_int_equal(st_vmm_fence_domain("web-1", NULL, 100, &rep, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a Strata domain"));
}

static void test_host_memory(void **state)
{
    (void)state;
    char *dir = st_test_mkdtemp("strata-meminfo");
    char path[512];
    snprintf(path, sizeof(path), "%s/meminfo", dir);
    st_test_write_file(path, "MemTotal:        2097152 kB\n"
                             "MemFree:          524288 kB\n"
                             "MemAvailable:    1048576 kB\n");
    st_error err = {0};
    /* 1024 MiB available: 900 + the QEMU overhead fits, 1000 does not. */
    assert_int_equal(st_vmm_host_memory_check(1024 - ST_VMM_QEMU_OVERHEAD_MIB, path, &err), 0);
    assert_int_equal(st_vmm_host_memory_check(1000, path, &err), -ENOMEM);
    assert_non_null(strstr(err.msg, "only 1024 MiB is available"));
    assert_null(strchr(err.msg, '\n'));
    st_test_write_file(path, "MemTotal:        2097152 kB\n");
    assert_int_equal(st_vmm_host_memory_check(100, path, &err), -ENODATA);
    assert_non_null(strstr(err.msg, "MemAvailable"));
    st_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stopped_process_through_pid_file),
        cmocka_unit_test(test_found_in_proc_without_pid_file),
        cmocka_unit_test(test_pid_file_of_another_process_is_not_used),
        cmocka_unit_test(test_only_strata_domains),
        cmocka_unit_test(test_host_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
