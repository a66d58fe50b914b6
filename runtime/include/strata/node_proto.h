/* node_proto.h: the node protocol between the host (vmm/) and strata-node:
 * newline-delimited JSON objects, each with "type" and a per-sender monotonic
 * "seq". It frames, encodes, decodes and builds messages; it does no I/O
 * policy (no retries, no timers) and never owns a file descriptor. */
#ifndef STRATA_NODE_PROTO_H
#define STRATA_NODE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/error.h"

/* A line (without its '\n') longer than this is a protocol error. */
#define ST_PROTO_LINE_MAX (1024 * 1024)

/* The virtio-serial port name the node agent looks for in the guest. */
#define ST_PROTO_PORT_NAME "org.strata.node.0"
/* The second port: Services' streams (strata/relay.h), apart from the node
 * channel so a busy Service never delays a heartbeat. */
#define ST_PROTO_DATA_PORT_NAME "org.strata.data.0"

/* Kernel cmdline keys stratad writes for the pod network:
 * strata.podcidr=10.244.K.0/24 (this node's pods) and
 * strata.svccidr=10.96.0.0/16 (clusterIPs; local to every guest). */
#define ST_PROTO_CMDLINE_PODCIDR "strata.podcidr"
#define ST_PROTO_CMDLINE_SVCCIDR "strata.svccidr"
/* strata.template=1: the VM is booted to be saved as a template (vmm's
 * node_template.c): strata-node holds back (no 9p mount, no name) and
 * answers each host that connects with `template_wait` until one sends
 * `identity`: {name, args (kernel-cmdline-style settings, read after the
 * real cmdline), hostname, machineId (32 hex), seed (64 bytes as hex: the
 * guest's RNG is reseeded with them), unixMillis (the clock is stepped)}. */
#define ST_PROTO_CMDLINE_TEMPLATE "strata.template"
/* strata.host_grace_ms=N (0 to ST_PROTO_HOST_GRACE_MAX_MS; 0, the default,
 * = off): strata-node SIGKILLs every pod's containers once it has read
 * nothing from its host for N ms (the guest half of a host's self-fence:
 * a kill -9'd stratad leaves its VMs running while another host takes
 * their pods over). The host may change it later with `settings`. */
#define ST_PROTO_CMDLINE_HOST_GRACE "strata.host_grace_ms"
#define ST_PROTO_HOST_GRACE_MAX_MS  3600000

/* Message types. */
#define ST_PROTO_HELLO         "hello"
#define ST_PROTO_HEARTBEAT     "heartbeat"
#define ST_PROTO_PING          "ping"
#define ST_PROTO_PONG          "pong"
#define ST_PROTO_POD_STATUS    "pod_status"
#define ST_PROTO_LOG           "log"
#define ST_PROTO_POD_RUN       "pod_run"
#define ST_PROTO_POD_STOP      "pod_stop"
#define ST_PROTO_CLOCK         "clock"
#define ST_PROTO_EVENT         "event"
#define ST_PROTO_SERVICES      "services"
#define ST_PROTO_PODS_QUERY    "pods_query"
#define ST_PROTO_PODS          "pods"
#define ST_PROTO_TEMPLATE_WAIT "template_wait"
#define ST_PROTO_IDENTITY      "identity"
#define ST_PROTO_SETTINGS      "settings"

/* Hex digest length of st_proto_pods_digest (64-bit hash), plus NUL. */
#define ST_PROTO_DIGEST_LEN 17

/* ---- line reader ------------------------------------------------------ */

/* Splits a byte stream into lines. Lines handed out are NUL-terminated,
 * without the '\n', and stay valid until the next call on the reader. */
struct st_proto_reader {
    char *buf;
    size_t start; /* first byte not yet handed out */
    size_t len;   /* bytes in buf */
    size_t cap;
    bool discarding; /* skipping the rest of an over-long line */
};

void st_proto_reader_init(struct st_proto_reader *r);
void st_proto_reader_free(struct st_proto_reader *r);
/* Drops buffered bytes (e.g. when a new peer connects). */
void st_proto_reader_reset(struct st_proto_reader *r);

/* Appends bytes to the reader. */
int st_proto_reader_feed(struct st_proto_reader *r, const void *data, size_t n, st_error *err);

/* One read(2) from fd (blocking or not) into the reader. Returns the number
 * of bytes read (> 0), 0 at end of file (peer gone, or for virtio-serial: no
 * host peer yet), -EAGAIN when a nonblocking fd has nothing, or another
 * negative errno with err filled. EINTR is retried. */
int st_proto_reader_fill(struct st_proto_reader *r, int fd, st_error *err);

/* Takes the next complete line. Returns 1 with *line set, 0 when no
 * complete line is buffered, -EMSGSIZE when a line exceeds
 * ST_PROTO_LINE_MAX (reported once; the rest of that line is skipped and
 * reading resumes after its '\n', so the caller may go on or disconnect). */
int st_proto_reader_next(struct st_proto_reader *r, const char **line, st_error *err);

/* ---- framing ---------------------------------------------------------- */

/* Parses one line (no '\n' needed) into *msg (a new reference the caller
 * json_decref()s). Requires a JSON object with a non-empty string "type"
 * and a non-negative integer "seq". *type (optional) points into *msg. */
int st_proto_decode(const char *line, json_t **msg, const char **type, st_error *err);

/* Sets msg's "seq" to ++*seq_counter and serializes it compactly into
 * *line (malloc'd, ends with '\n', caller frees). */
int st_proto_encode(json_t *msg, uint64_t *seq_counter, char **line, st_error *err);

/* "seq" of a decoded message, or -1 when absent. */
int64_t st_proto_seq(const json_t *msg);

/* ---- messages ---------------------------------------------------------
 * Builders return 0 and a new object in *msg (without "seq": st_proto_encode
 * adds it). Parsers check the fields of a decoded message of that type and
 * fill the struct; its strings and json_t pointers are borrowed from msg. */

struct st_proto_hello {
    const char *node;
    const char *version;
    int64_t cpu_millis;   /* capacity.cpuMillis */
    int64_t memory_bytes; /* capacity.memoryBytes */
    const char *kernel;
    int64_t uptime_ms;
    json_t *pods; /* array of pod_status-shaped objects; NULL builds [] */
};
int st_proto_hello_build(const struct st_proto_hello *h, json_t **msg, st_error *err);
int st_proto_hello_parse(json_t *msg, struct st_proto_hello *h, st_error *err);

struct st_proto_heartbeat {
    int64_t uptime_ms;
    const char *pods_digest; /* st_proto_pods_digest of the pod states */
    int64_t pods;            /* number of pods */
};
int st_proto_heartbeat_build(const struct st_proto_heartbeat *hb, json_t **msg, st_error *err);
int st_proto_heartbeat_parse(json_t *msg, struct st_proto_heartbeat *hb, st_error *err);

/* ping {id} from the host, pong {id} (the same id) from the node. */
int st_proto_ping_build(int64_t id, json_t **msg, st_error *err);
int st_proto_pong_build(int64_t id, json_t **msg, st_error *err);
/* Reads "id" of a ping or pong. */
int st_proto_ping_parse(json_t *msg, int64_t *id, st_error *err);

/* pods_query {id} from the host: what does the node run now? The node
 * answers pods {id (the same), pods: [pod_status-shaped objects]}: its pod
 * table as it is at that moment, not the reports the host kept (kubelet's
 * /pods, which is how a check reads a node beside the store). The builder
 * takes a new reference to pods; the parser hands out the array borrowed
 * from msg and checks each entry has a string "pod", "uid" and "phase". */
int st_proto_pods_query_build(int64_t id, json_t **msg, st_error *err);
int st_proto_pods_query_parse(json_t *msg, int64_t *id, st_error *err);
int st_proto_pods_build(int64_t id, json_t *pods, json_t **msg, st_error *err);
int st_proto_pods_parse(json_t *msg, int64_t *id, json_t **pods, st_error *err);

struct st_proto_pod_status {
    const char *pod;
    const char *uid;
    const char *phase; /* Pending, Running, Succeeded, Failed */
    bool ready;
    int64_t restart_count;
    bool has_exit_code; /* false: "exitCode": null */
    int64_t exit_code;
    const char *reason; /* NULL: "reason": null (e.g. "OOMKilled") */
    /* Added with strata-node running pods; optional when parsing, so a
     * message from an older node still parses (NULL when absent). */
    const char *message;    /* NULL: "message": null; what a person should read */
    const char *started_at; /* NULL: "startedAt": null; RFC 3339 UTC, pod accepted */
    bool removed;           /* "removed": the last status after pod_stop; the node forgot it */
    /* "containerStatuses": array of Kubernetes-shaped container statuses
     * {name, image, ready, started, restartCount, state, lastState}, state
     * and lastState being {} or one of {"waiting": {reason, message}},
     * {"running": {startedAt}}, {"terminated": {exitCode, signal, reason,
     * message, startedAt, finishedAt}}. NULL: omitted when building. */
    json_t *containers;
    /* "podIP": the pod's address on the node's pod network; NULL: omitted
     * (no address yet, or the node has no pod network). */
    const char *pod_ip;
};
int st_proto_pod_status_build(const struct st_proto_pod_status *ps, json_t **msg, st_error *err);
int st_proto_pod_status_parse(json_t *msg, struct st_proto_pod_status *ps, st_error *err);

struct st_proto_log {
    const char *pod;
    const char *container;
    const char *stream; /* "stdout" or "stderr" */
    const char *line;
};
int st_proto_log_build(const struct st_proto_log *lg, json_t **msg, st_error *err);
int st_proto_log_parse(json_t *msg, struct st_proto_log *lg, st_error *err);

struct st_proto_pod_run {
    const char *pod;
    const char *uid;
    json_t *spec; /* the full pod spec object; the builder takes a new reference */
};
int st_proto_pod_run_build(const struct st_proto_pod_run *pr, json_t **msg, st_error *err);
int st_proto_pod_run_parse(json_t *msg, struct st_proto_pod_run *pr, st_error *err);

struct st_proto_pod_stop {
    const char *pod;
    const char *uid;
};
int st_proto_pod_stop_build(const struct st_proto_pod_stop *ps, json_t **msg, st_error *err);
int st_proto_pod_stop_parse(json_t *msg, struct st_proto_pod_stop *ps, st_error *err);

/* clock {unixMillis} from the host: its CLOCK_REALTIME in milliseconds when
 * it built the message, so a node whose RTC has 1 s resolution can keep its
 * timestamps in step with the host's (unixMillis >= 0). */
int st_proto_clock_build(int64_t unix_millis, json_t **msg, st_error *err);
int st_proto_clock_parse(json_t *msg, int64_t *unix_millis, st_error *err);

/* settings from the host: what it wants of the node from now on. Every
 * field is optional: an absent one leaves the node's setting as it is, so
 * a host sends only what it manages, and a node ignores fields it does not
 * know (an older node logs the whole message as of an unknown type).
 *   hostGraceMs: the self-fence's grace, as strata.host_grace_ms= (0 =
 *   off, at most ST_PROTO_HOST_GRACE_MAX_MS); a host that re-adopts a node
 *   sends it after the hello. */
struct st_proto_settings {
    bool has_host_grace_ms;
    int64_t host_grace_ms;
};
int st_proto_settings_build(const struct st_proto_settings *s, json_t **msg, st_error *err);
int st_proto_settings_parse(json_t *msg, struct st_proto_settings *s, st_error *err);

/* event from the node: what the kubelet would record about a pod (Killing,
 * Unhealthy, BackOff, ...), for the host to store as a core/v1 Event. */
struct st_proto_event {
    const char *pod;
    const char *uid;
    const char *ns;         /* "namespace": NULL = omitted (the node does not know it) */
    const char *event_type; /* "eventType": "Normal" or "Warning" */
    const char *reason;     /* CamelCase, non-empty */
    const char *message;
};
int st_proto_event_build(const struct st_proto_event *ev, json_t **msg, st_error *err);
int st_proto_event_parse(json_t *msg, struct st_proto_event *ev, st_error *err);

/* services from the host: the full snapshot of the Services the node's
 * pods may reach, sent after hello and whenever it changes:
 *   [{"namespace", "name", "clusterIP": "10.96.0.10",
 *     "ports": [{"name": "http" (optional), "port": 80, "protocol": "TCP",
 *                "backends": ["10.244.1.2:8080", ...]}]}]
 * backends are the ready endpoints only, as numeric IPv4 "ADDR:PORT".
 * The builder takes a new reference to services; the parser checks every
 * field and hands out the array borrowed from msg. */
int st_proto_services_build(json_t *services, json_t **msg, st_error *err);
int st_proto_services_parse(json_t *msg, json_t **services, st_error *err);

/* The fields of one entry of a snapshot (borrowed; NULL when absent or
 * not of their type, which st_proto_services_parse refuses). */
struct st_proto_service {
    const char *ns, *name, *cluster_ip;
    json_t *ports;
};
void st_proto_service_fields(const json_t *svc, struct st_proto_service *out);

/* Numeric IPv4 "A.B.C.D" into *addr (host byte order); with port != NULL,
 * "A.B.C.D:PORT" (1-65535). false when s is anything else. */
bool st_proto_ipv4_parse(const char *s, uint32_t *addr, int *port);

/* Hex digest (FNV-1a 64) of pod states, independent of their order: each
 * object of the array is serialized with sorted keys, the strings are
 * sorted, then hashed. pods may be NULL or empty. */
int st_proto_pods_digest(const json_t *pods, char out[ST_PROTO_DIGEST_LEN], st_error *err);

#endif
