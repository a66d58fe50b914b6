/* test_ctl_hosts.c: what stratactl prints about leases, byte for byte:
 * `get hosts` (HOST HOLDER RENEWED LEASE LEADER STATUS from the host leases
 * and the leader's, measured on the client's clock: Ready, Expired,
 * Released, the leader only while its lease holds), the renewal ages
 * ("0.4s"), and Leases as a kind (`get leases -A`, `describe lease`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_format_fixture.h"

#define NOW_MS ((long long)NOW * 1000)

/* A host lease of kube-node-lease: holder NULL when given up. */
static char *host_lease(const char *host, const char *holder, const char *renew)
{
    char *text = NULL;
    assert_true(asprintf(&text,
                         "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
                         "\"metadata\":{\"name\":\"strata-host-%s\",\"namespace\":"
                         "\"kube-node-lease\",\"creationTimestamp\":\"2024-05-01T11:00:00Z\"},"
                         "\"spec\":{%s%s%s\"leaseDurationSeconds\":6,"
                         "\"acquireTime\":\"2024-05-01T11:00:00.000000Z\","
                         "\"renewTime\":\"%s\",\"leaseTransitions\":1}}",
                         host, holder ? "\"holderIdentity\":\"" : "", holder ? holder : "",
                         holder ? "\"," : "", renew) > 0);
    return text;
}

/* The hosts of these leases (a JSON array text) with this leader lease
 * (NULL: none), at NOW. */
static json_t *hosts_of(const char *leases, const char *leader)
{
    json_t *l = load(leases);
    json_t *ld = leader ? load(leader) : NULL;
    json_t *hosts = stctl_fmt_hosts(l, ld, NOW_MS);
    assert_non_null(hosts);
    json_decref(l);
    json_decref(ld);
    return hosts;
}

static char *hosts_table(json_t *hosts, bool wide)
{
    stctl_fmt_table *t = NULL;
    st_error err = {0};
    assert_int_equal(stctl_fmt_hosts_table(hosts, wide, false, NOW_MS, &t, &err), 0);
    char *text = write_table(t);
    stctl_fmt_table_free(t);
    return text;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)) ?: "";
}

static void test_millis_age(void **state)
{
    (void)state;
    static const struct {
        long long ms;
        const char *text;
    } cases[] = {
        {0, "0.0s"},    {99, "0.0s"},   {400, "0.4s"},  {999, "0.9s"},  {1000, "1.0s"},
        {9999, "9.9s"}, {10000, "10s"}, {65000, "65s"}, {180000, "3m"}, {-1, "<unknown>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        stctl_fmt_millis_age(cases[i].ms, buf, sizeof(buf));
        if (strcmp(buf, cases[i].text) != 0)
            fail_msg("%lld ms: got %s, want %s", cases[i].ms, buf, cases[i].text);
    }
}

static void test_hosts(void **state)
{
    (void)state;
    /* h2 renewed 0.4 s ago and leads; h1 renewed 6.5 s ago (expired after
     * 6); h3 gave its lease up; another lease in the list is no host's;
     * listed out of order. */
    char *h2 = host_lease("h2", "h2/bb", "2024-05-01T11:59:59.600000Z");
    char *h1 = host_lease("h1", "h1/aa", "2024-05-01T11:59:53.500000Z");
    char *h3 = host_lease("h3", NULL, "2024-05-01T11:58:00.000000Z");
    char leases[4096];
    snprintf(leases, sizeof(leases),
             "[%s,%s,%s,{\"metadata\":{\"name\":\"other\",\"namespace\":\"kube-node-lease\"},"
             "\"spec\":{\"holderIdentity\":\"x\"}}]",
             h2, h1, h3);
    const char *leader = "{\"metadata\":{\"name\":\"strata-leader\",\"namespace\":\"kube-system\"},"
                         "\"spec\":{\"holderIdentity\":\"h2/bb\",\"leaseDurationSeconds\":6,"
                         "\"renewTime\":\"2024-05-01T11:59:59.900000Z\"}}";
    json_t *hosts = hosts_of(leases, leader);
    assert_int_equal(json_array_size(hosts), 3);
    json_t *a = json_array_get(hosts, 0), *b = json_array_get(hosts, 1);
    json_t *c = json_array_get(hosts, 2);
    assert_string_equal(str(a, "host"), "h1");
    assert_string_equal(str(a, "lease"), "kube-node-lease/strata-host-h1");
    assert_string_equal(str(a, "status"), "Expired");
    assert_int_equal(json_integer_value(json_object_get(a, "renewedMillis")), 6500);
    assert_true(json_is_false(json_object_get(a, "leader")));
    assert_string_equal(str(b, "host"), "h2");
    assert_string_equal(str(b, "holder"), "h2/bb");
    assert_string_equal(str(b, "status"), "Ready");
    assert_int_equal(json_integer_value(json_object_get(b, "renewedMillis")), 400);
    assert_int_equal(json_integer_value(json_object_get(b, "leaseDurationSeconds")), 6);
    assert_true(json_is_true(json_object_get(b, "leader")));
    assert_string_equal(str(c, "status"), "Released");
    assert_null(json_object_get(c, "holder"));

    char *text = hosts_table(hosts, false);
    assert_string_equal(text, "HOST   HOLDER   RENEWED   LEASE   LEADER   STATUS\n"
                              "h1     h1/aa    6.5s      6s      no       Expired\n"
                              "h2     h2/bb    0.4s      6s      yes      Ready\n"
                              "h3     <none>   2m        6s      no       Released\n");
    free(text);
    text = hosts_table(hosts, true);
    assert_has_line(text, "HOST   HOLDER   RENEWED   LEASE   LEADER   STATUS     ACQUIRED   "
                          "TRANSITIONS");
    assert_has_line(text, "h2     h2/bb    0.4s      6s      yes      Ready      60m        1");
    free(text);
    json_decref(hosts);

    /* the leader lease expired: nobody leads, whoever held it */
    const char *stale = "{\"metadata\":{\"name\":\"strata-leader\",\"namespace\":\"kube-system\"},"
                        "\"spec\":{\"holderIdentity\":\"h2/bb\",\"leaseDurationSeconds\":6,"
                        "\"renewTime\":\"2024-05-01T11:59:50.000000Z\"}}";
    hosts = hosts_of(leases, stale);
    assert_true(json_is_false(json_object_get(json_array_get(hosts, 1), "leader")));
    json_decref(hosts);
    /* no leader lease at all (a host's clock ahead of the database's: the
     * age is never below 0 and the lease is still Ready) */
    char *ahead = host_lease("h9", "h9/cc", "2024-05-01T12:00:00.700000Z");
    snprintf(leases, sizeof(leases), "[%s]", ahead);
    hosts = hosts_of(leases, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(hosts, 0), "renewedMillis")),
                     0);
    assert_string_equal(str(json_array_get(hosts, 0), "status"), "Ready");
    assert_true(json_is_false(json_object_get(json_array_get(hosts, 0), "leader")));
    json_decref(hosts);
    /* none: an empty array (a stratad with its own database) */
    hosts = hosts_of("[]", NULL);
    assert_int_equal(json_array_size(hosts), 0);
    json_decref(hosts);
    free(ahead);
    free(h1);
    free(h2);
    free(h3);
}

static void test_lease_kind(void **state)
{
    (void)state;
    static const char *const words[] = {"leases", "lease", "LEASES", "leases.coordination.k8s.io",
                                        "lease.coordination.k8s.io"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(words[i]);
        assert_non_null(k);
        assert_string_equal(k->kind, "Lease");
        assert_string_equal(k->api, "/apis/coordination.k8s.io/v1");
        assert_string_equal(k->resource, "leases");
        assert_true(k->namespaced);
    }
    char *l1 = host_lease("h1", "h1/aa", "2024-05-01T11:59:59.600000Z");
    char *l2 = host_lease("h2", NULL, "2024-05-01T11:59:59.600000Z");
    char rows[4096];
    snprintf(rows, sizeof(rows), "[%s,%s]", l1, l2);
    struct stctl_fmt_columns cols = {.namespace = true};
    char *text = kind_table_with("leases", &cols, false, rows);
    assert_string_equal(text, "NAMESPACE         NAME             HOLDER   AGE\n"
                              "kube-node-lease   strata-host-h1   h1/aa    60m\n"
                              "kube-node-lease   strata-host-h2            60m\n");
    free(text);
    text = describe_related("lease", l1, NULL, NULL, NULL);
    assert_has_line(text, "Name:          strata-host-h1");
    assert_has_line(text, "Namespace:     kube-node-lease");
    assert_has_line(text, "Holder:        h1/aa");
    assert_has_line(text, "Duration:      6s");
    assert_has_line(text, "Renewed:       2024-05-01T11:59:59.600000Z (1s ago)");
    assert_has_line(text, "Transitions:   1");
    free(text);
    free(l1);
    free(l2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_millis_age),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_lease_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
