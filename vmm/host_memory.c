/* host_memory.c: whether the host can hold another node. A node asked for
 * more memory than the host has fails deep inside QEMU with four lines of
 * libvirt text and leaves a Failed node behind; checked first, it is one
 * line and nothing is made. */
#include "vmm_priv.h"
#include "strata/meminfo.h"

#include <errno.h>
#include <inttypes.h>

int st_vmm_host_memory_check(unsigned memory_mib, const char *meminfo_path, st_error *err)
{
    /* MemAvailable: the kernel's estimate of what can be allocated without
     * swapping. */
    int64_t kib = 0;
    int r = st_meminfo_kib(meminfo_path, "MemAvailable", &kib, err);
    if (r < 0)
        return r;
    int64_t need = (int64_t)memory_mib + ST_VMM_QEMU_OVERHEAD_MIB;
    int64_t have = kib / 1024;
    if (need > have)
        return st_error_set(err, ENOMEM,
                            "a node with %u MiB needs about %" PRId64
                            " MiB of host memory, but only %" PRId64
                            " MiB is available (MemAvailable); give it less memory or free some",
                            memory_mib, need, have);
    return 0;
}
