/* events.c: `stratactl events`: GET /api/v1/events (oldest first) shown as
 * kubectl's LAST SEEN TYPE REASON OBJECT MESSAGE table, for one namespace
 * (objects without one, such as nodes, always count), every namespace (-A)
 * or one object (--for KIND/NAME); -w follows new events. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/yaml_out.h"

struct event_filter {
    const char *ns; /* NULL: every namespace */
    const struct stctl_fmt_kind *kind;
    const char *name; /* --for */
};

static bool keep_event(json_t *ev, void *arg)
{
    const struct event_filter *f = arg;
    if (f->kind)
        return stctl_fmt_event_is_about(ev, f->kind->kind, f->kind->namespaced ? f->ns : NULL,
                                        f->name);
    if (f->ns == NULL)
        return true;
    const char *ns =
        json_string_value(json_object_get(json_object_get(ev, "involvedObject"), "namespace"));
    return ns == NULL || *ns == '\0' || strcmp(ns, f->ns) == 0;
}

int stctl_verb_events(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all-namespaces", no_argument, NULL, 'A'},
        {"for", required_argument, NULL, 'F'},
        {"watch", no_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool all = false, watch = false;
    char *target = NULL;
    enum stctl_output out = STCTL_OUT_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "Awo:", opts, NULL)) != -1) {
        switch (c) {
        case 'A':
            all = true;
            break;
        case 'w':
            watch = true;
            break;
        case 'F':
            target = optarg;
            break;
        case 'o':
            if (!stctl_output_parse(optarg, &out) || out == STCTL_OUT_NAME)
                return stctl_usage(STCTL_USAGE_EVENTS, "unknown output format \"%s\"", optarg);
            break;
        default: {
            int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_EVENTS);
            if (r >= 0)
                return r;
        }
        }
    }
    if (optind < argc)
        return stctl_usage(STCTL_USAGE_EVENTS, "unexpected argument \"%s\"", argv[optind]);
    st_error err = {0};
    struct event_filter f = {.ns = all ? NULL : ctl->ns};
    _cleanup_free_ struct stctl_target *t = NULL;
    if (target) {
        size_t n = 0;
        if (stctl_targets(1, &target, &t, &n, &err) < 0 || t[0].name == NULL)
            return stctl_usage(STCTL_USAGE_EVENTS, "--for takes KIND/NAME, got \"%s\"", target);
        f.kind = t[0].kind;
        f.name = t[0].name;
    }
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    _cleanup_json_ json_t *reply = NULL;
    if (stctl_call(cl, "GET", "/api/v1/events", NULL, &reply, &err) < 0)
        return stctl_fail(&err);

    const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup("events");
    _cleanup_json_ json_t *kept = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(reply, "items"), i, ev)
    {
        if (keep_event(ev, &f))
            json_array_append(kept, ev);
    }
    stctl_fmt_table *table = NULL;
    int r = 0;
    if (out == STCTL_OUT_JSON || out == STCTL_OUT_YAML) {
        _cleanup_json_ json_t *list = json_pack("{s:s, s:s, s:{}, s:O}", "apiVersion", "v1", "kind",
                                                "EventList", "metadata", "items", kept);
        if (out == STCTL_OUT_JSON) {
            json_dumpf(list, stdout, JSON_INDENT(4));
            putchar('\n');
        } else {
            r = st_yaml_write(stdout, list, false, &err);
        }
    } else {
        r = stctl_fmt_table_for_kind(k, NULL, &table, &err);
        json_array_foreach(kept, i, ev)
        {
            if (r == 0)
                r = stctl_fmt_table_add_object(table, ev, time(NULL), &err);
        }
        if (r == 0)
            r = stctl_fmt_table_write(stdout, table, &err);
        if (r == 0 && json_array_size(kept) == 0 && !watch) {
            if (all || f.kind)
                fprintf(stderr, "No events found.\n");
            else
                fprintf(stderr, "No events found in %s namespace.\n", ctl->ns);
        }
    }
    fflush(stdout);
    if (r == 0 && watch)
        r = stctl_watch_print(ctl, k, NULL, reply, table, out, keep_event, &f, &err);
    stctl_fmt_table_free(table);
    return r < 0 ? stctl_fail(&err) : 0;
}
