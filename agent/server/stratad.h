/* stratad.h: what the files of the daemon share: its configuration, the
 * handles it owns (store, vmm, HTTP server) and the per-node runtime table
 * (heartbeats, the pods sent to each node, pod logs). Only agent/stratad/
 * includes it; the libraries never see the daemon. */
#ifndef STRATAD_H
#define STRATAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/store.h"
#include "strata/vmm.h"

#define STRATAD_STATE_DIR_DEFAULT "/var/lib/strata"
#define STRATAD_SOCKET_DEFAULT    "/run/strata/strata.sock"
/* A running node that sends nothing for this long is fenced (DESIGN.md);
 * nodes send heartbeats every quarter of it (liveness.c). */
#define STRATAD_GRACE_MS_DEFAULT 3000
/* Controller passes run at least this often, and at once when kicked. */
#define STRATAD_RESYNC_MS 500
/* `node rm`: how long the guest gets to power off before it is destroyed. */
#define STRATAD_SHUTDOWN_MS 2000
/* Log lines kept per pod for `stratactl logs`. */
#define STRATAD_LOG_LINES 1000

struct stratad_config {
    const char *state_dir;
    const char *socket_path;
    const char *db_dsn;      /* NULL: the embedded PostgreSQL cluster */
    const char *libvirt_uri; /* NULL: qemu:///system */
    const char *node_image;  /* folder with vmlinux and initramfs.cpio */
    const char *images_dir;  /* the image store; NULL: STATE_DIR/images */
    int grace_ms;
};

/* What the daemon knows of one node beyond the store: liveness and the pods
 * it has been asked to run. Guarded by stratad.lock. */
struct node_rt {
    struct node_rt *next;
    char name[64];
    bool provisioning; /* a worker is starting its VM */
    bool connected;    /* hello seen on the current channel */
    bool dead;         /* death handled; nothing is sent to it any more */
    bool fencing;      /* heartbeats stopped: its QEMU is being killed */
    bool removing;     /* `node rm` is shutting it down: its death is expected */
    bool unknown;      /* silent past the grace: Ready Unknown, pods not ready, until heard */
    bool held;         /* one of many nodes silent at once: not fenced (liveness.c) */
    int64_t last_msg_ns;
    int64_t grace_from_ns; /* a fresh grace began here (stratad stalled, a hold ended) */
    int64_t unknown_ns;    /* when it was marked unknown */
    json_t *sent;          /* uid -> pod name of pods sent with pod_run; true once a
                            * Terminating pod was sent pod_stop (nodes.c, dispatch) */
    /* when it was last sent the host's clock (st_vmm_now_ns) */
    int64_t clock_sent_ns;
    json_t *reported; /* uid -> its last pod_status, replayed when heard again */
};

/* liveness.c's state; only the controller loop touches it. */
struct stratad_liveness {
    int64_t last_pass_ns;  /* the previous check: a long gap is stratad's own stall */
    int64_t last_fence_ns; /* fences are rate-limited */
    int64_t next_ns;       /* when a verdict may change by the clock (0: none due) */
    bool holding;          /* many nodes silent at once: none is fenced */
    size_t hold_silent, hold_judged;
};

struct stratad {
    struct stratad_config cfg;
    char *nodes_dir; /* STATE_DIR/nodes: channel sockets, console logs */
    char *images_dir;
    int lock_fd;
    st_pg_embedded *pg;
    st_secret_key *key;
    st_store *store;
    st_vmm *vmm;
    struct MHD_Daemon *mhd;
    int listen_fd;
    int kick_fd; /* eventfd: wakes the controller loop */
    atomic_bool stopping;

    pthread_mutex_t lock;
    pthread_cond_t changed;  /* logs appended, state changed (watchers) */
    struct node_rt *nodes;   /* [lock] */
    json_t *logs;            /* [lock] "namespace/name" -> [lines] */
    atomic_ulong generation; /* bumped on every write the API or controllers make */
    atomic_int workers;      /* node start and fence workers running; teardown waits */
    struct stratad_liveness lv;
};

/* main.c */
void stratad_kick(struct stratad *d);
void stratad_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* api.c: the HTTP server on the unix socket. */
int stratad_api_start(struct stratad *d, st_error *err);
void stratad_api_stop(struct stratad *d);

/* api_socket.c */
/* -EADDRINUSE when another stratad answers on path; run it before anything
 * is made in the state dir. */
int stratad_api_socket_check(const char *path, st_error *err);
/* Binds path (its folder made if missing; a stale socket file replaced),
 * mode 0600, and listens. The fd, or a negative errno. */
int stratad_api_listen(const char *path, st_error *err);

/* nodes.c: the node table, re-adoption, node messages and the pods sent to
 * nodes. */
int stratad_nodes_readopt(struct stratad *d, st_error *err);
/* Drains the vmm events (hello, heartbeats, pod status, logs, deaths), then
 * judges the nodes' silence (stratad_liveness_check). */
void stratad_nodes_events(struct stratad *d);
/* Drains the vmm events only (bounded per call). */
void stratad_nodes_drain_events(struct stratad *d);

/* dispatch.c: sends pod_run for pods bound to a live node and not yet
 * sent, pod_stop for pods sent that the store no longer runs there or that
 * are Terminating. */
void stratad_nodes_dispatch(struct stratad *d);
/* Waits (bounded by the VM ready timeout) for node start and fence workers. */
void stratad_nodes_drain(struct stratad *d);
void stratad_nodes_free(struct stratad *d);
/* The runtime entry of a node. [lock] held by the caller. */
struct node_rt *stratad_node_rt(struct stratad *d, const char *name);
/* A fresh entry (or the old one, reset). [lock] held by the caller. */
struct node_rt *stratad_node_rt_reset(struct stratad *d, const char *name);
/* The stored Node (new reference), or NULL. */
json_t *stratad_node_get(struct stratad *d, const char *name);
/* status.strata.phase of a Node, "" when unset. */
const char *stratad_node_phase(json_t *node);
/* Records the node's Ready condition and phase, and wakes the loop. */
void stratad_node_set_ready(struct stratad *d, const char *name, const char *status,
                            const char *phase, const char *reason, const char *message);
/* The node is gone: records it, gives up its pods (the controllers replace
 * them) and forgets what was sent to it. removal: `node rm` asked for it, so
 * no Warning NodeLost is recorded on the Node. Once per node. */
void stratad_node_dead(struct stratad *d, const char *name, const char *why, bool removal);
/* st_server_pod_status, remembering the report for stratad_liveness_heard. */
int stratad_pod_status(struct stratad *d, const char *node, json_t *msg, st_error *err);

/* node_admin.c: `stratactl node add|kill|rm`. */
/* POST /api/v1/nodes: validates, checks the host has the memory, records
 * the Node and starts its VM in a worker, which waits up to
 * ready_timeout_ms (0: the vmm's default) for its hello. *node (new
 * reference) is the stored Node. */
int stratad_node_add(struct stratad *d, json_t *body, int ready_timeout_ms, json_t **node,
                     int *http, st_error *err);
int stratad_node_kill(struct stratad *d, const char *name, int *http, st_error *err);
int stratad_node_remove(struct stratad *d, const char *name, int *http, st_error *err);

/* liveness.c: which silent nodes are fenced, and how. */
/* Notices stratad's own stall, marks nodes silent past the grace unknown
 * (their pods not ready), holds when many are silent at once, and starts
 * at most one fence per interval in a worker. Controller loop only. */
void stratad_liveness_check(struct stratad *d);
/* A message from the node arrived: if it was marked unknown, it is Ready
 * again and its pods' last reports are restored. Controller loop only. */
void stratad_liveness_heard(struct stratad *d, const char *name);
/* How long the loop may sleep before a verdict is due, at most max_ms. */
int stratad_liveness_wait_ms(struct stratad *d, int max_ms);
/* The heartbeat interval nodes are booted with (strata.heartbeat_ms=). */
int stratad_liveness_heartbeat_ms(const struct stratad *d);

/* images.c: the image store (one folder per image, NAME/rootfs). */
int stratad_image_import(struct stratad *d, const char *name, const char *source, json_t **out,
                         int *http, st_error *err);
int stratad_image_list(struct stratad *d, json_t **out, st_error *err);

#endif
