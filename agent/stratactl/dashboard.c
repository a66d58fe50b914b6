/* dashboard.c: `stratactl dashboard`: a one-time login link to the page
 * stratad serves on its HTTPS port (issue 16). stratad makes the link only
 * on its unix socket, root's, so whoever may run stratactl may open the
 * page; the link logs one browser in, once, within a minute, and no
 * long-lived secret is ever put in a URL. */
#include <stdio.h>

#include "ctl.h"
#include "strata/cleanup.h"

int stctl_verb_dashboard(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {STCTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_DASHBOARD);
        if (r >= 0)
            return r;
    }
    if (optind < argc)
        return stctl_usage(STCTL_USAGE_DASHBOARD, "dashboard takes no arguments, got \"%s\"",
                           argv[optind]);
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    _cleanup_json_ json_t *reply = NULL;
    if (cl == NULL || stctl_call(cl, "POST", "/ui/links", NULL, &reply, &err) < 0)
        return stctl_fail(&err);
    const char *url = json_string_value(json_object_get(reply, "url"));
    if (url == NULL)
        return stctl_failf("stratad answered no link; is it as new as this stratactl?");
    printf("%s\n", url);
    fprintf(stderr, "open it in a browser on this host: it logs in once, within a minute; run "
                    "`stratactl dashboard` again for another\n");
    return 0;
}
