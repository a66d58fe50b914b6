/* start.c: `strata-run start ID` releases a created container's process. */
#include <getopt.h>

#include "strata/container.h"
#include "verbs.h"

int st_run_verb_start(const struct st_run_globals *g, int argc, char **argv)
{
    if (argc != 2)
        return st_run_failf(g, "start: give exactly one container ID");
    st_error err = {0};
    struct st_container *ct = NULL;
    int r = st_container_load(g->root, argv[1], &ct, &err);
    if (r == 0) {
        st_container_set_warn(ct, st_run_warn, (void *)g);
        r = st_container_start(ct, &err);
    }
    st_container_free(ct);
    return r < 0 ? st_run_fail(g, &err) : 0;
}
