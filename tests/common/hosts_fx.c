/* hosts_fx.c: see hosts_fx.h. The set is global to the test program: the
 * exit and signal handlers must find it, and cut/heal name only a host.
 * The signal handler may only fork and exec, so the argv of
 * `scripts/hosts down` is built when the set comes up. */
#include "hosts_fx.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KIDS 64
#define SCRIPT_S "300" /* bound on one run of scripts/hosts (its own waits are shorter) */
#define STOP_MS  10000

extern char **environ;

static struct {
    bool up;
    bool registered;
    char script[512];
    char prefix[32];
    char state[256];
    char *down_argv[8]; /* scripts/hosts --prefix P --state S down */
    pid_t kids[MAX_KIDS];
    int nkids;
} set;

/* ---- helpers ---- */

/* argv of scripts/hosts --prefix P --state S VERB ARGS..., under timeout(1). */
static int run_script(char **out, const char *const *args)
{
    const char *argv[32] = {"timeout",  "-k",       "10",      SCRIPT_S, set.script,
                            "--prefix", set.prefix, "--state", set.state};
    size_t n = 9;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *err = NULL;
    int rc = st_test_run((char *const *)argv, NULL, out, &err);
    if (rc != 0)
        fprintf(stderr, "hosts_fx: scripts/hosts %s failed (exit %d):\n%s", args[0], rc,
                err ? err : "");
    free(err);
    return rc;
}
#define RUN_SCRIPT(out, ...) run_script(out, (const char *const[]){__VA_ARGS__, NULL})

/* KEY='VALUE' lines of `scripts/hosts env` into *fx. */
static int parse_env(char *text, hosts_fx *fx)
{
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        size_t len = strlen(line);
        if (eq == NULL || eq[1] != '\'' || line[len - 1] != '\'' || len < (size_t)(eq - line) + 3)
            continue;
        *eq = '\0';
        line[len - 1] = '\0';
        const char *key = line, *val = eq + 2;
        int k = 0, used = 0;
        char what[16] = "";
        if (strcmp(key, "STRATA_HOSTS_N") == 0) {
            fx->n = atoi(val);
        } else if (strcmp(key, "STRATA_HOSTS_ADMIN_DSN") == 0) {
            snprintf(fx->admin_dsn, sizeof(fx->admin_dsn), "%s", val);
        } else if (sscanf(key, "STRATA_HOST%d_%15[A-Z]%n", &k, what, &used) == 2 &&
                   key[used] == '\0' && k >= 1 && k <= HOSTS_FX_MAX) {
            if (strcmp(what, "NETNS") == 0)
                snprintf(fx->netns[k], sizeof(fx->netns[k]), "%s", val);
            else if (strcmp(what, "ADDR") == 0)
                snprintf(fx->addr[k], sizeof(fx->addr[k]), "%s", val);
            else if (strcmp(what, "DSN") == 0)
                snprintf(fx->dsn[k], sizeof(fx->dsn[k]), "%s", val);
        }
    }
    for (int k = 1; k <= fx->n; k++)
        if (!fx->netns[k][0] || !fx->dsn[k][0])
            return -1;
    return fx->n >= 1 && fx->admin_dsn[0] ? 0 : -1;
}

static int kid_index(pid_t pid)
{
    for (int i = 0; i < set.nkids; i++)
        if (set.kids[i] == pid)
            return i;
    return -1;
}

static void forget_kid(int i)
{
    set.kids[i] = set.kids[--set.nkids];
}

struct reap {
    pid_t pid;
    int status;
    int state; /* 1 ended (reaped), 0 runs, -1 not our child any more */
};

static bool reaped(void *arg)
{
    struct reap *w = arg;
    pid_t r;
    while ((r = waitpid(w->pid, &w->status, WNOHANG)) < 0 && errno == EINTR)
        ;
    w->state = r == w->pid ? 1 : r == 0 ? 0 : -1;
    return w->state != 0;
}

/* Waits up to timeout_ms for kid i: its wait status, -1 while it runs, -2
 * when it is no longer our child (reaped elsewhere): such a pid is never
 * signalled, the number may belong to another process by now. */
static int reap_kid(int i, int timeout_ms)
{
    struct reap w = {set.kids[i], 0, 0};
    st_test_wait_until(reaped, &w, timeout_ms, 20);
    if (w.state == 0)
        return -1;
    forget_kid(i);
    return w.state == 1 ? w.status : -2;
}

/* sig, then SIGKILL after STOP_MS: the wait status, or -2 (not ours). */
static int stop_kid(int i, int sig)
{
    pid_t pid = set.kids[i];
    int r = reap_kid(i, 0);
    if (r != -1)
        return r;
    kill(pid, sig);
    if ((r = reap_kid(i, STOP_MS)) != -1)
        return r;
    fprintf(stderr, "hosts_fx: pid %d did not end %d s after signal %d: SIGKILL\n", (int)pid,
            STOP_MS / 1000, sig);
    kill(pid, SIGKILL);
    return reap_kid(i, 60000);
}

/* SIGINT, SIGTERM, SIGHUP: what an interrupted run must not leave behind.
 * Only async-signal-safe calls. */
static void on_signal(int sig)
{
    for (int i = 0; i < set.nkids; i++)
        kill(set.kids[i], SIGKILL);
    if (set.up) {
        pid_t pid = fork();
        if (pid == 0) {
            execve(set.script, set.down_argv, environ);
            _exit(127);
        }
        while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void at_exit(void)
{
    hosts_fx_down();
}

static void register_cleanup(void)
{
    if (set.registered)
        return;
    set.registered = true;
    atexit(at_exit);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGABRT};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

static bool valid_host(int k)
{
    if (!set.up || k < 1 || k > HOSTS_FX_MAX) {
        fprintf(stderr, "hosts_fx: no host %d (hosts_fx_up first)\n", k);
        return false;
    }
    return true;
}

/* ---- API ---- */

int hosts_fx_up(int n, const char *prefix, hosts_fx *out)
{
    memset(out, 0, sizeof(*out));
    if (set.up) {
        fprintf(stderr, "hosts_fx: a set (prefix %s) is up already: hosts_fx_down first\n",
                set.prefix);
        return -1;
    }
    if (n < 1 || n > HOSTS_FX_MAX || strlen(prefix) >= sizeof(set.prefix)) {
        fprintf(stderr, "hosts_fx: 1-%d hosts and a prefix under %zu characters, not %d, '%s'\n",
                HOSTS_FX_MAX, sizeof(set.prefix), n, prefix);
        return -1;
    }
    snprintf(set.script, sizeof(set.script), "%s/scripts/hosts", st_test_env("STRATA_SOURCE_DIR"));
    snprintf(set.prefix, sizeof(set.prefix), "%s", prefix);
    snprintf(set.state, sizeof(set.state), "/tmp/strata-hosts-%s", prefix);
    char *argv[] = {set.script, "--prefix", set.prefix, "--state", set.state, "down", NULL};
    memcpy(set.down_argv, argv, sizeof(argv));
    register_cleanup();
    /* From here on down runs, whatever happens: also what a killed
     * earlier run of this prefix left is removed first. */
    set.up = true;
    if (RUN_SCRIPT(NULL, "down") != 0) {
        hosts_fx_down();
        return -1;
    }
    char count[16];
    snprintf(count, sizeof(count), "%d", n);
    char *text = NULL;
    int rc = RUN_SCRIPT(&text, "up", count);
    if (rc == 0 && (parse_env(text, out) != 0 || out->n != n)) {
        fprintf(stderr, "hosts_fx: scripts/hosts up %d printed no set of %d hosts:\n%s\n", n, n,
                text);
        rc = -1;
    }
    free(text);
    if (rc != 0) {
        hosts_fx_down();
        memset(out, 0, sizeof(*out));
        return -1;
    }
    snprintf(out->prefix, sizeof(out->prefix), "%s", set.prefix);
    snprintf(out->state, sizeof(out->state), "%s", set.state);
    return 0;
}

static int link_verb(const char *verb, int k, const char *flag)
{
    if (!valid_host(k))
        return -1;
    char host[16];
    snprintf(host, sizeof(host), "%d", k);
    return RUN_SCRIPT(NULL, verb, host, flag) == 0 ? 0 : -1;
}

int hosts_fx_cut(int k)
{
    return link_verb("cut", k, NULL);
}

int hosts_fx_cut_drop(int k)
{
    return link_verb("cut", k, "--drop");
}

int hosts_fx_heal(int k)
{
    return link_verb("heal", k, NULL);
}

pid_t hosts_fx_spawn(int k, const char *log, const char *const argv[])
{
    if (!valid_host(k))
        return -1;
    if (set.nkids == MAX_KIDS) {
        fprintf(stderr, "hosts_fx: %d processes spawned already\n", MAX_KIDS);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof(path), "/run/netns/%s-h%d", set.prefix, k);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
        fprintf(stderr, "hosts_fx: host %d's namespace %s: %s\n", k, path, strerror(errno));
        return -1;
    }
    int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : 1;
    if (out < 0) {
        fprintf(stderr, "hosts_fx: cannot open %s: %s\n", log, strerror(errno));
        close(ns);
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        if (setns(ns, CLONE_NEWNET) < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(out, 2) < 0)
            _exit(126);
        close_range(3, ~0U, 0);
        execvp(argv[0], (char *const *)argv);
        static const char msg[] = "hosts_fx: exec failed\n";
        if (write(2, msg, sizeof(msg) - 1) < 0)
            _exit(127);
        _exit(127);
    }
    int e = errno;
    close(ns);
    if (log)
        close(out);
    if (pid < 0) {
        fprintf(stderr, "hosts_fx: fork: %s\n", strerror(e));
        return -1;
    }
    set.kids[set.nkids++] = pid;
    return pid;
}

int hosts_fx_stop(pid_t pid, int sig)
{
    int i = kid_index(pid);
    int r = i < 0 ? -1 : stop_kid(i, sig);
    return r < 0 ? -1 : r;
}

int hosts_fx_wait(pid_t pid, int timeout_ms)
{
    int i = kid_index(pid);
    int r = i < 0 ? -1 : reap_kid(i, timeout_ms);
    return r < 0 ? -1 : r;
}

int hosts_fx_sh(int k, char **out, char **err, const char *fmt, ...)
{
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (!valid_host(k))
        return -1;
    char cmd[4096], host[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(host, sizeof(host), "%d", k);
    char *argv[] = {"timeout",  "-k",       "10",      SCRIPT_S,  set.script,
                    "--prefix", set.prefix, "--state", set.state, "exec",
                    host,       "sh",       "-c",      cmd,       NULL};
    return st_test_run(argv, NULL, out, err);
}

void hosts_fx_down(void)
{
    while (set.nkids > 0) {
        int i = set.nkids - 1;
        if (stop_kid(i, SIGTERM) == -1)
            forget_kid(i); /* unkillable: nothing more to do */
    }
    if (!set.up)
        return;
    set.up = false;
    char *out = NULL;
    if (RUN_SCRIPT(&out, "down") != 0)
        fprintf(stderr,
                "hosts_fx: the set %s may be left behind: run scripts/hosts --prefix %s "
                "down\n",
                set.prefix, set.prefix);
    free(out);
}
