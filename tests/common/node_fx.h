/* node_fx.h: the fixture of the strata-node integration tests
 * (tests/runtime/itest_node_*.c): strata-node on this host serving real
 * pods, and this test as its host (see node_fx.c). Use
 * st_nodefx_setup/st_nodefx_teardown as the cmocka setup and teardown,
 * st_nodefx_start at the beginning of each test, and set fx->passed at
 * the end (a failed test shows the node's log). */
#ifndef STRATA_TEST_NODE_FX_H
#define STRATA_TEST_NODE_FX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/node_proto.h"

#define ST_NODEFX_WAIT_MS 20000
/* --heartbeat-ms of the node, unless a test sets fx->heartbeat_ms */
#define ST_NODEFX_HEARTBEAT_MS 200

struct st_nodefx {
    char *dir; /* mkdtemp on the ordinary disk: socket and node log */
    char *fs;  /* dir/fs: the tmpfs with images/ and state/ */
    char *images, *state, *sock, *log;
    bool mounted;
    bool passed;      /* set at the end of each test: otherwise teardown shows the log */
    int heartbeat_ms; /* set before st_nodefx_start; 0 = ST_NODEFX_HEARTBEAT_MS */
    /* set before st_nodefx_start: the node's kernel cmdline (--cmdline of
     * a file with this text); NULL = this host's /proc/cmdline */
    const char *cmdline;
    pid_t pid;
    int fd; /* our connection as the host */
    struct st_proto_reader rd;
    uint64_t seq;
    char *logs;          /* every log message so far: "pod/container/stream: line\n" */
    int64_t hb_pods;     /* "pods" of the last heartbeat, -1 before one */
    int64_t hb_count;    /* heartbeats seen */
    int64_t hb_uptime;   /* uptimeMillis of the last heartbeat, -1 before one */
    int64_t hb_max_gap;  /* longest uptimeMillis gap between heartbeats (a test may reset it) */
    int64_t last_seq;    /* seq of the last message: each must be greater */
    json_t *events;      /* every event message so far */
    char uid_prefix[32]; /* pod uids of this process: cgroups and mounts are named after them */
    int n_pods;
};

/* A failure about the node: the teardown shows its log. */
#define st_nodefx_fail(fx, ...)                                                                    \
    do {                                                                                           \
        (void)(fx);                                                                                \
        fail_msg(__VA_ARGS__);                                                                     \
    } while (0)

/* What a pod_status must show; NULL / -1 = anything. */
struct st_nodefx_want {
    const char *phase;
    int ready;
    const char *reason;
    int min_restarts;
};

int st_nodefx_setup(void **state);
int st_nodefx_teardown(void **state);
/* Mounts the tmpfs, fills the image store, starts strata-node (heartbeat
 * every fx->heartbeat_ms) and connects as the host (hello, no pods). */
void st_nodefx_start(struct st_nodefx *fx);
/* Connects to the node's socket again (a restarted host); returns the fd. */
int st_nodefx_connect(struct st_nodefx *fx);
/* Encodes msg (consumed) with the next seq and writes it to the node. */
void st_nodefx_send(struct st_nodefx *fx, json_t *msg);
/* The next message within the deadline (st_test_now_ms), or NULL; every
 * message is noted in fx (logs, heartbeats, events, seq order). */
json_t *st_nodefx_recv_until(struct st_nodefx *fx, long long deadline);
const char *st_nodefx_type(json_t *msg);
/* Reads until a message of type arrives (the others are noted). */
json_t *st_nodefx_recv_type(struct st_nodefx *fx, const char *type);
/* The first pod_status of uid that matches; fails after timeout_ms. */
json_t *st_nodefx_wait_status(struct st_nodefx *fx, const char *uid, struct st_nodefx_want w,
                              int timeout_ms);
/* Waits until the log line "pod/container/stream: line" arrived. */
void st_nodefx_wait_log(struct st_nodefx *fx, const char *entry);
/* Waits for a heartbeat (after the current one) saying pods == n. */
void st_nodefx_wait_heartbeat_pods(struct st_nodefx *fx, int64_t n);
/* A pod uid of this process (malloc'd). */
char *st_nodefx_new_uid(struct st_nodefx *fx);
/* pod_run with the spec given as JSON text, in namespace "itest". */
void st_nodefx_pod_run(struct st_nodefx *fx, const char *pod, const char *uid,
                       const char *spec_text);
void st_nodefx_pod_stop(struct st_nodefx *fx, const char *pod, const char *uid);
/* cgroup folders of the pod's containers, in every hierarchy. */
size_t st_nodefx_count_cgroups(const char *uid);
bool st_nodefx_mounts_mention(const char *what);
/* After the final status of a stopped pod: nothing of it is left. */
void st_nodefx_assert_pod_gone(struct st_nodefx *fx, const char *uid);
/* pod_stop, then the final status ("removed"), then a heartbeat saying
 * pods_left; nothing of it may be left. Returns the final status. */
json_t *st_nodefx_stop_and_check(struct st_nodefx *fx, const char *pod, const char *uid,
                                 int64_t pods_left);
/* containerStatuses[i] of a pod_status (borrowed). */
json_t *st_nodefx_container_status(json_t *st, size_t i);

#endif
