/* bench_exec.c: the bench image's hook, so that `stratactl bench startup`
 * can time a peer runtime (crun) inside the same VM as strata-node's pods.
 * The host sends {"type":"bench_exec","id":N,"argv":[...]}; the node runs
 * argv (no shell unless argv says so), waits for it (bounded) and answers
 * {"type":"bench_result","id":N,"status":S,"ms":T,"output":"..."} with
 * the first KiB of its stdout and stderr. Only an image built with
 * `build-image --bench` (vmm/image) has ST_NODE_BENCH_MARK: any other node
 * ignores the message, as it ignores every unknown type, so this is never a
 * way to run commands on a production node. It runs on the agent's loop:
 * pods wait while it does (a bench does one thing at a time), heartbeats do
 * not (their own thread). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node.h"
#include "strata/cleanup.h"
#include "strata/clock.h"

#define BENCH_EXEC_TIMEOUT_MS 60000
#define BENCH_EXEC_ARGS_MAX   64
#define BENCH_EXEC_OUTPUT_MAX 1024

bool st_node_bench_exec_enabled(void)
{
    return access(ST_NODE_BENCH_MARK, F_OK) == 0;
}

/* Runs argv with stdout and stderr into out; status as a shell gives it. */
static int run(char *const argv[], char *out, size_t cap, int *status, st_error *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return st_error_sys(err, errno, "bench_exec: pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return st_error_sys(err, e, "bench_exec: fork");
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        execvp(argv[0], argv);
        dprintf(2, "bench_exec: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    int64_t deadline = st_clock_ms() + BENCH_EXEC_TIMEOUT_MS;
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    for (;;) {
        int64_t left = deadline - st_clock_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[512];
        ssize_t got = read(p[0], buf, sizeof(buf));
        if (got <= 0)
            break;
        size_t take = (size_t)got < cap - 1 - len ? (size_t)got : cap - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    out[len] = '\0';
    for (size_t i = 0; i < len; i++) /* the answer is JSON: ASCII only */
        if ((unsigned char)out[i] >= 0x80 || (out[i] < 0x20 && out[i] != '\n'))
            out[i] = '?';
    close(p[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return 0;
}

int st_node_bench_exec(json_t *msg, json_t **reply, st_error *err)
{
    json_t *id = json_object_get(msg, "id"), *args = json_object_get(msg, "argv");
    size_t n = json_array_size(args);
    if (!json_is_integer(id) || n == 0 || n > BENCH_EXEC_ARGS_MAX)
        return st_error_set(err, EPROTO, "bench_exec: needs an integer id and 1..%d argv strings",
                            BENCH_EXEC_ARGS_MAX);
    char *argv[BENCH_EXEC_ARGS_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(args, i));
        if (s == NULL)
            return st_error_set(err, EPROTO, "bench_exec: argv[%zu] is not a string", i);
        argv[i] = (char *)s;
    }
    argv[n] = NULL;
    char out[BENCH_EXEC_OUTPUT_MAX];
    int status = 0;
    int64_t t0 = st_clock_ns();
    int r = run(argv, out, sizeof(out), &status, err);
    if (r < 0)
        return r;
    double ms = (double)(st_clock_ns() - t0) / 1e6;
    *reply = json_pack("{s:s, s:O, s:i, s:f, s:s}", "type", ST_NODE_BENCH_RESULT, "id", id,
                       "status", status, "ms", ms, "output", out);
    if (*reply == NULL)
        return st_error_set(err, ENOMEM, "bench_exec: out of memory");
    return 0;
}
