/* bench.c: `stratactl bench startup` runs the start-up bench, the program
 * bench_startup (bench/startup.c) from stratactl's own folder, with the
 * arguments given after `startup`. The bench drives libvirt and the node
 * protocol itself; running it as a program keeps libvirt and libxml2 out of
 * stratactl, a CLI that otherwise only talks HTTP to stratad. The bench
 * prints to the terminal as it runs and also writes its results to a
 * temporary file (--results), which stratactl then sends to stratad for the
 * dashboard's chart (PUT /strata/v1/bench/startup); a stratad that does not
 * answer costs one line, never the results. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "strata/cleanup.h"
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

/* Runs the bench as a child (Ctrl-C reaches it from the terminal; stratactl
 * waits for its cleanup) and returns its exit code. */
static int run_bench(const char *path, char **argv)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        execv(path, argv);
        fprintf(stderr, "error: cannot run %s: %s\n", path, strerror(errno));
        _exit(1);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (pid < 0)
        return stctl_failf("cannot run %s: %s", path, strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The results the bench wrote (none: --help, a usage error, a failed run)
 * go to stratad; said in one line when it does not take them. */
static void send_results(struct stctl *ctl, const char *file)
{
    json_error_t je;
    _cleanup_json_ json_t *doc = json_load_file(file, 0, &je);
    if (doc == NULL)
        return;
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl)
        stctl_client_set_timeout(cl, 10);
    if (cl == NULL || stctl_call(cl, "PUT", "/strata/v1/bench/startup", doc, NULL, &err) < 0)
        fprintf(stderr,
                "note: the results were not sent to stratad (%s); the dashboard's chart shows "
                "them after the next run with stratad up\n",
                err.msg);
    else
        fprintf(stderr, "bench: results sent to stratad (the dashboard's chart)\n");
}

int stctl_verb_bench(struct stctl *ctl, int argc, char **argv)
{
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
    char results[] = "/tmp/stratactl-bench-XXXXXX";
    _cleanup_close_ int fd = mkostemp(results, O_CLOEXEC);
    if (fd < 0)
        return stctl_failf("cannot make a temporary file in /tmp: %s", strerror(errno));
    /* the program's arguments are --results and those after "startup"; its
     * name is the command as typed, for its usage lines */
    _cleanup_free_ char **args = calloc((size_t)argc + 3, sizeof(*args));
    if (args == NULL) {
        unlink(results);
        return stctl_failf("out of memory");
    }
    args[0] = (char *)"stratactl bench startup";
    args[1] = (char *)"--results";
    args[2] = results;
    for (int i = 2; i < argc; i++)
        args[i + 1] = argv[i];
    int rc = run_bench(path, args);
    send_results(ctl, results);
    unlink(results);
    return rc;
}
