/* exec.h: running a process inside an existing container: joining the
 * namespaces of one of its processes and its cgroup (strata-run exec, exec
 * probes). It does not create containers or touch their configuration. */
#ifndef STRATA_EXEC_H
#define STRATA_EXEC_H

#include <sys/types.h>
#include "strata/error.h"

struct st_exec_opts {
    pid_t target;       /* a process inside the container (its init) */
    const char *cgroup; /* cgroup path to join (as given to st_cgroup_create), NULL = none */
    char *const *argv;  /* required, argv[0] looked up in the container's PATH */
    char *const *envp;  /* NULL = a default PATH (/usr/local/sbin:...:/bin) */
    const char *cwd;    /* NULL = "/" */
    uid_t uid;          /* 0 = root */
    gid_t gid;
    int stdin_fd, stdout_fd, stderr_fd; /* -1 = /dev/null */
    int timeout_ms;                     /* 0 = none; on expiry SIGKILL and -ETIMEDOUT */
};

/* Runs opts->argv in the container and waits. exit_status receives the
 * shell convention: the exit code, or 128+N when killed by signal N. */
int st_exec(const struct st_exec_opts *opts, int *exit_status, st_error *err);

#endif
