/* lease.c: the lease arithmetic of multi-host mode (strata/lease.h says
 * the safety argument it keeps). Pure functions of their arguments: the
 * clocks are read, and the leases taken, by the caller. */
#include "strata/lease.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "strata/names.h"

int st_lease_host_name(const char *host, char *out, size_t len, st_error *err)
{
    if (host == NULL || *host == '\0')
        return st_error_set(err, EINVAL, "the host name is empty; give --host-name");
    int n = snprintf(out, len, "%s%s", ST_LEASE_HOST_PREFIX, host);
    if (n < 0 || (size_t)n >= len)
        return st_error_set(err, ENAMETOOLONG, "host lease name %s%s does not fit in %zu bytes",
                            ST_LEASE_HOST_PREFIX, host, len);
    if (!st_name_dns_subdomain_ok(out))
        return st_error_set(err, EINVAL,
                            "host name \"%s\" cannot name its lease %s%s: use lowercase letters, "
                            "digits, '-' and '.' (at most %zu bytes), e.g. --host-name=host-1",
                            host, ST_LEASE_HOST_PREFIX, host,
                            (size_t)ST_NAME_DNS_SUBDOMAIN_MAX - strlen(ST_LEASE_HOST_PREFIX));
    return 0;
}

bool st_lease_self_fence_due(int64_t last_ok_send_mono_ns, int64_t now_mono_ns, int fence_after_ms)
{
    return now_mono_ns - last_ok_send_mono_ns >= (int64_t)fence_after_ms * 1000000;
}

bool st_lease_host_lost(const st_lease_state *l, int margin_ms)
{
    return l->db_now_ms > l->renew_ms + l->duration_ms + margin_ms;
}

/* Fills why with the broken rule; returns -EINVAL. */
static int refuse(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *why, size_t len, const char *fmt, ...)
{
    if (why && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int st_lease_timing_check(int duration_ms, int renew_ms, int fence_after_ms, int margin_ms,
                          int guest_grace_ms, int guest_stop_ms, char *why, size_t len)
{
    if (duration_ms <= 0 || renew_ms <= 0 || fence_after_ms <= 0 || margin_ms < 0 ||
        guest_grace_ms <= 0 || guest_stop_ms <= 0)
        return refuse(why, len,
                      "lease timings must be positive (margin may be 0): duration %d ms, renew %d "
                      "ms, fence after %d ms, margin %d ms, guest grace %d ms, guest stop %d ms",
                      duration_ms, renew_ms, fence_after_ms, margin_ms, guest_grace_ms,
                      guest_stop_ms);
    if (duration_ms % 1000 != 0)
        return refuse(why, len,
                      "lease duration %d ms is not a whole number of seconds "
                      "(leaseDurationSeconds keeps seconds): use e.g. %d ms",
                      duration_ms, (duration_ms / 1000 + 1) * 1000);
    if (renew_ms >= fence_after_ms)
        return refuse(why, len,
                      "renewing every %d ms with a fence after %d ms without a renewal fences "
                      "a host on its first late renewal: renew more often than the fence",
                      renew_ms, fence_after_ms);
    if (fence_after_ms >= duration_ms)
        return refuse(why, len,
                      "a host fences itself %d ms after its last renewal, not before its lease "
                      "of %d ms expires: make the fence shorter than the lease",
                      fence_after_ms, duration_ms);
    /* int64 so that large figures cannot overflow the sum */
    int64_t worst = (int64_t)fence_after_ms + guest_grace_ms + guest_stop_ms;
    int64_t lost = (int64_t)duration_ms + margin_ms;
    if (worst > lost)
        return refuse(why, len,
                      "unsafe lease timings: a host's pods may still run %lld ms after its last "
                      "renewal (fence after %d + guest grace %d + guest stop %d) but the leader "
                      "replaces them after %lld ms (duration %d + margin %d): lengthen the lease "
                      "or the margin, or shorten the fence or the guest grace",
                      (long long)worst, fence_after_ms, guest_grace_ms, guest_stop_ms,
                      (long long)lost, duration_ms, margin_ms);
    if (why && len > 0)
        why[0] = '\0';
    return 0;
}

int64_t st_lease_clock_skew_ms(int64_t local_realtime_ms_before, int64_t local_realtime_ms_after,
                               int64_t db_now_ms)
{
    int64_t mid =
        local_realtime_ms_before + (local_realtime_ms_after - local_realtime_ms_before) / 2;
    return db_now_ms - mid;
}

const char *st_node_host(json_t *node)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(node, "metadata"), "labels"), ST_HOST_LABEL));
}
