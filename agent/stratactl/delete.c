/* delete.c: `stratactl delete KIND NAME...` and `delete -f FILE|-`: one
 * DELETE per object with kubectl's DeleteOptions (--cascade, --grace-period,
 * --force), kubectl's `pod "x" deleted` for each. A failure is reported and
 * the others are still deleted; the exit status says so. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/delete_options.h"

struct delete_opts {
    bool ignore_missing;
    const char *policy; /* the API's propagationPolicy */
    long grace_s;       /* -1: the pod's own */
};

static int delete_one(stctl_client *cl, const struct stctl_fmt_kind *k, const char *ns,
                      const char *name, const struct delete_opts *o)
{
    st_error err = {0};
    _cleanup_free_ char *path = NULL;
    _cleanup_json_ json_t *body = json_pack("{s:s, s:s, s:s}", "kind", "DeleteOptions",
                                            "apiVersion", "v1", "propagationPolicy", o->policy);
    if (body && o->grace_s >= 0)
        json_object_set_new(body, "gracePeriodSeconds", json_integer(o->grace_s));
    int r = stctl_path(cl, k, ns, name, NULL, &path, &err);
    if (r == 0)
        r = stctl_call(cl, "DELETE", path, body, NULL, &err);
    if (r == -ENOENT && o->ignore_missing)
        return 0;
    if (r < 0)
        return stctl_fail(&err);
    printf("%s \"%s\" deleted\n", k->ref, name);
    fflush(stdout);
    return 0;
}

static int delete_file(struct stctl *ctl, stctl_client *cl, json_t *objects,
                       const struct delete_opts *o)
{
    int status = 0;
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        const struct stctl_fmt_kind *k = stctl_fmt_kind_by_kind(kind);
        if (k == NULL || name == NULL) {
            status = stctl_failf("cannot delete a %s without a name", kind ? kind : "object");
            continue;
        }
        if (delete_one(cl, k, stctl_object_ns(ctl, obj), name, o) != 0)
            status = STCTL_EXIT_FAIL;
    }
    return status;
}

int stctl_verb_delete(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"filename", required_argument, NULL, 'f'},
        {"ignore-not-found", no_argument, NULL, 'i'},
        {"cascade", optional_argument, NULL, 'c'},
        {"grace-period", required_argument, NULL, 'g'},
        {"force", no_argument, NULL, 'F'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    struct delete_opts o = {.policy = "Background", .grace_s = -1};
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "f:", opts, NULL)) != -1) {
        if (c == 'f') {
            if (file)
                return stctl_usage(STCTL_USAGE_DELETE, "give -f once");
            file = optarg;
            continue;
        }
        if (c == 'i') {
            o.ignore_missing = true;
            continue;
        }
        if (c == 'c') {
            /* kubectl's values; a bare --cascade is background. */
            st_propagation p;
            st_error perr = {0};
            if (st_propagation_parse(optarg, &p, &perr) < 0)
                return stctl_usage(STCTL_USAGE_DELETE,
                                   "--cascade must be background, foreground or orphan, got "
                                   "\"%s\"",
                                   optarg);
            o.policy = p == ST_PROPAGATE_ORPHAN       ? "Orphan"
                       : p == ST_PROPAGATE_FOREGROUND ? "Foreground"
                                                      : "Background";
            continue;
        }
        if (c == 'g') {
            char *end = NULL;
            errno = 0;
            o.grace_s = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || o.grace_s < -1 || o.grace_s > INT32_MAX)
                return stctl_usage(STCTL_USAGE_DELETE,
                                   "--grace-period needs whole seconds (0: at once), got \"%s\"",
                                   optarg);
            continue;
        }
        if (c == 'F') {
            force = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_DELETE);
        if (r >= 0)
            return r;
    }
    /* kubectl: --force removes at once unless a grace period is given. */
    if (force && o.grace_s < 0)
        o.grace_s = 0;
    st_error err = {0};
    if (file) {
        if (optind < argc)
            return stctl_usage(STCTL_USAGE_DELETE, "give either -f FILE or KIND NAME, not both");
        _cleanup_json_ json_t *objects = NULL;
        if (stctl_read_manifest(file, &objects, &err) < 0)
            return stctl_fail(&err);
        stctl_client *cl = stctl_connect(ctl, &err);
        if (cl == NULL)
            return stctl_fail(&err);
        return delete_file(ctl, cl, objects, &o);
    }
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_DELETE, "%s", err.msg);
    if (t[0].name == NULL)
        return stctl_usage(STCTL_USAGE_DELETE, "name the %s to delete", t[0].kind->resource);
    for (size_t i = 0; i < n; i++)
        if (t[i].kind->id == STCTL_FMT_EVENT || t[i].kind->id == STCTL_FMT_IMAGE)
            return stctl_usage(STCTL_USAGE_DELETE, "%s cannot be deleted", t[i].kind->resource);
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    int status = 0;
    for (size_t i = 0; i < n; i++)
        if (delete_one(cl, t[i].kind, ctl->ns, t[i].name, &o) != 0)
            status = STCTL_EXIT_FAIL;
    return status;
}
