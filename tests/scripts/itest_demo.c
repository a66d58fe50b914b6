/* itest_demo.c: scripts/demo, the README's first command, run as a user
 * would but without a terminal, on this build (STRATA_DEMO_PREBUILT: no
 * setup or rebuild) with its own state dir and socket. The demo stops at
 * the first step whose outcome is wrong; this checks it reached every step
 * and cleaned up after itself. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_demo_walks_every_step_and_cleans_up(void **state)
{
    (void)state;
    char *dir = st_test_mkdtemp("strata-demo-test");
    /* The state dir inside must be reachable by the postgres user. */
    chmod(dir, 0755);
    char *out = NULL, *err = NULL;
    int rc =
        st_test_sh(&out, &err,
                   "STRATA_DEMO_PREBUILT=1 STRATA_BUILD_DIR=%s STRATA_DEMO_STATE=%s/state "
                   "STRATA_SOCKET=%s/api.sock %s/scripts/demo </dev/null",
                   st_test_env("STRATA_BUILD_DIR"), dir, dir, st_test_env("STRATA_SOURCE_DIR"));
    if (rc != 0) {
        /* cmocka's printer truncates long text: the ends say what went wrong. */
        size_t lo = strlen(out), le = strlen(err);
        fprintf(stderr, "scripts/demo exited %d\n--- stdout (end)\n%s\n", rc,
                out + (lo > 3000 ? lo - 3000 : 0));
        fprintf(stderr, "--- stderr (end)\n%s\n", err + (le > 3000 ? le - 3000 : 0));
    }
    assert_int_equal(rc, 0);
    static const char *const steps[] = {
        "Start the lab's database on the host",
        "quotes-db: running on 127.0.0.1:5433",
        "Import the images",
        "Provision three VM nodes",
        "node/node-1 Ready in",
        "Deploy the quote app",
        "One replica per node",
        "LoadBalancer",
        "The Service load-balances",
        "-- served by quote-" /* a quote read from the database */,
        "Scale to 5: the new pods get traffic",
        "Delete a pod",
        "SuccessfulCreate",
        "client loop: ",
        "3 replicas ready again",
        "NodeLost",
        "Stop the database: every pod goes unready",
        "NotReadyEndpoints:",
        "restarts while the database was down: 0",
        "Forwarding from 127.0.0.1:8080 -> 80",
        "OOMKilled",
        "liveness-fails restarts",
        "strataEncryptedData" /* the SQL the demo shows */,
        "v1:" /* a sealed value, not base64 of the plaintext */,
        "kubectl, and the live page",
        "/ui/login?once=" /* stratactl dashboard's link */,
        "All steps passed.",
        "removed the nodes, stopped stratad and its PostgreSQL",
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (strstr(out, steps[i]) == NULL)
            print_error("the demo's output lacks \"%s\"\n", steps[i]);
        assert_non_null(strstr(out, steps[i]));
    }
    /* The Secret's plaintext never shows in what the database holds. */
    const char *sql = strstr(out, "strataEncryptedData");
    const char *end = sql ? strstr(sql, "(1 row)") : NULL;
    assert_non_null(end);
    assert_null(memmem(sql, (size_t)(end - sql), "quote-demo-password", 19));
    char *left = NULL;
    st_test_sh(&left, NULL, "ls -A %s", dir);
    assert_string_equal(left, "");
    free(left);
    free(out);
    free(err);
    st_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_walks_every_step_and_cleans_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
