/* config.c: where strata-node's settings come from when the command line
 * leaves them out: the kernel cmdline the host wrote into the domain
 * (strata.node=, strata.heartbeat_ms=, the pod network's strata.podcidr=
 * and strata.svccidr=, the self-fence's strata.host_grace_ms=), then the hostname and defaults (the
 * image store and state dir where the node image puts them). */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Value of key= in a kernel cmdline (space separated, no quoting needed for
 * our keys), malloc'd, or NULL when absent. The last occurrence wins, as for
 * the kernel's own parameters. */
static char *cmdline_value(const char *cmdline, const char *key)
{
    size_t klen = strlen(key);
    char *found = NULL;
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t' && *end != '\n')
            end++;
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            free(found);
            found = strndup(p + klen + 1, (size_t)(end - p) - klen - 1);
        }
        p = end;
    }
    return found;
}

int st_node_cidr_parse(const char *s, struct st_node_cidr *c, st_error *err)
{
    const char *slash = strchr(s, '/');
    char ip[INET_ADDRSTRLEN];
    size_t n = slash ? (size_t)(slash - s) : 0;
    char *end = NULL;
    long prefix = slash ? strtol(slash + 1, &end, 10) : -1;
    if (slash == NULL || n == 0 || n >= sizeof(ip) || slash[1] < '0' || slash[1] > '9' ||
        *end != '\0' || prefix < 8 || prefix > 30)
        return st_error_set(err, EINVAL, "\"%s\" is not an IPv4 CIDR like 10.244.1.0/24", s);
    memcpy(ip, s, n);
    ip[n] = '\0';
    uint32_t addr;
    if (!st_proto_ipv4_parse(ip, &addr, NULL))
        return st_error_set(err, EINVAL, "\"%s\" is not an IPv4 CIDR like 10.244.1.0/24", s);
    uint32_t mask = ~0U << (32 - prefix);
    if (addr & ~mask)
        return st_error_set(err, EINVAL,
                            "\"%s\" has host bits set: write the network address (prefix /%ld)", s,
                            prefix);
    c->addr = addr;
    c->prefix = (int)prefix;
    return 0;
}

bool st_node_cidr_contains(const struct st_node_cidr *c, uint32_t addr)
{
    uint32_t mask = ~0U << (32 - c->prefix);
    return (addr & mask) == c->addr;
}

/* strata.podcidr= turns the pod network on (a /24: the bridge takes .1,
 * pods .2-.254); strata.svccidr= defaults to Kubernetes' 10.96.0.0/16.
 * Without podcidr (a host test, an older stratad) pods keep a lone
 * loopback. */
static int podnet_config(struct st_node_config *cfg, const char *cmdline, st_error *err)
{
    _cleanup_free_ char *pod = cmdline_value(cmdline, ST_PROTO_CMDLINE_PODCIDR);
    _cleanup_free_ char *svc = cmdline_value(cmdline, ST_PROTO_CMDLINE_SVCCIDR);
    if (pod == NULL)
        return 0;
    int r = st_node_cidr_parse(pod, &cfg->pod_cidr, err);
    if (r == 0 && cfg->pod_cidr.prefix != 24)
        r = st_error_set(err, EINVAL, "the pod CIDR must be a /24");
    if (r < 0) {
        st_error_prefix(err, "kernel cmdline %s=%s: ", ST_PROTO_CMDLINE_PODCIDR, pod);
        return r;
    }
    r = st_node_cidr_parse(svc ? svc : ST_NODE_SVC_CIDR_DEFAULT, &cfg->svc_cidr, err);
    if (r < 0) {
        st_error_prefix(err, "kernel cmdline %s=: ", ST_PROTO_CMDLINE_SVCCIDR);
        return r;
    }
    cfg->podnet = true;
    return 0;
}

int st_node_config_resolve(struct st_node_config *cfg, st_error *err)
{
    _cleanup_free_ char *cmdline = NULL;
    const char *path = cfg->cmdline ? cfg->cmdline : "/proc/cmdline";
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f) {
        size_t cap = 0;
        if (getline(&cmdline, &cap, f) < 0) {
            free(cmdline);
            cmdline = NULL;
        }
    }
    if (cmdline == NULL)
        cmdline = strdup("");
    if (cmdline == NULL)
        return st_error_set(err, ENOMEM, "out of memory");

    if (cfg->name == NULL) {
        cfg->name = cmdline_value(cmdline, "strata.node");
        if (cfg->name && !name_valid(cfg->name))
            return st_error_set(err, EINVAL,
                                "kernel cmdline strata.node=%s is not a valid node name (1-63 "
                                "of A-Z a-z 0-9 . _ -); fix the domain's <cmdline>",
                                cfg->name);
    }
    if (cfg->name == NULL) {
        char host[HOST_NAME_MAX + 1] = "";
        if (gethostname(host, sizeof(host)) == 0 && name_valid(host))
            cfg->name = strdup(host);
        if (cfg->name == NULL)
            return st_error_set(err, EINVAL,
                                "no node name: pass --name NAME or strata.node=NAME on the "
                                "kernel cmdline (hostname \"%s\" is not usable)",
                                host);
    } else if (!name_valid(cfg->name)) {
        return st_error_set(err, EINVAL,
                            "--name %s is not a valid node name (1-63 of A-Z a-z 0-9 . _ -)",
                            cfg->name);
    }

    if (cfg->heartbeat_ms <= 0) {
        _cleanup_free_ char *hb = cmdline_value(cmdline, "strata.heartbeat_ms");
        if (hb) {
            char *end = NULL;
            long v = strtol(hb, &end, 10);
            if (*hb == '\0' || *end != '\0' || v < 10 || v > 3600000)
                return st_error_set(err, EINVAL,
                                    "kernel cmdline strata.heartbeat_ms=%s must be a number of "
                                    "milliseconds between 10 and 3600000",
                                    hb);
            cfg->heartbeat_ms = (int)v;
        }
    }
    if (cfg->heartbeat_ms <= 0)
        cfg->heartbeat_ms = ST_NODE_HEARTBEAT_MS_DEFAULT;
    if (!cfg->host_grace_set) {
        _cleanup_free_ char *g = cmdline_value(cmdline, ST_PROTO_CMDLINE_HOST_GRACE);
        if (g) {
            char *end = NULL;
            long long v = strtoll(g, &end, 10);
            if (*g == '\0' || *end != '\0' || v < 0 || v > ST_PROTO_HOST_GRACE_MAX_MS)
                return st_error_set(err, EINVAL,
                                    "kernel cmdline %s=%s must be a number of milliseconds "
                                    "between 0 (off) and %d",
                                    ST_PROTO_CMDLINE_HOST_GRACE, g, ST_PROTO_HOST_GRACE_MAX_MS);
            cfg->host_grace_ms = v;
        }
    }
    int r = podnet_config(cfg, cmdline, err);
    if (r < 0)
        return r;
    if (cfg->port_name == NULL && (cfg->port_name = strdup(ST_PROTO_PORT_NAME)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (cfg->images_dir == NULL && (cfg->images_dir = strdup(ST_NODE_IMAGES_DIR_DEFAULT)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (cfg->state_dir == NULL && (cfg->state_dir = strdup(ST_NODE_STATE_DIR_DEFAULT)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

void st_node_config_free(struct st_node_config *cfg)
{
    free(cfg->name);
    free(cfg->listen_path);
    free(cfg->port_name);
    free(cfg->images_dir);
    free(cfg->state_dir);
    free(cfg->cmdline_owned);
    cfg->cmdline_owned = NULL;
    cfg->name = cfg->listen_path = cfg->port_name = cfg->images_dir = cfg->state_dir = NULL;
}
