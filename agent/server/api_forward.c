/* api_forward.c: POST .../pods/NAME/portforward and
 * .../services/NAME/portforward ?ports=LOCAL:REMOTE — `stratactl
 * port-forward`. stratad listens on 127.0.0.1:LOCAL (0: a free port) for as
 * long as the request stays open, and sends every connection to the pod's
 * REMOTE port through the relay (proxy.c). For a Service, as kubectl does,
 * one ready pod behind it is chosen once and REMOTE is the Service's port. */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "8080:80", ":80" or "80" (local = remote, as kubectl). remote may be a
 * port name. */
static int parse_ports(const char *spec, long *local, char *remote, size_t rlen, st_error *err)
{
    if (spec == NULL || *spec == '\0')
        return st_error_set(err, EINVAL, "give ports=LOCAL:REMOTE (for example 8080:80)");
    const char *colon = strchr(spec, ':');
    const char *r = colon ? colon + 1 : spec;
    if (*r == '\0' || strlen(r) >= rlen)
        return st_error_set(err, EINVAL, "ports=%s: the remote port is missing", spec);
    snprintf(remote, rlen, "%s", r);
    char *end = NULL;
    if (colon == NULL) {
        *local = strtol(r, &end, 10);
        if (*end != '\0')
            return st_error_set(
                err, EINVAL, "ports=%s: a named remote port needs a local one (LOCAL:NAME)", spec);
    } else if (colon == spec) {
        *local = 0;
    } else {
        *local = strtol(spec, &end, 10);
        if (end != colon)
            return st_error_set(err, EINVAL, "ports=%s: the local port is not a number", spec);
    }
    if (*local < 0 || *local > 65535)
        return st_error_set(err, EINVAL, "ports=%s: the local port must be 0 to 65535", spec);
    return 0;
}

/* REMOTE as a number, or the containerPort of that name in the pod. */
static long pod_port(json_t *pod, const char *remote)
{
    char *end = NULL;
    long n = strtol(remote, &end, 10);
    if (*end == '\0')
        return n > 0 && n <= 65535 ? n : -1;
    size_t i, j;
    json_t *c, *p;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
        json_array_foreach(
            json_object_get(c, "ports"), j,
            p) if (strcmp(st_json_str_at(p, "name") ?: "", remote) ==
                   0) return (long)json_integer_value(json_object_get(p, "containerPort"));
    return -1;
}

/* The pod behind a Service's port REMOTE (a port number or name of the
 * Service): the first ready address of its Endpoints, and the pod port it
 * maps to. */
static int service_pod(struct st_server *d, const char *ns, const char *name, const char *remote,
                       json_t **pod, long *port, st_error *err)
{
    _cleanup_json_ json_t *svc = NULL, *eps = NULL;
    int r = st_store_get(d->store, "Service", ns, name, &svc, err);
    if (r < 0)
        return r;
    json_t *sport = NULL, *p;
    size_t i, j;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, p)
    {
        char num[16];
        snprintf(num, sizeof(num), "%lld",
                 (long long)json_integer_value(json_object_get(p, "port")));
        if (strcmp(num, remote) == 0 || strcmp(st_json_str_at(p, "name") ?: "", remote) == 0)
            sport = p;
    }
    if (sport == NULL)
        return st_error_set(err, EINVAL, "Service %s/%s has no port %s", ns, name, remote);
    st_error_clear(err);
    if (st_store_get(d->store, "Endpoints", ns, name, &eps, NULL) < 0)
        eps = json_object();
    const char *pname = st_json_str_at(sport, "name") ?: "";
    json_t *subset, *a;
    json_array_foreach(json_object_get(eps, "subsets"), i, subset)
    {
        json_t *ep = NULL;
        json_array_foreach(json_object_get(subset, "ports"), j,
                           p) if (strcmp(st_json_str_at(p, "name") ?: "", pname) == 0 ||
                                  json_array_size(json_object_get(subset, "ports")) == 1) ep = p;
        json_t *addrs = json_object_get(subset, "addresses");
        if (ep == NULL || json_array_size(addrs) == 0)
            continue;
        json_array_foreach(addrs, j, a)
        {
            const char *pod_name = st_json_str_at(json_object_get(a, "targetRef"), "name");
            if (pod_name && st_store_get(d->store, "Pod", ns, pod_name, pod, NULL) == 0) {
                *port = (long)json_integer_value(json_object_get(ep, "port"));
                return 0;
            }
        }
    }
    return st_error_set(err, EBUSY,
                        "Service %s/%s has no ready pod to forward to (stratactl describe service "
                        "%s)",
                        ns, name, name);
}

int st_server_api_forward(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name)
{
    st_error err = {0};
    long local = 0, port = -1;
    char remote[64];
    int r = parse_ports(st_server_api_arg(c, "ports"), &local, remote, sizeof(remote), &err);
    const char *address = st_server_api_arg(c, "address");
    if (r == 0 && address && strcmp(address, "127.0.0.1") != 0 && strcmp(address, "localhost"))
        r = st_error_set(&err, EINVAL,
                         "address %s: stratad forwards on 127.0.0.1 only (this host sends "
                         "packets to loopback only)",
                         address);
    _cleanup_json_ json_t *pod = NULL;
    if (r == 0 && strcmp(kind, "Service") == 0)
        r = service_pod(c->d, ns, name, remote, &pod, &port, &err);
    else if (r == 0 && (r = st_store_get(c->d->store, "Pod", ns, name, &pod, &err)) == 0 &&
             (port = pod_port(pod, remote)) < 0)
        r = st_error_set(&err, EINVAL, "pod %s/%s declares no port named %s", ns, name, remote);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    json_t *status = json_object_get(pod, "status");
    const char *ip = st_json_str_at(status, "podIP");
    const char *node = st_json_str_at(json_object_get(pod, "spec"), "nodeName");
    if (ip == NULL || node == NULL || strcmp(st_json_str_at(status, "phase") ?: "", "Running") != 0)
        return st_server_api_reply_status(
            c, 409, "pod %s/%s is not running with an IP yet (phase %s): wait for it to run", ns,
            st_json_str_at(json_object_get(pod, "metadata"), "name"),
            st_json_str_at(status, "phase") ?: "Pending");
    char listen[32], backend[64], key[64], first[160];
    snprintf(listen, sizeof(listen), "127.0.0.1:%ld", local);
    snprintf(backend, sizeof(backend), "%s:%ld", ip, port);
    int got = 0;
    r = st_server_proxy_forward(c->d, listen, backend, node, key, sizeof(key), &got, &err);
    if (r == -EADDRINUSE)
        return st_server_api_reply_status(c, 409, "unable to listen on port %ld: %s", local,
                                          err.msg);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
    snprintf(first, sizeof(first), "Forwarding from 127.0.0.1:%d -> %s\n", got, remote);
    struct st_server_stream *s = st_server_stream_forward(c->d, key, pod, first);
    if (s == NULL) {
        st_server_proxy_unforward(c->d, key);
        return -ENOMEM;
    }
    return st_server_api_reply_stream(c, s, "text/plain");
}
