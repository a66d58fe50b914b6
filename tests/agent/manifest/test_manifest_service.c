/* test_manifest_service.c: v1 Service and v1 Endpoints manifests: the
 * defaults, every refused shape with its FILE:LINE:COLUMN, warnings for
 * the Kubernetes fields Strata ignores, and the check across documents
 * (a named targetPort no selected container declares). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/manifest.h"
#include "manifest_fx.h"
#include "testutil.h"

/* Lines 1-8; a spec field appended on line 9 starts at column 3. */
#define SVC_HEAD                                                                                   \
    "apiVersion: v1\n"                                                                             \
    "kind: Service\n"                                                                              \
    "metadata:\n"                                                                                  \
    "  name: quote\n"                                                                              \
    "spec:\n"                                                                                      \
    "  selector:\n"                                                                                \
    "    app: quote\n"                                                                             \
    "  ports:\n"

/* A Deployment whose pods carry app: quote and declare port "web". */
#define QUOTE_DEPLOY                                                                               \
    "apiVersion: apps/v1\n"                                                                        \
    "kind: Deployment\n"                                                                           \
    "metadata:\n"                                                                                  \
    "  name: quote\n"                                                                              \
    "spec:\n"                                                                                      \
    "  selector:\n"                                                                                \
    "    matchLabels:\n"                                                                           \
    "      app: quote\n"                                                                           \
    "  template:\n"                                                                                \
    "    metadata:\n"                                                                              \
    "      labels:\n"                                                                              \
    "        app: quote\n"                                                                         \
    "    spec:\n"                                                                                  \
    "      containers:\n"                                                                          \
    "        - name: c\n"                                                                          \
    "          image: busybox\n"                                                                   \
    "          ports:\n"                                                                           \
    "            - name: web\n"                                                                    \
    "              containerPort: 8080\n"

static void test_service_defaults(void **state)
{
    (void)state;
    json_t *o = parse_ok(SVC_HEAD "    - port: 80\n", NULL);
    json_t *svc = json_array_get(o, 0);
    json_t *spec = json_object_get(svc, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "type")), "ClusterIP");
    json_t *p0 = json_array_get(json_object_get(spec, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "protocol")), "TCP");
    assert_int_equal(json_integer_value(json_object_get(p0, "targetPort")), 80);
    assert_null(json_object_get(spec, "clusterIP"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(svc, "metadata"), "namespace")),
        "default");
    json_decref(o);
}

static void test_service_full(void **state)
{
    (void)state;
    struct st_manifest_diag *diags = NULL;
    json_t *o = parse_ok(SVC_HEAD "    - name: http\n"
                                  "      port: 80\n"
                                  "      targetPort: web\n"
                                  "      nodePort: 30080\n"
                                  "    - name: admin\n"
                                  "      port: 81\n"
                                  "      targetPort: 9090\n"
                                  "  type: LoadBalancer\n"
                                  "  clusterIP: 10.96.0.20\n"
                                  "  sessionAffinity: None\n"
                                  "---\n" QUOTE_DEPLOY,
                         &diags);
    json_t *spec = json_object_get(json_array_get(o, 0), "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "type")), "LoadBalancer");
    assert_string_equal(json_string_value(json_object_get(spec, "clusterIP")), "10.96.0.20");
    json_t *p0 = json_array_get(json_object_get(spec, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "targetPort")), "web");
    assert_int_equal(json_integer_value(json_object_get(p0, "nodePort")), 30080);
    assert_null(json_object_get(spec, "sessionAffinity"));
    assert_non_null(diags);
    assert_string_equal(diags->text,
                        "t.yaml:18:3: warning: spec.sessionAffinity is not implemented by Strata "
                        "and is ignored");
    assert_null(diags->next);
    st_manifest_diag_free(diags);
    json_decref(o);
}

static void test_service_refused(void **state)
{
    (void)state;
    expect_error(SVC_HEAD "    - port: 80\n  type: ExternalName\n",
                 "t.yaml:10:9: spec.type: ExternalName Services are not supported");
    expect_error(SVC_HEAD "    - port: 53\n      protocol: UDP\n",
                 "t.yaml:10:17: spec.ports[0].protocol: UDP is not supported by Strata");
    expect_error(SVC_HEAD "    - port: 80\n  clusterIP: None\n",
                 "t.yaml:10:14: spec.clusterIP: headless Services (clusterIP None) are not "
                 "supported");
    expect_error(SVC_HEAD "    - port: 80\n  clusterIP: 10.96.0\n",
                 "t.yaml:10:14: spec.clusterIP: \"10.96.0\" is not an IPv4 address");
    expect_error(SVC_HEAD "    - port: 0\n", "t.yaml:9:13: spec.ports[0].port: must be between 1 "
                                             "and 65535, got 0");
    expect_error(SVC_HEAD "    - targetPort: 80\n",
                 "t.yaml:9:7: missing required field \"spec.ports[0].port\"");
    expect_error(SVC_HEAD "    - port: 80\n      nodePort: 80\n",
                 "t.yaml:10:17: spec.ports[0].nodePort: must be between 30000 and 32767");
    expect_error(SVC_HEAD "    - port: 80\n      nodePort: 30001\n",
                 "t.yaml:10:17: spec.ports[0].nodePort: only a NodePort or LoadBalancer Service "
                 "has node ports");
    expect_error(SVC_HEAD "    - port: 80\n    - port: 81\n",
                 "t.yaml:9:7: spec.ports[0].name: required when there is more than one port");
    expect_error(SVC_HEAD "    - name: a\n      port: 80\n    - name: a\n      port: 81\n",
                 "t.yaml:11:13: spec.ports[1].name: duplicate port name \"a\"");
    expect_error(SVC_HEAD "    - name: a\n      port: 80\n    - name: b\n      port: 80\n",
                 "t.yaml:12:13: spec.ports[1].port: port 80 is already spec.ports[0]");
    expect_error(SVC_HEAD "    - port: 80\n      targetPort: Web_Port\n",
                 "t.yaml:10:19: spec.ports[0].targetPort: \"Web_Port\" is not a valid port name");
    expect_error(SVC_HEAD "    - port: 80\n  selectr: {}\n",
                 "t.yaml:10:3: unknown field \"spec.selectr\"");
    expect_error("apiVersion: v1\nkind: Service\nmetadata:\n  name: 1st\nspec:\n  ports:\n"
                 "    - port: 80\n",
                 "t.yaml:4:9: metadata.name: \"1st\": a Service name must start with a letter");
}

static void test_target_port_across_documents(void **state)
{
    (void)state;
    /* The selected Deployment declares "web": accepted, in either order. */
    json_decref(
        parse_ok(QUOTE_DEPLOY "---\n" SVC_HEAD "    - port: 80\n      targetPort: web\n", NULL));
    /* It does not declare "http": the error points at the targetPort. */
    expect_error(SVC_HEAD "    - port: 80\n      targetPort: http\n---\n" QUOTE_DEPLOY,
                 "t.yaml:10:19: spec.ports[0].targetPort: no container of Deployment quote "
                 "(selected by Service quote) declares a port named \"http\"");
    /* A Pod selected the same way. */
    expect_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: quote\n"
                 "spec:\n  containers:\n    - name: c\n      image: busybox\n---\n" SVC_HEAD
                 "    - port: 80\n      targetPort: http\n",
                 "t.yaml:21:19: spec.ports[0].targetPort: no container of Pod p");
    /* Not selected (other labels, other namespace): nothing to check. */
    json_decref(parse_ok(SVC_HEAD "    - port: 80\n      targetPort: http\n---\n"
                                  "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                                  "  namespace: other\n  labels:\n    app: quote\n"
                                  "spec:\n  containers:\n    - name: c\n      image: busybox\n",
                         NULL));
}

static void test_endpoints(void **state)
{
    (void)state;
    json_t *o = parse_ok("apiVersion: v1\n"
                         "kind: Endpoints\n"
                         "metadata:\n"
                         "  name: quote-db\n"
                         "subsets:\n"
                         "  - addresses:\n"
                         "      - ip: 127.0.0.1\n"
                         "    notReadyAddresses:\n"
                         "      - ip: 10.244.1.2\n"
                         "        nodeName: n1\n"
                         "        targetRef: {kind: Pod, name: p, namespace: default, uid: u}\n"
                         "    ports:\n"
                         "      - port: 5433\n",
                         NULL);
    json_t *sub = json_array_get(json_object_get(json_array_get(o, 0), "subsets"), 0);
    json_t *a0 = json_array_get(json_object_get(sub, "addresses"), 0);
    assert_string_equal(json_string_value(json_object_get(a0, "ip")), "127.0.0.1");
    json_t *port = json_array_get(json_object_get(sub, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(port, "protocol")), "TCP");
    assert_int_equal(json_integer_value(json_object_get(port, "port")), 5433);
    json_decref(o);

    const char *head = "apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: e\nsubsets:\n";
    char buf[512];
    snprintf(buf, sizeof(buf), "%s  - addresses:\n      - ip: db.local\n", head);
    expect_error(buf, "t.yaml:7:13: subsets[0].addresses[0].ip: \"db.local\" is not an IPv4");
    snprintf(buf, sizeof(buf), "%s  - ports:\n      - port: 1\n      - port: 2\n", head);
    expect_error(buf, "t.yaml:7:9: subsets[0].ports[0].name: required when there is more");
    snprintf(buf, sizeof(buf), "%s  - ports:\n      - port: 1\n        protocol: SCTP\n", head);
    expect_error(buf, "t.yaml:8:19: subsets[0].ports[0].protocol: SCTP is not supported");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_defaults),
        cmocka_unit_test(test_service_full),
        cmocka_unit_test(test_service_refused),
        cmocka_unit_test(test_target_port_across_documents),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
