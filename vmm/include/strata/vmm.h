/* vmm.h: Strata node VMs through libvirt: connect, start a node and wait for
 * its hello, shut down, destroy, undefine, list for re-adoption, and an event
 * queue reporting node messages and deaths. Thread-safe; every wait has a
 * timeout. It never schedules anything and never touches a domain whose name
 * does not start with "strata-". */
#ifndef STRATA_VMM_H
#define STRATA_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "strata/accel.h"
#include "strata/domain_xml.h"
#include "strata/error.h"

#define ST_VMM_URI_DEFAULT "qemu:///system"
/* Under TCG a node reaches hello in ~2.3 s; 30 s covers a loaded 2-core host. */
#define ST_VMM_READY_TIMEOUT_MS_DEFAULT    30000
#define ST_VMM_SHUTDOWN_TIMEOUT_MS_DEFAULT 10000
/* Lines of the console log quoted in a start error. */
#define ST_VMM_CONSOLE_TAIL_LINES 15

typedef struct st_vmm st_vmm;

typedef struct st_vmm_options {
    const char *uri; /* NULL → ST_VMM_URI_DEFAULT */
} st_vmm_options;

/* Connects to libvirt and starts the process's one libvirt event thread
 * (shared by every st_vmm; it runs lifecycle callbacks, keepalive and the
 * node channels). opts may be NULL. */
int st_vmm_open(const st_vmm_options *opts, st_vmm **out, st_error *err);
/* Closes channels and the connection. Domains keep running: a restarted
 * daemon re-adopts them (st_vmm_node_list). NULL is fine. */
void st_vmm_close(st_vmm *vmm);

/* ---- events ------------------------------------------------------------
 * Produced on the vmm event thread, which only queues them and never waits
 * for the consumer; drained by any one consumer thread. */

typedef enum st_vmm_event_kind {
    ST_VMM_EVENT_MESSAGE = 1, /* a node protocol message (hello, heartbeat, pong, ...) */
    ST_VMM_EVENT_DEAD,        /* the node is gone; reported once, on its first sign */
} st_vmm_event_kind;

typedef enum st_node_death {
    ST_NODE_DEATH_NONE = 0,
    ST_NODE_DEATH_CHANNEL_EOF, /* the channel socket closed: QEMU exited (fastest sign) */
    ST_NODE_DEATH_STOPPED,     /* libvirt lifecycle event STOPPED (authoritative) */
    ST_NODE_DEATH_CRASHED,     /* libvirt lifecycle event CRASHED */
} st_node_death;

const char *st_node_death_name(st_node_death cause);

typedef struct st_vmm_event {
    st_vmm_event_kind kind;
    char node[ST_NODE_NAME_MAX + 1]; /* node name (without "strata-") */
    int64_t mono_ns;                 /* CLOCK_MONOTONIC when it was queued */
    /* DEAD */
    st_node_death cause;
    int64_t sign_ns; /* CLOCK_MONOTONIC when the first sign was seen */
    char detail[128];
    /* MESSAGE */
    const char *type; /* points into msg */
    json_t *msg;      /* owned by the event */
} st_vmm_event;

/* Readable while events are queued (poll it in an event loop; never read it). */
int st_vmm_event_fd(st_vmm *vmm);
/* Takes the oldest event, waiting up to timeout_ms (0: do not wait, -1 is
 * refused: every wait has a bound). Returns 1 with *ev filled, 0 when none. */
int st_vmm_event_next(st_vmm *vmm, int timeout_ms, st_vmm_event *ev, st_error *err);
void st_vmm_event_clear(st_vmm_event *ev);

/* Waits (up to timeout_ms) until the event thread has completed a full
 * iteration that began after this call: every node message that had reached
 * the host by then is in the queue. Call it before judging a node silent,
 * so what the channels already delivered is not mistaken for silence.
 * -ETIMEDOUT when the thread did not get there in time. */
int st_vmm_sync(st_vmm *vmm, int timeout_ms, st_error *err);

/* ---- nodes ------------------------------------------------------------ */

/* How a start went (st_vmm_start_options.report). */
typedef struct st_vmm_start_report {
    bool restored;       /* the node was restored from a template */
    bool template_made;  /* this start booted and saved the template first */
    int64_t template_ms; /* making the template (cold boot + save), 0 when none */
    int64_t restore_ms;  /* of a restored node: libvirt's restore (QEMU up, state read) */
    int64_t define_ms;   /* ... defining it persistently (after the identity is sent) */
    int64_t identity_ms; /* ... channel connected, identity sent */
    int64_t hello_ms;    /* ... identity sent to hello */
    char fallback[ST_ERROR_MSG_MAX]; /* why a template start booted cold instead ("" when it did
                                        not) */
} st_vmm_start_report;

typedef struct st_vmm_start_options {
    int ready_timeout_ms;   /* 0 → ST_VMM_READY_TIMEOUT_MS_DEFAULT */
    const char *accel_root; /* root for st_accel_choose when spec->accel is AUTO; NULL → "/" */
    /* Non-NULL: start from a booted template kept in this folder (see
     * strata/node_template.h); made on first use; any problem with it ends
     * in a cold boot, said in report->fallback. NULL: a cold boot. */
    const char *template_dir;
    st_vmm_start_report *report; /* may be NULL */
} st_vmm_start_options;

/* Checks that the kernel (ELF or bzImage) and initramfs (newc cpio) exist,
 * are readable and look like what they claim to be. */
int st_vmm_boot_files_check(const char *kernel, const char *initramfs, st_error *err);

/* Starts a node and waits for its hello: checks the spec and boot files,
 * refuses a name whose domain exists (EEXIST, nothing changed), defines the
 * domain (persistent), starts it, connects to its channel and waits for
 * hello. On timeout, or when the VM dies before hello, it destroys and
 * undefines the domain and removes its files; the error quotes the last
 * console lines. Nothing half-defined is left on any failure. *hello (may be
 * NULL) receives a new reference to the hello message. Blocks for up to the
 * ready timeout: call it from a worker thread, not an event loop. */
int st_vmm_node_start(st_vmm *vmm, const st_node_spec *spec, const st_vmm_start_options *opts,
                      json_t **hello, st_error *err);

/* Connects to a running node's data port (Service traffic: runtime/relay
 * frames) and hands the nonblocking socket to the caller, who owns it. One
 * connection at a time: QEMU accepts a second only after the first closed. */
int st_vmm_node_data_connect(st_vmm *vmm, const char *name, int *fd, st_error *err);

/* Sends one protocol message (seq set here) to a running node. */
int st_vmm_node_send(st_vmm *vmm, const char *name, json_t *msg, st_error *err);

/* Asks the guest to power off (ACPI), waits up to timeout_ms (0 → default),
 * then destroys it. The domain stays defined. */
int st_vmm_node_shutdown(st_vmm *vmm, const char *name, int timeout_ms, st_error *err);
/* Kills the VM at once (simulates node loss). The domain stays defined.
 * libvirt SIGTERMs QEMU and waits up to 10 s before SIGKILL, also for a
 * stopped QEMU: to fence a hung node, use st_vmm_node_fence first. */
int st_vmm_node_destroy(st_vmm *vmm, const char *name, st_error *err);

/* Bounds the wait for a killed QEMU to exit. */
#define ST_VMM_FENCE_TIMEOUT_MS_DEFAULT 2000

typedef struct st_vmm_fence_report {
    int pid;         /* the QEMU process killed; 0 when none was running */
    int64_t gone_ns; /* from the call until its exit was confirmed */
    char how[96];    /* how it was found ("pid file", "/proc") or why none was */
} st_vmm_fence_report;

/* Fences a node for certain, without libvirt: finds its QEMU process
 * (libvirt's pid file, its command line checked to name the domain, else a
 * scan of /proc), sends SIGKILL through a pidfd (a stopped process dies
 * too, and a reused pid is never hit), and waits up to timeout_ms (0 →
 * ST_VMM_FENCE_TIMEOUT_MS_DEFAULT) until the process has exited. Returns 0
 * only when no QEMU of the domain runs any more; otherwise (-ETIMEDOUT,
 * -EPERM, ...) the guest may still run and must be treated as alive. Tell
 * libvirt afterwards with st_vmm_node_destroy (quick once QEMU is gone).
 * Blocks up to timeout_ms: call it from a worker, not an event loop. */
int st_vmm_node_fence(st_vmm *vmm, const char *name, int timeout_ms, st_vmm_fence_report *rep,
                      st_error *err);

/* What a running node costs the host beyond its guest memory: QEMU itself
 * and the TCG translation cache (FACTS-vm: ~240 MiB resident for a
 * 192 MiB guest). */
#define ST_VMM_QEMU_OVERHEAD_MIB 64

/* Checks that the host can give a new node memory_mib of guest memory plus
 * ST_VMM_QEMU_OVERHEAD_MIB: compares with MemAvailable in meminfo_path
 * (NULL → /proc/meminfo). -ENOMEM with a one-line message when it cannot. */
int st_vmm_host_memory_check(unsigned memory_mib, const char *meminfo_path, st_error *err);
/* Removes a stopped node's definition, socket and console log. A running
 * node is refused (EBUSY). */
int st_vmm_node_undefine(st_vmm *vmm, const char *name, st_error *err);

/* What the vmm has seen of a node it started in this process. */
typedef struct st_vmm_node_signs {
    bool ready;
    bool dead;
    st_node_death cause; /* the first sign */
    int64_t eof_ns;      /* channel EOF seen (0: not yet) */
    int64_t stopped_ns;  /* libvirt STOPPED/CRASHED seen (0: not yet) */
    int64_t dead_ns;     /* DEAD queued (0: not yet) */
} st_vmm_node_signs;
int st_vmm_node_signs_get(st_vmm *vmm, const char *name, st_vmm_node_signs *out, st_error *err);

/* A Strata domain found in libvirt (carries our <metadata>). */
typedef struct st_vmm_node_info {
    char name[ST_NODE_NAME_MAX + 1];
    char domain[ST_NODE_NAME_MAX + 16];
    bool running;
    int state;     /* virDomainState */
    char accel[8]; /* "kvm" / "tcg" */
    char created[32];
    char state_dir[256];
} st_vmm_node_info;
/* Every domain named strata-* with Strata metadata, defined or running;
 * *nodes is one array, released with free(). */
int st_vmm_node_list(st_vmm *vmm, st_vmm_node_info **nodes, size_t *count, st_error *err);

/* Takes over a running node that an earlier process started (a restarted
 * daemon): registers it and connects to its channel; the node greets every
 * new connection, so its hello (with the pods it runs) arrives as a MESSAGE
 * event, and its death as DEAD like any node's. -ENOENT: no such domain;
 * -ESRCH: defined but not running; -EEXIST: already managed here. */
int st_vmm_node_adopt(st_vmm *vmm, const char *name, st_error *err);

/* CLOCK_MONOTONIC in nanoseconds (the clock of every *_ns above). */
int64_t st_vmm_now_ns(void);

#endif
