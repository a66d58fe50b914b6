/* probe_runner.h: private interface between the probe run plumbing
 * (probe_run.c: fork, pipe, netns, reaping) and the handlers (probe_exec.c,
 * probe_tcp.c, probe_http.c). Not installed; only the runtime includes it.
 * Handlers prepare everything in the parent, so the child only does syscalls. */
#ifndef STRATA_PROBE_RUNNER_H
#define STRATA_PROBE_RUNNER_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "strata/probe.h"

/* What the child writes to the pipe in one write (well under PIPE_BUF). */
struct st_probe_result {
    int32_t success;
    char message[ST_PROBE_MSG_MAX];
};

struct st_probe_job {
    const struct st_probe_spec *spec;
    pid_t target;       /* container process, 0 = caller's namespaces */
    const char *cgroup; /* exec only */
    int timeout_ms;
    /* tcp and http, filled by st_probe_tcp_prepare */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char hostport[64]; /* "127.0.0.1:8080", "[::1]:8080" */
    /* http, filled by st_probe_http_prepare (owned, freed by the parent) */
    char *request;
    size_t request_len;
    char *url;
};

/* Monotonic milliseconds (async-signal-safe: clock_gettime). */
long long st_probe_clock_ms(void);

/* printf into res->message (after fork: snprintf does not allocate for the
 * formats used here). */
void st_probe_result_set(struct st_probe_result *res, bool success, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "connection refused": strerror in the kubelet's lower-case wording. */
void st_probe_errstr(int code, char *buf, size_t len);

int st_probe_tcp_prepare(struct st_probe_job *job, st_error *err);
/* Connects before deadline_ms; returns the socket, or -1 with res filled. */
int st_probe_tcp_connect(const struct st_probe_job *job, long long deadline_ms,
                         struct st_probe_result *res);
void st_probe_tcp_child(const struct st_probe_job *job, struct st_probe_result *res);

int st_probe_http_prepare(struct st_probe_job *job, st_error *err);
void st_probe_http_child(const struct st_probe_job *job, struct st_probe_result *res);

void st_probe_exec_child(const struct st_probe_job *job, struct st_probe_result *res);

#endif
