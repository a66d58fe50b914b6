/* pod_events.c: the kubelet-style events strata-node reports about its
 * pods, and the limit that keeps them from flooding the host (see node.h).
 * The lifecycle code in pods.c says what happened; this file decides
 * whether it goes out and builds the `event` message. Like the kubelet's
 * event correlator, repeats are dropped rather than counted: the host
 * stores each event it gets. */
#include "node.h"
#include "strata/node_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void st_node_event_limit_init(struct st_node_event_limit *l)
{
    memset(l, 0, sizeof(*l));
    l->tokens = ST_NODE_EVENT_BURST;
    l->refill_at = -1;
}

/* FNV-1a 64 over the fields, each with its terminating NUL so that
 * ("ab", "c") and ("a", "bc") differ; never 0 (a free slot). */
static uint64_t event_key(const char *type, const char *reason, const char *message)
{
    const char *parts[3] = {type, reason, message};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 3; i++) {
        const char *s = parts[i] ? parts[i] : "";
        do {
            h ^= (unsigned char)*s;
            h *= 0x100000001b3ULL;
        } while (*s++);
    }
    return h ? h : 1;
}

static void refill(struct st_node_event_limit *l, int64_t now)
{
    if (l->tokens >= ST_NODE_EVENT_BURST) {
        l->refill_at = -1;
        return;
    }
    if (l->refill_at < 0)
        l->refill_at = now + ST_NODE_EVENT_REFILL_MS;
    while (l->tokens < ST_NODE_EVENT_BURST && now >= l->refill_at) {
        l->tokens++;
        l->refill_at += ST_NODE_EVENT_REFILL_MS;
    }
    if (l->tokens >= ST_NODE_EVENT_BURST)
        l->refill_at = -1;
}

bool st_node_event_allow(struct st_node_event_limit *l, int64_t now, const char *type,
                         const char *reason, const char *message)
{
    uint64_t key = event_key(type, reason, message);
    size_t slot = 0;
    for (size_t i = 0; i < ST_NODE_EVENT_SEEN; i++) {
        if (l->seen[i].key == key) {
            if (now - l->seen[i].at < ST_NODE_EVENT_WINDOW_MS)
                return false;
            slot = i;
            break;
        }
        /* else the free slot, or the one that went out longest ago */
        if (l->seen[slot].key != 0 && (l->seen[i].key == 0 || l->seen[i].at < l->seen[slot].at))
            slot = i;
    }
    refill(l, now);
    if (l->tokens <= 0)
        return false;
    l->tokens--;
    refill(l, now);
    l->seen[slot].key = key;
    l->seen[slot].at = now;
    return true;
}

void st_node_pod_event(struct st_node_pod *pod, int64_t now, const char *type, const char *reason,
                       const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (!st_node_event_allow(&pod->events, now, type, reason, message))
        return;
    struct st_proto_event ev = {.pod = pod->name,
                                .uid = pod->uid,
                                .ns = pod->ns,
                                .event_type = type,
                                .reason = reason,
                                .message = message};
    json_t *msg = NULL;
    st_error err = {0};
    if (st_proto_event_build(&ev, &msg, &err) < 0) {
        st_node_log("pod %s: cannot build a %s event: %s", pod->name, reason, err.msg);
        return;
    }
    st_node_pods_emit(pod->pods, msg);
}
