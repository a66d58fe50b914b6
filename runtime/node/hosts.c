/* hosts.c: the /etc/hosts of each pod on the pod network, so a container
 * reaches a Service by NAME, NAME.NAMESPACE or
 * NAME.NAMESPACE.svc.cluster.local as in Kubernetes, without a DNS server
 * in the guest: every Service of the host's snapshot is a hosts entry of
 * its clusterIP, and the file is rewritten whenever the snapshot changes.
 * (No /etc/resolv.conf either: with no name server in the cluster there is
 * nothing to point it at; names resolve through this file alone.)
 *
 * The file is bind-mounted on each container's /etc/hosts, so it is
 * rewritten in place (same inode): a rename would leave the containers
 * looking at the old file. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int st_node_hosts_render(const char *pod_ip, const char *hostname, const char *ns,
                         const json_t *services, char **out, st_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return st_error_sys(err, errno, "hosts file: open_memstream");
    fprintf(f, "# Kept by strata-node: this pod and the cluster's Services.\n");
    fprintf(f, "127.0.0.1\tlocalhost\n");
    if (pod_ip && hostname)
        fprintf(f, "%s\t%s\n", pod_ip, hostname);
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        struct st_proto_service s;
        st_proto_service_fields(svc, &s);
        if (s.ns == NULL || s.name == NULL || s.cluster_ip == NULL)
            continue;
        fprintf(f, "%s\t%s.%s.svc.cluster.local %s.%s", s.cluster_ip, s.name, s.ns, s.name, s.ns);
        /* the short name resolves only in the Service's own namespace, as
         * the search path of a pod's resolv.conf makes it in Kubernetes */
        if (ns && strcmp(ns, s.ns) == 0)
            fprintf(f, " %s", s.name);
        fputc('\n', f);
    }
    if (fclose(f) != 0 || text == NULL) {
        free(text);
        return st_error_set(err, ENOMEM, "hosts file: out of memory");
    }
    *out = text;
    return 0;
}

int st_node_hosts_write(const char *path, const char *text, st_error *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return st_error_sys(err, errno, "hosts file %s: cannot open it", path);
    /* readable by a container's non-root user, whatever the umask */
    if (fchmod(fd, 0644) < 0)
        return st_error_sys(err, errno, "hosts file %s: chmod", path);
    size_t n = strlen(text);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return st_error_sys(err, errno, "hosts file %s: write", path);
        off += (size_t)w;
    }
    return 0;
}
