/* state.c: `strata-run state ID` prints the OCI state JSON. */
#include <stdio.h>

#include "strata/container.h"
#include "verbs.h"

int st_run_verb_state(const struct st_run_globals *g, int argc, char **argv)
{
    if (argc != 2)
        return st_run_failf(g, "state: give exactly one container ID");
    st_error err = {0};
    struct st_container *ct = NULL;
    json_t *state = NULL;
    int r = st_container_load(g->root, argv[1], &ct, &err);
    if (r == 0)
        r = st_container_state(ct, NULL, &state, &err);
    st_container_free(ct);
    if (r < 0)
        return st_run_fail(g, &err);
    json_dumpf(state, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(state);
    return 0;
}
