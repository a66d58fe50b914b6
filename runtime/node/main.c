/* main.c: strata-node's command line: parses flags into a config and hands
 * it to the agent loop. No work happens here; `strata-node --help` lists the
 * flags. Exit codes: 0 clean stop (SIGTERM), 1 runtime error, 2 bad usage. */
#include "node.h"
#include "strata/node_proto.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-node [--name NAME] [--heartbeat-ms N] [--listen unix:PATH]\n"
               "                   [--port NAME] [--cmdline FILE] [--images DIR]\n"
               "                   [--state-dir DIR] [--backoff-base-ms N] [--host-grace-ms N]\n"
               "                   | --version | --help\n"
               "  --name NAME        node name (default: kernel cmdline strata.node=, then "
               "hostname)\n"
               "  --heartbeat-ms N   heartbeat interval (default: strata.heartbeat_ms=, then "
               "1000)\n"
               "  --listen unix:PATH serve the host on a unix socket instead of virtio-serial\n"
               "  --port NAME        virtio-serial port name (default org.strata.node.0)\n"
               "  --cmdline FILE     read kernel arguments from FILE (default /proc/cmdline)\n"
               "  --images DIR       the image store, its layers in DIR/layers/<hex> (default "
               "/var/lib/strata/images)\n"
               "  --state-dir DIR    per-pod work: overlays, container state; not on overlayfs\n"
               "                     (default /var/lib/strata)\n"
               "  --backoff-base-ms N  first restart delay of a crashing container, doubling\n"
               "                     up to 5 min (default 10000, as Kubernetes)\n"
               "  --host-grace-ms N  SIGKILL every pod once the host has been silent N ms\n"
               "                     (self-fence; default: strata.host_grace_ms=, then 0 = off)\n");
}

/* A number in [min, max] for flag, or -1 after saying what is wrong. */
static long parse_num(const char *flag, const char *arg, long min, long max, const char *unit)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "strata-node: %s %s: give %s between %ld and %ld\n", flag, arg, unit, min,
                max);
        return -1;
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"heartbeat-ms", required_argument, NULL, 'b'},
        {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"cmdline", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"images", required_argument, NULL, 'i'},
        {"state-dir", required_argument, NULL, 's'},
        {"backoff-base-ms", required_argument, NULL, 'B'},
        {"host-grace-ms", required_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    struct st_node_config cfg = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            free(cfg.name);
            cfg.name = strdup(optarg);
            break;
        case 'b': {
            long v = parse_num("--heartbeat-ms", optarg, 10, 3600000, "milliseconds");
            if (v < 0) {
                st_node_config_free(&cfg);
                return 2;
            }
            cfg.heartbeat_ms = (int)v;
            break;
        }
        case 'B': {
            long v = parse_num("--backoff-base-ms", optarg, 1, 300000, "milliseconds");
            if (v < 0) {
                st_node_config_free(&cfg);
                return 2;
            }
            cfg.backoff_base_ms = v;
            break;
        }
        case 'G': {
            long v = parse_num("--host-grace-ms", optarg, 0, ST_PROTO_HOST_GRACE_MAX_MS,
                               "milliseconds (0 = off)");
            if (v < 0) {
                st_node_config_free(&cfg);
                return 2;
            }
            cfg.host_grace_ms = v;
            cfg.host_grace_set = true;
            break;
        }
        case 'i':
            free(cfg.images_dir);
            cfg.images_dir = strdup(optarg);
            break;
        case 's':
            free(cfg.state_dir);
            cfg.state_dir = strdup(optarg);
            break;
        case 'l':
            if (strncmp(optarg, "unix:", 5) != 0 || optarg[5] == '\0') {
                fprintf(stderr, "strata-node: --listen %s: only unix:PATH is supported\n", optarg);
                return 2;
            }
            free(cfg.listen_path);
            cfg.listen_path = strdup(optarg + 5);
            break;
        case 'p':
            free(cfg.port_name);
            cfg.port_name = strdup(optarg);
            break;
        case 'c':
            cfg.cmdline = optarg;
            break;
        case 'V':
            printf("strata-node %s\n", ST_NODE_VERSION);
            st_node_config_free(&cfg);
            return 0;
        case 'h':
            usage(stdout);
            st_node_config_free(&cfg);
            return 0;
        default:
            usage(stderr);
            st_node_config_free(&cfg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "strata-node: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        st_node_config_free(&cfg);
        return 2;
    }

    st_error err = {0};
    int rc = st_node_template_wait(&cfg, &err);
    if (rc >= 0)
        rc = st_node_config_resolve(&cfg, &err);
    if (rc >= 0)
        rc = st_node_agent_run(&cfg, &err);
    if (rc < 0)
        st_node_log("error: %s", err.msg);
    st_node_config_free(&cfg);
    return rc < 0 ? 1 : 0;
}
