/* main.c: strata-run, an OCI runtime CLI in the style of runc. main only
 * parses the global flags and dispatches to one file per verb; all the work
 * is in the runtime library (strata/container.h). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strata/container.h"
#include "strata/features.h"
#include "strata/oci_config.h"
#include "strata/time.h"
#include "verbs.h"

static void log_line(const struct st_run_globals *g, const char *level, const char *msg)
{
    if (strcmp(level, "error") == 0)
        fprintf(stderr, "strata-run: %s\n", msg);
    else
        fprintf(stderr, "strata-run: %s: %s\n", level, msg);
    if (g->log == NULL)
        return;
    FILE *f = fopen(g->log, "ae");
    if (f == NULL)
        return;
    char ts[ST_TIME_RFC3339_LEN];
    fprintf(f, "%s %s strata-run: %s\n", st_time_now_rfc3339(ts), level, msg);
    fclose(f);
}

void st_run_warn(void *globals, const char *msg)
{
    log_line(globals, "warning", msg);
}

int st_run_fail(const struct st_run_globals *g, const st_error *err)
{
    log_line(g, "error", err->msg[0] ? err->msg : "failed");
    return 1;
}

int st_run_failf(const struct st_run_globals *g, const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_line(g, "error", msg);
    return 1;
}

static const struct {
    const char *name;
    int (*fn)(const struct st_run_globals *, int, char **);
    const char *usage;
} verbs[] = {
    {"spec", st_run_verb_spec, "spec [--bundle DIR]"},
    {"create", st_run_verb_create, "create [--bundle DIR] [--pid-file FILE] ID"},
    {"start", st_run_verb_start, "start ID"},
    {"state", st_run_verb_state, "state ID"},
    {"kill", st_run_verb_kill, "kill [--all] ID [SIGNAL]"},
    {"delete", st_run_verb_delete, "delete [--force] ID"},
    {"run", st_run_verb_run, "run [--bundle DIR] [--detach] [--pid-file FILE] ID"},
    {"exec", st_run_verb_exec, "exec [--env K=V]... [--cwd DIR] ID [--] CMD [ARG...]"},
    {"list", st_run_verb_list, "list [--quiet]"},
    {"features", st_run_verb_features, "features"},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: strata-run [--root DIR] [--log FILE] [--log-format text|json] VERB ...\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(f, "  strata-run %s\n", verbs[i].usage);
    return f == stdout ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct st_run_globals g = {.root = ST_CONTAINER_DEFAULT_ROOT, .log = NULL};
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'd'},
        {"systemd-cgroup", no_argument, NULL, 's'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            g.root = optarg;
            break;
        case 'l':
            g.log = optarg;
            break;
        case 'f':
        case 'd':
        case 's':
            break; /* accepted for runc compatibility */
        case 'v':
            printf("strata-run version %s\nspec: %s\n", ST_RUNTIME_VERSION, ST_OCI_VERSION_MAX);
            return 0;
        case 'h':
            return usage(stdout);
        default:
            return st_run_failf(&g, "unknown global option %s: see strata-run --help",
                                argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 1;
    }
    const char *verb = argv[optind];
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(verbs[i].name, verb) == 0) {
            int vargc = argc - optind;
            char **vargv = argv + optind;
            optind = 0; /* the verb parses its own flags from scratch */
            return verbs[i].fn(&g, vargc, vargv);
        }
    }
    return st_run_failf(&g, "unknown command \"%s\": see strata-run --help", verb);
}
