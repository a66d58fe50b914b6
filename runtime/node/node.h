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
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/backoff.h"
#include "strata/container.h"
#include "strata/error.h"
#include "strata/probe.h"
#include "strata/relay.h"

/* Keep in step with project(strata VERSION ...) in the top CMakeLists.txt. */
#define ST_NODE_VERSION "0.1.0"

#define ST_NODE_HEARTBEAT_MS_DEFAULT 1000
#define ST_NODE_IMAGES_DIR_DEFAULT   "/var/lib/strata/images"
#define ST_NODE_STATE_DIR_DEFAULT    "/var/lib/strata"

/* ---- logging (stderr: the VM's console) ------------------------------- */
void st_node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- configuration ---------------------------------------------------- */
#define ST_NODE_SVC_CIDR_DEFAULT "10.96.0.0/16"

/* An IPv4 network: addr (host byte order) with its host bits clear. */
struct st_node_cidr {
    uint32_t addr;
    int prefix; /* 8-30 */
};
/* "A.B.C.D/N" with no host bits set; -EINVAL with err saying why. */
int st_node_cidr_parse(const char *s, struct st_node_cidr *c, st_error *err);
bool st_node_cidr_contains(const struct st_node_cidr *c, uint32_t addr);

struct st_node_config {
    char *name;                   /* --name, kernel cmdline strata.node=, or hostname */
    int heartbeat_ms;             /* --heartbeat-ms, or strata.heartbeat_ms=, or 1000 */
    char *listen_path;            /* --listen unix:PATH; NULL = the virtio-serial port */
    char *port_name;              /* virtio-serial port name to look for */
    const char *cmdline;          /* file to read kernel arguments from (/proc/cmdline) */
    char *images_dir;             /* --images DIR: the image store, <DIR>/layers/<hex> */
    char *state_dir;              /* --state-dir DIR: per-pod work (overlays, container state) */
    long long backoff_base_ms;    /* --backoff-base-ms: first restart delay, 0 = 10 s */
    bool podnet;                  /* strata.podcidr= was given: pods get an IP */
    struct st_node_cidr pod_cidr; /* strata.podcidr= (a /24) */
    struct st_node_cidr svc_cidr; /* strata.svccidr=, or ST_NODE_SVC_CIDR_DEFAULT */
    int64_t host_grace_ms;        /* --host-grace-ms, or strata.host_grace_ms=, or 0 (off) */
    bool host_grace_set;          /* --host-grace-ms was given (0 included) */
    int port_fd;                  /* > 0: the node port, already open (template.c) */
    char *cmdline_owned;          /* template.c's identity file, when cmdline points to it */
};

/* template.c: with strata.template=1 on the kernel cmdline, waits (for as
 * long as it takes: the VM is saved meanwhile) for the host's `identity`,
 * answering each host that connects with `template_wait`; then reseeds the
 * RNG, sets hostname, machine id and clock, mounts the image store and
 * points cfg at the identity's settings and the open port. 0 right away
 * without the flag or with --listen. */
int st_node_template_wait(struct st_node_config *cfg, st_error *err);

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
/* The same, or 0 after logging why it could not be read (hello, heartbeat). */
int64_t st_node_uptime_or_zero(void);

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
/* /dev/<vportNpM> of the virtio-serial port named name (the guest has no
 * udev, so no /dev/virtio-ports links), or -ENOENT. */
int st_node_virtio_port_find(const char *name, char *dev, size_t devlen, st_error *err);

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

/* ---- the bench image's hook (bench_exec.c) ---- */

/* Present only in an image built with `build-image --bench`. */
#define ST_NODE_BENCH_MARK   "/etc/strata/bench-exec"
#define ST_NODE_BENCH_EXEC   "bench_exec"
#define ST_NODE_BENCH_RESULT "bench_result"
/* true when this node answers bench_exec (ST_NODE_BENCH_MARK exists). */
bool st_node_bench_exec_enabled(void);
/* Runs a bench_exec message's argv and builds the bench_result answer. */
int st_node_bench_exec(json_t *msg, json_t **reply, st_error *err);

/* Differences below this are noise (the host's message took a while to
 * arrive) and are left alone. */
#define ST_NODE_CLOCK_TOLERANCE_MS 20

/* The host's `clock` (its wall clock host_ms when it sent the message) is
 * compared with ours. age_ms bounds how long the message may have waited
 * in this node before being read (busy loop): our clock is set forward
 * whenever it is behind the host's time by more than the tolerance (the
 * host's time was at least that), back only by what remains after
 * allowing for age_ms. Only with may_step (strata-node is its VM's agent);
 * otherwise, e.g. --listen on a developer's host, the offset is logged.
 * first: the first of a connection, logged even when nothing is done. */
void st_node_clock_sync(int64_t host_ms, int64_t age_ms, bool may_step, bool first);

/* ---- the way out to the host (host_out.c) -----------------------------
 * Every message for the host goes through one output queue guarded by a
 * mutex: the loop appends pod statuses, logs and answers; a heartbeat
 * thread appends a heartbeat every interval on its own monotonic timer, so
 * heartbeats never wait behind pod work (starting many pods under TCG
 * keeps the loop busy for seconds). seq is taken under the same mutex, in
 * the order of the bytes on the wire. Writes are non-blocking: what the
 * channel does not take now stays queued until the loop sees POLLOUT. A
 * write error (in either thread) only marks the connection broken; the
 * loop, which owns connecting, reading and disconnecting, then drops it. */
struct st_node_host_out;

/* Starts the heartbeat thread (signals to the loop's signalfd must be
 * blocked already: the thread inherits the mask). */
int st_node_host_out_new(int heartbeat_ms, struct st_node_host_out **out, st_error *err);
/* Stops the thread and frees the queue. NULL is fine. */
void st_node_host_out_free(struct st_node_host_out *o);
/* An eventfd the loop polls for POLLIN: the heartbeat thread left bytes
 * queued or broke the connection. The loop reads it to rearm. */
int st_node_host_out_wake_fd(const struct st_node_host_out *o);
void st_node_host_out_wake_clear(struct st_node_host_out *o);
/* A host connected on fd: hello (consumed) goes first, heartbeats follow. */
void st_node_host_out_attach(struct st_node_host_out *o, int fd, json_t *hello);
/* No more writes to the fd (call before the transport closes it); the
 * queue is dropped. */
void st_node_host_out_detach(struct st_node_host_out *o);
/* Queues msg (consumed) and writes what the channel takes. Nothing happens
 * without a host, or once the connection broke. */
void st_node_host_out_send(struct st_node_host_out *o, json_t *msg);
/* Writes what is queued (the loop, on POLLOUT). */
void st_node_host_out_flush(struct st_node_host_out *o);
/* Bytes wait for the channel: the loop polls for POLLOUT. */
bool st_node_host_out_pending(struct st_node_host_out *o);
/* true and why (a person's sentence) once a write failed. */
bool st_node_host_out_broken(struct st_node_host_out *o, char *why, size_t len);
/* What the next heartbeats say about the pods: the digest and count as
 * the loop last computed them (a cached value: the heartbeat thread never
 * touches the pod table, which only the loop may read). */
void st_node_host_out_set_pods(struct st_node_host_out *o, const char *digest, int64_t pods);
/* Bytes from the host that nobody has read yet, for the self-fence's
 * watchdog (any thread): their count on a unix socket, INT_MAX when the
 * channel is readable but cannot count them (virtio-serial), 0 when none,
 * -1 without a host. */
int st_node_host_out_unread(struct st_node_host_out *o);
/* For the threads that must outrun pod work (the heartbeat, the
 * self-fence's watchdog): SCHED_FIFO 1, else nice -20, logged as who's. */
void st_node_thread_raise_priority(const char *who);
/* A priority-inheriting mutex (a plain one where PI is not supported):
 * 0 or an errno value. */
int st_node_mutex_init_pi(pthread_mutex_t *mu);

/* ---- the self-fence (self_fence.c) -------------------------------------
 * With hostGraceMs > 0, a watchdog thread SIGKILLs every pod's containers
 * once the host has been silent that long (see self_fence.c); the loop
 * then marks those pods Failed, reason ST_NODE_REASON_HOST_LOST, and
 * restarts none of them until the host's pod_run. */
#define ST_NODE_REASON_HOST_LOST "HostLost"

/* A host last heard at last_ns is silent at now_ns (both monotonic ns):
 * grace_ms > 0 (0 = off) and at least grace_ms passed. */
bool st_node_host_silent(int64_t last_ns, int64_t now_ns, int64_t grace_ms);

/* One firing of the watchdog, as the loop takes it. */
struct st_node_fence_fire {
    uint64_t epoch;      /* 1, 2, ...: one per silence */
    int64_t deadline_ns; /* last heard + grace (st_clock_ns) */
    int64_t fired_ns;    /* when the kills were sent */
    int64_t silent_ms;   /* fired_ns - last heard */
    int64_t grace_ms;
    int killed; /* containers SIGKILLed then */
    int pods;   /* the pods they belong to */
};

/* st_node_host_out_unread's contract, or a fake in the unit tests. */
typedef int (*st_node_unread_fn)(void *ctx);

struct st_node_self_fence;
/* Starts the watchdog (signals must be blocked already: the thread
 * inherits the mask); the host counts as heard now. grace_ms 0 = off.
 * unread may be NULL (no channel to ask). */
int st_node_self_fence_new(int64_t grace_ms, st_node_unread_fn unread, void *ctx,
                           struct st_node_self_fence **out, st_error *err);
/* Stops the thread. NULL is fine. */
void st_node_self_fence_free(struct st_node_self_fence *f);
void st_node_self_fence_set_grace(struct st_node_self_fence *f, int64_t grace_ms);
int64_t st_node_self_fence_grace(struct st_node_self_fence *f);
/* The loop read bytes from the host at now_ns (st_clock_ns). true when
 * that ends a fence in force (the pods it stopped stay stopped). */
bool st_node_self_fence_heard(struct st_node_self_fence *f, int64_t now_ns);
/* An eventfd the loop polls for POLLIN: the watchdog fired. */
int st_node_self_fence_wake_fd(const struct st_node_self_fence *f);
/* Rearms the wake fd; true and *fire for a firing the loop has not taken
 * yet (the latest). */
bool st_node_self_fence_take(struct st_node_self_fence *f, struct st_node_fence_fire *fire);
/* A container's process (pidfd: duplicated, the caller keeps its own) of
 * the pod uid, under key, for the watchdog to SIGKILL. true when a fence
 * is in force: the process was SIGKILLed at once. NULL f: nothing, false. */
bool st_node_self_fence_track(struct st_node_self_fence *f, const void *key, int pidfd,
                              const char *uid);
/* Forgets key's process (before its pidfd is closed). NULL f is fine. */
void st_node_self_fence_untrack(struct st_node_self_fence *f, const void *key);

/* ---- image layers and the writable root (images.c) ----------------------
 * The host's image store (strata/image.h) is shared read-only into the VM
 * (9p); each layer is unpacked there once, in overlayfs' lower form
 * (whiteouts as 0:0 character devices, opaque directories marked with the
 * user.overlay.opaque xattr). stratad sends each container its image's
 * layers, relative to the store, bottom to top. */

/* Creates dir (and its parents) and mounts an overlay at dir/rootfs whose
 * lowers are the n layers (images_dir/layers[i], bottom to top; none: an
 * empty dir/empty) and whose upper and work layers are dir/upper and
 * dir/work (dir must not be on overlayfs), with "userxattr" (the store's
 * opaque marks are user.* xattrs, the only ones 9p shows). source names
 * the mount in /proc/mounts ("strata-<container>"), so leak checks find
 * it. A missing layer is -ENOENT naming it and the store. On failure
 * nothing is left mounted. */
int st_node_overlay_mount(const char *dir, const char *images_dir, const char *const *layers,
                          size_t n, const char *source, st_error *err);

/* Unmounts dir/rootfs when mounted, then removes dir with the writable
 * layer. It never deletes through a mount point: if rootfs stays mounted,
 * dir is left in place and an error says so. A missing dir is fine. */
int st_node_overlay_remove(const char *dir, st_error *err);

/* ---- pod network (podnet.c) --------------------------------------------
 * With strata.podcidr= on the kernel cmdline each pod gets an address of
 * the node's /24 on the bridge strata0 (.1); see podnet.c. */
#define ST_NODE_BRIDGE       "strata0"
#define ST_NODE_POD_IP_FIRST 2
#define ST_NODE_POD_IP_LAST  254

/* "A.B.C.D" of addr (host byte order). */
void st_node_ipv4_str(uint32_t addr, char buf[16]);

/* The pod addresses of a /24: the lowest free one is handed out. */
struct st_node_ippool {
    uint32_t base;
    bool used[256];
};
void st_node_ippool_init(struct st_node_ippool *p, const struct st_node_cidr *c);
/* -ENOSPC with err when .2-.254 are all taken. */
int st_node_ippool_alloc(struct st_node_ippool *p, uint32_t *addr, st_error *err);
void st_node_ippool_release(struct st_node_ippool *p, uint32_t addr);
/* The host end's name of a pod's veth, at most 15 characters. */
void st_node_podnet_veth_name(uint32_t addr, const char *pod, char buf[16]);

/* One pod's place on the network. addr 0 = none. */
struct st_node_pod_if {
    uint32_t addr;
    char veth[16]; /* the host end */
};

struct st_node_podnet;
/* Routes svc as local on lo (any clusterIP can be bound); the bridge comes
 * with the first pod. */
int st_node_podnet_new(const struct st_node_cidr *pod, const struct st_node_cidr *svc,
                       struct st_node_podnet **out, st_error *err);
/* Removes the bridge. NULL is fine. */
void st_node_podnet_free(struct st_node_podnet *n);
const struct st_node_cidr *st_node_podnet_cidr(const struct st_node_podnet *n);
/* Gives the network namespace of pid (a sandbox) eth0 with the lowest free
 * address and a default route via the bridge. Nothing is left on failure. */
int st_node_podnet_attach(struct st_node_podnet *n, pid_t pid, const char *pod,
                          struct st_node_pod_if *pif, st_error *err);
/* Deletes the veth pair and frees the address; pif is zeroed. */
void st_node_podnet_detach(struct st_node_podnet *n, struct st_node_pod_if *pif);

/* ---- the service proxy (svcproxy.c) ------------------------------------
 * The guest side of Services: the relay listens on clusterIP:port of each
 * Service port of the snapshot and picks its backends round-robin. */
#define ST_NODE_SVCPROXY_HOST_CHANNEL "host"

/* Where listeners go: the relay, or a fake in the unit tests. */
struct st_node_svcproxy_ops {
    int (*listen)(void *ctx, const char *key, const char *addr, st_error *err);
    void (*unlisten)(void *ctx, const char *key);
};

struct st_node_svcproxy;
/* ops NULL: a relay engine of its own (side GUEST, OPENs from the host
 * resolved to this node's pods only). */
int st_node_svcproxy_new(const struct st_node_cidr *pod_cidr,
                         const struct st_node_svcproxy_ops *ops, void *ops_ctx,
                         struct st_node_svcproxy **out, st_error *err);
void st_node_svcproxy_free(struct st_node_svcproxy *sp);
/* A new snapshot (checked by st_proto_services_parse): listeners of ports
 * that stay keep listening (their backends are replaced), others are
 * opened or closed. The data port is (re)opened when it is not up. */
int st_node_svcproxy_update(struct st_node_svcproxy *sp, json_t *services, st_error *err);
/* The relay's pick for a listener key "ns/name:port": the backends from
 * the next in turn on; this node's pods direct, others via the host. */
int st_node_svcproxy_pick(void *opaque, const char *key, const char *from,
                          struct st_relay_target *out, int max, st_error *err);
/* The relay's resolve for an OPEN "ADDR:PORT" from the host: this node's
 * pods only. */
int st_node_svcproxy_resolve(void *opaque, const char *key, const char *from,
                             struct st_relay_target *out, int max, st_error *err);

/* ---- pod sandbox (sandbox.c) -------------------------------------------
 * A tiny process that holds a pod's shared namespaces (network with lo up,
 * IPC, UTS with the pod's hostname) for as long as the pod lives, so its
 * containers can join them and restart one by one, like the kubelet's
 * pause container. It is strata-node's child and dies with it. */
struct st_node_sandbox {
    pid_t pid;                  /* 0 = none */
    struct st_node_podnet *net; /* the pod network it is on, or NULL */
    struct st_node_pod_if pif;  /* its address there */
};

/* With net (not NULL), the sandbox's network gets an address on it. */
int st_node_sandbox_create(const char *hostname, struct st_node_podnet *net,
                           struct st_node_sandbox *sb, st_error *err);
/* "/proc/<pid>/ns/<ns>" of the sandbox, for linux.namespaces[].path. */
void st_node_sandbox_ns_path(const struct st_node_sandbox *sb, const char *ns, char *buf,
                             size_t len);
/* Takes it off the pod network, kills and reaps it; a zeroed sandbox is
 * fine. */
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
    /* imageLayers: relative to the image store, bottom to top (borrowed
     * strings, NULL-terminated; owned array) */
    const char **layers;
    size_t n_layers;
    json_t *oci; /* OCI config without root.path and namespace paths (owned) */
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
/* The pids.max every container gets: 1024, or one per 512 KiB of this
 * machine's memory when that is less (at least 64). */
long long st_node_container_pids_limit(void);

/* The config for one start of a container: its template with root.path =
 * rootfs, joining the network, IPC and UTS namespaces of the sandbox, and
 * with hosts (not NULL) bound read-only on /etc/hosts. */
int st_node_container_config(const struct st_node_container_spec *cs, const char *rootfs,
                             const struct st_node_sandbox *sb, const char *hosts,
                             struct st_oci_config **out, st_error *err);

/* ---- /etc/hosts of the pods (hosts.c) ----------------------------------
 * Each pod on the pod network has its own hosts file (bound on /etc/hosts
 * of its containers): localhost, itself, and every Service of the
 * snapshot by its names. Rewritten in place when the snapshot changes. */
/* The file's text (malloc'd): services is the `services` snapshot (NULL or
 * an array, as st_proto_services_parse checked it). */
int st_node_hosts_render(const char *pod_ip, const char *hostname, const char *ns,
                         const json_t *services, char **out, st_error *err);
/* Writes text into path keeping its inode (truncate and write), so the
 * containers' bind mounts see the new text; creates path when missing. */
int st_node_hosts_write(const char *path, const char *text, st_error *err);

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

/* ---- kubelet-style events (pod_events.c) --------------------------------
 * What the kubelet records about a pod (Created, Started, Killing,
 * Unhealthy, BackOff, Failed) goes to the host as `event` messages. A probe
 * failing every second must not flood the host's store: an identical event
 * (type, reason, message) goes out at most once per window per pod, and a
 * pod has a budget (a burst, then one per refill period) whatever they say,
 * like the kubelet's event correlator and spam filter. */
#define ST_NODE_EVENT_WINDOW_MS 10000
#define ST_NODE_EVENT_SEEN      16
#define ST_NODE_EVENT_BURST     25
#define ST_NODE_EVENT_REFILL_MS 2000

struct st_node_event_limit {
    struct {
        uint64_t key; /* hash of type, reason and message; 0 = free */
        int64_t at;   /* when it last went out (monotonic ms) */
    } seen[ST_NODE_EVENT_SEEN];
    int tokens;        /* events the pod may still send now */
    int64_t refill_at; /* when the next token comes, -1 = not started */
};

void st_node_event_limit_init(struct st_node_event_limit *l);
/* true when this event may go out now (and counts it); false when an
 * identical one went out less than ST_NODE_EVENT_WINDOW_MS ago or the pod's
 * budget is spent. */
bool st_node_event_allow(struct st_node_event_limit *l, int64_t now, const char *type,
                         const char *reason, const char *message);
/* Sends an event about pod (type "Normal" or "Warning") unless the limit
 * holds it back. */
void st_node_pod_event(struct st_node_pod *pod, int64_t now, const char *type, const char *reason,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

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
    /* st_clock_ns when pod_run arrived and when its sandbox was ready: the
     * first container's start logs its phases against them. */
    int64_t run_ns, sandbox_ns;
    struct st_node_pod_spec *spec; /* NULL when the spec was refused */
    struct st_node_sandbox sandbox;
    struct st_node_ctr *ctrs;
    size_t n_ctrs;
    char *reason, *message; /* a pod-level failure (bad spec, no sandbox), or NULL */
    char *hosts;            /* its /etc/hosts (pod network only), or NULL */
    bool stopping;
    /* Stopped by the self-fence: Failed, reason HostLost, fence_message
     * saying why; nothing restarts until the host's pod_run (kept in rerun
     * while killed containers are still on their way out). */
    bool fenced;
    char *fence_message;
    int64_t fence_deadline_ns; /* st_clock_ns: the deadline it was stopped for */
    json_t *rerun;
    json_t *status; /* the pod_status last reported (without seq) */
    struct st_node_event_limit events;
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
    struct st_node_podnet *net; /* the pod network, or NULL (a lone loopback) */
    const char *images_dir;
    const char *state_dir;
    long long backoff_base_ms;        /* 0 = Kubernetes' 10 s */
    struct st_node_self_fence *fence; /* tracks the containers' processes, or NULL */
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

/* The self-fence fired: every pod that pod_run brought before it and that
 * still has something running or to restart is stopped (SIGKILL, no
 * restarts) and reported Failed, reason HostLost. */
void st_node_pods_fence(struct st_node_pods *p, const struct st_node_fence_fire *fire);

/* The pod_status objects of all pods (borrowed array): hello's "pods" and
 * the heartbeat's digest. */
json_t *st_node_pods_states(struct st_node_pods *p);
/* Changes whenever those states may have changed, so the loop recomputes
 * the heartbeat's digest only then. */
uint64_t st_node_pods_generation(const struct st_node_pods *p);
/* The Services snapshot changed (services: the checked array, borrowed;
 * the table keeps a reference): every pod's hosts file is rewritten. */
void st_node_pods_set_services(struct st_node_pods *p, json_t *services);
/* Hands msg (consumed) to the host, as the pod table's own messages. */
void st_node_pods_emit(struct st_node_pods *p, json_t *msg);

/* Adds the fds and the next deadline the pods wait on; after poll and
 * st_node_pollset_dispatch, st_node_pods_process acts on what fired and on
 * due timers, and reports every status change. */
int st_node_pods_watch(struct st_node_pods *p, struct st_node_pollset *ps, st_error *err);
void st_node_pods_process(struct st_node_pods *p);

/* ---- the agent loop --------------------------------------------------- */
/* Runs until SIGTERM/SIGINT (returns 0) or a fatal error (negative). */
int st_node_agent_run(const struct st_node_config *cfg, st_error *err);

#endif
