/* runtime_start.c: times container start-up of two runtimes, alternating so
 * both see the same machine load, and prints the medians and their ratio.
 *   bench_runtime_start N -- CMD_A... -- CMD_B...
 * Each command is fork/exec'd N times with stdio on /dev/null; a run that
 * exits non-zero aborts the benchmark (a failing runtime is not fast). */
#include <fcntl.h>
#include <stdio.h>
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

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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
    double ma = median(ta, n), mb = median(tb, n);
    printf("%s: median %.2f ms (min %.2f, max %.2f, %d runs)\n", a[0], ma, ta[0], ta[n - 1], n);
    printf("%s: median %.2f ms (min %.2f, max %.2f, %d runs)\n", b[0], mb, tb[0], tb[n - 1], n);
    printf("medians_ms a=%.2f b=%.2f\n", ma, mb);
    free(ta);
    free(tb);
    return 0;
}
