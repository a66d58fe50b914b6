/* itest_node_podnet.c: strata-node's pod network (podnet.c, sandbox.c) on
 * the real kernel, on the host: the test process first moves into a
 * network namespace of its own (unshare), so the bridge, the veth pairs and
 * the service route exist only there and vanish with the process, however
 * the test ends; the sandboxes are its children and die with it
 * (PDEATHSIG). Two fake pods get addresses and reach each other over TCP;
 * a pod reaches a listener on a clusterIP (the local route of the service
 * CIDR, where strata-node's relay listens); taking a sandbox down frees
 * its veth and address. No packet leaves the namespace. */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct st_node_cidr POD_CIDR = {.addr = 0x0af40900, .prefix = 24}; /* 10.244.9.0 */
static const struct st_node_cidr SVC_CIDR = {.addr = 0x0a600000, .prefix = 16}; /* 10.96.0.0 */

static int listen_on(uint32_t addr, int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(addr);
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("bind %08x:%d: %s", addr, port, strerror(errno));
    assert_int_equal(listen(s, 4), 0);
    return s;
}

/* Serves one connection on s: answers "hello from <who>". */
static void serve_one(int s, const char *who)
{
    int c = accept(s, NULL, NULL);
    if (c < 0)
        return;
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "hello from %s", who);
    (void)!write(c, msg, (size_t)n);
    close(c);
}

/* In a forked child: into the network namespace of pid, or exit 10. */
static void enter_netns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
        _exit(10);
    close(ns);
}

/* In a child that enters the network namespace of pid: connects to
 * addr:port and checks the greeting. Its exit status is the result. */
static int connect_from(pid_t pid, uint32_t addr, int port, const char *want)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        enter_netns(pid);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(addr);
        struct timeval tv = {.tv_sec = 5};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            _exit(11);
        char buf[64] = "";
        ssize_t n = read(s, buf, sizeof(buf) - 1);
        if (n <= 0)
            _exit(12);
        _exit(strcmp(buf, want) == 0 ? 0 : 13);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A server in the netns of pid (its own child), serving one connection. */
static pid_t server_in(pid_t pid, uint32_t addr, int port, const char *who)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        enter_netns(pid);
        int s = listen_on(addr, port);
        serve_one(s, who);
        _exit(0);
    }
    return child;
}

static bool link_gone(void *arg)
{
    return if_nametoindex(arg) == 0;
}

static void test_two_pods(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_node_podnet *net = NULL;
    if (st_node_podnet_new(&POD_CIDR, &SVC_CIDR, &net, &err) < 0)
        fail_msg("%s", err.msg);
    struct st_node_sandbox a = {0}, b = {0};
    if (st_node_sandbox_create("pod-a", net, &a, &err) < 0 ||
        st_node_sandbox_create("pod-b", net, &b, &err) < 0)
        fail_msg("%s", err.msg);
    /* lowest free addresses, veths on the bridge */
    assert_int_equal(a.pif.addr, 0x0af40902);
    assert_int_equal(b.pif.addr, 0x0af40903);
    assert_string_equal(a.pif.veth, "st2-pod-a");
    assert_true(if_nametoindex("st2-pod-a") > 0);
    assert_true(if_nametoindex("st3-pod-b") > 0);
    assert_true(if_nametoindex(ST_NODE_BRIDGE) > 0);

    /* pod a -> pod b by IP, and back */
    pid_t srv = server_in(b.pid, 0, 8080, "b");
    bool ok = false;
    for (int i = 0; i < 50 && !ok; i++) /* until the server listens */
        ok = connect_from(a.pid, b.pif.addr, 8080, "hello from b") == 0 ||
             (usleep(100 * 1000), false);
    assert_true(ok);
    waitpid(srv, NULL, 0);
    srv = server_in(a.pid, 0, 8081, "a");
    ok = false;
    for (int i = 0; i < 50 && !ok; i++)
        ok = connect_from(b.pid, a.pif.addr, 8081, "hello from a") == 0 ||
             (usleep(100 * 1000), false);
    assert_true(ok);
    waitpid(srv, NULL, 0);

    /* a clusterIP is bindable here (the relay's side) and pods reach it
     * through their default route */
    int s = listen_on(0x0a60000a, 80); /* 10.96.0.10 */
    pid_t cl = fork();
    assert_true(cl >= 0);
    if (cl == 0)
        _exit(connect_from(a.pid, 0x0a60000a, 80, "hello from the node"));
    serve_one(s, "the node");
    close(s);
    int status = 0;
    waitpid(cl, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* the node reaches a pod directly (the relay's direct connects) */
    srv = server_in(b.pid, 0, 8082, "b");
    ok = false;
    for (int i = 0; i < 50 && !ok; i++)
        ok = connect_from(getpid(), b.pif.addr, 8082, "hello from b") == 0 ||
             (usleep(100 * 1000), false);
    assert_true(ok);
    waitpid(srv, NULL, 0);

    /* a sandbox gone: its veth and address are free again at once */
    st_node_sandbox_destroy(&a);
    assert_int_equal(a.pif.addr, 0);
    assert_true(st_test_wait_until(link_gone, "st2-pod-a", 5000, 20));
    struct st_node_sandbox c = {0};
    if (st_node_sandbox_create("pod-c", net, &c, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.pif.addr, 0x0af40902);
    st_node_sandbox_destroy(&c);
    st_node_sandbox_destroy(&b);
    assert_true(st_test_wait_until(link_gone, "st3-pod-b", 5000, 20));
    st_node_podnet_free(net);
    assert_true(link_gone(ST_NODE_BRIDGE));
}

/* A pod whose network cannot be made leaves nothing: a sandbox whose
 * netns has an eth0 already cannot take the veth's peer. */
static void test_attach_failure_cleans_up(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_node_podnet *net = NULL;
    if (st_node_podnet_new(&POD_CIDR, &SVC_CIDR, &net, &err) < 0)
        fail_msg("%s", err.msg);
    struct st_node_sandbox a = {0};
    if (st_node_sandbox_create("pod-a", net, &a, &err) < 0)
        fail_msg("%s", err.msg);
    /* attaching the same netns again: eth0 exists there */
    struct st_node_pod_if pif = {0};
    assert_true(st_node_podnet_attach(net, a.pid, "again", &pif, &err) < 0);
    assert_non_null(strstr(err.msg, "veth"));
    assert_int_equal(pif.addr, 0);
    assert_int_equal(if_nametoindex("st3-again"), 0);
    /* the address it would have had is free */
    struct st_node_sandbox b = {0};
    st_error_clear(&err);
    if (st_node_sandbox_create("pod-b", net, &b, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(b.pif.addr, 0x0af40903);
    st_node_sandbox_destroy(&a);
    st_node_sandbox_destroy(&b);
    st_node_podnet_free(net);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "itest_node_podnet: needs root (network namespaces); skipped\n");
        return 77;
    }
    /* everything below happens in this process's own network namespace */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr, "itest_node_podnet: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_pods),
        cmocka_unit_test(test_attach_failure_cleans_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
