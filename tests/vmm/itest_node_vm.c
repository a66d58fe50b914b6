/* itest_node_vm.c: real node VMs under libvirt (TCG here) booted from the
 * node image in $STRATA_BUILD_DIR/image: hello, three at once, death seen
 * within 100 ms of its first sign, a broken init reaped with its console,
 * refused duplicates and boot files. ~6 boots in all. Every test domain is
 * named strata-t-<pid>-N and destroyed + undefined in teardown, pass or fail. */
#include "testutil.h"

#include "strata/node_proto.h"
#include "strata/vmm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static st_vmm *vmm;
static char *state_dir; /* 0755 so QEMU (libvirt-qemu) can bind its socket */
static char kernel[4096], initramfs[4096];
static char prefix[32]; /* "t-<pid>-" */

static void node_name(char *buf, size_t len, int n)
{
    snprintf(buf, len, "%s%d", prefix, n);
}

static st_node_spec spec_for(const char *name)
{
    st_node_spec s = {
        .name = name,
        .accel = ST_ACCEL_AUTO,
        .kernel = kernel,
        .initramfs = initramfs,
        .state_dir = state_dir,
        .cmdline_extra = "strata.heartbeat_ms=200",
    };
    return s;
}

/* Destroys and undefines every domain this test process made. */
static void cleanup_domains(void)
{
    if (vmm == NULL)
        return;
    st_vmm_node_info *nodes = NULL;
    size_t n = 0;
    if (st_vmm_node_list(vmm, &nodes, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (strncmp(nodes[i].name, prefix, strlen(prefix)) != 0)
                continue;
            st_vmm_node_destroy(vmm, nodes[i].name, NULL);
            st_vmm_node_undefine(vmm, nodes[i].name, NULL);
        }
    }
    free(nodes);
    /* A domain without our metadata would not be listed: sweep by name too. */
    st_test_sh(
        NULL, NULL,
        "for d in $(timeout 20 virsh -c qemu:///system list --all --name | grep '^strata-%s'); "
        "do timeout 20 virsh -c qemu:///system destroy $d; "
        "timeout 20 virsh -c qemu:///system undefine $d; done >/dev/null 2>&1",
        prefix);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(prefix, sizeof(prefix), "t-%d-", (int)getpid());
    const char *build = st_test_env("STRATA_BUILD_DIR");
    snprintf(kernel, sizeof(kernel), "%s/image/vmlinux", build);
    snprintf(initramfs, sizeof(initramfs), "%s/image/initramfs.cpio", build);
    if (access(kernel, R_OK) != 0 || access(initramfs, R_OK) != 0) {
        print_error("node image missing in %s/image: build the node-image target\n", build);
        return -1;
    }
    state_dir = st_test_mkdtemp("strata-vmm");
    chmod(state_dir, 0755);
    st_error err = {0};
    if (st_vmm_open(NULL, &vmm, &err) < 0) {
        print_error("%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    cleanup_domains();
    st_vmm_close(vmm);
    vmm = NULL;
    st_test_rmrf(state_dir);
    free(state_dir);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    cleanup_domains();
    st_vmm_event ev;
    while (st_vmm_event_next(vmm, 0, &ev, NULL) == 1)
        st_vmm_event_clear(&ev);
    return 0;
}

static bool domain_exists(const char *name)
{
    char *out = NULL;
    st_test_sh(&out, NULL, "timeout 20 virsh -c qemu:///system list --all --name");
    char want[128];
    snprintf(want, sizeof(want), "strata-%s\n", name);
    bool found = out && strstr(out, want) != NULL;
    free(out);
    return found;
}

/* Waits for the next event of kind for node (others are skipped). */
static bool wait_event(const char *node, st_vmm_event_kind kind, const char *type, int timeout_ms,
                       st_vmm_event *ev)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - st_test_now_ms();
        if (left <= 0)
            return false;
        if (st_vmm_event_next(vmm, (int)left, ev, NULL) != 1)
            continue;
        if (ev->kind == kind && strcmp(ev->node, node) == 0 &&
            (type == NULL || (ev->type && strcmp(ev->type, type) == 0)))
            return true;
        st_vmm_event_clear(ev);
    }
}

/* ---- tests ------------------------------------------------------------- */

static void test_node_ready_and_duplicate_refused(void **state)
{
    (void)state;
    char name[64];
    node_name(name, sizeof(name), 1);
    st_node_spec s = spec_for(name);
    json_t *hello = NULL;
    st_error err = {0};
    int r = st_vmm_node_start(vmm, &s, NULL, &hello, &err);
    if (r < 0)
        fail_msg("start: %s", err.msg);
    struct st_proto_hello h;
    assert_int_equal(st_proto_hello_parse(hello, &h, &err), 0);
    assert_string_equal(h.node, name);
    assert_true(h.cpu_millis >= 1000);
    assert_true(h.memory_bytes > 64LL * 1024 * 1024);
    assert_non_null(strstr(h.kernel, "6."));
    json_decref(hello);

    /* Heartbeats flow after hello (strata.heartbeat_ms=200). */
    st_vmm_event ev;
    assert_true(wait_event(name, ST_VMM_EVENT_MESSAGE, ST_PROTO_HEARTBEAT, 10000, &ev));
    st_vmm_event_clear(&ev);

    /* Listed with our metadata, for re-adoption. */
    st_vmm_node_info *nodes = NULL;
    size_t n = 0;
    assert_int_equal(st_vmm_node_list(vmm, &nodes, &n, &err), 0);
    bool listed = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].name, name) == 0)
            listed = nodes[i].running && strcmp(nodes[i].accel, "tcg") == 0 &&
                     strcmp(nodes[i].state_dir, state_dir) == 0;
    free(nodes);
    assert_true(listed);

    /* Same name again: refused, the running node untouched. */
    st_error dup = {0};
    assert_int_equal(st_vmm_node_start(vmm, &s, NULL, NULL, &dup), -EEXIST);
    assert_non_null(strstr(dup.msg, "already exists"));
    st_vmm_node_signs signs;
    assert_int_equal(st_vmm_node_signs_get(vmm, name, &signs, &err), 0);
    assert_true(signs.ready);
    assert_false(signs.dead);

    /* ping → pong over the channel. */
    json_t *ping = NULL;
    assert_int_equal(st_proto_ping_build(42, &ping, &err), 0);
    assert_int_equal(st_vmm_node_send(vmm, name, ping, &err), 0);
    json_decref(ping);
    assert_true(wait_event(name, ST_VMM_EVENT_MESSAGE, ST_PROTO_PONG, 10000, &ev));
    int64_t id = 0;
    assert_int_equal(st_proto_ping_parse(ev.msg, &id, &err), 0);
    st_vmm_event_clear(&ev);
    assert_int_equal(id, 42);

    /* Undefining a running node is refused; shut down then undefine works. */
    assert_int_equal(st_vmm_node_undefine(vmm, name, &err), -EBUSY);
    st_error_clear(&err);
    assert_int_equal(st_vmm_node_shutdown(vmm, name, 1000, &err), 0);
    assert_int_equal(st_vmm_node_undefine(vmm, name, &err), 0);
    assert_false(domain_exists(name));
    char sock[4096];
    snprintf(sock, sizeof(sock), "%s/%s.sock", state_dir, name);
    assert_int_equal(access(sock, F_OK), -1);
}

struct destroyer {
    const char *name;
    int rc;
    st_error err;
};

static void *destroy_thread(void *arg)
{
    struct destroyer *d = arg;
    d->rc = st_vmm_node_destroy(vmm, d->name, &d->err);
    return NULL;
}

struct signs_arg {
    const char *name;
    st_vmm_node_signs s;
};

static bool both_signs(void *arg)
{
    struct signs_arg *a = arg;
    return st_vmm_node_signs_get(vmm, a->name, &a->s, NULL) == 0 && a->s.eof_ns && a->s.stopped_ns;
}

static void test_destroy_reports_dead_within_100ms(void **state)
{
    (void)state;
    char name[64];
    node_name(name, sizeof(name), 2);
    st_node_spec s = spec_for(name);
    st_error err = {0};
    if (st_vmm_node_start(vmm, &s, NULL, NULL, &err) < 0)
        fail_msg("start: %s", err.msg);
    st_vmm_event ev;
    while (st_vmm_event_next(vmm, 0, &ev, NULL) == 1)
        st_vmm_event_clear(&ev);

    /* virDomainDestroy returns only after libvirt reaps QEMU (slow here):
     * destroy on another thread while this one consumes events. */
    struct destroyer d = {.name = name};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, destroy_thread, &d), 0);
    bool got = wait_event(name, ST_VMM_EVENT_DEAD, NULL, 30000, &ev);
    int64_t received = st_vmm_now_ns();
    pthread_join(t, NULL);
    assert_true(got);
    assert_int_equal(d.rc, 0);

    struct signs_arg a = {.name = name};
    assert_true(st_test_wait_until(both_signs, &a, 30000, 20));
    int64_t first = a.s.eof_ns < a.s.stopped_ns ? a.s.eof_ns : a.s.stopped_ns;
    print_message("dead: cause %s, eof +%.1f ms, stopped +%.1f ms, received +%.1f ms\n",
                  st_node_death_name(ev.cause), (a.s.eof_ns - first) / 1e6,
                  (a.s.stopped_ns - first) / 1e6, (received - first) / 1e6);
    assert_int_equal(ev.sign_ns, first);
    assert_true(received >= first);
    assert_true(received - first <= 100 * 1000000LL);
    st_vmm_event_clear(&ev);

    assert_int_equal(st_vmm_node_undefine(vmm, name, &err), 0);
}

struct starter {
    char name[64];
    int rc;
    st_error err;
};

static void *start_thread(void *arg)
{
    struct starter *s = arg;
    st_node_spec spec = spec_for(s->name);
    st_vmm_start_options o = {.ready_timeout_ms = 60000};
    s->rc = st_vmm_node_start(vmm, &spec, &o, NULL, &s->err);
    return NULL;
}

static void test_three_nodes_at_once(void **state)
{
    (void)state;
    struct starter st[3] = {0};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        node_name(st[i].name, sizeof(st[i].name), 10 + i);
        assert_int_equal(pthread_create(&t[i], NULL, start_thread, &st[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++)
        if (st[i].rc < 0)
            fail_msg("%s: %s", st[i].name, st[i].err.msg);
    for (int i = 0; i < 3; i++) {
        st_vmm_node_signs s;
        st_error err = {0};
        assert_int_equal(st_vmm_node_signs_get(vmm, st[i].name, &s, &err), 0);
        assert_true(s.ready);
    }
}

static void test_broken_init_is_reaped(void **state)
{
    (void)state;
    char name[64];
    node_name(name, sizeof(name), 20);
    char *dir = st_test_mkdtemp("strata-vmm-badinit");
    char cpio[4200];
    snprintf(cpio, sizeof(cpio), "%s/broken.cpio", dir);
    int rc = st_test_sh(NULL, NULL,
                        "set -e; cd %s; mkdir -p root/bin; cp /bin/busybox root/bin/busybox; "
                        "printf '#!/bin/busybox sh\\necho strata-test: init gives up\\nexit 3\\n' "
                        "> root/init; chmod 755 root/init root; chmod 755 .; "
                        "cd root; find . | cpio -o -H newc --quiet > %s",
                        dir, cpio);
    if (rc != 0) {
        st_test_rmrf(dir);
        free(dir);
        fail_msg("building the broken initramfs failed (%d)", rc);
    }
    st_node_spec s = spec_for(name);
    s.initramfs = cpio;
    st_error err = {0};
    st_vmm_start_options o = {.ready_timeout_ms = 60000};
    rc = st_vmm_node_start(vmm, &s, &o, NULL, &err);
    bool exists = domain_exists(name);
    st_test_rmrf(dir);
    free(dir);
    print_message("broken init: %s\n", err.msg);
    assert_int_equal(rc, -ECHILD);
    assert_non_null(strstr(err.msg, "died before hello"));
    assert_true(strstr(err.msg, "Kernel panic") || strstr(err.msg, "init gives up"));
    assert_false(exists);
    char console[4096];
    snprintf(console, sizeof(console), "%s/%s.console.log", state_dir, name);
    assert_int_equal(access(console, F_OK), -1);
}

static void test_bad_boot_files_refused(void **state)
{
    (void)state;
    char name[64];
    node_name(name, sizeof(name), 30);
    char *dir = st_test_mkdtemp("strata-vmm-badfiles");
    char notkernel[4200], gz[4200];
    snprintf(notkernel, sizeof(notkernel), "%s/vmlinux", dir);
    snprintf(gz, sizeof(gz), "%s/initramfs.cpio.gz", dir);
    st_test_write_file(notkernel, "this is not a kernel\n");
    st_test_write_file(gz, "\x1f\x8b\x08compressed");

    st_node_spec s = spec_for(name);
    st_error e1 = {0}, e2 = {0}, e3 = {0}, e4 = {0};
    s.kernel = "/nonexistent/vmlinux";
    int r1 = st_vmm_node_start(vmm, &s, NULL, NULL, &e1);
    s.kernel = notkernel;
    int r2 = st_vmm_node_start(vmm, &s, NULL, NULL, &e2);
    s.kernel = kernel;
    s.initramfs = gz;
    int r3 = st_vmm_node_start(vmm, &s, NULL, NULL, &e3);
    s.initramfs = initramfs;
    s.memory_mib = 32;
    int r4 = st_vmm_node_start(vmm, &s, NULL, NULL, &e4);
    st_test_rmrf(dir);
    free(dir);
    assert_int_equal(r1, -ENOENT);
    assert_non_null(strstr(e1.msg, "/nonexistent/vmlinux"));
    assert_int_equal(r2, -ENOEXEC);
    assert_non_null(strstr(e2.msg, "neither an ELF vmlinux nor a bzImage"));
    assert_int_equal(r3, -ENOEXEC);
    assert_non_null(strstr(e3.msg, "070701"));
    assert_int_equal(r4, -EINVAL);
    assert_non_null(strstr(e4.msg, "too little memory"));
    assert_false(domain_exists(name));
}

static void test_unreachable_libvirt(void **state)
{
    (void)state;
    st_vmm *other = NULL;
    st_error err = {0};
    st_vmm_options o = {.uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"};
    assert_true(st_vmm_open(&o, &other, &err) < 0);
    assert_null(other);
    assert_non_null(strstr(err.msg, "cannot connect to libvirt at"));
    assert_non_null(strstr(err.msg, "is libvirtd running?"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_boot_files_refused, test_teardown),
        cmocka_unit_test_teardown(test_unreachable_libvirt, test_teardown),
        cmocka_unit_test_teardown(test_node_ready_and_duplicate_refused, test_teardown),
        cmocka_unit_test_teardown(test_destroy_reports_dead_within_100ms, test_teardown),
        cmocka_unit_test_teardown(test_three_nodes_at_once, test_teardown),
        cmocka_unit_test_teardown(test_broken_init_is_reaped, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
