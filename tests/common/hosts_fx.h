/* hosts_fx.h: several "hosts" on one machine for the multi-host tests
 * (issue 17), through scripts/hosts: host K is the network namespace
 * PREFIX-hK, linked by its own veth pair to PREFIX-db, where one shared
 * PostgreSQL runs; cutting a host's link partitions that host from the
 * database and nothing else. Processes of a host (stratad) are started in
 * its namespace by hosts_fx_spawn; they share the test's files and mounts,
 * only their network is the host's.
 *
 * One set per test program (the functions keep it): hosts_fx_up registers
 * hosts_fx_down at exit and on SIGINT/SIGTERM/SIGHUP, and removes a set of
 * the same prefix an earlier, killed run left; a test's teardown calls
 * hosts_fx_down too. A prefix names one test program ("strata-fx-NAME"):
 * no two programs running at once may share it. Root only. */
#ifndef STRATA_TEST_HOSTS_FX_H
#define STRATA_TEST_HOSTS_FX_H

#include <stdbool.h>
#include <sys/types.h>

#define HOSTS_FX_MAX 8 /* hosts in a set (scripts/hosts allows 250) */

typedef struct hosts_fx {
    int n;
    char prefix[32];
    char state[256];     /* scripts/hosts --state: PostgreSQL's files */
    char admin_dsn[512]; /* superuser, over the unix socket: from the test's own namespace */
    /* [1..n]: host K's namespace, its address and the DSN of database
     * strata (role strata, password) from inside it */
    char netns[HOSTS_FX_MAX + 1][64];
    char addr[HOSTS_FX_MAX + 1][32];
    char dsn[HOSTS_FX_MAX + 1][256];
} hosts_fx;

/* scripts/hosts up n --prefix PREFIX (state /tmp/strata-hosts-PREFIX):
 * fills *out. 0, or -1 with the script's message printed and nothing left
 * behind. */
int hosts_fx_up(int n, const char *prefix, hosts_fx *out);

/* Partitions host k from the database: its link down at both ends (a new
 * connection fails at once, "Network is unreachable"), or with drop every
 * packet on it dropped, the link up (a new connection hangs until its
 * connect_timeout, as on a real network). 0, or -1 (printed). */
int hosts_fx_cut(int k);
int hosts_fx_cut_drop(int k);
/* Undoes either cut. 0, or -1 (printed). */
int hosts_fx_heal(int k);

/* Starts argv (NULL-terminated; argv[0] a path or a name on PATH) in host
 * k's network namespace, stdin /dev/null, stdout and stderr appended to
 * log (NULL: the test's). Only its network is the host's: files, mounts
 * and unix sockets (stratad's --socket) are the test's. It dies with the
 * test (PR_SET_PDEATHSIG: call from the main thread, the signal follows
 * the thread that forked) and hosts_fx_down ends it if it still runs. The
 * pid, or -1 (printed). */
pid_t hosts_fx_spawn(int k, const char *log, const char *const argv[]);
#define HOSTS_FX_SPAWN(k, log, ...) hosts_fx_spawn(k, log, (const char *const[]){__VA_ARGS__, NULL})

/* Signals a process hosts_fx_spawn started and reaps it (bounded: SIGKILL
 * after 10 s). Its wait status, or -1 when it is not one of ours. */
int hosts_fx_stop(pid_t pid, int sig);
/* Reaps such a process when it ends within timeout_ms: its wait status,
 * or -1 (still running, or not ours). Reap them only through these two:
 * hosts_fx_down signals the ones it still knows. */
int hosts_fx_wait(pid_t pid, int timeout_ms);

/* Runs sh -c CMD in host k's namespace (scripts/hosts exec), stdout and
 * stderr captured (either may be NULL); returns the exit status. */
int hosts_fx_sh(int k, char **out, char **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends the processes hosts_fx_spawn started (SIGTERM, then SIGKILL after
 * 10 s) and runs scripts/hosts down: no namespace, PostgreSQL or state
 * dir of the set remains. Does nothing when no set is up; safe twice. */
void hosts_fx_down(void);

#endif
