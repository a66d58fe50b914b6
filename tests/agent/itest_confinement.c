/* itest_confinement.c: pods in a real node VM (TCG here) trying to break
 * out, through stratad and stratactl as a user runs them, with ONE node.
 * The pods run confine-probe (tests/runtime/confine_probe.c, in the busybox
 * image) under what every pod gets: RuntimeDefault seccomp, containerd's 14
 * default capabilities, masked and read-only paths, a pids limit; the probe
 * prints one line per attempt ("mount: EPERM") and the tests assert on
 * those exact lines from `stratactl logs`. Also: a fork bomb and a memory
 * hog leave the node Ready and a neighbour pod untouched; a pod finds no
 * trace of another pod's Secret, files or processes, nor of the node agent;
 * the API socket and the kubeconfig refuse a non-root user. Domains are
 * strata-cf<pid>-*, removed in teardown, pass or fail. */
#include "cluster.h"
#include "probe_out.h"
#include "testutil.h"

#include "strata/cleanup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct st_cluster cl;
static char node[64]; /* the one node's name */

#define WAIT_MS 120000
/* containerd's default set (runtime/node/pod_spec.c): CHOWN, DAC_OVERRIDE,
 * FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW,
 * SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP */
#define POD_CAPS "00000000a80425fb"

/* ---- helpers ---- */

struct want {
    const char *pod;
    const char *phase;
};

static bool pod_in_phase(void *arg)
{
    const struct want *w = arg;
    _cleanup_json_ json_t *p = st_cluster_pod(&cl, w->pod);
    const char *phase = p ? st_json_str(p, "status", "phase") : NULL;
    return phase && strcmp(phase, w->phase) == 0;
}

static void wait_phase(const char *pod, const char *phase)
{
    struct want w = {pod, phase};
    if (st_test_wait_until(pod_in_phase, &w, WAIT_MS, 250))
        return;
    char *out = NULL;
    st_cluster_ctl(&cl, &out, NULL, "describe pod %s", pod);
    fail_msg("pod %s: not %s within %d s:\n%s", pod, phase, WAIT_MS / 1000, out ? out : "");
}

/* `stratactl logs POD`, malloc'd ("" when it fails). */
static char *logs_of(const char *pod)
{
    char *out = NULL;
    if (st_cluster_ctl(&cl, &out, NULL, "logs %s", pod) != 0) {
        free(out);
        return strdup("");
    }
    return out;
}

struct said {
    const char *pod, *text;
};

static bool logs_say(void *arg)
{
    const struct said *s = arg;
    _cleanup_free_ char *out = logs_of(s->pod);
    return strstr(out, s->text) != NULL;
}

static void wait_logs_say(const char *pod, const char *text)
{
    struct said s = {pod, text};
    if (st_test_wait_until(logs_say, &s, WAIT_MS, 250))
        return;
    _cleanup_free_ char *out = logs_of(pod);
    fail_msg("pod %s did not log \"%s\" within %d s:\n%s", pod, text, WAIT_MS / 1000, out);
}

/* Logs of a pod that ran to Succeeded, echoed for ctest -V. */
static char *finished_logs(const char *pod)
{
    wait_phase(pod, "Succeeded");
    char *out = logs_of(pod);
    print_message("%s:\n%s", pod, out);
    return out;
}

static bool node_ready(void)
{
    char what[128];
    snprintf(what, sizeof(what), "node %s", node);
    _cleanup_json_ json_t *n = st_cluster_get(&cl, what);
    return n && st_json_condition(n, "Ready");
}

/* The neighbour: Running, never restarted, its last state empty. */
static void expect_calm_untouched(void)
{
    _cleanup_json_ json_t *p = st_cluster_pod(&cl, "calm");
    assert_non_null(p);
    assert_string_equal(st_json_str(p, "status", "phase"), "Running");
    json_t *cs = st_pod_container0(p);
    assert_int_equal(json_integer_value(json_object_get(cs, "restartCount")), 0);
    assert_null(st_json_str(json_object_get(cs, "lastState"), "terminated", "reason"));
}

static void delete_pod(const char *pod)
{
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "delete pod %s", pod), 0);
}

static bool pod_gone(void *arg)
{
    return st_cluster_ctl(&cl, NULL, NULL, "get pod %s >/dev/null 2>&1", (const char *)arg) != 0;
}

/* A pod of one container, restartPolicy Never. command: a YAML flow list;
 * extra: more lines of the container (indented 6), or "". */
static void apply_pod(const char *name, const char *command, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  restartPolicy: Never\n"
             "  containers:\n  - name: main\n    image: busybox\n    command: %s\n%s",
             name, command, extra);
    st_cluster_apply_text(&cl, name, text);
}

/* What strata-node gives each container (pod_spec.c): one pid per 512 KiB
 * of the node's memory, 64 to 1024. */
static long node_pids_limit(void)
{
    char what[128];
    snprintf(what, sizeof(what), "node %s", node);
    _cleanup_json_ json_t *n = st_cluster_get(&cl, what);
    const char *mem = json_string_value(
        json_object_get(json_object_get(json_object_get(n, "status"), "capacity"), "memory"));
    assert_non_null(mem);
    long kib = strtol(mem, NULL, 10);
    assert_non_null(strstr(mem, "Ki"));
    long limit = kib / 512;
    return limit > 1024 ? 1024 : limit < 64 ? 64 : limit;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    static const char *const one[] = {"a"};
    if (st_cluster_up(&cl, "cf", one, 1) != 0)
        return -1;
    snprintf(node, sizeof(node), "%sa", cl.prefix);
    /* the neighbour every stress test checks on */
    st_cluster_apply_text(&cl, "calm",
                          "apiVersion: v1\nkind: Pod\nmetadata: {name: calm}\nspec:\n"
                          "  containers:\n  - name: main\n    image: busybox\n"
                          "    command: [sleep, '100000']\n"
                          "    resources: {limits: {memory: 16Mi}}\n");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    return 0;
}

/* ---- the tests ---- */

/* Root in a pod: RuntimeDefault denies mount, umount, a user namespace,
 * keyctl, bpf and ptrace (EPERM); no CAP_SYS_ADMIN anywhere and none to
 * gain; masked paths read empty; read-only paths refuse writing. */
static void test_pod_denied_syscalls_caps_paths(void **state)
{
    (void)state;
    wait_phase("calm", "Running");
    apply_pod("probe-root",
              "[/bin/confine-probe, privs, mount, umount, /proc/keys, unshare-user, keyctl, bpf, "
              "ptrace, sethostname, capset, mknod, 'c:1:11', vports, read, /proc/kcore, read, "
              "/proc/keys, read, /proc/timer_list, read, /sys/firmware, write, "
              "/proc/sys/vm/drop_caches, write, /proc/sys/kernel/core_pattern, write, "
              "/proc/sysrq-trigger, write, /sys/kernel/mm/transparent_hugepage/enabled, read, "
              "/proc/self/status]",
              "");
    _cleanup_free_ char *out = finished_logs("probe-root");
    /* Kubernetes' default: privilege escalation allowed, so no_new_privs 0 */
    st_probe_expect_line(out, "privs",
                         "uid=0 euid=0 nnp=0 seccomp=2 capeff=" POD_CAPS " capprm=" POD_CAPS
                         " capbnd=" POD_CAPS " capamb=0000000000000000 sys_admin=none");
    st_probe_expect_line(out, "mount", "EPERM");
    st_probe_expect_line(out, "umount /proc/keys", "EPERM");
    st_probe_expect_line(out, "unshare-user", "EPERM");
    st_probe_expect_line(out, "keyctl", "EPERM");
    st_probe_expect_line(out, "bpf", "EPERM");
    st_probe_expect_line(out, "ptrace", "EPERM");
    st_probe_expect_line(out, "sethostname", "EPERM");
    st_probe_expect_line(out, "capset", "EPERM");
    /* CAP_MKNOD is in the default set; the pod's device rules deny all but
     * the runtime's defaults, so where strata-run enforces them (the v2 BPF
     * device filter) mknod itself is refused. Where it does not, only the
     * devices' own rules refuse: /dev/kmsg wants CAP_SYSLOG, the node's
     * virtio-serial ports (its channel to stratad) are held open by
     * strata-node (EBUSY). Never opened, whichever refuses. */
    st_probe_expect_either(out, "mknod c:1:11", "open EPERM", "mknod EPERM");
    if (strstr(out, ": OPENED"))
        fail_msg("a pod opened a device of the node:\n%s", out);
    st_probe_expect_has(out, "vports", "n=");
    st_probe_expect_either(out, "read /proc/kcore", "EMPTY", "ENOENT");
    st_probe_expect_line(out, "read /proc/keys", "EMPTY");
    st_probe_expect_either(out, "read /proc/timer_list", "EMPTY", "ENOENT");
    st_probe_expect_either(out, "read /sys/firmware", "EMPTY", "ENOENT");
    st_probe_expect_line(out, "write /proc/sys/vm/drop_caches", "EROFS");
    st_probe_expect_line(out, "write /proc/sys/kernel/core_pattern", "EROFS");
    st_probe_expect_either(out, "write /proc/sysrq-trigger", "EROFS", "ENOENT");
    st_probe_expect_either(out, "write /sys/kernel/mm/transparent_hugepage/enabled", "EROFS",
                           "ENOENT");
    st_probe_expect_has(out, "read /proc/self/status", "DATA ");
    delete_pod("probe-root");
}

/* A setuid-root binary run by nobody: with allowPrivilegeEscalation false
 * (no_new_privs) it stays nobody with no capability; with Kubernetes'
 * default it becomes root, yet holds only the bounding set, never
 * CAP_SYS_ADMIN. */
static void test_pod_setuid(void **state)
{
    (void)state;
    apply_pod("suid-nnp", "[/bin/confine-probe-suid, privs]",
              "    securityContext: {runAsUser: 65534, runAsGroup: 65534, "
              "allowPrivilegeEscalation: false}\n");
    apply_pod("suid-default", "[/bin/confine-probe-suid, privs]",
              "    securityContext: {runAsUser: 65534, runAsGroup: 65534}\n");
    _cleanup_free_ char *nnp = finished_logs("suid-nnp");
    st_probe_expect_line(nnp, "privs",
                         "uid=65534 euid=65534 nnp=1 seccomp=2 capeff=0000000000000000 "
                         "capprm=0000000000000000 capbnd=" POD_CAPS
                         " capamb=0000000000000000 sys_admin=none");
    _cleanup_free_ char *dflt = finished_logs("suid-default");
    st_probe_expect_line(dflt, "privs",
                         "uid=65534 euid=0 nnp=0 seccomp=2 capeff=" POD_CAPS " capprm=" POD_CAPS
                         " capbnd=" POD_CAPS " capamb=0000000000000000 sys_admin=none");
    delete_pod("suid-nnp");
    delete_pod("suid-default");
}

/* One pod holds a Secret in its env and a file; another pod sees neither,
 * nor the first pod's processes, nor the node agent's files. */
static void test_pod_isolation(void **state)
{
    (void)state;
    char secret[64], marker[64], text[2048];
    snprintf(secret, sizeof(secret), "s3cret-%d-f00d", (int)getpid());
    snprintf(marker, sizeof(marker), "confine-marker-%d", (int)getpid());
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Secret\nmetadata: {name: confine-secret}\n"
             "stringData: {token: %s}\n---\n"
             "apiVersion: v1\nkind: Pod\nmetadata: {name: holder}\nspec:\n"
             "  containers:\n  - name: main\n    image: busybox\n"
             "    command: [sh, -c, 'echo \"$TOKEN\" >/tmp/%s && echo written && "
             "exec sleep 100000']\n"
             "    env:\n    - name: TOKEN\n"
             "      valueFrom: {secretKeyRef: {name: confine-secret, key: token}}\n",
             secret, marker);
    st_cluster_apply_text(&cl, "holder", text);
    wait_logs_say("holder", "written");

    snprintf(text, sizeof(text),
             "[/bin/confine-probe, ps, find-env, %s, find-file, %s, grep-fs, %s, find-file, "
             "strata-node, read, /var/lib/strata]",
             secret, marker, secret);
    apply_pod("prober", text, "");
    _cleanup_free_ char *out = finished_logs("prober");
    st_probe_expect_has(out, "ps", "n=1 1/confine-probe");
    st_probe_expect_has(out, "find-env", "absent");
    st_probe_expect_line(out, "grep-fs", "absent");
    st_probe_expect_line(out, "read /var/lib/strata", "ENOENT");
    /* both find-file lines (the marker, the node agent's binary) */
    if (strstr(out, "present"))
        fail_msg("the prober found something:\n%s", out);
    int absent = 0;
    for (const char *q = out; (q = strstr(q, "find-file: absent\n")) != NULL; q++)
        absent++;
    assert_int_equal(absent, 2);
    delete_pod("prober");
    delete_pod("holder");
    assert_int_equal(st_cluster_ctl(&cl, NULL, NULL, "delete secret confine-secret"), 0);
}

static bool ready_cond(void *arg)
{
    (void)arg;
    return node_ready();
}

/* A fork bomb in a BestEffort pod stops at the container's pids limit; while
 * it holds, the node stays Ready, the neighbour runs on and a new pod
 * starts and finishes; deleted, the bomb cleans up and the node is Ready. */
static void test_pod_fork_bomb(void **state)
{
    (void)state;
    long limit = node_pids_limit();
    apply_pod("bomb", "[/bin/confine-probe, forkbomb]", "");
    wait_logs_say("bomb", "forkbomb: ");
    _cleanup_free_ char *out = logs_of("bomb");
    print_message("bomb (limit %ld):\n%s", limit, out);
    char want[64];
    snprintf(want, sizeof(want), "EAGAIN procs=%ld ", limit);
    st_probe_expect_has(out, "forkbomb", want);

    assert_true(node_ready());
    expect_calm_untouched();
    apply_pod("after-bomb", "[sh, -c, 'echo alive']", "");
    _cleanup_free_ char *alive = finished_logs("after-bomb");
    assert_non_null(strstr(alive, "alive"));
    assert_true(node_ready());
    /* still holding: the bomb did not end on its own meanwhile */
    _cleanup_json_ json_t *b = st_cluster_pod(&cl, "bomb");
    assert_string_equal(st_json_str(b, "status", "phase"), "Running");

    delete_pod("bomb");
    assert_true(st_test_wait_until(pod_gone, "bomb", WAIT_MS, 250));
    delete_pod("after-bomb");
    assert_true(st_test_wait_until(ready_cond, NULL, 10000, 250));
    expect_calm_untouched();
}

/* Memory over the limit: the hog is OOMKilled, exit 137; the neighbour and
 * the node are untouched. */
static void test_pod_oom(void **state)
{
    (void)state;
    apply_pod("hog", "[/bin/confine-probe, hog, '512']",
              "    resources: {limits: {memory: 32Mi}}\n");
    wait_phase("hog", "Failed");
    _cleanup_json_ json_t *p = st_cluster_pod(&cl, "hog");
    json_t *term = json_object_get(json_object_get(st_pod_container0(p), "state"), "terminated");
    assert_string_equal(json_string_value(json_object_get(term, "reason")), "OOMKilled");
    assert_int_equal(json_integer_value(json_object_get(term, "exitCode")), 137);
    _cleanup_free_ char *out = logs_of("hog");
    assert_null(strstr(out, "survived"));
    assert_true(node_ready());
    expect_calm_untouched();
    delete_pod("hog");
}

/* The API socket and the kubeconfig are root's alone (0600): nobody cannot
 * connect or read them, even with the state dir open to all, and the
 * HTTPS port without the token is refused. */
static void test_api_refuses_non_root(void **state)
{
    (void)state;
    struct stat st;
    char kubeconfig[600];
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", cl.state_dir);
    assert_int_equal(stat(cl.sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(stat(kubeconfig, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, 0);

    /* the modes, not the folder, must be what refuses: open the folder */
    struct stat dir;
    assert_int_equal(stat(cl.state_dir, &dir), 0);
    assert_int_equal(chmod(cl.state_dir, 0711), 0);
    char *out = NULL, *err = NULL;
    int rc = st_test_sh(&out, &err,
                        "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                        "%s/stratactl --socket %s get pods",
                        st_test_env("STRATA_BIN_DIR"), cl.sock);
    char *cat_err = NULL;
    int cat = st_test_sh(NULL, &cat_err,
                         "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                         "cat %s",
                         kubeconfig);
    chmod(cl.state_dir, dir.st_mode & 07777);
    print_message("stratactl as nobody: rc %d: %s%s\ncat kubeconfig as nobody: rc %d: %s\n", rc,
                  out, err, cat, cat_err);
    assert_int_not_equal(rc, 0);
    if (strcasestr(err, "permission denied") == NULL)
        fail_msg("stratactl as nobody did not say why it was refused: %s%s", out, err);
    assert_int_not_equal(cat, 0);
    assert_non_null(strcasestr(cat_err, "permission denied"));
    free(out);
    free(err);
    free(cat_err);

    /* the HTTPS port (its address in the kubeconfig) without the token */
    _cleanup_free_ char *kc = st_test_read_file(kubeconfig);
    assert_non_null(kc);
    char *server = strstr(kc, "server: https://");
    assert_non_null(server);
    char url[256];
    assert_int_equal(sscanf(server, "server: %200s", url), 1);
    _cleanup_free_ char *code = NULL;
    rc = st_test_sh(&code, NULL,
                    "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                    "curl -sk -o /dev/null -w '%%{http_code}' %s/api/v1/secrets",
                    url);
    assert_int_equal(rc, 0);
    assert_string_equal(code, "401");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_denied_syscalls_caps_paths),
        cmocka_unit_test(test_pod_setuid),
        cmocka_unit_test(test_pod_isolation),
        cmocka_unit_test(test_pod_fork_bomb),
        cmocka_unit_test(test_pod_oom),
        cmocka_unit_test(test_api_refuses_non_root),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
