/* host.c: the host rows of bench_startup: a container of /bin/true started
 * by strata-run and by runc (the named peer) from the same bundle, each
 * timed from spawning the runtime's `run` until it is reaped. Both use the
 * image store's busybox rootfs in place, read-only, so nothing is copied. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "startup.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/node_proto.h"

extern char **environ;

#define RUNC "runc"

/* The last non-empty line of a (small) file, for quoting a child's error. */
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, len, "%s", line);
    }
}

/* Runs argv (looked up on $PATH without a slash) with stdin and stdout on
 * /dev/null and stderr into err_path; *ms is the time from spawning to
 * reaping. ENOENT: no such program. Non-zero exit: an error that quotes the
 * last line the child wrote. */
static int run_timed(char *const argv[], const char *err_path, double *ms, st_error *err)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return st_error_set(err, ENOMEM, "out of memory");
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int64_t t0 = st_vmm_now_ns();
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return st_error_set(err, r, "cannot run %s: %s", argv[0], strerror(r));
    int status = 0;
    /* Ctrl-C reaches the child too (same process group): wait it out */
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return st_error_sys(err, errno, "cannot wait for %s", argv[0]);
    *ms = startup_ms_since(t0, st_vmm_now_ns());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char why[1024];
    last_line(err_path, why, sizeof(why));
    if (WIFSIGNALED(status))
        return st_error_set(err, ECHILD, "%s was killed by signal %d%s%s", argv[0],
                            WTERMSIG(status), why[0] ? ": " : "", why);
    return st_error_set(err, ECHILD, "%s exited with status %d%s%s", argv[0], WEXITSTATUS(status),
                        why[0] ? ": " : "", why);
}

/* TMP/bundle: strata-run's default config.json (runc's defaults: the root
 * read-only), its root the image store's busybox rootfs, running /bin/true
 * without a terminal. runc runs the same bundle. */
static int make_bundle(struct startup *b, char *bundle, size_t len, st_error *err)
{
    char config[PATH_MAX], errlog[PATH_MAX];
    double ms;
    int r;
    if ((r = startup_pathf(bundle, len, err, "%s/bundle", b->tmp)) < 0 ||
        (r = st_fs_mkdir_mode(bundle, 0755, err)) < 0 ||
        (r = startup_pathf(config, sizeof(config), err, "%s/config.json", bundle)) < 0 ||
        (r = startup_pathf(errlog, sizeof(errlog), err, "%s/spec.err", b->tmp)) < 0)
        return r;
    char *const spec[] = {b->strata_run, "spec", "--bundle", bundle, NULL};
    if ((r = run_timed(spec, errlog, &ms, err)) < 0)
        return r;
    json_error_t jerr;
    _cleanup_json_ json_t *cfg = json_load_file(config, 0, &jerr);
    if (cfg == NULL)
        return st_error_set(err, EINVAL, "%s: %s (line %d)", config, jerr.text, jerr.line);
    json_t *process = json_object_get(cfg, "process"), *root = json_object_get(cfg, "root");
    if (!json_is_object(process) || !json_is_object(root) ||
        json_object_set_new(process, "args", json_pack("[s]", "/bin/true")) < 0 ||
        json_object_set_new(process, "terminal", json_false()) < 0 ||
        json_object_set_new(root, "path", json_string(b->rootfs)) < 0 ||
        json_object_set_new(root, "readonly", json_true()) < 0)
        return st_error_set(err, EINVAL, "%s: no \"process\" and \"root\" objects to set", config);
    if (json_dump_file(cfg, config, JSON_INDENT(2)) < 0)
        return st_error_set(err, EIO, "cannot write %s", config);
    return 0;
}

/* One timed `run` of a runtime into row (still pending), as run i. */
static void host_run(struct startup *b, struct startup_row *row, const char *runtime,
                     const char *root, const char *bundle, const char *errlog, int i)
{
    if (row->state != STARTUP_ROW_PENDING || startup_interrupted)
        return;
    char id[64];
    snprintf(id, sizeof(id), "bench-%d-%c%d", (int)getpid(), runtime == b->strata_run ? 's' : 'r',
             i + 1);
    char *const argv[] = {(char *)runtime, "--root",       (char *)root, "run",
                          "--bundle",      (char *)bundle, id,           NULL};
    st_error err = {0};
    double ms;
    int r = run_timed(argv, errlog, &ms, &err);
    if (r == -ENOENT && runtime != b->strata_run)
        startup_row_na(row, "n/a (%s is not installed: apt-get install %s)", runtime, runtime);
    else if (r < 0)
        startup_row_fail(row, &err);
    else if (!startup_interrupted)
        startup_row_record(row, i, b->runs, ms);
}

void startup_host(struct startup *b)
{
    struct startup_row *srow = &b->rows[STARTUP_ROW_STRATA_RUN];
    struct startup_row *rrow = &b->rows[STARTUP_ROW_RUNC];
    char bundle[PATH_MAX], sroot[PATH_MAX], rroot[PATH_MAX], errlog[PATH_MAX];
    st_error err = {0};
    if (startup_pathf(sroot, sizeof(sroot), &err, "%s/strata-root", b->tmp) < 0 ||
        startup_pathf(rroot, sizeof(rroot), &err, "%s/runc-root", b->tmp) < 0 ||
        startup_pathf(errlog, sizeof(errlog), &err, "%s/run.err", b->tmp) < 0 ||
        make_bundle(b, bundle, sizeof(bundle), &err) < 0) {
        startup_row_fail(srow, &err);
        startup_row_fail(rrow, &err);
        return;
    }
    for (int i = 0; i < b->runs && !startup_interrupted; i++) {
        host_run(b, srow, b->strata_run, sroot, bundle, errlog, i);
        host_run(b, rrow, RUNC, rroot, bundle, errlog, i);
        if (srow->state != STARTUP_ROW_PENDING && rrow->state != STARTUP_ROW_PENDING)
            break;
    }
}

/* Deletes every container a runtime still keeps under root (an interrupted
 * or failed run); each is a folder named by its id. */
static void containers_remove(const char *runtime, const char *root, const char *errlog)
{
    _cleanup_closedir_ DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *const del[] = {(char *)runtime, "--root",  (char *)root, "delete",
                             "--force",       e->d_name, NULL};
        double ms;
        st_error err = {0};
        if (run_timed(del, errlog, &ms, &err) < 0)
            fprintf(stderr, "bench: cannot delete container %s: %s\n", e->d_name, err.msg);
    }
}

void startup_host_cleanup(struct startup *b)
{
    char root[PATH_MAX], errlog[PATH_MAX];
    snprintf(errlog, sizeof(errlog), "%s/delete.err", b->tmp);
    snprintf(root, sizeof(root), "%s/strata-root", b->tmp);
    containers_remove(b->strata_run, root, errlog);
    snprintf(root, sizeof(root), "%s/runc-root", b->tmp);
    containers_remove(RUNC, root, errlog);
}
