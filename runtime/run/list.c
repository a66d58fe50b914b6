/* list.c: `strata-run list` prints ID PID STATUS BUNDLE CREATED, like runc. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "strata/cleanup.h"
#include "strata/container.h"
#include "strata/state.h"
#include "verbs.h"

int st_run_verb_list(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                         {"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "+qf:", opts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c != 'f')
            return st_run_failf(g, "list: unknown option: usage: strata-run list [--quiet]");
    }
    st_error err = {0};
    _cleanup_strv_ char **ids = NULL;
    if (st_state_list(g->root, &ids, &err) < 0)
        return st_run_fail(g, &err);
    if (!quiet)
        printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
    for (char **id = ids; *id; id++) {
        struct st_container *ct = NULL;
        json_t *st = NULL;
        st_error e = {0};
        if (st_container_load(g->root, *id, &ct, &e) < 0 ||
            st_container_state(ct, NULL, &st, &e) < 0) {
            st_container_free(ct);
            continue; /* being created or deleted right now */
        }
        if (quiet)
            printf("%s\n", *id);
        else
            printf("%-20s %-8lld %-10s %-40s %s\n", *id,
                   (long long)json_integer_value(json_object_get(st, "pid")),
                   json_string_value(json_object_get(st, "status")),
                   json_string_value(json_object_get(st, "bundle"))
                       ? json_string_value(json_object_get(st, "bundle"))
                       : "-",
                   json_string_value(json_object_get(st, "created")));
        json_decref(st);
        st_container_free(ct);
    }
    return 0;
}
