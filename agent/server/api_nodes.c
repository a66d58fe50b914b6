/* api_nodes.c: /api/v1/nodes: list and get Nodes, the node commands
 * (add, kill, rm) that node_admin.c carries out, and what a node runs
 * (proxy/pods, api_nodeproxy.c). */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <stdlib.h>

static int add(struct st_server_call *c)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    /* ?timeoutSeconds=N: how long the VM may take to say hello. */
    const char *t = st_server_api_arg(c, "timeoutSeconds");
    char *end = NULL;
    long secs = t ? strtol(t, &end, 10) : 0;
    if (t && (*t == '\0' || *end != '\0' || secs < 1 || secs > 86400))
        return st_server_api_reply_status(c, 400, "timeoutSeconds=%s: give seconds from 1 to 86400",
                                          t);
    _cleanup_json_ json_t *node = NULL;
    int r = st_server_node_add(c->d, body, (int)secs * 1000, &node, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    st_server_kick(c->d);
    return st_server_api_reply_json(c, 201, node);
}

int st_server_api_nodes(struct st_server_call *c)
{
    st_error err = {0};
    size_t nseg = c->q->nseg;
    int r;
    /* seg: api v1 nodes [NAME [kill | proxy pods]] */
    if (nseg == 3 && st_server_api_method_is(c, "GET"))
        return st_server_api_get(c, "Node", NULL, NULL);
    if (nseg == 3 && st_server_api_method_is(c, "POST"))
        return add(c);
    if (nseg == 4 && st_server_api_method_is(c, "GET"))
        return st_server_api_get(c, "Node", NULL, c->q->seg[3]);
    if (nseg == 4 && st_server_api_method_is(c, "DELETE")) {
        if ((r = st_server_node_remove(c->d, c->q->seg[3], &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_success(c);
    }
    if (nseg == 4 && st_server_api_method_is(c, "PATCH"))
        return st_server_api_patch_node(c, c->q->seg[3]);
    if (nseg == 5 && st_server_api_seg_is(c, 4, "kill") && st_server_api_method_is(c, "POST")) {
        if ((r = st_server_node_kill(c->d, c->q->seg[3], &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_success(c);
    }
    if (nseg == 6 && st_server_api_seg_is(c, 4, "proxy") && st_server_api_seg_is(c, 5, "pods") &&
        st_server_api_method_is(c, "GET"))
        return st_server_api_node_pods(c, c->q->seg[3]);
    return st_server_api_reply_status(c, 405, "%s %s: not an API call (see agent/API.md)",
                                      c->q->method, "/api/v1/nodes/...");
}

/* DELETE /strata/v1/node-templates: drops this stratad's booted node
 * templates; {"removed": N}. */
int st_server_api_node_templates(struct st_server_call *c)
{
    if (!st_server_api_method_is(c, "DELETE"))
        return st_server_api_reply_status(c, 405, "/strata/v1/node-templates: only DELETE");
    st_error err = {0};
    int n = st_server_node_templates_drop(c->d, &err);
    if (n < 0)
        return st_server_api_reply_error(c, n, &err, ST_SERVER_API_COMMANDS);
    _cleanup_json_ json_t *out = json_pack("{s:i}", "removed", n);
    return st_server_api_reply_json(c, 200, out);
}
