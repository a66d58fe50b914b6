/* proc.h: the process state a child this program forks must not take into
 * what it execs or becomes (a container's process, the pod sandbox).
 * It must not fork, exec or wait itself: the callers own their children
 * (see _cleanup_pid_ in cleanup.h for one that must not outlive a scope). */
#ifndef STRATA_PROC_H
#define STRATA_PROC_H

/* Unblocks every signal and sets every disposition back to SIG_DFL. execve
 * keeps the signal mask and ignored signals: a caller that blocks SIGTERM for
 * its signalfd (strata-node) or ignores SIGPIPE must not pass that on to the
 * container's process. Call in the child right after fork;
 * async-signal-safe. */
void st_proc_reset_signals(void);

#endif
