/* namespaces.h (private to the runtime): starting the container's process
 * in its namespaces, the ones it joins by path and the ones it creates.
 * Joined ones are entered first, by a short-lived helper, so the new ones
 * (a user namespace above all) are created inside them, as runc does. */
#ifndef STRATA_NAMESPACES_H
#define STRATA_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "strata/error.h"
#include "strata/oci_config.h"

/* Each linux.namespaces path opens and names a namespace of its type (the
 * spec's "MUST generate an error if path is not associated with a
 * namespace of type type"), checked at create before anything is made. */
int st_ns_check(const struct st_oci_config *c, st_error *err);

/* Starts child(arg) as our child process (waitpid works) in c's
 * namespaces: with nothing to join, one clone(2) with c->ns_flags; else a
 * helper process joins the paths (the user namespace last, so the others
 * are joined with the host's privileges) and clones the child with
 * CLONE_PARENT, which makes it ours and puts it in a joined pid namespace.
 * A new cgroup namespace is left to the child: it must be made after the
 * child was moved into its cgroup, to be rooted there.
 * With cgroup_fd a v2 cgroup directory (st_cgroup_dir_open; -1: none)
 * the child is born in that cgroup (clone3 with CLONE_INTO_CGROUP, also from
 * the helper that joins namespaces): *placed is then true and the caller
 * does not attach it, which spares it the kernel's global migration lock.
 * When clone3 cannot (an old kernel, a cgroup the joined user namespace may
 * not write), *placed is false and the caller attaches as before. */
int st_ns_spawn_into(const struct st_oci_config *c, int cgroup_fd, void (*child)(void *arg),
                     void *arg, pid_t *pid, bool *placed, st_error *err);

#endif
