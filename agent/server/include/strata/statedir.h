/* statedir.h: one stratad per state directory. The lock is flock() on
 * STATE_DIR/lock, released by the kernel when the process dies, so a crash
 * never leaves a stale lock; it guards nothing but the directory. */
#ifndef STRATA_STATEDIR_H
#define STRATA_STATEDIR_H

#include "strata/error.h"

/* Takes the lock (creating dir and the lock file as needed) and writes our
 * pid into it; *lock_fd stays open for as long as the lock is held (close
 * it, or exit, to release). Held by another process: -EBUSY, "another
 * stratad is running with state dir X (pid N)". */
int st_statedir_lock(const char *dir, int *lock_fd, st_error *err);

#endif
