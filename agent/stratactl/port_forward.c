/* port_forward.c: `stratactl port-forward pod/NAME|svc/NAME [LOCAL:]REMOTE`,
 * as kubectl has it: stratad listens on 127.0.0.1:LOCAL for as long as this
 * command runs and sends each connection to the pod's REMOTE port (for a
 * Service, one ready pod behind it, and REMOTE is the Service's port).
 * LOCAL empty (":80") picks a free port; the line stratad answers says
 * which. Ends on Ctrl-C or when the pod goes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

static int copy_lines(const char *data, size_t len, void *arg, st_error *err)
{
    (void)arg;
    /* stratad's keep-alives are blank lines: not for the person */
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && (i == 0 || data[i - 1] == '\n'))
            continue;
        if (fputc(data[i], stdout) == EOF)
            return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
    }
    fflush(stdout);
    return 0;
}

int stctl_verb_port_forward(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"address", required_argument, NULL, 'a'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *address = NULL;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        if (c == 'a') {
            address = optarg;
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_PORT_FORWARD);
        if (r >= 0)
            return r;
    }
    if (argc - optind != 2)
        return stctl_usage(STCTL_USAGE_PORT_FORWARD,
                           "name one pod or service and one port pair (LOCAL:REMOTE)");
    const char *target = argv[optind], *ports = argv[optind + 1];
    const char *slash = strchr(target, '/');
    const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup("pods");
    const char *name = target;
    if (slash) {
        char kind[32];
        snprintf(kind, sizeof(kind), "%.*s", (int)(slash - target), target);
        k = stctl_fmt_kind_lookup(kind);
        name = slash + 1;
    }
    if (k == NULL || *name == '\0' ||
        (strcmp(k->kind, "Pod") != 0 && strcmp(k->kind, "Service") != 0))
        return stctl_usage(STCTL_USAGE_PORT_FORWARD, "\"%s\" is not POD, pod/POD or svc/SERVICE",
                           target);
    if (strchr(ports, '&') || strchr(ports, '?') || strchr(ports, '#') || strchr(ports, '%'))
        return stctl_usage(STCTL_USAGE_PORT_FORWARD, "\"%s\" is not a port pair", ports);
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    _cleanup_free_ char *suffix = NULL, *path = NULL;
    if (asprintf(&suffix, "/portforward?ports=%s%s%s", ports, address ? "&address=" : "",
                 address ? address : "") < 0)
        return stctl_failf("out of memory");
    if (stctl_path(cl, k, ctl->ns, name, suffix, &path, &err) < 0 ||
        stctl_stream(cl, "POST", path, copy_lines, NULL, &err) < 0)
        return stctl_fail(&err);
    return 0;
}
