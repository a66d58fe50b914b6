/* fuzz_node_to_host.c: what stratad reads from a node's channel
 * (runtime/node_proto.c), on any bytes: the line reader fed in two pieces,
 * each line decoded, and the message parsed by its type as the host does
 * (hello with its pods, heartbeat, pod_status, log, event, pong), the
 * pods digest of a hello's pods included. A node is a VM the host does not
 * trust: nothing it sends may crash stratad. Property: a parsed message
 * built again from its fields and parsed again reads the same. */
#include "fuzz.h"
#include "fuzz_proto.h"

#include <stdbool.h>

#include "strata/node_proto.h"

static bool same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* json_equal is false when both are NULL */
static bool same_json(json_t *a, json_t *b)
{
    return a == b || json_equal(a, b);
}

static void pod_status(json_t *msg)
{
    struct st_proto_pod_status ps = {0};
    if (st_proto_pod_status_parse(msg, &ps, NULL) < 0)
        return;
    json_t *built = NULL;
    if (st_proto_pod_status_build(&ps, &built, NULL) < 0)
        st_fuzz_fail("a parsed pod_status cannot be built again", msg, NULL);
    struct st_proto_pod_status again = {0};
    if (st_proto_pod_status_parse(built, &again, NULL) < 0 || !same(ps.pod, again.pod) ||
        !same(ps.uid, again.uid) || !same(ps.phase, again.phase) ||
        !same(ps.reason, again.reason) || !same(ps.message, again.message) ||
        !same(ps.started_at, again.started_at) || !same(ps.pod_ip, again.pod_ip) ||
        ps.ready != again.ready || ps.restart_count != again.restart_count ||
        ps.has_exit_code != again.has_exit_code || ps.exit_code != again.exit_code ||
        ps.removed != again.removed || !same_json(ps.containers, again.containers))
        st_fuzz_fail("pod_status parse -> build -> parse changed it", msg, built);
    json_decref(built);
}

/* One message of the node's side (st_fuzz_proto_handler). */
static bool message(json_t *msg, const char *type)
{
    if (strcmp(type, ST_PROTO_HELLO) == 0) {
        struct st_proto_hello h = {0};
        if (st_proto_hello_parse(msg, &h, NULL) == 0) {
            char digest[ST_PROTO_DIGEST_LEN];
            st_proto_pods_digest(h.pods, digest, NULL);
            size_t i;
            json_t *p;
            json_array_foreach(h.pods, i, p) pod_status(p);
        }
    } else if (strcmp(type, ST_PROTO_HEARTBEAT) == 0) {
        struct st_proto_heartbeat hb;
        st_proto_heartbeat_parse(msg, &hb, NULL);
    } else if (strcmp(type, ST_PROTO_POD_STATUS) == 0) {
        pod_status(msg);
    } else if (strcmp(type, ST_PROTO_LOG) == 0) {
        struct st_proto_log lg;
        st_proto_log_parse(msg, &lg, NULL);
    } else if (strcmp(type, ST_PROTO_EVENT) == 0) {
        struct st_proto_event ev;
        st_proto_event_parse(msg, &ev, NULL);
    } else {
        return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_fuzz_proto_lines(data, size, message);
    return 0;
}
