/* probe.h: container health probes with Kubernetes semantics (startup,
 * liveness, readiness; exec, tcpSocket, httpGet). The prober is a pure state
 * machine: it never reads a clock or does I/O, time is passed in. The runners
 * (st_probe_start and friends) do the I/O in a short-lived child process so
 * the caller's event loop never blocks and never changes namespace. */
#ifndef STRATA_PROBE_H
#define STRATA_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "strata/error.h"

enum st_probe_kind {
    ST_PROBE_STARTUP = 0,
    ST_PROBE_LIVENESS = 1,
    ST_PROBE_READINESS = 2,
};
#define ST_PROBE_KIND_COUNT 3
#define ST_PROBE_BIT(kind)  (1u << (kind))

enum st_probe_handler {
    ST_PROBE_HANDLER_NONE = 0,
    ST_PROBE_HANDLER_EXEC,
    ST_PROBE_HANDLER_TCP,
    ST_PROBE_HANDLER_HTTP,
};

struct st_probe_http_header {
    const char *name;
    const char *value;
};

/* One probe as written in a manifest. Numeric fields left at 0 take the
 * Kubernetes default (period 10 s, timeout 1 s, success 1, failure 3).
 * The spec is borrowed by the prober and the runners: keep it alive. */
struct st_probe_spec {
    enum st_probe_handler handler;
    /* exec */
    char *const *command; /* NULL-terminated argv */
    /* tcpSocket and httpGet */
    const char *host; /* an IP literal; NULL = 127.0.0.1 in the container's netns */
    int port;         /* 1..65535 */
    /* httpGet */
    const char *path;   /* NULL = "/" */
    const char *scheme; /* NULL or "HTTP"; "HTTPS" is refused as not supported */
    const struct st_probe_http_header *headers;
    size_t n_headers;
    /* timing (seconds) and thresholds */
    int initial_delay_s;
    int period_s;
    int timeout_s;
    int success_threshold;
    int failure_threshold;
};

/* Checks a spec for use as `kind` (successThreshold must be 1 for liveness
 * and startup; HTTPS is not supported; ports, paths and headers well formed).
 * The message names the offending field. */
int st_probe_spec_validate(const struct st_probe_spec *spec, enum st_probe_kind kind,
                           st_error *err);

/* Effective values after defaulting. */
int st_probe_spec_period_s(const struct st_probe_spec *spec);
int st_probe_spec_timeout_s(const struct st_probe_spec *spec);
int st_probe_spec_success_threshold(const struct st_probe_spec *spec);
int st_probe_spec_failure_threshold(const struct st_probe_spec *spec);

/* "Startup", "Liveness", "Readiness". */
const char *st_probe_kind_name(enum st_probe_kind kind);

/* ---- the state machine (one container instance) ---- */

struct st_prober;

/* Events returned by st_prober_report (a bit mask). */
#define ST_PROBE_EV_READY_CHANGED     1u
#define ST_PROBE_EV_RESTART_NEEDED    2u
#define ST_PROBE_EV_STARTUP_SUCCEEDED 4u

#define ST_PROBE_MSG_MAX 256

/* What `describe` shows for one probe. */
struct st_probe_status {
    bool configured;
    bool has_result; /* ran at least once in this instance */
    bool last_success;
    char last_message[ST_PROBE_MSG_MAX];
    long long last_run_ms; /* when the last result was reported */
    int consecutive_successes;
    int consecutive_failures;
    bool in_flight;
};

/* Any spec may be NULL (no such probe); each non-NULL spec is validated for
 * its kind. start_ms: when the container instance started. */
int st_prober_new(const struct st_probe_spec *startup, const struct st_probe_spec *liveness,
                  const struct st_probe_spec *readiness, long long start_ms, struct st_prober **out,
                  st_error *err);
void st_prober_free(struct st_prober *p);

/* A new container instance (after a restart): every counter, result and the
 * ready flag start over, timed from start_ms. */
void st_prober_reset(struct st_prober *p, long long start_ms);

/* When the next probe must run (ms, may be <= now_ms: due now) and which one
 * (*which may be NULL). Returns -1 when nothing is scheduled: no probes, all
 * due probes in flight, or a restart is pending. */
long long st_prober_next_due(const struct st_prober *p, long long now_ms,
                             enum st_probe_kind *which);

/* The probes due at now_ms, as a mask of ST_PROBE_BIT(kind); each returned
 * probe is marked in flight until its result is reported. */
unsigned st_prober_due(struct st_prober *p, long long now_ms);

/* The result of a probe run. Returns ST_PROBE_EV_* bits. A report for a
 * probe that is not configured or not active (gated by startup, or after a
 * restart was requested) is ignored and returns 0. */
unsigned st_prober_report(struct st_prober *p, enum st_probe_kind kind, bool success,
                          const char *message, long long now_ms);

bool st_prober_ready(const struct st_prober *p);
/* Startup probe succeeded, or there is none. */
bool st_prober_started(const struct st_prober *p);
/* After RESTART_NEEDED: e.g. "Liveness probe failed: HTTP probe failed with
 * statuscode: 500"; NULL otherwise. */
const char *st_prober_restart_reason(const struct st_prober *p);
/* The spec given for kind, or NULL. */
const struct st_probe_spec *st_prober_spec(const struct st_prober *p, enum st_probe_kind kind);
void st_prober_status(const struct st_prober *p, enum st_probe_kind kind,
                      struct st_probe_status *out);

/* ---- the runners (real I/O, in a child process) ---- */

struct st_probe_run;

/* Starts one probe run. tcp/http: a child joins the network namespace of
 * container_pid (0 = stay in the caller's) and connects; exec: the child runs
 * spec->command through st_exec in the container of container_pid, joining
 * cgroup (may be NULL). *fd_out becomes readable when the result is there;
 * then call st_probe_finish, or st_probe_cancel to give up. The run enforces
 * the spec's timeout itself. */
int st_probe_start(const struct st_probe_spec *spec, pid_t container_pid, const char *cgroup,
                   struct st_probe_run **out, int *fd_out, st_error *err);

/* Collects the result (success + message like the kubelet's), reaps the
 * child and frees run (also on error). An error means the runner itself broke
 * (not that the probe failed): treat it as a failed probe. */
int st_probe_finish(struct st_probe_run *run, bool *success, char *msg, size_t msglen,
                    st_error *err);

/* Kills and reaps the child (and what it started), frees run. NULL is fine. */
void st_probe_cancel(struct st_probe_run *run);

/* Start + wait + finish, blocking the caller for up to the timeout. */
int st_probe_run_sync(const struct st_probe_spec *spec, pid_t container_pid, const char *cgroup,
                      bool *success, char *msg, size_t msglen, st_error *err);

#endif
