/* test_manifest.c: reading Kubernetes manifests: every field read and
 * defaulted, every error class with its exact FILE:LINE:COLUMN, warnings for
 * ignored Kubernetes fields, several documents per file, the examples. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/manifest.h"
#include "strata/podspec.h"
#include "testutil.h"

/* Lines 1-8; a container field appended on line 9 starts at column 7. */
#define POD_HEAD                                                                                   \
    "apiVersion: v1\n"                                                                             \
    "kind: Pod\n"                                                                                  \
    "metadata:\n"                                                                                  \
    "  name: p\n"                                                                                  \
    "spec:\n"                                                                                      \
    "  containers:\n"                                                                              \
    "    - name: c\n"                                                                              \
    "      image: busybox\n"

/* Lines 1-16; a spec field appended on line 17 starts at column 3. */
#define DEPLOY_HEAD(app)                                                                           \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: d\n"                                                                                  \
    "spec:\n"                                                                                      \
    "  selector:\n"                                                                                \
    "    matchLabels:\n"                                                                           \
    "      app: d\n"                                                                               \
    "  template:\n"                                                                                \
    "    metadata:\n"                                                                              \
    "      labels:\n"                                                                              \
    "        app: " app "\n"                                                                       \
    "    spec:\n"                                                                                  \
    "      containers:\n"                                                                          \
    "        - name: c\n"                                                                          \
    "          image: busybox\n"

struct parsed {
    int r;
    json_t *objects;
    struct st_manifest_diag *diags;
    st_error err;
};

static struct parsed parse(const char *text)
{
    struct parsed p = {0};
    p.r = st_manifest_parse_string("t.yaml", text, strlen(text), &p.objects, &p.diags, &p.err);
    return p;
}

static void parsed_free(struct parsed *p)
{
    json_decref(p->objects);
    st_manifest_diag_free(p->diags);
}

/* "0.spec.containers.0.name": object keys and array indexes. */
static json_t *jget(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = root;
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg && v;
         seg = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v))
            v = json_array_get(v, strtoul(seg, NULL, 10));
        else
            v = json_object_get(v, seg);
    }
    return v;
}

struct expect {
    const char *path;
    const char *json; /* NULL: the path must be absent */
};

static void check_values(json_t *objects, const struct expect *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *got = jget(objects, cases[i].path);
        if (cases[i].json == NULL) {
            if (got != NULL)
                fail_msg("%s: expected absent, got %s", cases[i].path,
                         json_dumps(got, JSON_ENCODE_ANY));
            continue;
        }
        json_t *want = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(want);
        if (!json_equal(got, want)) {
            char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            fail_msg("%s: expected %s, got %s", cases[i].path, cases[i].json, g ? g : "(absent)");
        }
        json_decref(want);
    }
}

/* The fields the image store and the node act on are kept as written. */
static void test_image_fields(void **state)
{
    (void)state;
    struct parsed p = parse(POD_HEAD "      imagePullPolicy: Never\n"
                                     "      workingDir: /srv\n"
                                     "      securityContext: {runAsUser: 1000, runAsGroup: 50,"
                                     " allowPrivilegeEscalation: false}\n"
                                     "  securityContext: {runAsUser: 7}\n"
                                     "  imagePullSecrets: [{name: regcred}]\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.spec.containers.0.imagePullPolicy", "\"Never\""},
        {"0.spec.containers.0.workingDir", "\"/srv\""},
        {"0.spec.containers.0.securityContext.runAsUser", "1000"},
        {"0.spec.containers.0.securityContext.runAsGroup", "50"},
        {"0.spec.containers.0.securityContext.allowPrivilegeEscalation", "false"},
        {"0.spec.securityContext.runAsUser", "7"},
        {"0.spec.imagePullSecrets", "[{\"name\": \"regcred\"}]"},
    };
    check_values(p.objects, cases, sizeof(cases) / sizeof(cases[0]));
    assert_null(p.diags);
    parsed_free(&p);
}

static void test_defaults(void **state)
{
    (void)state;
    struct parsed p = parse(POD_HEAD "---\n" DEPLOY_HEAD("d"));
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.metadata.namespace", "\"default\""},
        {"0.metadata.labels", NULL},
        {"0.spec.restartPolicy", "\"Always\""},
        {"0.spec.terminationGracePeriodSeconds", "30"},
        {"0.spec.securityContext", "{\"seccompProfile\": {\"type\": \"RuntimeDefault\"}}"},
        {"0.spec.containers.0.resources",
         "{\"strataNormalized\": {\"cpuRequestMillis\": 0, \"memoryRequestBytes\": 0, "
         "\"cpuLimitMillis\": 0, \"memoryLimitBytes\": 0}}"},
        {"0.spec.containers.0.command", NULL},
        {"0.spec.containers.0.livenessProbe", NULL},
        {"1.spec.replicas", "1"},
        {"1.spec.strategy",
         "{\"type\": \"RollingUpdate\", \"rollingUpdate\": {\"maxUnavailable\": 0, "
         "\"maxSurge\": 1}}"},
        {"1.spec.template.spec.restartPolicy", "\"Always\""},
        {"1.spec.template.spec.terminationGracePeriodSeconds", "30"},
        {"1.metadata.namespace", "\"default\""},
    };
    check_values(p.objects, cases, sizeof(cases) / sizeof(cases[0]));
    assert_null(p.diags);
    parsed_free(&p);
}

static void test_fields_read(void **state)
{
    (void)state;
    struct parsed p = parse("apiVersion: v1\n"
                            "kind: Pod\n"
                            "metadata:\n"
                            "  name: full\n"
                            "  namespace: team-a\n"
                            "  labels: {app: full, example.com/tier: back-end}\n"
                            "  annotations: {note: \"any text: at all\"}\n"
                            "spec:\n"
                            "  restartPolicy: Never\n"
                            "  terminationGracePeriodSeconds: 0\n"
                            "  securityContext: {seccompProfile: {type: Unconfined}}\n"
                            "  containers:\n"
                            "    - name: app\n"
                            "      image: registry.local/app:1.2\n"
                            "      command: [/bin/app, --serve]\n"
                            "      args: ['8080', \"true\"]\n"
                            "      env:\n"
                            "        - {name: PLAIN, value: text}\n"
                            "        - name: FROM_SECRET\n"
                            "          valueFrom:\n"
                            "            secretKeyRef: {name: creds, key: pass, optional: true}\n"
                            "      ports:\n"
                            "        - {containerPort: 8080, name: http}\n"
                            "        - {containerPort: 53, protocol: UDP}\n"
                            "      resources:\n"
                            "        requests: {cpu: 0.1, memory: 100Mi}\n"
                            "        limits: {cpu: 1, memory: 1Gi}\n"
                            "      securityContext: {seccompProfile: {type: RuntimeDefault}}\n"
                            "      livenessProbe:\n"
                            "        exec: {command: [cat, /tmp/ok]}\n"
                            "        initialDelaySeconds: 5\n"
                            "        periodSeconds: 7\n"
                            "        timeoutSeconds: 2\n"
                            "        failureThreshold: 4\n"
                            "      readinessProbe:\n"
                            "        httpGet:\n"
                            "          port: http\n"
                            "          host: 127.0.0.1\n"
                            "          httpHeaders: [{name: X-Probe, value: yes-really}]\n"
                            "        successThreshold: 2\n"
                            "      startupProbe:\n"
                            "        tcpSocket: {port: 8080, host: localhost}\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.metadata.namespace", "\"team-a\""},
        {"0.metadata.labels", "{\"app\": \"full\", \"example.com/tier\": \"back-end\"}"},
        {"0.metadata.annotations.note", "\"any text: at all\""},
        {"0.spec.restartPolicy", "\"Never\""},
        {"0.spec.terminationGracePeriodSeconds", "0"},
        {"0.spec.securityContext.seccompProfile.type", "\"Unconfined\""},
        {"0.spec.containers.0.image", "\"registry.local/app:1.2\""},
        {"0.spec.containers.0.command", "[\"/bin/app\", \"--serve\"]"},
        {"0.spec.containers.0.args", "[\"8080\", \"true\"]"},
        {"0.spec.containers.0.env.0", "{\"name\": \"PLAIN\", \"value\": \"text\"}"},
        {"0.spec.containers.0.env.1.valueFrom.secretKeyRef",
         "{\"name\": \"creds\", \"key\": \"pass\", \"optional\": true}"},
        {"0.spec.containers.0.ports.0",
         "{\"containerPort\": 8080, \"name\": \"http\", \"protocol\": \"TCP\"}"},
        {"0.spec.containers.0.ports.1.protocol", "\"UDP\""},
        {"0.spec.containers.0.resources.requests", "{\"cpu\": \"0.1\", \"memory\": \"100Mi\"}"},
        {"0.spec.containers.0.resources.limits", "{\"cpu\": \"1\", \"memory\": \"1Gi\"}"},
        {"0.spec.containers.0.resources.strataNormalized",
         "{\"cpuRequestMillis\": 100, \"memoryRequestBytes\": 104857600, \"cpuLimitMillis\": "
         "1000, \"memoryLimitBytes\": 1073741824}"},
        {"0.spec.containers.0.securityContext.seccompProfile.type", "\"RuntimeDefault\""},
        {"0.spec.containers.0.livenessProbe",
         "{\"exec\": {\"command\": [\"cat\", \"/tmp/ok\"]}, \"initialDelaySeconds\": 5, "
         "\"periodSeconds\": 7, \"timeoutSeconds\": 2, \"failureThreshold\": 4, "
         "\"successThreshold\": 1}"},
        {"0.spec.containers.0.readinessProbe.httpGet",
         "{\"port\": \"http\", \"host\": \"127.0.0.1\", \"path\": \"/\", \"scheme\": \"HTTP\", "
         "\"httpHeaders\": [{\"name\": \"X-Probe\", \"value\": \"yes-really\"}]}"},
        {"0.spec.containers.0.readinessProbe.successThreshold", "2"},
        {"0.spec.containers.0.readinessProbe.periodSeconds", "10"},
        {"0.spec.containers.0.readinessProbe.timeoutSeconds", "1"},
        {"0.spec.containers.0.readinessProbe.failureThreshold", "3"},
        {"0.spec.containers.0.readinessProbe.initialDelaySeconds", "0"},
        {"0.spec.containers.0.startupProbe.tcpSocket", "{\"port\": 8080, \"host\": \"localhost\"}"},
    };
    check_values(p.objects, cases, sizeof(cases) / sizeof(cases[0]));
    assert_null(p.diags);

    int64_t cpu = -1, mem = -1;
    st_error err = {0};
    json_t *spec = jget(p.objects, "0.spec");
    assert_int_equal(st_pod_requests(spec, &cpu, &mem, &err), 0);
    assert_int_equal(cpu, 100);
    assert_int_equal(mem, 104857600);
    assert_int_equal(st_container_limits(jget(spec, "containers.0"), &cpu, &mem, &err), 0);
    assert_int_equal(cpu, 1000);
    assert_int_equal(mem, 1073741824);
    parsed_free(&p);
}

/* Requests default to limits, per resource, as Kubernetes does; the
 * helpers also work on objects that never went through the reader. */
static void test_requests_default_to_limits(void **state)
{
    (void)state;
    struct parsed p = parse(POD_HEAD "      resources:\n"
                                     "        requests: {cpu: 50m}\n"
                                     "        limits: {cpu: 200m, memory: 64Mi}\n"
                                     "    - name: d\n"
                                     "      image: busybox\n"
                                     "      resources: {limits: {memory: 1Mi}}\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.spec.containers.0.resources.requests", "{\"cpu\": \"50m\", \"memory\": \"64Mi\"}"},
        {"0.spec.containers.1.resources.requests", "{\"memory\": \"1Mi\"}"},
    };
    check_values(p.objects, cases, 2);
    int64_t cpu = -1, mem = -1;
    st_error err = {0};
    assert_int_equal(st_pod_requests(jget(p.objects, "0.spec"), &cpu, &mem, &err), 0);
    assert_int_equal(cpu, 50);
    assert_int_equal(mem, 64 * 1048576 + 1048576);
    parsed_free(&p);

    json_t *raw = json_loads("{\"containers\": [{\"resources\": {\"limits\": {\"cpu\": \"1.5\"}}},"
                             " {\"resources\": {\"requests\": {\"memory\": \"1Ki\"}}}]}",
                             0, NULL);
    assert_int_equal(st_pod_requests(raw, &cpu, &mem, &err), 0);
    assert_int_equal(cpu, 1500);
    assert_int_equal(mem, 1024);
    json_decref(raw);
    raw =
        json_loads("{\"containers\": [{\"resources\": {\"limits\": {\"cpu\": \"1x\"}}}]}", 0, NULL);
    assert_int_equal(st_pod_requests(raw, &cpu, &mem, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "containers[0]"));
    json_decref(raw);
}

struct error_case {
    const char *what;
    const char *text;
    const char *first; /* the first error line starts with this */
};

static const struct error_case error_cases[] = {
    {"unknown field", POD_HEAD "      imagePullPolicyy: Always\n",
     "t.yaml:9:7: unknown field \"spec.containers[0].imagePullPolicyy\""},
    {"wrong type", DEPLOY_HEAD("d") "  replicas:\n    a: 1\n",
     "t.yaml:18:5: spec.replicas: expected an integer, got a mapping"},
    {"quoted integer", DEPLOY_HEAD("d") "  replicas: \"3\"\n",
     "t.yaml:17:13: spec.replicas: expected an integer, got a string"},
    {"negative replicas", DEPLOY_HEAD("d") "  replicas: -1\n",
     "t.yaml:17:13: spec.replicas: must be greater than or equal to 0, got -1"},
    {"float integer", DEPLOY_HEAD("d") "  replicas: 1.5\n",
     "t.yaml:17:13: spec.replicas: expected an integer, got a float"},
    {"bad quantity", POD_HEAD "      resources:\n        limits:\n          memory: 12Q\n",
     "t.yaml:11:19: spec.containers[0].resources.limits.memory: invalid quantity \"12Q\": "
     "unknown suffix"},
    {"negative quantity", POD_HEAD "      resources: {requests: {cpu: -1}}\n",
     "t.yaml:9:35: spec.containers[0].resources.requests.cpu: invalid quantity \"-1\": it must "
     "not be negative"},
    {"unknown resource", POD_HEAD "      resources: {limits: {gpu: 1}}\n",
     "t.yaml:9:28: unknown field \"spec.containers[0].resources.limits.gpu\""},
    {"bad name", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Web_1\n",
     "t.yaml:4:9: metadata.name: \"Web_1\" is not a valid name: use at most 63 lowercase"},
    {"long name",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: "
     "a234567890123456789012345678901234567890123456789012345678901234\n",
     "t.yaml:4:9: metadata.name: \"a2345678"},
    {"bad container name", POD_HEAD "    - name: -x\n      image: i\n",
     "t.yaml:9:13: spec.containers[1].name: \"-x\" is not a valid name"},
    {"missing image",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n",
     "t.yaml:7:7: missing required field \"spec.containers[0].image\""},
    {"empty image", POD_HEAD "    - name: e\n      image: \"\"\n",
     "t.yaml:10:14: spec.containers[1].image must not be empty"},
    {"null name", "apiVersion: v1\nkind: Pod\nmetadata:\n  name:\nspec: {containers: []}\n",
     "t.yaml:4:8: metadata.name is required and must not be null"},
    {"missing metadata", "apiVersion: v1\nkind: Secret\n",
     "t.yaml:1:1: missing required field \"metadata\""},
    {"missing kind", "apiVersion: v1\nmetadata: {name: x}\n",
     "t.yaml:1:1: missing required field \"kind\""},
    {"unknown kind", "apiVersion: v1\nkind: ConfigMap\n",
     "t.yaml:2:7: kind \"ConfigMap\" is not supported by Strata"},
    {"wrong apiVersion", "apiVersion: v1\nkind: Deployment\n",
     "t.yaml:1:13: apiVersion \"v1\" does not serve kind Deployment: use apps/v1"},
    {"selector mismatch", DEPLOY_HEAD("e"),
     "t.yaml:12:9: spec.selector.matchLabels does not match spec.template.metadata.labels"},
    {"limits below requests",
     POD_HEAD "      resources:\n        requests: {cpu: 500m}\n        limits: {cpu: 250m}\n",
     "t.yaml:10:25: spec.containers[0].resources.requests.cpu: 500m must be less than or equal "
     "to the cpu limit 250m"},
    {"duplicate key", POD_HEAD "      image: nginx\n",
     "t.yaml:9:7: duplicate field \"spec.containers[0].image\" (first set on line 8)"},
    {"duplicate label", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: b, a: c}\n",
     "t.yaml:5:18: metadata.labels.a: duplicate key"},
    {"env value not a string", POD_HEAD "      env:\n        - name: A\n          value: 8080\n",
     "t.yaml:11:18: spec.containers[0].env[0].value: expected a string, got an integer"},
    {"label value boolean",
     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    on: yes\n",
     "t.yaml:6:9: metadata.labels.on: expected a string, got a boolean"},
    {"bad label key", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {\"a b\": c}\n",
     "t.yaml:5:12: metadata.labels: key \"a b\" is not valid"},
    {"bad label value", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {a: -b}\n",
     "t.yaml:5:15: metadata.labels.a: value \"-b\" is not valid"},
    {"bad enum", POD_HEAD "  restartPolicy: Sometimes\n",
     "t.yaml:9:18: spec.restartPolicy: unsupported value \"Sometimes\": use one of Always, "
     "OnFailure, Never"},
    {"bad pull policy", POD_HEAD "      imagePullPolicy: Sometimes\n",
     "t.yaml:9:24: spec.containers[0].imagePullPolicy: unsupported value \"Sometimes\": use one "
     "of Always, IfNotPresent, Never"},
    {"negative uid", POD_HEAD "      securityContext: {runAsUser: -1}\n",
     "t.yaml:9:36: spec.containers[0].securityContext.runAsUser: must be greater than or equal "
     "to 0, got -1"},
    {"deployment restartPolicy", DEPLOY_HEAD("d") "      restartPolicy: Never\n",
     "t.yaml:17:22: spec.template.spec.restartPolicy: unsupported value \"Never\": a Deployment "
     "only allows Always"},
    {"liveness successThreshold",
     POD_HEAD
     "      livenessProbe:\n        exec: {command: [check]}\n        successThreshold: 2\n",
     "t.yaml:11:27: spec.containers[0].livenessProbe.successThreshold: must be 1 for liveness "
     "and startup probes"},
    {"two handlers",
     POD_HEAD "      readinessProbe:\n        exec: {command: [x]}\n        tcpSocket: {port: 1}\n",
     "t.yaml:11:9: spec.containers[0].readinessProbe: may specify only one handler"},
    {"no handler", POD_HEAD "      readinessProbe:\n        periodSeconds: 3\n",
     "t.yaml:10:9: spec.containers[0].readinessProbe: must specify a handler"},
    {"bad probe port", POD_HEAD "      readinessProbe:\n        tcpSocket: {port: 70000}\n",
     "t.yaml:10:27: spec.containers[0].readinessProbe.tcpSocket.port: must be between 1 and "
     "65535, got 70000"},
    {"bad named port", POD_HEAD "      readinessProbe:\n        httpGet: {port: \"8080\"}\n",
     "t.yaml:10:25: spec.containers[0].readinessProbe.httpGet.port: \"8080\" is not a valid port "
     "name"},
    {"duplicate container", POD_HEAD "    - name: c\n      image: busybox\n",
     "t.yaml:9:13: spec.containers[1].name: duplicate container name \"c\""},
    {"no containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: []\n",
     "t.yaml:5:15: spec.containers must have at least one entry"},
    {"container port range", POD_HEAD "      ports: [{containerPort: 0}]\n",
     "t.yaml:9:31: spec.containers[0].ports[0].containerPort: must be between 1 and 65535, got 0"},
    {"bad boolean",
     POD_HEAD "      env:\n        - name: A\n          valueFrom:\n            secretKeyRef: "
              "{name: s, key: k, optional: maybe}\n",
     "t.yaml:12:55: spec.containers[0].env[0].valueFrom.secretKeyRef.optional: expected a "
     "boolean (true or false), got a string"},
    {"value and valueFrom",
     POD_HEAD "      env:\n        - name: A\n          value: x\n          valueFrom: "
              "{secretKeyRef: {name: s, key: k}}\n",
     "t.yaml:12:11: spec.containers[0].env[0]: set either value or valueFrom, not both"},
    {"not a mapping", "- a\n- b\n",
     "t.yaml:1:1: expected a mapping (a Kubernetes object), got a sequence"},
    {"alias", POD_HEAD "      command: &cmd [a]\n      args: *cmd\n",
     "t.yaml:9:16: spec.containers[0].args: YAML aliases (*name) are not supported"},
    {"yaml syntax", "apiVersion: v1\nkind: [Pod\n", "t.yaml:3:1: invalid YAML: "},
    {"secret base64",
     "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: \"not base64!\"\n",
     "t.yaml:5:6: data.a: the value is not valid base64"},
    {"secret base64 padding", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: YQ}\n",
     "t.yaml:4:11: data.a: the value is not valid base64"},
    {"secret key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {\"a/b\": x}\n",
     "t.yaml:4:14: stringData: \"a/b\" is not a valid secret key"},
    {"empty selector",
     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: "
     "{matchLabels: {}}\n  template: {spec: {containers: [{name: c, image: i}]}}\n",
     "t.yaml:5:27: spec.selector.matchLabels must not be empty"},
};

static void test_errors(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        struct parsed p = parse(c->text);
        if (p.r != -EINVAL || p.objects != NULL)
            fail_msg("%s: expected -EINVAL, got %d", c->what, p.r);
        if (strncmp(p.err.msg, c->first, strlen(c->first)) != 0) {
            print_error("%s:\n  want: %s\n  got:  %s\n", c->what, c->first, p.err.msg);
            failures++;
        }
        const struct st_manifest_diag *d = p.diags;
        while (d && !d->is_error)
            d = d->next;
        if (d == NULL || strncmp(d->text, p.err.msg, strlen(d->text)) != 0) {
            print_error("%s: the first error diagnostic differs: %s\n", c->what,
                        d ? d->text : "none");
            failures++;
        }
        parsed_free(&p);
    }
    assert_int_equal(failures, 0);
}

struct warn_case {
    const char *text;
    const char *warning;
    const char *dropped; /* path that must not be in the result */
};

static const struct warn_case warn_cases[] = {
    {POD_HEAD "      volumeMounts: []\n",
     "t.yaml:9:7: warning: spec.containers[0].volumeMounts is not implemented by Strata and "
     "is ignored",
     "0.spec.containers.0.volumeMounts"},
    {POD_HEAD "  nodeSelector: {disk: ssd}\n",
     "t.yaml:9:3: warning: spec.nodeSelector is not implemented by Strata and is ignored",
     "0.spec.nodeSelector"},
    {POD_HEAD "      ports: [{containerPort: 80, hostPort: 8080}]\n",
     "t.yaml:9:35: warning: spec.containers[0].ports[0].hostPort is not implemented by Strata "
     "and is ignored",
     "0.spec.containers.0.ports.0.hostPort"},
    {DEPLOY_HEAD("d") "  strategy:\n    rollingUpdate: {maxSurge: 25%}\n",
     "t.yaml:18:31: warning: spec.strategy.rollingUpdate.maxSurge: only 1 is implemented by "
     "Strata; 25% is ignored",
     NULL},
    {DEPLOY_HEAD("d") "  strategy: {type: Recreate}\n",
     "t.yaml:17:20: warning: spec.strategy.type: Recreate is not implemented by Strata", NULL},
    {DEPLOY_HEAD("d") "  revisionHistoryLimit: 3\nstatus: {}\n",
     "t.yaml:17:3: warning: spec.revisionHistoryLimit is not implemented by Strata and is "
     "ignored",
     "0.status"},
};

static void test_warnings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(warn_cases) / sizeof(warn_cases[0]); i++) {
        const struct warn_case *c = &warn_cases[i];
        struct parsed p = parse(c->text);
        if (p.r != 0)
            fail_msg("case %zu: %s", i, p.err.msg);
        assert_non_null(p.diags);
        assert_false(p.diags->is_error);
        if (strncmp(p.diags->text, c->warning, strlen(c->warning)) != 0)
            fail_msg("case %zu:\n  want: %s\n  got:  %s", i, c->warning, p.diags->text);
        if (c->dropped)
            assert_null(jget(p.objects, c->dropped));
        parsed_free(&p);
    }
}

static void test_multi_document(void **state)
{
    (void)state;
    struct parsed p = parse("---\n# only a comment\n---\n" POD_HEAD "---\n---\n"
                            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    assert_int_equal(json_array_size(p.objects), 2);
    assert_string_equal(json_string_value(jget(p.objects, "0.kind")), "Pod");
    assert_string_equal(json_string_value(jget(p.objects, "1.kind")), "Secret");
    parsed_free(&p);

    /* Errors are collected across documents, each at its own line. */
    p = parse(POD_HEAD "      bogus: 1\n---\n" POD_HEAD "  replicas: 2\n");
    assert_int_equal(p.r, -EINVAL);
    assert_null(p.objects);
    const char *want[] = {"t.yaml:9:7: unknown field \"spec.containers[0].bogus\"",
                          "t.yaml:19:3: unknown field \"spec.replicas\""};
    const struct st_manifest_diag *d = p.diags;
    for (size_t i = 0; i < 2; i++, d = d->next) {
        assert_non_null(d);
        assert_true(d->is_error);
        assert_string_equal(d->text, want[i]);
        assert_non_null(strstr(p.err.msg, want[i]));
    }
    assert_null(d);
    parsed_free(&p);

    /* An empty file is no objects, not an error. */
    p = parse("");
    assert_int_equal(p.r, 0);
    assert_int_equal(json_array_size(p.objects), 0);
    parsed_free(&p);
}

static void test_many_errors_capped(void **state)
{
    (void)state;
    char text[8192] = POD_HEAD;
    for (int i = 0; i < 30; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "      bad%d: 1\n", i);
    struct parsed p = parse(text);
    assert_int_equal(p.r, -EINVAL);
    int n = 0;
    for (const struct st_manifest_diag *d = p.diags; d; d = d->next)
        n++;
    assert_int_equal(n, 20);
    assert_non_null(strstr(p.err.msg, "more errors)"));
    parsed_free(&p);
}

static void test_secret(void **state)
{
    (void)state;
    struct parsed p = parse("apiVersion: v1\nkind: Secret\nmetadata: {name: db.creds}\n"
                            "data: {user: YWRtaW4=, pass: b2xk, empty: \"\"}\n"
                            "stringData: {pass: n3w, extra: \"two words\"}\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.type", "\"Opaque\""},
        {"0.data", "{\"user\": \"YWRtaW4=\", \"pass\": \"bjN3\", \"empty\": \"\", \"extra\": "
                   "\"dHdvIHdvcmRz\"}"},
        {"0.stringData", NULL},
        {"0.metadata.name", "\"db.creds\""},
    };
    check_values(p.objects, cases, sizeof(cases) / sizeof(cases[0]));
    parsed_free(&p);
}

/* A Secret whose data decodes to n bytes (base64 of zero bytes), plus
 * stringData (may be NULL). */
static char *big_secret(size_t n, const char *string_data)
{
    size_t quads = n / 3, rest = n % 3;
    size_t len = 200 + (quads + 1) * 4 + (string_data ? strlen(string_data) : 0);
    char *text = malloc(len);
    assert_non_null(text);
    int off = snprintf(text, len,
                       "apiVersion: v1\nkind: Secret\nmetadata: {name: big}\n%s%s"
                       "data:\n  blob: \"",
                       string_data ? "stringData: " : "", string_data ? string_data : "");
    for (size_t i = 0; i < quads; i++, off += 4)
        memcpy(text + off, "AAAA", 4);
    const char *tail = rest == 1 ? "AA==" : rest == 2 ? "AAA=" : "";
    snprintf(text + off, len - (size_t)off, "%s\"\n", tail);
    return text;
}

static void test_secret_size_limit(void **state)
{
    (void)state;
    /* Exactly 1 MiB is allowed, as in Kubernetes. */
    char *text = big_secret(1048576, NULL);
    struct parsed p = parse(text);
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    parsed_free(&p);
    free(text);
    /* One byte more is refused, at the field, with the figures. */
    text = big_secret(1048577, NULL);
    p = parse(text);
    assert_int_equal(p.r, -EINVAL);
    assert_string_equal(p.err.msg, "t.yaml:4:1: data: the Secret holds 1048577 bytes; a Secret may "
                                   "hold at most 1048576 bytes (1 MiB), as in Kubernetes: keep "
                                   "large files out of Secrets (put them in the image)");
    parsed_free(&p);
    free(text);
    /* stringData counts, and wins over data for the same key. */
    text = big_secret(1048576, "{blob: x}\n");
    p = parse(text);
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    parsed_free(&p);
    free(text);
    text = big_secret(1048576, "{more: x}\n");
    p = parse(text);
    assert_int_equal(p.r, -EINVAL);
    assert_non_null(strstr(p.err.msg, "1048577 bytes"));
    parsed_free(&p);
    free(text);
}

static void test_examples(void **state)
{
    (void)state;
    const char *src = st_test_env("STRATA_SOURCE_DIR");
    static const char *const files[] = {"deployment", "pod", "secret"};
    json_t *all = json_array();
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/configs/examples/%s.yaml", src, files[i]);
        json_t *objects = NULL;
        struct st_manifest_diag *diags = NULL;
        st_error err = {0};
        if (st_manifest_parse_file(path, &objects, &diags, &err) != 0)
            fail_msg("%s", err.msg);
        assert_null(diags);
        assert_int_equal(json_array_size(objects), 1);
        json_array_extend(all, objects);
        json_decref(objects);
    }
    static const struct expect cases[] = {
        {"0.spec.replicas", "3"},
        {"0.spec.template.spec.containers.0.env.1.valueFrom.secretKeyRef.name",
         "\"web-credentials\""},
        {"0.spec.template.spec.containers.0.readinessProbe.httpGet.port", "\"http\""},
        {"1.spec.restartPolicy", "\"OnFailure\""},
        {"1.spec.containers.0.resources.requests", "{\"cpu\": \"0.5\", \"memory\": \"32Mi\"}"},
        {"1.spec.containers.0.resources.strataNormalized.memoryRequestBytes", "33554432"},
        {"2.data.token", "\"czNjcjN0LXQwa2Vu\""},
    };
    check_values(all, cases, sizeof(cases) / sizeof(cases[0]));
    json_decref(all);

    json_t *objects = (json_t *)1;
    st_error err = {0};
    assert_int_equal(st_manifest_parse_file("/nonexistent/x.yaml", &objects, NULL, &err), -ENOENT);
    assert_null(objects);
    assert_non_null(strstr(err.msg, "/nonexistent/x.yaml"));
}

/* Fuzzing found these: a null value switched defaulting off (and a null
 * restartPolicy of a Deployment crashed the reader); a null reads as absent,
 * as Kubernetes reads it, in YAML and in JSON alike. */
static void test_null_reads_as_absent(void **state)
{
    (void)state;
    static const char *const texts[] = {
        DEPLOY_HEAD("d") "      restartPolicy:\n",
        DEPLOY_HEAD("d") "      restartPolicy: ~\n",
        "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"d\"},"
        " \"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"d\"}}, \"template\": "
        "{\"metadata\": {\"labels\": {\"app\": \"d\"}}, \"spec\": {\"restartPolicy\": null, "
        "\"containers\": [{\"name\": \"c\", \"image\": \"busybox\"}]}}}}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct parsed p = parse(texts[i]);
        if (p.r != 0)
            fail_msg("case %zu: %s", i, p.err.msg);
        static const struct expect cases[] = {
            {"0.spec.template.spec.restartPolicy", "\"Always\""},
        };
        check_values(p.objects, cases, 1);
        parsed_free(&p);
    }

    struct parsed p = parse("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ~\n"
                            "  labels: null\nspec:\n  securityContext:\n"
                            "  terminationGracePeriodSeconds: ~\n  containers:\n"
                            "    - name: c\n      image: busybox\n      resources: ~\n"
                            "      livenessProbe:\n        exec: {command: [x]}\n"
                            "        successThreshold:\n        periodSeconds: ~\n"
                            "      startupProbe:\n        tcpSocket: {port: 1}\n"
                            "        successThreshold: null\n      readinessProbe:\n"
                            "        httpGet: {port: 80, path: ~, scheme: ~}\n");
    if (p.r != 0)
        fail_msg("%s", p.err.msg);
    static const struct expect cases[] = {
        {"0.metadata.namespace", "\"default\""},
        {"0.metadata.labels", NULL},
        {"0.spec.restartPolicy", "\"Always\""},
        {"0.spec.terminationGracePeriodSeconds", "30"},
        {"0.spec.securityContext", "{\"seccompProfile\": {\"type\": \"RuntimeDefault\"}}"},
        {"0.spec.containers.0.resources.strataNormalized.memoryLimitBytes", "0"},
        {"0.spec.containers.0.livenessProbe.successThreshold", "1"},
        {"0.spec.containers.0.livenessProbe.periodSeconds", "10"},
        {"0.spec.containers.0.startupProbe.successThreshold", "1"},
        {"0.spec.containers.0.readinessProbe.httpGet.path", "\"/\""},
        {"0.spec.containers.0.readinessProbe.httpGet.scheme", "\"HTTP\""},
    };
    check_values(p.objects, cases, sizeof(cases) / sizeof(cases[0]));
    parsed_free(&p);

    /* A null field Strata does not implement asks for nothing: no warning. */
    p = parse(POD_HEAD "  nodeSelector: ~\n  tolerations:\n");
    assert_int_equal(p.r, 0);
    assert_null(p.diags);
    parsed_free(&p);

    /* A required field given as null is still an error, named as such. */
    p = parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
              "  selector: {matchLabels: {app: d}}\n  template: null\n");
    assert_int_equal(p.r, -EINVAL);
    assert_string_equal(p.err.msg, "t.yaml:6:13: spec.template is required and must not be null");
    parsed_free(&p);
}

/* A "\0" escape inside a key: refused, never read as the shorter key. */
static void test_nul_in_keys(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"label key",
         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: "
         "{\"app\\0evil\": x}\nspec: {containers: [{name: c, image: i}]}\n",
         "t.yaml:5:12: metadata.labels: a key contains a NUL character"},
        {"field name", "apiVersion: v1\n\"kind\\0x\": Secret\nkind: Secret\nmetadata: {name: s}\n",
         "t.yaml:2:1: a field name contains a NUL character"},
        {"field name first",
         "\"kind\\0x\": Pod\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
         "t.yaml:1:1: a field name contains a NUL character"},
        {"secret key",
         "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": "
         "\"s\"}, \"stringData\": {\"a\\u0000b\": \"x\"}}",
         "t.yaml:1:82: stringData: a key contains a NUL character"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct parsed p = parse(cases[i].text);
        if (p.r != -EINVAL || strncmp(p.err.msg, cases[i].first, strlen(cases[i].first)) != 0)
            fail_msg("%s:\n  want: %s\n  got:  %d %s", cases[i].what, cases[i].first, p.r,
                     p.err.msg);
        parsed_free(&p);
    }
}

/* DEL and the C1 controls reach a string only through an escape: YAML
 * text cannot carry them raw, but JSON writers write them raw, so an
 * object holding one could never be printed and read again (every later
 * patch of it would fail). A raw NEL is a line break to YAML and a
 * character to JSON. U+2028/U+2029 are kept as they are, but YAML strips
 * a space beside them. All refused; inputs the fuzzer's round trip found
 * (tests/fuzz/regress/manifest/). */
static void test_control_characters(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"DEL, JSON escape",
         "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
         "\"annotations\":{\"a\":\"x\\u007fy\"}}}",
         "t.yaml:1:78: metadata.annotations.a: the string contains the control character U+007F: "
         "remove it"},
        {"NEL, JSON escape",
         "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
         "\"annotations\":{\"a\":\"\\u0085\"}}}",
         "t.yaml:1:78: metadata.annotations.a: the string contains the control character U+0085"},
        {"C1 in an argument, YAML escape", POD_HEAD "      args: [\"\\x9b[2J\"]\n",
         "t.yaml:9:14: spec.containers[0].args[0]: the string contains the control character "
         "U+009B"},
        {"a space before a line separator, YAML escape", POD_HEAD "      args: [\"a \\L\"]\n",
         "t.yaml:9:14: spec.containers[0].args[0]: the string contains the line break U+2028 "
         "beside a space"},
        {"a space after a paragraph separator, JSON escape",
         "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\","
         "\"annotations\":{\"a\":\"\\u2029 b\"}}}",
         "t.yaml:1:78: metadata.annotations.a: the string contains the line break U+2029 beside "
         "a space"},
        {"raw NEL",
         "apiVersion: v1\nkind: Secret\nmetadata: {name: s, annotations: {a: \"x\xc2\x85y\"}}\n",
         "t.yaml:3:40: invalid YAML: the character U+0085 (NEL) is a line break in YAML but an "
         "ordinary character in JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct parsed p = parse(cases[i].text);
        if (p.r != -EINVAL || strncmp(p.err.msg, cases[i].first, strlen(cases[i].first)) != 0)
            fail_msg("%s:\n  want: %s\n  got:  %d %s", cases[i].what, cases[i].first, p.r,
                     p.err.msg);
        parsed_free(&p);
    }
}

/* What the reader accepts, printed as JSON the way the API prints it and
 * read again, is the same object: other Unicode (no-break space, line
 * separator, a C0 control by its escape) stays as it was. */
static void test_json_round_trip(void **state)
{
    (void)state;
    struct parsed p = parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: "
                            "{a: \"\\u00a0\\u2028\\u0001\\x7e\"}}\n"
                            "spec: {containers: [{name: c, image: i, args: [\"\\L\\P\\t\"]}]}\n");
    assert_int_equal(p.r, 0);
    char *text = json_dumps(json_array_get(p.objects, 0), JSON_COMPACT);
    assert_non_null(text);
    struct parsed again = parse(text);
    assert_int_equal(again.r, 0);
    assert_true(json_equal(p.objects, again.objects));
    free(text);
    parsed_free(&again);
    parsed_free(&p);
}

/* The reader's errors (invalid UTF-8, control characters) name the real
 * line and column, not 1:1. */
static void test_reader_error_position(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"invalid UTF-8", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xc3\xa9t\xff\n",
         "t.yaml:4:11: invalid YAML: invalid leading UTF-8 octet at byte 46"},
        {"CRLF lines", "apiVersion: v1\r\nkind: \x80\r\n",
         "t.yaml:2:7: invalid YAML: invalid leading UTF-8 octet at byte 22"},
        {"after a BOM", "\xef\xbb\xbfkind: \xfe\n",
         "t.yaml:1:7: invalid YAML: invalid leading UTF-8 octet at byte 9"},
        {"control character", "apiVersion: v1\nkind: P\x01od\n",
         "t.yaml:2:8: invalid YAML: control characters are not allowed at byte 22"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct parsed p = parse(cases[i].text);
        if (p.r != -EINVAL || strcmp(p.err.msg, cases[i].first) != 0)
            fail_msg("%s:\n  want: %s\n  got:  %d %s", cases[i].what, cases[i].first, p.r,
                     p.err.msg);
        assert_non_null(p.diags);
        assert_int_equal(p.diags->line, atoi(cases[i].first + 7));
        parsed_free(&p);
    }
}

static void test_scalar_resolve(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        enum st_yaml_scalar kind;
    } cases[] = {
        {"", ST_YAML_NULL},
        {"~", ST_YAML_NULL},
        {"null", ST_YAML_NULL},
        {"true", ST_YAML_BOOL},
        {"Off", ST_YAML_BOOL},
        {"y", ST_YAML_BOOL},
        {"8080", ST_YAML_INT},
        {"-3", ST_YAML_INT},
        {"0x1F", ST_YAML_INT},
        {"0755", ST_YAML_INT},
        {"1.5", ST_YAML_FLOAT},
        {"1e3", ST_YAML_FLOAT},
        {".inf", ST_YAML_FLOAT},
        {"08", ST_YAML_FLOAT},
        {"64Mi", ST_YAML_STRING},
        {"1.5.3", ST_YAML_STRING},
        {"yes-really", ST_YAML_STRING},
        {"-", ST_YAML_STRING},
        {"inf", ST_YAML_STRING},
        {"0x", ST_YAML_STRING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (st_yaml_scalar_resolve(cases[i].text) != cases[i].kind)
            fail_msg("\"%s\": got kind %d, want %d", cases[i].text,
                     st_yaml_scalar_resolve(cases[i].text), cases[i].kind);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_image_fields),
        cmocka_unit_test(test_fields_read),
        cmocka_unit_test(test_requests_default_to_limits),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_many_errors_capped),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_secret_size_limit),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_scalar_resolve),
        cmocka_unit_test(test_null_reads_as_absent),
        cmocka_unit_test(test_nul_in_keys),
        cmocka_unit_test(test_control_characters),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_reader_error_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
