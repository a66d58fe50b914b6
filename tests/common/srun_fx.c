/* srun_fx.c: see srun_fx.h. strata-run is run as a separate process, as a
 * user or a higher-level runtime would run it; nothing here calls the
 * runtime library except to ask whether a process is still alive. */
#include "srun_fx.h"
#include "testutil.h"

#include "strata/state.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

void st_srunfx_init(struct st_srunfx *f, const char *name, const char *id_prefix)
{
    static int seq;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "strata-%s-bundle", name);
    f->bundle = st_test_mkdtemp(prefix);
    snprintf(prefix, sizeof(prefix), "strata-%s-root", name);
    f->root = st_test_mkdtemp(prefix);
    snprintf(prefix, sizeof(prefix), "strata-%s-dir", name);
    f->dir = st_test_mkdtemp(prefix);
    f->bin = st_test_bin("strata-run");
    snprintf(f->id, sizeof(f->id), "%s%d-%d", id_prefix, ++seq, (int)getpid());
}

void st_srunfx_fini(struct st_srunfx *f)
{
    if (f->bin && f->root) {
        char *argv[] = {f->bin, "--root", f->root, "delete", "--force", f->id, NULL};
        st_test_run(argv, NULL, NULL, NULL);
    }
    char **dirs[] = {&f->bundle, &f->root, &f->dir};
    for (size_t i = 0; i < 3; i++) {
        if (*dirs[i])
            st_test_rmrf(*dirs[i]);
        free(*dirs[i]);
        *dirs[i] = NULL;
    }
    free(f->bin);
    f->bin = NULL;
}

int st_srun(struct st_srunfx *f, char **out, char **err, const char *const *args)
{
    char *argv[32] = {f->bin, "--root", f->root};
    size_t n = 3;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    return st_test_run(argv, NULL, out, err);
}

int st_srun_quiet(struct st_srunfx *f, char **err, const char *const *args)
{
    char cmd[2048];
    size_t n = (size_t)snprintf(cmd, sizeof(cmd), "exec %s --root %s", f->bin, f->root);
    for (; *args && n < sizeof(cmd); args++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *args);
    if (n >= sizeof(cmd))
        fail_msg("strata-run command line longer than %zu bytes", sizeof(cmd));
    snprintf(cmd + n, sizeof(cmd) - n, " </dev/null >/dev/null 2>%s/.stderr", f->dir);
    int rc = st_test_sh(NULL, NULL, "%s", cmd);
    char path[600];
    snprintf(path, sizeof(path), "%s/.stderr", f->dir);
    if (err)
        *err = st_test_read_file(path);
    unlink(path);
    return rc;
}

char *st_srunfx_config_path(struct st_srunfx *f)
{
    char *p = NULL;
    if (asprintf(&p, "%s/config.json", f->bundle) < 0)
        fail_msg("out of memory");
    return p;
}

json_t *st_srunfx_make_spec(struct st_srunfx *f, const char *script)
{
    char *path = st_srunfx_config_path(f);
    unlink(path);
    char *err = NULL;
    int rc = ST_SRUN(f, NULL, &err, "spec", "--bundle", f->bundle);
    if (rc != 0)
        fail_msg("strata-run spec exited %d: %s", rc, err);
    free(err);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    free(path);
    if (spec == NULL)
        fail_msg("strata-run spec wrote bad JSON: %s", jerr.text);
    json_object_set_new(json_object_get(spec, "root"), "path",
                        json_string(st_test_env("STRATA_TEST_ROOTFS")));
    json_object_set_new(json_object_get(spec, "process"), "args",
                        json_pack("[s,s,s]", "sh", "-c", script));
    return spec;
}

void st_srunfx_save_spec(struct st_srunfx *f, json_t *spec)
{
    char *path = st_srunfx_config_path(f);
    assert_int_equal(json_dump_file(spec, path, JSON_INDENT(1)), 0);
    free(path);
    json_decref(spec);
}

json_t *st_srunfx_state(struct st_srunfx *f)
{
    char *out = NULL, *err = NULL;
    int rc = ST_SRUN(f, &out, &err, "state", f->id);
    if (rc != 0)
        fail_msg("strata-run state %s exited %d: %s", f->id, rc, err);
    json_t *j = json_loads(out, 0, NULL);
    if (j == NULL)
        fail_msg("strata-run state printed bad JSON \"%s\"", out);
    free(out);
    free(err);
    return j;
}

bool st_srunfx_is_stopped(void *f)
{
    json_t *j = st_srunfx_state(f);
    const char *status = json_string_value(json_object_get(j, "status"));
    bool stopped = status && strcmp(status, "stopped") == 0;
    json_decref(j);
    return stopped;
}

bool st_srunfx_cgroup_exists(const char *id)
{
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/*/strata-%s", id);
    glob_t g;
    bool found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    snprintf(pattern, sizeof(pattern), "/sys/fs/cgroup/strata-%s", id);
    return found || access(pattern, F_OK) == 0;
}

void st_srunfx_assert_one_line(const char *err, const char *what)
{
    if (err == NULL || strncmp(err, "strata-run: ", 12) != 0 ||
        strchr(err, '\n') != err + strlen(err) - 1 || strstr(err, what) == NULL)
        fail_msg("expected one line naming \"%s\", got \"%s\"", what, err ? err : "(nothing)");
}

void st_srunfx_assert_nothing_left(struct st_srunfx *f, int pid)
{
    char *out = NULL;
    st_test_sh(&out, NULL, "ls -A %s", f->root);
    assert_string_equal(out, "");
    free(out);
    assert_false(st_srunfx_cgroup_exists(f->id));
    char *mounts = st_test_read_file("/proc/self/mounts");
    assert_null(strstr(mounts, st_test_env("STRATA_TEST_ROOTFS")));
    free(mounts);
    if (pid > 0)
        assert_false(st_proc_alive(pid, 0));
}
