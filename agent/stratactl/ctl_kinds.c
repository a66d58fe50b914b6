/* ctl_kinds.c: the kinds stratactl knows, by every name kubectl accepts
 * for them ("po", "deploy", "deployments.apps"), and kubectl's clock: RFC
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

static const struct st_ctlfmt_kind kinds[] = {
    {ST_CTLFMT_NODE, "Node", "nodes", "node", "/api/v1", false},
    {ST_CTLFMT_POD, "Pod", "pods", "pod", "/api/v1", true},
    {ST_CTLFMT_DEPLOYMENT, "Deployment", "deployments", "deployment.apps", "/apis/apps/v1", true},
    {ST_CTLFMT_SECRET, "Secret", "secrets", "secret", "/api/v1", true},
    /* stratad serves every namespace's events at /api/v1/events. */
    {ST_CTLFMT_EVENT, "Event", "events", "event", "/api/v1", false},
    {ST_CTLFMT_IMAGE, "Image", "images", "image", "/api/v1", false},
};

static const struct {
    const char *word;
    enum st_ctlfmt_kind_id id;
} aliases[] = {
    {"nodes", ST_CTLFMT_NODE},
    {"node", ST_CTLFMT_NODE},
    {"no", ST_CTLFMT_NODE},
    {"pods", ST_CTLFMT_POD},
    {"pod", ST_CTLFMT_POD},
    {"po", ST_CTLFMT_POD},
    {"deployments", ST_CTLFMT_DEPLOYMENT},
    {"deployment", ST_CTLFMT_DEPLOYMENT},
    {"deploy", ST_CTLFMT_DEPLOYMENT},
    {"deployments.apps", ST_CTLFMT_DEPLOYMENT},
    {"deployment.apps", ST_CTLFMT_DEPLOYMENT},
    {"secrets", ST_CTLFMT_SECRET},
    {"secret", ST_CTLFMT_SECRET},
    {"events", ST_CTLFMT_EVENT},
    {"event", ST_CTLFMT_EVENT},
    {"ev", ST_CTLFMT_EVENT},
    {"images", ST_CTLFMT_IMAGE},
    {"image", ST_CTLFMT_IMAGE},
};

const struct st_ctlfmt_kind *st_ctlfmt_kind_lookup(const char *word)
{
    if (word == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(aliases[i].word, word) == 0)
            return &kinds[aliases[i].id];
    return NULL;
}

const struct st_ctlfmt_kind *st_ctlfmt_kind_by_kind(const char *kind)
{
    if (kind == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return &kinds[i];
    return NULL;
}

/* ---- time ----------------------------------------------------------------- */

void st_ctlfmt_duration(long long seconds, char *buf, size_t len)
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
        if (seconds % 60)
            snprintf(buf, len, "%lldm%llds", minutes, seconds % 60);
        else
            snprintf(buf, len, "%lldm", minutes);
        return;
    }
    if (minutes < 3 * 60) {
        snprintf(buf, len, "%lldm", minutes);
        return;
    }
    long long hours = minutes / 60;
    if (hours < 8) {
        if (minutes % 60)
            snprintf(buf, len, "%lldh%lldm", hours, minutes % 60);
        else
            snprintf(buf, len, "%lldh", hours);
        return;
    }
    if (hours < 48) {
        snprintf(buf, len, "%lldh", hours);
        return;
    }
    long long days = hours / 24;
    if (days < 8) {
        if (hours % 24)
            snprintf(buf, len, "%lldd%lldh", days, hours % 24);
        else
            snprintf(buf, len, "%lldd", days);
        return;
    }
    if (days < 2 * 365) {
        snprintf(buf, len, "%lldd", days);
        return;
    }
    long long years = days / 365;
    if (years < 8 && days % 365)
        snprintf(buf, len, "%lldy%lldd", years, days % 365);
    else
        snprintf(buf, len, "%lldy", years);
}

void st_ctlfmt_age(const char *timestamp, time_t now, char *buf, size_t len)
{
    time_t t = 0;
    if (timestamp == NULL || st_time_parse_rfc3339(timestamp, &t, NULL) < 0) {
        snprintf(buf, len, "<unknown>");
        return;
    }
    st_ctlfmt_duration((long long)now - (long long)t, buf, len);
}
