/* run.c: `strata-run run ID`: create + start, then strata-run stays the
 * parent, forwards signals, waits, removes cgroup and state, and exits with
 * the container's status (128+N for signal N; 137 with a message on OOM). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "strata/container.h"
#include "verbs.h"

static volatile sig_atomic_t forward_pid;

static void forward(int sig)
{
    if (forward_pid > 0)
        kill((pid_t)forward_pid, sig);
}

static void forward_signals(pid_t pid)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    forward_pid = pid;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

int st_run_verb_run(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                         {"detach", no_argument, NULL, 'd'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct st_container_opts co;
    st_container_opts_init(&co);
    co.bundle = ".";
    co.state_root = g->root;
    co.warn = st_run_warn;
    co.warn_data = (void *)g;
    bool detach = false;
    const char *pid_file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+b:d", opts, NULL)) != -1) {
        if (c == 'b')
            co.bundle = optarg;
        else if (c == 'd')
            detach = true;
        else if (c == 'p')
            pid_file = optarg;
        else
            return st_run_failf(g, "run: unknown option: usage: strata-run run [--bundle DIR] "
                                   "[--detach] ID");
    }
    if (optind != argc - 1)
        return st_run_failf(g, "run: give exactly one container ID");
    co.id = argv[optind];
    st_error err = {0}, scratch = {0};
    struct st_container *ct = NULL;
    if (st_container_create(&co, &ct, &err) < 0)
        return st_run_fail(g, &err);
    if (st_run_write_pid_file(pid_file, st_container_pid(ct)) < 0) {
        st_container_delete(ct, true, &scratch);
        st_container_free(ct);
        return st_run_failf(g, "--pid-file %s: cannot write it", pid_file);
    }
    forward_signals(st_container_pid(ct));
    if (st_container_start(ct, &err) < 0) {
        st_container_delete(ct, true, &scratch);
        st_container_free(ct);
        return st_run_fail(g, &err);
    }
    if (detach) {
        st_container_free(ct);
        return 0;
    }
    struct st_container_result res;
    int r = st_container_wait(ct, &res, &err);
    forward_pid = 0;
    if (r == 0 && res.oom_killed)
        fprintf(stderr, "strata-run: container %s was OOMKilled (memory limit %lld bytes)\n", co.id,
                st_container_memory_limit(ct));
    if (st_container_delete(ct, true, r < 0 ? &err : &scratch) < 0 && r == 0) {
        st_run_fail(g, &scratch);
    }
    st_container_free(ct);
    if (r < 0)
        return st_run_fail(g, &err);
    return res.oom_killed ? 137 : res.exit_status;
}
