/* podnet.c: the pod network inside a node VM. Every pod gets its own IPv4
 * address on a bridge (strata0, .1 of the node's /24 pod CIDR) through a
 * veth pair whose far end is eth0 in the pod's network namespace, so pods
 * on one node reach each other by IP and the node's service proxy reaches
 * every pod. The service CIDR is routed as `local` on lo, so the proxy can
 * listen on any clusterIP and pods reach it through their default route.
 * All of it over netlink with libnl (no `ip` processes: under TCG each
 * exec costs tens of milliseconds, and errors come back as values).
 *
 * strata-node is multithreaded (the heartbeat thread, the relay's): the
 * pod's netns is entered only by the calling thread, only long enough to
 * open a netlink socket there, and left again before any other step, so no
 * error path can leave the thread in a pod's namespace. */
#include "node.h"
#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The kernel modules the bridge and the veth pairs need. The node image
 * loads them in the background after boot; the first pod loads them itself
 * if that has not happened yet. */
static const char *const MODULES[] = {"bridge", "veth"};

/* ---- addresses (pure; unit tested) ------------------------------------ */

void st_node_ipv4_str(uint32_t addr, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
             addr & 0xff);
}

void st_node_ippool_init(struct st_node_ippool *p, const struct st_node_cidr *c)
{
    memset(p, 0, sizeof(*p));
    p->base = c->addr;
}

int st_node_ippool_alloc(struct st_node_ippool *p, uint32_t *addr, st_error *err)
{
    for (unsigned i = ST_NODE_POD_IP_FIRST; i <= ST_NODE_POD_IP_LAST; i++)
        if (!p->used[i]) {
            p->used[i] = true;
            *addr = p->base | i;
            return 0;
        }
    char net[16];
    st_node_ipv4_str(p->base, net);
    return st_error_set(err, ENOSPC,
                        "the node's pod network %s/24 has no free address (%d pods have one): "
                        "stop a pod or schedule it on another node",
                        net, ST_NODE_POD_IP_LAST - ST_NODE_POD_IP_FIRST + 1);
}

void st_node_ippool_release(struct st_node_ippool *p, uint32_t addr)
{
    if ((addr & ~0xffU) == p->base)
        p->used[addr & 0xff] = false;
}

/* The host end of a pod's veth: "st<octet>-<pod>", cut to IFNAMSIZ-1. The
 * octet makes it unique among the node's pods; the name tells a person
 * reading `ip link` whose it is. */
void st_node_podnet_veth_name(uint32_t addr, const char *pod, char buf[16])
{
    snprintf(buf, 16, "st%u-%s", addr & 0xff, pod);
}

/* ---- netlink ---------------------------------------------------------- */

struct st_node_podnet {
    struct st_node_cidr pod_cidr, svc_cidr;
    struct nl_sock *sk; /* in strata-node's own network namespace */
    struct st_node_ippool pool;
    int bridge_ifindex; /* 0 until the first pod made it */
};

static int nl_fail(st_error *err, int nlerr, const char *what)
{
    return st_error_set(err, nlerr == -NLE_PERM ? EPERM : EIO, "pod network: %s: %s", what,
                        nl_geterror(nlerr));
}

/* An add that found its object there already (an earlier strata-node made
 * it) is fine; other failures name what (an address or route) and where. */
static int nl_add_result(st_error *err, int nlerr, const char *what, uint32_t addr, int prefix)
{
    if (nlerr >= 0 || nlerr == -NLE_EXIST)
        return 0;
    char ip[16], msg[96];
    st_node_ipv4_str(addr, ip);
    snprintf(msg, sizeof(msg), "cannot add %s %s/%d", what, ip, prefix);
    return nl_fail(err, nlerr, msg);
}

static int nl_open(struct nl_sock **out, st_error *err)
{
    struct nl_sock *sk = nl_socket_alloc();
    if (sk == NULL)
        return st_error_set(err, ENOMEM, "pod network: out of memory for a netlink socket");
    int r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0) {
        nl_socket_free(sk);
        return nl_fail(err, r, "cannot open a netlink socket");
    }
    *out = sk;
    return 0;
}

static struct nl_addr *nl_inet(uint32_t addr, int prefix)
{
    uint32_t be = htonl(addr);
    struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));
    if (a)
        nl_addr_set_prefixlen(a, prefix);
    return a;
}

/* Sets IFF_UP on the link called name; its ifindex in *ifindex. */
static int link_up(struct nl_sock *sk, const char *name, int *ifindex, st_error *err)
{
    struct rtnl_link *link = NULL;
    int r = rtnl_link_get_kernel(sk, 0, name, &link);
    if (r < 0)
        return nl_fail(err, r, name);
    *ifindex = rtnl_link_get_ifindex(link);
    struct rtnl_link *change = rtnl_link_alloc();
    if (change == NULL) {
        rtnl_link_put(link);
        return st_error_set(err, ENOMEM, "pod network: out of memory");
    }
    rtnl_link_set_flags(change, IFF_UP);
    r = rtnl_link_change(sk, link, change, 0);
    rtnl_link_put(change);
    rtnl_link_put(link);
    return r < 0 ? nl_fail(err, r, name) : 0;
}

/* addr/prefix on ifindex; already there is fine (an earlier strata-node). */
static int addr_add(struct nl_sock *sk, int ifindex, uint32_t addr, int prefix, st_error *err)
{
    struct rtnl_addr *a = rtnl_addr_alloc();
    struct nl_addr *local = nl_inet(addr, prefix);
    int r = -NLE_NOMEM;
    if (a && local) {
        rtnl_addr_set_ifindex(a, ifindex);
        r = rtnl_addr_set_local(a, local);
        if (r == 0)
            r = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_EXCL);
    }
    nl_addr_put(local);
    rtnl_addr_put(a);
    return nl_add_result(err, r, "the address", addr, prefix);
}

/* A route to dst/prefix: type RTN_LOCAL on ifindex in the local table
 * (the service CIDR), or via gw (a pod's default route). */
static int route_add(struct nl_sock *sk, uint32_t dst, int prefix, int ifindex, uint32_t gw,
                     bool local, st_error *err)
{
    struct rtnl_route *rt = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *d = nl_inet(dst, prefix);
    struct nl_addr *g = gw ? nl_inet(gw, 32) : NULL;
    int r = -NLE_NOMEM;
    if (rt && nh && d && (gw == 0 || g)) {
        rtnl_route_set_family(rt, AF_INET);
        rtnl_route_set_table(rt, local ? RT_TABLE_LOCAL : RT_TABLE_MAIN);
        rtnl_route_set_type(rt, local ? RTN_LOCAL : RTN_UNICAST);
        rtnl_route_set_scope(rt, local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(rt, RTPROT_STATIC);
        r = rtnl_route_set_dst(rt, d);
        rtnl_route_nh_set_ifindex(nh, ifindex);
        if (g)
            rtnl_route_nh_set_gateway(nh, g);
        rtnl_route_add_nexthop(rt, nh);
        nh = NULL; /* the route owns it */
        if (r == 0)
            r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
    }
    if (nh)
        rtnl_route_nh_free(nh);
    nl_addr_put(d);
    nl_addr_put(g);
    rtnl_route_put(rt);
    return nl_add_result(err, r, "the route to", dst, prefix);
}

/* Loads the modules unless /sys/module shows them already: one busybox
 * modprobe, through the helper the node image points the kernel at. */
static void modules_load(void)
{
    bool missing = false;
    for (size_t i = 0; i < sizeof(MODULES) / sizeof(MODULES[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/sys/module/%s", MODULES[i]);
        if (access(path, F_OK) < 0)
            missing = true;
    }
    if (!missing)
        return;
    char helper[256] = "";
    _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/modprobe", "re");
    if (f == NULL || fgets(helper, sizeof(helper), f) == NULL)
        return;
    helper[strcspn(helper, "\n")] = '\0';
    if (helper[0] != '/' || access(helper, X_OK) < 0)
        return; /* built in, or the kernel loads them on demand */
    char *argv[] = {"modprobe", "-q", "-a", (char *)MODULES[0], (char *)MODULES[1], NULL};
    pid_t pid;
    extern char **environ;
    if (posix_spawn(&pid, helper, NULL, NULL, argv, environ) != 0)
        return;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        st_node_log("pod network: %s -a bridge veth failed; creating the bridge may fail too",
                    helper);
}

/* strata0 with .1/24, up: made at the first pod, not at start, so a node
 * that runs no pod never pays for the modules. */
static int bridge_ensure(struct st_node_podnet *n, st_error *err)
{
    if (n->bridge_ifindex > 0)
        return 0;
    modules_load();
    struct rtnl_link *br = rtnl_link_bridge_alloc();
    if (br == NULL)
        return st_error_set(err, ENOMEM, "pod network: out of memory");
    rtnl_link_set_name(br, ST_NODE_BRIDGE);
    int r = rtnl_link_add(n->sk, br, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(br);
    if (r < 0 && r != -NLE_EXIST)
        return nl_fail(err, r, "cannot create the bridge " ST_NODE_BRIDGE);
    int ifindex = 0;
    if ((r = link_up(n->sk, ST_NODE_BRIDGE, &ifindex, err)) < 0 ||
        (r = addr_add(n->sk, ifindex, n->pod_cidr.addr | 1, n->pod_cidr.prefix, err)) < 0)
        return r;
    n->bridge_ifindex = ifindex;
    char gw[16];
    st_node_ipv4_str(n->pod_cidr.addr | 1, gw);
    st_node_log("pod network: bridge %s up with %s/%d", ST_NODE_BRIDGE, gw, n->pod_cidr.prefix);
    return 0;
}

int st_node_podnet_new(const struct st_node_cidr *pod, const struct st_node_cidr *svc,
                       struct st_node_podnet **out, st_error *err)
{
    struct st_node_podnet *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    n->pod_cidr = *pod;
    n->svc_cidr = *svc;
    st_node_ippool_init(&n->pool, pod);
    int r = nl_open(&n->sk, err);
    /* lo is ifindex 1 in every network namespace */
    if (r == 0)
        r = route_add(n->sk, svc->addr, svc->prefix, 1, 0, true, err);
    if (r < 0) {
        st_node_podnet_free(n);
        return r;
    }
    char pnet[16], snet[16];
    st_node_ipv4_str(pod->addr, pnet);
    st_node_ipv4_str(svc->addr, snet);
    st_node_log("pod network: pods in %s/%d, services %s/%d local on lo", pnet, pod->prefix, snet,
                svc->prefix);
    *out = n;
    return 0;
}

void st_node_podnet_free(struct st_node_podnet *n)
{
    if (n == NULL)
        return;
    if (n->sk && n->bridge_ifindex > 0) {
        struct rtnl_link *br = rtnl_link_alloc();
        if (br) {
            rtnl_link_set_name(br, ST_NODE_BRIDGE);
            rtnl_link_delete(n->sk, br);
            rtnl_link_put(br);
        }
    }
    nl_socket_free(n->sk);
    free(n);
}

const struct st_node_cidr *st_node_podnet_cidr(const struct st_node_podnet *n)
{
    return &n->pod_cidr;
}

/* A netlink socket in the network namespace of pid: the calling thread
 * enters it, opens the socket (which stays bound to that namespace) and
 * returns to its own before anything else happens. */
static int nl_open_in(pid_t pid, struct nl_sock **out, st_error *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    _cleanup_close_ int target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0)
        return st_error_sys(err, errno, "pod network: cannot open %s", path);
    _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return st_error_sys(err, errno, "pod network: cannot open this thread's netns");
    if (setns(target, CLONE_NEWNET) < 0)
        return st_error_sys(err, errno, "pod network: cannot enter %s", path);
    int r = nl_open(out, err);
    if (setns(self, CLONE_NEWNET) < 0) {
        /* Cannot happen short of a kernel bug; going on would configure
         * the node from inside a pod. */
        st_node_log("pod network: cannot return to strata-node's network namespace: %m; "
                    "aborting");
        abort();
    }
    return r;
}

/* Inside the pod: eth0 gets addr/prefix, goes up, default route via .1. */
static int pod_side(const struct st_node_podnet *n, pid_t pid, uint32_t addr, st_error *err)
{
    struct nl_sock *sk = NULL;
    int r = nl_open_in(pid, &sk, err);
    if (r < 0)
        return r;
    int ifindex = 0;
    if ((r = link_up(sk, "eth0", &ifindex, err)) == 0 &&
        (r = addr_add(sk, ifindex, addr, n->pod_cidr.prefix, err)) == 0)
        r = route_add(sk, 0, 0, ifindex, n->pod_cidr.addr | 1, false, err);
    nl_socket_free(sk);
    return r;
}

static void veth_delete(struct nl_sock *sk, const char *name)
{
    struct rtnl_link *l = rtnl_link_alloc();
    if (l == NULL)
        return;
    rtnl_link_set_name(l, name);
    int r = rtnl_link_delete(sk, l);
    if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
        st_node_log("pod network: cannot delete %s: %s", name, nl_geterror(r));
    rtnl_link_put(l);
}

int st_node_podnet_attach(struct st_node_podnet *n, pid_t pid, const char *pod,
                          struct st_node_pod_if *pif, st_error *err)
{
    int r = bridge_ensure(n, err);
    uint32_t addr = 0;
    if (r < 0 || (r = st_node_ippool_alloc(&n->pool, &addr, err)) < 0)
        return r;
    char name[16];
    st_node_podnet_veth_name(addr, pod, name);
    /* One message: the host end (on the bridge, up) and its peer made
     * directly in the pod's namespace as eth0. */
    struct rtnl_link *veth = rtnl_link_veth_alloc();
    if (veth == NULL) {
        st_node_ippool_release(&n->pool, addr);
        return st_error_set(err, ENOMEM, "pod network: out of memory");
    }
    struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
    rtnl_link_set_name(veth, name);
    rtnl_link_set_master(veth, n->bridge_ifindex);
    rtnl_link_set_flags(veth, IFF_UP);
    rtnl_link_set_name(peer, "eth0");
    rtnl_link_set_ns_pid(peer, pid);
    r = rtnl_link_add(n->sk, veth, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_put(peer);
    rtnl_link_put(veth);
    if (r < 0) {
        st_node_ippool_release(&n->pool, addr);
        char what[64];
        snprintf(what, sizeof(what), "cannot create the veth pair %s", name);
        return nl_fail(err, r, what);
    }
    if ((r = pod_side(n, pid, addr, err)) < 0) {
        veth_delete(n->sk, name);
        st_node_ippool_release(&n->pool, addr);
        return r;
    }
    pif->addr = addr;
    snprintf(pif->veth, sizeof(pif->veth), "%s", name);
    return 0;
}

void st_node_podnet_detach(struct st_node_podnet *n, struct st_node_pod_if *pif)
{
    if (n == NULL || pif->addr == 0)
        return;
    /* before the sandbox dies: its netns goes asynchronously, and the name
     * and the address must be free for the next pod now */
    veth_delete(n->sk, pif->veth);
    st_node_ippool_release(&n->pool, pif->addr);
    memset(pif, 0, sizeof(*pif));
}
