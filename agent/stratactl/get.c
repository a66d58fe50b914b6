/* get.c: `stratactl get KIND [NAME] [-o wide|json|yaml|name] [-w]`: GET a
 * list or one object and print it as a kubectl-like table, JSON or YAML;
 * stctl_show is shared with `node list` and `image list`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/yaml_out.h"

static bool same_name(json_t *obj, void *arg)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (name == NULL)
        name = json_string_value(json_object_get(obj, "name"));
    return name && strcmp(name, (const char *)arg) == 0;
}

static void print_name(const struct st_ctlfmt_kind *k, json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (name == NULL)
        name = json_string_value(json_object_get(obj, "name"));
    printf("%s/%s\n", k->ref, name ? name : "?");
}

int stctl_show(struct stctl *ctl, const struct st_ctlfmt_kind *k, const char *name,
               enum stctl_output out, bool watch, st_error *err)
{
    stctl_client *cl = stctl_connect(ctl, err);
    if (cl == NULL)
        return -err->code;
    _cleanup_free_ char *path = NULL;
    int r = stctl_path(cl, k, ctl->ns, name, NULL, &path, err);
    _cleanup_json_ json_t *reply = NULL;
    if (r == 0)
        r = stctl_call(cl, "GET", path, NULL, &reply, err);
    if (r < 0)
        return r;
    if (!json_is_object(reply))
        return st_error_set(err, EPROTO, "stratad answered GET %s with no object", path);

    json_t *items = name ? NULL : json_object_get(reply, "items");
    if (!name && !json_is_array(items))
        return st_error_set(err, EPROTO, "stratad answered GET %s without \"items\"", path);
    st_ctlfmt_table *table = NULL;
    size_t i;
    json_t *it;
    switch (out) {
    case STCTL_OUT_JSON:
        if (json_dumpf(reply, stdout, JSON_INDENT(4)) < 0)
            return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
        putchar('\n');
        break;
    case STCTL_OUT_YAML:
        r = st_yaml_write(stdout, reply, false, err);
        break;
    case STCTL_OUT_NAME:
        if (name)
            print_name(k, reply);
        json_array_foreach(items, i, it)
        {
            print_name(k, it);
        }
        break;
    case STCTL_OUT_TABLE:
    case STCTL_OUT_WIDE:
        r = st_ctlfmt_table_for_kind(k, out == STCTL_OUT_WIDE, &table, err);
        if (r == 0 && name)
            r = st_ctlfmt_table_add_object(table, reply, time(NULL), err);
        json_array_foreach(items, i, it)
        {
            if (r == 0)
                r = st_ctlfmt_table_add_object(table, it, time(NULL), err);
        }
        if (r == 0)
            r = st_ctlfmt_table_write(stdout, table, err);
        if (r == 0 && !name && json_array_size(items) == 0) {
            if (k->namespaced)
                fprintf(stderr, "No resources found in %s namespace.\n", ctl->ns);
            else
                fprintf(stderr, "No resources found\n");
        }
        break;
    }
    fflush(stdout);
    if (r == 0 && watch)
        r = stctl_watch_print(ctl, k, reply, table, out, name ? same_name : NULL, (void *)name,
                              err);
    st_ctlfmt_table_free(table);
    return r;
}

int stctl_verb_get(struct stctl *ctl, int argc, char **argv)
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
                return stctl_usage(STCTL_USAGE_GET, "unknown output format \"%s\"", optarg);
            continue;
        }
        if (c == 'w') {
            watch = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_GET);
        if (r >= 0)
            return r;
    }
    st_error err = {0};
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_GET, "%s", err.msg);
    if (n > 1)
        return stctl_usage(STCTL_USAGE_GET, "get shows one kind, and one name at most");
    if (t[0].kind->id == ST_CTLFMT_EVENT)
        return stctl_usage(STCTL_USAGE_GET, "for events use `stratactl events`");
    if (watch && t[0].kind->id == ST_CTLFMT_IMAGE)
        return stctl_usage(STCTL_USAGE_GET, "images cannot be watched");
    if (stctl_show(ctl, t[0].kind, t[0].name, out, watch, &err) < 0)
        return stctl_fail(&err);
    return 0;
}
