/* fs_tree.h: removing a folder tree the way `rm -rf --one-file-system`
 * does: depth first, never following a symlink, never crossing into a
 * mount left inside it. For the daemon's and tools' own scratch folders. */
#ifndef STRATA_FS_TREE_H
#define STRATA_FS_TREE_H

#include "strata/error.h"

/* Best effort: what cannot be removed stays; returns 0 when the tree is
 * gone (or was never there), -errno otherwise. */
int st_fs_rmtree(const char *path);

/* mkdir that tolerates an existing folder, then sets mode exactly (umask
 * aside): for folders another user (QEMU's) must be able to enter. */
int st_fs_mkdir_mode(const char *path, unsigned mode, st_error *err);

#endif
