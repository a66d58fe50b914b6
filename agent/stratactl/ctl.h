/* ctl.h: what every stratactl verb shares: the global settings, the one way
 * to fail (a single "error: ..." line on stderr; exit 1, or 2 for a usage
 * mistake), the flags every verb takes, and KIND NAME arguments. Verbs parse
 * their flags, call stratad through client.h and print with ctl_format.h. */
#ifndef STRATACTL_CTL_H
#define STRATACTL_CTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "strata/cleanup.h"
#include "ctl_format.h"
#include "strata/error.h"

#define STCTL_EXIT_FAIL  1
#define STCTL_EXIT_USAGE 2

#define STCTL_DEFAULT_SOCKET "/run/strata/strata.sock"

struct stctl {
    const char *socket; /* --socket, $STRATA_SOCKET, or the default */
    const char *ns;     /* -n, or "default" */
    bool ns_given;      /* -n was on the command line */
    stctl_client *client;
};

/* ---- failing ------------------------------------------------------------ */

/* "error: MESSAGE" on stderr; returns STCTL_EXIT_FAIL. */
int stctl_fail(const st_error *err);
int stctl_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "error: MESSAGE; usage: stratactl USAGE" on stderr; returns STCTL_EXIT_USAGE. */
int stctl_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- flags every verb takes --------------------------------------------- */

#define STCTL_OPT_SOCKET 0x100
#define STCTL_COMMON_LONGOPTS                                                                      \
    {"socket", required_argument, NULL, STCTL_OPT_SOCKET},                                         \
        {"namespace", required_argument, NULL, 'n'},                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }
/* getopt short options: ':' first, so a missing value is told apart. */
#define STCTL_COMMON_SHORTOPTS ":n:h"

/* For a getopt result the verb does not handle itself: --socket and -n are
 * taken (returns -1: go on); --help prints the verb's usage (returns 0);
 * anything else is a usage error (returns 2). */
int stctl_common_option(struct stctl *ctl, int c, char **argv, const char *usage);

/* ---- arguments ---------------------------------------------------------- */

struct stctl_target {
    const struct stctl_fmt_kind *kind;
    const char *name; /* NULL: the whole collection */
};

/* Positional arguments as "KIND [NAME...]" or "KIND/NAME...": one target a
 * name, or one without a name for a bare KIND. argv's "KIND/NAME" strings
 * are split in place. -EINVAL with a message for an unknown kind. */
int stctl_targets(int argc, char **argv, struct stctl_target **out, size_t *n, st_error *err);

/* The connected client, opened on first use with ctl->socket. */
stctl_client *stctl_connect(struct stctl *ctl, st_error *err);

/* The namespace for an object read from a manifest: its own, except that
 * -n replaces the "default" the manifest reader fills in. */
const char *stctl_object_ns(struct stctl *ctl, json_t *obj);

/* ---- input -------------------------------------------------------------- */

/* Reads a manifest file ("-" is stdin) into a JSON array of objects. Prints
 * warnings on stderr; on invalid input prints each FILE:LINE:COL error line
 * and returns -EINVAL with err->code set but nothing more to print
 * (err->msg empty); other failures (no such file) fill err. */
int stctl_read_manifest(const char *path, json_t **objects, st_error *err);

/* ---- output shared by verbs --------------------------------------------- */

enum stctl_output {
    STCTL_OUT_TABLE,
    STCTL_OUT_WIDE,
    STCTL_OUT_JSON,
    STCTL_OUT_YAML,
    STCTL_OUT_NAME
};

/* Parses -o's value; false for an unknown one. */
bool stctl_output_parse(const char *text, enum stctl_output *out);

/* GET kind's collection (name NULL) or one object and prints it as out says;
 * with watch, then follows the watch stream, a row (or object) an event. */
int stctl_show(struct stctl *ctl, const struct stctl_fmt_kind *k, const char *name,
               enum stctl_output out, bool watch, st_error *err);

/* What a listing selects and how its rows look (get's flags). */
struct stctl_listing {
    bool all_ns;                   /* -A: every namespace */
    const char *selector;          /* -l, checked; NULL: every object */
    struct stctl_fmt_columns cols; /* -A's NAMESPACE, --show-labels, kind/name */
    bool no_headers;               /* --no-headers */
};

/* The API path of kind's collection (name NULL) or object in ctl's
 * namespace, or every namespace (listing->all_ns), with ?labelSelector=
 * and then extra (may be NULL; "watch=1") as the query. listing may be
 * NULL. */
int stctl_list_path(struct stctl *ctl, const struct stctl_fmt_kind *k,
                    const struct stctl_listing *listing, const char *name, const char *extra,
                    char **out, st_error *err);

/* Follows kind's watch stream after what was already printed: shown is
 * that List, or single object (NULL: nothing). Each event goes through
 * filter (may be NULL), then is printed; table (may be NULL) is the one the
 * listing was printed with, so rows stay aligned; listing (may be NULL)
 * says which objects and which columns. */
typedef bool (*stctl_watch_filter)(json_t *obj, void *arg);
int stctl_watch_print(struct stctl *ctl, const struct stctl_fmt_kind *k,
                      const struct stctl_listing *listing, json_t *shown, stctl_fmt_table *table,
                      enum stctl_output out, stctl_watch_filter filter, void *filter_arg,
                      st_error *err);

/* ---- verbs: each takes argv from the verb's name on, returns the exit code */

int stctl_verb_apply(struct stctl *ctl, int argc, char **argv);
int stctl_verb_get(struct stctl *ctl, int argc, char **argv);
int stctl_verb_describe(struct stctl *ctl, int argc, char **argv);
int stctl_verb_delete(struct stctl *ctl, int argc, char **argv);
int stctl_verb_scale(struct stctl *ctl, int argc, char **argv);
int stctl_verb_rollout(struct stctl *ctl, int argc, char **argv);
int stctl_verb_events(struct stctl *ctl, int argc, char **argv);
int stctl_verb_logs(struct stctl *ctl, int argc, char **argv);
int stctl_verb_port_forward(struct stctl *ctl, int argc, char **argv);
int stctl_verb_node(struct stctl *ctl, int argc, char **argv);
int stctl_verb_image(struct stctl *ctl, int argc, char **argv);
/* `bench startup`: runs the program bench_startup from stratactl's folder
 * (it works on this host directly: libvirt, runtimes; not through stratad). */
int stctl_verb_bench(struct stctl *ctl, int argc, char **argv);
/* `dashboard`: a one-time login link to stratad's page (dashboard.c). */
int stctl_verb_dashboard(struct stctl *ctl, int argc, char **argv);

/* `get hosts` (hosts.c): the hosts sharing stratad's database, from their
 * leases, as out says (table, wide, json, yaml or name). */
int stctl_get_hosts(struct stctl *ctl, enum stctl_output out, bool no_headers, st_error *err);

/* `node add`, its own file because it waits and reports progress. */
int stctl_node_add(struct stctl *ctl, int argc, char **argv);

#define STCTL_USAGE_APPLY "apply -f FILE|-"
#define STCTL_USAGE_GET                                                                            \
    "get KIND[,KIND...]|all [NAME...] [-o wide|json|yaml|name] [-l SELECTOR] [-A] "                \
    "[--no-headers] [--show-labels] [-w] [-n NS]"
#define STCTL_USAGE_GET_HOSTS "get hosts [-o wide|json|yaml|name] [--no-headers]"
#define STCTL_USAGE_DESCRIBE  "describe KIND [NAME] [-n NS]"
#define STCTL_USAGE_DELETE                                                                         \
    "delete KIND NAME... | delete -f FILE|- [--cascade=background|foreground|orphan] "             \
    "[--grace-period S] [--force] [--ignore-not-found] [-n NS]"
#define STCTL_USAGE_ROLLOUT "rollout restart|status deployment NAME [--timeout 5m] [-n NS]"
#define STCTL_USAGE_SCALE   "scale deployment NAME --replicas N [-n NS]"
#define STCTL_USAGE_EVENTS  "events [-A] [--for KIND/NAME] [-w] [-n NS]"
#define STCTL_USAGE_LOGS    "logs POD [-f] [-n NS]"
#define STCTL_USAGE_PORT_FORWARD                                                                   \
    "port-forward pod/NAME|svc/NAME [LOCAL]:REMOTE [--address 127.0.0.1] [-n NS]"
#define STCTL_USAGE_NODE_ADD                                                                       \
    "node add NAME [--cpus N] [--memory MIB] [--accel auto|kvm|tcg] [--timeout S] "                \
    "[--from-template]"
#define STCTL_USAGE_NODE "node add|list|kill|rm|template rm ..."
#define STCTL_USAGE_IMAGE                                                                          \
    "image import NAME[:TAG] PATH | image list [-o wide|json|yaml] | image rm NAME[:TAG] | image " \
    "pull REF"
#define STCTL_USAGE_BENCH     "bench startup [--runs N] [-o json] [--svg FILE]"
#define STCTL_USAGE_DASHBOARD "dashboard"

#endif
