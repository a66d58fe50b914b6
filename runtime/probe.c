/* probe.c: probe spec validation and the prober state machine (startup gates
 * liveness and readiness; thresholds; ready flag; restart decision). It must
 * stay pure: no clock reads, no I/O, so a fake clock drives it in the tests. */
#include "strata/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PERIOD_S  10
#define DEFAULT_TIMEOUT_S 1
#define DEFAULT_SUCCESS   1
#define DEFAULT_FAILURE   3

struct probe_state {
    const struct st_probe_spec *spec;
    long long next_ms; /* the earliest time it may run again */
    bool in_flight;
    bool has_result;
    bool last_success;
    char message[ST_PROBE_MSG_MAX];
    long long last_run_ms;
    int successes; /* consecutive */
    int failures;  /* consecutive */
};

struct st_prober {
    struct probe_state probe[ST_PROBE_KIND_COUNT];
    bool started;
    bool ready;
    bool restart_needed;
    char restart_reason[ST_PROBE_MSG_MAX + 32];
};

/* ---- specs ---- */

static const char *const kind_names[ST_PROBE_KIND_COUNT] = {"Startup", "Liveness", "Readiness"};
static const char *const kind_fields[ST_PROBE_KIND_COUNT] = {"startupProbe", "livenessProbe",
                                                             "readinessProbe"};

const char *st_probe_kind_name(enum st_probe_kind kind)
{
    return (unsigned)kind < ST_PROBE_KIND_COUNT ? kind_names[kind] : "Unknown";
}

int st_probe_spec_period_s(const struct st_probe_spec *spec)
{
    return spec->period_s > 0 ? spec->period_s : DEFAULT_PERIOD_S;
}

int st_probe_spec_timeout_s(const struct st_probe_spec *spec)
{
    return spec->timeout_s > 0 ? spec->timeout_s : DEFAULT_TIMEOUT_S;
}

int st_probe_spec_success_threshold(const struct st_probe_spec *spec)
{
    return spec->success_threshold > 0 ? spec->success_threshold : DEFAULT_SUCCESS;
}

int st_probe_spec_failure_threshold(const struct st_probe_spec *spec)
{
    return spec->failure_threshold > 0 ? spec->failure_threshold : DEFAULT_FAILURE;
}

/* RFC 9110 token characters, the only ones allowed in a header name. */
static bool is_token(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}

/* A header value or path must not smuggle a line break into the request. */
static bool is_header_safe(const char *s, bool allow_space)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\r' || c == '\n' || c == 0x7f || (c < 0x20 && c != '\t') ||
            (!allow_space && (c == ' ' || c == '\t')))
            return false;
    }
    return true;
}

static int validate_target(const struct st_probe_spec *spec, const char *field, const char *handler,
                           st_error *err)
{
    if (spec->port < 1 || spec->port > 65535)
        return st_error_set(err, EINVAL, "%s.%s.port: %d is not a port number (1..65535)", field,
                            handler, spec->port);
    if (spec->host != NULL) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, spec->host, addr) != 1 && inet_pton(AF_INET6, spec->host, addr) != 1)
            return st_error_set(err, EINVAL,
                                "%s.%s.host: \"%s\" is not an IP address; give an IPv4 or IPv6 "
                                "address or leave it out for the pod's 127.0.0.1",
                                field, handler, spec->host);
    }
    return 0;
}

static int validate_http(const struct st_probe_spec *spec, const char *field, st_error *err)
{
    if (spec->scheme != NULL && strcasecmp(spec->scheme, "HTTP") != 0) {
        if (strcasecmp(spec->scheme, "HTTPS") == 0)
            return st_error_set(err, ENOTSUP,
                                "%s.httpGet.scheme: HTTPS is not supported by strata probes; use "
                                "scheme HTTP or a tcpSocket probe",
                                field);
        return st_error_set(err, EINVAL, "%s.httpGet.scheme: \"%s\" is not HTTP or HTTPS", field,
                            spec->scheme);
    }
    if (spec->path != NULL && (spec->path[0] != '/' || !is_header_safe(spec->path, false)))
        return st_error_set(err, EINVAL,
                            "%s.httpGet.path: \"%s\" must start with '/' and contain no spaces "
                            "or control characters",
                            field, spec->path);
    if (spec->n_headers > 0 && spec->headers == NULL)
        return st_error_set(err, EINVAL, "%s.httpGet.httpHeaders: %zu headers but no array", field,
                            spec->n_headers);
    for (size_t i = 0; i < spec->n_headers; i++) {
        const struct st_probe_http_header *h = &spec->headers[i];
        if (!is_token(h->name))
            return st_error_set(err, EINVAL,
                                "%s.httpGet.httpHeaders[%zu].name: \"%s\" is not a valid header "
                                "name",
                                field, i, h->name ? h->name : "");
        if (h->value == NULL || !is_header_safe(h->value, true))
            return st_error_set(err, EINVAL,
                                "%s.httpGet.httpHeaders[%zu].value: missing or contains a line "
                                "break or control character",
                                field, i);
    }
    return validate_target(spec, field, "httpGet", err);
}

int st_probe_spec_validate(const struct st_probe_spec *spec, enum st_probe_kind kind, st_error *err)
{
    if ((unsigned)kind >= ST_PROBE_KIND_COUNT)
        return st_error_set(err, EINVAL, "probe kind %d is not startup, liveness or readiness",
                            (int)kind);
    const char *field = kind_fields[kind];
    if (spec == NULL)
        return st_error_set(err, EINVAL, "%s: no spec given", field);

    struct {
        const char *name;
        int value;
    } nums[] = {{"initialDelaySeconds", spec->initial_delay_s},
                {"periodSeconds", spec->period_s},
                {"timeoutSeconds", spec->timeout_s},
                {"successThreshold", spec->success_threshold},
                {"failureThreshold", spec->failure_threshold}};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].value < 0)
            return st_error_set(err, EINVAL,
                                "%s.%s: %d is negative; use 0 for the default or a "
                                "positive number",
                                field, nums[i].name, nums[i].value);
    if (kind != ST_PROBE_READINESS && st_probe_spec_success_threshold(spec) != 1)
        return st_error_set(err, EINVAL, "%s.successThreshold: must be 1 for %s probes (got %d)",
                            field, kind == ST_PROBE_STARTUP ? "startup" : "liveness",
                            spec->success_threshold);

    switch (spec->handler) {
    case ST_PROBE_HANDLER_EXEC:
        if (spec->command == NULL || spec->command[0] == NULL || spec->command[0][0] == '\0')
            return st_error_set(err, EINVAL, "%s.exec.command: must name a program to run", field);
        return 0;
    case ST_PROBE_HANDLER_TCP:
        return validate_target(spec, field, "tcpSocket", err);
    case ST_PROBE_HANDLER_HTTP:
        return validate_http(spec, field, err);
    case ST_PROBE_HANDLER_NONE:
        break;
    }
    return st_error_set(err, EINVAL, "%s: needs exactly one handler: exec, tcpSocket or httpGet",
                        field);
}

/* ---- the state machine ---- */

static bool is_active(const struct st_prober *p, enum st_probe_kind kind)
{
    if (p->probe[kind].spec == NULL || p->restart_needed)
        return false;
    /* Startup runs until it succeeds; the others wait for it. */
    return kind == ST_PROBE_STARTUP ? !p->started : p->started;
}

static long long period_ms(const struct probe_state *s)
{
    return (long long)st_probe_spec_period_s(s->spec) * 1000;
}

void st_prober_reset(struct st_prober *p, long long start_ms)
{
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        struct probe_state *s = &p->probe[k];
        const struct st_probe_spec *spec = s->spec;
        memset(s, 0, sizeof(*s));
        s->spec = spec;
        if (spec != NULL)
            s->next_ms = start_ms + (long long)spec->initial_delay_s * 1000;
    }
    p->started = p->probe[ST_PROBE_STARTUP].spec == NULL;
    p->ready = p->started && p->probe[ST_PROBE_READINESS].spec == NULL;
    p->restart_needed = false;
    p->restart_reason[0] = '\0';
}

int st_prober_new(const struct st_probe_spec *startup, const struct st_probe_spec *liveness,
                  const struct st_probe_spec *readiness, long long start_ms, struct st_prober **out,
                  st_error *err)
{
    const struct st_probe_spec *specs[ST_PROBE_KIND_COUNT] = {startup, liveness, readiness};
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        if (specs[k] == NULL)
            continue;
        int r = st_probe_spec_validate(specs[k], (enum st_probe_kind)k, err);
        if (r < 0)
            return r;
    }
    struct st_prober *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return st_error_set(err, ENOMEM, "out of memory allocating a prober");
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++)
        p->probe[k].spec = specs[k];
    st_prober_reset(p, start_ms);
    *out = p;
    return 0;
}

void st_prober_free(struct st_prober *p)
{
    free(p);
}

long long st_prober_next_due(const struct st_prober *p, long long now_ms, enum st_probe_kind *which)
{
    (void)now_ms; /* due times are absolute; kept for a symmetric API */
    long long best = -1;
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        const struct probe_state *s = &p->probe[k];
        if (!is_active(p, (enum st_probe_kind)k) || s->in_flight)
            continue;
        if (best < 0 || s->next_ms < best) {
            best = s->next_ms;
            if (which)
                *which = (enum st_probe_kind)k;
        }
    }
    return best;
}

unsigned st_prober_due(struct st_prober *p, long long now_ms)
{
    unsigned mask = 0;
    for (int k = 0; k < ST_PROBE_KIND_COUNT; k++) {
        struct probe_state *s = &p->probe[k];
        if (!is_active(p, (enum st_probe_kind)k) || s->in_flight || s->next_ms > now_ms)
            continue;
        s->in_flight = true;
        /* Like the kubelet's ticker: the period runs from the start of a run,
         * and a run longer than the period delays the next, never doubles up. */
        s->next_ms = now_ms + period_ms(s);
        mask |= ST_PROBE_BIT(k);
    }
    return mask;
}

static unsigned set_ready(struct st_prober *p, bool ready)
{
    if (p->ready == ready)
        return 0;
    p->ready = ready;
    return ST_PROBE_EV_READY_CHANGED;
}

static unsigned request_restart(struct st_prober *p, enum st_probe_kind kind, const char *message)
{
    p->restart_needed = true;
    if (message != NULL && *message)
        snprintf(p->restart_reason, sizeof(p->restart_reason), "%s probe failed: %s",
                 kind_names[kind], message);
    else
        snprintf(p->restart_reason, sizeof(p->restart_reason), "%s probe failed", kind_names[kind]);
    /* The container is about to be killed: it no longer serves traffic. */
    return ST_PROBE_EV_RESTART_NEEDED | set_ready(p, false);
}

unsigned st_prober_report(struct st_prober *p, enum st_probe_kind kind, bool success,
                          const char *message, long long now_ms)
{
    if ((unsigned)kind >= ST_PROBE_KIND_COUNT || !is_active(p, kind))
        return 0;
    struct probe_state *s = &p->probe[kind];
    if (!s->in_flight)
        s->next_ms = now_ms + period_ms(s); /* a result that was not asked through st_prober_due */
    s->in_flight = false;
    s->has_result = true;
    s->last_success = success;
    s->last_run_ms = now_ms;
    snprintf(s->message, sizeof(s->message), "%s", message ? message : "");
    if (success) {
        s->successes++;
        s->failures = 0;
    } else {
        s->failures++;
        s->successes = 0;
    }

    const int fail_thr = st_probe_spec_failure_threshold(s->spec);
    switch (kind) {
    case ST_PROBE_STARTUP:
        if (!success)
            return s->failures >= fail_thr ? request_restart(p, kind, message) : 0;
        p->started = true;
        /* Liveness and readiness start now, or at their initial delay if later. */
        for (int k = ST_PROBE_LIVENESS; k < ST_PROBE_KIND_COUNT; k++)
            if (p->probe[k].spec != NULL && p->probe[k].next_ms < now_ms)
                p->probe[k].next_ms = now_ms;
        return ST_PROBE_EV_STARTUP_SUCCEEDED |
               (p->probe[ST_PROBE_READINESS].spec == NULL ? set_ready(p, true) : 0);
    case ST_PROBE_LIVENESS:
        return !success && s->failures >= fail_thr ? request_restart(p, kind, message) : 0;
    case ST_PROBE_READINESS:
        if (success && s->successes >= st_probe_spec_success_threshold(s->spec))
            return set_ready(p, true);
        if (!success && s->failures >= fail_thr)
            return set_ready(p, false);
        return 0;
    }
    return 0;
}

bool st_prober_ready(const struct st_prober *p)
{
    return p->ready;
}

bool st_prober_started(const struct st_prober *p)
{
    return p->started;
}

const char *st_prober_restart_reason(const struct st_prober *p)
{
    return p->restart_needed ? p->restart_reason : NULL;
}

const struct st_probe_spec *st_prober_spec(const struct st_prober *p, enum st_probe_kind kind)
{
    return (unsigned)kind < ST_PROBE_KIND_COUNT ? p->probe[kind].spec : NULL;
}

void st_prober_status(const struct st_prober *p, enum st_probe_kind kind,
                      struct st_probe_status *out)
{
    memset(out, 0, sizeof(*out));
    if ((unsigned)kind >= ST_PROBE_KIND_COUNT || p->probe[kind].spec == NULL)
        return;
    const struct probe_state *s = &p->probe[kind];
    out->configured = true;
    out->has_result = s->has_result;
    out->last_success = s->last_success;
    snprintf(out->last_message, sizeof(out->last_message), "%s", s->message);
    out->last_run_ms = s->last_run_ms;
    out->consecutive_successes = s->successes;
    out->consecutive_failures = s->failures;
    out->in_flight = s->in_flight;
}
