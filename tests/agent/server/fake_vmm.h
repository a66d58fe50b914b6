/* fake_vmm.h: a vmm for the server's unit tests, behind the same ops table
 * as libvirt (server_priv.h): nodes "boot" at once and say hello, send
 * heartbeats when told, can be made silent (they just stop) or dead (a
 * DEAD event), and every message sent to them is recorded; a pods_query
 * is answered with the pods the node was sent and not stopped. Its clock
 * only moves when the test moves it. */
#ifndef STRATA_TEST_FAKE_VMM_H
#define STRATA_TEST_FAKE_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "server_priv.h"

struct fake_vmm;

struct fake_vmm *fake_vmm_new(void);
/* After st_server_close (whose vmm close leaves the fake alone). */
void fake_vmm_free(struct fake_vmm *f);
struct st_server_vmm fake_vmm_seam(struct fake_vmm *f);

int64_t fake_vmm_now_ns(struct fake_vmm *f);
void fake_vmm_advance_ms(struct fake_vmm *f, int64_t ms);
/* A heartbeat from every running node that is not silent, at the clock's
 * time. */
void fake_vmm_heartbeats(struct fake_vmm *f);
/* The node says hello again (it saw a new host). */
void fake_vmm_hello(struct fake_vmm *f, const char *name);
/* The node stops talking (its VM still runs). */
void fake_vmm_silence(struct fake_vmm *f, const char *name);
/* The node's VM exits: a DEAD event (channel EOF). */
void fake_vmm_kill(struct fake_vmm *f, const char *name);
/* Later node_starts fail with a host memory error from the check. */
void fake_vmm_host_full(struct fake_vmm *f, bool full);

/* How many messages of type (and for uid, unless NULL) went to the node. */
size_t fake_vmm_sent(struct fake_vmm *f, const char *name, const char *type, const char *uid);
/* The last such message (new reference), NULL when none. */
json_t *fake_vmm_last_sent(struct fake_vmm *f, const char *name, const char *type, const char *uid);
/* How many times the node was fenced. */
int fake_vmm_fenced(struct fake_vmm *f, const char *name);
size_t fake_vmm_fences_total(struct fake_vmm *f);

#endif
