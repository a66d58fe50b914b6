/* node.c: `stratactl node add|list|kill|rm`: the VM nodes of this host.
 * add waits for the node (node_add.c); list is `get nodes`; kill destroys
 * the VM at once (simulated node loss); rm shuts it down and forgets it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

/* A graceful shutdown may take a while before stratad answers. */
#define NODE_RM_TIMEOUT_S 300

/* `node list` is `get nodes`, with the same flags. */
static int node_list(struct stctl *ctl, int argc, char **argv)
{
    _cleanup_free_ char **v = calloc((size_t)argc + 2, sizeof(*v));
    if (v == NULL) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    v[0] = (char *)"get";
    v[1] = (char *)"nodes";
    for (int i = 1; i < argc; i++)
        v[i + 1] = argv[i];
    return stctl_verb_get(ctl, argc + 1, v);
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
    if (stctl_path(cl, stctl_fmt_kind_lookup("nodes"), NULL, name, kill ? "/kill" : NULL, &path,
                   &err) < 0 ||
        stctl_call(cl, kill ? "POST" : "DELETE", path, NULL, NULL, &err) < 0)
        return stctl_fail(&err);
    printf("node/%s %s\n", name, kill ? "killed" : "removed");
    return 0;
}

/* `node template rm`: drops stratad's booted node templates. */
static int node_template(struct stctl *ctl, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "rm") != 0)
        return stctl_usage("node template rm", "the one template command is rm");
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    json_t *out = NULL;
    if (stctl_call(cl, "DELETE", "/strata/v1/node-templates", NULL, &out, &err) < 0)
        return stctl_fail(&err);
    printf("%lld node template(s) removed\n",
           (long long)json_integer_value(json_object_get(out, "removed")));
    json_decref(out);
    return 0;
}

int stctl_verb_node(struct stctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return stctl_usage(STCTL_USAGE_NODE, "say what to do with nodes");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        printf("usage: stratactl %s\n       stratactl node list [-o wide|json|yaml|name] [-w]\n"
               "       stratactl node kill NAME\n       stratactl node rm NAME\n"
               "       stratactl node template rm\n",
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
    if (strcmp(sub, "template") == 0 || strcmp(sub, "templates") == 0)
        return node_template(ctl, argc, argv);
    if (strcmp(sub, "kill") == 0)
        return node_act(ctl, argc, argv, "node kill NAME", true);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0 || strcmp(sub, "delete") == 0)
        return node_act(ctl, argc, argv, "node rm NAME", false);
    return stctl_usage(STCTL_USAGE_NODE, "unknown node command \"%s\"", sub);
}
