/* node_liveness.c: which silent nodes to fence, and when stratad's own stall
 * voids the silence it saw (see node_liveness.h). Pure functions over
 * numbers, so every rule is unit-tested without VMs or clocks. */
#include "strata/node_liveness.h"

/* At least this many nodes silent at once (and more than half of them) make
 * a mass silence. */
#define ST_LIVENESS_MASS_MIN 2

void st_liveness_judge(const st_liveness_params *p, st_liveness_node *nodes, size_t n,
                       st_liveness_summary *out)
{
    int64_t suspect = p->suspect_ns > 0 ? p->suspect_ns : p->grace_ns / 2;
    if (suspect > p->grace_ns)
        suspect = p->grace_ns;
    *out = (st_liveness_summary){.judged = n, .fence = -1};
    for (size_t i = 0; i < n; i++) {
        st_liveness_node *nd = &nodes[i];
        int64_t silence = p->now_ns - nd->heard_ns;
        nd->verdict = ST_LIVENESS_ALIVE;
        if (nd->fencing) {
            out->silent++;
            continue;
        }
        if (silence >= suspect)
            out->silent++;
        if (silence >= p->grace_ns) {
            nd->verdict = ST_LIVENESS_LATE;
            out->late++;
        }
    }
    if (out->late == 0)
        return;
    out->hold = out->silent >= ST_LIVENESS_MASS_MIN && out->silent * 2 > out->judged;
    bool limited = p->fence_interval_ns > 0 && p->last_fence_ns != 0 &&
                   p->now_ns - p->last_fence_ns < p->fence_interval_ns;
    for (size_t i = 0; i < n; i++) {
        st_liveness_node *nd = &nodes[i];
        if (nd->verdict != ST_LIVENESS_LATE)
            continue;
        if (out->hold) {
            nd->verdict = ST_LIVENESS_HOLD;
            continue;
        }
        if (!limited && (out->fence < 0 || nd->heard_ns < nodes[out->fence].heard_ns))
            out->fence = (int)i;
    }
    if (out->fence >= 0)
        nodes[out->fence].verdict = ST_LIVENESS_FENCE;
}

int64_t st_liveness_stall_threshold_ns(int64_t grace_ns, int64_t period_ns)
{
    return 2 * period_ns + grace_ns / 2;
}

bool st_liveness_stalled(int64_t prev_ns, int64_t now_ns, int64_t threshold_ns, int64_t *gap_ns)
{
    int64_t gap = prev_ns > 0 ? now_ns - prev_ns : 0;
    if (gap_ns)
        *gap_ns = gap;
    return prev_ns > 0 && gap > threshold_ns;
}

int64_t st_liveness_next_ns(const st_liveness_params *p, const st_liveness_node *nodes, size_t n,
                            int64_t max_ns)
{
    int64_t next = max_ns;
    for (size_t i = 0; i < n; i++) {
        const st_liveness_node *nd = &nodes[i];
        int64_t due;
        if (nd->fencing || nd->verdict == ST_LIVENESS_HOLD)
            continue;
        if (nd->verdict == ST_LIVENESS_FENCE)
            due = 0;
        else if (nd->verdict == ST_LIVENESS_LATE)
            due = p->last_fence_ns + p->fence_interval_ns - p->now_ns;
        else
            due = nd->heard_ns + p->grace_ns - p->now_ns;
        if (due < 0)
            due = 0;
        if (due < next)
            next = due;
    }
    return next;
}
