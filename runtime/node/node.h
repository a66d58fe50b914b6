/* node.h: private interfaces of strata-node, the node agent in each VM:
 * its configuration, the facts it reports about the machine, the transport
 * ops table (virtio-serial port or unix socket), the event loop, and the
 * pods it runs (image store, pod sandbox, spec translation, container
 * output, status, lifecycle). Only the files of runtime/node/ and their
 * unit tests include it (CMake builds them as strata_node for the tests);
 * nothing here is a library API. */
#ifndef STRATA_NODE_H
#define STRATA_NODE_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/backoff.h"
#include "strata/container.h"
#include "strata/error.h"
#include "strata/probe.h"

/* Keep in step with project(strata VERSION ...) in the top CMakeLists.txt. */
#define ST_NODE_VERSION "0.1.0"

#define ST_NODE_HEARTBEAT_MS_DEFAULT 1000
#define ST_NODE_IMAGES_DIR_DEFAULT   "/var/lib/strata/images"
#define ST_NODE_STATE_DIR_DEFAULT    "/var/lib/strata"

/* ---- logging (stderr: the VM's console) ------------------------------- */
void st_node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- configuration ---------------------------------------------------- */
struct st_node_config {
    char *name;                /* --name, kernel cmdline strata.node=, or hostname */
    int heartbeat_ms;          /* --heartbeat-ms, or strata.heartbeat_ms=, or 1000 */
    char *listen_path;         /* --listen unix:PATH; NULL = the virtio-serial port */
    char *port_name;           /* virtio-serial port name to look for */
    const char *cmdline;       /* file to read kernel arguments from (/proc/cmdline) */
    char *images_dir;          /* --images DIR: the image store, <DIR>/<image>/rootfs */
    char *state_dir;           /* --state-dir DIR: per-pod work (overlays, container state) */
    long long backoff_base_ms; /* --backoff-base-ms: first restart delay, 0 = 10 s */
};

/* Fills what the command line left unset from the kernel cmdline, then the
 * hostname and defaults. */
int st_node_config_resolve(struct st_node_config *cfg, st_error *err);
void st_node_config_free(struct st_node_config *cfg);

/* ---- facts about this machine ----------------------------------------- */
struct st_node_sysinfo {
    int64_t cpu_millis;   /* online CPUs * 1000 */
    int64_t memory_bytes; /* MemTotal */
    char kernel[128];     /* uname -r */
};
int st_node_sysinfo_read(struct st_node_sysinfo *si, st_error *err);
/* Milliseconds since boot, from /proc/uptime. */
int st_node_uptime_ms(int64_t *ms, st_error *err);

/* ---- transports -------------------------------------------------------
 * A transport yields one connected byte stream to the host at a time. The
 * loop polls wait_fd (when >= 0) or retries on a timer (when -1), calls
 * connect to learn whether a host is there, and calls disconnect once the
 * stream reads EOF or fails. */
struct st_node_transport;

struct st_node_transport_ops {
    const char *name;
    int (*open)(struct st_node_transport *t, const struct st_node_config *cfg, st_error *err);
    /* fd whose readability means "a host may be connecting", or -1. */
    int (*wait_fd)(struct st_node_transport *t);
    /* 1 and *fd (nonblocking, owned by the transport) when a host is
     * connected, 0 when not yet, negative on a fatal error. */
    int (*connect)(struct st_node_transport *t, int *fd, st_error *err);
    void (*disconnect)(struct st_node_transport *t);
    void (*close)(struct st_node_transport *t);
};

struct st_node_transport {
    const struct st_node_transport_ops *ops;
    int fd;        /* the port (virtio) or the listening socket (unix) */
    int conn;      /* the accepted connection (unix) */
    char *path;    /* socket path (unix) or port name (virtio) */
    bool reported; /* "waiting for ..." already logged */
    bool bound;    /* the socket file at path is ours to remove (unix) */
};

extern const struct st_node_transport_ops st_node_transport_virtio;
extern const struct st_node_transport_ops st_node_transport_unix;

/* ---- poll set (pollset.c) ---------------------------------------------
 * The loop's poll(2) vector, rebuilt every turn: each fd comes with the
 * place its revents go (a field of the object that watches it), so the
 * objects are found again without a lookup, plus the earliest deadline. */
struct st_node_pollset {
    struct pollfd *fds;
    short **slots;
    size_t n, cap;
    int64_t deadline; /* monotonic ms, -1 = none */
};

void st_node_pollset_reset(struct st_node_pollset *ps);
/* Adds fd; after poll, *slot receives its revents (0 when it did not fire).
 * -ENOMEM only. */
int st_node_pollset_add(struct st_node_pollset *ps, int fd, short events, short *slot);
/* Lowers the deadline to at (ms) when at >= 0 is earlier. */
void st_node_pollset_deadline(struct st_node_pollset *ps, int64_t at);
/* Hands each fd's revents to its slot. */
void st_node_pollset_dispatch(struct st_node_pollset *ps);
void st_node_pollset_free(struct st_node_pollset *ps);

/* Milliseconds on the monotonic clock. */
int64_t st_node_now_ms(void);

/* ---- image store (images.c) -------------------------------------------- */
/* The root filesystem of the image reference image (NAME or NAME:latest,
 * strata/names.h) in the store: <images_dir>/<NAME>/rootfs. -ENOENT when
 * the store lacks it, -EINVAL for a reference that is not well formed or
 * asks for another tag or a digest (the store keeps one version per name);
 * the message names the image and the store. *rootfs is malloc'd. */
int st_node_image_rootfs(const char *images_dir, const char *image, char **rootfs, st_error *err);

/* Creates dir (and its parents) and mounts an overlay at dir/rootfs whose
 * lower layer is the read-only image lower and whose upper and work layers
 * are dir/upper and dir/work (dir must not be on overlayfs). source names
 * the mount in /proc/mounts ("strata-<container>"), so leak checks find it.
 * On failure nothing is left mounted. */
int st_node_overlay_mount(const char *dir, const char *lower, const char *source, st_error *err);

/* Unmounts dir/rootfs when mounted, then removes dir with the writable
 * layer. It never deletes through a mount point: if rootfs stays mounted,
 * dir is left in place and an error says so. A missing dir is fine. */
int st_node_overlay_remove(const char *dir, st_error *err);

/* ---- pod sandbox (sandbox.c) -------------------------------------------
 * A tiny process that holds a pod's shared namespaces (network with lo up,
 * IPC, UTS with the pod's hostname) for as long as the pod lives, so its
 * containers can join them and restart one by one, like the kubelet's
 * pause container. It is strata-node's child and dies with it. */
struct st_node_sandbox {
    pid_t pid; /* 0 = none */
};

int st_node_sandbox_create(const char *hostname, struct st_node_sandbox *sb, st_error *err);
/* "/proc/<pid>/ns/<ns>" of the sandbox, for linux.namespaces[].path. */
void st_node_sandbox_ns_path(const struct st_node_sandbox *sb, const char *ns, char *buf,
                             size_t len);
/* Kills and reaps it; a zeroed sandbox is fine. */
void st_node_sandbox_destroy(struct st_node_sandbox *sb);

/* ---- pod spec translation (pod_spec.c) ---------------------------------
 * A Kubernetes PodSpec (JSON as stratad sends it) turned into what the
 * runtime library takes: an OCI config per container and probe specs. It
 * validates and translates only; it starts nothing. */
enum st_node_restart_policy {
    ST_NODE_RESTART_ALWAYS = 0,
    ST_NODE_RESTART_ON_FAILURE,
    ST_NODE_RESTART_NEVER,
};

struct st_node_container_spec {
    const char *name;  /* borrowed from the pod spec JSON */
    const char *image; /* borrowed */
    json_t *oci;       /* OCI config without root.path and namespace paths (owned) */
    /* probes (NULL = none); strings point into the pod spec JSON */
    struct st_probe_spec *probes[ST_PROBE_KIND_COUNT];
    struct st_probe_spec probe_store[ST_PROBE_KIND_COUNT];
    char **probe_argv[ST_PROBE_KIND_COUNT];                          /* owned arrays */
    struct st_probe_http_header *probe_headers[ST_PROBE_KIND_COUNT]; /* owned arrays */
};

struct st_node_pod_spec {
    json_t *json; /* the PodSpec (a reference): the strings above live in it */
    enum st_node_restart_policy restart;
    int grace_s; /* terminationGracePeriodSeconds, default 30 */
    size_t n_containers;
    struct st_node_container_spec *containers;
};

/* Errors name the field ("spec.containers[0].resources: ..."). pod is the
 * pod's name (HOSTNAME in the environment). */
int st_node_pod_spec_parse(json_t *spec, const char *pod, struct st_node_pod_spec **out,
                           st_error *err);
void st_node_pod_spec_free(struct st_node_pod_spec *ps);

/* The config for one start of a container: its template with root.path =
 * rootfs, joining the network, IPC and UTS namespaces of the sandbox. */
int st_node_container_config(const struct st_node_container_spec *cs, const char *rootfs,
                             const struct st_node_sandbox *sb, struct st_oci_config **out,
                             st_error *err);

/* ---- container output (pod_logs.c) -------------------------------------
 * A container's stdout or stderr: a pipe whose read end the loop polls,
 * cut into lines (over-long lines are split, invalid UTF-8 replaced) that
 * become `log` messages. */
#define ST_NODE_LOG_LINE_MAX 8192

struct st_node_logpipe {
    int fd; /* read end, nonblocking; -1 when closed */
    short revents;
    size_t len;
    char buf[ST_NODE_LOG_LINE_MAX];
};

typedef void (*st_node_line_fn)(void *ctx, const char *stream, const char *line);

/* A new pipe: *write_fd goes to the container (the caller closes it after
 * create). */
int st_node_logpipe_open(struct st_node_logpipe *lp, int *write_fd, st_error *err);
/* Reads what is there (bounded per call, so one chatty container cannot
 * starve the loop) and hands out complete lines; at end of file the last
 * partial line too, and the pipe is closed. drain: read until EOF or
 * EAGAIN (the writers are gone). */
void st_node_logpipe_read(struct st_node_logpipe *lp, const char *stream, bool drain,
                          st_node_line_fn fn, void *ctx);
void st_node_logpipe_close(struct st_node_logpipe *lp);

/* ---- pods (pods.c: the table and lifecycle; pod_status.c: reporting) -- */
enum st_node_ctr_state {
    ST_NODE_CTR_WAITING = 0, /* not started yet, or waiting to restart */
    ST_NODE_CTR_RUNNING,
    ST_NODE_CTR_TERMINATED, /* ended and will not restart */
};

/* How one run of a container ended. */
struct st_node_term {
    bool set;
    int exit_code;
    int signal;
    char reason[32]; /* Completed, Error, OOMKilled, StartError */
    char message[ST_ERROR_MSG_MAX];
    char started_at[40], finished_at[40];
};

struct st_node_pod;
struct st_node_pods;

struct st_node_ctr {
    struct st_node_pod *pod;
    const struct st_node_container_spec *spec;
    char *id;  /* container id: "<pod uid>-<name>" */
    char *dir; /* <state>/pods/<uid>/<name>: overlay layers */
    enum st_node_ctr_state state;
    char waiting_reason[40]; /* when WAITING: ContainerCreating, ImageNotFound, ... */
    char waiting_message[ST_ERROR_MSG_MAX];
    bool retry; /* WAITING with a start scheduled at restart_at */
    int64_t restart_at;
    int restart_count;
    bool created_once;
    struct st_backoff backoff;
    struct st_node_term last;    /* the run before the current state */
    struct st_node_term current; /* when TERMINATED */
    /* the running instance */
    struct st_container *c;
    struct st_oci_config *cfg;
    bool mounted;
    int pidfd;
    short pid_revents;
    struct st_node_logpipe out, err;
    int64_t started_ms;
    char started_at[40];
    struct st_prober *prober;
    struct st_probe_run *runs[ST_PROBE_KIND_COUNT];
    int run_fds[ST_PROBE_KIND_COUNT];
    short run_revents[ST_PROBE_KIND_COUNT];
    int64_t kill_at; /* SIGKILL then, -1 = not being killed */
    char kill_message[ST_PROBE_MSG_MAX + 64];
};

struct st_node_pod {
    struct st_node_pods *pods;
    char *name, *uid;
    char *ns;  /* "namespace" of pod_run (stratad sends it), echoed in log and pod_status */
    char *dir; /* <state>/pods/<uid> */
    char started_at[40];
    struct st_node_pod_spec *spec; /* NULL when the spec was refused */
    struct st_node_sandbox sandbox;
    struct st_node_ctr *ctrs;
    size_t n_ctrs;
    char *reason, *message; /* a pod-level failure (bad spec, no sandbox), or NULL */
    bool stopping;
    json_t *status; /* the pod_status last reported (without seq) */
    struct st_node_pod *next;
};

/* The pod_status message for the pod's current state (new reference);
 * removed: the last one, after pod_stop. */
json_t *st_node_pod_status(const struct st_node_pod *pod, bool removed, st_error *err);

struct st_node_pods;

/* Receives each message for the host (consumed); queued or dropped by the
 * caller when no host is connected. */
typedef void (*st_node_emit_fn)(void *ctx, json_t *msg);

struct st_node_pods_opts {
    const char *images_dir;
    const char *state_dir;
    long long backoff_base_ms; /* 0 = Kubernetes' 10 s */
    st_node_emit_fn emit;
    void *ctx;
};

/* Creates <state>/pods and <state>/run, removing what an earlier run of
 * strata-node left there (containers, overlays). */
int st_node_pods_new(const struct st_node_pods_opts *o, struct st_node_pods **out, st_error *err);
/* Kills every pod and removes all it made. */
void st_node_pods_free(struct st_node_pods *p);

/* A decoded pod_run or pod_stop from the host. Problems with a pod are
 * reported as its status, never returned: the node goes on. */
void st_node_pods_run(struct st_node_pods *p, json_t *msg);
void st_node_pods_stop(struct st_node_pods *p, json_t *msg);

/* The pod_status objects of all pods (borrowed array): hello's "pods" and
 * the heartbeat's digest. */
json_t *st_node_pods_states(struct st_node_pods *p);

/* Adds the fds and the next deadline the pods wait on; after poll and
 * st_node_pollset_dispatch, st_node_pods_process acts on what fired and on
 * due timers, and reports every status change. */
int st_node_pods_watch(struct st_node_pods *p, struct st_node_pollset *ps, st_error *err);
void st_node_pods_process(struct st_node_pods *p);

/* ---- the agent loop --------------------------------------------------- */
/* Runs until SIGTERM/SIGINT (returns 0) or a fatal error (negative). */
int st_node_agent_run(const struct st_node_config *cfg, st_error *err);

#endif
