/* logs.c: `stratactl logs POD [-f]`: the container's log as stratad sends it
 * (text/plain), copied to stdout as it arrives; with -f until stratad ends
 * the stream or Ctrl-C. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

int stctl_verb_logs(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool follow = false;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "f", opts, NULL)) != -1) {
        if (c == 'f') {
            follow = true;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_LOGS);
        if (r >= 0)
            return r;
    }
    if (argc - optind != 1)
        return stctl_usage(STCTL_USAGE_LOGS, "name one pod");
    /* "POD" or "pod/POD", as kubectl takes it. */
    const char *name = argv[optind];
    const char *slash = strchr(name, '/');
    if (slash) {
        char kind[32];
        snprintf(kind, sizeof(kind), "%.*s", (int)(slash - name), name);
        const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(kind);
        if (k == NULL || k->id != STCTL_FMT_POD || slash[1] == '\0')
            return stctl_usage(STCTL_USAGE_LOGS,
                               "logs are read from pods: \"%s\" is not POD or "
                               "pod/POD",
                               name);
        name = slash + 1;
    }
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    _cleanup_free_ char *path = NULL;
    if (stctl_path(cl, stctl_fmt_kind_lookup("pods"), ctl->ns, name,
                   follow ? "/log?follow=true" : "/log", &path, &err) < 0 ||
        stctl_stream(cl, "GET", path, stctl_copy_stdout, NULL, &err) < 0)
        return stctl_fail(&err);
    return 0;
}
