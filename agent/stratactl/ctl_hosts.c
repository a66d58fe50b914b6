/* ctl_hosts.c: the hosts sharing stratad's database (multi-host mode,
 * issue 17) as `stratactl get hosts` shows them, and `describe lease`.
 * Each host's stratad holds the Lease kube-node-lease/strata-host-HOST and
 * one of them kube-system/strata-leader; both are written by stratad alone,
 * with the database's clock. The client has no such clock: it measures the
 * renewals' ages with its own, so what it calls Ready or Expired is an
 * approximation (ctl_format.h says how far off it can be); the leader,
 * which acts on expiry, measures on the database. */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/time.h"

/* strata/lease.h's names (ST_LEASE_HOST_NS, ST_LEASE_HOST_PREFIX); the CLI
 * does not link the control layer for two strings. */
#define HOST_LEASE_NS     "kube-node-lease"
#define HOST_LEASE_PREFIX "strata-host-"

/* ---- time ----------------------------------------------------------------- */

/* An RFC 3339 time with its fraction (the leases' renewTime is
 * "2026-12-02T02:24:15.123456Z"), in milliseconds since the epoch; false
 * when missing or unreadable. */
static bool time_ms(const char *text, long long *ms)
{
    int64_t t;
    if (text == NULL || st_time_parse_rfc3339_ms(text, &t, NULL) < 0)
        return false;
    *ms = (long long)t;
    return true;
}

void stctl_fmt_millis_age(long long ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "<unknown>");
    else if (ms < 10000)
        snprintf(buf, len, "%lld.%llds", ms / 1000, ms % 1000 / 100);
    else
        st_print_duration(ms / 1000, buf, len);
}

/* ---- hosts ---------------------------------------------------------------- */

/* Whether lease is held at now_ms by this machine's clock: a holder, and
 * renewTime + leaseDurationSeconds still ahead. */
static bool held_at(json_t *lease, long long now_ms)
{
    long long renew;
    return ctlfmt_str_at(lease, "spec.holderIdentity") &&
           time_ms(ctlfmt_str_at(lease, "spec.renewTime"), &renew) &&
           now_ms <= renew + st_json_int_at(lease, "spec.leaseDurationSeconds", 0) * 1000;
}

static json_t *host_of(json_t *lease, json_t *leader, long long now_ms)
{
    const char *name = ctlfmt_str_at(lease, "metadata.name");
    const char *ns = ctlfmt_str_at(lease, "metadata.namespace");
    size_t plen = strlen(HOST_LEASE_PREFIX);
    if (name == NULL || strncmp(name, HOST_LEASE_PREFIX, plen) != 0 || name[plen] == '\0' ||
        (ns && strcmp(ns, HOST_LEASE_NS) != 0))
        return NULL;
    json_t *h = json_object();
    char where[320];
    snprintf(where, sizeof(where), "%s/%s", HOST_LEASE_NS, name);
    json_object_set_new(h, "host", json_string(name + plen));
    json_object_set_new(h, "lease", json_string(where));
    const char *holder = ctlfmt_str_at(lease, "spec.holderIdentity");
    if (holder)
        json_object_set_new(h, "holder", json_string(holder));
    const char *renew_text = ctlfmt_str_at(lease, "spec.renewTime");
    long long renew = 0;
    bool renewed = time_ms(renew_text, &renew);
    if (renew_text)
        json_object_set_new(h, "renewTime", json_string(renew_text));
    if (renewed)
        json_object_set_new(h, "renewedMillis", json_integer(now_ms > renew ? now_ms - renew : 0));
    long long duration = st_json_int_at(lease, "spec.leaseDurationSeconds", 0);
    json_object_set_new(h, "leaseDurationSeconds", json_integer(duration));
    const char *acquired = ctlfmt_str_at(lease, "spec.acquireTime");
    if (acquired)
        json_object_set_new(h, "acquireTime", json_string(acquired));
    json_object_set_new(h, "leaseTransitions",
                        json_integer(st_json_int_at(lease, "spec.leaseTransitions", 0)));
    const char *leader_holder = ctlfmt_str_at(leader, "spec.holderIdentity");
    json_object_set_new(h, "leader",
                        json_boolean(holder && leader_holder &&
                                     strcmp(holder, leader_holder) == 0 &&
                                     held_at(leader, now_ms)));
    const char *status = holder == NULL           ? "Released"
                         : !renewed               ? "Unknown"
                         : held_at(lease, now_ms) ? "Ready"
                                                  : "Expired";
    json_object_set_new(h, "status", json_string(status));
    return h;
}

static int by_host(const void *a, const void *b)
{
    return strcmp(ctlfmt_str_or(*(json_t *const *)a, "host", ""),
                  ctlfmt_str_or(*(json_t *const *)b, "host", ""));
}

json_t *stctl_fmt_hosts(json_t *host_leases, json_t *leader, long long now_ms)
{
    size_t n = json_array_size(host_leases), k = 0, i;
    _cleanup_free_ json_t **hosts = calloc(n ? n : 1, sizeof(*hosts));
    json_t *out = json_array();
    if (hosts == NULL || out == NULL) {
        json_decref(out);
        return NULL;
    }
    json_t *lease;
    json_array_foreach(host_leases, i, lease)
    {
        json_t *h = host_of(lease, leader, now_ms);
        if (h)
            hosts[k++] = h;
    }
    qsort(hosts, k, sizeof(*hosts), by_host);
    for (i = 0; i < k; i++)
        json_array_append_new(out, hosts[i]);
    return out;
}

int stctl_fmt_hosts_table(json_t *hosts, bool wide, bool no_headers, long long now_ms,
                          stctl_fmt_table **out, st_error *err)
{
    static const char *const headers[] = {"HOST",   "HOLDER", "RENEWED",  "LEASE",
                                          "LEADER", "STATUS", "ACQUIRED", "TRANSITIONS"};
    int r = stctl_fmt_table_new(wide ? 8 : 6, headers, out, err);
    if (r < 0)
        return r;
    stctl_fmt_table_set_no_headers(*out, no_headers);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        char renewed[32], lease[32], acquired[32], transitions[32];
        json_t *age = json_object_get(h, "renewedMillis");
        if (json_is_integer(age))
            stctl_fmt_millis_age(json_integer_value(age), renewed, sizeof(renewed));
        else
            snprintf(renewed, sizeof(renewed), "<unknown>");
        snprintf(lease, sizeof(lease), "%llds", st_json_int_at(h, "leaseDurationSeconds", 0));
        long long at;
        if (time_ms(ctlfmt_str_at(h, "acquireTime"), &at))
            stctl_fmt_millis_age(now_ms > at ? now_ms - at : 0, acquired, sizeof(acquired));
        else
            snprintf(acquired, sizeof(acquired), "%s", NONE);
        snprintf(transitions, sizeof(transitions), "%lld",
                 st_json_int_at(h, "leaseTransitions", 0));
        const char *cells[] = {ctlfmt_str_or(h, "host", ""),
                               ctlfmt_str_or(h, "holder", NONE),
                               renewed,
                               lease,
                               json_is_true(json_object_get(h, "leader")) ? "yes" : "no",
                               ctlfmt_str_or(h, "status", "Unknown"),
                               acquired,
                               transitions};
        if ((r = stctl_fmt_table_add(*out, cells, err)) < 0) {
            stctl_fmt_table_free(*out);
            *out = NULL;
            return r;
        }
    }
    return 0;
}

/* ---- describe lease ------------------------------------------------------- */

int ctlfmt_describe_lease(FILE *out, json_t *lease, time_t now)
{
    ctlfmt_metadata(out, lease, true, now);
    ctlfmt_field(out, 0, 15, "Holder", "%s", ctlfmt_str_or(lease, "spec.holderIdentity", NONE));
    ctlfmt_field(out, 0, 15, "Duration", "%llds",
                 st_json_int_at(lease, "spec.leaseDurationSeconds", 0));
    ctlfmt_field_time(out, 0, 15, "Acquired", ctlfmt_str_at(lease, "spec.acquireTime"), now);
    ctlfmt_field_time(out, 0, 15, "Renewed", ctlfmt_str_at(lease, "spec.renewTime"), now);
    ctlfmt_field(out, 0, 15, "Transitions", "%lld",
                 st_json_int_at(lease, "spec.leaseTransitions", 0));
    return 0;
}
