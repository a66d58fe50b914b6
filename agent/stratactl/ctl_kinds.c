/* ctl_kinds.c: the kinds stratactl knows, by every name kubectl accepts
 * for them ("po", "deploy", "deployments.apps", "svc", "ep", "ns",
 * "leases.coordination.k8s.io"), and kubectl's clock: RFC
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
    {STCTL_FMT_NAMESPACE, "Namespace", "namespaces", "namespace", "/api/v1", false},
    /* read-only: stratad alone writes them (agent/API.md) */
    {STCTL_FMT_LEASE, "Lease", "leases", "lease.coordination.k8s.io",
     "/apis/coordination.k8s.io/v1", true},
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
    {"namespaces", STCTL_FMT_NAMESPACE},
    {"namespace", STCTL_FMT_NAMESPACE},
    {"ns", STCTL_FMT_NAMESPACE},
    {"leases", STCTL_FMT_LEASE},
    {"lease", STCTL_FMT_LEASE},
    {"leases.coordination.k8s.io", STCTL_FMT_LEASE},
    {"lease.coordination.k8s.io", STCTL_FMT_LEASE},
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
