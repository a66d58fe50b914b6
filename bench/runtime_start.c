/* runtime_start.c: times container start-up of two runtimes, alternating so
 * both see the same machine load, and prints the medians and their ratio.
 *   bench_runtime_start N -- CMD_A... -- CMD_B... [-- CMD_C...]
 * Each command is fork/exec'd N times with stdio on /dev/null; a run that
 * exits non-zero aborts the benchmark (a failing runtime is not fast). */
#include <fcntl.h>
#include <stdio.h>

#include "strata/bench_stats.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_once(char **argv, double *ms)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    *ms = now_ms() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define MAX_CMDS 4

int main(int argc, char **argv)
{
    static const char usage[] =
        "usage: bench_runtime_start N -- CMD_A... -- CMD_B... [-- CMD_C...]\n";
    if (argc < 6 || strcmp(argv[2], "--") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    int n = atoi(argv[1]);
    char **cmds[MAX_CMDS];
    int ncmd = 0;
    cmds[ncmd++] = argv + 3;
    for (int i = 3; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            argv[i] = NULL;
            if (ncmd == MAX_CMDS || i + 1 >= argc) {
                fputs(usage, stderr);
                return 2;
            }
            cmds[ncmd++] = argv + i + 1;
        }
    if (n < 1 || ncmd < 2) {
        fputs(usage, stderr);
        return 2;
    }
    double *t[MAX_CMDS];
    for (int k = 0; k < ncmd; k++)
        if ((t[k] = calloc((size_t)n, sizeof(double))) == NULL)
            return 1;
    /* Alternated run by run, so every command sees the same load. */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < ncmd; k++) {
            int rc = run_once(cmds[k], &t[k][i]);
            if (rc != 0) {
                fprintf(stderr, "bench_runtime_start: run %d of %s failed (status %d)\n", i,
                        cmds[k][0], rc);
                return 1;
            }
        }
    st_bench_stats st[MAX_CMDS];
    st_error err = {0};
    for (int k = 0; k < ncmd; k++) {
        if (st_bench_stats_compute(t[k], (size_t)n, &st[k], &err) < 0) {
            fprintf(stderr, "bench_runtime_start: %s\n", err.msg);
            return 1;
        }
        printf("%s: median %.2f ms (p90 %.2f, min %.2f, max %.2f, %d runs)\n", cmds[k][0],
               st[k].median, st[k].p90, st[k].min, st[k].max, n);
    }
    printf("medians_ms");
    for (int k = 0; k < ncmd; k++)
        printf(" %c=%.2f", 'a' + k, st[k].median);
    printf("\n");
    for (int k = 0; k < ncmd; k++)
        free(t[k]);
    return 0;
}
