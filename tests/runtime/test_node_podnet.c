/* test_node_podnet.c: the parts of strata-node's pod network that need no
 * netlink: the kernel cmdline keys (config.c), the pod address pool and
 * veth names (podnet.c), the pods' hosts files (hosts.c), and the service
 * proxy's table, pick and resolve (svcproxy.c) on a fake relay. The
 * bridge and veth pairs themselves are itest_node_podnet's. */
#include "testutil.h"

#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- cmdline ----------------------------------------------------------- */

/* Resolves a config from a cmdline text; returns the result code. */
static int config_from(const char *cmdline, struct st_node_config *cfg, st_error *err)
{
    _cleanup_free_ char *dir = st_test_mkdtemp("podnet-cmdline");
    char path[512];
    snprintf(path, sizeof(path), "%s/cmdline", dir);
    st_test_write_file(path, cmdline);
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = strdup("n1");
    cfg->cmdline = path;
    int r = st_node_config_resolve(cfg, err);
    st_test_rmrf(dir);
    cfg->cmdline = NULL;
    return r;
}

static void test_cmdline(void **state)
{
    (void)state;
    struct st_node_config cfg;
    st_error err = {0};
    assert_int_equal(config_from("console=ttyS0 strata.node=n1 strata.podcidr=10.244.3.0/24 "
                                 "strata.svccidr=10.97.0.0/16\n",
                                 &cfg, &err),
                     0);
    assert_true(cfg.podnet);
    assert_int_equal(cfg.pod_cidr.addr, 0x0af40300);
    assert_int_equal(cfg.pod_cidr.prefix, 24);
    assert_int_equal(cfg.svc_cidr.addr, 0x0a610000);
    assert_int_equal(cfg.svc_cidr.prefix, 16);
    st_node_config_free(&cfg);

    /* the service CIDR defaults to Kubernetes' */
    assert_int_equal(config_from("strata.podcidr=10.244.1.0/24", &cfg, &err), 0);
    assert_true(cfg.podnet);
    assert_int_equal(cfg.svc_cidr.addr, 0x0a600000);
    assert_int_equal(cfg.svc_cidr.prefix, 16);
    st_node_config_free(&cfg);

    /* no podcidr: the pod network is off (host tests, older stratad) */
    assert_int_equal(config_from("console=ttyS0 strata.svccidr=10.96.0.0/16", &cfg, &err), 0);
    assert_false(cfg.podnet);
    st_node_config_free(&cfg);

    static const char *const bad[] = {
        "strata.podcidr=10.244.3.0/16", "strata.podcidr=10.244.3.1/24",
        "strata.podcidr=10.244.3.0",    "strata.podcidr=10.244.3/24",
        "strata.podcidr=10.244.3.0/2x", "strata.podcidr=10.244.3.0/24 strata.svccidr=10.96.0.1/16",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st_error_clear(&err);
        assert_int_equal(config_from(bad[i], &cfg, &err), -EINVAL);
        if (strstr(err.msg, "kernel cmdline strata.") == NULL)
            fail_msg("%s: message \"%s\" does not name the key", bad[i], err.msg);
        st_node_config_free(&cfg);
    }
}

static void test_cidr(void **state)
{
    (void)state;
    struct st_node_cidr c;
    st_error err = {0};
    assert_int_equal(st_node_cidr_parse("10.96.0.0/16", &c, &err), 0);
    assert_true(st_node_cidr_contains(&c, 0x0a60ffff));
    assert_true(st_node_cidr_contains(&c, 0x0a600000));
    assert_false(st_node_cidr_contains(&c, 0x0a610000));
    assert_int_equal(st_node_cidr_parse("10.96.0.0/7", &c, &err), -EINVAL);
    st_error_clear(&err);
    assert_int_equal(st_node_cidr_parse("10.96.0.1/16", &c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "host bits"));
}

/* ---- addresses --------------------------------------------------------- */

static void test_ippool(void **state)
{
    (void)state;
    struct st_node_cidr c = {.addr = 0x0af40300, .prefix = 24};
    struct st_node_ippool pool;
    st_node_ippool_init(&pool, &c);
    st_error err = {0};
    uint32_t a = 0, b = 0, d = 0;
    assert_int_equal(st_node_ippool_alloc(&pool, &a, &err), 0);
    assert_int_equal(a, 0x0af40302); /* .1 is the bridge */
    assert_int_equal(st_node_ippool_alloc(&pool, &b, &err), 0);
    assert_int_equal(b, 0x0af40303);
    /* a freed address is the lowest free again */
    st_node_ippool_release(&pool, a);
    assert_int_equal(st_node_ippool_alloc(&pool, &d, &err), 0);
    assert_int_equal(d, 0x0af40302);
    /* an address of another network is ignored, not a crash */
    st_node_ippool_release(&pool, 0x0af40402);
    assert_true(pool.used[2]);
    /* fill the pool: .2-.254, then an error that says what to do */
    int got = 2;
    uint32_t x;
    while (st_node_ippool_alloc(&pool, &x, &err) == 0)
        got++;
    assert_int_equal(got, ST_NODE_POD_IP_LAST - ST_NODE_POD_IP_FIRST + 1);
    assert_int_equal(err.code, ENOSPC);
    assert_non_null(strstr(err.msg, "10.244.3.0/24"));
    assert_false(pool.used[255]);
    st_node_ippool_release(&pool, 0x0af40380);
    st_error_clear(&err);
    assert_int_equal(st_node_ippool_alloc(&pool, &x, &err), 0);
    assert_int_equal(x, 0x0af40380);

    char ip[16], name[16];
    st_node_ipv4_str(0x0af403fe, ip);
    assert_string_equal(ip, "10.244.3.254");
    st_node_podnet_veth_name(0x0af403fe, "quote-7d9f8b6c5-x2k4q", name);
    assert_string_equal(name, "st254-quote-7d9");
    assert_true(strlen(name) <= 15);
    st_node_podnet_veth_name(0x0af40302, "a", name);
    assert_string_equal(name, "st2-a");
}

/* ---- hosts files ------------------------------------------------------- */

static json_t *snapshot(void)
{
    json_t *s = json_loads("[{\"namespace\":\"default\",\"name\":\"quote\",\"clusterIP\":"
                           "\"10.96.0.10\",\"ports\":[{\"name\":\"http\",\"port\":80,"
                           "\"backends\":[\"10.244.3.2:8080\",\"10.244.4.2:8080\","
                           "\"127.0.0.1:5433\"]}]},"
                           "{\"namespace\":\"db\",\"name\":\"quote-db\",\"clusterIP\":"
                           "\"10.96.0.11\",\"ports\":[{\"port\":5432,\"backends\":[]}]}]",
                           0, NULL);
    assert_non_null(s);
    return s;
}

static void test_hosts_render(void **state)
{
    (void)state;
    _cleanup_json_ json_t *svcs = snapshot();
    st_error err = {0};
    _cleanup_free_ char *text = NULL;
    assert_int_equal(st_node_hosts_render("10.244.3.2", "quote-1", "default", svcs, &text, &err),
                     0);
    assert_string_equal(text, "# Kept by strata-node: this pod and the cluster's Services.\n"
                              "127.0.0.1\tlocalhost\n"
                              "10.244.3.2\tquote-1\n"
                              "10.96.0.10\tquote.default.svc.cluster.local quote.default quote\n"
                              "10.96.0.11\tquote-db.db.svc.cluster.local quote-db.db\n");
    /* no snapshot yet: the pod alone */
    _cleanup_free_ char *bare = NULL;
    assert_int_equal(st_node_hosts_render("10.244.3.2", "quote-1", "db", NULL, &bare, &err), 0);
    assert_null(strstr(bare, "svc"));
    assert_non_null(strstr(bare, "10.244.3.2\tquote-1\n"));
}

static void test_hosts_write_in_place(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("podnet-hosts");
    char path[512];
    snprintf(path, sizeof(path), "%s/.hosts", dir);
    st_error err = {0};
    assert_int_equal(st_node_hosts_write(path, "a long first version of the file\n", &err), 0);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_mode & 0777, 0644);
    /* shorter text: nothing of the old one may remain, and the inode stays
     * (the containers' bind mounts point at it) */
    assert_int_equal(st_node_hosts_write(path, "short\n", &err), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    _cleanup_free_ char *text = st_test_read_file(path);
    assert_string_equal(text, "short\n");
    st_test_rmrf(dir);
    st_error_clear(&err);
    assert_true(st_node_hosts_write(path, "x", &err) < 0);
    assert_non_null(strstr(err.msg, path));
}

/* ---- service proxy ----------------------------------------------------- */

/* A fake relay: records what listens where. */
struct fake_relay {
    char keys[8][80];
    char addrs[8][ST_RELAY_ADDR_MAX];
    int n;
    int listens, unlistens;
    const char *refuse; /* an addr whose listen fails */
};

static int fake_listen(void *ctx, const char *key, const char *addr, st_error *err)
{
    struct fake_relay *f = ctx;
    f->listens++;
    if (f->refuse && strcmp(addr, f->refuse) == 0)
        return st_error_set(err, EADDRINUSE, "%s is in use", addr);
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) {
            snprintf(f->addrs[i], sizeof(f->addrs[i]), "%s", addr);
            return 0;
        }
    assert_true(f->n < 8);
    snprintf(f->keys[f->n], sizeof(f->keys[0]), "%s", key);
    snprintf(f->addrs[f->n], sizeof(f->addrs[0]), "%s", addr);
    f->n++;
    return 0;
}

static void fake_unlisten(void *ctx, const char *key)
{
    struct fake_relay *f = ctx;
    f->unlistens++;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) {
            f->n--;
            memmove(f->keys[i], f->keys[f->n], sizeof(f->keys[0]));
            memmove(f->addrs[i], f->addrs[f->n], sizeof(f->addrs[0]));
            return;
        }
    fail_msg("unlisten of %s, which does not listen", key);
}

static const struct st_node_svcproxy_ops fake_ops = {fake_listen, fake_unlisten};

static const char *fake_addr(const struct fake_relay *f, const char *key)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0)
            return f->addrs[i];
    return NULL;
}

static void test_svcproxy_pick(void **state)
{
    (void)state;
    struct st_node_cidr mine = {.addr = 0x0af40300, .prefix = 24};
    struct fake_relay f = {0};
    struct st_node_svcproxy *sp = NULL;
    st_error err = {0};
    assert_int_equal(st_node_svcproxy_new(&mine, &fake_ops, &f, &sp, &err), 0);
    _cleanup_json_ json_t *svcs = snapshot();
    assert_int_equal(st_node_svcproxy_update(sp, svcs, &err), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(fake_addr(&f, "default/quote:80"), "10.96.0.10:80");
    assert_string_equal(fake_addr(&f, "db/quote-db:5432"), "10.96.0.11:5432");

    /* round-robin: each connection starts at the next backend and lists
     * the others after it for the relay's retries; this node's pods are
     * direct, the rest go through the host */
    struct st_relay_target t[ST_RELAY_TARGETS_MAX];
    const char *order[3] = {"10.244.3.2:8080", "10.244.4.2:8080", "127.0.0.1:5433"};
    for (int round = 0; round < 4; round++) {
        int n = st_node_svcproxy_pick(sp, "default/quote:80", NULL, t, ST_RELAY_TARGETS_MAX, &err);
        assert_int_equal(n, 3);
        for (int i = 0; i < 3; i++) {
            const char *want = order[(round + i) % 3];
            assert_string_equal(t[i].addr, want);
            assert_string_equal(t[i].channel, strncmp(want, "10.244.3.", 9) == 0 ? "" : "host");
        }
    }
    /* max bounds the list */
    assert_int_equal(st_node_svcproxy_pick(sp, "default/quote:80", NULL, t, 1, &err), 1);

    /* no ready endpoint, or no such listener: refused at once, saying why */
    assert_int_equal(st_node_svcproxy_pick(sp, "db/quote-db:5432", NULL, t, 4, &err),
                     -ECONNREFUSED);
    assert_non_null(strstr(err.msg, "no ready endpoint"));
    st_error_clear(&err);
    assert_int_equal(st_node_svcproxy_pick(sp, "default/gone:80", NULL, t, 4, &err), -ECONNREFUSED);
    st_error_clear(&err);

    /* OPENs from the host reach this node's pods only */
    assert_int_equal(st_node_svcproxy_resolve(sp, "10.244.3.9:8080", "host", t, 4, &err), 1);
    assert_string_equal(t[0].channel, "");
    assert_string_equal(t[0].addr, "10.244.3.9:8080");
    assert_int_equal(st_node_svcproxy_resolve(sp, "10.244.4.2:8080", "host", t, 4, &err), -EACCES);
    assert_non_null(strstr(err.msg, "10.244.3.0/24"));
    st_error_clear(&err);
    assert_int_equal(st_node_svcproxy_resolve(sp, "127.0.0.1:22", "host", t, 4, &err), -EACCES);
    st_error_clear(&err);
    assert_int_equal(st_node_svcproxy_resolve(sp, "garbage", "host", t, 4, &err), -EACCES);
    st_node_svcproxy_free(sp);
}

static void test_svcproxy_diff(void **state)
{
    (void)state;
    struct st_node_cidr mine = {.addr = 0x0af40300, .prefix = 24};
    struct fake_relay f = {.refuse = "10.96.0.12:81"};
    struct st_node_svcproxy *sp = NULL;
    st_error err = {0};
    assert_int_equal(st_node_svcproxy_new(&mine, &fake_ops, &f, &sp, &err), 0);
    _cleanup_json_ json_t *v1 = snapshot();
    assert_int_equal(st_node_svcproxy_update(sp, v1, &err), 0);
    assert_int_equal(f.listens, 2);

    /* the same snapshot again: nothing is reopened */
    assert_int_equal(st_node_svcproxy_update(sp, v1, &err), 0);
    assert_int_equal(f.listens, 2);
    assert_int_equal(f.unlistens, 0);

    /* new backends only: the listener stays, pick sees them */
    _cleanup_json_ json_t *v2 = json_deep_copy(v1);
    json_t *db_backends = json_object_get(
        json_array_get(json_object_get(json_array_get(v2, 1), "ports"), 0), "backends");
    json_array_append_new(db_backends, json_string("10.244.3.5:5432"));
    assert_int_equal(st_node_svcproxy_update(sp, v2, &err), 0);
    assert_int_equal(f.listens, 2);
    struct st_relay_target t[4];
    assert_int_equal(st_node_svcproxy_pick(sp, "db/quote-db:5432", NULL, t, 4, &err), 1);
    assert_string_equal(t[0].addr, "10.244.3.5:5432");

    /* quote removed (unlistened), quote-db's clusterIP changed (listened
     * again on the new one), and a new Service whose listen fails */
    json_array_remove(v2, 0);
    json_object_set_new(json_array_get(v2, 0), "clusterIP", json_string("10.96.0.20"));
    json_t *bad = json_loads("{\"namespace\":\"default\",\"name\":\"busy\",\"clusterIP\":"
                             "\"10.96.0.12\",\"ports\":[{\"port\":81,\"backends\":[]}]}",
                             0, NULL);
    json_array_append_new(v2, bad);
    assert_int_equal(st_node_svcproxy_update(sp, v2, &err), 0);
    assert_int_equal(f.unlistens, 1);
    assert_null(fake_addr(&f, "default/quote:80"));
    assert_string_equal(fake_addr(&f, "db/quote-db:5432"), "10.96.0.20:5432");
    assert_null(fake_addr(&f, "default/busy:81"));
    assert_int_equal(f.listens, 4);
    /* a listener that failed is tried again with the next snapshot */
    f.refuse = NULL;
    assert_int_equal(st_node_svcproxy_update(sp, v2, &err), 0);
    assert_int_equal(f.listens, 5);
    assert_string_equal(fake_addr(&f, "default/busy:81"), "10.96.0.12:81");

    /* every Service gone */
    _cleanup_json_ json_t *none = json_array();
    assert_int_equal(st_node_svcproxy_update(sp, none, &err), 0);
    assert_int_equal(f.n, 0);
    st_node_svcproxy_free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_ippool),
        cmocka_unit_test(test_hosts_render),
        cmocka_unit_test(test_hosts_write_in_place),
        cmocka_unit_test(test_svcproxy_pick),
        cmocka_unit_test(test_svcproxy_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
