/* srun_fx.h: the fixture of the integration tests that drive strata-run
 * as a user would (tests/runtime/itest_strata_run.c, itest_oci_hooks.c,
 * itest_oci_linux.c, itest_confinement.c): a bundle, a --root for its
 * state and a scratch folder, all fresh under /tmp, a container id of
 * this process, and strata-run run on them. A test file with more state
 * of its own puts a struct st_srunfx first in its fixture and calls
 * st_srunfx_init / st_srunfx_fini from its setup and teardown. */
#ifndef STRATA_TEST_SRUN_FX_H
#define STRATA_TEST_SRUN_FX_H

#include <jansson.h>
#include <stdbool.h>

struct st_srunfx {
    char *bundle; /* the bundle: config.json (its rootfs is the fixture's) */
    char *root;   /* strata-run --root: the state of the containers */
    char *dir;    /* scratch: what a test keeps beside them (stderr of quiet runs) */
    char *bin;    /* strata-run */
    char id[64];  /* "<id_prefix><n>-<pid>" */
};

/* Makes the three folders ("/tmp/strata-<name>-bundle-XXXXXX" ...) and the
 * id; fails the test when it cannot. */
void st_srunfx_init(struct st_srunfx *f, const char *name, const char *id_prefix);
/* Deletes container f->id (--force; a test that made others deletes
 * them first), removes the folders and frees what init made. */
void st_srunfx_fini(struct st_srunfx *f);

/* strata-run --root ROOT ARGS... (NULL-terminated), stdout and stderr
 * captured (either may be NULL); returns the exit code. */
int st_srun(struct st_srunfx *f, char **out, char **err, const char *const *args);
#define ST_SRUN(f, out, err, ...) st_srun(f, out, err, (const char *const[]){__VA_ARGS__, NULL})

/* The same for verbs that leave a container behind (create, run
 * --detach): its process inherits stdio, so pipes would only close when
 * it exits; stdout goes to /dev/null, stderr through a file in f->dir. */
int st_srun_quiet(struct st_srunfx *f, char **err, const char *const *args);
#define ST_SRUN_Q(f, err, ...) st_srun_quiet(f, err, (const char *const[]){__VA_ARGS__, NULL})

/* "<bundle>/config.json", malloc'd. */
char *st_srunfx_config_path(struct st_srunfx *f);
/* `strata-run spec` in the bundle (an old config.json removed first: spec
 * never overwrites), then root.path -> the fixture rootfs and
 * process.args -> sh -c script; config.json stays as spec wrote it. */
json_t *st_srunfx_make_spec(struct st_srunfx *f, const char *script);
/* Writes spec (consumed) as the bundle's config.json. */
void st_srunfx_save_spec(struct st_srunfx *f, json_t *spec);

/* `strata-run state ID`, parsed; fails the test when it fails. */
json_t *st_srunfx_state(struct st_srunfx *f);
/* A st_test_wait_until condition on a struct st_srunfx: state says stopped. */
bool st_srunfx_is_stopped(void *f);

/* A cgroup strata-<id> exists, in any v1 hierarchy or the v2 tree (the
 * runtime names a container's cgroups so, whoever made the container). */
bool st_srunfx_cgroup_exists(const char *id);
/* One line on stderr, starting "strata-run: ", containing what. */
void st_srunfx_assert_one_line(const char *err, const char *what);
/* Nothing of f->id is left: no state under --root, no cgroup, no mount of
 * the fixture rootfs; and process pid (when > 0) is gone. */
void st_srunfx_assert_nothing_left(struct st_srunfx *f, int pid);

#endif
