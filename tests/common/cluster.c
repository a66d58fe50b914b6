/* cluster.c: see cluster.h. */
#include "cluster.h"
#include "testutil.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void st_cluster_init(struct st_cluster *c, const char *tag)
{
    memset(c, 0, sizeof(*c));
    c->daemon = -1;
    snprintf(c->prefix, sizeof(c->prefix), "%s%d-", tag, (int)getpid());
    c->state_dir = st_test_mkdtemp("strata-cluster");
    snprintf(c->sock, sizeof(c->sock), "%s/api.sock", c->state_dir);
}

int st_cluster_ctl(struct st_cluster *c, char **out, char **err, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    char *bin = st_test_bin("stratactl");
    int rc = st_test_sh(out, err, "%s --socket %s %s", bin, c->sock, args);
    free(bin);
    return rc;
}

json_t *st_cluster_get(struct st_cluster *c, const char *what)
{
    char *out = NULL, *err = NULL;
    int rc = st_cluster_ctl(c, &out, &err, "get %s -o json", what);
    json_t *j = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    if (j == NULL)
        print_error("stratactl get %s -o json: rc %d: %s%s\n", what, rc, out ? out : "",
                    err ? err : "");
    free(out);
    free(err);
    return j;
}

bool st_cluster_answers(void *arg)
{
    return st_cluster_ctl(arg, NULL, NULL, "get nodes >/dev/null 2>&1") == 0;
}

void st_cluster_spawn(struct st_cluster *c)
{
    char *bin = st_test_bin("stratad");
    char log[600];
    snprintf(log, sizeof(log), "%s/stratad.log", c->state_dir);
    /* Port 0: tests never collide on 6443 with another stratad; the
     * kubeconfig in the state dir names the port picked. */
    const char *argv[32] = {bin,     "--state-dir",  c->state_dir, "--socket",
                            c->sock, "--api-listen", "127.0.0.1:0"};
    size_t n = 7;
    for (size_t i = 0; c->daemon_args && c->daemon_args[i] && n < 31; i++)
        argv[n++] = c->daemon_args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen(log, "a", stderr) == NULL)
            _exit(126);
        if (c->netns) {
            char ns[300];
            snprintf(ns, sizeof(ns), "/run/netns/%s", c->netns);
            int fd = open(ns, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                fprintf(stderr, "cluster: cannot enter network namespace %s: %m\n", ns);
                _exit(125);
            }
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    free(bin);
    c->daemon = pid;
}

void st_cluster_start(struct st_cluster *c)
{
    st_cluster_spawn(c);
    assert_true(st_test_wait_until(st_cluster_answers, c, 60000, 100));
}

void st_cluster_stop(struct st_cluster *c, int sig)
{
    if (c->daemon <= 0)
        return;
    kill(c->daemon, sig);
    int st;
    waitpid(c->daemon, &st, 0);
    c->daemon = -1;
}

void st_cluster_teardown(struct st_cluster *c)
{
    st_cluster_stop(c, SIGTERM);
    st_test_sh(
        NULL, NULL,
        "for d in $(timeout 20 virsh -c qemu:///system list --all --name | grep '^strata-%s'); "
        "do timeout 20 virsh -c qemu:///system destroy $d; "
        "timeout 20 virsh -c qemu:///system undefine $d; done >/dev/null 2>&1",
        c->prefix);
    /* A daemon killed mid-test leaves its PostgreSQL: stop it too. */
    st_test_sh(NULL, NULL,
               "d=%s/pg/data; [ -f $d/postmaster.pid ] && for c in "
               "/usr/lib/postgresql/*/bin/pg_ctl; "
               "do su postgres -s /bin/sh -c \"$c stop -D $d -m immediate\"; done >/dev/null 2>&1",
               c->state_dir);
    if (getenv("STRATA_TEST_KEEP_LOGS"))
        st_test_sh(NULL, NULL, "cp %s/stratad.log /tmp/strata-test-%s.log", c->state_dir,
                   c->prefix);
    st_test_rmrf(c->state_dir);
    free(c->state_dir);
    c->state_dir = NULL;
}

int st_cluster_add_nodes(struct st_cluster *c, const char *const *suffixes, size_t n)
{
    char names[512] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof(names) - len, " %s%s", c->prefix, suffixes[i]);
    }
    char *out = NULL, *err = NULL;
    int rc = st_test_sh(&out, &err,
                        "b=%s/stratactl; p=; for n in %s; do $b --socket %s node add $n & "
                        "p=\"$p $!\"; done; s=0; for x in $p; do wait $x || s=1; done; exit $s",
                        st_test_env("STRATA_BIN_DIR"), names, c->sock);
    if (rc != 0)
        print_error("node add:%s: %s%s\n", names, out ? out : "", err ? err : "");
    free(out);
    free(err);
    return rc;
}

static bool shut_off(void *arg)
{
    char *out = NULL;
    st_test_sh(&out, NULL, "virsh -c qemu:///system domstate strata-%s", (const char *)arg);
    bool off = out && strstr(out, "shut off");
    free(out);
    return off;
}

bool st_cluster_domain_shut_off(struct st_cluster *c, const char *node, int timeout_ms)
{
    (void)c;
    return st_test_wait_until(shut_off, (void *)node, timeout_ms, 100);
}

void st_cluster_apply_text(struct st_cluster *c, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s.yaml", c->state_dir, name);
    st_test_write_file(path, text);
    char *err = NULL;
    int rc = st_cluster_ctl(c, NULL, &err, "apply -f %s", path);
    if (rc != 0)
        print_error("apply %s: %s\n", name, err ? err : "");
    free(err);
    assert_int_equal(rc, 0);
}

void st_cluster_import_busybox(struct st_cluster *c)
{
    char *err = NULL;
    /* the OCI image layout the build made (scripts/mkimage) */
    int rc = st_cluster_ctl(c, NULL, &err, "image import busybox %s",
                            st_test_env("STRATA_TEST_BUSYBOX_IMAGE"));
    if (rc != 0)
        print_error("image import: %s\n", err ? err : "");
    free(err);
    assert_int_equal(rc, 0);
}

int st_cluster_up(struct st_cluster *c, const char *tag, const char *const *suffixes, size_t n)
{
    st_cluster_init(c, tag);
    st_cluster_start(c);
    st_cluster_import_busybox(c);
    if (st_cluster_add_nodes(c, suffixes, n) != 0) {
        st_cluster_teardown(c);
        return -1;
    }
    return 0;
}

json_t *st_cluster_pod(struct st_cluster *c, const char *name)
{
    char what[300];
    snprintf(what, sizeof(what), "pod %s", name);
    return st_cluster_get(c, what);
}

json_t *st_pod_container0(json_t *pod)
{
    return json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0);
}

bool st_json_condition(json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0)
            return strcmp(s, "True") == 0;
    }
    return false;
}

const char *st_json_str(json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b));
}
