/* itest_node_template.c: nodes restored from a booted template on real
 * VMs (libvirt, TCG here), from the node image in $STRATA_BUILD_DIR/image:
 * the first start makes the template, two restored siblings each say hello
 * with their own name, machine id and RNG output, have the image share
 * mounted, and die like booted nodes when fenced; a corrupt template (one
 * byte of guest state flipped) is dropped and the node boots cold, saying
 * why. Memory: the template guest zeroes its free pages before the save,
 * so the save carries (and a clone is given) only what the guest used:
 * the save stays under SAVE_MAX_MIB (63 MB measured; 79 MB before the
 * zeroing), and each restored sibling's QEMU under RESTORED_ANON_MIB of
 * anonymous memory (RssAnon right after hello: 85-95 MiB measured for a
 * 192 MiB node with its 32 MiB TCG cache; 115-126 MiB with host THP on, which
 * scripts/setup turns off); bounds of the normal build, whose node image
 * is the product's. At most two VMs run at once.
 * Domains strata-tt-<pid>-* and the template folder go in teardown. */
#include "testutil.h"

#include "strata/node_proto.h"
#include "strata/node_template.h"
#include "strata/vmm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAVE_MAX_MIB      70
#define RESTORED_ANON_MIB 110

static st_vmm *vmm;
static char *state_dir, *images_dir;
static char template_dir[4200];
static char kernel[4096], initramfs[4096];
static char prefix[32]; /* "tt-<pid>-" */

static st_node_spec spec_for(const char *name)
{
    st_node_spec s = {
        .name = name,
        .accel = ST_ACCEL_AUTO,
        .kernel = kernel,
        .initramfs = initramfs,
        .state_dir = state_dir,
        .images_dir = images_dir,
        .cmdline_extra = "strata.heartbeat_ms=200",
    };
    return s;
}

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
    /* by name too: a template VM being made is listed as no node */
    st_test_sh(NULL, NULL,
               "for d in $(timeout 20 virsh -c qemu:///system list --all --name | "
               "grep -e '^strata-%s' -e '^strata-tmpl-'); do "
               "virsh -c qemu:///system dumpxml $d | grep -q '%s' || continue; "
               "timeout 20 virsh -c qemu:///system destroy $d; "
               "timeout 20 virsh -c qemu:///system undefine $d; done >/dev/null 2>&1",
               prefix, state_dir);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(prefix, sizeof(prefix), "tt-%d-", (int)getpid());
    const char *build = st_test_env("STRATA_BUILD_DIR");
    snprintf(kernel, sizeof(kernel), "%s/image/vmlinux", build);
    snprintf(initramfs, sizeof(initramfs), "%s/image/initramfs.cpio", build);
    if (access(kernel, R_OK) != 0 || access(initramfs, R_OK) != 0) {
        print_error("node image missing in %s/image: build the node-image target\n", build);
        return -1;
    }
    state_dir = st_test_mkdtemp("strata-tmpl");
    chmod(state_dir, 0755);
    images_dir = st_test_mkdtemp("strata-tmpl-img");
    chmod(images_dir, 0755);
    snprintf(template_dir, sizeof(template_dir), "%s/templates", state_dir);
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
    st_test_rmrf(images_dir);
    free(state_dir);
    free(images_dir);
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

static bool wait_dead(const char *node, int timeout_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    st_vmm_event ev;
    for (;;) {
        long long left = deadline - st_test_now_ms();
        if (left <= 0)
            return false;
        if (st_vmm_event_next(vmm, (int)left, &ev, NULL) != 1)
            continue;
        bool hit = ev.kind == ST_VMM_EVENT_DEAD && strcmp(ev.node, node) == 0;
        st_vmm_event_clear(&ev);
        if (hit)
            return true;
    }
}

static char *console_of(const char *name)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s.console.log", state_dir, name);
    return st_test_read_file(path);
}

/* The one save in template_dir (malloc'd path), or NULL. */
static char *the_save(void)
{
    DIR *d = opendir(template_dir);
    char *out = NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".save") == 0 && out == NULL)
            assert_true(asprintf(&out, "%s/%s", template_dir, de->d_name) > 0);
    }
    if (d)
        closedir(d);
    return out;
}

/* Size of the one save in template_dir, -1 when there is none. */
static off_t template_save_size(void)
{
    char *save = the_save();
    struct stat st;
    off_t size = save && stat(save, &st) == 0 ? st.st_size : -1;
    free(save);
    return size;
}

static void start(const char *name, st_vmm_start_report *rep, json_t **hello)
{
    st_node_spec s = spec_for(name);
    st_vmm_start_options so = {.template_dir = template_dir, .report = rep};
    st_error err = {0};
    if (st_vmm_node_start(vmm, &s, &so, hello, &err) < 0)
        fail_msg("node %s: %s", name, err.msg);
}

static void test_restored_siblings_are_their_own(void **state)
{
    (void)state;
    char a[64], b[64];
    snprintf(a, sizeof(a), "%sa", prefix);
    snprintf(b, sizeof(b), "%sb", prefix);
    st_vmm_start_report ra, rb;
    json_t *ha = NULL, *hb = NULL;
    start(a, &ra, &ha);
    assert_true(ra.template_made);
    assert_true(ra.restored);
    assert_string_equal(ra.fallback, "");
    start(b, &rb, &hb);
    assert_false(rb.template_made);
    assert_true(rb.restored);

    assert_string_equal(json_string_value(json_object_get(ha, "node")), a);
    assert_string_equal(json_string_value(json_object_get(hb, "node")), b);
    const char *ma = json_string_value(json_object_get(ha, "machineId"));
    const char *mb = json_string_value(json_object_get(hb, "machineId"));
    const char *sa = json_string_value(json_object_get(ha, "randomSample"));
    const char *sb = json_string_value(json_object_get(hb, "randomSample"));
    assert_non_null(ma);
    assert_non_null(mb);
    assert_int_equal(strlen(ma), 32);
    assert_string_not_equal(ma, mb);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_string_not_equal(sa, sb);

    /* each holds only what its template's guest used */
    off_t save_size = template_save_size();
    long anon_a = st_test_node_qemu_anon_kib(a), anon_b = st_test_node_qemu_anon_kib(b);
    print_message("template save %lld bytes (bound %d MiB); restored QEMU RssAnon %ld and %ld "
                  "KiB (bound %d MiB)\n",
                  (long long)save_size, SAVE_MAX_MIB, anon_a, anon_b, RESTORED_ANON_MIB);
    assert_true(save_size > 0);
    assert_true(anon_a > 0 && anon_b > 0);
#if !defined(__SANITIZE_ADDRESS__)
    /* The sanitizer build's node image carries libasan and an instrumented
     * strata-node (its save: 89 MB): its footprint is not the product's. */
    assert_true(save_size <= (off_t)SAVE_MAX_MIB << 20);
    assert_true(anon_a <= RESTORED_ANON_MIB * 1024L);
    assert_true(anon_b <= RESTORED_ANON_MIB * 1024L);
#endif

    /* each took its identity, reseeded its RNG and mounted the share */
    char *ca = console_of(a);
    assert_non_null(ca);
    char want[128];
    snprintf(want, sizeof(want), "template: I am %s now", a);
    assert_non_null(strstr(ca, want));
    assert_non_null(strstr(ca, "RNDADDENTROPY"));
    assert_null(strstr(ca, "cannot mount"));
    free(ca);

    /* a restored node dies like a booted one: fenced, its death reported */
    st_vmm_fence_report rep;
    st_error err = {0};
    assert_int_equal(st_vmm_node_fence(vmm, a, 0, &rep, &err), 0);
    assert_true(rep.pid > 0);
    assert_true(wait_dead(a, 10000));
    /* and it is defined like one: destroy and undefine work */
    assert_int_equal(st_vmm_node_destroy(vmm, a, &err), 0);
    assert_int_equal(st_vmm_node_undefine(vmm, a, &err), 0);
    json_decref(ha);
    json_decref(hb);
}

static void test_corrupt_template_boots_cold(void **state)
{
    (void)state;
    char c[64], d[64];
    snprintf(c, sizeof(c), "%sc", prefix);
    snprintf(d, sizeof(d), "%sd", prefix);
    st_vmm_start_report rc, rd;
    json_t *hd = NULL;
    /* a template exists (made here when this test runs alone) */
    start(c, &rc, NULL);
    assert_true(rc.restored);
    st_vmm_node_destroy(vmm, c, NULL);
    st_vmm_node_undefine(vmm, c, NULL);
    char *save = the_save();
    assert_non_null(save);
    /* one byte of guest state flipped, the length unchanged: QEMU itself
     * would load it (it checks no RAM) */
    struct stat st;
    assert_int_equal(stat(save, &st), 0);
    int fd = open(save, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b = 0;
    off_t at = st.st_size / 2;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);

    start(d, &rd, &hd);
    assert_false(rd.restored);
    assert_non_null(strstr(rd.fallback, "corrupt"));
    assert_non_null(strstr(rd.fallback, "booted cold"));
    assert_string_equal(json_string_value(json_object_get(hd, "node")), d);
    /* the bad template is gone: the next start makes a new one */
    assert_int_not_equal(access(save, F_OK), 0);
    free(save);
    json_decref(hd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_restored_siblings_are_their_own, test_teardown),
        cmocka_unit_test_teardown(test_corrupt_template_boots_cold, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
