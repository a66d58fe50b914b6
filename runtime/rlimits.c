/* rlimits.c: process.rlimits -> setrlimit, in the container's process. Names
 * were validated by the config parser; here only the kernel can refuse. */
#include "rlimits.h"

#include <errno.h>
#include <sys/resource.h>

int st_rlimits_apply(const struct st_oci_config *c, st_error *err)
{
    for (size_t i = 0; i < c->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = (rlim_t)c->rlimits[i].soft,
                            .rlim_max = (rlim_t)c->rlimits[i].hard};
        if (setrlimit(c->rlimits[i].resource, &rl) < 0)
            return st_error_sys(err, errno,
                                "%s: process.rlimits[%zu]: the kernel refused soft %llu hard %llu "
                                "(lower them)",
                                c->where, i, (unsigned long long)c->rlimits[i].soft,
                                (unsigned long long)c->rlimits[i].hard);
    }
    return 0;
}
