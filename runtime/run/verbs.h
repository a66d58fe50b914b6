/* verbs.h: what main.c hands each strata-run verb (one file per verb), and
 * the one way a verb reports failure: one line on stderr (and --log), exit 1.
 * Verbs only parse their flags and call the runtime library. */
#ifndef STRATA_RUN_VERBS_H
#define STRATA_RUN_VERBS_H

#include "strata/error.h"

struct st_run_globals {
    const char *root; /* --root, state dir */
    const char *log;  /* --log FILE or NULL */
};

/* Prints "strata-run: <message>" on stderr, appends it to --log; returns 1. */
int st_run_fail(const struct st_run_globals *g, const st_error *err);
int st_run_failf(const struct st_run_globals *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The runtime's warnings (a failing poststart or poststop hook): "strata-run:
 * warning: MSG" on stderr and in --log. globals: the st_run_globals. Fits
 * st_container_warn_fn. */
void st_run_warn(void *globals, const char *msg);

/* Writes pid to path (--pid-file); a NULL path does nothing. -1 on error. */
int st_run_write_pid_file(const char *path, int pid);

/* Each takes argv from the verb name on and returns the exit code. */
int st_run_verb_spec(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_create(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_start(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_state(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_kill(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_delete(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_run(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_exec(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_list(const struct st_run_globals *g, int argc, char **argv);
int st_run_verb_features(const struct st_run_globals *g, int argc, char **argv);

#endif
