/* ctl_kinds.c: the kinds stratactl knows, by every name kubectl accepts
 * for them ("po", "deploy", "deployments.apps", "svc", "ep"), and kubectl's clock: RFC
 * 3339 timestamps read, ages and durations printed ("5s", "3m", "4d6h"). */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/cleanup.h"
#include "strata/time.h"

/* ---- kinds ---------------------------------------------------------------- */

static const struct stctl_fmt_kind kinds[] = {
    {STCTL_FMT_NODE, "Node", "nodes", "node", "/api/v1", false},
    {STCTL_FMT_POD, "Pod", "pods", "pod", "/api/v1", true},
    {STCTL_FMT_DEPLOYMENT, "Deployment", "deployments", "deployment.apps", "/apis/apps/v1", true},
    {STCTL_FMT_SECRET, "Secret", "secrets", "secret", "/api/v1", true},
    /* stratad serves every namespace's events at /api/v1/events. */
    {STCTL_FMT_EVENT, "Event", "events", "event", "/api/v1", false},
    {STCTL_FMT_IMAGE, "Image", "images", "image", "/api/v1", false},
    {STCTL_FMT_SERVICE, "Service", "services", "service", "/api/v1", true},
    /* Kubernetes' singular of Endpoints is "endpoints" too. */
    {STCTL_FMT_ENDPOINTS, "Endpoints", "endpoints", "endpoints", "/api/v1", true},
};

static const struct {
    const char *word;
    enum stctl_fmt_kind_id id;
} aliases[] = {
    {"nodes", STCTL_FMT_NODE},
    {"node", STCTL_FMT_NODE},
    {"no", STCTL_FMT_NODE},
    {"pods", STCTL_FMT_POD},
    {"pod", STCTL_FMT_POD},
    {"po", STCTL_FMT_POD},
    {"deployments", STCTL_FMT_DEPLOYMENT},
    {"deployment", STCTL_FMT_DEPLOYMENT},
    {"deploy", STCTL_FMT_DEPLOYMENT},
    {"deployments.apps", STCTL_FMT_DEPLOYMENT},
    {"deployment.apps", STCTL_FMT_DEPLOYMENT},
    {"secrets", STCTL_FMT_SECRET},
    {"secret", STCTL_FMT_SECRET},
    {"events", STCTL_FMT_EVENT},
    {"event", STCTL_FMT_EVENT},
    {"ev", STCTL_FMT_EVENT},
    {"images", STCTL_FMT_IMAGE},
    {"image", STCTL_FMT_IMAGE},
    {"services", STCTL_FMT_SERVICE},
    {"service", STCTL_FMT_SERVICE},
    {"svc", STCTL_FMT_SERVICE},
    {"endpoints", STCTL_FMT_ENDPOINTS},
    {"ep", STCTL_FMT_ENDPOINTS},
};

const struct stctl_fmt_kind *stctl_fmt_kind_lookup(const char *word)
{
    if (word == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(aliases[i].word, word) == 0)
            return &kinds[aliases[i].id];
    return NULL;
}

const struct stctl_fmt_kind *stctl_fmt_kind_by_kind(const char *kind)
{
    if (kind == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return &kinds[i];
    return NULL;
}

/* ---- time ----------------------------------------------------------------- */

/* "5m" or "5m30s": kubectl's two-unit durations drop a zero second unit. */
static void two_units(char *buf, size_t len, long long big, char big_unit, long long small,
                      char small_unit)
{
    if (small)
        snprintf(buf, len, "%lld%c%lld%c", big, big_unit, small, small_unit);
    else
        snprintf(buf, len, "%lld%c", big, big_unit);
}

void stctl_fmt_duration(long long seconds, char *buf, size_t len)
{
    /* kubectl tolerates a second of clock skew as "now". */
    if (seconds < -1) {
        snprintf(buf, len, "<invalid>");
        return;
    }
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120) {
        snprintf(buf, len, "%llds", seconds);
        return;
    }
    long long minutes = seconds / 60;
    if (minutes < 10) {
        two_units(buf, len, minutes, 'm', seconds % 60, 's');
        return;
    }
    if (minutes < 3 * 60) {
        snprintf(buf, len, "%lldm", minutes);
        return;
    }
    long long hours = minutes / 60;
    if (hours < 8) {
        two_units(buf, len, hours, 'h', minutes % 60, 'm');
        return;
    }
    if (hours < 48) {
        snprintf(buf, len, "%lldh", hours);
        return;
    }
    long long days = hours / 24;
    if (days < 8) {
        two_units(buf, len, days, 'd', hours % 24, 'h');
        return;
    }
    if (days < 2 * 365) {
        snprintf(buf, len, "%lldd", days);
        return;
    }
    long long years = days / 365;
    two_units(buf, len, years, 'y', years < 8 ? days % 365 : 0, 'd');
}

void stctl_fmt_age(const char *timestamp, time_t now, char *buf, size_t len)
{
    time_t t = 0;
    if (timestamp == NULL || st_time_parse_rfc3339(timestamp, &t, NULL) < 0) {
        snprintf(buf, len, "<unknown>");
        return;
    }
    stctl_fmt_duration((long long)now - (long long)t, buf, len);
}
