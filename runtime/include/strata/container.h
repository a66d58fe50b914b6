/* container.h: the container lifecycle as an in-process API (create, start,
 * wait, kill, delete, state), used by strata-run, strata-node and probes.
 * It never prints or exits: every failure is an st_error, rolled back. */
#ifndef STRATA_CONTAINER_H
#define STRATA_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include "strata/error.h"
#include "strata/oci_config.h"

#define ST_CONTAINER_DEFAULT_ROOT "/run/strata-run"

enum st_container_status {
    ST_CONTAINER_CREATING = 0,
    ST_CONTAINER_CREATED,
    ST_CONTAINER_RUNNING,
    ST_CONTAINER_STOPPED,
};

/* Where warnings go: a failing poststart or poststop hook (the spec says the
 * lifecycle goes on). The default writes "strata: warning: MSG" to stderr,
 * the one thing this API prints, so that no warning is ever lost. */
typedef void (*st_container_warn_fn)(void *data, const char *msg);

struct st_container_opts {
    const char *id;                     /* [A-Za-z0-9_.-]+, required */
    const char *bundle;                 /* folder with config.json; or NULL when config is set */
    const struct st_oci_config *config; /* an already-parsed config (borrowed), or NULL */
    const char *state_root;             /* NULL = ST_CONTAINER_DEFAULT_ROOT; state in ROOT/<id> */
    int stdin_fd, stdout_fd, stderr_fd; /* the process's stdio; -1 = /dev/null */
    st_container_warn_fn warn;          /* NULL = stderr */
    void *warn_data;
};

/* Sets every field to its default: stdio 0, 1, 2 (inherited), rest NULL. */
void st_container_opts_init(struct st_container_opts *opts);

/* How a container's process ended. reason: "Completed" (exit 0), "Error"
 * (exit != 0), "OOMKilled" (the cgroup's OOM killer), "Signaled". */
struct st_container_result {
    int exit_status; /* shell convention: exit code, or 128+N for signal N */
    int signal;      /* N when killed by a signal, else 0 */
    bool oom_killed;
    const char *reason;
};

struct st_container;

/* Validates everything, then creates the state dir, cgroup and namespaces,
 * prepares the root filesystem, runs the prestart, createRuntime and
 * createContainer hooks and switches the process to the config's user,
 * rlimits and capabilities; the process waits right before execve until
 * st_container_start. On failure (a failing hook too) nothing is left
 * behind; once hooks ran, the poststop hooks run after the rollback. */
int st_container_create(const struct st_container_opts *opts, struct st_container **out,
                        st_error *err);

/* Loads a container created by another process (strata-run start/kill/...). */
int st_container_load(const char *state_root, const char *id, struct st_container **out,
                      st_error *err);

/* For a loaded container (start, delete from another process); NULL fn
 * restores the default. */
void st_container_set_warn(struct st_container *c, st_container_warn_fn fn, void *data);

/* Releases the waiting process, waits until it ran its startContainer hooks
 * and execve'd, and reports either failure ("process.args[0]: ..."), in any
 * process. A failing startContainer hook also deletes the container (the
 * spec: stop it, destroy it, poststop). Then the poststart hooks run
 * (failures are warnings). */
int st_container_start(struct st_container *c, st_error *err);

/* Blocks until the process ends (only in the process that created it). */
int st_container_wait(struct st_container *c, struct st_container_result *res, st_error *err);
/* Non-blocking: *done = false while the process runs. */
int st_container_poll(struct st_container *c, bool *done, struct st_container_result *res,
                      st_error *err);

/* The process (pid 1 of the container) as seen from here, for pidfd/SIGCHLD. */
pid_t st_container_pid(const struct st_container *c);
const char *st_container_id(const struct st_container *c);
const char *st_container_cgroup_path(const struct st_container *c);
/* The memory limit in bytes from the config, -1 when unset or unknown. */
long long st_container_memory_limit(const struct st_container *c);

int st_container_kill(struct st_container *c, int sig, st_error *err);

/* Removes the cgroup and the state dir, then runs the poststop hooks
 * (failures are warnings). A created or stopped container goes at once; a
 * running one only with force (then it is SIGKILLed first). */
int st_container_delete(struct st_container *c, bool force, st_error *err);

/* The current status (re-checked against the process) and the OCI state
 * JSON: ociVersion, id, status, pid, bundle, annotations, created. */
int st_container_state(struct st_container *c, enum st_container_status *status, json_t **state,
                       st_error *err);

void st_container_free(struct st_container *c);

const char *st_container_status_name(enum st_container_status s);

/* "SIGTERM", "TERM", "term", "15" -> 15; -EINVAL with a message otherwise. */
int st_signal_parse(const char *s, st_error *err);

#endif
