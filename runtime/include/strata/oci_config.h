/* oci_config.h: an OCI runtime-spec config.json (1.x subset) read with jansson
 * into a plain struct the container code can use without touching JSON again.
 * It validates types and names only; it creates nothing on the system. */
#ifndef STRATA_OCI_CONFIG_H
#define STRATA_OCI_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/cgroup.h"
#include "strata/error.h"

struct st_oci_mount {
    char *destination;         /* absolute path inside the container */
    char *type;                /* "bind", "tmpfs", "proc", ...; "bind" when options say bind */
    char *source;              /* may be NULL */
    unsigned long flags;       /* MS_* from options (MS_BIND, MS_REC, MS_RDONLY, ...) */
    unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (| MS_REC) or 0 */
    char *data;                /* the options that are not flags ("mode=755,size=64k"), or NULL */
};

struct st_oci_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard;
};

struct st_oci_idmap {
    uint32_t container_id, host_id, size;
};

struct st_oci_namespace {
    int type;   /* CLONE_NEWPID, CLONE_NEWNS, ... */
    char *path; /* join this existing namespace instead of creating one, or NULL */
};

/* The OCI hook kinds, in the order the lifecycle runs them. */
enum st_oci_hook_kind {
    ST_HOOK_PRESTART = 0,     /* deprecated: create, runtime namespace, before createRuntime */
    ST_HOOK_CREATE_RUNTIME,   /* create, runtime namespace, before pivot_root */
    ST_HOOK_CREATE_CONTAINER, /* create, container namespaces, before pivot_root */
    ST_HOOK_START_CONTAINER,  /* start, in the container, right before execve */
    ST_HOOK_POSTSTART,        /* start, runtime namespace, after execve */
    ST_HOOK_POSTSTOP,         /* delete, runtime namespace, after the container is gone */
    ST_HOOK_KINDS,
};

/* "prestart", "createRuntime", ... (the config.json keys), by kind. */
extern const char *const st_oci_hook_names[ST_HOOK_KINDS];

struct st_oci_hook {
    char *path;  /* absolute */
    char **args; /* NULL-terminated argv (args[0] is argv[0]); {path} when absent */
    char **env;  /* NULL-terminated, or NULL when absent: see hooks.h for what the hook gets */
    int timeout; /* seconds, > 0; 0 = none given */
};

struct st_oci_hooks {
    struct st_oci_hook *list[ST_HOOK_KINDS];
    size_t n[ST_HOOK_KINDS];
    json_t *json; /* the `hooks` object as given (a reference), NULL when absent */
};

/* A linux.devices entry: a node the container gets at path. */
struct st_oci_device {
    char *path;    /* absolute, inside the container, no ".." */
    char type;     /* 'c', 'b', 'u' (unbuffered char) or 'p' (FIFO), as written */
    mode_t format; /* S_IFCHR, S_IFBLK or S_IFIFO */
    uint32_t major, minor;
    bool has_mode, has_uid, has_gid;
    mode_t mode; /* permission bits (fileMode), 0666 when absent */
    uid_t uid;   /* in the container's user namespace */
    gid_t gid;
};

/* Capability sets as bit masks over capability numbers (bit N = capability N). */
struct st_oci_caps {
    uint64_t bounding, effective, permitted, inheritable, ambient;
};

struct st_oci_config {
    char *where;     /* "BUNDLE/config.json", prefix of every message */
    char *bundle;    /* absolute bundle folder, NULL for a config built in memory */
    char *root_path; /* absolute path of the root filesystem */
    bool root_readonly;
    char *hostname;   /* NULL = leave it */
    char *domainname; /* NULL = leave it */
    struct st_oci_hooks hooks;

    char **args; /* NULL-terminated, at least one */
    char **env;  /* NULL-terminated, may be empty */
    char *cwd;   /* absolute, "/" by default */
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
    int umask; /* -1 = leave it */
    bool no_new_privileges;
    bool has_caps; /* false: process.capabilities absent, the process keeps root's */
    struct st_oci_caps caps;
    struct st_oci_rlimit *rlimits;
    size_t n_rlimits;

    struct st_oci_mount *mounts;
    size_t n_mounts;
    struct st_oci_namespace *namespaces;
    size_t n_namespaces;
    int ns_flags;  /* CLONE_NEW* of the namespaces to create (path == NULL) */
    int ns_joined; /* CLONE_NEW* of the namespaces joined by path */
    struct st_oci_idmap *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    char **masked_paths;              /* NULL-terminated */
    char **readonly_paths;            /* NULL-terminated */
    unsigned long rootfs_propagation; /* MS_* for "/", default MS_SLAVE | MS_REC */
    bool rootfs_propagation_set;      /* linux.rootfsPropagation was given */
    struct st_oci_device *devices;    /* linux.devices */
    size_t n_devices;
    bool has_oom_score_adj; /* process.oomScoreAdj given (-1000..1000) */
    int oom_score_adj;
    bool has_personality;      /* linux.personality given */
    unsigned long personality; /* PER_LINUX or PER_LINUX32 */
    struct st_resources resources;
    char *cgroups_path;  /* linux.cgroupsPath or NULL */
    json_t *sysctl;      /* object of strings, or NULL */
    json_t *seccomp;     /* the linux.seccomp object (a reference), or NULL */
    json_t *annotations; /* object, never NULL after parsing */
};

/* Reads BUNDLE/config.json. Errors name the file and the JSON path, with
 * line:column for syntax errors. root.path is resolved against the bundle. */
int st_oci_config_load(const char *bundle, struct st_oci_config **out, st_error *err);

/* Parses an already-built JSON config (strata-node builds pod specs in
 * memory). where prefixes messages; bundle (may be NULL) resolves a relative
 * root.path, which must then be absolute when bundle is NULL. */
int st_oci_config_from_json(json_t *root, const char *where, const char *bundle,
                            struct st_oci_config **out, st_error *err);

/* Parses a `hooks` object (config.json's, or the copy a container's state
 * keeps for start and delete); hooks NULL gives an empty set. where prefixes
 * messages ("b/config.json: hooks.poststop[0].path: ..."). */
int st_oci_hooks_from_json(json_t *hooks, const char *where, struct st_oci_hooks *out,
                           st_error *err);
void st_oci_hooks_clear(struct st_oci_hooks *h);

/* ociVersion rules: MAJOR.MINOR.PATCH with an optional -prerelease and
 * +build (SemVer 2.0.0); MAJOR must be 1. */
#define ST_OCI_VERSION_MIN "1.0.0"
#define ST_OCI_VERSION_MAX "1.2.1"
/* The version the state JSON and `strata-run --version` report. */
#define ST_OCI_VERSION_STATE "1.0.2"

/* The names the loader accepts, for `strata-run features` (so the document
 * is read from the tables the parser uses and cannot drift from them): each
 * returns the i-th name, NULL past the end. */
const char *st_oci_known_mount_option(size_t i);
const char *st_oci_known_namespace(size_t i);
/* Capability names as libcap spells them in upper case ("CAP_CHOWN");
 * buf holds the name returned. */
const char *st_oci_known_capability(size_t i, char buf[64]);

/* The default config `strata-run spec` writes (like `runc spec`, terminal
 * false, args ["sh"], root "rootfs", no seccomp). New reference. */
json_t *st_oci_config_default_json(void);

void st_oci_config_free(struct st_oci_config *c);

#endif
