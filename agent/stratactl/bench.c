/* bench.c: `stratactl bench startup` runs the start-up bench, the program
 * bench_startup (bench/startup.c) from stratactl's own folder, with the
 * arguments given after `startup`. The bench drives libvirt and the node
 * protocol itself; running it as a program keeps libvirt and libxml2 out of
 * stratactl, a CLI that otherwise only talks HTTP to stratad. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "strata/exe_dir.h"

#define BENCH_PROG "bench_startup"

static void help(void)
{
    printf("usage: stratactl %s [--node-image DIR] [--images DIR]\n\n"
           "Times a VM node's boot, a container in a VM node, and a container on this\n"
           "host by strata-run and by runc, side by side. It runs the program\n"
           "%s found next to stratactl (build/bin), which works on this host\n"
           "directly (libvirt, the runtimes), not through stratad: it needs root.\n"
           "`stratactl bench startup --help` shows the bench's own options.\n",
           STCTL_USAGE_BENCH, BENCH_PROG);
}

int stctl_verb_bench(struct stctl *ctl, int argc, char **argv)
{
    (void)ctl;
    if (argc < 2)
        return stctl_usage(STCTL_USAGE_BENCH, "say what to measure (startup)");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        help();
        return 0;
    }
    if (strcmp(sub, "startup") != 0)
        return stctl_usage(STCTL_USAGE_BENCH, "unknown bench \"%s\" (there is: startup)", sub);
    char dir[PATH_MAX], path[PATH_MAX + sizeof(BENCH_PROG) + 1];
    st_error err = {0};
    if (st_exe_dir(dir, sizeof(dir), &err) < 0)
        return stctl_fail(&err);
    snprintf(path, sizeof(path), "%s/%s", dir, BENCH_PROG);
    if (access(path, X_OK) < 0)
        return stctl_failf("%s is missing: `stratactl bench startup` runs it from stratactl's "
                           "folder; build it with `cmake --build build --target %s`",
                           path, BENCH_PROG);
    /* the program's arguments are those after "startup"; its name is the
     * command as typed, for its usage lines */
    argv[1] = "stratactl bench startup";
    fflush(stdout);
    execv(path, argv + 1);
    return stctl_failf("cannot run %s: %s", path, strerror(errno));
}
