/* node.c: `stratactl node add|list|kill|rm`: the VM nodes of this host.
 * add waits for the node (node_add.c); list is `get nodes`; kill destroys
 * the VM at once (simulated node loss); rm shuts it down and forgets it. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

/* A graceful shutdown may take a while before stratad answers. */
#define NODE_RM_TIMEOUT_S 300

static int node_list(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"watch", no_argument, NULL, 'w'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    enum stctl_output out = STCTL_OUT_TABLE;
    bool watch = false;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "o:w", opts, NULL)) != -1) {
        if (c == 'o') {
            if (!stctl_output_parse(optarg, &out))
                return stctl_usage("node list [-o wide|json|yaml|name] [-w]",
                                   "unknown output format \"%s\"", optarg);
            continue;
        }
        if (c == 'w') {
            watch = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, "node list [-o wide|json|yaml|name] [-w]");
        if (r >= 0)
            return r;
    }
    if (optind < argc)
        return stctl_usage("node list [-o wide|json|yaml|name] [-w]", "unexpected argument \"%s\"",
                           argv[optind]);
    st_error err = {0};
    if (stctl_show(ctl, st_ctlfmt_kind_lookup("nodes"), NULL, out, watch, &err) < 0)
        return stctl_fail(&err);
    return 0;
}

/* kill and rm: one node, one request. */
static int node_act(struct stctl *ctl, int argc, char **argv, const char *usage, bool kill)
{
    static const struct option opts[] = {STCTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        int r = stctl_common_option(ctl, c, argv, usage);
        if (r >= 0)
            return r;
    }
    if (argc - optind != 1)
        return stctl_usage(usage, "name one node");
    const char *name = argv[optind];
    if (strncmp(name, "node/", 5) == 0 || strncmp(name, "nodes/", 6) == 0)
        name = strchr(name, '/') + 1;
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    if (!kill)
        stctl_client_set_timeout(cl, NODE_RM_TIMEOUT_S);
    _cleanup_free_ char *path = NULL;
    if (stctl_path(cl, st_ctlfmt_kind_lookup("nodes"), NULL, name, kill ? "/kill" : NULL, &path,
                   &err) < 0 ||
        stctl_call(cl, kill ? "POST" : "DELETE", path, NULL, NULL, &err) < 0)
        return stctl_fail(&err);
    printf("node/%s %s\n", name, kill ? "killed" : "removed");
    return 0;
}

int stctl_verb_node(struct stctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return stctl_usage(STCTL_USAGE_NODE, "say what to do with nodes");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        printf("usage: stratactl %s\n       stratactl node list [-o wide|json|yaml|name] [-w]\n"
               "       stratactl node kill NAME\n       stratactl node rm NAME\n",
               STCTL_USAGE_NODE_ADD);
        return 0;
    }
    argc--;
    argv++;
    optind = 0;
    if (strcmp(sub, "add") == 0)
        return stctl_node_add(ctl, argc, argv);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        return node_list(ctl, argc, argv);
    if (strcmp(sub, "kill") == 0)
        return node_act(ctl, argc, argv, "node kill NAME", true);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0 || strcmp(sub, "delete") == 0)
        return node_act(ctl, argc, argv, "node rm NAME", false);
    return stctl_usage(STCTL_USAGE_NODE, "unknown node command \"%s\"", sub);
}
