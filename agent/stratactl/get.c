/* get.c: `stratactl get KIND[,KIND...]|all [NAME...] [-o wide|json|yaml|name]
 * [-l SELECTOR] [-A] [--no-headers] [--show-labels] [-w]`: GET lists or
 * objects and print them as kubectl does: one table per kind (names as
 * kind/name when several kinds are shown), NAMESPACE first with -A, LABELS
 * last with --show-labels. The selector is sent to stratad as
 * ?labelSelector=, as the Kubernetes API has it, and checked here first so
 * a mistake is told before any request. stctl_show is shared with
 * `image list`; `get hosts` is handed to hosts.c. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/label_selector.h"
#include "strata/yaml_out.h"

struct get_opts {
    enum stctl_output out;
    bool watch;
    struct stctl_listing scope;
};

/* ---- helpers -------------------------------------------------------------- */

static const char *name_of(json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    return name ? name : json_string_value(json_object_get(obj, "name"));
}

static bool same_name(json_t *obj, void *arg)
{
    const char *name = name_of(obj);
    return name && strcmp(name, (const char *)arg) == 0;
}

static void print_name(const struct stctl_fmt_kind *k, json_t *obj)
{
    const char *name = name_of(obj);
    printf("%s/%s\n", k->ref, name ? name : "?");
}

int stctl_list_path(struct stctl *ctl, const struct stctl_fmt_kind *k,
                    const struct stctl_listing *scope, const char *name, const char *extra,
                    char **out, st_error *err)
{
    *out = NULL;
    stctl_client *cl = stctl_connect(ctl, err);
    if (cl == NULL)
        return -err->code;
    /* Every namespace: the collection's path without /namespaces/NS. */
    struct stctl_fmt_kind where = *k;
    if (scope && scope->all_ns)
        where.namespaced = false;
    _cleanup_free_ char *sel = NULL;
    if (scope && scope->selector && *scope->selector &&
        (sel = curl_easy_escape(NULL, scope->selector, 0)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    char *query = NULL;
    if (asprintf(&query, "%s%s%s%s%s", sel || extra ? "?" : "", sel ? "labelSelector=" : "",
                 sel ? sel : "", sel && extra ? "&" : "", extra ? extra : "") < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = stctl_path(cl, &where, ctl->ns, name, query, out, err);
    free(query);
    return r;
}

/* ---- one kind ------------------------------------------------------------- */

/* The objects of one target: the list's items, or the one object. */
static int fetch(struct stctl *ctl, const struct stctl_fmt_kind *k, const char *name,
                 const struct get_opts *o, json_t **reply, json_t **objects, st_error *err)
{
    stctl_client *cl = stctl_connect(ctl, err);
    if (cl == NULL)
        return -err->code;
    _cleanup_free_ char *path = NULL;
    int r = stctl_list_path(ctl, k, &o->scope, name, NULL, &path, err);
    if (r == 0)
        r = stctl_call(cl, "GET", path, NULL, reply, err);
    if (r < 0)
        return r;
    if (!json_is_object(*reply))
        return st_error_set(err, EPROTO, "stratad answered GET %s with no object", path);
    if (name) {
        *objects = json_pack("[O]", *reply);
        return 0;
    }
    json_t *items = json_object_get(*reply, "items");
    if (!json_is_array(items))
        return st_error_set(err, EPROTO, "stratad answered GET %s without \"items\"", path);
    *objects = json_incref(items);
    return 0;
}

static int write_json(json_t *v, enum stctl_output out, st_error *err)
{
    if (out == STCTL_OUT_YAML)
        return st_yaml_write(stdout, v, false, err);
    if (json_dumpf(v, stdout, JSON_INDENT(4)) < 0)
        return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
    putchar('\n');
    return 0;
}

/* Rows of objects in a new table for k; *table keeps it (for a watch). */
static int print_rows(const struct stctl_fmt_kind *k, json_t *objects, const struct get_opts *o,
                      stctl_fmt_table **table, st_error *err)
{
    struct stctl_fmt_columns cols = o->scope.cols;
    cols.wide = o->out == STCTL_OUT_WIDE;
    int r = stctl_fmt_table_for_kind(k, &cols, table, err);
    if (r < 0)
        return r;
    stctl_fmt_table_set_no_headers(*table, o->scope.no_headers);
    time_t now = time(NULL);
    size_t i;
    json_t *it;
    json_array_foreach(objects, i, it)
    {
        if (r == 0)
            r = stctl_fmt_table_add_object(*table, it, now, err);
    }
    return r < 0 ? r : stctl_fmt_table_write(stdout, *table, err);
}

static void none_found(struct stctl *ctl, const struct stctl_fmt_kind *k, const struct get_opts *o)
{
    if (k && k->namespaced && !o->scope.all_ns)
        fprintf(stderr, "No resources found in %s namespace.\n", ctl->ns);
    else
        fprintf(stderr, "No resources found\n");
}

/* ---- several targets ------------------------------------------------------ */

static int show_targets(struct stctl *ctl, const struct stctl_target *t, size_t n,
                        const struct get_opts *o, st_error *err)
{
    bool table = o->out == STCTL_OUT_TABLE || o->out == STCTL_OUT_WIDE;
    _cleanup_json_ json_t *all_items = json_array();
    _cleanup_json_ json_t *only = NULL; /* the reply, when there is one target */
    stctl_fmt_table *last_table = NULL;
    size_t shown = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        _cleanup_json_ json_t *reply = NULL, *objects = NULL;
        if ((r = fetch(ctl, t[i].kind, t[i].name, o, &reply, &objects, err)) < 0)
            break;
        json_array_extend(all_items, objects);
        if (n == 1)
            only = json_incref(reply);
        if (o->out == STCTL_OUT_NAME) {
            size_t j;
            json_t *it;
            json_array_foreach(objects, j, it) print_name(t[i].kind, it);
        } else if (table && json_array_size(objects) > 0) {
            /* One table per kind: a blank line between them, as kubectl. */
            if (shown++ > 0)
                putchar('\n');
            stctl_fmt_table_free(last_table);
            last_table = NULL;
            r = print_rows(t[i].kind, objects, o, &last_table, err);
        }
    }
    if (r == 0 && !table && o->out != STCTL_OUT_NAME) {
        /* Several targets read as kubectl's List of whatever was found. */
        _cleanup_json_ json_t *list =
            only ? json_incref(only)
                 : json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", "v1", "kind", "List",
                             "metadata", "resourceVersion", "", "items", all_items);
        r = write_json(list, o->out, err);
    }
    if (r == 0 && table && json_array_size(all_items) == 0 && !(n == 1 && t[0].name))
        none_found(ctl, n == 1 ? t[0].kind : NULL, o);
    fflush(stdout);
    if (r == 0 && o->watch)
        r = stctl_watch_print(ctl, t[0].kind, &o->scope, only, last_table, o->out,
                              t[0].name ? same_name : NULL, (void *)t[0].name, err);
    stctl_fmt_table_free(last_table);
    return r;
}

int stctl_show(struct stctl *ctl, const struct stctl_fmt_kind *k, const char *name,
               enum stctl_output out, bool watch, st_error *err)
{
    struct get_opts o = {.out = out, .watch = watch};
    struct stctl_target t = {.kind = k, .name = name};
    return show_targets(ctl, &t, 1, &o, err);
}

/* ---- arguments ------------------------------------------------------------ */

/* "pods,deployments" or "all" (what kubectl's all covers and Strata has,
 * in kubectl's order: pods, services, deployments); NULL-named targets,
 * one a kind. */
static int kind_list(const char *word, struct stctl_target **out, size_t *n, st_error *err)
{
    *out = NULL;
    *n = 0;
    if (strcmp(word, "all") == 0)
        word = "pods,services,deployments";
    _cleanup_free_ char *copy = strdup(word);
    struct stctl_target *t = calloc(strlen(word) / 2 + 2, sizeof(*t));
    if (copy == NULL || t == NULL) {
        free(t);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    char *save = NULL;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        t[*n].kind = stctl_fmt_kind_lookup(w);
        if (t[*n].kind == NULL) {
            free(t);
            return st_error_set(err, EINVAL,
                                "unknown resource type \"%s\": use nodes, pods, deployments, "
                                "secrets, services, endpoints, leases or all",
                                w);
        }
        (*n)++;
    }
    if (*n == 0) {
        free(t);
        return st_error_set(err, EINVAL, "\"%s\" names no kind", word);
    }
    *out = t;
    return 0;
}

enum { OPT_NO_HEADERS = 0x200, OPT_SHOW_LABELS };

int stctl_verb_get(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"watch", no_argument, NULL, 'w'},
        {"selector", required_argument, NULL, 'l'},
        {"all-namespaces", no_argument, NULL, 'A'},
        {"no-headers", no_argument, NULL, OPT_NO_HEADERS},
        {"show-labels", no_argument, NULL, OPT_SHOW_LABELS},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct get_opts o = {.out = STCTL_OUT_TABLE};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "o:wl:A", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!stctl_output_parse(optarg, &o.out))
                return stctl_usage(STCTL_USAGE_GET, "unknown output format \"%s\"", optarg);
            continue;
        case 'w':
            o.watch = true;
            continue;
        case 'l':
            o.scope.selector = optarg;
            continue;
        case 'A':
            o.scope.all_ns = o.scope.cols.namespace = true;
            continue;
        case OPT_NO_HEADERS:
            o.scope.no_headers = true;
            continue;
        case OPT_SHOW_LABELS:
            o.scope.cols.show_labels = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_GET);
        if (r >= 0)
            return r;
    }
    st_error err = {0};
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    int nargs = argc - optind;
    char **args = argv + optind;
    /* hosts: no kind of object, a view of the host leases (hosts.c) */
    if (nargs > 0 && (strcmp(args[0], "hosts") == 0 || strcmp(args[0], "host") == 0)) {
        if (nargs > 1)
            return stctl_usage(STCTL_USAGE_GET_HOSTS,
                               "get hosts shows every host; it takes no name");
        if (o.watch || o.scope.selector || o.scope.all_ns || o.scope.cols.show_labels)
            return stctl_usage(STCTL_USAGE_GET_HOSTS,
                               "get hosts takes -o and --no-headers only (not -w, -l, -A or "
                               "--show-labels)");
        if (stctl_get_hosts(ctl, o.out, o.scope.no_headers, &err) < 0)
            return stctl_fail(&err);
        return 0;
    }
    bool several =
        nargs > 0 && !strchr(args[0], '/') && (strchr(args[0], ',') || strcmp(args[0], "all") == 0);
    if (several) {
        if (kind_list(args[0], &t, &n, &err) < 0)
            return stctl_usage(STCTL_USAGE_GET, "%s", err.msg);
        if (nargs > 1)
            return stctl_usage(STCTL_USAGE_GET,
                               "with several kinds, name each object as KIND/NAME");
        /* kubectl names rows kind/name for `all` and for several kinds. */
        o.scope.cols.kind_prefix = n > 1 || strcmp(args[0], "all") == 0;
    } else if (stctl_targets(nargs, args, &t, &n, &err) < 0) {
        return stctl_usage(STCTL_USAGE_GET, "%s", err.msg);
    }
    bool named = false, mixed = false;
    for (size_t i = 0; i < n; i++) {
        named |= t[i].name != NULL;
        mixed |= t[i].kind != t[0].kind;
        if (t[i].kind->id == STCTL_FMT_EVENT)
            return stctl_usage(STCTL_USAGE_GET, "for events use `stratactl events`");
        if (o.watch && t[i].kind->id == STCTL_FMT_IMAGE)
            return stctl_usage(STCTL_USAGE_GET, "images cannot be watched");
    }
    if (mixed)
        o.scope.cols.kind_prefix = true;
    if (named && (o.scope.selector || o.scope.all_ns))
        return stctl_usage(STCTL_USAGE_GET, "-l and -A select objects; they cannot be used with "
                                            "names");
    if (o.watch && n > 1)
        return stctl_usage(STCTL_USAGE_GET, "-w watches one kind, or one object, at a time");
    if (o.scope.selector) {
        st_label_selector *ls = NULL;
        if (st_label_selector_parse(o.scope.selector, &ls, &err) < 0)
            return stctl_fail(&err);
        st_label_selector_free(ls);
    }
    if (show_targets(ctl, t, n, &o, &err) < 0)
        return stctl_fail(&err);
    return 0;
}
