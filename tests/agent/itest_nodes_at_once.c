/* itest_nodes_at_once.c: five nodes added at once on real VMs (TCG here)
 * through stratad and stratactl, in one cluster: all become Ready (they
 * boot a few at a time, node_pool.c), each with its own pod CIDR and boot
 * time, and stratad's log shows no more boots at once than the host's
 * start slots (one per online core, at most 16). Then idle memory: each node's QEMU
 * settles below IDLE_ANON_MIB of anonymous memory (RssAnon: what is its
 * own, not the kernel file every QEMU maps from the page cache). Measured
 * here: 144 MiB each with the balloon's free page reporting (a 192 MiB
 * node, 32 MiB TCG cache, the image share and pod network up); without
 * the balloon bench/density measures 19 MiB more RSS per node (~163 MiB),
 * above the bound. Domains are
 * strata-na<pid>-*, removed in teardown, pass or fail. */
#include "cluster.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES         5
#define IDLE_ANON_MIB 156

static struct st_cluster cl;
static char node_names[NODES][64];

static int group_setup(void **state)
{
    (void)state;
    st_cluster_init(&cl, "na");
    st_cluster_start(&cl);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    return 0;
}

static bool all_settled(void *arg)
{
    (void)arg;
    for (int i = 0; i < NODES; i++) {
        long kib = st_test_node_qemu_anon_kib(node_names[i]);
        if (kib < 0 || kib > IDLE_ANON_MIB * 1024L)
            return false;
    }
    return true;
}

/* The most boots at once in stratad's log: a boot runs from "node X:
 * booting" (its start slot taken) to "node X is up" or "failed to start". */
static int boots_at_once_max(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/stratad.log", cl.state_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int now = 0, max = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, ": booting (one of at most"))
            now++;
        else if (strstr(line, " is up in ") || strstr(line, " failed to start: "))
            now--;
        if (now > max)
            max = now;
    }
    fclose(f);
    return max;
}

static void test_five_at_once_all_ready(void **state)
{
    (void)state;
    static const char *const sfx[NODES] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < NODES; i++)
        snprintf(node_names[i], sizeof(node_names[i]), "%s%s", cl.prefix, sfx[i]);
    assert_int_equal(st_cluster_add_nodes(&cl, sfx, NODES), 0);

    json_t *list = st_cluster_get(&cl, "nodes");
    assert_non_null(list);
    json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), NODES);
    const char *cidrs[NODES] = {0};
    size_t i;
    json_t *n;
    json_array_foreach(items, i, n)
    {
        assert_true(st_json_condition(n, "Ready"));
        cidrs[i] = st_json_str(n, "spec", "podCIDR");
        assert_non_null(cidrs[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(cidrs[i], cidrs[j]);
        json_t *boot =
            json_object_get(json_object_get(json_object_get(n, "status"), "strata"), "bootMillis");
        assert_true(json_integer_value(boot) > 0);
        print_message("%s Ready, boot %lld ms from its start slot\n",
                      json_string_value(json_object_get(json_object_get(n, "metadata"), "name")),
                      (long long)json_integer_value(boot));
    }
    json_decref(list);
    int most = boots_at_once_max();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    print_message("at most %d boots at once (%ld cores)\n", most, cores);
    assert_true(most >= 1);
    assert_true(most <= (cores < 16 ? cores : 16));

    /* Idle: free page reporting gives back what the guests freed. */
    bool settled = st_test_wait_until(all_settled, NULL, 90000, 1000);
    for (int k = 0; k < NODES; k++)
        print_message("%s: QEMU RssAnon %ld KiB (bound %d MiB)\n", node_names[k],
                      st_test_node_qemu_anon_kib(node_names[k]), IDLE_ANON_MIB);
    assert_true(settled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_five_at_once_all_ready),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
