/* main.c: strata-node's command line: parses flags into a config and hands
 * it to the agent loop. No work happens here; `strata-node --help` lists the
 * flags. Exit codes: 0 clean stop (SIGTERM), 1 runtime error, 2 bad usage. */
#include "node.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-node [--name NAME] [--heartbeat-ms N] [--listen unix:PATH]\n"
               "                   [--port NAME] [--cmdline FILE] | --version | --help\n"
               "  --name NAME        node name (default: kernel cmdline strata.node=, then "
               "hostname)\n"
               "  --heartbeat-ms N   heartbeat interval (default: strata.heartbeat_ms=, then "
               "1000)\n"
               "  --listen unix:PATH serve the host on a unix socket instead of virtio-serial\n"
               "  --port NAME        virtio-serial port name (default org.strata.node.0)\n"
               "  --cmdline FILE     read kernel arguments from FILE (default /proc/cmdline)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},    {"heartbeat-ms", required_argument, NULL, 'b'},
        {"listen", required_argument, NULL, 'l'},  {"port", required_argument, NULL, 'p'},
        {"cmdline", required_argument, NULL, 'c'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
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
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 10 || v > 3600000) {
                fprintf(stderr,
                        "strata-node: --heartbeat-ms %s: give milliseconds between 10 "
                        "and 3600000\n",
                        optarg);
                return 2;
            }
            cfg.heartbeat_ms = (int)v;
            break;
        }
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
    int rc = st_node_config_resolve(&cfg, &err);
    if (rc >= 0)
        rc = st_node_agent_run(&cfg, &err);
    if (rc < 0)
        st_node_log("error: %s", err.msg);
    st_node_config_free(&cfg);
    return rc < 0 ? 1 : 0;
}
