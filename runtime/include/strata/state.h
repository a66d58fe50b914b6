/* state.h: a container's saved state, ROOT/<id>/state.json (OCI state fields
 * plus what strata-run needs to find the container again from another
 * process). It knows files only: it never signals or creates processes. */
#ifndef STRATA_STATE_H
#define STRATA_STATE_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include "strata/error.h"

#define ST_STATE_FIFO "exec.fifo"

struct st_state {
    char *id;
    pid_t pid;                    /* as seen from the host */
    unsigned long long pid_start; /* /proc/PID/stat starttime, guards against pid reuse */
    char *bundle;                 /* may be NULL (config built in memory) */
    char *created;                /* RFC 3339, UTC */
    char *cgroup;                 /* path given to st_cgroup_create */
    long long memory_limit;       /* bytes, -1 unset */
    json_t *annotations;          /* object */
};

/* ROOT/<id>, malloc'd. Refuses ids with characters other than [A-Za-z0-9_.-]. */
int st_state_dir(const char *root, const char *id, char **out, st_error *err);

/* Creates ROOT (mode 0700) and ROOT/<id>; -EEXIST with "already in use" when taken. */
int st_state_create_dir(const char *root, const char *id, st_error *err);

/* Atomically (re)writes ROOT/<id>/state.json. */
int st_state_write(const char *root, const struct st_state *s, st_error *err);

/* -ENOENT with "no container ID" when it does not exist. */
int st_state_read(const char *root, const char *id, struct st_state *s, st_error *err);

/* Removes ROOT/<id> with its files; a missing dir is not an error. */
int st_state_remove(const char *root, const char *id, st_error *err);

/* The ids under ROOT, sorted, NULL-terminated; an absent ROOT is empty. */
int st_state_list(const char *root, char ***ids, st_error *err);

void st_state_clear(struct st_state *s);

/* starttime (field 22) of /proc/PID/stat; -ESRCH when gone. */
int st_proc_start_time(pid_t pid, unsigned long long *start);

/* true while PID exists, is not a zombie, and (start != 0) started at start. */
bool st_proc_alive(pid_t pid, unsigned long long start);

#endif
