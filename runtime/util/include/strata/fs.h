/* fs.h: folders on the local file system: creating a path (mkdir -p, or one
 * folder with an exact mode) and removing a tree the way
 * `rm -rf --one-file-system` does. For the daemon's, the node's and the
 * tools' own folders (state dirs, pod folders, image imports).
 * It must not follow a symlink or cross a mount while removing (a container's
 * rootfs or an image shared over 9p can be mounted below a folder being
 * removed), and it keeps no state between calls (no globals: callers run on
 * several threads). */
#ifndef STRATA_FS_H
#define STRATA_FS_H

#include <sys/types.h>

#include "strata/error.h"

/* mkdir -p: creates path and every missing parent with mode (umask
 * applies, as for mkdir(2)). A folder already there is fine; anything else
 * already there is -ENOTDIR. */
int st_fs_mkdir_p(const char *path, mode_t mode, st_error *err);

/* Creates one folder (its parent must exist) or keeps the one there, then
 * sets mode exactly, umask aside: for folders another user (QEMU's) must be
 * able to enter. */
int st_fs_mkdir_mode(const char *path, mode_t mode, st_error *err);

/* Replaces path with data, atomically: written to a temporary file beside
 * it with mode (exactly, umask aside), synced, then renamed over path, so a
 * reader or a crash sees the old file or the new one, never half of one. */
int st_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, st_error *err);

/* rm -rf --one-file-system: removes path and everything below it, depth
 * first. A symlink is removed, never followed. A mount point below path (on
 * another file system, or a bind mount of the same one) and what is under
 * it are left alone and reported as -EBUSY. Best effort like rm: it removes
 * all it can and reports the first failure. Returns 0 when path is gone (or
 * was never there), a negative errno with err filled otherwise. */
int st_fs_rmtree(const char *path, st_error *err);

#endif
