/* mounts.h (private to the runtime): the container's filesystem view, built
 * in the container's own mount namespace by its process before execve.
 * Never call these in a process that shares the host's mount namespace. */
#ifndef STRATA_MOUNTS_H
#define STRATA_MOUNTS_H

#include "strata/error.h"
#include "strata/oci_config.h"

/* Root propagation (rslave, or rprivate for a private/unbindable root), the
 * rootfs bind, the config's mounts plus the standard ones it lacks (/proc,
 * /dev tmpfs with its devices, /dev/pts, /dev/shm, /sys read-only), then
 * linux.devices. The root is still c->root_path afterwards. Nothing in a
 * joined mount namespace. */
int st_mounts_prepare(const struct st_oci_config *c, st_error *err);

/* pivot_root into c->root_path; falls back to MS_MOVE + chroot when
 * pivot_root says EINVAL (an initramfs root, as in the VM nodes); then the
 * root gets linux.rootfsPropagation. In a joined mount namespace: chroot
 * into root.path as that namespace sees it. */
int st_mounts_pivot(const struct st_oci_config *c, st_error *err);

/* After the pivot: maskedPaths, readonlyPaths, root.readonly. */
int st_mounts_finish(const struct st_oci_config *c, st_error *err);

#endif
