/* kill.c: `strata-run kill [--all] ID [SIGNAL]`, SIGNAL by name or number
 * (default TERM). */
#include <getopt.h>
#include <signal.h>

#include "strata/cgroup.h"
#include "strata/container.h"
#include "verbs.h"

int st_run_verb_kill(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    bool all = false;
    int c;
    while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
        if (c != 'a')
            return st_run_failf(g, "kill: unknown option: usage: strata-run kill [--all] ID "
                                   "[SIGNAL]");
        all = true;
    }
    if (optind >= argc || argc - optind > 2)
        return st_run_failf(g, "kill: usage: strata-run kill [--all] ID [SIGNAL]");
    st_error err = {0};
    int sig = argc - optind == 2 ? st_signal_parse(argv[optind + 1], &err) : SIGTERM;
    if (sig < 0)
        return st_run_fail(g, &err);
    struct st_container *ct = NULL;
    int r = st_container_load(g->root, argv[optind], &ct, &err);
    if (r == 0)
        r = st_container_kill(ct, sig, &err);
    if (r == 0 && all) {
        struct st_cgroup *cg = NULL;
        r = st_cgroup_open(st_container_cgroup_path(ct), &cg, &err);
        if (r == 0)
            r = st_cgroup_kill(cg, sig, &err);
        st_cgroup_free(cg);
    }
    st_container_free(ct);
    return r < 0 ? st_run_fail(g, &err) : 0;
}
