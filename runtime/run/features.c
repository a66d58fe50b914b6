/* features.c: `strata-run features` prints the OCI features document (what
 * config.json may ask of this runtime), as `runc features` does. */
#include <stdio.h>

#include "strata/features.h"
#include "verbs.h"

int st_run_verb_features(const struct st_run_globals *g, int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return st_run_failf(g, "features: takes no arguments");
    json_t *doc = st_features_json();
    if (doc == NULL)
        return st_run_failf(g, "features: out of memory");
    int r = json_dumpf(doc, stdout, JSON_INDENT(2));
    json_decref(doc);
    if (r < 0 || printf("\n") < 0 || fflush(stdout) != 0)
        return st_run_failf(g, "features: cannot write to stdout");
    return 0;
}
