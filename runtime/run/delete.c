/* delete.c: `strata-run delete [--force] ID` removes cgroup and state; a
 * running container only with --force (it is killed first). */
#include <getopt.h>

#include "strata/container.h"
#include "verbs.h"

int st_run_verb_delete(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
        if (c != 'f')
            return st_run_failf(g, "delete: unknown option: usage: strata-run delete [--force] "
                                   "ID");
        force = true;
    }
    if (optind != argc - 1)
        return st_run_failf(g, "delete: give exactly one container ID");
    st_error err = {0};
    struct st_container *ct = NULL;
    int r = st_container_load(g->root, argv[optind], &ct, &err);
    if (r == 0) {
        st_container_set_warn(ct, st_run_warn, (void *)g);
        r = st_container_delete(ct, force, &err);
    }
    st_container_free(ct);
    return r < 0 ? st_run_fail(g, &err) : 0;
}
