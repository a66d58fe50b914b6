/* apply.c: `stratactl apply -f FILE|-`: the manifest is checked here, then
 * sent whole to POST /apply, which creates or updates every object in one
 * transaction or none; prints kubectl's "deployment.apps/web created". */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* "deployment.apps", or the kind in lower case for one stratactl does not know. */
static void kind_ref(const char *kind, char *buf, size_t len)
{
    const struct stctl_fmt_kind *k = stctl_fmt_kind_by_kind(kind);
    if (k) {
        snprintf(buf, len, "%s", k->ref);
        return;
    }
    size_t i = 0;
    for (; kind && kind[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)kind[i]);
    buf[i] = '\0';
}

/* -n NS moves the objects the manifest left in "default" (its default). */
static void apply_namespace(struct stctl *ctl, json_t *objects)
{
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        const struct stctl_fmt_kind *k =
            stctl_fmt_kind_by_kind(json_string_value(json_object_get(obj, "kind")));
        json_t *meta = json_object_get(obj, "metadata");
        if (ctl->ns_given && k && k->namespaced && json_is_object(meta))
            json_object_set_new(meta, "namespace", json_string(stctl_object_ns(ctl, obj)));
    }
}

static void print_results(json_t *reply, json_t *sent)
{
    char ref[64];
    json_t *items = json_object_get(reply, "items");
    size_t i;
    json_t *it;
    if (!json_is_array(items)) {
        /* An answer without results: say what was sent. */
        json_array_foreach(sent, i, it)
        {
            kind_ref(json_string_value(json_object_get(it, "kind")), ref, sizeof(ref));
            printf("%s/%s applied\n", ref,
                   json_string_value(json_object_get(json_object_get(it, "metadata"), "name")));
        }
        return;
    }
    json_array_foreach(items, i, it)
    {
        kind_ref(json_string_value(json_object_get(it, "kind")), ref, sizeof(ref));
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *action = json_string_value(json_object_get(it, "action"));
        printf("%s/%s %s\n", ref, name ? name : "?", action ? action : "applied");
    }
}

int stctl_verb_apply(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"filename", required_argument, NULL, 'f'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    _cleanup_json_ json_t *objects = json_array();
    bool any = false;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "f:", opts, NULL)) != -1) {
        if (c == 'f') {
            any = true;
            json_t *more = NULL;
            st_error err = {0};
            if (stctl_read_manifest(optarg, &more, &err) < 0)
                return stctl_fail(&err);
            json_array_extend(objects, more);
            json_decref(more);
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_APPLY);
        if (r >= 0)
            return r;
    }
    if (!any)
        return stctl_usage(STCTL_USAGE_APPLY, "apply needs -f FILE (or -f - for stdin)");
    if (optind < argc)
        return stctl_usage(STCTL_USAGE_APPLY, "unexpected argument \"%s\"", argv[optind]);
    apply_namespace(ctl, objects);
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    _cleanup_json_ json_t *body = json_pack("{s:O}", "items", objects);
    _cleanup_json_ json_t *reply = NULL;
    if (body == NULL)
        return stctl_failf("out of memory");
    if (stctl_call(cl, "POST", "/apply", body, &reply, &err) < 0)
        return stctl_fail(&err);
    print_results(reply, objects);
    return 0;
}
