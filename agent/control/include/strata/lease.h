/* lease.h: the arithmetic of host and leader leases in multi-host mode
 * (several stratads sharing one PostgreSQL, issue 17): when a stratad must
 * fence itself, when the leader may call a host lost, whether a set of
 * timings is safe, and how far a host's clock is from the database's.
 * Pure: no clock is read, no store is called; every time is passed in.
 * Taking and renewing leases is the store's (strata/store_lease.h).
 *
 * The safety argument. A stratad renews its host lease every R; when no
 * renewal has succeeded for F, counted on its own monotonic clock from the
 * moment it SENT the last renewal that succeeded, it fences itself
 * (destroys its VMs). A VM whose stratad went silent (killed -9: it cannot
 * fence) stops its pods after G without a word from its host, which takes
 * at most K. The leader reads the lease with the database's clock and
 * calls the host lost only when db_now > renewTime + D + M. The database
 * stamped renewTime no earlier than that last renewal was sent, so by the
 * time the leader acts, more than D + M has passed since, and
 *     F + G + K <= D + M
 * means the host's pods are gone (fenced, or stopped by their VMs) before
 * the leader replaces them. R < F so that one renewal lost does not fence;
 * M covers the rate difference of the two clocks and the leader's own
 * delay in reading. */
#ifndef STRATA_LEASE_H
#define STRATA_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/store_lease.h"

/* The defaults (milliseconds): D, R, F, M, G, K above. */
#define ST_LEASE_DURATION_MS    6000
#define ST_LEASE_RENEW_MS       1000
#define ST_LEASE_FENCE_AFTER_MS 3000
#define ST_LEASE_MARGIN_MS      1500
#define ST_GUEST_HOST_GRACE_MS  2000
#define ST_GUEST_STOP_MS        1000

/* The leases' names: the leader's, and each host's own
 * (ST_LEASE_HOST_NS / ST_LEASE_HOST_PREFIX + host). */
#define ST_LEASE_LEADER_NS   "kube-system"
#define ST_LEASE_LEADER_NAME "strata-leader"
#define ST_LEASE_HOST_NS     "kube-node-lease"
#define ST_LEASE_HOST_PREFIX "strata-host-"
/* The label naming a Node's host (its stratad), as kubernetes.io/hostname
 * names the node. */
#define ST_HOST_LABEL "strata.io/host"

/* A Node's host, its ST_HOST_LABEL; NULL when it has none (a node of a
 * stratad that is alone). */
const char *st_node_host(json_t *node);

/* "strata-host-" + host in out (len bytes): -EINVAL when the result is no
 * valid object name (host must be a lowercase DNS subdomain, at most 241
 * bytes), -ENAMETOOLONG when len is too small. */
int st_lease_host_name(const char *host, char *out, size_t len, st_error *err);

/* Must a stratad fence itself now? True once fence_after_ms have passed on
 * the monotonic clock since it sent the last renewal that succeeded
 * (last_ok_send_mono_ns; at start, when it began to try). */
bool st_lease_self_fence_due(int64_t last_ok_send_mono_ns, int64_t now_mono_ns, int fence_after_ms);

/* May the leader call the lease's host lost? True when l->db_now_ms >
 * renewTime + duration + margin_ms, all on the database's clock. A lease
 * given up (no holder) counts the same way from its release, so margin
 * still applies; no lease at all (st_store_lease_get's -ENOENT leaves its
 * times 0) is lost. With margin_ms 0: has the lease expired? */
bool st_lease_host_lost(const st_lease_state *l, int margin_ms);

/* Checks a set of timings (milliseconds): every one positive (margin may
 * be 0), duration a whole number of seconds (leaseDurationSeconds),
 * renew < fence_after < duration, and fence_after + guest_grace +
 * guest_stop <= duration + margin. 0, or -EINVAL with the broken rule,
 * the figures and what to change in why (len bytes; may be NULL), for
 * stratad to refuse its flags with. */
int st_lease_timing_check(int duration_ms, int renew_ms, int fence_after_ms, int margin_ms,
                          int guest_grace_ms, int guest_stop_ms, char *why, size_t len);

/* How far the database's clock is ahead of the local one (negative:
 * behind), in milliseconds: db_now_ms minus the middle of the local
 * realtime interval [before, after] the database was asked in. Its
 * uncertainty is (after - before) / 2. */
int64_t st_lease_clock_skew_ms(int64_t local_realtime_ms_before, int64_t local_realtime_ms_after,
                               int64_t db_now_ms);

#endif
