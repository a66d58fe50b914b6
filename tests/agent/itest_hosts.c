/* itest_hosts.c: two stratad on two "hosts" (tests/common/hosts_fx: a
 * network namespace each, one shared PostgreSQL through veth pairs),
 * without VMs: the host leases and the leader lease are the database's
 * (one leader at a time), a second stratad claiming a host name in use is
 * refused, a kill -9'd leader is replaced within its lease, a restarted
 * stratad takes its own host lease back at once, a host cut off from the
 * database fences itself before its lease expires while the other leads on
 * and takes writes, the healed host holds its lease again, writes made
 * through one host are read and watched through the other, a host whose
 * clock is off the database's is told, and `node add --host` refuses a
 * host nobody serves. The VM side (spread 2/2, pods
 * replaced only after the cut host fenced its VMs) is bench/hostloss,
 * whose one-round version is in the suite too. Prefix strata-it-hosts. */
#include "cluster.h"
#include "hosts_fx.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX   "strata-it-hosts"
#define LEASE_MS 6000
/* The leader's takeover after a kill -9: the lease duration from its last
 * renew, the renew interval, and time for the loop's log line. */
#define TAKEOVER_BOUND_MS (LEASE_MS + LEASE_MS / 6 + 3000)

static hosts_fx hx;
static char dir[256];
static pid_t daemon_pid[3];

static void state_of(int k, char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s/h%d%s%s", dir, k, what ? "/" : "", what ? what : "");
}

static pid_t start_host_dsn(int k, const char *host_name, int netns_of, const char *dsn)
{
    char state[300], sock[320], log[320], key[300], lease[16];
    state_of(k, state, sizeof(state), NULL);
    mkdir(state, 0755);
    state_of(k, sock, sizeof(sock), "api.sock");
    state_of(k, log, sizeof(log), "stratad.log");
    snprintf(key, sizeof(key), "%s/secret.key", dir);
    snprintf(lease, sizeof(lease), "%d", LEASE_MS);
    char *bin = st_test_bin("stratad");
    pid_t pid = HOSTS_FX_SPAWN(netns_of, log, bin, "--state-dir", state, "--socket", sock, "--db",
                               dsn, "--host-name", host_name, "--secret-key", key, "--api-listen",
                               "none", "--lease-ms", lease);
    free(bin);
    assert_true(pid > 0);
    return pid;
}

static pid_t start_host(int k, const char *host_name, int dsn_of)
{
    return start_host_dsn(k, host_name, dsn_of, hx.dsn[dsn_of]);
}

struct answers {
    int k;
};

static bool host_answers(void *arg)
{
    int k = ((struct answers *)arg)->k;
    char sock[320];
    state_of(k, sock, sizeof(sock), "api.sock");
    char *bin = st_test_bin("stratactl");
    int rc = st_test_sh(NULL, NULL, "%s --socket %s get nodes >/dev/null 2>&1", bin, sock);
    free(bin);
    return rc == 0;
}

static void wait_answers(int k)
{
    struct answers a = {k};
    assert_true(st_test_wait_until(host_answers, &a, 60000, 100));
}

/* `stratactl --socket HOST_K ARGS`: exit status, output in *out. */
static int ctl(int k, char **out, const char *args)
{
    char sock[320];
    state_of(k, sock, sizeof(sock), "api.sock");
    char *bin = st_test_bin("stratactl");
    int rc = st_test_sh(out, NULL, "%s --socket %s %s 2>&1", bin, sock, args);
    free(bin);
    return rc;
}

/* The holder of a lease, read from the database (superuser, the unix
 * socket: the test's own namespace). Caller frees; "" when none. */
static char *holder(const char *ns, const char *name)
{
    char *out = NULL;
    int rc = st_test_sh(&out, NULL,
                        "psql -X -q -A -t '%s' -c \"SELECT coalesce(object->'spec'->>"
                        "'holderIdentity', '') FROM leases WHERE namespace = '%s' AND name = "
                        "'%s'\"",
                        hx.admin_dsn, ns, name);
    if (rc != 0) {
        free(out);
        return strdup("");
    }
    out[strcspn(out, "\n")] = 0;
    return out;
}

struct holder_is {
    const char *ns, *name, *prefix;
};

static bool holder_starts(void *arg)
{
    struct holder_is *h = arg;
    char *got = holder(h->ns, h->name);
    bool yes = strncmp(got, h->prefix, strlen(h->prefix)) == 0;
    free(got);
    return yes;
}

static bool log_has(int k, const char *text)
{
    char path[320];
    state_of(k, path, sizeof(path), "stratad.log");
    char *body = st_test_read_file(path);
    bool yes = body && strstr(body, text);
    free(body);
    return yes;
}

struct log_wait {
    int k;
    const char *text;
};

static bool log_has_cb(void *arg)
{
    struct log_wait *w = arg;
    return log_has(w->k, w->text);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/%s-%d", PREFIX, getpid());
    mkdir(dir, 0755);
    if (hosts_fx_up(2, PREFIX, &hx) < 0)
        return -1;
    /* One after the other: the first makes the shared Secret key. */
    daemon_pid[1] = start_host(1, "hosta", 1);
    wait_answers(1);
    daemon_pid[2] = start_host(2, "hostb", 2);
    wait_answers(2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k <= 2; k++)
        if (daemon_pid[k] > 0)
            hosts_fx_stop(daemon_pid[k], SIGTERM);
    hosts_fx_down();
    st_test_sh(NULL, NULL, "rm -rf %s", dir);
    return 0;
}

static void test_one_leader_and_host_names(void **state)
{
    (void)state;
    /* hosta started first and leads; each holds its own host lease. */
    struct holder_is lead = {"kube-system", "strata-leader", "hosta/"};
    assert_true(st_test_wait_until(holder_starts, &lead, 10000, 100));
    struct holder_is ha = {"kube-node-lease", "strata-host-hosta", "hosta/"};
    struct holder_is hb = {"kube-node-lease", "strata-host-hostb", "hostb/"};
    assert_true(holder_starts(&ha));
    assert_true(holder_starts(&hb));
    struct log_wait w = {1, "leads the cluster"};
    assert_true(st_test_wait_until(log_has_cb, &w, 10000, 100));
    assert_false(log_has(2, "leads the cluster"));

    /* A second stratad calling itself hostb (its own state dir) is refused
     * while hostb's lease is current, and says why. */
    pid_t dup = start_host(0, "hostb", 2);
    int st = hosts_fx_wait(dup, 30000);
    assert_true(st >= 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    assert_true(log_has(0, "host name hostb is in use by another stratad"));

    /* `node add --host` of a host nobody serves: refused, nothing stored. */
    char *out = NULL;
    assert_int_not_equal(ctl(1, &out, "node add nowhere1 --host hostz --timeout 5"), 0);
    assert_non_null(strstr(out, "host hostz: no stratad serves it"));
    free(out);
    out = NULL;
    assert_int_equal(ctl(2, &out, "get nodes"), 0);
    assert_null(strstr(out, "nowhere1"));
    free(out);
}

/* `stratactl apply` of text through host k: exit status. */
static int apply_text(int k, const char *name, const char *text)
{
    char path[320], args[400];
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    st_test_write_file(path, text);
    snprintf(args, sizeof(args), "apply -f %s", path);
    char *out = NULL;
    int rc = ctl(k, &out, args);
    if (rc != 0)
        fprintf(stderr, "apply %s through host %d: %s\n", name, k, out ? out : "");
    free(out);
    return rc;
}

struct file_has {
    const char *path, *text;
};

static bool file_has_cb(void *arg)
{
    struct file_has *f = arg;
    char *body = st_test_read_file(f->path);
    bool yes = body && strstr(body, f->text);
    free(body);
    return yes;
}

/* A host whose clock is 5 s off the database's is told so (its log and a
 * ClockSkew event): hostc's connection sees a now() 5 s ahead (a function
 * shadowing pg_catalog.now on its search_path), as a database server whose
 * clock runs ahead of this host's would look. */
static void test_clock_skew_reported(void **state)
{
    (void)state;
    assert_int_equal(st_test_sh(NULL, NULL,
                                "psql -X -q '%s' -c \"CREATE SCHEMA IF NOT EXISTS skewclock; "
                                "CREATE OR REPLACE FUNCTION skewclock.now() RETURNS timestamptz "
                                "LANGUAGE sql STABLE AS \\$\\$ SELECT pg_catalog.now() + "
                                "interval '5 seconds' \\$\\$; GRANT USAGE ON SCHEMA skewclock "
                                "TO strata\"",
                                hx.admin_dsn),
                     0);
    char dsn[600];
    snprintf(dsn, sizeof(dsn), "%s options='-c search_path=public,skewclock,pg_catalog'",
             hx.dsn[2]);
    daemon_pid[0] = start_host_dsn(0, "hostc", 2, dsn);
    struct log_wait w = {0, "its clock is"};
    bool seen = st_test_wait_until(log_has_cb, &w, 20000, 100);
    hosts_fx_stop(daemon_pid[0], SIGTERM);
    daemon_pid[0] = -1;
    assert_true(seen);
    assert_true(log_has(0, "off the database's"));
}

static void test_writes_across_hosts(void **state)
{
    (void)state;
    /* A watch on hosta (its API, unix socket) hears what hostb writes:
     * every stratad tails the store's change feed. */
    char sock[320], watch_out[320];
    state_of(1, sock, sizeof(sock), "api.sock");
    snprintf(watch_out, sizeof(watch_out), "%s/watch.out", dir);
    assert_int_equal(st_test_sh(NULL, NULL,
                                "timeout 30 curl -sN --unix-socket %s "
                                "'http://localhost/api/v1/namespaces?watch=1' > %s 2>&1 &",
                                sock, watch_out),
                     0);
    /* A Namespace and a Secret written through hostb, read through hosta
     * (the one key seals and opens it). */
    assert_int_equal(apply_text(2, "crosshost",
                                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: crosshost\n"
                                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n"
                                "  namespace: crosshost\nstringData:\n  k: v-from-hostb\n"),
                     0);
    char *out = NULL;
    assert_int_equal(ctl(1, &out, "get secret s1 -n crosshost -o json"), 0);
    /* "v-from-hostb" in base64 */
    assert_non_null(strstr(out, "di1mcm9tLWhvc3Ri"));
    free(out);
    struct file_has seen = {watch_out, "\"name\":\"crosshost\""};
    assert_true(st_test_wait_until(file_has_cb, &seen, 10000, 100));
    st_test_sh(NULL, NULL, "pkill -f 'unix-socket %s' || true", sock);
}

static void test_leader_killed(void **state)
{
    (void)state;
    /* kill -9 of the leader: hostb takes the leader lease within the
     * lease (+ a renew and the log line), and the controllers run there. */
    long long t0 = st_test_now_ms();
    hosts_fx_stop(daemon_pid[1], SIGKILL);
    daemon_pid[1] = -1;
    struct holder_is lead = {"kube-system", "strata-leader", "hostb/"};
    assert_true(st_test_wait_until(holder_starts, &lead, TAKEOVER_BOUND_MS, 100));
    fprintf(stderr, "leader lease taken over by hostb %lld ms after the kill -9\n",
            st_test_now_ms() - t0);
    struct log_wait w = {2, "leads the cluster"};
    assert_true(st_test_wait_until(log_has_cb, &w, 5000, 100));

    /* hosta again, same state dir: the same holder, its host lease at once
     * (no wait for the old one to expire), and it does not lead. */
    daemon_pid[1] = start_host(1, "hosta", 1);
    wait_answers(1);
    struct holder_is ha = {"kube-node-lease", "strata-host-hosta", "hosta/"};
    assert_true(holder_starts(&ha));
    struct holder_is still = {"kube-system", "strata-leader", "hostb/"};
    assert_true(holder_starts(&still));
}

static void test_host_cut_off(void **state)
{
    (void)state;
    /* hosta (not the leader now) loses its link to the database: it fences
     * itself before its lease could expire; hostb leads on and takes
     * writes. */
    long long t0 = st_test_now_ms();
    assert_int_equal(hosts_fx_cut(1), 0);
    struct log_wait fenced = {1, "self-fence done"};
    assert_true(st_test_wait_until(log_has_cb, &fenced, LEASE_MS, 50));
    fprintf(stderr, "hosta fenced itself %lld ms after the cut\n", st_test_now_ms() - t0);
    assert_int_equal(
        apply_text(2, "afterthecut",
                   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: afterthecut\n"),
        0);
    struct holder_is lead = {"kube-system", "strata-leader", "hostb/"};
    assert_true(holder_starts(&lead));

    /* Healed: hosta renews its lease again and serves the shared store. */
    assert_int_equal(hosts_fx_heal(1), 0);
    struct log_wait back = {1, "holds its lease again"};
    assert_true(st_test_wait_until(log_has_cb, &back, 30000, 100));
    char *out = NULL;
    struct answers a = {1};
    assert_true(st_test_wait_until(host_answers, &a, 30000, 200));
    assert_int_equal(ctl(1, &out, "get namespace afterthecut"), 0);
    free(out);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_hosts: needs root (network namespaces, PostgreSQL)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_leader_and_host_names),
        cmocka_unit_test(test_writes_across_hosts),
        cmocka_unit_test(test_clock_skew_reported),
        cmocka_unit_test(test_leader_killed),
        cmocka_unit_test(test_host_cut_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
