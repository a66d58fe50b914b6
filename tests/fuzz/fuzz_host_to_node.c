/* fuzz_host_to_node.c: what strata-node reads from the host's channel
 * (runtime/node_proto.c), on any bytes: the line reader fed in two pieces,
 * each line decoded and parsed by its type as the node agent does
 * (pod_run, pod_stop, ping, clock, services). A pod_run's spec then goes
 * through the node's own translation (runtime/node/pod_spec.c) and each
 * container's OCI config through the runtime's loader, as a pod start
 * would, without starting anything. */
#include "fuzz.h"
#include "fuzz_proto.h"

#include <stdbool.h>

#include "node.h"
#include "strata/node_proto.h"
#include "strata/oci_config.h"

static void pod_run(json_t *msg)
{
    struct st_proto_pod_run pr = {0};
    if (st_proto_pod_run_parse(msg, &pr, NULL) < 0)
        return;
    struct st_node_pod_spec *ps = NULL;
    if (st_node_pod_spec_parse(pr.spec, pr.pod, &ps, NULL) < 0)
        return;
    struct st_node_sandbox sb = {.pid = 1};
    for (size_t i = 0; i < ps->n_containers; i++) {
        struct st_oci_config *oci = NULL;
        if (st_node_container_config(&ps->containers[i], "/rootfs", &sb, "/run/hosts", &oci,
                                     NULL) == 0)
            st_oci_config_free(oci);
    }
    st_node_pod_spec_free(ps);
}

/* One message of the host's side (st_fuzz_proto_handler). */
static bool message(json_t *msg, const char *type)
{
    if (strcmp(type, ST_PROTO_POD_RUN) == 0) {
        pod_run(msg);
    } else if (strcmp(type, ST_PROTO_POD_STOP) == 0) {
        struct st_proto_pod_stop ps;
        st_proto_pod_stop_parse(msg, &ps, NULL);
    } else if (strcmp(type, ST_PROTO_CLOCK) == 0) {
        int64_t ms;
        st_proto_clock_parse(msg, &ms, NULL);
    } else if (strcmp(type, ST_PROTO_SETTINGS) == 0) {
        struct st_proto_settings st;
        st_proto_settings_parse(msg, &st, NULL);
    } else if (strcmp(type, ST_PROTO_SERVICES) == 0) {
        json_t *services = NULL;
        if (st_proto_services_parse(msg, &services, NULL) == 0) {
            size_t i;
            json_t *svc;
            json_array_foreach(services, i, svc)
            {
                struct st_proto_service f;
                st_proto_service_fields(svc, &f);
            }
        }
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
