/* delete.c: `stratactl delete KIND NAME...` and `delete -f FILE|-`: one
 * DELETE per object, kubectl's `pod "x" deleted` for each. A failure is
 * reported and the others are still deleted; the exit status says so. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

static int delete_one(stctl_client *cl, const struct st_ctlfmt_kind *k, const char *ns,
                      const char *name, bool ignore_missing)
{
    st_error err = {0};
    _cleanup_free_ char *path = NULL;
    int r = stctl_path(cl, k, ns, name, NULL, &path, &err);
    if (r == 0)
        r = stctl_call(cl, "DELETE", path, NULL, NULL, &err);
    if (r == -ENOENT && ignore_missing)
        return 0;
    if (r < 0)
        return stctl_fail(&err);
    printf("%s \"%s\" deleted\n", k->ref, name);
    fflush(stdout);
    return 0;
}

static int delete_file(struct stctl *ctl, stctl_client *cl, json_t *objects, bool ignore_missing)
{
    int status = 0;
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj)
    {
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        const struct st_ctlfmt_kind *k = st_ctlfmt_kind_by_kind(kind);
        if (k == NULL || name == NULL) {
            status = stctl_failf("cannot delete a %s without a name", kind ? kind : "object");
            continue;
        }
        if (delete_one(cl, k, stctl_object_ns(ctl, obj), name, ignore_missing) != 0)
            status = STCTL_EXIT_FAIL;
    }
    return status;
}

int stctl_verb_delete(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"filename", required_argument, NULL, 'f'},
        {"ignore-not-found", no_argument, NULL, 'i'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    bool ignore_missing = false;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "f:", opts, NULL)) != -1) {
        if (c == 'f') {
            if (file)
                return stctl_usage(STCTL_USAGE_DELETE, "give -f once");
            file = optarg;
            continue;
        }
        if (c == 'i') {
            ignore_missing = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_DELETE);
        if (r >= 0)
            return r;
    }
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
        return delete_file(ctl, cl, objects, ignore_missing);
    }
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_DELETE, "%s", err.msg);
    if (t[0].name == NULL)
        return stctl_usage(STCTL_USAGE_DELETE, "name the %s to delete", t[0].kind->resource);
    for (size_t i = 0; i < n; i++)
        if (t[i].kind->id == ST_CTLFMT_EVENT || t[i].kind->id == ST_CTLFMT_IMAGE)
            return stctl_usage(STCTL_USAGE_DELETE, "%s cannot be deleted", t[i].kind->resource);
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    int status = 0;
    for (size_t i = 0; i < n; i++)
        if (delete_one(cl, t[i].kind, ctl->ns, t[i].name, ignore_missing) != 0)
            status = STCTL_EXIT_FAIL;
    return status;
}
