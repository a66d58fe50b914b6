/* create.c: `strata-run create`: sets the container up and leaves its
 * process waiting before execve until `strata-run start`. */
#include <getopt.h>
#include <stdio.h>

#include "strata/container.h"
#include "verbs.h"

int st_run_write_pid_file(const char *path, int pid)
{
    if (path == NULL)
        return 0;
    FILE *f = fopen(path, "we");
    if (f == NULL)
        return -1;
    fprintf(f, "%d", pid);
    return fclose(f) == 0 ? 0 : -1;
}

int st_run_verb_create(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct st_container_opts co;
    st_container_opts_init(&co);
    co.bundle = ".";
    co.state_root = g->root;
    co.warn = st_run_warn;
    co.warn_data = (void *)g;
    const char *pid_file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
        if (c == 'b')
            co.bundle = optarg;
        else if (c == 'p')
            pid_file = optarg;
        else
            return st_run_failf(g, "create: unknown option: usage: strata-run create [--bundle "
                                   "DIR] [--pid-file FILE] ID");
    }
    if (optind != argc - 1)
        return st_run_failf(g, "create: give exactly one container ID");
    co.id = argv[optind];
    st_error err = {0};
    struct st_container *ct = NULL;
    if (st_container_create(&co, &ct, &err) < 0)
        return st_run_fail(g, &err);
    if (st_run_write_pid_file(pid_file, st_container_pid(ct)) < 0) {
        st_container_delete(ct, true, &err);
        st_container_free(ct);
        return st_run_failf(g, "--pid-file %s: cannot write it", pid_file);
    }
    st_container_free(ct);
    return 0;
}
