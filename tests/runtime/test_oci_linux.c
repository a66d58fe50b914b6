/* test_oci_linux.c: the linux.* side of config.json: each field lands in the
 * struct or is refused with a message naming it; the device rules' model
 * (what the v1 devices cgroup makes of a list); and the v2 BPF device
 * program, run here by a small interpreter of the instructions it is made
 * of, deciding every device and access as the model does. (itest_oci_linux
 * loads the same program into the kernel.) */
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>

#include "../../runtime/devices.h" /* private to the runtime: the model and the program */
#include "strata/cgroup.h"
#include "strata/oci_config.h"
#include "testutil.h"

/* ---- helpers ---- */

/* The default spec with the members of patch (a JSON object of dotted
 * paths, e.g. {"linux.devices": [...]}) set or, with null, removed. */
static json_t *spec_with(const char *patch)
{
    json_t *spec = st_oci_config_default_json();
    json_error_t jerr;
    json_t *pj = json_loads(patch, 0, &jerr);
    if (pj == NULL)
        fail_msg("test JSON does not parse: %s (%s)", jerr.text, patch);
    const char *key;
    json_t *v;
    json_object_foreach(pj, key, v)
    {
        char path[256];
        snprintf(path, sizeof(path), "%s", key);
        json_t *obj = spec;
        char *save = NULL, *tok = strtok_r(path, ".", &save), *next;
        for (; (next = strtok_r(NULL, ".", &save)) != NULL; tok = next) {
            json_t *child = json_object_get(obj, tok);
            if (child == NULL) {
                child = json_object();
                json_object_set_new(obj, tok, child);
            }
            obj = child;
        }
        if (json_is_null(v))
            json_object_del(obj, tok);
        else
            json_object_set(obj, tok, v);
    }
    json_decref(pj);
    return spec;
}

static int parse_patch(const char *patch, struct st_oci_config **out, st_error *err)
{
    json_t *spec = spec_with(patch);
    int r = st_oci_config_from_json(spec, "b/config.json", "/bundle", out, err);
    json_decref(spec);
    return r;
}

static struct st_oci_config *parse_ok(const char *patch)
{
    struct st_oci_config *c = NULL;
    st_error err = {0};
    if (parse_patch(patch, &c, &err) < 0)
        fail_msg("%s: %s", patch, err.msg);
    return c;
}

/* ---- parsing what is honoured ---- */

static void test_devices_parsed(void **state)
{
    (void)state;
    struct st_oci_config *c = parse_ok(
        "{\"linux.devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, "
        "\"minor\": 229, \"fileMode\": 438, \"uid\": 0, \"gid\": 5}, {\"path\": \"/dev/sda\", "
        "\"type\": \"b\", \"major\": 8, \"minor\": 0}, {\"path\": \"/run/fifo\", \"type\": "
        "\"p\"}, {\"path\": \"/dev/u\", \"type\": \"u\", \"major\": 1, \"minor\": 3}]}");
    assert_int_equal(c->n_devices, 4);
    assert_string_equal(c->devices[0].path, "/dev/fuse");
    assert_int_equal(c->devices[0].format, S_IFCHR);
    assert_int_equal(c->devices[0].major, 10);
    assert_int_equal(c->devices[0].minor, 229);
    assert_true(c->devices[0].has_mode);
    assert_int_equal(c->devices[0].mode, 0666);
    assert_true(c->devices[0].has_gid);
    assert_int_equal(c->devices[0].gid, 5);
    assert_int_equal(c->devices[1].format, S_IFBLK);
    assert_false(c->devices[1].has_mode);
    assert_false(c->devices[1].has_uid);
    assert_int_equal(c->devices[2].format, S_IFIFO);
    assert_int_equal(c->devices[3].format, S_IFCHR);
    /* no linux.resources.devices: the cgroup's access is left alone */
    assert_int_equal(c->resources.n_device_rules, 0);
    st_oci_config_free(c);
}

static void test_device_rules_completed(void **state)
{
    (void)state;
    struct st_oci_config *c = parse_ok(
        "{\"linux.resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, "
        "{\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 200, \"access\": \"rw\"}, "
        "{\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}]}, "
        "\"linux.devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, "
        "\"minor\": 229}, {\"path\": \"/run/fifo\", \"type\": \"p\"}]}");
    const struct st_resources *rs = &c->resources;
    /* the config's three, the default devices, then linux.devices (no FIFO) */
    assert_int_equal(rs->n_device_rules, 3 + st_n_default_devices + 1);
    assert_false(rs->device_rules[0].allow);
    assert_int_equal(rs->device_rules[0].type, 'a');
    assert_int_equal(rs->device_rules[1].type, 'c');
    assert_int_equal(rs->device_rules[1].access, ST_DEV_ACC_READ | ST_DEV_ACC_WRITE);
    assert_int_equal(rs->device_rules[2].minor, -1);
    char buf[64];
    st_device_rule_format(&rs->device_rules[2], buf, sizeof(buf));
    assert_string_equal(buf, "b 8:* r");
    st_device_rule_format(&rs->device_rules[3], buf, sizeof(buf));
    assert_string_equal(buf, "c 1:3 rwm"); /* /dev/null, the first default */
    st_device_rule_format(&rs->device_rules[rs->n_device_rules - 1], buf, sizeof(buf));
    assert_string_equal(buf, "c 10:229 rwm");
    st_oci_config_free(c);
}

static void test_resources_parsed(void **state)
{
    (void)state;
    struct st_oci_config *c = parse_ok(
        "{\"linux.resources\": {\"memory\": {\"limit\": 536870912, \"reservation\": 268435456, "
        "\"swap\": 1073741824, \"swappiness\": 0, \"disableOOMKiller\": true, \"kernel\": -1, "
        "\"kernelTCP\": -1, \"useHierarchy\": true, \"checkBeforeUpdate\": true}, "
        "\"cpu\": {\"cpus\": \"0-1,3\", \"mems\": \"0\", \"idle\": 0}, \"pids\": {\"limit\": 32}, "
        "\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 209715200}, "
        "{\"pageSize\": \"1048576KB\", \"limit\": 0}, {\"pageSize\": \"64KB\", \"limit\": 1}], "
        "\"unified\": {}}, \"process.oomScoreAdj\": -500, "
        "\"linux.personality\": {\"domain\": \"LINUX32\"}, "
        "\"linux.rootfsPropagation\": \"shared\"}");
    const struct st_resources *rs = &c->resources;
    assert_int_equal(rs->memory_limit, 536870912);
    assert_int_equal(rs->memory_reservation, 268435456);
    assert_int_equal(rs->memory_swap, 1073741824);
    assert_int_equal(rs->memory_swappiness, 0);
    assert_true(rs->disable_oom_killer);
    assert_string_equal(rs->cpuset_cpus, "0-1,3");
    assert_string_equal(rs->cpuset_mems, "0");
    assert_int_equal(rs->pids_limit, 32);
    assert_int_equal(rs->n_hugepage_limits, 3);
    assert_string_equal(rs->hugepage_limits[0].size, "2MB");
    assert_int_equal(rs->hugepage_limits[0].limit, 209715200);
    /* named as the kernel names the hugetlb files */
    assert_string_equal(rs->hugepage_limits[1].size, "1GB");
    assert_string_equal(rs->hugepage_limits[2].size, "64KB");
    assert_true(c->has_oom_score_adj);
    assert_int_equal(c->oom_score_adj, -500);
    assert_true(c->has_personality);
    assert_int_equal(c->personality, PER_LINUX32);
    assert_true(c->rootfs_propagation_set);
    assert_int_equal(c->rootfs_propagation, MS_SHARED);
    st_error err = {0};
    assert_int_equal(st_resources_check(rs, &err), 0);
    st_oci_config_free(c);

    /* Without them: unset, and the root stays rslave. */
    c = parse_ok("{}");
    assert_int_equal(c->resources.memory_reservation, -1);
    assert_int_equal(c->resources.memory_swappiness, -1);
    assert_false(c->resources.disable_oom_killer);
    assert_null(c->resources.cpuset_cpus);
    assert_false(c->has_oom_score_adj);
    assert_false(c->has_personality);
    assert_false(c->rootfs_propagation_set);
    assert_int_equal(c->rootfs_propagation, MS_SLAVE | MS_REC);
    st_oci_config_free(c);
}

static void test_namespaces_by_path(void **state)
{
    (void)state;
    /* Every type may be joined, pid and user included. */
    struct st_oci_config *c = parse_ok(
        "{\"linux.namespaces\": [{\"type\": \"pid\", \"path\": \"/proc/1/ns/pid\"}, "
        "{\"type\": \"network\", \"path\": \"/run/netns/a\"}, {\"type\": \"ipc\", \"path\": "
        "\"/proc/1/ns/ipc\"}, {\"type\": \"uts\", \"path\": \"/proc/1/ns/uts\"}, {\"type\": "
        "\"cgroup\", \"path\": \"/proc/1/ns/cgroup\"}, {\"type\": \"user\", \"path\": "
        "\"/proc/1/ns/user\"}, {\"type\": \"mount\"}], \"hostname\": \"joined\"}");
    assert_int_equal(c->ns_flags, CLONE_NEWNS);
    assert_int_equal(c->ns_joined, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                                       CLONE_NEWCGROUP | CLONE_NEWUSER);
    /* a hostname is fine in a joined uts namespace */
    assert_string_equal(c->hostname, "joined");
    st_oci_config_free(c);

    /* A joined mount namespace with nothing to mount in it. */
    c = parse_ok("{\"linux.namespaces\": [{\"type\": \"mount\", \"path\": \"/proc/1/ns/mnt\"}, "
                 "{\"type\": \"pid\"}], \"mounts\": null, \"linux.maskedPaths\": null, "
                 "\"linux.readonlyPaths\": null, \"root.readonly\": false, \"hostname\": null}");
    assert_int_equal(c->ns_joined, CLONE_NEWNS);
    assert_int_equal(c->ns_flags, CLONE_NEWPID);
    st_oci_config_free(c);
}

/* ---- parsing what is refused ---- */

struct refusal {
    const char *patch;
    const char *expect;
};

static const struct refusal refusals[] = {
    {"{\"linux.intelRdt\": {\"closID\": \"g\"}}", "b/config.json: linux.intelRdt: Intel RDT"},
    {"{\"linux.mountLabel\": \"system_u:object_r:x:s0\"}", "linux.mountLabel: SELinux"},
    {"{\"linux.timeOffsets\": {\"monotonic\": {\"secs\": 1}}}", "linux.timeOffsets: time"},
    {"{\"linux.memoryPolicy\": {\"mode\": \"MPOL_BIND\"}}", "linux.memoryPolicy"},
    {"{\"linux.netDevices\": {\"eth1\": {}}}", "linux.netDevices"},
    {"{\"linux.resources\": {\"blockIO\": {\"weight\": 10}}}", "linux.resources.blockIO"},
    {"{\"linux.resources\": {\"network\": {\"classID\": 1}}}", "linux.resources.network"},
    {"{\"linux.resources\": {\"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}}}",
     "linux.resources.rdma"},
    {"{\"linux.resources\": {\"unified\": {\"io.max\": \"8:0 rbps=1\"}}}",
     "linux.resources.unified"},
    {"{\"linux.resources\": {\"memory\": {\"kernel\": 1048576}}}",
     "linux.resources.memory.kernel: kernel memory limits are deprecated"},
    {"{\"linux.resources\": {\"memory\": {\"kernelTCP\": 1048576}}}",
     "linux.resources.memory.kernelTCP"},
    {"{\"linux.resources\": {\"memory\": {\"useHierarchy\": false}}}",
     "linux.resources.memory.useHierarchy: false is not possible"},
    {"{\"linux.resources\": {\"memory\": {\"swappiness\": 101}}}",
     "linux.resources.memory.swappiness: 101 is out of range"},
    {"{\"linux.resources\": {\"cpu\": {\"realtimeRuntime\": 950000}}}",
     "linux.resources.cpu.realtimeRuntime"},
    {"{\"linux.resources\": {\"cpu\": {\"realtimePeriod\": 1000000}}}",
     "linux.resources.cpu.realtimePeriod"},
    {"{\"linux.resources\": {\"cpu\": {\"burst\": 1000}}}", "linux.resources.cpu.burst"},
    {"{\"linux.resources\": {\"cpu\": {\"idle\": 1}}}", "linux.resources.cpu.idle"},
    {"{\"linux.resources\": {\"cpu\": {\"cpus\": 3}}}",
     "linux.resources.cpu.cpus: expected a string"},
    {"{\"linux.resources\": {\"hugepageLimits\": [{\"pageSize\": \"2XB\", \"limit\": 1}]}}",
     "linux.resources.hugepageLimits[0].pageSize: expected a size"},
    {"{\"linux.resources\": {\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 1}, "
     "{\"pageSize\": \"2048KB\", \"limit\": 2}]}}",
     "linux.resources.hugepageLimits[1].pageSize: this page size is listed twice"},
    {"{\"linux.resources\": {\"hugepageLimits\": [{\"pageSize\": \"2MB\"}]}}",
     "linux.resources.hugepageLimits[0].limit: missing"},
    {"{\"linux.resources\": {\"devices\": [{\"access\": \"rwm\"}]}}",
     "linux.resources.devices[0].allow: missing"},
    {"{\"linux.resources\": {\"devices\": [{\"allow\": true, \"type\": \"x\"}]}}",
     "linux.resources.devices[0].type: expected \"a\""},
    {"{\"linux.resources\": {\"devices\": [{\"allow\": true, \"type\": \"c\", \"access\": "
     "\"rwx\"}]}}",
     "linux.resources.devices[0].access: expected letters from \"rwm\""},
    {"{\"linux.resources\": {\"devices\": [{\"allow\": false, \"major\": 1}]}}",
     "linux.resources.devices[0]: type \"a\" means every device"},
    {"{\"linux.resources\": {\"devices\": [{\"allow\": false, \"type\": \"c\", \"major\": -2}]}}",
     "linux.resources.devices[0].major: -2 is out of range"},
    /* a hole in an allowed wildcard: v1 would keep the device allowed */
    {"{\"linux.resources\": {\"devices\": [{\"allow\": false}, {\"allow\": true, \"type\": "
     "\"c\"}, {\"allow\": false, \"type\": \"c\", \"major\": 1, \"minor\": 3}]}}",
     "b/config.json: linux.resources.devices[2]: denying \"c 1:3 rwm\" inside the allowed "
     "\"c *:* rwm\""},
    {"{\"linux.devices\": [{\"path\": \"dev/x\", \"type\": \"c\", \"major\": 1, \"minor\": 3}]}",
     "linux.devices[0].path: expected an absolute path"},
    {"{\"linux.devices\": [{\"path\": \"/dev/../etc/x\", \"type\": \"c\", \"major\": 1, "
     "\"minor\": 3}]}",
     "linux.devices[0].path: expected an absolute path inside the container, without \"..\""},
    {"{\"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1}]}",
     "linux.devices[0]: a c, b or u device needs major and minor"},
    {"{\"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"s\", \"major\": 1, \"minor\": 1}]}",
     "linux.devices[0].type: expected \"c\", \"b\", \"u\" or \"p\""},
    {"{\"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"p\"}, {\"path\": \"/dev/x\", "
     "\"type\": \"p\"}]}",
     "linux.devices[1].path: this path is listed twice"},
    {"{\"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 5000, \"minor\": "
     "1}]}",
     "linux.devices[0].major: 5000 is out of range"},
    {"{\"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, \"minor\": 3, "
     "\"fileMode\": 70000}]}",
     "linux.devices[0].fileMode: 70000 is out of range"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\"}, {\"type\": \"mount\", \"path\": \"/x\"}]}",
     "linux.namespaces[1].type: this namespace type is listed twice"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\"}, {\"type\": \"network\", \"path\": "
     "\"proc/1/ns/net\"}]}",
     "linux.namespaces[1].path: expected an absolute path"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\"}, {\"type\": \"time\"}]}",
     "linux.namespaces[1].type: expected one of pid, network, mount, ipc, uts, user, cgroup "
     "(time namespaces are not supported)"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\", \"path\": "
     "\"/proc/1/ns/user\"}], \"linux.uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, "
     "\"size\": 1}]}",
     "linux.uidMappings: a joined user namespace has its mappings already"},
    {"{\"linux.uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}",
     "linux.uidMappings: mappings need a new user namespace"},
    /* the default spec's mounts cannot go into a joined mount namespace */
    {"{\"linux.namespaces\": [{\"type\": \"mount\", \"path\": \"/proc/1/ns/mnt\"}, {\"type\": "
     "\"uts\"}]}",
     "b/config.json: mounts: strata-run makes no mounts in a joined mount namespace"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\", \"path\": \"/proc/1/ns/mnt\"}], \"mounts\": "
     "null, \"linux.maskedPaths\": null, \"linux.readonlyPaths\": null, \"root.readonly\": "
     "false, \"hostname\": null, \"linux.devices\": [{\"path\": \"/dev/x\", \"type\": \"p\"}]}",
     "linux.devices: strata-run makes no mounts in a joined mount namespace"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\", \"path\": \"/proc/1/ns/mnt\"}], \"mounts\": "
     "null, \"linux.maskedPaths\": null, \"linux.readonlyPaths\": null, \"hostname\": null}",
     "root.readonly: strata-run makes no mounts"},
    {"{\"linux.namespaces\": [{\"type\": \"mount\"}]}",
     "hostname: setting a hostname needs a new or joined uts namespace"},
    {"{\"process.oomScoreAdj\": 2000}", "process.oomScoreAdj: 2000 is out of range (-1000..1000)"},
    {"{\"linux.personality\": {\"domain\": \"BSD\"}}",
     "linux.personality.domain: expected \"LINUX\" or \"LINUX32\""},
    {"{\"linux.personality\": {\"domain\": \"LINUX\", \"flags\": [\"ADDR_NO_RANDOMIZE\"]}}",
     "linux.personality.flags: no flag is supported"},
    {"{\"linux.rootfsPropagation\": \"sideways\"}",
     "linux.rootfsPropagation: expected shared, slave, private or unbindable"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        struct st_oci_config *c = NULL;
        st_error err = {0};
        int r = parse_patch(refusals[i].patch, &c, &err);
        if (r == 0 || strstr(err.msg, refusals[i].expect) == NULL)
            fail_msg("case %zu (%s): r=%d, message \"%s\", expected \"%s\"", i, refusals[i].patch,
                     r, err.msg, refusals[i].expect);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
    }
}

static void test_resources_check(void **state)
{
    (void)state;
    static const struct {
        const char *cpus, *mems;
        int64_t reservation;
        const char *expect; /* NULL: accepted */
    } cases[] = {
        {"0", "0", -1, NULL},
        {"0-3,7,9-10", "0-1", 0, NULL},
        {"3-1", NULL, -1, "linux.resources.cpu.cpus: \"3-1\" is not a CPU list"},
        {"0,", NULL, -1, "linux.resources.cpu.cpus"},
        {"a", NULL, -1, "linux.resources.cpu.cpus"},
        {NULL, "0 1", -1, "linux.resources.cpu.mems: \"0 1\" is not a memory node list"},
        {NULL, NULL, -5, "linux.resources.memory.reservation: -5 is not a size"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct st_resources r;
        st_resources_init(&r);
        r.cpuset_cpus = cases[i].cpus ? strdup(cases[i].cpus) : NULL;
        r.cpuset_mems = cases[i].mems ? strdup(cases[i].mems) : NULL;
        r.memory_reservation = cases[i].reservation;
        st_error err = {0};
        int rc = st_resources_check(&r, &err);
        if (cases[i].expect == NULL && rc != 0)
            fail_msg("case %zu refused: %s", i, err.msg);
        if (cases[i].expect && (rc != -EINVAL || strstr(err.msg, cases[i].expect) == NULL))
            fail_msg("case %zu: rc=%d \"%s\", expected \"%s\"", i, rc, err.msg, cases[i].expect);
        st_resources_clear(&r);
        assert_null(r.cpuset_cpus);
    }
}

/* ---- the devices model ---- */

static struct st_device_rule R(bool allow, char type, int64_t major, int64_t minor,
                               const char *access) {
    struct st_device_rule r = {.allow = allow, .type = type, .major = major, .minor = minor};
    for (; *access; access++)
        r.access |= *access == 'r'   ? ST_DEV_ACC_READ
                    : *access == 'w' ? ST_DEV_ACC_WRITE
                                     : ST_DEV_ACC_MKNOD;
    return r;
}

#define ACC_R  ST_DEV_ACC_READ
#define ACC_W  ST_DEV_ACC_WRITE
#define ACC_M  ST_DEV_ACC_MKNOD
#define ACC_RW (ST_DEV_ACC_READ | ST_DEV_ACC_WRITE)

static void
build(const struct st_device_rule *rules, size_t n, struct st_devices_model *m)
{
    st_error err = {0};
    if (st_devices_model_build(rules, n, n, m, &err) < 0)
        fail_msg("model refused: %s", err.msg);
}

static void test_model_allowlist(void **state)
{
    (void)state;
    const struct st_device_rule rules[] = {
        R(false, 'a', -1, -1, "rwm"), R(true, 'c', 1, 3, "rw"),    R(true, 'b', 8, -1, "r"),
        R(true, 'c', 10, 229, "rwm"), R(false, 'c', 10, 229, "w"), /* an identical entry loses w */
    };
    struct st_devices_model m;
    build(rules, 5, &m);
    assert_false(m.default_allow);
    assert_true(st_devices_model_allows(&m, 'c', 1, 3, ACC_R));
    assert_true(st_devices_model_allows(&m, 'c', 1, 3, ACC_RW));
    assert_false(st_devices_model_allows(&m, 'c', 1, 3, ACC_M));
    assert_false(st_devices_model_allows(&m, 'c', 1, 5, ACC_R));
    assert_false(st_devices_model_allows(&m, 'b', 1, 3, ACC_R)); /* type matters */
    assert_true(st_devices_model_allows(&m, 'b', 8, 17, ACC_R));
    assert_false(st_devices_model_allows(&m, 'b', 8, 17, ACC_RW));
    assert_true(st_devices_model_allows(&m, 'c', 10, 229, ACC_R | ACC_M));
    assert_false(st_devices_model_allows(&m, 'c', 10, 229, ACC_W));
    st_devices_model_clear(&m);
}

static void test_model_denylist(void **state)
{
    (void)state;
    const struct st_device_rule rules[] = {
        R(true, 'a', -1, -1, "rwm"),
        R(false, 'c', 1, -1, "rw"),
        R(false, 'b', 8, 0, "rwm"),
    };
    struct st_devices_model m;
    build(rules, 3, &m);
    assert_true(m.default_allow);
    assert_false(st_devices_model_allows(&m, 'c', 1, 3, ACC_R));
    assert_false(st_devices_model_allows(&m, 'c', 1, 9, ACC_W | ACC_M)); /* any overlap denies */
    assert_true(st_devices_model_allows(&m, 'c', 1, 3, ACC_M));
    assert_true(st_devices_model_allows(&m, 'c', 5, 0, ACC_RW));
    assert_false(st_devices_model_allows(&m, 'b', 8, 0, ACC_R));
    assert_true(st_devices_model_allows(&m, 'b', 8, 1, ACC_R));
    st_devices_model_clear(&m);

    /* An "a" entry starts over: the last one wins. */
    const struct st_device_rule reset[] = {R(false, 'a', -1, -1, "rwm"), R(true, 'c', 1, 3, "rwm"),
                                           R(true, 'a', -1, -1, "rwm")};
    build(reset, 3, &m);
    assert_true(m.default_allow);
    assert_int_equal(m.n, 0);
    st_devices_model_clear(&m);
}

static void test_model_refuses_lost_rules(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_devices_model m;
    /* allow inside a denied wildcard: the device would stay denied */
    const struct st_device_rule deny_wild[] = {R(false, 'c', 1, -1, "rwm"),
                                               R(true, 'c', 1, 3, "rw")};
    assert_int_equal(st_devices_model_build(deny_wild, 2, 2, &m, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.resources.devices[1]: allowing \"c 1:3 rw\" inside "
                                    "the denied \"c 1:* rwm\""));
    /* the runtime's own rules (after n_given) may be absorbed silently */
    assert_int_equal(st_devices_model_build(deny_wild, 2, 1, &m, &err), 0);
    assert_false(st_devices_model_allows(&m, 'c', 1, 3, ACC_R));
    st_devices_model_clear(&m);
}

/* ---- the v2 program, run by an interpreter ---- */

struct ctx {
    uint32_t access_type, major, minor;
};

/* Runs insns (the opcodes the generator may use, nothing else) on ctx.
 * Checks what the kernel's verifier would: jumps forward and in range, r0
 * set before exit, a return of 0 or 1, no fall off the end. */
static int run_program(const struct bpf_insn *insns, size_t n, const struct ctx *ctx)
{
    uint64_t reg[11] = {0};
    bool set[11] = {false};
    set[1] = true; /* r1 = the context; loads go through it */
    size_t pc = 0;
    for (size_t steps = 0; steps <= n; steps++) {
        if (pc >= n)
            fail_msg("pc %zu ran off the end (%zu instructions)", pc, n);
        const struct bpf_insn *i = &insns[pc];
        uint8_t d = i->dst_reg, s = i->src_reg;
        uint64_t imm = (uint64_t)(int64_t)i->imm; /* sign-extended, as the kernel does */
        switch (i->code) {
        case BPF_LDX | BPF_MEM | BPF_W: {
            if (s != 1 || i->off < 0 || i->off > 8 || i->off % 4)
                fail_msg("pc %zu: load from r%u%+d is not a context field", pc, s, i->off);
            uint32_t f = i->off == 0 ? ctx->access_type : i->off == 4 ? ctx->major : ctx->minor;
            reg[d] = f;
            break;
        }
        case BPF_ALU | BPF_MOV | BPF_X:
            if (!set[s])
                fail_msg("pc %zu: r%u read before it is set", pc, s);
            reg[d] = (uint32_t)reg[s];
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            reg[d] = (uint32_t)reg[d] & (uint32_t)i->imm;
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            reg[d] = (uint32_t)reg[d] >> i->imm;
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
            reg[d] = imm;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
        case BPF_JMP | BPF_JEQ | BPF_K:
        case BPF_JMP | BPF_JSET | BPF_K: {
            if (!set[d])
                fail_msg("pc %zu: r%u compared before it is set", pc, d);
            if (i->off < 0 || pc + 1 + (size_t)i->off >= n)
                fail_msg("pc %zu: jump %+d leaves the program", pc, i->off);
            uint8_t op = BPF_OP(i->code);
            bool take = op == BPF_JNE   ? reg[d] != imm
                        : op == BPF_JEQ ? reg[d] == imm
                                        : (reg[d] & imm) != 0;
            if (take)
                pc += (size_t)i->off;
            break;
        }
        case BPF_JMP | BPF_EXIT:
            if (!set[0])
                fail_msg("pc %zu: exit with r0 unset", pc);
            if (reg[0] > 1)
                fail_msg("pc %zu: a device program returns 0 or 1, not %llu", pc,
                         (unsigned long long)reg[0]);
            return (int)reg[0];
        default:
            fail_msg("pc %zu: opcode 0x%02x is not one the generator uses", pc, i->code);
        }
        if (BPF_CLASS(i->code) != BPF_JMP)
            set[d] = true;
        pc++;
    }
    fail_msg("the program loops");
    return -1;
}

static int run_for(const struct bpf_insn *insns, size_t n, char type, uint32_t major,
                   uint32_t minor, unsigned access)
{
    struct ctx c = {.access_type =
                        (access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR),
                    .major = major,
                    .minor = minor};
    return run_program(insns, n, &c);
}

/* The program decides every device and access exactly as the model. */
static void program_matches_model(const struct st_device_rule *rules, size_t n)
{
    struct st_devices_model m;
    build(rules, n, &m);
    struct bpf_insn *insns = NULL;
    size_t ninsns = 0;
    st_error err = {0};
    assert_int_equal(st_devices_bpf_program(&m, &insns, &ninsns, &err), 0);
    static const uint32_t majors[] = {0, 1, 5, 8, 10, 136, 4095};
    static const uint32_t minors[] = {0, 2, 3, 5, 7, 9, 229, 1048575};
    size_t checked = 0;
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < sizeof(majors) / sizeof(majors[0]); a++)
            for (size_t b = 0; b < sizeof(minors) / sizeof(minors[0]); b++)
                for (unsigned acc = 1; acc <= ST_DEV_ACC_ALL; acc++) {
                    char type = t ? 'b' : 'c';
                    bool want = st_devices_model_allows(&m, type, majors[a], minors[b], acc);
                    int got = run_for(insns, ninsns, type, majors[a], minors[b], acc);
                    if (got != (int)want)
                        fail_msg("%c %u:%u access %u: program says %d, model %d", type, majors[a],
                                 minors[b], acc, got, want);
                    checked++;
                }
    assert_int_equal(checked, 2 * 7 * 8 * 7);
    free(insns);
    st_devices_model_clear(&m);
}

static void test_program_decisions(void **state)
{
    (void)state;
    const struct st_device_rule allowlist[] = {
        R(false, 'a', -1, -1, "rwm"), R(true, 'c', 1, 3, "rw"),     R(true, 'b', 8, -1, "r"),
        R(true, 'c', -1, -1, "m"),    R(true, 'c', 136, -1, "rwm"), R(true, 'c', 10, 229, "rwm"),
        R(false, 'c', 10, 229, "w"),
    };
    const struct st_device_rule denylist[] = {
        R(true, 'a', -1, -1, "rwm"),
        R(false, 'c', 1, -1, "rw"),
        R(false, 'b', 8, 0, "rwm"),
        R(false, 'c', -1, 5, "m"),
    };
    const struct st_device_rule deny_all[] = {R(false, 'a', -1, -1, "rwm")};
    const struct st_device_rule nothing[] = {R(true, 'a', -1, -1, "rwm")};
    program_matches_model(allowlist, sizeof(allowlist) / sizeof(allowlist[0]));
    program_matches_model(denylist, sizeof(denylist) / sizeof(denylist[0]));
    program_matches_model(deny_all, 1);
    program_matches_model(nothing, 1);

    /* And by hand, for the allow list: what a container would see. */
    struct st_devices_model m;
    build(allowlist, sizeof(allowlist) / sizeof(allowlist[0]), &m);
    struct bpf_insn *insns = NULL;
    size_t n = 0;
    st_error err = {0};
    assert_int_equal(st_devices_bpf_program(&m, &insns, &n, &err), 0);
    assert_int_equal(run_for(insns, n, 'c', 1, 3, ACC_RW), 1);   /* /dev/null rw */
    assert_int_equal(run_for(insns, n, 'c', 1, 5, ACC_R), 0);    /* /dev/zero not listed */
    assert_int_equal(run_for(insns, n, 'c', 1, 5, ACC_M), 1);    /* mknod of any char */
    assert_int_equal(run_for(insns, n, 'b', 8, 1, ACC_R), 1);    /* sda1 read */
    assert_int_equal(run_for(insns, n, 'b', 8, 1, ACC_W), 0);    /* sda1 write */
    assert_int_equal(run_for(insns, n, 'c', 136, 4, ACC_RW), 1); /* a pts */
    assert_int_equal(run_for(insns, n, 'c', 10, 229, ACC_W), 0); /* fuse lost w */
    assert_int_equal(run_for(insns, n, 'c', 10, 229, ACC_R | ACC_M), 1);
    free(insns);
    st_devices_model_clear(&m);
}

/* The completed rules of a typical config (deny all, then the defaults)
 * give a program that lets /dev/null through and keeps /dev/kmsg out. */
static void test_program_from_config(void **state)
{
    (void)state;
    struct st_oci_config *c =
        parse_ok("{\"linux.resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]}, "
                 "\"linux.devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, "
                 "\"minor\": 229}]}");
    struct st_devices_model m;
    st_error err = {0};
    assert_int_equal(
        st_devices_model_build(c->resources.device_rules, c->resources.n_device_rules, 1, &m, &err),
        0);
    struct bpf_insn *insns = NULL;
    size_t n = 0;
    assert_int_equal(st_devices_bpf_program(&m, &insns, &n, &err), 0);
    assert_int_equal(run_for(insns, n, 'c', 1, 3, ACC_RW), 1);    /* null */
    assert_int_equal(run_for(insns, n, 'c', 1, 9, ACC_R), 1);     /* urandom */
    assert_int_equal(run_for(insns, n, 'c', 5, 2, ACC_RW), 1);    /* ptmx */
    assert_int_equal(run_for(insns, n, 'c', 136, 0, ACC_RW), 1);  /* pts/0 */
    assert_int_equal(run_for(insns, n, 'c', 10, 229, ACC_RW), 1); /* linux.devices */
    assert_int_equal(run_for(insns, n, 'c', 1, 11, ACC_R), 0);    /* kmsg */
    assert_int_equal(run_for(insns, n, 'b', 8, 0, ACC_R), 0);     /* a disk */
    free(insns);
    st_devices_model_clear(&m);
    st_oci_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices_parsed),
        cmocka_unit_test(test_device_rules_completed),
        cmocka_unit_test(test_resources_parsed),
        cmocka_unit_test(test_namespaces_by_path),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_resources_check),
        cmocka_unit_test(test_model_allowlist),
        cmocka_unit_test(test_model_denylist),
        cmocka_unit_test(test_model_refuses_lost_rules),
        cmocka_unit_test(test_program_decisions),
        cmocka_unit_test(test_program_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
