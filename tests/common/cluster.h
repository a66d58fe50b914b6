/* cluster.h: a private Strata cluster for end-to-end tests: stratad on its
 * own state dir and PostgreSQL, stratactl to drive it, node VMs named
 * strata-<tag><pid>-*, and a teardown that removes all of it (daemon,
 * domains, PostgreSQL, files) whether the test passed or not. */
#ifndef STRATA_TEST_CLUSTER_H
#define STRATA_TEST_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct st_cluster {
    char *state_dir;
    char sock[512];
    char prefix[32]; /* node names start with it: "<tag><pid>-" */
    pid_t daemon;
    /* Extra stratad flags ("--grace-ms", "2000", NULL), NULL-terminated;
     * set between st_cluster_init and st_cluster_start. */
    const char *const *daemon_args;
    /* A network namespace (ip netns NAME) stratad runs in: a "host" of
     * tests/common/hosts_fx. NULL: this one. */
    const char *netns;
};

/* Names the cluster; nothing is started. */
void st_cluster_init(struct st_cluster *c, const char *tag);
/* Starts stratad and waits (bounded) until it answers; fails the test if not. */
void st_cluster_start(struct st_cluster *c);
/* Starts stratad only (its log: STATE/stratad.log). */
void st_cluster_spawn(struct st_cluster *c);
/* Whether stratad answers `stratactl get nodes` (c: the cluster). */
bool st_cluster_answers(void *c);
/* Sends sig to stratad and reaps it. */
void st_cluster_stop(struct st_cluster *c, int sig);
/* Stops everything the cluster started and removes its files. */
void st_cluster_teardown(struct st_cluster *c);

/* Runs `stratactl --socket SOCK ARGS` through sh; returns its exit status. */
int st_cluster_ctl(struct st_cluster *c, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes text to STATE_DIR/NAME.yaml and `stratactl apply -f`s it; fails
 * the test (with stratactl's message) when apply fails. */
void st_cluster_apply_text(struct st_cluster *c, const char *name, const char *text);
/* `stratactl get WHAT -o json`, parsed; NULL (and a message) on failure. */
json_t *st_cluster_get(struct st_cluster *c, const char *what);
/* Adds nodes PREFIX+suffix for each suffix, all at once; returns 0 when all
 * became Ready. */
int st_cluster_add_nodes(struct st_cluster *c, const char *const *suffixes, size_t n);
/* Polls (bounded by timeout_ms) until libvirt says node's domain is shut
 * off; returns whether it did. */
bool st_cluster_domain_shut_off(struct st_cluster *c, const char *node, int timeout_ms);
/* Imports the test busybox rootfs as image "busybox". */
void st_cluster_import_busybox(struct st_cluster *c);

/* A test group's setup: init, start, import busybox and add the nodes
 * (tag names the cluster, suffixes the nodes). Returns 0, or -1 after
 * tearing down what it started. */
int st_cluster_up(struct st_cluster *c, const char *tag, const char *const *suffixes, size_t n);
/* `stratactl get pod NAME -o json`, parsed; NULL on failure. */
json_t *st_cluster_pod(struct st_cluster *c, const char *name);

/* A pod's status.containerStatuses[0], or NULL. */
json_t *st_pod_container0(json_t *pod);
/* Whether obj's status.conditions has type with status "True". */
bool st_json_condition(json_t *obj, const char *type);
/* obj[a][b] as a string, or NULL. */
const char *st_json_str(json_t *obj, const char *a, const char *b);

#endif
