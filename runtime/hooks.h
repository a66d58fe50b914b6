/* hooks.h (private to the runtime): running config.json's OCI hooks. The
 * container code decides when and in which process each kind runs (see
 * container.c); this runs one kind's hooks, in order, with the container's
 * state on stdin, each bounded by its timeout. */
#ifndef STRATA_HOOKS_H
#define STRATA_HOOKS_H

#include "strata/error.h"
#include "strata/oci_config.h"

/* The state a hook reads on stdin. The pid is kept apart because it differs
 * by namespace (the spec: as seen from where the hook runs) and because the
 * container's process only learns its own after the text was built. */
struct st_hook_state {
    const char *json; /* the state object without "pid", compact: "{...}", not "{}" */
    int pid;          /* written as the first member "pid"; <= 0 leaves it out */
};

/* Called for each failing hook of a kind whose failures are warnings
 * (poststart, poststop); msg says which hook and why. */
typedef void (*st_hook_warn_fn)(void *data, const char *msg);

/* Runs the hooks of kind in their order. Each runs as its own process group
 * with stdin its own copy of the state, stdout and stderr captured, the
 * signal mask cleared and no other descriptor; env is the hook's, or
 * default_env when the config gives none. A hook fails when it exits
 * non-zero, is killed, or still runs at its timeout (then its process group
 * is SIGKILLed). The message names where, the hook (hooks.KIND[i] PATH), the
 * cause and the end of what the hook printed.
 * warn NULL: stops at the first failure and returns it. warn set: reports
 * each failure to warn, runs the rest, and returns 0.
 * Allocates nothing, so the container's process (cloned from a threaded
 * strata-node) may call it as well as the runtime. */
int st_hooks_run(const struct st_oci_hooks *hooks, enum st_oci_hook_kind kind, const char *where,
                 const struct st_hook_state *state, char *const *default_env, st_hook_warn_fn warn,
                 void *warn_data, st_error *err);

#endif
