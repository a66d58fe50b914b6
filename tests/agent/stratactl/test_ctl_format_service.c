/* test_ctl_format_service.c: what stratactl prints for Services and
 * Endpoints, byte for byte where kubectl's shape matters: `get services`
 * (EXTERNAL-IP pending, cut, or none; PORT(S) with node ports; -o wide's
 * SELECTOR), `get endpoints` (three addresses then "+ N more...", <none>
 * when nothing is ready), and `describe service|endpoints` (each port's
 * ready endpoints, Strata's NotReadyEndpoints line, a selector-less
 * Service, the conditions the proxy sets). Objects are written here as the
 * API serves them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_format_fixture.h"

/* describe of a Service (or Endpoints) with its Endpoints and events. */
static char *describe(const char *word, const char *object, const char *endpoints,
                      const char *events)
{
    return describe_related(word, object, events, NULL, endpoints);
}

/* ---- fixtures ------------------------------------------------------------- */

/* The lab's Service: a LoadBalancer with its ingress address and node port. */
static const char quote_svc[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Service\","
    " \"metadata\":{\"name\":\"quote\",\"namespace\":\"default\","
    "  \"creationTimestamp\":\"2024-05-01T11:55:00Z\",\"labels\":{\"app\":\"quote\"}},"
    " \"spec\":{\"type\":\"LoadBalancer\",\"selector\":{\"app\":\"quote\"},"
    "  \"clusterIP\":\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\"],"
    "  \"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":31234,"
    "   \"protocol\":\"TCP\"}]},"
    " \"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"127.1.0.1\"}]}}}";

/* A LoadBalancer whose address is not given yet, with two ports. */
static const char pending_svc[] =
    "{\"metadata\":{\"name\":\"admin\",\"namespace\":\"default\","
    "  \"creationTimestamp\":\"2024-05-01T11:59:30Z\"},"
    " \"spec\":{\"type\":\"LoadBalancer\",\"selector\":{\"tier\":\"be\",\"app\":\"admin\"},"
    "  \"clusterIP\":\"10.96.0.11\","
    "  \"ports\":[{\"name\":\"web\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080},"
    "   {\"name\":\"tls\",\"port\":443,\"targetPort\":8443,\"nodePort\":30443}]}}";

/* The lab's database outside the cluster: no selector, Endpoints by hand. */
static const char db_svc[] =
    "{\"metadata\":{\"name\":\"quote-db\",\"namespace\":\"default\","
    "  \"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
    " \"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.12\","
    "  \"ports\":[{\"port\":5432,\"targetPort\":5433,\"protocol\":\"TCP\"}]}}";

/* What the endpoints controller writes for quote: three ready pods, one
 * unready, and a fourth ready pod serving the port on another number (its
 * own subset, as Kubernetes groups pods by their ports). */
static const char quote_ep[] =
    "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"quote\",\"namespace\":\"default\","
    "  \"creationTimestamp\":\"2024-05-01T11:55:00Z\",\"labels\":{\"app\":\"quote\"}},"
    " \"subsets\":["
    "  {\"addresses\":[{\"ip\":\"10.244.1.2\",\"nodeName\":\"n1\"},{\"ip\":\"10.244.2.3\"},"
    "    {\"ip\":\"10.244.3.4\"}],"
    "   \"notReadyAddresses\":[{\"ip\":\"10.244.3.5\"}],"
    "   \"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]},"
    "  {\"addresses\":[{\"ip\":\"10.244.1.9\"}],"
    "   \"ports\":[{\"name\":\"http\",\"port\":9090,\"protocol\":\"TCP\"}]}]}";

static const char db_ep[] =
    "{\"metadata\":{\"name\":\"quote-db\",\"namespace\":\"default\","
    "  \"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
    " \"subsets\":[{\"addresses\":[{\"ip\":\"127.0.0.1\"}],\"ports\":[{\"port\":5433}]}]}";

/* ---- get ------------------------------------------------------------------ */

static void test_service_rows(void **state)
{
    (void)state;
    char rows[4096];
    snprintf(rows, sizeof(rows), "[%s,%s,%s]", quote_svc, pending_svc, db_svc);
    char *text = kind_table("svc", false, rows);
    assert_string_equal(
        text,
        "NAME       TYPE           CLUSTER-IP   EXTERNAL-IP   PORT(S)                      AGE\n"
        "quote      LoadBalancer   10.96.0.10   127.1.0.1     80:31234/TCP                 5m\n"
        "admin      LoadBalancer   10.96.0.11   <pending>     80:30080/TCP,443:30443/TCP   30s\n"
        "quote-db   ClusterIP      10.96.0.12   <none>        5432/TCP                     60m\n");
    free(text);

    /* -o wide: the selector, sorted by key, <none> without one. */
    text = kind_table("services", true, rows);
    assert_has_line(text, "NAME       TYPE           CLUSTER-IP   EXTERNAL-IP   PORT(S)         "
                          "             AGE   SELECTOR");
    assert_has_line(text, "quote      LoadBalancer   10.96.0.10   127.1.0.1     80:31234/TCP    "
                          "             5m    app=quote");
    assert_has_line(text, "admin      LoadBalancer   10.96.0.11   <pending>     80:30080/TCP,443:"
                          "30443/TCP   30s   app=admin,tier=be");
    assert_has_line(text, "quote-db   ClusterIP      10.96.0.12   <none>        5432/TCP        "
                          "             60m   <none>");
    free(text);
}

static void test_service_external_ip(void **state)
{
    (void)state;
    /* Several ingress addresses: cut to kubectl's 16 characters, whole with
     * -o wide; a type without a load balancer shows its externalIPs. */
    const char *svcs =
        "[{\"metadata\":{\"name\":\"two\"},\"spec\":{\"type\":\"LoadBalancer\","
        "  \"clusterIP\":\"10.96.0.20\",\"ports\":[{\"port\":80,\"nodePort\":30001}]},"
        "  \"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"127.1.0.2\"},"
        "   {\"ip\":\"127.1.0.3\"}]}}},"
        " {\"metadata\":{\"name\":\"ext\"},\"spec\":{\"type\":\"NodePort\","
        "  \"clusterIP\":\"10.96.0.21\",\"externalIPs\":[\"127.0.0.5\"],"
        "  \"ports\":[{\"port\":81,\"nodePort\":30002}]}}]";
    char *text = kind_table("svc", false, svcs);
    assert_has_line(text, "two    LoadBalancer   10.96.0.20   127.1.0.2,127...   80:30001/TCP   "
                          "<unknown>");
    assert_has_line(text, "ext    NodePort       10.96.0.21   127.0.0.5          81:30002/TCP   "
                          "<unknown>");
    free(text);
    text = kind_table("svc", true, svcs);
    assert_non_null(strstr(text, "   127.1.0.2,127.1.0.3   "));
    free(text);
}

static void test_endpoints_rows(void **state)
{
    (void)state;
    char rows[4096];
    /* None at all, and only unready pods: both <none>, as nothing is served. */
    snprintf(rows, sizeof(rows),
             "[%s,%s,{\"metadata\":{\"name\":\"idle\",\"creationTimestamp\":"
             "\"2024-05-01T11:59:58Z\"}},"
             "{\"metadata\":{\"name\":\"sick\",\"creationTimestamp\":\"2024-05-01T11:59:58Z\"},"
             "\"subsets\":[{\"notReadyAddresses\":[{\"ip\":\"10.244.1.7\"}],"
             "\"ports\":[{\"port\":80}]}]}]",
             quote_ep, db_ep);
    char *text = kind_table("ep", false, rows);
    assert_string_equal(
        text, "NAME       ENDPOINTS                                                     AGE\n"
              "quote      10.244.1.2:8080,10.244.2.3:8080,10.244.3.4:8080 + 1 more...   5m\n"
              "quote-db   127.0.0.1:5433                                                60m\n"
              "idle       <none>                                                        2s\n"
              "sick       <none>                                                        2s\n");
    free(text);
}

/* ---- describe ------------------------------------------------------------- */

static void test_describe_service(void **state)
{
    (void)state;
    char *text = describe(
        "service", quote_svc, quote_ep,
        "[{\"type\":\"Normal\",\"reason\":\"EnsuredLoadBalancer\",\"message\":\"listening on "
        "127.1.0.1:80\",\"lastTimestamp\":\"2024-05-01T11:59:00Z\","
        "\"source\":{\"component\":\"service-proxy\"}}]");
    /* kubectl's order and alignment: the first column as wide as the
     * longest key shown (LoadBalancer Ingress) plus two. */
    assert_non_null(strstr(text, "Name:                  quote\n"
                                 "Namespace:             default\n"
                                 "Labels:                app=quote\n"
                                 "Annotations:           <none>\n"
                                 "Selector:              app=quote\n"
                                 "Type:                  LoadBalancer\n"
                                 "IP:                    10.96.0.10\n"
                                 "IPs:                   10.96.0.10\n"
                                 "LoadBalancer Ingress:  127.1.0.1\n"
                                 "Port:                  http  80/TCP\n"
                                 "TargetPort:            http/TCP\n"
                                 "NodePort:              http  31234/TCP\n"
                                 "Endpoints:             10.244.1.2:8080,10.244.2.3:8080,"
                                 "10.244.3.4:8080 + 1 more...\n"
                                 "NotReadyEndpoints:     10.244.3.5:8080\n"
                                 "Session Affinity:      None\n"
                                 "Events:\n"));
    assert_has_line(text, "  Normal   EnsuredLoadBalancer   60s    service-proxy   listening on "
                          "127.1.0.1:80");
    assert_null(strstr(text, "Conditions:"));
    free(text);

    /* The selector-less database Service before its Endpoints exist (404):
     * no endpoints said plainly, a numeric targetPort, no node port. */
    text = describe("svc", db_svc, NULL, "[]");
    assert_non_null(strstr(text, "Name:              quote-db\n"
                                 "Namespace:         default\n"
                                 "Labels:            <none>\n"
                                 "Annotations:       <none>\n"
                                 "Selector:          <none>\n"
                                 "Type:              ClusterIP\n"
                                 "IP:                10.96.0.12\n"
                                 "IPs:               <none>\n"
                                 "Port:              <unset>  5432/TCP\n"
                                 "TargetPort:        5433/TCP\n"
                                 "Endpoints:         <none>\n"
                                 "Session Affinity:  None\n"
                                 "Events:        <none>\n"));
    free(text);
    text = describe("svc", db_svc, db_ep, "[]");
    assert_has_line(text, "Endpoints:         127.0.0.1:5433");
    free(text);
}

static void test_describe_service_ports_and_conditions(void **state)
{
    (void)state;
    /* Each port shows the endpoints of its own name only; a Service whose
     * pods are all unready has none ready and says which are not; the
     * proxy's condition (the port is taken on the host) is shown. */
    const char *svc =
        "{\"metadata\":{\"name\":\"admin\",\"namespace\":\"default\"},"
        " \"spec\":{\"type\":\"NodePort\",\"selector\":{\"app\":\"admin\"},"
        "  \"clusterIP\":\"10.96.0.11\",\"sessionAffinity\":\"None\","
        "  \"ports\":[{\"name\":\"web\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080},"
        "   {\"name\":\"tls\",\"port\":443,\"targetPort\":\"https\",\"nodePort\":30443}]},"
        " \"status\":{\"conditions\":[{\"type\":\"Listening\",\"status\":\"False\","
        "  \"reason\":\"PortInUse\",\"message\":\"127.0.0.1:30080 is in use on the host\","
        "  \"lastTransitionTime\":\"2024-05-01T11:59:00Z\"}]}}";
    const char *ep = "{\"metadata\":{\"name\":\"admin\"},\"subsets\":[{"
                     " \"notReadyAddresses\":[{\"ip\":\"10.244.1.4\"},{\"ip\":\"10.244.2.4\"}],"
                     " \"ports\":[{\"name\":\"web\",\"port\":8080},{\"name\":\"tls\","
                     "\"port\":8443}]}]}";
    char *text = describe("svc", svc, ep, "[]");
    assert_non_null(strstr(text, "Port:               web  80/TCP\n"
                                 "TargetPort:         8080/TCP\n"
                                 "NodePort:           web  30080/TCP\n"
                                 "Endpoints:          <none>\n"
                                 "NotReadyEndpoints:  10.244.1.4:8080,10.244.2.4:8080\n"
                                 "Port:               tls  443/TCP\n"
                                 "TargetPort:         https/TCP\n"
                                 "NodePort:           tls  30443/TCP\n"
                                 "Endpoints:          <none>\n"
                                 "NotReadyEndpoints:  10.244.1.4:8443,10.244.2.4:8443\n"
                                 "Session Affinity:   None\n"));
    assert_has_line(text, "Conditions:");
    assert_has_line(text, "  Listening   False    PortInUse   60s               127.0.0.1:30080 "
                          "is in use on the host");
    assert_null(strstr(text, "LoadBalancer Ingress"));
    free(text);
}

static void test_describe_endpoints(void **state)
{
    (void)state;
    char *text = describe("endpoints", quote_ep, NULL, "[]");
    assert_non_null(strstr(text, "Name:         quote\n"
                                 "Namespace:    default\n"
                                 "Labels:       app=quote\n"
                                 "Annotations:  <none>\n"
                                 "Subsets:\n"
                                 "  Addresses:          10.244.1.2,10.244.2.3,10.244.3.4\n"
                                 "  NotReadyAddresses:  10.244.3.5\n"
                                 "  Ports:\n"
                                 "    Name   Port   Protocol\n"
                                 "    ----   ----   --------\n"
                                 "    http   8080   TCP\n"
                                 "\n"
                                 "  Addresses:          10.244.1.9\n"
                                 "  NotReadyAddresses:  <none>\n"));
    assert_has_line(text, "    http   9090   TCP");
    assert_has_line(text, "Events:        <none>");
    free(text);

    /* A hand-written one with an unnamed port. */
    text = describe("ep", db_ep, NULL, NULL);
    assert_has_line(text, "  Addresses:          127.0.0.1");
    assert_has_line(text, "    <unset>   5433   TCP");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_rows),
        cmocka_unit_test(test_service_external_ip),
        cmocka_unit_test(test_endpoints_rows),
        cmocka_unit_test(test_describe_service),
        cmocka_unit_test(test_describe_service_ports_and_conditions),
        cmocka_unit_test(test_describe_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
