/* caps.h (private to the runtime): reducing the process's capabilities to
 * the config's sets with libcap, and switching to the config's user. Runs in
 * the container's process only, after which it cannot regain anything. */
#ifndef STRATA_CAPS_H
#define STRATA_CAPS_H

#include "strata/error.h"
#include "strata/oci_config.h"

/* setgroups/setgid/setuid to process.user while keeping the capabilities
 * the config asks for: bounding, then inheritable/permitted/effective, then
 * ambient. With no process.capabilities the caps are left as they are. */
int st_caps_apply_user(const struct st_oci_config *c, st_error *err);

#endif
