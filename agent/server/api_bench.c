/* api_bench.c: the start-up comparison's last results, for the dashboard's
 * chart. `stratactl bench startup` runs the bench on the host and PUTs its
 * results (strata/startup_results.h) here over the unix socket; stratad
 * keeps them in STATE/bench-startup.json (not secret: 0644) across
 * restarts and serves them as JSON and as the SVG chart the CLI's --svg
 * writes, drawn by the same code (agent/chart). */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/startup_results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int results_path(struct st_server_call *c, char **path)
{
    return asprintf(path, "%s/" ST_SERVER_BENCH_FILE, c->d->cfg.state_dir) < 0 ? -ENOMEM : 0;
}

static int put_results(struct st_server_call *c)
{
    if (c->q->tcp)
        return st_server_api_reply_status(c, 403,
                                          "start-up results are sent on stratad's unix socket "
                                          "only (stratactl bench startup)");
    st_error err = {0};
    _cleanup_json_ json_t *doc = st_server_api_parse_body(c, &err);
    if (doc == NULL || st_startup_results_check(doc, &err) < 0)
        return st_server_api_reply_status(c, 400, "start-up results: %s", err.msg);
    _cleanup_free_ char *path = NULL, *text = json_dumps(doc, JSON_INDENT(2));
    if (text == NULL || results_path(c, &path) < 0)
        return -ENOMEM;
    int r = st_fs_write_atomic(path, text, strlen(text), 0644, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    return st_server_api_reply_json(c, 200, doc);
}

/* The stored results (new reference), or NULL with the reply made. */
static json_t *stored(struct st_server_call *c, int *r)
{
    _cleanup_free_ char *path = NULL;
    if ((*r = results_path(c, &path)) < 0)
        return NULL;
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    st_error err = {0};
    if (doc && st_startup_results_check(doc, &err) == 0)
        return doc;
    json_decref(doc);
    *r = st_server_api_reply_status(c, 404,
                                    "no start-up results yet: run `stratactl bench startup` (as "
                                    "root) and they show here");
    return NULL;
}

int st_server_api_bench(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    bool json = q->nseg == 4 && st_server_api_seg_is(c, 3, "startup");
    bool svg = q->nseg == 4 && st_server_api_seg_is(c, 3, "startup.svg");
    if (json && st_server_api_method_is(c, "PUT"))
        return put_results(c);
    if (!(json || svg) || !st_server_api_method_is(c, "GET"))
        return st_server_api_reply_status(c, json || svg ? 405 : 404,
                                          "/strata/v1/bench/startup takes GET and PUT, "
                                          "/strata/v1/bench/startup.svg GET");
    int r = 0;
    _cleanup_json_ json_t *doc = stored(c, &r);
    if (doc == NULL)
        return r;
    if (json)
        return st_server_api_reply_json(c, 200, doc);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return -ENOMEM;
    st_error err = {0};
    r = st_startup_results_svg(f, doc, &err);
    fclose(f);
    if (r == 0)
        r = st_server_api_reply_text(c, 200, "image/svg+xml", text, len);
    else
        r = st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    free(text);
    return r;
}
