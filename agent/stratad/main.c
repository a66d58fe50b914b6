/* main.c: stratad, the host agent. Parses flags, opens the server library
 * (strata/server.h: state dir lock, store, libvirt, re-adopted nodes),
 * serves its API, then runs the controller loop until SIGINT/SIGTERM. The
 * loop only waits and calls st_server_pass; slow work (VM starts) runs in
 * the server's workers. */
#include "strata/cleanup.h"
#include "strata/server.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stratad [--state-dir DIR] [--socket PATH] [--db DSN] [--libvirt URI]\n"
            "               [--node-image DIR] [--images DIR] [--grace-ms MS]\n"
            "               [--api-listen IPV4:PORT|none] [--api-listen-any]\n"
            "               [--multi-host] [--host-name NAME] [--lease-ms MS]\n"
            "               [--secret-key FILE]\n"
            "  --state-dir DIR   state, private PostgreSQL, node sockets (default %s)\n"
            "  --socket PATH     the API socket, mode 0600 (default %s)\n"
            "  --db DSN          use this PostgreSQL server instead of a private cluster\n"
            "  --libvirt URI     libvirt connection (default qemu:///system)\n"
            "  --node-image DIR  vmlinux + initramfs.cpio for nodes (default: BINDIR/../image)\n"
            "  --images DIR      the image store (default STATE_DIR/images)\n"
            "  --grace-ms MS     fence a node silent this long (default %d)\n"
            "  --api-listen A    the Kubernetes API over HTTPS for kubectl (default %s; port 0\n"
            "                    picks one; none: off); writes STATE_DIR/kubeconfig\n"
            "  --api-listen-any  allow an --api-listen address outside 127.0.0.0/8\n"
            "  --multi-host      one of several hosts sharing --db: hosts hold leases, one\n"
            "                    leads, and a host that cannot renew its lease fences its\n"
            "                    own VMs (without it a --db stratad is the only one there)\n"
            "  --host-name NAME  this host's name among them (implies --multi-host; default:\n"
            "                    the hostname)\n"
            "  --lease-ms MS     host and leader lease duration (default 6000); the renew,\n"
            "                    self-fence and node grace times scale with it\n"
            "  --secret-key FILE the key Secrets are sealed with (default STATE_DIR/secret.key);\n"
            "                    every stratad sharing --db needs the same one\n",
            ST_SERVER_STATE_DIR_DEFAULT, ST_SERVER_SOCKET_DEFAULT, ST_SERVER_GRACE_MS_DEFAULT,
            "127.0.0.1:6443");
}

/* The node image next to the binary: build/bin/stratad -> build/image. */
static char *default_node_image(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    char *out = NULL;
    if (asprintf(&out, "%s/../image", self) < 0)
        return NULL;
    char *real = realpath(out, NULL);
    if (real) {
        free(out);
        return real;
    }
    return out;
}

static int run(st_server *d, const char *socket_path)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        st_server_log("signalfd: %s", strerror(errno));
        return 1;
    }
    st_server_log("serving the API on %s", socket_path);
    for (;;) {
        struct pollfd p[3] = {{sfd, POLLIN, 0},
                              {st_server_kick_fd(d), POLLIN, 0},
                              {st_server_event_fd(d), POLLIN, 0}};
        /* At least every resync period, and when a node's grace ends. */
        int n = poll(p, 3, st_server_wait_ms(d, ST_SERVER_RESYNC_MS));
        if (n < 0 && errno != EINTR) {
            st_server_log("poll: %s", strerror(errno));
            return 1;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                st_server_log("got signal %u: shutting down (nodes keep running; a restarted "
                              "stratad re-adopts them)",
                              si.ssi_signo);
            break;
        }
        st_server_pass(d);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"socket", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'd'},
        {"libvirt", required_argument, NULL, 'l'},
        {"node-image", required_argument, NULL, 'i'},
        {"images", required_argument, NULL, 'I'},
        {"grace-ms", required_argument, NULL, 'g'},
        {"api-listen", required_argument, NULL, 'a'},
        {"api-listen-any", no_argument, NULL, 'A'},
        {"host-name", required_argument, NULL, 'H'},
        {"multi-host", no_argument, NULL, 'M'},
        {"lease-ms", required_argument, NULL, 'L'},
        {"secret-key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    st_server_config cfg = {.state_dir = ST_SERVER_STATE_DIR_DEFAULT,
                            .socket_path = ST_SERVER_SOCKET_DEFAULT,
                            .grace_ms = ST_SERVER_GRACE_MS_DEFAULT};
    _cleanup_free_ char *image_default = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            cfg.state_dir = optarg;
            break;
        case 'S':
            cfg.socket_path = optarg;
            break;
        case 'd':
            cfg.db_dsn = optarg;
            break;
        case 'l':
            cfg.libvirt_uri = optarg;
            break;
        case 'i':
            cfg.node_image = optarg;
            break;
        case 'I':
            cfg.images_dir = optarg;
            break;
        case 'g':
            cfg.grace_ms = atoi(optarg);
            if (cfg.grace_ms < ST_SERVER_GRACE_MS_MIN) {
                fprintf(stderr, "stratad: --grace-ms %s: give at least 100 (milliseconds)\n",
                        optarg);
                return 2;
            }
            break;
        case 'a':
            cfg.api_listen = optarg;
            break;
        case 'A':
            cfg.api_listen_any = true;
            break;
        case 'H':
            cfg.host_name = optarg;
            break;
        case 'M':
            cfg.multi_host = true;
            break;
        case 'L':
            cfg.lease_ms = atoi(optarg);
            if (cfg.lease_ms < 1000) {
                fprintf(stderr, "stratad: --lease-ms %s: give at least 1000 (milliseconds)\n",
                        optarg);
                return 2;
            }
            break;
        case 'K':
            cfg.secret_key = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stratad: unexpected argument %s (see stratad --help)\n", argv[optind]);
        return 2;
    }
    if (cfg.node_image == NULL)
        cfg.node_image = image_default = default_node_image();

    /* Signals are read from a signalfd by the loop; every thread inherits
     * the mask, so none of them is interrupted. SIGPIPE: a client that went
     * away is an error on that write only. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    st_error err = {0};
    st_server *d = NULL;
    int rc = 1;
    if (st_server_open(&cfg, &d, &err) < 0 || st_server_api_start(d, &err) < 0)
        fprintf(stderr, "stratad: %s\n", err.msg);
    else
        rc = run(d, cfg.socket_path);
    if (d)
        st_server_stop(d);
    st_server_close(d);
    return rc;
}
