/* runtime_start.c: times container start-up of two runtimes, alternating so
 * both see the same machine load, and prints the medians and their ratio.
 *   bench_runtime_start N -- CMD_A... -- CMD_B...
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

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: bench_runtime_start N -- CMD_A... -- CMD_B...\n");
        return 2;
    }
    int n = atoi(argv[1]);
    char **a = argv + 3, **b = NULL;
    for (int i = 3; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            argv[i] = NULL;
            b = argv + i + 1;
            break;
        }
    if (n < 1 || b == NULL || *b == NULL) {
        fprintf(stderr, "usage: bench_runtime_start N -- CMD_A... -- CMD_B...\n");
        return 2;
    }
    double *ta = calloc((size_t)n, sizeof(double)), *tb = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        int ra = run_once(a, &ta[i]), rb = run_once(b, &tb[i]);
        if (ra != 0 || rb != 0) {
            fprintf(stderr, "bench_runtime_start: run %d failed (%s: %d, %s: %d)\n", i, a[0], ra,
                    b[0], rb);
            return 1;
        }
    }
    st_bench_stats sa, sb;
    st_error err = {0};
    if (st_bench_stats_compute(ta, (size_t)n, &sa, &err) < 0 ||
        st_bench_stats_compute(tb, (size_t)n, &sb, &err) < 0) {
        fprintf(stderr, "bench_runtime_start: %s\n", err.msg);
        return 1;
    }
    printf("%s: median %.2f ms (min %.2f, max %.2f, %d runs)\n", a[0], sa.median, sa.min, sa.max,
           n);
    printf("%s: median %.2f ms (min %.2f, max %.2f, %d runs)\n", b[0], sb.median, sb.min, sb.max,
           n);
    printf("medians_ms a=%.2f b=%.2f\n", sa.median, sb.median);
    free(ta);
    free(tb);
    return 0;
}
