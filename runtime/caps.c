/* caps.c: process.user and process.capabilities, applied with libcap in the
 * container's process. The order is forced by the kernel: the bounding set
 * can only be reduced while CAP_SETPCAP is held, and a setuid away from 0
 * clears the effective set unless keep-caps is on. */
#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

static int set_flag_mask(cap_t caps, cap_flag_t flag, uint64_t mask, cap_value_t max)
{
    for (cap_value_t v = 0; v < max && v < 64; v++) {
        if (!(mask & (1ULL << v)))
            continue;
        if (cap_set_flag(caps, flag, 1, &v, CAP_SET) < 0)
            return -errno;
    }
    return 0;
}

int st_caps_apply_user(const struct st_oci_config *c, st_error *err)
{
    cap_value_t max = cap_max_bits();
    if (c->has_caps) {
        for (cap_value_t v = 0; v < max && v < 64; v++) {
            if (c->caps.bounding & (1ULL << v))
                continue;
            if (cap_drop_bound(v) < 0 && errno != EINVAL)
                return st_error_sys(err, errno, "%s: process.capabilities.bounding: cannot drop %s",
                                    c->where, cap_to_name(v));
        }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return st_error_sys(err, errno, "prctl(PR_SET_KEEPCAPS)");
    }
    /* setgroups is denied in a user namespace whose setgroups file says deny. */
    if (setgroups(c->n_additional_gids, c->additional_gids) < 0 &&
        !(errno == EPERM && c->n_additional_gids == 0))
        return st_error_sys(err, errno, "%s: process.user.additionalGids: setgroups failed",
                            c->where);
    if (setresgid(c->gid, c->gid, c->gid) < 0)
        return st_error_sys(err, errno,
                            "%s: process.user.gid %u: setgid failed (is it mapped in the user "
                            "namespace?)",
                            c->where, (unsigned)c->gid);
    if (setresuid(c->uid, c->uid, c->uid) < 0)
        return st_error_sys(err, errno,
                            "%s: process.user.uid %u: setuid failed (is it mapped in the user "
                            "namespace?)",
                            c->where, (unsigned)c->uid);
    if (!c->has_caps)
        return 0;

    cap_t caps = cap_init();
    if (caps == NULL)
        return st_error_sys(err, errno, "cap_init");
    int r = set_flag_mask(caps, CAP_PERMITTED, c->caps.permitted, max);
    if (r == 0)
        r = set_flag_mask(caps, CAP_EFFECTIVE, c->caps.effective, max);
    if (r == 0)
        r = set_flag_mask(caps, CAP_INHERITABLE, c->caps.inheritable, max);
    if (r == 0 && cap_set_proc(caps) < 0)
        r = -errno;
    cap_free(caps);
    if (r < 0)
        return st_error_sys(err, -r,
                            "%s: process.capabilities: cannot set effective/permitted/inheritable "
                            "(effective must be within permitted, permitted within bounding)",
                            c->where);
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return st_error_sys(err, errno, "prctl(PR_SET_KEEPCAPS)");
    if (c->caps.ambient && cap_reset_ambient() < 0)
        return st_error_sys(err, errno, "%s: process.capabilities.ambient: reset failed", c->where);
    for (cap_value_t v = 0; v < max && v < 64; v++) {
        if (!(c->caps.ambient & (1ULL << v)))
            continue;
        /* The kernel only raises an ambient cap that is permitted and
         * inheritable; runc ignores the others the same way. */
        if (!(c->caps.permitted & c->caps.inheritable & (1ULL << v)))
            continue;
        if (cap_set_ambient(v, CAP_SET) < 0)
            return st_error_sys(err, errno, "%s: process.capabilities.ambient: cannot raise %s",
                                c->where, cap_to_name(v));
    }
    return 0;
}
