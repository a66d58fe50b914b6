/* test_node_pod_spec.c: runtime/node/pod_spec.c, the PodSpec -> OCI config
 * and probe translation of strata-node, on JSON alone: env and $(VAR)
 * expansion, capabilities, seccomp choice, resources, namespaces, probes
 * with named ports, and errors that name the field. Touches no system. */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL)
        fail_msg("test JSON: %s: %s", jerr.text, text);
    return j;
}

static struct st_node_pod_spec *parse_ok(const char *text)
{
    _cleanup_json_ json_t *spec = load(text);
    struct st_node_pod_spec *ps = NULL;
    st_error err = {0};
    if (st_node_pod_spec_parse(spec, "web-1", &ps, &err) < 0)
        fail_msg("parse: %s", err.msg);
    return ps;
}

/* The spec fails; the message has want in it. */
static void parse_fails(const char *text, const char *want)
{
    _cleanup_json_ json_t *spec = load(text);
    struct st_node_pod_spec *ps = NULL;
    st_error err = {0};
    assert_int_equal(st_node_pod_spec_parse(spec, "web-1", &ps, &err), -EINVAL);
    assert_null(ps);
    if (strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static bool array_has(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void test_full_container(void **state)
{
    (void)state;
    struct st_node_pod_spec *ps = parse_ok(
        "{\"restartPolicy\": \"OnFailure\", \"terminationGracePeriodSeconds\": 5,"
        " \"containers\": [{\"name\": \"httpd\", \"image\": \"busybox\", \"imageLayers\": [],"
        "  \"command\": [\"/bin/sh\", \"-c\"], \"args\": [\"echo $(GREETING) $$(X) $(NOPE)\"],"
        "  \"env\": [{\"name\": \"A\", \"value\": \"1\"},"
        "           {\"name\": \"GREETING\", \"value\": \"hi $(A) on $(HOSTNAME)\"},"
        "           {\"name\": \"A\", \"value\": \"2\"}],"
        "  \"ports\": [{\"name\": \"http\", \"containerPort\": 8080}],"
        "  \"resources\": {\"limits\": {\"cpu\": \"250m\", \"memory\": \"64Mi\"},"
        "    \"strataNormalized\": {\"cpuRequestMillis\": 100, \"memoryRequestBytes\": 1,"
        "      \"cpuLimitMillis\": 250, \"memoryLimitBytes\": 67108864}},"
        "  \"readinessProbe\": {\"httpGet\": {\"path\": \"/ok\", \"port\": \"http\","
        "      \"httpHeaders\": [{\"name\": \"X-Probe\", \"value\": \"1\"}]},"
        "    \"periodSeconds\": 2, \"successThreshold\": 2},"
        "  \"livenessProbe\": {\"exec\": {\"command\": [\"test\", \"-f\", \"/tmp/x\"]},"
        "    \"failureThreshold\": 1},"
        "  \"startupProbe\": {\"tcpSocket\": {\"port\": 8080}, \"initialDelaySeconds\": 3}}]}");
    assert_int_equal(ps->restart, ST_NODE_RESTART_ON_FAILURE);
    assert_int_equal(ps->grace_s, 5);
    assert_int_equal(ps->n_containers, 1);
    const struct st_node_container_spec *cs = &ps->containers[0];
    assert_string_equal(cs->name, "httpd");
    assert_string_equal(cs->image, "busybox");

    json_t *proc = json_object_get(cs->oci, "process");
    json_t *args = json_object_get(proc, "args");
    assert_int_equal(json_array_size(args), 3);
    /* $(VAR) from the final env, $$ escapes, unknown names stay */
    assert_string_equal(json_string_value(json_array_get(args, 2)),
                        "echo hi 1 on web-1 $(X) $(NOPE)");
    json_t *env = json_object_get(proc, "env");
    assert_true(array_has(env, "HOSTNAME=web-1"));
    assert_true(array_has(env, "GREETING=hi 1 on web-1"));
    assert_true(array_has(env, "A=2")); /* the later one replaces the earlier */
    assert_false(array_has(env, "A=1"));
    assert_non_null(strstr(json_string_value(json_array_get(env, 0)), "PATH=/usr/local/sbin"));

    json_t *caps = json_object_get(proc, "capabilities");
    json_t *bnd = json_object_get(caps, "bounding");
    assert_int_equal(json_array_size(bnd), 14);
    assert_true(array_has(bnd, "CAP_NET_BIND_SERVICE"));
    assert_false(array_has(bnd, "CAP_SYS_ADMIN"));
    assert_int_equal(json_array_size(json_object_get(caps, "ambient")), 0);
    assert_true(json_is_false(json_object_get(proc, "noNewPrivileges")));
    assert_null(json_object_get(proc, "rlimits"));
    assert_null(json_object_get(cs->oci, "hostname"));

    json_t *linux = json_object_get(cs->oci, "linux");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(linux, "seccomp"), "defaultAction")),
        "SCMP_ACT_ALLOW");
    json_t *res = json_object_get(linux, "resources");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                     64 << 20);
    json_t *cpu = json_object_get(res, "cpu");
    assert_int_equal(json_integer_value(json_object_get(cpu, "shares")), 102);
    assert_int_equal(json_integer_value(json_object_get(cpu, "quota")), 25000);
    assert_int_equal(json_integer_value(json_object_get(cpu, "period")), 100000);
    /* every container gets a pids limit: the node's, never unlimited */
    long long pids = json_integer_value(json_object_get(json_object_get(res, "pids"), "limit"));
    assert_int_equal(pids, st_node_container_pids_limit());
    assert_true(pids >= 64 && pids <= 1024);
    /* every device denied; the runtime adds its defaults */
    json_t *devs = json_object_get(res, "devices");
    assert_int_equal(json_array_size(devs), 1);
    assert_true(json_is_false(json_object_get(json_array_get(devs, 0), "allow")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(devs, 0), "access")),
                        "rwm");
    assert_true(json_is_false(json_object_get(proc, "noNewPrivileges")));

    const struct st_probe_spec *rp = cs->probes[ST_PROBE_READINESS];
    assert_non_null(rp);
    assert_int_equal(rp->handler, ST_PROBE_HANDLER_HTTP);
    assert_int_equal(rp->port, 8080);
    assert_string_equal(rp->path, "/ok");
    assert_null(rp->host);
    assert_int_equal(rp->n_headers, 1);
    assert_string_equal(rp->headers[0].name, "X-Probe");
    assert_int_equal(rp->period_s, 2);
    assert_int_equal(rp->success_threshold, 2);
    const struct st_probe_spec *lp = cs->probes[ST_PROBE_LIVENESS];
    assert_int_equal(lp->handler, ST_PROBE_HANDLER_EXEC);
    assert_string_equal(lp->command[0], "test");
    assert_string_equal(lp->command[2], "/tmp/x");
    assert_null(lp->command[3]);
    assert_int_equal(lp->failure_threshold, 1);
    const struct st_probe_spec *sp = cs->probes[ST_PROBE_STARTUP];
    assert_int_equal(sp->handler, ST_PROBE_HANDLER_TCP);
    assert_int_equal(sp->initial_delay_s, 3);

    /* one start: the rootfs and the sandbox's namespaces to join */
    struct st_node_sandbox sb = {.pid = 4242};
    struct st_oci_config *cfg = NULL;
    st_error err = {0};
    if (st_node_container_config(cs, "/var/lib/strata/pods/u/httpd/rootfs", &sb, NULL, &cfg, &err) <
        0)
        fail_msg("config: %s", err.msg);
    assert_string_equal(cfg->root_path, "/var/lib/strata/pods/u/httpd/rootfs");
    assert_false(cfg->root_readonly);
    assert_int_equal(cfg->ns_flags, CLONE_NEWPID | CLONE_NEWNS);
    assert_int_equal(cfg->n_namespaces, 5);
    bool net = false;
    for (size_t i = 0; i < cfg->n_namespaces; i++)
        if (cfg->namespaces[i].type == CLONE_NEWNET) {
            assert_string_equal(cfg->namespaces[i].path, "/proc/4242/ns/net");
            net = true;
        }
    assert_true(net);
    assert_true(cfg->has_caps);
    assert_int_equal(cfg->resources.memory_limit, 64 << 20);
    assert_non_null(cfg->seccomp);
    st_oci_config_free(cfg);
    st_node_pod_spec_free(ps);
}

static void test_defaults_and_seccomp_choice(void **state)
{
    (void)state;
    struct st_node_pod_spec *ps = parse_ok(
        "{\"securityContext\": {\"seccompProfile\": {\"type\": \"Unconfined\"}},"
        " \"containers\": [{\"name\": \"a\", \"image\": \"busybox\", \"imageLayers\": [], "
        "\"args\": [\"true\"]},"
        "  {\"name\": \"b\", \"image\": \"busybox\", \"imageLayers\": [], \"command\": [\"true\"],"
        "   \"securityContext\": {\"seccompProfile\": {\"type\": \"RuntimeDefault\"},"
        "    \"allowPrivilegeEscalation\": false}}]}");
    assert_int_equal(ps->restart, ST_NODE_RESTART_ALWAYS);
    assert_int_equal(ps->grace_s, 30);
    assert_int_equal(ps->n_containers, 2);
    /* the pod says Unconfined, b says RuntimeDefault for itself */
    assert_null(json_object_get(json_object_get(ps->containers[0].oci, "linux"), "seccomp"));
    assert_non_null(json_object_get(json_object_get(ps->containers[1].oci, "linux"), "seccomp"));
    /* b said allowPrivilegeEscalation: false: no_new_privs; a did not */
    assert_true(json_is_true(
        json_object_get(json_object_get(ps->containers[1].oci, "process"), "noNewPrivileges")));
    assert_true(json_is_false(
        json_object_get(json_object_get(ps->containers[0].oci, "process"), "noNewPrivileges")));
    /* no resources: BestEffort, the kubelet's minimum shares, no limits */
    json_t *res = json_object_get(json_object_get(ps->containers[0].oci, "linux"), "resources");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "shares")), 2);
    assert_null(json_object_get(json_object_get(res, "cpu"), "quota"));
    assert_null(json_object_get(res, "memory"));
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++)
        assert_null(ps->containers[0].probes[k]);
    st_node_pod_spec_free(ps);

    /* nothing said anywhere: RuntimeDefault */
    ps = parse_ok("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                  "\"command\": [\"x\"]}]}");
    assert_non_null(json_object_get(json_object_get(ps->containers[0].oci, "linux"), "seccomp"));
    st_node_pod_spec_free(ps);
}

static void test_errors_name_the_field(void **state)
{
    (void)state;
    parse_fails("{}", "spec.containers: expected a non-empty array");
    parse_fails("{\"containers\": [{\"name\": \"Web\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"]}]}",
                "spec.containers[0].name: \"Web\" is not a DNS label");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"command\": [\"x\"]}]}",
                "spec.containers[0].image: missing");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"]},"
                " {\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], \"command\": [\"x\"]}]}",
                "spec.containers[1].name: \"a\" is already the name of spec.containers[0]");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": []}]}",
                "spec.containers[0]: no command or args");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"command\": [\"x\"]}]}",
                "spec.containers[0].imageLayers: missing");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"command\": [\"x\"],"
                " \"imageLayers\": [\"layers/../../etc\"]}]}",
                "spec.containers[0].imageLayers[0]: \"layers/../../etc\" is not a layer");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"command\": [\"x\"],"
                " \"imageLayers\": [\"/abs\"]}]}",
                "spec.containers[0].imageLayers[0]");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [],"
                " \"command\": [\"x\"], \"securityContext\": {\"runAsUser\": -1}}]}",
                "spec.containers[0].securityContext.runAsUser");
    parse_fails(
        "{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [],"
        " \"command\": [\"x\"], \"securityContext\": {\"allowPrivilegeEscalation\": 0}}]}",
        "spec.containers[0].securityContext.allowPrivilegeEscalation: expected true or false");
    parse_fails("{\"restartPolicy\": \"Sometimes\", \"containers\": [{\"name\": \"a\", "
                "\"image\": \"i\", \"imageLayers\": [], \"command\": [\"x\"]}]}",
                "spec.restartPolicy: \"Sometimes\"");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"env\": [{\"name\": \"T\", \"valueFrom\": {\"secretKeyRef\": {}}}]}]}",
                "spec.containers[0].env[0] (T): valueFrom was not resolved");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"resources\": {\"limits\": {\"memory\": \"1Gi\"}}}]}",
                "spec.containers[0].resources: limits or requests without strataNormalized");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"resources\": {\"strataNormalized\": {\"memoryLimitBytes\": -1}}}]}",
                "spec.containers[0].resources.strataNormalized.memoryLimitBytes");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"readinessProbe\": {\"httpGet\": {\"port\": \"web\"}}}]}",
                "spec.containers[0].readinessProbe.httpGet.port: the container has no port "
                "named \"web\"");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"livenessProbe\": {\"tcpSocket\": {\"port\": 80}, \"successThreshold\": 2}}]}",
                "spec.containers[0].livenessProbe.successThreshold: must be 1");
    parse_fails("{\"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"],"
                " \"startupProbe\": {\"periodSeconds\": 1}}]}",
                "spec.containers[0].startupProbe: needs exactly one of exec, tcpSocket, httpGet");
    parse_fails("{\"securityContext\": {\"seccompProfile\": {\"type\": \"Localhost\"}},"
                " \"containers\": [{\"name\": \"a\", \"image\": \"i\", \"imageLayers\": [], "
                "\"command\": [\"x\"]}]}",
                "spec.securityContext.seccompProfile.type: \"Localhost\" is not supported");
}

/* What stratad resolved from the image: its layers, and the user as
 * runAsUser/runAsGroup, which become process.user. */
static void test_image_layers_and_user(void **state)
{
    (void)state;
    struct st_node_pod_spec *ps =
        parse_ok("{\"containers\": [{\"name\": \"a\", \"image\": \"127.0.0.1:5000/q:1\","
                 " \"imageLayers\": [\"layers/aa\", \"layers/bb\"], \"command\": [\"/q\"],"
                 " \"workingDir\": \"/srv\", \"securityContext\": {\"runAsUser\": 1000,"
                 " \"runAsGroup\": 50}}, {\"name\": \"b\", \"image\": \"e\", \"imageLayers\": [],"
                 " \"command\": [\"x\"]}]}");
    const struct st_node_container_spec *cs = &ps->containers[0];
    assert_int_equal(cs->n_layers, 2);
    assert_string_equal(cs->layers[0], "layers/aa");
    assert_string_equal(cs->layers[1], "layers/bb");
    assert_null(cs->layers[2]);
    json_t *proc = json_object_get(cs->oci, "process");
    assert_string_equal(json_string_value(json_object_get(proc, "cwd")), "/srv");
    json_t *user = json_object_get(proc, "user");
    assert_int_equal(json_integer_value(json_object_get(user, "uid")), 1000);
    assert_int_equal(json_integer_value(json_object_get(user, "gid")), 50);
    /* an image without layers, no user: root */
    cs = &ps->containers[1];
    assert_int_equal(cs->n_layers, 0);
    user = json_object_get(json_object_get(cs->oci, "process"), "user");
    assert_int_equal(json_integer_value(json_object_get(user, "uid")), 0);
    assert_int_equal(json_integer_value(json_object_get(user, "gid")), 0);
    st_node_pod_spec_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_container),
        cmocka_unit_test(test_defaults_and_seccomp_choice),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_image_layers_and_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
