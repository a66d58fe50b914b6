/* schedule.c: the scheduler's throughput, 10 000 pending pods (100
 * deployments of 100) over 1 000 Ready nodes: the scheduling pass
 * (st_control_schedule: decisions, spreading, one binding transaction) against
 * the in-memory store and against PostgreSQL (a private cluster in a temp
 * folder, removed after). kube-scheduler is the named peer (~100 pods/s at
 * 5 000 nodes, its published figure). Last line:
 * schedule: memory_pods_per_s=X pg_pods_per_s=Y */
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/fs.h"
#include "strata/pg_embedded.h"
#include "strata/secret_crypt.h"
#include "strata/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NODES     1000
#define OWNERS    100
#define PER_OWNER 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fill(st_store *s, st_error *err)
{
    size_t n = NODES + OWNERS * PER_OWNER;
    st_store_op *ops = calloc(n, sizeof(*ops));
    if (ops == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    size_t k = 0;
    for (int i = 0; i < NODES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "node-%04d", i);
        ops[k++].object = json_pack(
            "{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}], s:{s:I, s:I}}}", "apiVersion", "v1", "kind",
            "Node", "metadata", "name", name, "status", "conditions", "type", "Ready", "status",
            "True", "strata", "cpuMillis", (json_int_t)64000, "memoryBytes", (json_int_t)256 << 30);
    }
    for (int o = 0; o < OWNERS; o++)
        for (int p = 0; p < PER_OWNER; p++) {
            char owner[32], name[48];
            snprintf(owner, sizeof(owner), "app-%03d", o);
            snprintf(name, sizeof(name), "%s-%03d", owner, p);
            ops[k++].object = json_pack(
                "{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:b}]}, s:{s:[{s:s, s:s, s:{s:{s:s, "
                "s:s}}}]}, s:{s:s}}",
                "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", "default",
                "ownerReferences", "kind", "Deployment", "name", owner, "controller", 1, "spec",
                "containers", "name", "c", "image", "busybox", "resources", "requests", "cpu",
                "100m", "memory", "64Mi", "status", "phase", "Pending");
        }
    for (size_t i = 0; i < n; i++)
        ops[i].op = ST_STORE_CREATE;
    int r = st_store_apply_batch(s, ops, n, err);
    if (r == 0)
        st_store_ops_release(ops, n);
    for (size_t i = 0; i < n; i++)
        json_decref(ops[i].object);
    free(ops);
    return r;
}

/* Seconds for the passes that bind every pod. */
static int measure(st_store *s, double *secs, st_error *err)
{
    int r = fill(s, err);
    if (r < 0)
        return r;
    int total = 0, bound = 0;
    double t0 = now_s();
    do {
        if ((r = st_control_schedule(s, &bound, err)) < 0)
            return r;
        total += bound;
    } while (bound > 0 && total < OWNERS * PER_OWNER);
    *secs = now_s() - t0;
    if (total != OWNERS * PER_OWNER)
        return st_error_set(err, EIO, "bound %d pods of %d", total, OWNERS * PER_OWNER);
    return 0;
}

int main(void)
{
    st_error err = {0};
    int pods = OWNERS * PER_OWNER;
    st_store *mem = NULL;
    double mem_s = 0, pg_s = 0;
    if (st_store_mem_open(&mem, &err) < 0 || measure(mem, &mem_s, &err) < 0) {
        fprintf(stderr, "schedule: in memory: %s\n", err.msg);
        return 1;
    }
    st_store_close(mem);
    printf("memory: %d pods over %d nodes in %.3f s\n", pods, NODES, mem_s);
    fflush(stdout);

    char dir[] = "/tmp/strata-bench-sched-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("schedule: mkdtemp");
        return 1;
    }
    st_pg_embedded *pg = NULL;
    st_secret_key *key = NULL;
    st_store *store = NULL;
    int rc = 0;
    if (st_pg_embedded_start(dir, &pg, &err) < 0 || st_secret_key_load(dir, &key, &err) < 0 ||
        st_store_pg_open(st_pg_embedded_dsn(pg), key, NULL, &store, &err) < 0 ||
        measure(store, &pg_s, &err) < 0) {
        fprintf(stderr, "schedule: PostgreSQL: %s\n", err.msg);
        rc = 1;
    }
    st_store_close(store);
    if (pg) {
        st_error serr = {0};
        st_pg_embedded_stop(pg, &serr);
        st_pg_embedded_free(pg);
    }
    st_secret_key_free(key);
    st_error rerr = {0};
    if (st_fs_rmtree(dir, &rerr) < 0)
        fprintf(stderr, "schedule: %s\n", rerr.msg);
    if (rc)
        return rc;
    printf("postgres: %d pods over %d nodes in %.3f s (bindings in one transaction per pass)\n",
           pods, NODES, pg_s);
    printf("peer: kube-scheduler ~100 pods/s at 5000 nodes\n");
    printf("schedule: memory_pods_per_s=%.0f pg_pods_per_s=%.0f\n", pods / mem_s, pods / pg_s);
    return 0;
}
