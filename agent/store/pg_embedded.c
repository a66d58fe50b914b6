/* pg_embedded.c: initdb + pg_ctl for the private cluster under
 * STATE_DIR/pg. The PostgreSQL tools refuse to run as root, so each is run
 * as the postgres user (fork, setgid/setuid, exec) with a clean environment
 * and no inherited descriptors (a libpq socket must not leak into the
 * postmaster). Crash recovery and stale postmaster.pid files are pg_ctl's
 * job, not ours. */
#include "strata/pg_embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "store_pg_cleanup.h"

#define PG_TIMEOUT_S  "60"
#define SOCKET_SUFFIX "/.s.PGSQL.5432"

struct st_pg_embedded {
    char *bindir;
    char *pgdir; /* STATE_DIR/pg, owned by postgres, 0700 */
    char *data;
    char *run;
    char *log;
    char *dsn;
    uid_t uid;
    gid_t gid;
    int drop; /* running as root: switch to postgres for each tool */
};

/* ---- helpers ---- */

static char *path_join(const char *a, const char *b)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

/* The highest /usr/lib/postgresql/N/bin that has pg_ctl and initdb. */
static int find_bindir(char **out, st_error *err)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
        return st_error_set(err, ENOENT,
                            "no PostgreSQL server under /usr/lib/postgresql/*/bin: install the "
                            "Debian package postgresql (scripts/setup), or run stratad with "
                            "--db DSN");
    long best = -1;
    const char *best_path = NULL;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
        if (v > best) {
            best = v;
            best_path = g.gl_pathv[i];
        }
    }
    char *dir = best_path ? strndup(best_path, strlen(best_path) - strlen("/pg_ctl")) : NULL;
    globfree(&g);
    if (dir == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    *out = dir;
    return 0;
}

/* Runs argv (as postgres when root) and collects what it printed; returns
 * the exit status (>= 0) or a negative errno when it could not run. */
static int run_tool(const st_pg_embedded *pg, char *const argv[], char **output, st_error *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return st_error_sys(err, errno, "pipe for %s", argv[0]);
    _cleanup_free_ char *home = NULL;
    if (asprintf(&home, "HOME=%s", pg->pgdir) < 0) {
        close(p[0]);
        close(p[1]);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", home, NULL};
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return st_error_sys(err, e, "fork for %s", argv[0]);
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(126);
        close_range(3, ~0U, 0);
        if (pg->drop && (setgroups(0, NULL) < 0 || setgid(pg->gid) < 0 || setuid(pg->uid) < 0))
            _exit(126);
        if (chdir(pg->pgdir) < 0)
            _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
        char sink[512];
        ssize_t n = buf ? read(p[0], buf + len, cap - len - 1) : read(p[0], sink, sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf)
            len += (size_t)n;
    }
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return st_error_sys(err, errno, "waiting for %s", argv[0]);
    if (buf)
        buf[len] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) >= 126) {
        free(buf);
        return st_error_set(err, EPERM,
                            "cannot run %s as the postgres user (uid %d): check the user exists "
                            "and can reach %s",
                            argv[0], (int)pg->uid, pg->pgdir);
    }
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The last lines of a tool's output, for an error message. */
static const char *tail_of(const char *out)
{
    if (out == NULL)
        return "";
    size_t n = strlen(out);
    return n > 600 ? out + n - 600 : out;
}

static int tool_ok(const st_pg_embedded *pg, char *const argv[], const char *what, st_error *err)
{
    _cleanup_free_ char *out = NULL;
    int r = run_tool(pg, argv, &out, err);
    if (r < 0)
        return r;
    if (r != 0)
        return st_error_set(err, EIO, "%s failed (exit %d); see %s. Output: %s", what, r, pg->log,
                            tail_of(out));
    return 0;
}

static int make_dir(const st_pg_embedded *pg, const char *path, st_error *err)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "cannot create %s", path);
    if (pg->drop && chown(path, pg->uid, pg->gid) < 0)
        return st_error_sys(err, errno, "cannot give %s to the postgres user", path);
    if (chmod(path, 0700) < 0)
        return st_error_sys(err, errno, "cannot chmod %s", path);
    return 0;
}

/* postgres must traverse every directory down to STATE_DIR/pg. */
static int check_reachable(const st_pg_embedded *pg, const char *state_dir, st_error *err)
{
    struct stat st;
    if (stat(state_dir, &st) < 0)
        return st_error_sys(err, errno, "state dir %s", state_dir);
    if (!pg->drop)
        return 0;
    if (st.st_uid != pg->uid && !(st.st_mode & S_IXOTH) &&
        chmod(state_dir, (st.st_mode & 07777) | S_IXOTH) < 0)
        return st_error_sys(err, errno, "cannot let the postgres user search %s (chmod o+x)",
                            state_dir);
    _cleanup_free_ char *real = realpath(state_dir, NULL);
    if (real == NULL)
        return st_error_sys(err, errno, "state dir %s", state_dir);
    for (char *slash = strrchr(real, '/'); slash; slash = strrchr(real, '/')) {
        *slash = '\0';
        const char *dir = slash == real ? "/" : real;
        if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH) && st.st_uid != pg->uid)
            return st_error_set(err, EACCES,
                                "the postgres user cannot reach %s/pg: %s has no search "
                                "permission for others; chmod o+x %s or choose another state dir",
                                state_dir, dir, dir);
        if (slash == real)
            break;
    }
    return 0;
}

/* A PostgreSQL configuration string literal: quotes doubled. */
static void conf_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* Rewritten at each start, so a moved state dir still gets the right
 * socket directory. Unix socket only, reachable by root and postgres. */
static int write_conf(const st_pg_embedded *pg, st_error *err)
{
    _cleanup_free_ char *path = path_join(pg->data, "strata.conf");
    if (path == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_fclose_ FILE *f = fopen(path, "we");
    if (f == NULL)
        return st_error_sys(err, errno, "cannot write %s", path);
    fputs("# written by stratad at each start; edits are lost\n"
          "listen_addresses = ''\nunix_socket_permissions = 0700\n"
          "unix_socket_directories = ",
          f);
    conf_quote(f, pg->run);
    fputs("\nmax_connections = 30\n", f);
    if (fflush(f) != 0 || ferror(f))
        return st_error_sys(err, errno, "cannot write %s", path);
    if (pg->drop && fchown(fileno(f), pg->uid, pg->gid) < 0)
        return st_error_sys(err, errno, "cannot chown %s", path);
    return 0;
}

static int initdb(const st_pg_embedded *pg, st_error *err)
{
    _cleanup_free_ char *exe = path_join(pg->bindir, "initdb");
    _cleanup_free_ char *conf = path_join(pg->data, "postgresql.conf");
    if (exe == NULL || conf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    char *argv[] = {exe,     "-D", pg->data, "-U",         "postgres",          "-A",
                    "trust", "-E", "UTF8",   "--locale=C", "--no-instructions", NULL};
    int r = tool_ok(pg, argv, "initdb", err);
    if (r < 0)
        return r;
    _cleanup_fclose_ FILE *f = fopen(conf, "ae");
    if (f == NULL)
        return st_error_sys(err, errno, "cannot append to %s", conf);
    fputs("\n# stratad's settings\ninclude_if_exists = 'strata.conf'\n", f);
    if (fflush(f) != 0)
        return st_error_sys(err, errno, "cannot append to %s", conf);
    return 0;
}

static int create_database(const st_pg_embedded *pg, st_error *err)
{
    _cleanup_free_ char *dsn = NULL;
    if (asprintf(&dsn, "host=%s dbname=postgres user=postgres", pg->run) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_pgconn_ PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        return st_error_set(err, EIO, "cannot connect to the embedded PostgreSQL (%s): %s", dsn,
                            PQerrorMessage(c));
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = 'strata'");
    int exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (exists)
        return 0;
    r = PQexec(c, "CREATE DATABASE strata");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return st_error_set(err, EIO, "CREATE DATABASE strata: %s", PQerrorMessage(c));
    return 0;
}

/* ---- API ---- */

void st_pg_embedded_free(st_pg_embedded *pg)
{
    if (pg == NULL)
        return;
    free(pg->bindir);
    free(pg->pgdir);
    free(pg->data);
    free(pg->run);
    free(pg->log);
    free(pg->dsn);
    free(pg);
}

const char *st_pg_embedded_dsn(const st_pg_embedded *pg)
{
    return pg->dsn;
}

const char *st_pg_embedded_bindir(const st_pg_embedded *pg)
{
    return pg->bindir;
}

static int pg_ctl(const st_pg_embedded *pg, const char *verb, int *status, st_error *err)
{
    _cleanup_free_ char *exe = path_join(pg->bindir, "pg_ctl");
    if (exe == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    char *argv[] = {exe,  (char *)verb, "-D",         pg->data, "-l",   pg->log,
                    "-w", "-t",         PG_TIMEOUT_S, "-m",     "fast", NULL};
    if (strcmp(verb, "status") == 0)
        argv[4] = NULL;
    if (status) {
        int r = run_tool(pg, argv, NULL, err);
        if (r < 0)
            return r;
        *status = r;
        return 0;
    }
    _cleanup_free_ char *what = NULL;
    if (asprintf(&what, "pg_ctl %s -D %s", verb, pg->data) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    return tool_ok(pg, argv, what, err);
}

/* Fills pg and brings the cluster up; the caller frees pg on failure. */
static int start_in(st_pg_embedded *pg, const char *state_dir, st_error *err)
{
    pg->pgdir = path_join(state_dir, "pg");
    pg->data = pg->pgdir ? path_join(pg->pgdir, "data") : NULL;
    pg->run = pg->pgdir ? path_join(pg->pgdir, "run") : NULL;
    pg->log = pg->pgdir ? path_join(pg->pgdir, "postgresql.log") : NULL;
    _cleanup_free_ char *version = pg->data ? path_join(pg->data, "PG_VERSION") : NULL;
    if (!pg->data || !pg->run || !pg->log || !version ||
        asprintf(&pg->dsn, "host=%s dbname=strata user=postgres", pg->run) < 0) {
        pg->dsn = NULL;
        return st_error_set(err, ENOMEM, "out of memory");
    }
    if (strlen(pg->run) + strlen(SOCKET_SUFFIX) >= 108)
        return st_error_set(err, ENAMETOOLONG,
                            "state dir %s is too long for a unix socket path (%s%s); choose a "
                            "shorter --state-dir",
                            state_dir, pg->run, SOCKET_SUFFIX);
    int r = find_bindir(&pg->bindir, err);
    if (r < 0)
        return r;
    pg->uid = geteuid();
    pg->gid = getegid();
    if (pg->uid == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL)
            return st_error_set(err, ENOENT,
                                "PostgreSQL will not run as root and there is no postgres user: "
                                "install the Debian package postgresql (it creates one)");
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
        pg->drop = 1;
    }
    if ((r = check_reachable(pg, state_dir, err)) < 0 || (r = make_dir(pg, pg->pgdir, err)) < 0 ||
        (r = make_dir(pg, pg->run, err)) < 0)
        return r;
    if (access(version, F_OK) != 0) {
        if (access(pg->data, F_OK) == 0)
            return st_error_set(err, EEXIST,
                                "%s exists but holds no PostgreSQL cluster (no PG_VERSION): an "
                                "interrupted initdb? Remove %s and start again",
                                pg->data, pg->data);
        if ((r = initdb(pg, err)) < 0)
            return r;
    }
    if ((r = write_conf(pg, err)) < 0)
        return r;
    int status = 0;
    if ((r = pg_ctl(pg, "status", &status, err)) < 0)
        return r;
    /* 0: a server from an earlier run of ours is still up: adopt it. */
    if (status != 0 && (r = pg_ctl(pg, "start", NULL, err)) < 0)
        return r;
    r = create_database(pg, err);
    if (r < 0 && status != 0)
        pg_ctl(pg, "stop", NULL, NULL); /* do not leave behind a server we started */
    return r;
}

int st_pg_embedded_start(const char *state_dir, st_pg_embedded **out, st_error *err)
{
    st_pg_embedded *pg = calloc(1, sizeof(*pg));
    if (pg == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = start_in(pg, state_dir, err);
    if (r < 0) {
        st_pg_embedded_free(pg);
        return r;
    }
    *out = pg;
    return 0;
}

int st_pg_embedded_restart(st_pg_embedded *pg, st_error *err)
{
    return pg_ctl(pg, "restart", NULL, err);
}

int st_pg_embedded_revive(st_pg_embedded *pg, bool *started, st_error *err)
{
    *started = false;
    int status = 0;
    int r = pg_ctl(pg, "status", &status, err);
    if (r < 0)
        return r;
    if (status == 0) /* running (perhaps still recovering): its own business */
        return 0;
    /* strata.conf is not rewritten: on a full disk that would leave it
     * empty, and the server would come up on TCP and another socket. */
    if ((r = pg_ctl(pg, "start", NULL, err)) == 0)
        *started = true;
    return r;
}

int st_pg_embedded_stop(st_pg_embedded *pg, st_error *err)
{
    int status = 0;
    int r = pg_ctl(pg, "status", &status, err);
    if (r < 0)
        return r;
    if (status != 0) /* 3: not running; 4: no data dir */
        return 0;
    return pg_ctl(pg, "stop", NULL, err);
}
