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
/* A running node that sends nothing for this long is fenced (DESIGN.md). */
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
    bool fencing;      /* heartbeats stopped: its domain is being destroyed */
    int64_t last_msg_ns;
    json_t *sent; /* uid -> pod name of pods sent with pod_run; true once a
                   * Terminating pod was sent pod_stop (nodes.c, dispatch) */
    /* when it was last sent the host's clock (st_vmm_now_ns) */
    int64_t clock_sent_ns;
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
    atomic_int workers;      /* node start workers running; teardown waits for them */
};

/* main.c */
void stratad_kick(struct stratad *d);
void stratad_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* api.c: the HTTP server on the unix socket. */
int stratad_api_start(struct stratad *d, st_error *err);
void stratad_api_stop(struct stratad *d);

/* nodes.c: node provisioning, liveness and the pods sent to nodes. */
int stratad_nodes_readopt(struct stratad *d, st_error *err);
/* POST /api/v1/nodes: validates, records the Node and starts its VM in a
 * worker. *node (new reference) is the stored Node. */
int stratad_node_add(struct stratad *d, json_t *body, json_t **node, int *http, st_error *err);
int stratad_node_kill(struct stratad *d, const char *name, int *http, st_error *err);
int stratad_node_remove(struct stratad *d, const char *name, int *http, st_error *err);
/* Drains the vmm events (hello, heartbeats, pod status, logs, deaths) and
 * fences nodes past their heartbeat deadline. */
void stratad_nodes_events(struct stratad *d);
/* [lock] held by the caller: the runtime entry of a node, or NULL. */
struct node_rt *stratad_node_rt(struct stratad *d, const char *name);

/* dispatch.c: sends pod_run for pods bound to a live node and not yet
 * sent, pod_stop for pods sent that the store no longer runs there or that
 * are Terminating. */
void stratad_nodes_dispatch(struct stratad *d);
/* Waits (bounded by the VM ready timeout) for node start workers. */
void stratad_nodes_drain(struct stratad *d);
void stratad_nodes_free(struct stratad *d);

/* images.c: the image store (one folder per image, NAME/rootfs). */
int stratad_image_import(struct stratad *d, const char *name, const char *source, json_t **out,
                         int *http, st_error *err);
int stratad_image_list(struct stratad *d, json_t **out, st_error *err);

#endif
