/* node.h: private interfaces of strata-node, the node agent in each VM:
 * its configuration, the facts it reports about the machine, the transport
 * ops table (virtio-serial port or unix socket) and the event loop. Only
 * the files of runtime/node/ include it; nothing here is a library API. */
#ifndef STRATA_NODE_H
#define STRATA_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/error.h"

/* Keep in step with project(strata VERSION ...) in the top CMakeLists.txt. */
#define ST_NODE_VERSION "0.1.0"

#define ST_NODE_HEARTBEAT_MS_DEFAULT 1000

/* ---- logging (stderr: the VM's console) ------------------------------- */
void st_node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- configuration ---------------------------------------------------- */
struct st_node_config {
    char *name;          /* --name, kernel cmdline strata.node=, or hostname */
    int heartbeat_ms;    /* --heartbeat-ms, or strata.heartbeat_ms=, or 1000 */
    char *listen_path;   /* --listen unix:PATH; NULL = the virtio-serial port */
    char *port_name;     /* virtio-serial port name to look for */
    const char *cmdline; /* file to read kernel arguments from (/proc/cmdline) */
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

/* ---- the agent loop --------------------------------------------------- */
/* Runs until SIGTERM/SIGINT (returns 0) or a fatal error (negative). */
int st_node_agent_run(const struct st_node_config *cfg, st_error *err);

#endif
