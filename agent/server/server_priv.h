/* server_priv.h: what the files of the server library share (private: only
 * agent/server/ and its unit tests include it): the server's handles
 * (store, vmm, HTTP server), the per-node runtime table (heartbeats, the
 * pods sent to each node, pod logs), and the seam to libvirt (struct
 * st_server_vmm_ops), so the node manager runs on a fake vmm in tests.
 * Programs use strata/server.h. */
#ifndef STRATA_SERVER_PRIV_H
#define STRATA_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "api_pki.h"
#include "strata/error.h"
#include "strata/image.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/server.h"
#include "strata/store.h"
#include "strata/vmm.h"

/* What one API client can hold (api_http.c): connections a door serves at
 * once (more wait in the listen queue of ST_SERVER_API_BACKLOG), the time
 * a request may take to arrive whole from its first line (and the first
 * from the connection), and how long a kept-alive connection may wait for
 * its next request. */
#define ST_SERVER_API_CONNS_MAX 2048
#define ST_SERVER_API_BACKLOG   512
#define ST_SERVER_API_REQUEST_S 30
#define ST_SERVER_API_IDLE_S    120

/* `node rm`: how long the guest gets to power off before it is destroyed. */
#define ST_SERVER_SHUTDOWN_MS 2000
/* Log lines kept per pod for `stratactl logs`. */
#define ST_SERVER_LOG_LINES 1000

/* node_pool.c: the start slots node boots wait for (one per online core,
 * at most ST_SERVER_NODE_POOL_MAX). */
#define ST_SERVER_NODE_POOL_MAX 16
struct st_server_node_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    unsigned slots;    /* boots at once */
    unsigned busy;     /* [lock] boots holding a slot */
    unsigned waiting;  /* [lock] workers waiting for one */
    unsigned busy_max; /* [lock] the most at once so far (tests) */
    bool closed;       /* [lock] stratad is stopping: waiters give up */
};
/* The slots for a host with cpus online cores. */
unsigned st_server_node_pool_bound(long cpus);
/* slots 0: st_server_node_pool_bound of the online cores. */
void st_server_node_pool_init(struct st_server_node_pool *p, unsigned slots);
void st_server_node_pool_destroy(struct st_server_node_pool *p);
/* Waits for a slot; -ECANCELED once the pool is closed. */
int st_server_node_pool_enter(struct st_server_node_pool *p, st_error *err);
void st_server_node_pool_leave(struct st_server_node_pool *p);
/* Wakes every waiter with -ECANCELED; slots held are kept until left. */
void st_server_node_pool_close(struct st_server_node_pool *p);
void st_server_node_pool_stats(struct st_server_node_pool *p, unsigned *busy, unsigned *waiting,
                               unsigned *busy_max);

/* Everything the server asks of the VM layer, with ctx the vmm's own
 * handle; the real table wraps st_vmm_* (vmm_real.c), tests use a fake
 * (tests/agent/server/fake_vmm.c). Each call has the contract of the
 * st_vmm_* function of the same name (strata/vmm.h). now_ns is the
 * monotonic clock liveness judges by (the events' mono_ns use the same). */
struct st_server_vmm_ops {
    int (*node_start)(void *ctx, const st_node_spec *spec, const st_vmm_start_options *opts,
                      json_t **hello, st_error *err);
    int (*node_send)(void *ctx, const char *name, json_t *msg, st_error *err);
    int (*node_shutdown)(void *ctx, const char *name, int timeout_ms, st_error *err);
    int (*node_destroy)(void *ctx, const char *name, st_error *err);
    int (*node_fence)(void *ctx, const char *name, int timeout_ms, st_vmm_fence_report *rep,
                      st_error *err);
    int (*node_undefine)(void *ctx, const char *name, st_error *err);
    int (*node_adopt)(void *ctx, const char *name, st_error *err);
    /* The node's data port (Service traffic), a nonblocking socket the
     * caller owns. */
    int (*node_data_connect)(void *ctx, const char *name, int *fd, st_error *err);
    int (*event_fd)(void *ctx);
    /* Fills ev (cleared with st_vmm_event_clear); 1 when one was there. */
    int (*event_next)(void *ctx, int timeout_ms, st_vmm_event *ev, st_error *err);
    int (*sync)(void *ctx, int timeout_ms, st_error *err);
    int (*boot_files_check)(void *ctx, const char *kernel, const char *initramfs, st_error *err);
    int (*host_memory_check)(void *ctx, unsigned memory_mib, st_error *err);
    int64_t (*now_ns)(void *ctx);
    void (*close)(void *ctx);
};

struct st_server_vmm {
    const struct st_server_vmm_ops *ops;
    void *ctx;
};

/* vmm_real.c: libvirt through st_vmm (uri NULL: qemu:///system). */
int st_server_vmm_real_open(const char *uri, struct st_server_vmm *out, st_error *err);

/* What the daemon knows of one node beyond the store: liveness and the pods
 * it has been asked to run. Guarded by st_server.lock. */
struct st_server_node {
    struct st_server_node *next;
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
    /* when it was last sent the host's clock (vmm now_ns) */
    int64_t clock_sent_ns;
    /* when it was last pinged while its hello was awaited (nodes.c) */
    int64_t ping_sent_ns;
    json_t *reported; /* uid -> its last pod_status, replayed when heard again */
};

/* api_nodeproxy.c: a question to a node (pods_query) waiting for its
 * answer. It lives on the asking API thread's stack and is linked in
 * st_server.queries while it waits; the loop finds it only by id. [lock] */
struct st_server_node_query {
    struct st_server_node_query *next;
    int64_t id;
    char node[64];
    bool sent;   /* the loop sent it */
    bool failed; /* it could not be sent, or the node died: why says */
    char why[256];
    json_t *pods; /* the answer (the node's pod states), once it came */
};

/* liveness.c's state; only the controller loop touches it. */
struct st_server_liveness {
    int64_t last_pass_ns;  /* the previous check: a long gap is stratad's own stall */
    int64_t last_fence_ns; /* fences are rate-limited */
    int64_t next_ns;       /* when a verdict may change by the clock (0: none due) */
    bool holding;          /* many nodes silent at once: none is fenced */
    size_t hold_silent, hold_judged;
};

struct st_server {
    st_server_config cfg;
    char *nodes_dir;     /* STATE_DIR/nodes: channel sockets, console logs */
    char *templates_dir; /* STATE_DIR/templates: this stratad's booted node templates */
    char *images_dir;
    st_image_store *images;       /* the OCI image store in images_dir (thread-safe) */
    struct st_server_pull *pulls; /* [lock] image_pull.c: pulls for pods, by pod and container */
    int lock_fd;
    st_pg_embedded *pg;
    st_secret_key *key;
    st_store *store;
    struct st_server_vmm vmm;
    struct MHD_Daemon *mhd;
    int listen_fd;
    struct MHD_Daemon *mhd_tls; /* the HTTPS port (api_http.c), NULL when off */
    /* api_http.c: both doors' connections and the deadlines they are held to */
    struct st_server_api_guard *guard;
    struct st_api_pki pki; /* its credentials (api_pki.h) */
    unsigned api_port;     /* the port it listens on */
    char api_host[64];     /* and its address */
    int kick_fd;           /* eventfd: wakes the controller loop */
    atomic_bool stopping;

    pthread_mutex_t lock;
    pthread_cond_t changed;       /* logs appended, state changed (watchers) */
    struct st_server_node *nodes; /* [lock] */
    json_t *logs;                 /* [lock] "namespace/name" -> [lines] */
    atomic_ulong generation;      /* bumped on every write the API or controllers make */
    atomic_int workers;           /* node start and fence workers running; teardown waits */
    struct st_server_liveness lv;
    struct st_server_proxy *proxy;     /* proxy.c; NULL in the node manager's unit tests */
    struct st_server_watch_ring *ring; /* watch_ring.c: recent changes, for watches */
    struct st_server_ui *ui;           /* api_ui.c: the dashboard's sessions and links */
    struct st_server_hosts *hosts;     /* hosts.c: leases with other stratad; NULL alone */
    char host_name[64];                /* this host's name (cfg.host_name or hostname) */
    /* change_tail.c: the shared store's change feed into the ring (NULL: off) */
    struct st_server_change_tail *change_tail;

    /* node_pool.c: how many node VMs boot at once */
    struct st_server_node_pool node_pool;

    /* [lock] api_nodeproxy.c: questions to nodes, and the last one's id */
    struct st_server_node_query *queries;
    int64_t query_seq;

    /* server.c, the loop's: the store unreachable since store_down_ns, so
     * the controllers, liveness and dispatch wait for it */
    bool store_down;
    int64_t store_down_ns;
    /* server.c: the private PostgreSQL started again when it died, in a
     * worker (pg_ctl waits), with a growing back-off */
    pthread_t pg_worker;
    bool pg_worker_joinable; /* loop only */
    atomic_bool pg_working;  /* the worker runs */
    int64_t pg_next_ns;      /* no new attempt before */
    int pg_backoff_s;
    int pg_attempts;
};

/* api_http.c: --api-listen read and checked: 1 with host and port, 0 when
 * it is "none", or -EINVAL/-EPERM (before anything is started). */
int st_server_api_listen_check(const st_server_config *cfg, char *host, size_t host_len,
                               unsigned *port, st_error *err);

/* api_ui.c: the dashboard's sessions and one-time links (memory only: a
 * restart ends them). 0 or -ENOMEM. */
int st_server_ui_new(struct st_server_ui **out);
void st_server_ui_free(struct st_server_ui *ui);

/* server.c */
/* A server on a store it is given (which it then owns and closes) and a
 * vmm, with no state dir, private PostgreSQL or API: st_server_open's core,
 * and how unit tests make one (tests/agent/server/). */
int st_server_new(const st_server_config *cfg, st_store *store, struct st_server_vmm vmm,
                  struct st_server **out, st_error *err);
/* Wakes the controller loop and the watchers after a write. */
void st_server_kick(struct st_server *d);
/* The vmm's monotonic clock (liveness, events). */
int64_t st_server_now_ns(struct st_server *d);

/* proxy.c: the host side of Services (the relay, its listeners and routes). */
int st_server_proxy_open(struct st_server *d, st_error *err);
void st_server_proxy_close(struct st_server *d);
/* The node said hello: its data port joins the relay, it gets the Services. */
void st_server_proxy_node_up(struct st_server *d, const char *name);
/* The node is gone: its streams are reset, its pod addresses forgotten. */
void st_server_proxy_node_down(struct st_server *d, const char *name);
/* Listeners and the nodes' snapshot follow the store's Services and
 * Endpoints. Controller loop only. */
void st_server_proxy_sync(struct st_server *d);
/* A port-forward: listens on listen ("IP:PORT", port 0 picks one) and sends
 * every connection to backend ("IP:PORT", on node). key (for unforward) and
 * *port (the port listened on) are filled. */
int st_server_proxy_forward(struct st_server *d, const char *listen, const char *backend,
                            const char *node, char *key, size_t key_len, int *port, st_error *err);
void st_server_proxy_unforward(struct st_server *d, const char *key);
/* proxy_plan.c: Services + Endpoints (arrays of objects) -> the host's
 * listeners {key -> {namespace, service, listen, backends:[{addr, node}]}}
 * and the nodes' services snapshot (node_proto's `services`). */
int st_server_proxy_plan(json_t *services, json_t *endpoints, json_t **listeners,
                         json_t **snapshot);

/* api_socket.c */
/* -EADDRINUSE when another stratad answers on path; run it before anything
 * is made in the state dir. */
int st_server_api_socket_check(const char *path, st_error *err);
/* Binds path (its folder made if missing; a stale socket file replaced),
 * mode 0600, and listens. The fd, or a negative errno. */
int st_server_api_listen(const char *path, st_error *err);

/* nodes.c: the node table, re-adoption, node messages and the pods sent to
 * nodes. */
int st_server_nodes_readopt(struct st_server *d, st_error *err);
/* Drains the vmm events (hello, heartbeats, pod status, logs, deaths), then
 * judges the nodes' silence (st_server_liveness_check). */
void st_server_nodes_events(struct st_server *d);
/* Drains the vmm events only (bounded per call). */
void st_server_nodes_drain_events(struct st_server *d);

/* dispatch.c: sends pod_run for pods bound to a live node and not yet
 * sent, pod_stop for pods sent that the store no longer runs there or that
 * are Terminating. */
void st_server_nodes_dispatch(struct st_server *d);
/* secret_env.c: env valueFrom.secretKeyRef in spec's containers becomes
 * value, read from the Secret in ns: ENOENT no such Secret or key, EINVAL
 * a value that is not base64. */
int st_server_secret_env(st_store *store, const char *ns, json_t *spec, st_error *err);
/* The value of key in a Secret object (data, base64, or stringData);
 * *value malloc'd. ENOENT no such key, EINVAL not base64. */
int st_server_secret_value(json_t *secret, const char *key, char **value, st_error *err);
/* Waits (bounded by the VM ready timeout) for node start and fence workers. */
void st_server_nodes_drain(struct st_server *d);
void st_server_nodes_free(struct st_server *d);
/* The runtime entry of a node. [lock] held by the caller. */
struct st_server_node *st_server_node_find(struct st_server *d, const char *name);
/* A fresh entry (or the old one, reset). [lock] held by the caller. */
struct st_server_node *st_server_node_reset(struct st_server *d, const char *name);
/* The stored Node (new reference), or NULL. */
json_t *st_server_node_get(struct st_server *d, const char *name);
/* status.strata.phase of a Node, "" when unset. */
const char *st_server_node_phase(json_t *node);
/* Records the node's Ready condition and phase, and wakes the loop. */
void st_server_node_set_ready(struct st_server *d, const char *name, const char *status,
                              const char *phase, const char *reason, const char *message);
/* The node is gone: records it, gives up its pods (the controllers replace
 * them) and forgets what was sent to it. removal: `node rm` asked for it, so
 * no Warning NodeLost is recorded on the Node. Once per node. */
void st_server_node_dead(struct st_server *d, const char *name, const char *why, bool removal);
/* Its pods bound in the store marked lost (Failed, NodeLost: replaced
 * elsewhere), and how many logged; a no-op when none is left. */
void st_server_node_pods_lost(struct st_server *d, const char *name, const char *why);
/* st_server_pod_report_apply, remembering the report for st_server_liveness_heard. */
int st_server_pod_status(struct st_server *d, const char *node, json_t *msg, st_error *err);

/* api_nodeproxy.c, the loop's side of asking a node what it runs. */
/* Sends the questions not sent yet. Controller loop only. */
void st_server_node_queries_send(struct st_server *d);
/* A pods message from node: the answer to one of its questions. */
void st_server_node_queries_answer(struct st_server *d, const char *node, json_t *msg);
/* The node is gone: its open questions fail with why. */
void st_server_node_queries_fail(struct st_server *d, const char *node, const char *why);

/* node_admin.c: `stratactl node add|kill|rm`. Errors are these codes
 * (api_route.c turns them into HTTP): EINVAL the request is wrong, ENOENT no
 * such node, EEXIST the name is taken, EBUSY still booting, ENOSPC the host
 * lacks the memory, EAGAIN the node image is not usable, EIO anything
 * else. */
/* POST /api/v1/nodes: validates, checks the host has the memory, records
 * the Node and starts its VM in a worker, which waits up to
 * ready_timeout_ms (0: the vmm's default) for its hello. *node (new
 * reference) is the stored Node. */
int st_server_node_add(struct st_server *d, json_t *body, int ready_timeout_ms, json_t **node,
                       st_error *err);
int st_server_node_kill(struct st_server *d, const char *name, st_error *err);
/* DELETE /strata/v1/node-templates: removes this stratad's node templates
 * (the next `node add --from-template` makes one again). How many. */
int st_server_node_templates_drop(struct st_server *d, st_error *err);
int st_server_node_remove(struct st_server *d, const char *name, st_error *err);
/* The phase of a Node `node add --host` recorded for another host, until
 * that host's stratad claims it (Provisioning). */
#define ST_NODE_PHASE_REQUESTED "Requested"
/* A node `node add --host` recorded for this host on another stratad
 * (phase ST_NODE_PHASE_REQUESTED): claims it and boots it here. */
int st_server_node_boot_requested(struct st_server *d, json_t *node, st_error *err);
/* A node of another host: -EREMOTE saying which, for what only its own
 * stratad can do (kill, rm); 0 for this host's. */
int st_server_node_local(struct st_server *d, json_t *node, const char *what, st_error *err);
/* Whether node belongs to this stratad (its strata.io/host label, or none
 * when this stratad is alone). */
bool st_server_node_mine(struct st_server *d, json_t *node);

/* hosts.c: several stratad on one PostgreSQL (cfg.db_dsn). All are no-ops
 * (leading, may run) when this stratad is alone. */
int st_server_hosts_open(struct st_server *d, const char *dsn, st_error *err);
void st_server_hosts_close(struct st_server *d);
/* The loop's part: leader changes logged, clock skew reported, nodes
 * requested for this host booted, and (leader) hosts whose lease expired
 * have their nodes marked lost. */
void st_server_hosts_pass(struct st_server *d);
/* This stratad holds the leader lease: it runs the controllers. */
bool st_server_hosts_leading(struct st_server *d);
/* This host holds its lease and was not fenced: it may send pods. */
bool st_server_hosts_may_run(struct st_server *d);
/* How long a node of this host runs its pods without hearing from it
 * (strata.host_grace_ms); 0 when alone. */
int st_server_hosts_grace_ms(struct st_server *d);

/* liveness.c: which silent nodes are fenced, and how. */
/* Notices stratad's own stall, marks nodes silent past the grace unknown
 * (their pods not ready), holds when many are silent at once, and starts
 * at most one fence per interval in a worker. Controller loop only. */
void st_server_liveness_check(struct st_server *d);
/* A message from the node arrived: if it was marked unknown, it is Ready
 * again and its pods' last reports are restored. Controller loop only. */
void st_server_liveness_heard(struct st_server *d, const char *name);
/* How long the loop may sleep before a verdict is due, at most max_ms. */
int st_server_liveness_wait_ms(struct st_server *d, int max_ms);
/* The heartbeat interval nodes are booted with (strata.heartbeat_ms=). */
int st_server_liveness_heartbeat_ms(const struct st_server *d);

/* images.c: the API's side of the image store (strata/image.h), whose
 * errno codes pass through: EINVAL a bad reference or source, ENOENT no
 * such image or source, ENOEXEC/EBADMSG not an image (or not for this
 * platform), EBUSY an image a pod uses, EACCES the registry refused. *out
 * (new references) are the API's shapes, see agent/API.md. */
int st_server_image_import(struct st_server *d, const char *ref, const char *source, json_t **out,
                           st_error *err);
int st_server_image_list(struct st_server *d, json_t **out, st_error *err);
int st_server_image_remove(struct st_server *d, const char *ref, st_error *err);
/* A pull asked by the API (the calling connection's thread waits). */
int st_server_image_pull(struct st_server *d, const char *ref, json_t **out, st_error *err);
/* The auth st_image_pull takes, from the pod's imagePullSecrets
 * (kubernetes.io/dockerconfigjson Secrets of ns): their "auths" merged,
 * the first Secret naming a registry winning it. *auth NULL when the pod
 * names none; a Secret missing or of another type is an error. */
int st_server_image_pull_auth(st_store *store, const char *ns, json_t *pod_spec, char **auth,
                              st_error *err);

/* image_pull.c: the images of a pod about to be sent, made ready. For
 * each container: the image resolved in the store (pulled first in a
 * worker thread, per imagePullPolicy, when it names a registry), the image
 * config applied (st_image_process), and the container rewritten as the
 * node reads it (command, args [], env, workingDir, runAsUser/runAsGroup,
 * imageLayers). 0: spec is ready to send. -EAGAIN: a pull runs or backs
 * off; the pod's status says so (ContainerCreating, ErrImagePull,
 * ImagePullBackOff) with kubelet's events. Other errors: the pod cannot
 * run as it is (its status set here too). Controller loop only. */
int st_server_images_prepare(struct st_server *d, const char *node, json_t *pod, json_t *spec,
                             st_error *err);
/* The pod annotation with its images' ExposedPorts: {"CONTAINER": ["8080/tcp"]}. */
#define ST_SERVER_EXPOSED_PORTS "strata.io/exposed-ports"
/* Forgets pulls of pods that no longer wait for one (uids: an object whose
 * keys are the pods still pending dispatch). Controller loop only. */
void st_server_pulls_prune(struct st_server *d, json_t *uids);
void st_server_pulls_free(struct st_server *d);

/* err's code becomes code (its message kept): how a caller says what a
 * failure below it means here. Returns -code. A store that is down or
 * full stays so (503 / 507: the client retries later, or frees space),
 * whatever the caller would have called it. */
static inline int st_server_recode(st_error *err, int code)
{
    if (err && (err->code == ST_ESTORE_DOWN || err->code == ST_ESTORE_FULL))
        return -err->code;
    if (err)
        err->code = code;
    return -code;
}

#endif
