/* testutil.c: see testutil.h. */
#include "testutil.h"
#include "strata/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *st_test_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        fail_msg("%s is not set: run the tests through ctest (scripts/test)", name);
    return v;
}

char *st_test_bin(const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", st_test_env("STRATA_BIN_DIR"), name) < 0)
        fail_msg("out of memory");
    return p;
}

char *st_test_mkdtemp(const char *prefix)
{
    char *p = NULL;
    if (asprintf(&p, "/tmp/%s-XXXXXX", prefix) < 0)
        fail_msg("out of memory");
    if (mkdtemp(p) == NULL)
        fail_msg("mkdtemp %s: %s", p, strerror(errno));
    return p;
}

void st_test_rmrf(const char *path)
{
    if (path)
        st_fs_rmtree(path, NULL);
}

static char *drain(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

int st_test_run(char *const argv[], const char *input, char **out, char **err)
{
    int pin[2], pout[2], perr[2];
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
        fail_msg("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (input) {
        signal(SIGPIPE, SIG_IGN);
        size_t left = strlen(input);
        while (left > 0) {
            ssize_t n = write(pin[1], input, left);
            if (n <= 0)
                break;
            input += n;
            left -= (size_t)n;
        }
    }
    close(pin[1]);
    /* Read both pipes without deadlock: stderr is drained by a poll loop. */
    struct pollfd fds[2] = {{.fd = pout[0], .events = POLLIN}, {.fd = perr[0], .events = POLLIN}};
    char *bufs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0}, caps[2] = {0, 0};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (lens[i] + 4097 > caps[i]) {
                caps[i] = caps[i] ? caps[i] * 2 : 8192;
                bufs[i] = realloc(bufs[i], caps[i]);
            }
            ssize_t n = read(fds[i].fd, bufs[i] + lens[i], 4096);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else {
                lens[i] += (size_t)n;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (bufs[i] == NULL)
            bufs[i] = malloc(1);
        bufs[i][lens[i]] = '\0';
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (out)
        *out = bufs[0];
    else
        free(bufs[0]);
    if (err)
        *err = bufs[1];
    else
        free(bufs[1]);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int st_test_sh(char **out, char **err, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        fail_msg("out of memory");
    va_end(ap);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    int rc = st_test_run(argv, NULL, out, err);
    free(cmd);
    return rc;
}

long long st_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long st_test_node_qemu_anon_kib(const char *node)
{
    char *out = NULL;
    st_test_sh(&out, NULL,
               "awk '/^RssAnon:/{print $2}' /proc/$(cat /run/libvirt/qemu/strata-%s.pid)/status",
               node);
    long kib = out && *out ? strtol(out, NULL, 10) : -1;
    free(out);
    return kib;
}

bool st_test_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms, int poll_ms)
{
    long long deadline = st_test_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (st_test_now_ms() >= deadline)
            return false;
        struct timespec ts = {.tv_sec = poll_ms / 1000, .tv_nsec = (poll_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void st_test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail_msg("open %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

char *st_test_read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *s = drain(fd);
    close(fd);
    return s;
}
