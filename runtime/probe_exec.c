/* probe_exec.c: the exec probe handler: runs the probe command inside the
 * container through st_exec (which joins its namespaces and cgroup and
 * enforces the timeout). Runs in the probe child, so the caller never waits
 * on st_exec; success is exit status 0, the message carries the output. */
#include "probe_runner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "strata/exec.h"

/* The command as a person would type it, cut to fit. */
static void format_command(char *const *argv, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; argv[i] != NULL && used + 1 < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* The first line(s) the command printed, without the trailing newline. */
static void read_output(int fd, char *buf, size_t len)
{
    buf[0] = '\0';
    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return;
    ssize_t n = read(fd, buf, len - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
}

void st_probe_exec_child(const struct st_probe_job *job, struct st_probe_result *res)
{
    char cmd[96];
    format_command(job->spec->command, cmd, sizeof(cmd));
    /* A memfd holds any amount of output without a reader, unlike a pipe. */
    int out = memfd_create("strata-probe-output", MFD_CLOEXEC);
    struct st_exec_opts opts = {
        .target = job->target,
        .cgroup = job->cgroup,
        .argv = job->spec->command,
        .stdin_fd = -1,
        .stdout_fd = out,
        .stderr_fd = out,
        .timeout_ms = job->timeout_ms,
    };
    st_error err = {0};
    int status = -1;
    int r = st_exec(&opts, &status, &err);
    char output[ST_PROBE_MSG_MAX / 2];
    read_output(out, output, sizeof(output));
    if (out >= 0)
        close(out);

    if (r == -ETIMEDOUT)
        st_probe_result_set(res, false, "command \"%s\" timed out after %d ms (timeoutSeconds)",
                            cmd, job->timeout_ms);
    else if (r < 0)
        st_probe_result_set(res, false, "command \"%s\" could not run: %s", cmd, err.msg);
    else if (status == 0)
        st_probe_result_set(res, true, "%s", output);
    else
        st_probe_result_set(res, false, "command \"%s\" exited with status %d%s%s", cmd, status,
                            output[0] ? ": " : "", output);
}
