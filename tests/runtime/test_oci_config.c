/* test_oci_config.c: config.json parsing: good configs land in the struct,
 * each bad one fails with a message naming the file and the JSON path;
 * unknown fields are ignored, known ones strata-run does not implement are
 * refused, and the features document lists exactly what the loader takes. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/capability.h>

#include "strata/features.h"
#include "strata/oci_config.h"
#include "strata/seccomp.h"
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

/* `strata-run features` (st_features_json) claims what the loader takes:
 * every name it lists is accepted where config.json would use it, and a
 * name it does not list is not. */
static void test_features_match_loader(void **state)
{
    (void)state;
    json_t *f = st_features_json();
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "ociVersionMin")), ST_OCI_VERSION_MIN);
    assert_string_equal(json_string_value(json_object_get(f, "ociVersionMax")), ST_OCI_VERSION_MAX);
    char v[64];
    snprintf(v, sizeof(v), "\"%s\"", ST_OCI_VERSION_MIN);
    expect_ok("", "ociVersion", v);
    snprintf(v, sizeof(v), "\"%s\"", ST_OCI_VERSION_MAX);
    expect_ok("", "ociVersion", v);

    json_t *hooks = json_object_get(f, "hooks");
    assert_int_equal(json_array_size(hooks), ST_HOOK_KINDS);
    size_t i;
    json_t *name;
    json_array_foreach(hooks, i, name)
    {
        char h[128];
        snprintf(h, sizeof(h), "{\"%s\": [{\"path\": \"/bin/true\"}]}", json_string_value(name));
        struct st_oci_config *c = NULL;
        st_error err = {0};
        assert_int_equal(parse_with("", "hooks", h, &c, &err), 0);
        assert_int_equal(c->hooks.n[i], 1);
        st_oci_config_free(c);
    }

    /* A known option is a flag or propagation, never passed on as data. */
    json_array_foreach(json_object_get(f, "mountOptions"), i, name)
    {
        char m[160];
        snprintf(
            m, sizeof(m),
            "[{\"destination\":\"/x\",\"type\":\"tmpfs\",\"source\":\"/s\",\"options\":[\"%s\"]}]",
            json_string_value(name));
        struct st_oci_config *c = NULL;
        st_error err = {0};
        if (parse_with("", "mounts", m, &c, &err) < 0)
            fail_msg("mount option %s refused: %s", json_string_value(name), err.msg);
        if (c->mounts[0].data != NULL)
            fail_msg("mount option %s listed but not recognised", json_string_value(name));
        st_oci_config_free(c);
    }
    assert_true(json_array_size(json_object_get(f, "mountOptions")) >= 20);

    json_t *linux = json_object_get(f, "linux");
    json_array_foreach(json_object_get(linux, "capabilities"), i, name)
    {
        char caps[96];
        snprintf(caps, sizeof(caps), "[\"%s\"]", json_string_value(name));
        expect_ok("process.capabilities", "bounding", caps);
    }
    assert_true(json_array_size(json_object_get(linux, "capabilities")) >= 38);
    json_array_foreach(json_object_get(linux, "namespaces"), i, name)
    {
        /* Each listed type, new, beside a mount namespace (types may not
         * repeat; id mappings only with a new user namespace). */
        const char *type = json_string_value(name);
        char ns[256];
        if (strcmp(type, "mount") == 0)
            snprintf(ns, sizeof(ns), "[{\"type\":\"mount\"}]");
        else
            snprintf(ns, sizeof(ns), "[{\"type\":\"mount\"},{\"type\":\"%s\"}]", type);
        json_t *spec = st_oci_config_default_json();
        json_t *l = json_object_get(spec, "linux");
        json_object_set_new(l, "namespaces", json_loads(ns, 0, NULL));
        if (strcmp(type, "user") == 0) {
            json_object_set_new(
                l, "uidMappings",
                json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", 1000, "size", 1));
            json_object_set_new(
                l, "gidMappings",
                json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", 1000, "size", 1));
        }
        /* the default spec's hostname needs a uts namespace */
        if (strcmp(type, "uts") != 0)
            json_object_del(spec, "hostname");
        struct st_oci_config *c = NULL;
        st_error err = {0};
        if (parse_json(spec, &c, &err) < 0)
            fail_msg("namespace %s refused: %s", json_string_value(name), err.msg);
        st_oci_config_free(c);
    }

    /* Seccomp: each action and operator in one profile the compiler must
     * take; each architecture is known to it (libseccomp only combines those
     * of the native byte order with the native one, so some cannot load). */
    json_t *sc = json_object_get(linux, "seccomp");
    assert_true(json_is_true(json_object_get(sc, "enabled")));
    st_error err = {0};
    json_array_foreach(json_object_get(sc, "archs"), i, name)
    {
        json_t *one =
            json_pack("{s:s, s:[O]}", "defaultAction", "SCMP_ACT_ALLOW", "architectures", name);
        struct st_seccomp *compiled = NULL;
        st_error_clear(&err);
        if (st_seccomp_build(one, "features", &compiled, &err) < 0 &&
            strstr(err.msg, "unknown architecture"))
            fail_msg("arch %s listed but unknown: %s", json_string_value(name), err.msg);
        st_seccomp_free(compiled);
        json_decref(one);
    }
    json_t *profile = json_pack("{s:s, s:[]}", "defaultAction", "SCMP_ACT_ALLOW", "syscalls");
    json_t *syscalls = json_object_get(profile, "syscalls");
    json_array_foreach(json_object_get(sc, "actions"), i, name)
    {
        if (strcmp(json_string_value(name), "SCMP_ACT_ALLOW") == 0)
            continue;
        json_array_append_new(syscalls,
                              json_pack("{s:[s], s:O}", "names", "getcwd", "action", name));
    }
    json_array_foreach(json_object_get(sc, "operators"), i, name) json_array_append_new(
        syscalls,
        json_pack("{s:[s], s:s, s:[{s:i, s:i, s:i, s:O}]}", "names", "personality", "action",
                  "SCMP_ACT_ERRNO", "args", "index", 0, "value", 1, "valueTwo", 1, "op", name));
    json_object_set(profile, "flags", json_object_get(sc, "supportedFlags"));
    struct st_seccomp *compiled = NULL;
    st_error_clear(&err);
    if (st_seccomp_build(profile, "features", &compiled, &err) < 0)
        fail_msg("the features' seccomp names do not compile: %s", err.msg);
    st_seccomp_free(compiled);
    json_decref(profile);

    /* Names the loader refuses are not claimed. */
    struct st_oci_config *c = NULL;
    st_error_clear(&err);
    assert_int_equal(parse_with("process.capabilities", "bounding", "[\"CAP_NOPE\"]", &c, &err),
                     -EINVAL);
    assert_false(json_is_true(json_object_get(json_object_get(linux, "apparmor"), "enabled")));
    assert_false(json_is_true(json_object_get(json_object_get(linux, "selinux"), "enabled")));
    json_decref(f);
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
        cmocka_unit_test(test_default_spec),          cmocka_unit_test(test_mounts_and_resources),
        cmocka_unit_test(test_bad_configs),           cmocka_unit_test(test_versions_accepted),
        cmocka_unit_test(test_hooks_parsed),          cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_features_match_loader), cmocka_unit_test(test_load_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
