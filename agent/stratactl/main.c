/* main.c: stratactl, the kubectl-like CLI of Strata. main only reads the
 * global flags (--socket, -n), dispatches to one file per verb, and owns the
 * exit codes: 0 done, 1 an error (one "error: ..." line), 2 a usage mistake. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* ---- failing -------------------------------------------------------------- */

int stctl_fail(const st_error *err)
{
    /* An empty message: the failure was already shown (manifest diagnostics). */
    if (err->msg[0])
        fprintf(stderr, "error: %s\n", err->msg);
    else if (err->code == 0)
        fprintf(stderr, "error: failed\n");
    return STCTL_EXIT_FAIL;
}

int stctl_failf(const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "error: %s\n", msg);
    return STCTL_EXIT_FAIL;
}

int stctl_usage(const char *usage, const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "error: %s; usage: stratactl %s\n", msg, usage);
    return STCTL_EXIT_USAGE;
}

/* ---- dispatch ------------------------------------------------------------- */

static int verb_version(struct stctl *ctl, int argc, char **argv);
/* The kubeconfig stratad wrote: `stratactl kubeconfig > ~/.kube/config`. */
static int verb_kubeconfig(struct stctl *ctl, int argc, char **argv)
{
    if (argc > 1)
        return stctl_usage("kubeconfig", "kubeconfig takes no arguments, got \"%s\"", argv[1]);
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL || stctl_stream(cl, "GET", "/kubeconfig", stctl_copy_stdout, NULL, &err) < 0)
        return stctl_fail(&err);
    return 0;
}

static int verb_help(struct stctl *ctl, int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(struct stctl *, int, char **);
    const char *usage;
    const char *what;
} verbs[] = {
    {"apply", stctl_verb_apply, STCTL_USAGE_APPLY, "create or update the objects of a manifest"},
    {"get", stctl_verb_get, STCTL_USAGE_GET, "list objects, or show one"},
    {"get", stctl_verb_get, STCTL_USAGE_GET_HOSTS,
     "the hosts sharing stratad's database (--db), from their leases"},
    {"describe", stctl_verb_describe, STCTL_USAGE_DESCRIBE, "an object in detail, with its events"},
    {"delete", stctl_verb_delete, STCTL_USAGE_DELETE, "delete objects"},
    {"scale", stctl_verb_scale, STCTL_USAGE_SCALE, "set a deployment's replicas"},
    {"rollout", stctl_verb_rollout, STCTL_USAGE_ROLLOUT,
     "restart: replace every pod (rolling); status: wait for the rollout"},
    {"events", stctl_verb_events, STCTL_USAGE_EVENTS, "what happened, oldest first"},
    {"logs", stctl_verb_logs, STCTL_USAGE_LOGS, "a pod's container log (-f follows it)"},
    {"port-forward", stctl_verb_port_forward, STCTL_USAGE_PORT_FORWARD,
     "forward 127.0.0.1:LOCAL to a pod's port until Ctrl-C"},
    {"node", stctl_verb_node, STCTL_USAGE_NODE_ADD, "provision a VM node and wait until Ready"},
    {"node", stctl_verb_node, "node list", "the VM nodes (as `get nodes`)"},
    {"node", stctl_verb_node, "node kill NAME", "destroy a node's VM at once (node loss)"},
    {"node", stctl_verb_node, "node rm NAME", "shut a node down and forget it"},
    {"image", stctl_verb_image, "image import NAME[:TAG] PATH",
     "import an OCI layout, oci/docker archive or rootfs"},
    {"image", stctl_verb_image, "image list", "the images in the store"},
    {"image", stctl_verb_image, "image rm NAME[:TAG]", "remove an image no pod uses"},
    {"image", stctl_verb_image, "image pull REF", "pull an image from a registry"},
    {"bench", stctl_verb_bench, STCTL_USAGE_BENCH,
     "time VM node and container start-up (runs bench_startup)"},
    {"dashboard", stctl_verb_dashboard, STCTL_USAGE_DASHBOARD,
     "a one-time login link to the live page of host, nodes and pods"},
    {"kubeconfig", verb_kubeconfig, "kubeconfig",
     "the kubeconfig for kubectl (stratad's HTTPS API and its token)"},
    {"version", verb_version, "version", "stratactl's version"},
    {"help", verb_help, "help", "this text"},
};

static void usage(FILE *f)
{
    fprintf(f, "stratactl: control a Strata host agent (stratad) over its unix socket.\n\n"
               "usage: stratactl [--socket PATH] [-n NAMESPACE] COMMAND ...\n\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        /* A long usage gets its description on the next line. */
        if (strlen(verbs[i].usage) > 40)
            fprintf(f, "  %s\n  %-40s   %s\n", verbs[i].usage, "", verbs[i].what);
        else
            fprintf(f, "  %-40s   %s\n", verbs[i].usage, verbs[i].what);
    }
    fprintf(f,
            "\nKinds: nodes (no), pods (po), deployments (deploy), secrets, services (svc),\n"
            "endpoints (ep), namespaces (ns), leases (read-only); KIND NAME or KIND/NAME;\n"
            "get also takes several (pods,deployments) or all (pods, services,\n"
            "deployments).\n"
            "Every command takes --socket PATH (default $STRATA_SOCKET, else %s)\n"
            "and -n NAMESPACE (default \"default\"). Exit status: 0 done, 1 error, 2 usage.\n",
            STCTL_DEFAULT_SOCKET);
}

static int verb_version(struct stctl *ctl, int argc, char **argv)
{
    (void)ctl;
    if (argc > 1)
        return stctl_usage("version", "version takes no arguments, got \"%s\"", argv[1]);
    printf("stratactl %s\n", STCTL_VERSION);
    return 0;
}

static int verb_help(struct stctl *ctl, int argc, char **argv)
{
    (void)ctl;
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("STRATA_SOCKET");
    struct stctl ctl = {
        .socket = env && *env ? env : STCTL_DEFAULT_SOCKET,
        .ns = "default",
    };
    static const struct option opts[] = {
        {"socket", required_argument, NULL, STCTL_OPT_SOCKET},
        {"namespace", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    /* '+': stop at the verb; the verb parses the rest. */
    while ((c = getopt_long(argc, argv, "+:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case 'v':
            return verb_version(&ctl, 1, argv);
        default: {
            int r = stctl_common_option(&ctl, c, argv, "[--socket PATH] [-n NS] COMMAND ...");
            if (r >= 0)
                return r;
        }
        }
    }
    if (optind >= argc)
        return stctl_usage("[--socket PATH] [-n NS] COMMAND ...",
                           "no command given (see stratactl help)");
    const char *verb = argv[optind];
    int r = -1;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && r < 0; i++) {
        if (strcmp(verbs[i].name, verb) == 0) {
            int vargc = argc - optind;
            char **vargv = argv + optind;
            optind = 0; /* the verb parses its own flags from scratch */
            r = verbs[i].fn(&ctl, vargc, vargv);
        }
    }
    if (r < 0)
        r = stctl_usage("[--socket PATH] [-n NS] COMMAND ...",
                        "unknown command \"%s\" (see stratactl help)", verb);
    stctl_client_free(ctl.client);
    fflush(stdout);
    return r;
}
