/* server.h: the Strata server as a library: it owns the state dir lock,
 * the store (its own PostgreSQL cluster unless a DSN is given), the
 * connection to libvirt, the node table and the HTTP API on a unix socket.
 * A program (stratad) opens one, starts its API, and runs a loop that waits
 * on the two fds below and calls st_server_pass; slow work (VM starts,
 * fences) runs in the server's own workers. It must not install signal
 * handlers, exit, or block the caller's loop for long: signals and the
 * loop are the program's. */
#ifndef STRATA_SERVER_H
#define STRATA_SERVER_H

#include <stdbool.h>

#include "strata/error.h"

#define ST_SERVER_STATE_DIR_DEFAULT "/var/lib/strata"
#define ST_SERVER_SOCKET_DEFAULT    "/run/strata/strata.sock"
/* A running node that sends nothing for this long is fenced (DESIGN.md);
 * nodes send heartbeats every quarter of it (liveness.c). */
#define ST_SERVER_GRACE_MS_DEFAULT 3000
#define ST_SERVER_GRACE_MS_MIN     100
/* Controller passes run at least this often, and at once when kicked. */
#define ST_SERVER_RESYNC_MS 500

typedef struct st_server st_server;

/* The strings are borrowed: they must outlive the server. */
typedef struct st_server_config {
    const char *state_dir;
    const char *socket_path;
    const char *db_dsn;      /* NULL: the embedded PostgreSQL cluster */
    const char *libvirt_uri; /* NULL: qemu:///system */
    const char *node_image;  /* folder with vmlinux and initramfs.cpio */
    const char *images_dir;  /* the image store; NULL: STATE_DIR/images */
    int grace_ms;
    /* The Kubernetes API over HTTPS (kubectl): "IPV4:PORT" (port 0 picks
     * one), NULL for 127.0.0.1:6443, "none" for no TCP port. An address
     * outside 127.0.0.0/8 is refused unless api_listen_any. */
    const char *api_listen;
    bool api_listen_any;
    /* Several hosts on one PostgreSQL (with db_dsn): this host's name
     * (NULL: the machine's hostname), unique among the stratad sharing the
     * database; lease_ms the host and leader lease duration (0: the
     * default, strata/lease.h; the other timings scale with it). */
    const char *host_name;
    int lease_ms;
    /* Join the hosts sharing db_dsn (also when host_name is given): leases,
     * one leader, self-fencing. Off, a --db stratad is the only one on its
     * database (a PostgreSQL outage pauses it; its nodes keep their pods). */
    bool multi_host;
    /* The key Secrets are sealed with (NULL: STATE_DIR/secret.key, made at
     * first start); stratad sharing a database need the same one. */
    const char *secret_key;
    /* Several stratad share the store (issue 17): watches and the loop
     * follow the store's change feed (every host's writes), not only this
     * process's writes. Needs a PostgreSQL store. */
    bool shared_store;
} st_server_config;

/* Refuses (-EADDRINUSE, -EBUSY) when another server answers on the socket
 * or holds the state dir; then opens the store, libvirt, and re-adopts the
 * node VMs still running. The API is not served yet (st_server_api_start).
 * On failure *out is NULL and everything made is undone. */
int st_server_open(const st_server_config *cfg, st_server **out, st_error *err);
/* Stops the API, waits (bounded) for node workers, closes libvirt and the
 * store; node VMs keep running for the next server to re-adopt. */
void st_server_close(st_server *s);

/* Serves the HTTP API (agent/API.md) on cfg->socket_path, mode 0600, and
 * over HTTPS on cfg->api_listen with a bearer token, writing
 * STATE_DIR/kubeconfig for kubectl (its path: st_server_kubeconfig). */
int st_server_api_start(st_server *s, st_error *err);
void st_server_api_stop(st_server *s);
/* STATE_DIR/kubeconfig once the HTTPS port is served, else NULL. */
const char *st_server_kubeconfig(const st_server *s);

/* One controller pass: node events and liveness, the controllers, pods
 * sent to nodes. Call it when an fd below is readable or the wait ends. */
void st_server_pass(st_server *s);
/* Readable when a write asks for a pass; st_server_pass reads it. */
int st_server_kick_fd(st_server *s);
/* Readable when nodes have news (libvirt's and the nodes' channels). */
int st_server_event_fd(st_server *s);
/* How long the loop may wait before a pass is due, at most max_ms. */
int st_server_wait_ms(st_server *s, int max_ms);
/* Asks the workers and the API's streams to end (before st_server_close). */
void st_server_stop(st_server *s);

/* A line on stderr with the time, as every part of the server logs. */
void st_server_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
