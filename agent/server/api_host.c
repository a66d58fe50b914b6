/* api_host.c: GET /strata/v1/host, the layer under the nodes: this
 * host's CPUs, memory, kernel, the accelerator a node added now would get
 * and why (st_accel_choose, as `node add` decides), and how many nodes it
 * holds. The dashboard draws the host box from it. */
#include "api_priv.h"
#include "strata/accel.h"
#include "strata/cleanup.h"
#include "strata/meminfo.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* A /proc/meminfo field in bytes; 0 when it cannot be read. */
static json_int_t meminfo_bytes(const char *field)
{
    int64_t kib = 0;
    return st_meminfo_kib(NULL, field, &kib, NULL) < 0 ? 0 : (json_int_t)kib * 1024;
}

int st_server_api_host(struct st_server_call *c)
{
    char hostname[256] = "";
    gethostname(hostname, sizeof(hostname) - 1);
    struct utsname u = {0};
    uname(&u);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    st_accel_choice accel = {0};
    st_error err = {0};
    if (st_accel_choose(NULL, ST_ACCEL_AUTO, &accel, &err) < 0)
        return st_server_api_reply_error(c, -EIO, &err, ST_SERVER_API_COMMANDS);
    _cleanup_json_ json_t *nodes = NULL;
    st_store_query q = {.kind = "Node"};
    int r = st_store_list(c->d->store, &q, &nodes, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    _cleanup_json_ json_t *host =
        json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:I}", "hostname", hostname, "cpus",
                  (json_int_t)(cpus > 0 ? cpus : 1), "memoryBytes", meminfo_bytes("MemTotal"),
                  "memAvailableBytes", meminfo_bytes("MemAvailable"), "accel",
                  st_accel_name(accel.accel), "accelReason", accel.reason, "kernel", u.release,
                  "nodes", (json_int_t)json_array_size(nodes));
    return host ? st_server_api_reply_json(c, 200, host) : -ENOMEM;
}
