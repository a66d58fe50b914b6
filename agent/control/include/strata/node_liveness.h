/* node_liveness.h: deciding which silent nodes to fence. Given when each
 * node was last heard from, the time and the grace: which nodes are alive,
 * which are past the grace and may be fenced now, which wait (rate limit),
 * and when so many are silent at once that the host, not the nodes, is the
 * likelier culprit (then none is fenced). Also notices stratad's own stall.
 * Pure: no clock, no store, no I/O; the caller acts on the verdicts. */
#ifndef STRATA_NODE_LIVENESS_H
#define STRATA_NODE_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum st_liveness_verdict {
    ST_LIVENESS_ALIVE = 0, /* heard from within the grace (or already being fenced) */
    ST_LIVENESS_LATE,      /* past the grace; its fence waits for the rate limit */
    ST_LIVENESS_HOLD,      /* past the grace, but too many nodes are silent at once */
    ST_LIVENESS_FENCE,     /* past the grace: fence it now (at most one per call) */
} st_liveness_verdict;

typedef struct st_liveness_node {
    /* in */
    int64_t heard_ns; /* its newest message, or the start of a fresh grace */
    bool fencing;     /* a fence is in flight: counted as silent, never picked again */
    /* out */
    st_liveness_verdict verdict;
} st_liveness_node;

typedef struct st_liveness_params {
    int64_t now_ns;
    int64_t grace_ns;          /* silent this long: a candidate for fencing */
    int64_t suspect_ns;        /* silent this long: counted as "silent at once" (0: grace / 2) */
    int64_t last_fence_ns;     /* when the last fence started (0: never) */
    int64_t fence_interval_ns; /* at most one fence per interval (0: no limit) */
} st_liveness_params;

typedef struct st_liveness_summary {
    size_t judged; /* nodes given */
    size_t silent; /* silent past suspect_ns, or being fenced */
    size_t late;   /* past the grace, not being fenced */
    bool hold;     /* too many silent at once: nothing is fenced */
    int fence;     /* index of the node to fence now, or -1 */
} st_liveness_summary;

/* Judges the nodes that run (not starting, not dead). The rule, as the
 * Kubernetes node lifecycle controller stops evicting in a full disruption:
 * when at least 2 nodes and more than half of the judged ones are silent at
 * once, the cause is more likely on the host's side (stratad, libvirt, the
 * machine) than in the nodes, and none is fenced. Otherwise a node past the
 * grace is fenced, the longest silent first, at most one per
 * fence_interval_ns. A node that is the only one judged is therefore judged
 * alone and fenced: there is no majority to compare it with.
 *
 * "Silent at once" counts nodes silent past suspect_ns, not the grace: the
 * last heartbeats of nodes that stop together are up to one heartbeat
 * interval apart, so the first crosses the grace while the others are still
 * just short of it. suspect_ns must lie between a healthy node's longest
 * silence (its heartbeat interval plus jitter) and the grace minus that:
 * grace / 2 with heartbeats every grace / 4 leaves a quarter of the grace on
 * each side. */
void st_liveness_judge(const st_liveness_params *p, st_liveness_node *nodes, size_t n,
                       st_liveness_summary *out);

/* The controller loop runs at least every period_ns; a gap between two of
 * its passes longer than this means stratad itself was not running (stopped,
 * swapped out, paused with its host) and the silence it saw is not the
 * nodes' fault. Two periods (a pass may wait for the vmm once) plus half the
 * grace: a shorter stall still leaves each node half its grace to be heard. */
int64_t st_liveness_stall_threshold_ns(int64_t grace_ns, int64_t period_ns);

/* Whether the gap from the previous pass (prev_ns, 0: none yet) to now_ns
 * is a stall; *gap_ns (may be NULL) receives the gap. */
bool st_liveness_stalled(int64_t prev_ns, int64_t now_ns, int64_t threshold_ns, int64_t *gap_ns);

/* How long until a verdict may change by the clock alone (a node reaches
 * the grace, or the rate limit lets a waiting fence go), in ns from
 * p->now_ns, for nodes as st_liveness_judge left them; max_ns when nothing
 * is due sooner. Held nodes do not count: a hold ends by messages. */
int64_t st_liveness_next_ns(const st_liveness_params *p, const st_liveness_node *nodes, size_t n,
                            int64_t max_ns);

#endif
