/* test_domain_xml.c: the domain XML made from node specs, compared byte for
 * byte with tests/vmm/golden, and the specs that must be refused.
 * STRATA_UPDATE_GOLDEN=1 rewrites the golden files (review the diff). */
#include "testutil.h"

#include "strata/domain_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-22T10:00:00Z: a fixed creation time keeps the output stable. */
#define CREATED 1795341600

static void check_golden(const char *name, const char *xml)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/vmm/golden/%s", st_test_env("STRATA_SOURCE_DIR"), name);
    const char *update = getenv("STRATA_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0)
        st_test_write_file(path, xml);
    char *want = st_test_read_file(path);
    if (want == NULL)
        fail_msg("golden file %s is missing (STRATA_UPDATE_GOLDEN=1 writes it)", path);
    if (strcmp(want, xml) != 0) {
        print_error("got:\n%s\nwant (%s):\n%s\n", xml, path, want);
        free(want);
        fail_msg("%s differs from the generated XML", name);
    }
    free(want);
}

static st_node_spec base_spec(void)
{
    st_node_spec s = {
        .name = "n1",
        .accel = ST_ACCEL_TCG,
        .kernel = "/var/lib/strata/image/vmlinux",
        .initramfs = "/var/lib/strata/image/initramfs.cpio",
        .state_dir = "/run/strata/nodes",
        .created = CREATED,
    };
    return s;
}

static void test_tcg_defaults(void **state)
{
    (void)state;
    st_node_spec s = base_spec();
    char *xml = NULL;
    st_error err = {0};
    assert_int_equal(st_domain_xml_build(&s, &xml, &err), 0);
    check_golden("tcg_defaults.xml", xml);
    assert_non_null(strstr(xml, "<domain type=\"qemu\">"));
    assert_non_null(strstr(xml, "<name>strata-n1</name>"));
    /* RDRAND seeds the guest RNG at boot; no USB, no root-bus hotplug */
    assert_non_null(strstr(xml, "<feature policy=\"require\" name=\"rdrand\"/>"));
    assert_non_null(strstr(xml, "<controller type=\"usb\" model=\"none\"/>"));
    assert_non_null(strstr(xml, "<target hotplug=\"off\"/>"));
    /* free page reporting: an idle node gives back what its guest frees */
    assert_non_null(strstr(xml, "<memballoon model=\"virtio\" freePageReporting=\"on\"/>"));
    free(xml);
}

/* bench/density's peer: the same node without a balloon device. */
static void test_balloon_off(void **state)
{
    (void)state;
    st_node_spec s = base_spec();
    s.balloon_off = true;
    char *xml = NULL;
    st_error err = {0};
    assert_int_equal(st_domain_xml_build(&s, &xml, &err), 0);
    assert_non_null(strstr(xml, "<memballoon model=\"none\"/>"));
    assert_null(strstr(xml, "freePageReporting"));
    free(xml);
}

static void test_kvm_images_escaped(void **state)
{
    (void)state;
    st_node_spec s = base_spec();
    s.name = "edge-2";
    s.accel = ST_ACCEL_KVM;
    s.vcpus = 2;
    s.memory_mib = 512;
    s.kernel = "/srv/a&b/<vmlinux>";
    s.images_dir = "/var/lib/strata/images";
    s.cmdline_extra = "strata.heartbeat_ms=500";
    char *xml = NULL;
    st_error err = {0};
    assert_int_equal(st_domain_xml_build(&s, &xml, &err), 0);
    check_golden("kvm_images.xml", xml);
    assert_non_null(strstr(xml, "/srv/a&amp;b/&lt;vmlinux&gt;"));
    assert_null(strstr(xml, "<tcg>"));
    assert_null(strstr(xml, "<cpu")); /* KVM keeps libvirt's default CPU */
    free(xml);
}

static void expect_refused(st_node_spec *s, const char *needle)
{
    char *xml = NULL;
    st_error err = {0};
    if (st_domain_xml_build(s, &xml, &err) >= 0) {
        free(xml);
        fail_msg("spec accepted; expected an error mentioning '%s'", needle);
    }
    assert_null(xml);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_refused_specs(void **state)
{
    (void)state;
    st_node_spec s = base_spec();
    s.memory_mib = 32;
    expect_refused(&s, "too little memory");
    s = base_spec();
    s.name = "N1;reboot";
    expect_refused(&s, "node name 'N1;reboot'");
    s = base_spec();
    s.name = "-x";
    expect_refused(&s, "node name '-x'");
    s = base_spec();
    s.accel = ST_ACCEL_AUTO;
    expect_refused(&s, "accel must be resolved");
    s = base_spec();
    s.kernel = "vmlinux";
    expect_refused(&s, "kernel 'vmlinux' must be an absolute path");
    s = base_spec();
    s.initramfs = NULL;
    expect_refused(&s, "initramfs is missing");
    s = base_spec();
    char longdir[128];
    memset(longdir, 'd', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    s.state_dir = longdir;
    expect_refused(&s, "too long for the channel socket path");
}

static void test_paths(void **state)
{
    (void)state;
    st_node_spec s = base_spec();
    s.state_dir = NULL;
    char *sock = NULL, *cons = NULL, *data = NULL;
    st_error err = {0};
    assert_int_equal(st_node_spec_paths(&s, &sock, &cons, &data, &err), 0);
    assert_string_equal(sock, ST_NODE_STATE_DIR_DEFAULT "/n1.sock");
    assert_string_equal(cons, ST_NODE_STATE_DIR_DEFAULT "/n1.console.log");
    assert_string_equal(data, ST_NODE_STATE_DIR_DEFAULT "/n1.data.sock");
    free(sock);
    free(cons);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcg_defaults),
        cmocka_unit_test(test_balloon_off),
        cmocka_unit_test(test_kvm_images_escaped),
        cmocka_unit_test(test_refused_specs),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
