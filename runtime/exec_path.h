/* exec_path.h (private to the runtime): execve with the PATH lookup done in
 * the given environment (execvpe would search the caller's PATH). */
#ifndef STRATA_EXEC_PATH_H
#define STRATA_EXEC_PATH_H

/* Returns only on failure, with errno set (ENOENT when not found anywhere). */
void st_exec_path(char *const *argv, char *const *env);

/* Unblocks every signal and sets every disposition back to SIG_DFL. execve
 * keeps the signal mask and ignored signals: a caller that blocks SIGTERM for
 * its signalfd (strata-node) or ignores SIGPIPE must not pass that on to the
 * container's process. Call right before st_exec_path; async-signal-safe. */
void st_exec_reset_signals(void);

#endif
