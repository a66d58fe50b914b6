/* args.c: the arguments every verb reads the same way: --socket, -n, --help,
 * -o, and objects named "KIND NAME" or "KIND/NAME" (kubectl's two forms). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int stctl_common_option(struct stctl *ctl, int c, char **argv, const char *usage)
{
    switch (c) {
    case STCTL_OPT_SOCKET:
        ctl->socket = optarg;
        return -1;
    case 'n':
        if (optarg[0] == '\0')
            return stctl_usage(usage, "-n needs a namespace name");
        ctl->ns = optarg;
        ctl->ns_given = true;
        return -1;
    case 'h':
        printf("usage: stratactl %s\n", usage);
        return 0;
    case ':':
        if (optind > 0 && strncmp(argv[optind - 1], "--", 2) == 0)
            return stctl_usage(usage, "option %s needs a value", argv[optind - 1]);
        return stctl_usage(usage, "option -%c needs a value", optopt);
    default:
        if (optind > 0 && strncmp(argv[optind - 1], "--", 2) == 0)
            return stctl_usage(usage, "unknown option %s", argv[optind - 1]);
        return stctl_usage(usage, "unknown option -%c", optopt);
    }
}

static int unknown_kind(const char *word, st_error *err)
{
    return st_error_set(err, EINVAL,
                        "unknown resource type \"%s\": use nodes, pods, deployments, secrets, "
                        "services, endpoints, namespaces or leases",
                        word);
}

int stctl_targets(int argc, char **argv, struct stctl_target **out, size_t *n, st_error *err)
{
    *out = NULL;
    *n = 0;
    if (argc <= 0)
        return st_error_set(err, EINVAL, "name a kind of object (and its name)");
    struct stctl_target *t = calloc((size_t)argc, sizeof(*t));
    if (t == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (strchr(argv[0], '/')) {
        /* KIND/NAME KIND/NAME ... */
        for (int i = 0; i < argc; i++) {
            char *slash = strchr(argv[i], '/');
            if (slash == NULL || slash[1] == '\0' || strchr(slash + 1, '/')) {
                free(t);
                return st_error_set(err, EINVAL,
                                    "\"%s\": use KIND/NAME for every object, or KIND NAME...",
                                    argv[i]);
            }
            *slash = '\0';
            t[i].kind = stctl_fmt_kind_lookup(argv[i]);
            if (t[i].kind == NULL) {
                free(t);
                return unknown_kind(argv[i], err);
            }
            t[i].name = slash + 1;
        }
        *n = (size_t)argc;
    } else {
        /* KIND [NAME...] */
        const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(argv[0]);
        if (k == NULL) {
            free(t);
            return unknown_kind(argv[0], err);
        }
        t[0].kind = k;
        for (int i = 1; i < argc; i++) {
            if (strchr(argv[i], '/')) {
                free(t);
                return st_error_set(
                    err, EINVAL, "\"%s\": a name has no '/' (use KIND NAME or KIND/NAME)", argv[i]);
            }
            t[i - 1].kind = k;
            t[i - 1].name = argv[i];
        }
        *n = argc > 1 ? (size_t)argc - 1 : 1;
    }
    *out = t;
    return 0;
}

stctl_client *stctl_connect(struct stctl *ctl, st_error *err)
{
    if (ctl->client == NULL && stctl_client_open(ctl->socket, &ctl->client, err) < 0)
        return NULL;
    return ctl->client;
}

const char *stctl_object_ns(struct stctl *ctl, json_t *obj)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    /* The manifest reader fills in "default" when a manifest names no
     * namespace, so -n moves those objects (as kubectl's -n does). */
    if (ctl->ns_given && (ns == NULL || *ns == '\0' || strcmp(ns, "default") == 0))
        return ctl->ns;
    return ns && *ns ? ns : ctl->ns;
}

bool stctl_output_parse(const char *text, enum stctl_output *out)
{
    static const struct {
        const char *name;
        enum stctl_output out;
    } forms[] = {
        {"wide", STCTL_OUT_WIDE}, {"json", STCTL_OUT_JSON},   {"yaml", STCTL_OUT_YAML},
        {"name", STCTL_OUT_NAME}, {"table", STCTL_OUT_TABLE},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (strcmp(forms[i].name, text) == 0) {
            *out = forms[i].out;
            return true;
        }
    }
    return false;
}
