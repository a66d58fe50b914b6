/* itest_hosts_fx.c: the multi-host fixture itself (tests/common/hosts_fx,
 * scripts/hosts), before any stratad relies on it: two host namespaces
 * reach the one PostgreSQL, each through its own link, and see each
 * other's rows; a cut partitions exactly one host (a new connection fails
 * within connect_timeout, the other host carries on) and heal undoes it,
 * for both kinds of cut; a spawned process lives in its host's network
 * and ends with the set; and down leaves no namespace, veth, PostgreSQL or
 * state dir. Boots no VM. Prefix strata-fx-hosts; the set is removed in
 * teardown (and at exit, and on SIGINT/SIGTERM), pass or fail. */
#include "hosts_fx.h"
#include "testutil.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "strata-fx-hosts"
/* What a cut host's connection attempt may take: connect_timeout=2, and
 * the rest is psql's and the shell's start. */
#define CONNECT_TIMEOUT_S 2
#define FAIL_BOUND_MS     6000
#define HEAL_MS           15000

static hosts_fx hx;

/* ---- helpers ---- */

/* psql -c SQL from inside host k, connect_timeout=2; exit status. */
static int psql_from(int k, char **out, const char *sql)
{
    char *err = NULL;
    int rc = hosts_fx_sh(k, out, &err,
                         "psql -X -q -A -t -v ON_ERROR_STOP=1 '%s connect_timeout=%d' -c \"%s\"",
                         hx.dsn[k], CONNECT_TIMEOUT_S, sql);
    if (rc != 0)
        fprintf(stderr, "psql from host %d (%s): exit %d: %s\n", k, sql, rc, err ? err : "");
    free(err);
    return rc;
}

static void assert_reaches(int k)
{
    char *out = NULL;
    assert_int_equal(psql_from(k, &out, "SELECT 'host' || 42"), 0);
    assert_non_null(strstr(out, "host42"));
    free(out);
}

/* Host k cannot connect: psql fails, within FAIL_BOUND_MS; the time taken. */
static long long assert_cut_off(int k)
{
    long long t0 = st_test_now_ms();
    char *out = NULL;
    int rc = psql_from(k, &out, "SELECT 1");
    long long took = st_test_now_ms() - t0;
    free(out);
    assert_int_not_equal(rc, 0);
    fprintf(stderr, "host %d cut off: psql failed after %lld ms\n", k, took);
    assert_true(took < FAIL_BOUND_MS);
    return took;
}

static bool reaches(void *arg)
{
    int k = *(int *)arg;
    char *out = NULL;
    int rc = hosts_fx_sh(k, &out, NULL, "psql -X -A -t '%s connect_timeout=%d' -c 'SELECT 1'",
                         hx.dsn[k], CONNECT_TIMEOUT_S);
    free(out);
    return rc == 0;
}

/* The inode of a network namespace, as /proc/PID/ns/net names it. */
static char *ns_id(const char *path)
{
    struct stat st;
    char *s = NULL;
    if (stat(path, &st) == 0 && asprintf(&s, "net:[%lu]", (unsigned long)st.st_ino) < 0)
        s = NULL;
    return s;
}

struct in_ns {
    pid_t pid;
    const char *want;
};

static bool is_in_ns(void *arg)
{
    struct in_ns *w = arg;
    char proc[64], link[128];
    snprintf(proc, sizeof(proc), "/proc/%d/ns/net", (int)w->pid);
    ssize_t n = readlink(proc, link, sizeof(link) - 1);
    if (n <= 0)
        return false;
    link[n] = '\0';
    return strcmp(link, w->want) == 0;
}

/* pid runs (a zombie does not count: nothing here reaps orphans for sure) */
static bool alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    char *stat = st_test_read_file(path);
    const char *end = stat ? strrchr(stat, ')') : NULL;
    bool up = end && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
    free(stat);
    return up;
}

/* ---- tests ---- */

/* Rows written from either host are seen from the other: one database. */
static void test_hosts_share_the_database(void **state)
{
    (void)state;
    assert_int_equal(hx.n, 2);
    assert_int_equal(psql_from(1, NULL, "CREATE TABLE fx_rows (host int, note text)"), 0);
    assert_int_equal(psql_from(1, NULL, "INSERT INTO fx_rows VALUES (1, 'from host 1')"), 0);
    assert_int_equal(psql_from(2, NULL, "INSERT INTO fx_rows VALUES (2, 'from host 2')"), 0);
    for (int k = 1; k <= 2; k++) {
        char *out = NULL;
        assert_int_equal(
            psql_from(k, &out, "SELECT string_agg(note, ',' ORDER BY host) FROM fx_rows"), 0);
        assert_string_equal(out, "from host 1,from host 2\n");
        free(out);
    }
    /* the superuser's socket, from the test's own namespace, sees them too */
    char *out = NULL;
    assert_int_equal(st_test_sh(&out, NULL, "psql -X -A -t '%s' -c 'SELECT count(*) FROM fx_rows'",
                                hx.admin_dsn),
                     0);
    assert_string_equal(out, "2\n");
    free(out);
}

/* Each host reaches only its own link's address; the machine's own
 * namespace holds none of the set's addresses or links. */
static void test_hosts_are_isolated(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_not_equal(hosts_fx_sh(1, NULL, NULL, "psql -X '%s connect_timeout=%d' -c 'SELECT 1'",
                                     hx.dsn[2], CONNECT_TIMEOUT_S),
                         0);
    assert_int_equal(st_test_sh(&out, NULL, "ip -o addr; ip -o link"), 0);
    assert_null(strstr(out, "10.251."));
    assert_null(strstr(out, "veth-h"));
    assert_null(strstr(out, "veth-db"));
    free(out);
}

/* Link down at both ends: host 1 fails at once, host 2 carries on; heal
 * brings host 1 back. */
static void test_cut_and_heal(void **state)
{
    (void)state;
    assert_reaches(1);
    assert_int_equal(hosts_fx_cut(1), 0);
    assert_cut_off(1);
    assert_reaches(2);
    assert_int_equal(hosts_fx_heal(1), 0);
    int k = 1;
    assert_true(st_test_wait_until(reaches, &k, HEAL_MS, 100));
    assert_reaches(2);
}

/* Packets dropped, link up: host 1's connection hangs until its
 * connect_timeout (as on a real network), host 2 carries on; heal. */
static void test_cut_drop_and_heal(void **state)
{
    (void)state;
    assert_int_equal(hosts_fx_cut_drop(1), 0);
    long long took = assert_cut_off(1);
    assert_true(took >= CONNECT_TIMEOUT_S * 1000 - 100);
    assert_reaches(2);
    assert_int_equal(hosts_fx_heal(1), 0);
    int k = 1;
    assert_true(st_test_wait_until(reaches, &k, HEAL_MS, 100));
}

/* left running for test_down_leaves_nothing: a child of the test, and a
 * process that is not */
static pid_t sleeper = -1, orphan = -1;

/* A spawned process runs in its host's network namespace: it reaches the
 * database from there, and /proc says which namespace it is in. */
static void test_spawn_in_a_host(void **state)
{
    (void)state;
    char dsn[300];
    snprintf(dsn, sizeof(dsn), "%s connect_timeout=%d", hx.dsn[2], CONNECT_TIMEOUT_S);
    char log[300];
    snprintf(log, sizeof(log), "%s/spawn.log", hx.state);
    pid_t p = HOSTS_FX_SPAWN(2, log, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                             "INSERT INTO fx_rows VALUES (3, 'spawned in host 2')");
    assert_true(p > 0);
    int st = hosts_fx_wait(p, 20000);
    if (st != 0) {
        char *l = st_test_read_file(log);
        fprintf(stderr, "spawned psql: status %d: %s\n", st, l ? l : "");
        free(l);
    }
    assert_int_equal(st, 0);
    char *out = NULL;
    assert_int_equal(psql_from(1, &out, "SELECT note FROM fx_rows WHERE host = 3"), 0);
    assert_string_equal(out, "spawned in host 2\n");
    free(out);

    sleeper = HOSTS_FX_SPAWN(2, NULL, "sleep", "600");
    assert_true(sleeper > 0);
    char nspath[128];
    snprintf(nspath, sizeof(nspath), "/run/netns/%s", hx.netns[2]);
    char *want = ns_id(nspath), *mine = ns_id("/proc/self/ns/net");
    assert_non_null(want);
    assert_non_null(mine);
    assert_string_not_equal(want, mine);
    /* right after fork the child may not have entered the namespace yet */
    struct in_ns w = {sleeper, want};
    assert_true(st_test_wait_until(is_in_ns, &w, 5000, 20));
    free(want);
    free(mine);
    assert_int_equal(hosts_fx_stop(4242424, SIGTERM), -1); /* not ours: never signalled */

    /* and one that is not the test's child (daemonized through exec):
     * only scripts/hosts down can end it */
    assert_int_equal(
        hosts_fx_sh(1, &out, NULL, "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!"), 0);
    orphan = atoi(out);
    free(out);
    assert_true(orphan > 0);
    assert_true(alive(orphan));
}

/* down: no namespace, veth, PostgreSQL, spawned process or state dir of
 * the set is left; a second down is harmless. */
static void test_down_leaves_nothing(void **state)
{
    (void)state;
    char state_dir[256];
    snprintf(state_dir, sizeof(state_dir), "%s", hx.state);
    long long t0 = st_test_now_ms();
    hosts_fx_down();
    fprintf(stderr, "hosts_fx_down: %lld ms\n", st_test_now_ms() - t0);
    hosts_fx_down();
    /* (pgrep -u postgres: not the shell, whose command line names it too) */
    char *out = NULL;
    assert_int_equal(st_test_sh(&out, NULL,
                                "ip netns list; ip -o link show type veth; "
                                "pgrep -a -u postgres -f '%s' || true",
                                state_dir),
                     0);
    if (strstr(out, PREFIX) || strstr(out, "veth-"))
        fprintf(stderr, "left behind:\n%s", out);
    assert_null(strstr(out, PREFIX));
    assert_null(strstr(out, "veth-"));
    free(out);
    assert_int_not_equal(access(state_dir, F_OK), 0);
    /* down reaped the test's child (it knows it no more) and ended the other */
    assert_true(sleeper > 0 && orphan > 0);
    assert_int_equal(hosts_fx_stop(sleeper, SIGKILL), -1);
    assert_false(alive(orphan));
}

/* ---- setup and teardown ---- */

static int group_setup(void **state)
{
    (void)state;
    long long t0 = st_test_now_ms();
    if (hosts_fx_up(2, PREFIX, &hx) != 0)
        return -1;
    fprintf(stderr, "hosts_fx_up(2): %lld ms\n", st_test_now_ms() - t0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    hosts_fx_down();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_share_the_database),
        cmocka_unit_test(test_hosts_are_isolated),
        cmocka_unit_test(test_cut_and_heal),
        cmocka_unit_test(test_cut_drop_and_heal),
        cmocka_unit_test(test_spawn_in_a_host),
        cmocka_unit_test(test_down_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
