/* store_lease.h: Kubernetes Leases (coordination.k8s.io/v1) kept by the
 * store, taken, renewed and given up atomically against the DATABASE's
 * clock. Several stratads sharing one PostgreSQL decide who holds a lease
 * (a host's own lease, the leader's) here, and never with their own clocks:
 * every time a lease carries (acquireTime, renewTime) and every "now" it is
 * judged against come from the database (PostgreSQL's now(); the memory
 * backend's clock, CLOCK_REALTIME or one a unit test sets).
 *
 * A Lease is stored as any other kind ("Lease", namespaced, table leases):
 *   spec.holderIdentity       who holds it (absent: given up)
 *   spec.leaseDurationSeconds for how long after renewTime (whole seconds)
 *   spec.acquireTime          when the holder took it (RFC 3339, micro)
 *   spec.renewTime            its holder's last renewal (RFC 3339, micro)
 *   spec.leaseTransitions     how many times the holder changed
 * and every write below takes a new resourceVersion and reaches the watch
 * hook (ADDED when it created the Lease, else MODIFIED); a try that leaves
 * the lease to someone else writes nothing.
 *
 * What "held" means is the caller's arithmetic (strata/lease.h): this file
 * reports the lease and the database's clock at that moment. */
#ifndef STRATA_STORE_LEASE_H
#define STRATA_STORE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/store.h"

/* The longest holder identity the store takes (bytes, without the NUL). */
#define ST_LEASE_HOLDER_MAX 127

/* A lease as it stands, with the database's clock when it was read. Times
 * are milliseconds since the epoch on the database's clock. */
typedef struct st_lease_state {
    bool held;                               /* a holder is recorded (it may have expired) */
    char holder[ST_LEASE_HOLDER_MAX + 1];    /* "" when none */
    int64_t renew_ms, acquire_ms, db_now_ms; /* 0 when the lease has no such time */
    int duration_ms;                         /* leaseDurationSeconds * 1000 */
    int transitions;                         /* leaseTransitions */
    unsigned long long resource_version;     /* 0: no such lease */
} st_lease_state;

/* Takes ns/name for holder, or renews it, in one atomic step at the
 * database's now(): creates the Lease when there is none; takes it when it
 * has no holder or has expired (now() > renewTime + leaseDurationSeconds),
 * or renews it (renewTime = now(), never earlier than it was) when holder
 * already holds it; otherwise leaves it as it is. Taking it from another
 * holder (or after a release) sets acquireTime = now() and adds one to
 * leaseTransitions; leaseDurationSeconds becomes duration_ms / 1000 on
 * every write.
 *
 * duration_ms: a whole number of seconds (Kubernetes keeps seconds),
 * 1000 to 3600000. holder: 1 to ST_LEASE_HOLDER_MAX bytes. *out (may be
 * NULL) is the lease after the call and the database's now().
 * Returns 1 when holder holds the lease now, 0 when someone else does, a
 * negative errno on failure (-ST_ESTORE_DOWN when the store cannot be
 * reached: nothing is known then; -EINVAL for bad arguments).
 * Re-running a try is harmless (the holder renews again), so a lost
 * connection re-runs it once, as every store statement. */
int st_store_lease_try(st_store *s, const char *ns, const char *name, const char *holder,
                       int duration_ms, st_lease_state *out, st_error *err);

/* holder gives ns/name up: when it holds it, the holder is cleared and
 * renewTime set to now() (the release), one write; the next try of anyone
 * takes it at once. Returns 1 when it was released, 0 when holder did not
 * hold it (nothing written; no such lease included), negative on failure.
 * *out (may be NULL) as st_store_lease_try's. Give a host lease up only
 * once its VMs are down: whoever reads it may act at once. */
int st_store_lease_release(st_store *s, const char *ns, const char *name, const char *holder,
                           st_lease_state *out, st_error *err);

/* Reads ns/name and the database's now() (*out). 0, or -ENOENT when there
 * is no such lease (out->db_now_ms is set all the same), or negative. */
int st_store_lease_get(st_store *s, const char *ns, const char *name, st_lease_state *out,
                       st_error *err);

/* The database's clock now (PostgreSQL: now(); memory: its clock), in
 * milliseconds since the epoch: compared with the local clock around the
 * call (strata/lease.h, st_lease_clock_skew_ms) to tell a host whose clock
 * is off. */
int st_store_db_now_ms(st_store *s, int64_t *ms, st_error *err);

/* The memory backend's clock, for unit tests: fn(arg) gives milliseconds
 * since the epoch (fn NULL: CLOCK_REALTIME again). -EINVAL when s is not a
 * memory store. */
typedef int64_t (*st_store_clock_fn)(void *arg);
int st_store_mem_set_clock(st_store *s, st_store_clock_fn fn, void *arg, st_error *err);

#endif
