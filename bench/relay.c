/* relay.c (bench_relay): the data path without the VMs. Two relays in one
 * process, a host side and a guest side joined by a socketpair as a node's
 * data port would join them, the host side listening on 127.0.0.1:PORT and
 * sending every connection through the guest side to BACKEND. bench/service
 * puts the same load through it as through a real Service, so the figure
 * splits the relay's own cost from what the VM under TCG costs.
 *
 * usage: bench_relay PORT BACKEND_IP:PORT SECONDS */
#include "strata/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *backend;

static int pick(void *opaque, const char *key, const char *from, struct st_relay_target *out,
                int max, st_error *err)
{
    (void)opaque, (void)key, (void)from, (void)max, (void)err;
    memset(out, 0, sizeof(*out));
    snprintf(out->channel, sizeof(out->channel), "node");
    snprintf(out->addr, sizeof(out->addr), "%s", backend);
    return 1;
}

static int resolve(void *opaque, const char *key, const char *from, struct st_relay_target *out,
                   int max, st_error *err)
{
    (void)opaque, (void)from, (void)max, (void)err;
    memset(out, 0, sizeof(*out));
    snprintf(out->addr, sizeof(out->addr), "%s", key);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_relay PORT BACKEND_IP:PORT SECONDS\n");
        return 2;
    }
    backend = argv[2];
    st_error err = {0};
    st_relay *host = NULL, *guest = NULL;
    int sp[2];
    struct st_relay_config hc = {.side = ST_RELAY_SIDE_HOST};
    struct st_relay_config gc = {.side = ST_RELAY_SIDE_GUEST, .resolve = resolve};
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%s", argv[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
        st_relay_new(&hc, &host, &err) < 0 || st_relay_new(&gc, &guest, &err) < 0 ||
        st_relay_channel_add(host, "node", sp[0], &err) < 0 ||
        st_relay_channel_add(guest, "host", sp[1], &err) < 0 ||
        st_relay_listen(host, "bench", listen, pick, NULL, &err) < 0) {
        fprintf(stderr, "bench_relay: %s\n", err.msg[0] ? err.msg : "socketpair failed");
        return 1;
    }
    printf("bench_relay: listening on %s, relaying to %s\n", listen, backend);
    fflush(stdout);
    sleep((unsigned)atoi(argv[3]));
    st_relay_free(host);
    st_relay_free(guest);
    return 0;
}
