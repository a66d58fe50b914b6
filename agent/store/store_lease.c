/* store_lease.c: what both store backends agree on about Leases (the kind
 * "Lease", coordination.k8s.io/v1): the arguments a lease call takes, the
 * lease's time text (MicroTime), reading a stored Lease into an
 * st_lease_state, and the rule a try follows, written here once in C for
 * the memory backend; store_pg_lease.c runs the same rule as one SQL
 * statement on PostgreSQL's clock. No storage and no clock reads: the
 * backends pass their "now" in.
 *
 * The rule (strata/store_lease.h): a lease with no holder, or whose
 * renewTime + leaseDurationSeconds is before now, is taken (acquireTime =
 * renewTime = now; leaseTransitions + 1 when the holder changes); a lease
 * its holder renews gets renewTime = now, never earlier than it was; any
 * other is left alone. */
#include "store_object.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/cleanup.h"
#include "strata/time.h"

/* A lease longer than an hour is surely a unit mistake (ms for s). */
#define LEASE_DURATION_MAX_MS 3600000

int st_store_lease_args(const char *ns, const char *name, const char *holder, int duration_ms,
                        json_t **obj, st_error *err)
{
    if (holder && (*holder == '\0' || strlen(holder) > ST_LEASE_HOLDER_MAX))
        return st_error_set(err, EINVAL,
                            "lease %s/%s: holder identity \"%.40s\" must be 1 to %d bytes",
                            ns ? ns : "default", name ? name : "", holder, ST_LEASE_HOLDER_MAX);
    if (duration_ms >= 0 &&
        (duration_ms < 1000 || duration_ms > LEASE_DURATION_MAX_MS || duration_ms % 1000 != 0))
        return st_error_set(err, EINVAL,
                            "lease %s/%s: duration %d ms is not a whole number of seconds "
                            "between 1 and %d s (leaseDurationSeconds keeps seconds)",
                            ns ? ns : "default", name ? name : "", duration_ms,
                            LEASE_DURATION_MAX_MS / 1000);
    _cleanup_json_ json_t *o =
        json_pack("{s:s, s:s, s:{s:s?, s:s?}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                  "Lease", "metadata", "name", name, "namespace", ns);
    if (o == NULL)
        return st_error_set(err, ENOMEM, "out of memory building a Lease");
    const st_store_kind *k;
    const char *cns, *cname;
    int r = st_store_object_check(o, &k, &cns, &cname, err);
    if (r < 0)
        return r;
    json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(cns));
    if (obj)
        *obj = st_steal_ptr(&o);
    return 0;
}

void st_store_lease_time(int64_t ms, char out[ST_STORE_LEASE_TIME_LEN])
{
    time_t t = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        t--;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[ST_TIME_RFC3339_LEN];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, ST_STORE_LEASE_TIME_LEN, "%s.%03d000Z", base, frac);
}

/* text in milliseconds since the epoch; 0 when it is no RFC 3339 time. */
static int64_t time_ms(json_t *v)
{
    int64_t ms;
    return st_time_parse_rfc3339_ms(json_string_value(v), &ms, NULL) == 0 ? ms : 0;
}

static json_t *spec_of(json_t *lease)
{
    return json_object_get(lease, "spec");
}

static const char *holder_of(json_t *lease)
{
    const char *h = json_string_value(json_object_get(spec_of(lease), "holderIdentity"));
    return h ? h : "";
}

static int64_t duration_ms_of(json_t *lease)
{
    json_t *d = json_object_get(spec_of(lease), "leaseDurationSeconds");
    return json_is_integer(d) ? (int64_t)json_integer_value(d) * 1000 : 0;
}

void st_store_lease_state_of(json_t *lease, int64_t db_now_ms, st_lease_state *out)
{
    memset(out, 0, sizeof(*out));
    out->db_now_ms = db_now_ms;
    if (lease == NULL)
        return;
    json_t *spec = spec_of(lease);
    snprintf(out->holder, sizeof(out->holder), "%s", holder_of(lease));
    out->held = out->holder[0] != '\0';
    out->renew_ms = time_ms(json_object_get(spec, "renewTime"));
    out->acquire_ms = time_ms(json_object_get(spec, "acquireTime"));
    int64_t d = duration_ms_of(lease);
    out->duration_ms = d > 0 && d <= INT32_MAX ? (int)d : 0;
    json_t *tr = json_object_get(spec, "leaseTransitions");
    out->transitions = json_is_integer(tr) ? (int)json_integer_value(tr) : 0;
    out->resource_version = st_store_object_rv(lease);
}

/* The content of cur (or skel when there is none) with spec's fields
 * merged in. */
static json_t *with_spec(json_t *cur, json_t *skel, json_t *fields)
{
    json_t *next = st_store_object_content(cur ? cur : skel);
    json_t *spec = json_object_get(next, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(next, "spec", spec);
    }
    json_object_update(spec, fields);
    json_decref(fields);
    return next;
}

json_t *st_store_lease_next(json_t *cur, json_t *skel, const char *holder, int duration_ms,
                            int64_t now_ms)
{
    char now[ST_STORE_LEASE_TIME_LEN];
    st_store_lease_time(now_ms, now);
    json_int_t secs = duration_ms / 1000;
    json_t *spec = spec_of(cur);
    int64_t renew = time_ms(json_object_get(spec, "renewTime"));
    const char *h = holder_of(cur);
    bool expired = cur == NULL || *h == '\0' || renew == 0 || now_ms > renew + duration_ms_of(cur);
    if (expired) {
        json_t *tr = json_object_get(spec, "leaseTransitions");
        json_int_t n = json_is_integer(tr) ? json_integer_value(tr) : 0;
        if (cur && strcmp(h, holder) != 0)
            n++;
        return with_spec(cur, skel,
                         json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", holder,
                                   "leaseDurationSeconds", secs, "acquireTime", now, "renewTime",
                                   now, "leaseTransitions", n));
    }
    if (strcmp(h, holder) != 0)
        return NULL;
    char renewed[ST_STORE_LEASE_TIME_LEN];
    st_store_lease_time(now_ms > renew ? now_ms : renew, renewed);
    return with_spec(cur, skel,
                     json_pack("{s:s, s:I, s:s}", "holderIdentity", holder, "leaseDurationSeconds",
                               secs, "renewTime", renewed));
}

json_t *st_store_lease_released(json_t *cur, const char *holder, int64_t now_ms)
{
    if (cur == NULL || strcmp(holder_of(cur), holder) != 0)
        return NULL;
    char now[ST_STORE_LEASE_TIME_LEN];
    st_store_lease_time(now_ms, now);
    json_t *next = st_store_object_content(cur);
    json_t *spec = json_object_get(next, "spec");
    json_object_del(spec, "holderIdentity");
    json_object_set_new(spec, "renewTime", json_string(now));
    return next;
}
