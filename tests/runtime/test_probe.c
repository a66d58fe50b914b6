/* test_probe.c: the prober state machine and spec validation
 * (runtime/probe.c) on a fake clock: initial delay, periods, thresholds,
 * startup gating, readiness successThreshold, restart reasons, reset. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include "strata/probe.h"

static char *const true_cmd[] = {"/bin/true", NULL};

static struct st_probe_spec exec_spec(void)
{
    return (struct st_probe_spec){.handler = ST_PROBE_HANDLER_EXEC, .command = true_cmd};
}

static struct st_probe_spec http_spec(void)
{
    return (struct st_probe_spec){.handler = ST_PROBE_HANDLER_HTTP, .port = 8080};
}

static struct st_prober *make(const struct st_probe_spec *s, const struct st_probe_spec *l,
                              const struct st_probe_spec *r, long long start)
{
    struct st_prober *p = NULL;
    st_error err = {0};
    int rc = st_prober_new(s, l, r, start, &p, &err);
    if (rc != 0)
        fail_msg("st_prober_new: %s", err.msg);
    assert_non_null(p);
    return p;
}

/* ---- validation ---- */

static void expect_invalid(const struct st_probe_spec *spec, enum st_probe_kind kind, int code,
                           const char *needle)
{
    st_error err = {0};
    assert_int_equal(st_probe_spec_validate(spec, kind, &err), -code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_validate(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_probe_spec s = http_spec();
    assert_int_equal(st_probe_spec_validate(&s, ST_PROBE_LIVENESS, &err), 0);
    assert_int_equal(st_probe_spec_period_s(&s), 10);
    assert_int_equal(st_probe_spec_timeout_s(&s), 1);
    assert_int_equal(st_probe_spec_success_threshold(&s), 1);
    assert_int_equal(st_probe_spec_failure_threshold(&s), 3);

    s.scheme = "HTTPS";
    expect_invalid(&s, ST_PROBE_READINESS, ENOTSUP,
                   "readinessProbe.httpGet.scheme: HTTPS is not "
                   "supported");
    s.scheme = "FTP";
    expect_invalid(&s, ST_PROBE_READINESS, EINVAL, "\"FTP\"");
    s.scheme = "http";
    assert_int_equal(st_probe_spec_validate(&s, ST_PROBE_READINESS, &err), 0);

    s = http_spec();
    s.success_threshold = 2;
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "livenessProbe.successThreshold: must be 1");
    expect_invalid(&s, ST_PROBE_STARTUP, EINVAL, "startupProbe.successThreshold: must be 1");
    assert_int_equal(st_probe_spec_validate(&s, ST_PROBE_READINESS, &err), 0);

    s = http_spec();
    s.port = 0;
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "livenessProbe.httpGet.port");
    s.port = 70000;
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "70000");
    s = http_spec();
    s.host = "example.com";
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "httpGet.host");
    s.host = "::1";
    assert_int_equal(st_probe_spec_validate(&s, ST_PROBE_LIVENESS, &err), 0);
    s = http_spec();
    s.path = "healthz";
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "httpGet.path");
    s.path = "/a b";
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "httpGet.path");
    s.path = "/healthz?x=1";
    assert_int_equal(st_probe_spec_validate(&s, ST_PROBE_LIVENESS, &err), 0);

    struct st_probe_http_header bad_value[] = {{"X-Ok", "a\r\nInjected: 1"}};
    s.headers = bad_value;
    s.n_headers = 1;
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "httpHeaders[0].value");
    struct st_probe_http_header bad_name[] = {{"X-Ok", "fine"}, {"Bad Name", "x"}};
    s.headers = bad_name;
    s.n_headers = 2;
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "httpHeaders[1].name");

    s = (struct st_probe_spec){.handler = ST_PROBE_HANDLER_TCP, .port = 22, .period_s = -1};
    expect_invalid(&s, ST_PROBE_READINESS, EINVAL, "readinessProbe.periodSeconds");
    s = (struct st_probe_spec){.handler = ST_PROBE_HANDLER_EXEC};
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "livenessProbe.exec.command");
    s = (struct st_probe_spec){.port = 80};
    expect_invalid(&s, ST_PROBE_LIVENESS, EINVAL, "exec, tcpSocket or httpGet");
}

static void test_new_rejects_invalid_spec(void **state)
{
    (void)state;
    struct st_probe_spec live = http_spec();
    live.success_threshold = 3;
    struct st_prober *p = NULL;
    st_error err = {0};
    assert_int_equal(st_prober_new(NULL, &live, NULL, 0, &p, &err), -EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "livenessProbe.successThreshold"));
}

/* ---- state machine ---- */

static void test_no_probes_ready_at_once(void **state)
{
    (void)state;
    struct st_prober *p = make(NULL, NULL, NULL, 500);
    assert_true(st_prober_started(p));
    assert_true(st_prober_ready(p));
    assert_int_equal(st_prober_next_due(p, 500, NULL), -1);
    assert_int_equal(st_prober_due(p, 1000000), 0);
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, false, "x", 600), 0);
    assert_null(st_prober_restart_reason(p));
    st_prober_free(p);
}

static void test_liveness_threshold_and_period(void **state)
{
    (void)state;
    struct st_probe_spec live = http_spec();
    live.initial_delay_s = 5;
    struct st_prober *p = make(NULL, &live, NULL, 1000);
    assert_true(st_prober_ready(p)); /* no readiness probe */

    enum st_probe_kind which = ST_PROBE_STARTUP;
    assert_int_equal(st_prober_next_due(p, 1000, &which), 6000);
    assert_int_equal(which, ST_PROBE_LIVENESS);
    assert_int_equal(st_prober_due(p, 5999), 0);
    assert_int_equal(st_prober_due(p, 6000), ST_PROBE_BIT(ST_PROBE_LIVENESS));
    /* In flight: not due again until reported. */
    assert_int_equal(st_prober_next_due(p, 6000, NULL), -1);
    assert_int_equal(st_prober_due(p, 100000), 0);
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, false, "boom", 6300), 0);
    /* The period counts from the start of the run. */
    assert_int_equal(st_prober_next_due(p, 6300, NULL), 16000);

    long long t = 16000;
    const bool results[] = {false, true, false, false};
    for (size_t i = 0; i < 4; i++, t += 10000) {
        assert_int_equal(st_prober_due(p, t), ST_PROBE_BIT(ST_PROBE_LIVENESS));
        assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, results[i], "no", t + 5), 0);
    }
    struct st_probe_status st;
    st_prober_status(p, ST_PROBE_LIVENESS, &st);
    assert_true(st.configured);
    assert_int_equal(st.consecutive_failures, 2);
    assert_null(st_prober_restart_reason(p));

    /* Third consecutive failure: restart, and the container is no longer ready. */
    assert_int_equal(st_prober_due(p, t), ST_PROBE_BIT(ST_PROBE_LIVENESS));
    unsigned ev = st_prober_report(p, ST_PROBE_LIVENESS, false,
                                   "HTTP probe failed with statuscode: 500", t + 5);
    assert_int_equal(ev, ST_PROBE_EV_RESTART_NEEDED | ST_PROBE_EV_READY_CHANGED);
    assert_string_equal(st_prober_restart_reason(p),
                        "Liveness probe failed: HTTP probe failed with statuscode: 500");
    assert_false(st_prober_ready(p));
    /* Nothing runs until the new instance. */
    assert_int_equal(st_prober_next_due(p, t, NULL), -1);
    assert_int_equal(st_prober_due(p, t + 100000), 0);
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, false, "late", t + 6), 0);
    st_prober_status(p, ST_PROBE_LIVENESS, &st);
    assert_string_equal(st.last_message, "HTTP probe failed with statuscode: 500");
    st_prober_free(p);
}

static void test_slow_run_delays_next(void **state)
{
    (void)state;
    struct st_probe_spec live = http_spec();
    live.period_s = 2;
    struct st_prober *p = make(NULL, &live, NULL, 0);
    assert_int_equal(st_prober_due(p, 0), ST_PROBE_BIT(ST_PROBE_LIVENESS));
    /* The run took 5 s, longer than the period: due once, right away. */
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, true, "", 5000), 0);
    assert_int_equal(st_prober_next_due(p, 5000, NULL), 2000);
    assert_int_equal(st_prober_due(p, 5000), ST_PROBE_BIT(ST_PROBE_LIVENESS));
    assert_int_equal(st_prober_due(p, 5000), 0);
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, true, "", 5001), 0);
    assert_int_equal(st_prober_next_due(p, 5001, NULL), 7000);
    /* A result reported without st_prober_due schedules from the report. */
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, true, "", 6000), 0);
    assert_int_equal(st_prober_next_due(p, 6000, NULL), 8000);
    st_prober_free(p);
}

static void test_startup_gates_others(void **state)
{
    (void)state;
    struct st_probe_spec startup = exec_spec();
    startup.period_s = 1;
    startup.failure_threshold = 30;
    struct st_probe_spec live = http_spec();
    live.initial_delay_s = 3;
    struct st_probe_spec ready = http_spec();
    struct st_prober *p = make(&startup, &live, &ready, 0);
    assert_false(st_prober_started(p));
    assert_false(st_prober_ready(p));

    enum st_probe_kind which = ST_PROBE_READINESS;
    assert_int_equal(st_prober_next_due(p, 0, &which), 0);
    assert_int_equal(which, ST_PROBE_STARTUP);
    /* Readiness would be due at 0 too, but waits for startup. */
    assert_int_equal(st_prober_due(p, 0), ST_PROBE_BIT(ST_PROBE_STARTUP));
    assert_int_equal(st_prober_report(p, ST_PROBE_READINESS, true, "early", 10), 0);
    assert_int_equal(st_prober_report(p, ST_PROBE_STARTUP, false, "not yet", 10), 0);
    assert_int_equal(st_prober_due(p, 1000), ST_PROBE_BIT(ST_PROBE_STARTUP));
    assert_int_equal(st_prober_report(p, ST_PROBE_STARTUP, true, "", 1010),
                     ST_PROBE_EV_STARTUP_SUCCEEDED);
    assert_true(st_prober_started(p));
    assert_false(st_prober_ready(p)); /* readiness has not succeeded yet */

    /* Startup never runs again; readiness runs now, liveness at its initial delay. */
    assert_int_equal(st_prober_due(p, 1010), ST_PROBE_BIT(ST_PROBE_READINESS));
    assert_int_equal(st_prober_next_due(p, 1010, &which), 3000);
    assert_int_equal(which, ST_PROBE_LIVENESS);
    assert_int_equal(st_prober_report(p, ST_PROBE_READINESS, true, "ok", 1020),
                     ST_PROBE_EV_READY_CHANGED);
    assert_true(st_prober_ready(p));
    assert_int_equal(st_prober_due(p, 3000), ST_PROBE_BIT(ST_PROBE_LIVENESS));

    struct st_probe_status st;
    st_prober_status(p, ST_PROBE_STARTUP, &st);
    assert_true(st.has_result);
    assert_true(st.last_success);
    st_prober_status(p, ST_PROBE_READINESS, &st);
    assert_string_equal(st.last_message, "ok");
    assert_int_equal(st.last_run_ms, 1020);
    st_prober_free(p);
}

static void test_startup_failure_restarts(void **state)
{
    (void)state;
    struct st_probe_spec startup = exec_spec();
    startup.period_s = 1;
    startup.failure_threshold = 2;
    struct st_probe_spec live = http_spec();
    struct st_prober *p = make(&startup, &live, NULL, 0);
    assert_false(st_prober_ready(p)); /* started only once startup succeeds */
    assert_int_equal(st_prober_due(p, 0), ST_PROBE_BIT(ST_PROBE_STARTUP));
    assert_int_equal(st_prober_report(p, ST_PROBE_STARTUP, false, "a", 5), 0);
    assert_int_equal(st_prober_due(p, 1000), ST_PROBE_BIT(ST_PROBE_STARTUP));
    assert_int_equal(st_prober_report(p, ST_PROBE_STARTUP, false, "command \"x\" exited", 1005),
                     ST_PROBE_EV_RESTART_NEEDED);
    assert_string_equal(st_prober_restart_reason(p), "Startup probe failed: command \"x\" exited");
    struct st_probe_status st;
    st_prober_status(p, ST_PROBE_LIVENESS, &st);
    assert_false(st.has_result);
    assert_int_equal(st_prober_next_due(p, 2000, NULL), -1);
    st_prober_free(p);
}

static void test_startup_without_readiness_makes_ready(void **state)
{
    (void)state;
    struct st_probe_spec startup = exec_spec();
    struct st_prober *p = make(&startup, NULL, NULL, 0);
    assert_false(st_prober_ready(p));
    assert_int_equal(st_prober_due(p, 0), ST_PROBE_BIT(ST_PROBE_STARTUP));
    assert_int_equal(st_prober_report(p, ST_PROBE_STARTUP, true, "", 50),
                     ST_PROBE_EV_STARTUP_SUCCEEDED | ST_PROBE_EV_READY_CHANGED);
    assert_true(st_prober_ready(p));
    assert_int_equal(st_prober_next_due(p, 50, NULL), -1);
    st_prober_free(p);
}

static void test_readiness_thresholds(void **state)
{
    (void)state;
    struct st_probe_spec ready = http_spec();
    ready.period_s = 1;
    ready.success_threshold = 2;
    ready.failure_threshold = 2;
    struct st_prober *p = make(NULL, NULL, &ready, 0);
    assert_false(st_prober_ready(p));
    struct {
        bool result;
        unsigned events;
        bool ready;
    } steps[] = {
        {true, 0, false},
        {true, ST_PROBE_EV_READY_CHANGED, true},
        {false, 0, true},
        {true, 0, true},
        {false, 0, true},
        {false, ST_PROBE_EV_READY_CHANGED, false},
        {false, 0, false},
        {true, 0, false},
        {false, 0, false},
        {true, 0, false},
        {true, ST_PROBE_EV_READY_CHANGED, true},
    };
    long long t = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++, t += 1000) {
        assert_int_equal(st_prober_due(p, t), ST_PROBE_BIT(ST_PROBE_READINESS));
        unsigned ev = st_prober_report(p, ST_PROBE_READINESS, steps[i].result, "r", t + 1);
        if (ev != steps[i].events || st_prober_ready(p) != steps[i].ready)
            fail_msg("step %zu: events %u ready %d, expected %u %d", i, ev, st_prober_ready(p),
                     steps[i].events, steps[i].ready);
    }
    /* Readiness failures never restart the container. */
    assert_null(st_prober_restart_reason(p));
    st_prober_free(p);
}

static void test_reset_on_restart(void **state)
{
    (void)state;
    struct st_probe_spec live = http_spec();
    live.failure_threshold = 1;
    live.initial_delay_s = 2;
    struct st_probe_spec ready = http_spec();
    struct st_prober *p = make(NULL, &live, &ready, 0);
    assert_int_equal(st_prober_due(p, 2000),
                     ST_PROBE_BIT(ST_PROBE_LIVENESS) | ST_PROBE_BIT(ST_PROBE_READINESS));
    assert_int_equal(st_prober_report(p, ST_PROBE_READINESS, true, "", 2001),
                     ST_PROBE_EV_READY_CHANGED);
    assert_int_equal(st_prober_report(p, ST_PROBE_LIVENESS, false, "", 2002),
                     ST_PROBE_EV_RESTART_NEEDED | ST_PROBE_EV_READY_CHANGED);
    assert_string_equal(st_prober_restart_reason(p), "Liveness probe failed");
    /* The readiness run that was in flight when the restart came is dropped. */
    assert_int_equal(st_prober_report(p, ST_PROBE_READINESS, true, "", 2003), 0);

    st_prober_reset(p, 50000);
    assert_null(st_prober_restart_reason(p));
    assert_false(st_prober_ready(p));
    struct st_probe_status st;
    st_prober_status(p, ST_PROBE_LIVENESS, &st);
    assert_false(st.has_result);
    assert_int_equal(st.consecutive_failures, 0);
    assert_false(st.in_flight);
    enum st_probe_kind which = ST_PROBE_STARTUP;
    assert_int_equal(st_prober_next_due(p, 50000, &which), 50000);
    assert_int_equal(which, ST_PROBE_READINESS);
    assert_int_equal(st_prober_due(p, 51999), ST_PROBE_BIT(ST_PROBE_READINESS));
    assert_int_equal(st_prober_due(p, 52000), ST_PROBE_BIT(ST_PROBE_LIVENESS));
    assert_ptr_equal(st_prober_spec(p, ST_PROBE_LIVENESS), &live);
    assert_null(st_prober_spec(p, ST_PROBE_STARTUP));
    st_prober_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_new_rejects_invalid_spec),
        cmocka_unit_test(test_no_probes_ready_at_once),
        cmocka_unit_test(test_liveness_threshold_and_period),
        cmocka_unit_test(test_slow_run_delays_next),
        cmocka_unit_test(test_startup_gates_others),
        cmocka_unit_test(test_startup_failure_restarts),
        cmocka_unit_test(test_startup_without_readiness_makes_ready),
        cmocka_unit_test(test_readiness_thresholds),
        cmocka_unit_test(test_reset_on_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
