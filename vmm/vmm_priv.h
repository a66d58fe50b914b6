/* vmm_priv.h: what conn.c, channel.c and node_vm.c share inside the vmm
 * library: the st_vmm object, the per-node record and the event queue.
 * Not installed, not for callers: they see only strata/vmm.h. */
#ifndef STRATA_VMM_PRIV_H
#define STRATA_VMM_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include <libvirt/libvirt.h>

#include "strata/node_proto.h"
#include "strata/vmm.h"

typedef struct st_vmm_node st_vmm_node;

/* One node started (or being started) by this process. Fields marked
 * [lock] are guarded by vmm->lock; [loop] are touched only on the event
 * thread. The record lives while a reference is held (registry, channel
 * watch). */
struct st_vmm_node {
    st_vmm_node *next; /* [lock] registry list */
    atomic_int refs;
    st_vmm *vmm;
    char name[ST_NODE_NAME_MAX + 1];
    char domain[ST_NODE_NAME_MAX + 16];
    char *sock_path;
    char *console_path;
    char *data_path; /* the data port's socket (Service traffic) */

    int chan_fd;                   /* [lock] closed only by the watch's free callback */
    int watch;                     /* [lock] libvirt event handle, -1 when none */
    struct st_proto_reader reader; /* [loop] */
    uint64_t send_seq;             /* [send_lock] */
    /* Held from a message's number to its last byte, so two threads (the
     * loop, the host's lease pings) never interleave lines or numbers. */
    pthread_mutex_t send_lock;
    unsigned bad_lines; /* [loop] lines that were not protocol messages */

    bool ready;                          /* [lock] hello received */
    json_t *hello;                       /* [lock] */
    bool dead;                           /* [lock] */
    st_node_death cause;                 /* [lock] */
    int64_t eof_ns, stopped_ns, dead_ns; /* [lock] */
};

struct st_vmm_qitem;

struct st_vmm {
    virConnectPtr conn;
    char *uri;
    int lifecycle_cb; /* callback id, -1 when none */
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* node state changed (ready, dead); CLOCK_MONOTONIC */
    st_vmm_node *nodes;                 /* [lock] */
    struct st_vmm_qitem *qhead, *qtail; /* [lock] */
    int efd;                            /* eventfd: nonzero while the queue is not empty */
    pthread_mutex_t template_lock;      /* one template made or rewritten at a time */
};

/* conn.c: the registry and the queue. */
st_vmm_node *st_vmm_node_new(st_vmm *vmm, const char *name, const char *sock_path,
                             const char *console_path, const char *data_path);
void st_vmm_node_unref(st_vmm_node *node);
static inline void st_vmm_node_unrefp(st_vmm_node **n)
{
    st_vmm_node_unref(*n);
}
#define _cleanup_node_ __attribute__((cleanup(st_vmm_node_unrefp)))
/* Connecting to QEMU's channel sockets right after virDomainCreate. */
#define ST_NODE_CHANNEL_CONNECT_MS 5000
/* Adds to the registry (takes a reference). EEXIST when the name is there. */
int st_vmm_registry_add(st_vmm *vmm, st_vmm_node *node, st_error *err);
/* Removes from the registry, closes its channel, drops the registry's ref. */
void st_vmm_registry_remove(st_vmm *vmm, st_vmm_node *node);
/* A new reference to the registered node, or NULL. */
st_vmm_node *st_vmm_registry_get(st_vmm *vmm, const char *name);
/* Records one sign of death at ts; the first one queues DEAD and wakes
 * waiters. Takes vmm->lock. */
void st_vmm_node_mark_dead(st_vmm_node *node, st_node_death cause, int64_t ts, const char *detail);
/* Queues a message (takes the reference to msg). Takes vmm->lock. */
void st_vmm_queue_message(st_vmm *vmm, const char *node, json_t *msg);
/* CLOCK_MONOTONIC now + timeout_ms, for pthread_cond_timedwait on
 * condition variables made with that clock. */
void st_vmm_deadline(struct timespec *dl, int timeout_ms);
/* The message of libvirt's last error on this thread. */
const char *st_vmm_virt_error(void);

/* node_fence.c: the process-level fence behind st_vmm_node_fence, for
 * tests: kills every process whose command line says "-name guest=DOMAIN"
 * (DOMAIN must start with "strata-"), found through pid_file (may be NULL)
 * and a scan of /proc. */
int st_vmm_fence_domain(const char *domain, const char *pid_file, int timeout_ms,
                        st_vmm_fence_report *rep, st_error *err);

/* node_vm.c, for node_template.c */
int st_vmm_node_cold_start(st_vmm *vmm, const st_node_spec *spec, const st_vmm_start_options *opts,
                           json_t **hello, st_error *err);
/* Destroys and undefines dom (may be NULL), drops node, removes its files. */
void st_vmm_node_discard(st_vmm *vmm, st_vmm_node *node, virDomainPtr dom);
/* Waits for node's hello: 0, -ECHILD (died) or -ETIMEDOUT. */
int st_vmm_node_wait_ready(st_vmm *vmm, st_vmm_node *node, int timeout_ms, json_t **hello);
/* The console log's last lines (malloc'd) or NULL. */
char *st_vmm_console_tail(const char *path);

/* node_template.c: st_vmm_node_start with opts->template_dir. */
int st_vmm_node_template_start(st_vmm *vmm, const st_node_spec *spec,
                               const st_vmm_start_options *opts, json_t **hello, st_error *err);

/* channel.c */
int st_vmm_channel_open(st_vmm_node *node, int timeout_ms, st_error *err);
void st_vmm_channel_close(st_vmm_node *node);
int st_vmm_channel_send(st_vmm_node *node, json_t *msg, st_error *err);

/* A node spec made ready to start: accel AUTO resolved (accel_root: NULL
 * for the host's own /dev and /sys), the spec validated, the boot files
 * checked (their error names the node). Cold starts and restores alike. */
int st_vmm_spec_prepare(st_node_spec *spec, const char *accel_root, st_error *err);

#endif
