/* test_oci_config.c: config.json parsing: good configs land in the struct,
 * each bad one fails with a message naming the file and the JSON path;
 * unknown fields are ignored, known ones strata-run does not implement are
 * refused. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/capability.h>

#include "strata/oci_config.h"
#include "testutil.h"

/* Parses the default spec after applying edit (a JSON object merged at the top
 * or into a sub-object with json_object_update semantics done by the caller). */
static int parse_text(const char *text, struct st_oci_config **out, st_error *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL)
        fail_msg("test JSON does not parse: %s", jerr.text);
    int r = st_oci_config_from_json(j, "b/config.json", "/bundle", out, err);
    json_decref(j);
    return r;
}

static int parse_json(json_t *j, struct st_oci_config **out, st_error *err)
{
    int r = st_oci_config_from_json(j, "b/config.json", "/bundle", out, err);
    json_decref(j);
    return r;
}

static void test_default_spec(void **state)
{
    (void)state;
    struct st_oci_config *c = NULL;
    st_error err = {0};
    assert_int_equal(parse_json(st_oci_config_default_json(), &c, &err), 0);
    assert_string_equal(c->args[0], "sh");
    assert_null(c->args[1]);
    assert_string_equal(c->root_path, "/bundle/rootfs");
    assert_true(c->root_readonly);
    assert_string_equal(c->cwd, "/");
    assert_int_equal(c->ns_flags,
                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    assert_true(c->has_caps);
    assert_true(c->caps.bounding & (1ULL << CAP_KILL));
    assert_true(c->caps.bounding & (1ULL << CAP_NET_BIND_SERVICE));
    assert_false(c->caps.bounding & (1ULL << CAP_SYS_ADMIN));
    assert_int_equal(c->n_rlimits, 1);
    assert_int_equal(c->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(c->rlimits[0].hard, 1024);
    assert_true(c->no_new_privileges);
    assert_null(c->seccomp);
    assert_non_null(c->masked_paths[0]);
    assert_non_null(c->readonly_paths[0]);
    assert_int_equal(c->resources.memory_limit, -1);
    assert_int_equal(c->umask, -1);
    st_oci_config_free(c);
}

static void test_mounts_and_resources(void **state)
{
    (void)state;
    struct st_oci_config *c = NULL;
    st_error err = {0};
    const char *text =
        "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"/r\"},"
        "\"process\":{\"args\":[\"true\"],\"cwd\":\"/tmp\",\"env\":[\"A=b\"],"
        "\"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[5,6],\"umask\":18}},"
        "\"mounts\":[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/src\","
        "\"options\":[\"rbind\",\"ro\",\"nosuid\",\"rprivate\"]},"
        "{\"destination\":\"/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "\"options\":[\"nodev\",\"mode=755\",\"size=1k\"]}],"
        "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"network\",\"path\":"
        "\"/run/netns/x\"}],\"resources\":{\"memory\":{\"limit\":16777216},"
        "\"cpu\":{\"quota\":50000,\"period\":100000,\"shares\":512},\"pids\":{\"limit\":10}},"
        "\"cgroupsPath\":\"/a/b\",\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}},"
        "\"annotations\":{\"k\":\"v\"}}";
    assert_int_equal(parse_text(text, &c, &err), 0);
    assert_string_equal(c->root_path, "/r");
    assert_int_equal(c->uid, 1000);
    assert_int_equal(c->gid, 100);
    assert_int_equal(c->n_additional_gids, 2);
    assert_int_equal(c->umask, 18);
    assert_false(c->has_caps);
    assert_int_equal(c->n_mounts, 2);
    assert_int_equal(c->mounts[0].flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
    assert_int_equal(c->mounts[0].propagation, MS_PRIVATE | MS_REC);
    assert_null(c->mounts[0].data);
    assert_int_equal(c->mounts[1].flags, MS_NODEV);
    assert_string_equal(c->mounts[1].data, "mode=755,size=1k");
    assert_int_equal(c->ns_flags, CLONE_NEWNS);
    assert_string_equal(c->namespaces[1].path, "/run/netns/x");
    assert_int_equal(c->resources.memory_limit, 16777216);
    assert_int_equal(c->resources.cpu_quota, 50000);
    assert_int_equal(c->resources.cpu_period, 100000);
    assert_int_equal(c->resources.cpu_shares, 512);
    assert_int_equal(c->resources.pids_limit, 10);
    assert_string_equal(c->cgroups_path, "/a/b");
    assert_non_null(c->sysctl);
    assert_string_equal(json_string_value(json_object_get(c->annotations, "k")), "v");
    st_oci_config_free(c);
}

/* Each case: a change to the default spec (JSON path => value) and the text
 * the error must contain. */
struct bad_case {
    const char *object; /* "" = top level, else a dotted path to an existing object */
    const char *key;
    const char *value; /* JSON */
    const char *expect;
};

static const struct bad_case bad_cases[] = {
    {"process", "args", "\"sh\"", "b/config.json: process.args: expected an array of strings"},
    {"process", "args", "[\"sh\", 3]", "process.args: expected an array of strings"},
    {"process", "args", "[]", "process.args: expected a non-empty array"},
    {"process", "env", "[\"NOEQUALS\"]", "process.env[0]: expected \"NAME=value\""},
    {"process", "cwd", "\"relative\"", "process.cwd: expected an absolute path"},
    {"process", "terminal", "true", "process.terminal"},
    {"process", "user", "{\"uid\": \"root\"}", "process.user.uid: expected an integer"},
    {"process.capabilities", "bounding", "[\"CAP_NOPE\"]",
     "process.capabilities.bounding[0]: unknown capability \"CAP_NOPE\""},
    {"process", "rlimits", "[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]",
     "process.rlimits[0].type"},
    {"process", "rlimits", "[{\"type\":\"RLIMIT_NOFILE\",\"soft\":9,\"hard\":1}]",
     "process.rlimits[0]: soft is above hard"},
    {"", "root", "{\"readonly\": true}", "root.path: missing"},
    {"", "root", "[]", "root: expected an object"},
    {"", "process", "null", "process: missing"},
    {"", "hostname", "7", "hostname: expected a string"},
    {"", "mounts", "[{\"destination\":\"rel\",\"type\":\"tmpfs\"}]",
     "mounts[0].destination: expected an absolute path"},
    {"", "mounts", "[{\"destination\":\"/x\",\"type\":\"bind\"}]",
     "mounts[0]: a bind mount needs a source"},
    {"", "mounts", "[{\"destination\":\"/x\",\"type\":\"tmpfs\",\"options\":[1]}]",
     "mounts[0].options[0]: expected a string"},
    {"linux", "namespaces", "[{\"type\":\"time\"}]", "linux.namespaces[0].type: expected one of"},
    {"linux", "namespaces", "[{\"type\":\"mount\"},{\"type\":\"user\"}]",
     "needs uidMappings and gidMappings"},
    {"linux", "resources", "{\"memory\":{\"limit\":\"16m\"}}",
     "linux.resources.memory.limit: expected an integer"},
    {"linux", "resources", "{\"pids\":{\"limit\":-5}}", "linux.resources.pids.limit: -5 is out"},
    {"linux", "seccomp", "[]", "linux.seccomp: expected an object"},
    {"linux", "rootfsPropagation", "\"sideways\"", "linux.rootfsPropagation: expected"},
    {"linux", "namespaces", "[{\"type\":\"mount\"}]", "hostname: setting a hostname needs"},
    /* ociVersion: a SemVer version with major 1 */
    {"", "ociVersion", "null", "b/config.json: ociVersion: missing"},
    {"", "ociVersion", "1", "ociVersion: expected a string"},
    {"", "ociVersion", "\"\"", "ociVersion: \"\" is not a version"},
    {"", "ociVersion", "\"latest\"", "ociVersion: \"latest\" is not a version"},
    {"", "ociVersion", "\"1.0\"", "ociVersion: \"1.0\" is not a version"},
    {"", "ociVersion", "\"1.0.2.3\"", "is not a version"},
    {"", "ociVersion", "\"01.0.0\"", "is not a version"},
    {"", "ociVersion", "\"v1.0.2\"", "is not a version"},
    {"", "ociVersion", "\"1.0.2-\"", "is not a version"},
    {"", "ociVersion", "\"1.0.2-a..b\"", "is not a version"},
    {"", "ociVersion", "\"1.0.2+\"", "is not a version"},
    {"", "ociVersion", "\"1.0.2 \"", "is not a version"},
    {"", "ociVersion", "\"2.0.0\"", "ociVersion: \"2.0.0\": major version 2 is not supported"},
    {"", "ociVersion", "\"0.5.0\"", "major version 0 is not supported"},
    /* hooks */
    {"", "hooks", "[]", "hooks: expected an object"},
    {"", "hooks", "{\"poststop\": {}}", "hooks.poststop: expected an array"},
    {"", "hooks", "{\"prestart\": [7]}", "hooks.prestart[0]: expected an object"},
    {"", "hooks", "{\"createRuntime\": [{\"args\": [\"x\"]}]}",
     "hooks.createRuntime[0].path: missing"},
    {"", "hooks", "{\"createRuntime\": [{\"path\": \"bin/hook\"}]}",
     "b/config.json: hooks.createRuntime[0].path: expected an absolute path"},
    {"", "hooks", "{\"poststart\": [{\"path\": \"/h\"}, {\"path\": \"./h\"}]}",
     "hooks.poststart[1].path: expected an absolute path"},
    {"", "hooks", "{\"startContainer\": [{\"path\": \"/h\", \"timeout\": 0}]}",
     "hooks.startContainer[0].timeout: expected a number of seconds greater than 0"},
    {"", "hooks", "{\"startContainer\": [{\"path\": \"/h\", \"timeout\": -3}]}",
     "hooks.startContainer[0].timeout: expected a number"},
    {"", "hooks", "{\"poststop\": [{\"path\": \"/h\", \"timeout\": \"5\"}]}",
     "hooks.poststop[0].timeout: expected a number"},
    {"", "hooks", "{\"poststop\": [{\"path\": \"/h\", \"timeout\": 1.5}]}",
     "hooks.poststop[0].timeout: expected a number"},
    {"", "hooks", "{\"createContainer\": [{\"path\": \"/h\", \"env\": [\"NOEQ\"]}]}",
     "hooks.createContainer[0].env[0]: expected \"NAME=value\""},
    {"", "hooks", "{\"createContainer\": [{\"path\": \"/h\", \"args\": \"x\"}]}",
     "hooks.createContainer[0].args: expected an array of strings"},
    /* spec fields strata-run does not implement: refused by name */
    {"process", "apparmorProfile", "\"docker-default\"",
     "process.apparmorProfile: AppArmor profiles are not supported"},
    {"process", "selinuxLabel", "\"system_u:system_r:container_t:s0\"",
     "process.selinuxLabel: SELinux labels are not supported"},
    {"process", "scheduler", "{\"policy\": \"SCHED_FIFO\", \"priority\": 1}",
     "process.scheduler: scheduling policies are not supported"},
    {"process", "ioPriority", "{\"class\": \"IOPRIO_CLASS_IDLE\", \"priority\": 7}",
     "process.ioPriority: I/O priorities are not supported"},
    {"process", "execCPUAffinity", "{\"final\": \"0\"}", "process.execCPUAffinity"},
    {"", "windows", "{\"layerFolders\": []}", "windows: a Windows container"},
    {"", "solaris", "{}", "solaris: a Solaris container"},
    {"", "zos", "{}", "zos: a z/OS container"},
    {"", "vm", "{\"kernel\": {\"path\": \"/k\"}}", "vm: a virtual-machine container"},
    {"", "mounts",
     "[{\"destination\":\"/x\",\"type\":\"bind\",\"source\":\"/y\",\"uidMappings\":"
     "[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}]",
     "mounts[0].uidMappings: idmapped mounts are not supported"},
    {"", "mounts", "[{\"destination\":\"/x\",\"type\":\"tmpfs\",\"gidMappings\":[]}]",
     "mounts[0].gidMappings: idmapped mounts"},
    {"", "domainname", "7", "domainname: expected a string"},
};

static void test_bad_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        json_t *spec = st_oci_config_default_json();
        json_t *obj = spec;
        char path[128];
        snprintf(path, sizeof(path), "%s", bc->object);
        for (char *save = NULL, *tok = strtok_r(path, ".", &save); tok;
             tok = strtok_r(NULL, ".", &save))
            obj = json_object_get(obj, tok);
        assert_non_null(obj);
        json_error_t jerr;
        json_t *v = json_loads(bc->value, JSON_DECODE_ANY, &jerr);
        assert_non_null(v);
        json_object_set_new(obj, bc->key, v);
        struct st_oci_config *c = NULL;
        st_error err = {0};
        int r = parse_json(spec, &c, &err);
        if (r == 0 || strstr(err.msg, bc->expect) == NULL)
            fail_msg("case %zu (%s.%s = %s): r=%d, message \"%s\", expected \"%s\"", i, bc->object,
                     bc->key, bc->value, r, err.msg, bc->expect);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
    }
}

/* The default spec with one member of obj (a dotted path, "" = top) set. */
static int parse_with(const char *object, const char *key, const char *value,
                      struct st_oci_config **out, st_error *err)
{
    json_t *spec = st_oci_config_default_json();
    json_t *obj = spec;
    char path[128];
    snprintf(path, sizeof(path), "%s", object);
    for (char *save = NULL, *tok = strtok_r(path, ".", &save); tok;
         tok = strtok_r(NULL, ".", &save))
        obj = json_object_get(obj, tok);
    assert_non_null(obj);
    json_error_t jerr;
    json_t *v = json_loads(value, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("test value %s does not parse: %s", value, jerr.text);
    json_object_set_new(obj, key, v);
    return parse_json(spec, out, err);
}

static void expect_ok(const char *object, const char *key, const char *value)
{
    struct st_oci_config *c = NULL;
    st_error err = {0};
    if (parse_with(object, key, value, &c, &err) < 0)
        fail_msg("%s.%s = %s refused: %s", object, key, value, err.msg);
    st_oci_config_free(c);
}

static void test_versions_accepted(void **state)
{
    (void)state;
    static const char *const good[] = {
        "\"1.0.0\"",
        "\"1.0.2\"",
        "\"1.2.0\"",
        "\"1.2.1\"",
        "\"1.0.2-dev\"",
        "\"1.3.0\"",
        "\"1.0.0-rc.1+build.5\"",
        "\"1.10.100\"",
        "\"1.1.0+dev\"",
        "\"1.0.0-rc5-dev\"",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_ok("", "ociVersion", good[i]);
}

static void test_hooks_parsed(void **state)
{
    (void)state;
    struct st_oci_config *c = NULL;
    st_error err = {0};
    const char *hooks = "{\"prestart\": [{\"path\": \"/usr/bin/fix\", \"args\": [\"fix\", \"-a\"], "
                        "\"env\": [\"K=v\"]}, {\"path\": \"/usr/bin/net\"}],"
                        " \"createRuntime\": [{\"path\": \"/cr\", \"timeout\": 5}],"
                        " \"createContainer\": [{\"path\": \"/cc\"}],"
                        " \"startContainer\": [{\"path\": \"/sc\", \"timeout\": 1}],"
                        " \"poststart\": [{\"path\": \"/ps\"}],"
                        " \"poststop\": [{\"path\": \"/pt\", \"args\": []}, {\"path\": \"/pt2\"}, "
                        "{\"path\": \"/pt3\"}]}";
    assert_int_equal(parse_with("", "hooks", hooks, &c, &err), 0);
    const struct st_oci_hooks *h = &c->hooks;
    assert_int_equal(h->n[ST_HOOK_PRESTART], 2);
    assert_int_equal(h->n[ST_HOOK_CREATE_RUNTIME], 1);
    assert_int_equal(h->n[ST_HOOK_CREATE_CONTAINER], 1);
    assert_int_equal(h->n[ST_HOOK_START_CONTAINER], 1);
    assert_int_equal(h->n[ST_HOOK_POSTSTART], 1);
    assert_int_equal(h->n[ST_HOOK_POSTSTOP], 3);
    const struct st_oci_hook *fix = &h->list[ST_HOOK_PRESTART][0];
    assert_string_equal(fix->path, "/usr/bin/fix");
    assert_string_equal(fix->args[0], "fix");
    assert_string_equal(fix->args[1], "-a");
    assert_null(fix->args[2]);
    assert_string_equal(fix->env[0], "K=v");
    assert_null(fix->env[1]);
    assert_int_equal(fix->timeout, 0);
    /* No args: argv is just the path; no env: NULL (the default applies). */
    const struct st_oci_hook *net = &h->list[ST_HOOK_PRESTART][1];
    assert_string_equal(net->args[0], "/usr/bin/net");
    assert_null(net->args[1]);
    assert_null(net->env);
    assert_int_equal(h->list[ST_HOOK_CREATE_RUNTIME][0].timeout, 5);
    assert_int_equal(h->list[ST_HOOK_START_CONTAINER][0].timeout, 1);
    assert_string_equal(h->list[ST_HOOK_POSTSTOP][0].args[0], "/pt");
    assert_string_equal(h->list[ST_HOOK_POSTSTOP][2].path, "/pt3");
    assert_non_null(h->json);
    for (int k = 0; k < ST_HOOK_KINDS; k++)
        assert_non_null(json_object_get(h->json, st_oci_hook_names[k]));
    st_oci_config_free(c);

    /* No hooks at all: nothing to run. */
    assert_int_equal(parse_json(st_oci_config_default_json(), &c, &err), 0);
    for (int k = 0; k < ST_HOOK_KINDS; k++)
        assert_int_equal(c->hooks.n[k], 0);
    assert_null(c->hooks.json);
    st_oci_config_free(c);
}

/* The spec: unknown properties MUST be ignored. Only fields it defines and
 * strata-run does not implement are refused (test_bad_configs). */
static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    expect_ok("", "x-vendor-extension", "{\"anything\": [1, 2]}");
    expect_ok("process", "futureField", "true");
    expect_ok("linux", "futureLinuxField", "\"value\"");
    expect_ok("", "hooks", "{\"futureKind\": [{\"path\": \"relative\"}]}");
    expect_ok("", "hooks", "{\"poststop\": [{\"path\": \"/h\", \"futureField\": 1}]}");
    expect_ok("root", "futureRootField", "1");
    /* Set-but-empty means not set: no profile, no label. */
    expect_ok("process", "apparmorProfile", "\"\"");
    expect_ok("process", "selinuxLabel", "\"\"");
    expect_ok("process", "scheduler", "null");
    /* Windows-only members of process mean nothing on Linux. */
    expect_ok("process", "commandLine", "\"cmd.exe /c dir\"");
    expect_ok("process", "consoleSize", "{\"height\": 24, \"width\": 80}");

    struct st_oci_config *c = NULL;
    st_error err = {0};
    assert_int_equal(parse_with("", "domainname", "\"example.org\"", &c, &err), 0);
    assert_string_equal(c->domainname, "example.org");
    st_oci_config_free(c);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    char *dir = st_test_mkdtemp("strata-ocitest");
    char file[512], bundle[512];
    struct st_oci_config *c = NULL;
    st_error err = {0};

    snprintf(bundle, sizeof(bundle), "%s/missing", dir);
    assert_true(st_oci_config_load(bundle, &c, &err) < 0);
    assert_non_null(strstr(err.msg, "bundle"));
    assert_non_null(strstr(err.msg, "missing"));

    st_error_clear(&err);
    assert_int_equal(st_oci_config_load(dir, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "config.json"));

    snprintf(file, sizeof(file), "%s/config.json", dir);
    st_test_write_file(file, "{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {,\n}\n");
    st_error_clear(&err);
    assert_int_equal(st_oci_config_load(dir, &c, &err), -EINVAL);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s/config.json:3:", dir);
    if (strstr(err.msg, expect) == NULL)
        fail_msg("no line:column in \"%s\"", err.msg);

    json_t *spec = st_oci_config_default_json();
    assert_int_equal(json_dump_file(spec, file, 0), 0);
    json_decref(spec);
    st_error_clear(&err);
    assert_int_equal(st_oci_config_load(dir, &c, &err), 0);
    snprintf(expect, sizeof(expect), "%s/rootfs", dir);
    assert_string_equal(c->root_path, expect);
    st_oci_config_free(c);
    st_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_spec),     cmocka_unit_test(test_mounts_and_resources),
        cmocka_unit_test(test_bad_configs),      cmocka_unit_test(test_versions_accepted),
        cmocka_unit_test(test_hooks_parsed),     cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_load_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
