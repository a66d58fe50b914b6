/* test_api_proto.c: bodies in Kubernetes' protobuf encoding, as kubectl's
 * typed clients send them (kubectl create namespace|secret|deployment|
 * service, drain's evictions), on the in-memory store. Each body is built
 * with protobuf-c's own pack functions from the generated messages of
 * agent/server/k8s_proto/strata_k8s.proto, wrapped as the apiserver reads
 * it ("k8s\0" and a runtime.Unknown); the stored object must have what was
 * sent. Bodies that cannot be read are a 400, kinds Strata does not read a
 * 415, and a field on the wire that Strata does not read is a warning. */
#include "fake_server.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "strata_k8s.pb-c.h"

#define PROTOBUF "application/vnd.kubernetes.protobuf"

/* "k8s\0" and the envelope around obj packed; *len its length. */
static char *wrap(const char *api_version, const char *kind, const ProtobufCMessage *obj,
                  size_t *len)
{
    size_t raw_len = protobuf_c_message_get_packed_size(obj);
    uint8_t *raw = malloc(raw_len + 1);
    assert_non_null(raw);
    assert_int_equal(protobuf_c_message_pack(obj, raw), raw_len);
    Strata__K8s__KindTag tag = STRATA__K8S__KIND_TAG__INIT;
    tag.api_version = (char *)api_version;
    tag.kind = (char *)kind;
    Strata__K8s__Envelope env = STRATA__K8S__ENVELOPE__INIT;
    env.type = &tag;
    env.has_raw = 1;
    env.raw = (ProtobufCBinaryData){.len = raw_len, .data = raw};
    env.content_encoding = "";
    env.content_type = "";
    size_t n = strata__k8s__envelope__get_packed_size(&env);
    char *body = malloc(4 + n);
    assert_non_null(body);
    memcpy(body, "k8s\0", 4);
    assert_int_equal(strata__k8s__envelope__pack(&env, (uint8_t *)body + 4), n);
    free(raw);
    *len = 4 + n;
    return body;
}

static unsigned send_proto(struct fake_server *fs, const char *method, const char *path,
                           const char *body, size_t len, json_t **reply, json_t **warnings)
{
    struct fake_request r = {
        .method = method, .path = path, .body = body, .body_len = len, .content_type = PROTOBUF};
    return fake_server_request(fs, &r, reply, warnings);
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("want \"%s\" in \"%s\"", part, text ? text : "(null)");
}

static const char *message_of(json_t *status)
{
    return json_string_value(json_object_get(status, "message"));
}

/* path like "spec.template.spec.containers" through objects; [0] of arrays */
static json_t *at(json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *p = strtok_r(buf, ".", &save); p && obj; p = strtok_r(NULL, ".", &save)) {
        obj = json_object_get(obj, p);
        if (json_is_array(obj))
            obj = json_array_get(obj, 0);
    }
    return obj;
}

static const char *str_at(json_t *obj, const char *path)
{
    return json_string_value(at(obj, path)) ?: "";
}

static Strata__K8s__StringPair pair(const char *k, const char *v)
{
    Strata__K8s__StringPair p = STRATA__K8S__STRING_PAIR__INIT;
    p.key = (char *)k;
    p.value = (char *)v;
    return p;
}

/* The metadata gogo writes: every non-pointer string, empty when unset. */
static Strata__K8s__Meta meta(const char *name, Strata__K8s__StringPair **labels, size_t n)
{
    Strata__K8s__Meta m = STRATA__K8S__META__INIT;
    m.name = (char *)name;
    m.generate_name = "";
    m.namespace_ = "";
    m.resource_version = "";
    m.labels = labels;
    m.n_labels = n;
    return m;
}

static void test_namespace_create_and_replace(void **state)
{
    struct fake_server *fs = *state;
    Strata__K8s__StringPair team = pair("team", "a");
    Strata__K8s__StringPair *labels[] = {&team};
    Strata__K8s__NamespaceObject ns = STRATA__K8S__NAMESPACE_OBJECT__INIT;
    Strata__K8s__Meta md = meta("lab", labels, 1);
    ns.metadata = &md;
    Strata__K8s__NamespaceSpecPart spec = STRATA__K8S__NAMESPACE_SPEC_PART__INIT;
    ns.spec = &spec;
    size_t len;
    char *body = wrap("v1", "Namespace", &ns.base, &len);
    json_t *reply = NULL;
    assert_int_equal(send_proto(fs, "POST", "/api/v1/namespaces?fieldManager=kubectl-create", body,
                                len, &reply, NULL),
                     201);
    assert_string_equal(str_at(reply, "metadata.name"), "lab");
    json_decref(reply);
    free(body);
    json_t *stored = fake_server_get(fs, "Namespace", "", "lab");
    assert_non_null(stored);
    assert_string_equal(str_at(stored, "metadata.labels.team"), "a");
    json_decref(stored);

    /* replace (PUT) with another label */
    team.value = "b";
    body = wrap("v1", "Namespace", &ns.base, &len);
    assert_int_equal(send_proto(fs, "PUT", "/api/v1/namespaces/lab", body, len, NULL, NULL), 200);
    free(body);
    stored = fake_server_get(fs, "Namespace", "", "lab");
    assert_string_equal(str_at(stored, "metadata.labels.team"), "b");
    json_decref(stored);
}

static void test_secret_bytes_become_base64(void **state)
{
    struct fake_server *fs = *state;
    Strata__K8s__SecretObject s = STRATA__K8S__SECRET_OBJECT__INIT;
    Strata__K8s__Meta md = meta("s1", NULL, 0);
    s.metadata = &md;
    static const uint8_t bin[] = {'b', 0, 0xff};
    Strata__K8s__BytesPair a = STRATA__K8S__BYTES_PAIR__INIT;
    a.key = "a";
    a.has_value = 1;
    a.value = (ProtobufCBinaryData){.len = sizeof(bin), .data = (uint8_t *)bin};
    Strata__K8s__BytesPair *data[] = {&a};
    s.data = data;
    s.n_data = 1;
    Strata__K8s__StringPair plain = pair("b", "text");
    Strata__K8s__StringPair *string_data[] = {&plain};
    s.string_data = string_data;
    s.n_string_data = 1;
    s.type = "Opaque";
    size_t len;
    char *body = wrap("v1", "Secret", &s.base, &len);
    assert_int_equal(send_proto(fs, "POST",
                                "/api/v1/namespaces/default/secrets?fieldValidation=Strict", body,
                                len, NULL, NULL),
                     201);
    free(body);
    json_t *got = NULL;
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/namespaces/default/secrets/s1", NULL, &got), 200);
    assert_string_equal(str_at(got, "data.a"), "YgD/");     /* 'b' 0 0xff */
    assert_string_equal(str_at(got, "data.b"), "dGV4dA=="); /* stringData "text" */
    assert_string_equal(str_at(got, "type"), "Opaque");
    json_decref(got);
}

static void test_deployment_fields(void **state)
{
    struct fake_server *fs = *state;
    Strata__K8s__StringPair app = pair("app", "web");
    Strata__K8s__StringPair *labels[] = {&app};

    Strata__K8s__ContainerPortPart port = STRATA__K8S__CONTAINER_PORT_PART__INIT;
    port.name = "";
    port.has_container_port = 1;
    port.container_port = 8080;
    port.protocol = "TCP";
    Strata__K8s__ContainerPortPart *ports[] = {&port};
    Strata__K8s__EnvPart plain = STRATA__K8S__ENV_PART__INIT;
    plain.name = "A";
    plain.value = "1";
    Strata__K8s__NameRef secret = STRATA__K8S__NAME_REF__INIT;
    secret.name = "s1";
    Strata__K8s__SecretKeyPart key = STRATA__K8S__SECRET_KEY_PART__INIT;
    key.secret = &secret;
    key.key = "a";
    Strata__K8s__EnvSourcePart from = STRATA__K8S__ENV_SOURCE_PART__INIT;
    from.secret_key_ref = &key;
    Strata__K8s__EnvPart ref = STRATA__K8S__ENV_PART__INIT;
    ref.name = "S";
    ref.value = "";
    ref.value_from = &from;
    Strata__K8s__EnvPart *env[] = {&plain, &ref};
    Strata__K8s__Amount half = STRATA__K8S__AMOUNT__INIT;
    half.text = "500m";
    Strata__K8s__AmountPair cpu = STRATA__K8S__AMOUNT_PAIR__INIT;
    cpu.key = "cpu";
    cpu.value = &half;
    Strata__K8s__AmountPair *limits[] = {&cpu};
    Strata__K8s__ResourcesPart res = STRATA__K8S__RESOURCES_PART__INIT;
    res.limits = limits;
    res.n_limits = 1;
    Strata__K8s__PortOrName probe_port = STRATA__K8S__PORT_OR_NAME__INIT;
    probe_port.has_type = 1;
    probe_port.has_number = 1;
    probe_port.number = 8080;
    probe_port.name = "";
    Strata__K8s__TcpPart tcp = STRATA__K8S__TCP_PART__INIT;
    tcp.port = &probe_port;
    Strata__K8s__ProbeActionPart action = STRATA__K8S__PROBE_ACTION_PART__INIT;
    action.tcp_socket = &tcp;
    Strata__K8s__ProbePart probe = STRATA__K8S__PROBE_PART__INIT;
    probe.action = &action;
    probe.has_period_seconds = 1;
    probe.period_seconds = 5;
    probe.has_initial_delay_seconds = 1; /* zero, as gogo writes it: unset */
    char *command[] = {"sleep", "1000"};
    Strata__K8s__ContainerPart c = STRATA__K8S__CONTAINER_PART__INIT;
    c.name = "busybox";
    c.image = "busybox";
    c.command = command;
    c.n_command = 2;
    c.working_dir = "";
    c.ports = ports;
    c.n_ports = 1;
    c.env = env;
    c.n_env = 2;
    c.resources = &res;
    c.readiness_probe = &probe;
    c.image_pull_policy = "IfNotPresent";
    /* Fields Strata does not read: tty (18) false and
     * terminationMessagePolicy (20) "", as gogo always writes them, and
     * stdin (16) true, which must be warned about. (protobuf-c packs an
     * unknown field as its tag and these bytes: a length-prefixed one
     * starts with its length.) */
    uint8_t zero = 0, one = 1;
    ProtobufCMessageUnknownField extra[] = {
        {.tag = 18, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = &zero},
        {.tag = 20, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, .len = 1, .data = &zero},
        {.tag = 16, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = &one},
    };
    c.base.unknown_fields = extra;
    c.base.n_unknown_fields = 3;
    Strata__K8s__ContainerPart *containers[] = {&c};
    Strata__K8s__PodSpecPart pod = STRATA__K8S__POD_SPEC_PART__INIT;
    pod.containers = containers;
    pod.n_containers = 1;
    pod.restart_policy = "Always";
    pod.has_termination_grace_period_seconds = 1;
    pod.termination_grace_period_seconds = 5;
    Strata__K8s__Meta tmeta = meta("", labels, 1);
    Strata__K8s__PodTemplatePart tmpl = STRATA__K8S__POD_TEMPLATE_PART__INIT;
    tmpl.metadata = &tmeta;
    tmpl.spec = &pod;
    Strata__K8s__Selector sel = STRATA__K8S__SELECTOR__INIT;
    sel.match_labels = labels;
    sel.n_match_labels = 1;
    Strata__K8s__PortOrName surge = STRATA__K8S__PORT_OR_NAME__INIT;
    surge.has_number = 1;
    surge.number = 1;
    Strata__K8s__PortOrName unavailable = STRATA__K8S__PORT_OR_NAME__INIT;
    unavailable.has_number = 1;
    unavailable.number = 0;
    Strata__K8s__RollingPart rolling = STRATA__K8S__ROLLING_PART__INIT;
    rolling.max_surge = &surge;
    rolling.max_unavailable = &unavailable;
    Strata__K8s__StrategyPart strategy = STRATA__K8S__STRATEGY_PART__INIT;
    strategy.type = "RollingUpdate";
    strategy.rolling_update = &rolling;
    Strata__K8s__DeploymentSpecPart spec = STRATA__K8S__DEPLOYMENT_SPEC_PART__INIT;
    spec.has_replicas = 1;
    spec.replicas = 2;
    spec.selector = &sel;
    spec.template_ = &tmpl;
    spec.strategy = &strategy;
    Strata__K8s__DeploymentObject d = STRATA__K8S__DEPLOYMENT_OBJECT__INIT;
    Strata__K8s__Meta md = meta("web", labels, 1);
    d.metadata = &md;
    d.spec = &spec;
    size_t len;
    char *body = wrap("apps/v1", "Deployment", &d.base, &len);
    json_t *warnings = NULL;
    assert_int_equal(
        send_proto(fs, "POST",
                   "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", body, len,
                   NULL, &warnings),
        201);
    free(body);
    assert_int_equal(json_array_size(warnings), 1);
    assert_contains(json_string_value(json_array_get(warnings, 0)),
                    "spec.template.spec.containers[0]: protobuf field 16 is not read by Strata");
    json_decref(warnings);

    json_t *got = fake_server_get(fs, "Deployment", "default", "web");
    assert_non_null(got);
    assert_int_equal(json_integer_value(at(got, "spec.replicas")), 2);
    assert_string_equal(str_at(got, "spec.selector.matchLabels.app"), "web");
    assert_string_equal(str_at(got, "spec.template.metadata.labels.app"), "web");
    json_t *ct = at(got, "spec.template.spec.containers");
    assert_string_equal(str_at(ct, "image"), "busybox");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ct, "command"), 1)),
                        "1000");
    assert_int_equal(json_integer_value(at(ct, "ports.containerPort")), 8080);
    json_t *envs = json_object_get(ct, "env");
    assert_int_equal(json_array_size(envs), 2);
    assert_string_equal(str_at(json_array_get(envs, 0), "value"), "1");
    assert_string_equal(str_at(json_array_get(envs, 1), "valueFrom.secretKeyRef.name"), "s1");
    assert_string_equal(str_at(json_array_get(envs, 1), "valueFrom.secretKeyRef.key"), "a");
    assert_string_equal(str_at(ct, "resources.limits.cpu"), "500m");
    assert_int_equal(json_integer_value(at(ct, "readinessProbe.tcpSocket.port")), 8080);
    assert_int_equal(json_integer_value(at(ct, "readinessProbe.periodSeconds")), 5);
    assert_string_equal(str_at(ct, "imagePullPolicy"), "IfNotPresent");
    assert_int_equal(
        json_integer_value(at(got, "spec.template.spec.terminationGracePeriodSeconds")), 5);
    assert_string_equal(str_at(got, "spec.strategy.type"), "RollingUpdate");
    assert_int_equal(json_integer_value(at(got, "spec.strategy.rollingUpdate.maxSurge")), 1);
    json_decref(got);
}

static void test_service_and_pod(void **state)
{
    struct fake_server *fs = *state;
    Strata__K8s__StringPair app = pair("app", "web");
    Strata__K8s__StringPair *selector[] = {&app};
    Strata__K8s__PortOrName target = STRATA__K8S__PORT_OR_NAME__INIT;
    target.has_type = 1;
    target.has_number = 1;
    target.number = 8080;
    target.name = "";
    Strata__K8s__ServicePortPart port = STRATA__K8S__SERVICE_PORT_PART__INIT;
    port.name = "80-8080";
    port.protocol = "TCP";
    port.has_port = 1;
    port.port = 80;
    port.target_port = &target;
    port.has_node_port = 1; /* zero: no node port */
    Strata__K8s__ServicePortPart *ports[] = {&port};
    Strata__K8s__ServiceSpecPart spec = STRATA__K8S__SERVICE_SPEC_PART__INIT;
    spec.ports = ports;
    spec.n_ports = 1;
    spec.selector = selector;
    spec.n_selector = 1;
    spec.type = "ClusterIP";
    spec.cluster_ip = "";
    Strata__K8s__ServiceObject svc = STRATA__K8S__SERVICE_OBJECT__INIT;
    Strata__K8s__Meta md = meta("web", selector, 1);
    svc.metadata = &md;
    svc.spec = &spec;
    size_t len;
    char *body = wrap("v1", "Service", &svc.base, &len);
    json_t *warnings = NULL;
    assert_int_equal(
        send_proto(fs, "POST", "/api/v1/namespaces/default/services", body, len, NULL, &warnings),
        201);
    free(body);
    assert_int_equal(json_array_size(warnings), 0);
    json_decref(warnings);
    json_t *got = fake_server_get(fs, "Service", "default", "web");
    assert_non_null(got);
    assert_string_equal(str_at(got, "spec.type"), "ClusterIP");
    assert_string_equal(str_at(got, "spec.selector.app"), "web");
    assert_string_equal(str_at(got, "spec.ports.name"), "80-8080");
    assert_int_equal(json_integer_value(at(got, "spec.ports.port")), 80);
    assert_int_equal(json_integer_value(at(got, "spec.ports.targetPort")), 8080);
    assert_null(at(got, "spec.ports.nodePort"));
    json_decref(got);

    /* a Pod, with a named target port style IntOrString in its probe */
    Strata__K8s__PortOrName named = STRATA__K8S__PORT_OR_NAME__INIT;
    named.has_type = 1;
    named.type = 1;
    named.name = "http";
    Strata__K8s__HttpGetPart get = STRATA__K8S__HTTP_GET_PART__INIT;
    get.path = "/healthz";
    get.port = &named;
    Strata__K8s__ProbeActionPart action = STRATA__K8S__PROBE_ACTION_PART__INIT;
    action.http_get = &get;
    Strata__K8s__ProbePart probe = STRATA__K8S__PROBE_PART__INIT;
    probe.action = &action;
    Strata__K8s__ContainerPortPart cport = STRATA__K8S__CONTAINER_PORT_PART__INIT;
    cport.name = "http";
    cport.has_container_port = 1;
    cport.container_port = 8080;
    Strata__K8s__ContainerPortPart *cports[] = {&cport};
    char *args[] = {"sleep", "1000"};
    Strata__K8s__ContainerPart c = STRATA__K8S__CONTAINER_PART__INIT;
    c.name = "p1";
    c.image = "busybox";
    c.args = args;
    c.n_args = 2;
    c.ports = cports;
    c.n_ports = 1;
    c.liveness_probe = &probe;
    Strata__K8s__ContainerPart *containers[] = {&c};
    Strata__K8s__PodSpecPart ps = STRATA__K8S__POD_SPEC_PART__INIT;
    ps.containers = containers;
    ps.n_containers = 1;
    Strata__K8s__PodObject pod = STRATA__K8S__POD_OBJECT__INIT;
    Strata__K8s__Meta pmd = meta("p1", NULL, 0);
    pod.metadata = &pmd;
    pod.spec = &ps;
    body = wrap("v1", "Pod", &pod.base, &len);
    assert_int_equal(
        send_proto(fs, "POST", "/api/v1/namespaces/default/pods", body, len, NULL, NULL), 201);
    free(body);
    got = fake_server_get(fs, "Pod", "default", "p1");
    assert_non_null(got);
    json_t *ct = at(got, "spec.containers");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ct, "args"), 0)), "sleep");
    assert_string_equal(str_at(ct, "livenessProbe.httpGet.port"), "http");
    assert_string_equal(str_at(ct, "livenessProbe.httpGet.path"), "/healthz");
    json_decref(got);

    /* kubectl drain's eviction of it */
    Strata__K8s__DeleteOptionsPart opts = STRATA__K8S__DELETE_OPTIONS_PART__INIT;
    opts.has_grace_period_seconds = 1;
    opts.grace_period_seconds = 0;
    Strata__K8s__EvictionObject ev = STRATA__K8S__EVICTION_OBJECT__INIT;
    Strata__K8s__Meta emd = meta("p1", NULL, 0);
    emd.namespace_ = "default";
    ev.metadata = &emd;
    ev.delete_options = &opts;
    body = wrap("policy/v1", "Eviction", &ev.base, &len);
    assert_int_equal(send_proto(fs, "POST", "/api/v1/namespaces/default/pods/p1/eviction", body,
                                len, NULL, NULL),
                     201);
    free(body);
}

static void test_bad_bodies(void **state)
{
    struct fake_server *fs = *state;
    json_t *reply = NULL;
    /* not protobuf at all */
    assert_int_equal(
        send_proto(fs, "POST", "/api/v1/namespaces", "{\"kind\":\"Namespace\"}", 0, &reply, NULL),
        400);
    assert_contains(message_of(reply), "does not start with \"k8s\\0\"");
    json_decref(reply);

    /* the magic, then garbage */
    assert_int_equal(
        send_proto(fs, "POST", "/api/v1/namespaces", "k8s\0\xff\xff\xff", 7, &reply, NULL), 400);
    assert_contains(message_of(reply), "cannot be read");
    json_decref(reply);

    /* a Namespace cut short: the envelope's raw bytes run past the end */
    Strata__K8s__NamespaceObject ns = STRATA__K8S__NAMESPACE_OBJECT__INIT;
    Strata__K8s__Meta md = meta("cut", NULL, 0);
    ns.metadata = &md;
    size_t len;
    char *body = wrap("v1", "Namespace", &ns.base, &len);
    /* (the envelope ends with its two empty strings, 4 bytes: 6 cut into raw) */
    assert_int_equal(send_proto(fs, "POST", "/api/v1/namespaces", body, len - 6, &reply, NULL),
                     400);
    assert_contains(message_of(reply), "cannot be read");
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "BadRequest");
    json_decref(reply);
    assert_null(fake_server_get(fs, "Namespace", "", "cut"));

    /* a kind Strata does not read as protobuf */
    char *cm = wrap("v1", "ConfigMap", &ns.base, &len);
    assert_int_equal(
        send_proto(fs, "POST", "/api/v1/namespaces/default/configmaps", cm, len, &reply, NULL),
        415);
    assert_string_equal(message_of(reply), "kubectl sent a ConfigMap of v1 as protobuf, which "
                                           "Strata does not read; use kubectl apply -f");
    assert_string_equal(json_string_value(json_object_get(reply, "reason")),
                        "UnsupportedMediaType");
    json_decref(reply);
    free(cm);

    /* a patch is never protobuf */
    assert_int_equal(send_proto(fs, "PATCH", "/api/v1/namespaces/default", body, len, &reply, NULL),
                     415);
    assert_contains(message_of(reply), "send application/json");
    json_decref(reply);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_namespace_create_and_replace, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_secret_bytes_become_base64, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_deployment_fields, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_service_and_pod, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_bodies, fake_server_setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
