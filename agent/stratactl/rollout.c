/* rollout.c: `stratactl rollout restart|status deployment NAME`, as kubectl
 * does them. restart patches spec.template.metadata.annotations
 * ["kubectl.kubernetes.io/restartedAt"] with the time, a new template the
 * deployment controller rolls out like any other (maxSurge 1,
 * maxUnavailable 0, new pods spread by the scheduler); status follows the
 * Deployment until the controller has seen its latest spec and every
 * replica is updated and available, with kubectl's messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/clock.h"
#include "strata/cleanup.h"

#define RESTARTED_AT "kubectl.kubernetes.io/restartedAt"
#define POLL_MS      500

/* kubectl's --timeout: a whole number with an optional unit (s, m, h);
 * 0 waits for ever. Milliseconds, or -1 when not understood. */
static long long parse_timeout(const char *text)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return -1;
    long long unit = 1000;
    if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (*end && strcmp(end, "s") != 0)
        return -1;
    return v > 1000000 ? -1 : v * unit;
}

static int restart(stctl_client *cl, const struct stctl_target *t, const char *ns)
{
    char now[32];
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    _cleanup_json_ json_t *patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template",
                                             "metadata", "annotations", RESTARTED_AT, now);
    st_error err = {0};
    _cleanup_free_ char *path = NULL;
    if (patch == NULL)
        return stctl_failf("out of memory");
    if (stctl_path(cl, t->kind, ns, t->name, NULL, &path, &err) < 0 ||
        stctl_call(cl, "PATCH", path, patch, NULL, &err) < 0)
        return stctl_fail(&err);
    printf("%s/%s restarted\n", t->kind->ref, t->name);
    fflush(stdout);
    return 0;
}

static long long num(json_t *obj, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(obj, a), b));
}

/* kubectl's rollout status message for the deployment; true when done. */
static bool rollout_state(json_t *dep, const char *name, char *msg, size_t len)
{
    long long gen = num(dep, "metadata", "generation");
    long long observed = num(dep, "status", "observedGeneration");
    long long want = json_object_get(json_object_get(dep, "spec"), "replicas")
                         ? num(dep, "spec", "replicas")
                         : 1;
    long long replicas = num(dep, "status", "replicas");
    long long updated = num(dep, "status", "updatedReplicas");
    long long available = num(dep, "status", "availableReplicas");
    if (gen > observed)
        snprintf(msg, len, "Waiting for deployment spec update to be observed...");
    else if (updated < want)
        snprintf(msg, len,
                 "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas "
                 "have been updated...",
                 name, updated, want);
    else if (replicas > updated)
        snprintf(msg, len,
                 "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending "
                 "termination...",
                 name, replicas - updated);
    else if (available < updated)
        snprintf(msg, len,
                 "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas "
                 "are available...",
                 name, available, updated);
    else {
        snprintf(msg, len, "deployment \"%s\" successfully rolled out", name);
        return true;
    }
    return false;
}

static int status(stctl_client *cl, const struct stctl_target *t, const char *ns,
                  long long timeout_ms)
{
    st_error err = {0};
    _cleanup_free_ char *path = NULL;
    if (stctl_path(cl, t->kind, ns, t->name, NULL, &path, &err) < 0)
        return stctl_fail(&err);
    long long start = st_clock_ms();
    char last[512] = "";
    for (;;) {
        _cleanup_json_ json_t *dep = NULL;
        if (stctl_call(cl, "GET", path, NULL, &dep, &err) < 0)
            return stctl_fail(&err);
        char msg[512];
        bool done = rollout_state(dep, t->name, msg, sizeof(msg));
        if (strcmp(msg, last) != 0) {
            printf("%s\n", msg);
            fflush(stdout);
            snprintf(last, sizeof(last), "%s", msg);
        }
        if (done)
            return 0;
        if (timeout_ms > 0 && st_clock_ms() - start >= timeout_ms)
            return stctl_failf("timed out waiting for deployment \"%s\" to roll out (see "
                               "`stratactl describe deployment %s`)",
                               t->name, t->name);
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int stctl_verb_rollout(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    long long timeout_ms = 0;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        if (c == 't') {
            if ((timeout_ms = parse_timeout(optarg)) < 0)
                return stctl_usage(STCTL_USAGE_ROLLOUT,
                                   "--timeout needs a duration such as 90s or 5m, got \"%s\"",
                                   optarg);
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_ROLLOUT);
        if (r >= 0)
            return r;
    }
    if (optind >= argc)
        return stctl_usage(STCTL_USAGE_ROLLOUT, "say what to do: restart or status");
    const char *what = argv[optind++];
    bool is_restart = strcmp(what, "restart") == 0;
    if (!is_restart && strcmp(what, "status") != 0)
        return stctl_usage(STCTL_USAGE_ROLLOUT, "unknown rollout command \"%s\"", what);
    st_error err = {0};
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_ROLLOUT, "%s", err.msg);
    if (t[0].kind->id != STCTL_FMT_DEPLOYMENT)
        return stctl_usage(STCTL_USAGE_ROLLOUT, "only deployments are rolled out");
    if (t[0].name == NULL || (!is_restart && n != 1))
        return stctl_usage(STCTL_USAGE_ROLLOUT, "name %s deployment", is_restart ? "the" : "one");
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    if (!is_restart)
        return status(cl, &t[0], ctl->ns, timeout_ms);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (restart(cl, &t[i], ctl->ns) != 0)
            rc = STCTL_EXIT_FAIL;
    return rc;
}
