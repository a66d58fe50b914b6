/* hosts.c: `stratactl get hosts [-o wide|json|yaml|name] [--no-headers]`:
 * the hosts whose stratad shares this one's database (multi-host mode,
 * issue 17), read from their leases (GET the Leases of kube-node-lease and
 * kube-system/strata-leader) and shown by ctl_hosts.c. A stratad with its
 * private database holds no lease: there are no hosts to show then. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/yaml_out.h"

#define LEASES  "/apis/coordination.k8s.io/v1/namespaces/"
#define HOST_NS "kube-node-lease"
#define LEADER  "kube-system/leases/strata-leader"
#define NO_HOSTS                                                                                   \
    "No hosts found: stratad holds host leases only as one of several hosts on a shared "          \
    "database (stratad --db DSN --host-name NAME)"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The host leases and the leader's (NULL when there is none). */
static int fetch(struct stctl *ctl, json_t **hosts, json_t **leader, st_error *err)
{
    stctl_client *cl = stctl_connect(ctl, err);
    if (cl == NULL)
        return -err->code;
    _cleanup_json_ json_t *list = NULL;
    int r = stctl_call(cl, "GET", LEASES HOST_NS "/leases", NULL, &list, err);
    if (r < 0)
        return r;
    json_t *items = json_object_get(list, "items");
    if (!json_is_array(items))
        return st_error_set(err, EPROTO, "stratad answered GET %s without \"items\"",
                            LEASES HOST_NS "/leases");
    st_error leader_err = {0};
    r = stctl_call(cl, "GET", LEASES LEADER, NULL, leader, &leader_err);
    if (r < 0 && r != -ENOENT) {
        *err = leader_err;
        return r;
    }
    if (r < 0)
        *leader = NULL;
    *hosts = json_incref(items);
    return 0;
}

int stctl_get_hosts(struct stctl *ctl, enum stctl_output out, bool no_headers, st_error *err)
{
    _cleanup_json_ json_t *leases = NULL, *leader = NULL;
    int r = fetch(ctl, &leases, &leader, err);
    if (r < 0)
        return r;
    long long now = now_ms();
    _cleanup_json_ json_t *hosts = stctl_fmt_hosts(leases, leader, now);
    if (hosts == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (out == STCTL_OUT_JSON || out == STCTL_OUT_YAML) {
        _cleanup_json_ json_t *list =
            json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", hosts);
        if (list == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        if (out == STCTL_OUT_YAML)
            return st_yaml_write(stdout, list, false, err);
        if (json_dumpf(list, stdout, JSON_INDENT(4)) < 0)
            return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
        putchar('\n');
        return 0;
    }
    if (json_array_size(hosts) == 0) {
        fprintf(stderr, "%s\n", NO_HOSTS);
        return 0;
    }
    if (out == STCTL_OUT_NAME) {
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h)
            printf("host/%s\n", json_string_value(json_object_get(h, "host")));
        return 0;
    }
    stctl_fmt_table *t = NULL;
    r = stctl_fmt_hosts_table(hosts, out == STCTL_OUT_WIDE, no_headers, now, &t, err);
    if (r == 0)
        r = stctl_fmt_table_write(stdout, t, err);
    stctl_fmt_table_free(t);
    return r;
}
