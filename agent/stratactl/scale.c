/* scale.c: `stratactl scale deployment NAME --replicas N`: PUT the
 * deployment's scale subresource; the controller does the rest. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "strata/cleanup.h"

int stctl_verb_scale(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"replicas", required_argument, NULL, 'r'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    long replicas = -1;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        if (c == 'r') {
            char *end = NULL;
            errno = 0;
            replicas = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || replicas < 0 || replicas > INT_MAX)
                return stctl_usage(STCTL_USAGE_SCALE,
                                   "--replicas needs a whole number of at least 0, got \"%s\"",
                                   optarg);
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_SCALE);
        if (r >= 0)
            return r;
    }
    st_error err = {0};
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_SCALE, "%s", err.msg);
    if (t[0].kind->id != STCTL_FMT_DEPLOYMENT)
        return stctl_usage(STCTL_USAGE_SCALE, "only deployments can be scaled");
    if (n != 1 || t[0].name == NULL)
        return stctl_usage(STCTL_USAGE_SCALE, "name one deployment");
    if (replicas < 0)
        return stctl_usage(STCTL_USAGE_SCALE, "say how many: --replicas N");
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    _cleanup_free_ char *path = NULL;
    _cleanup_json_ json_t *body = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)replicas);
    if (body == NULL)
        return stctl_failf("out of memory");
    if (stctl_path(cl, t[0].kind, ctl->ns, t[0].name, "/scale", &path, &err) < 0 ||
        stctl_call(cl, "PUT", path, body, NULL, &err) < 0)
        return stctl_fail(&err);
    printf("%s/%s scaled\n", t[0].kind->ref, t[0].name);
    return 0;
}
