/* node_pool.c: how many node VMs boot at once. `node add` returns at once
 * and its worker waits here for a start slot, so N nodes added together
 * boot a few at a time instead of all together: under TCG a boot keeps a
 * core busy for its ~3 s, and six boots on two cores took 21-27 s each
 * (issue 15), near the ready timeout, where one boot a core takes ~3-4 s
 * each and the time to N Ready grows linearly with N. A queued node's
 * ready timeout starts when it gets its slot. Memory is checked again when
 * a node gets its slot (node_admin.c), against what the nodes booted
 * before it left. */
#include "server_priv.h"

#include <errno.h>
#include <unistd.h>

unsigned st_server_node_pool_bound(long cpus)
{
    /* One boot per online core: more only time-slices them (each gets
     * slower, none Ready sooner); at least 1, at most
     * ST_SERVER_NODE_POOL_MAX however many cores. */
    if (cpus < 1)
        cpus = 1;
    if (cpus > ST_SERVER_NODE_POOL_MAX)
        cpus = ST_SERVER_NODE_POOL_MAX;
    return (unsigned)cpus;
}

void st_server_node_pool_init(struct st_server_node_pool *p, unsigned slots)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->slots = slots ? slots : st_server_node_pool_bound(sysconf(_SC_NPROCESSORS_ONLN));
    p->busy = p->waiting = p->busy_max = 0;
    p->closed = false;
}

void st_server_node_pool_destroy(struct st_server_node_pool *p)
{
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
}

int st_server_node_pool_enter(struct st_server_node_pool *p, st_error *err)
{
    pthread_mutex_lock(&p->lock);
    p->waiting++;
    while (!p->closed && p->busy >= p->slots)
        pthread_cond_wait(&p->freed, &p->lock);
    p->waiting--;
    bool closed = p->closed;
    if (!closed) {
        p->busy++;
        if (p->busy > p->busy_max)
            p->busy_max = p->busy;
    }
    pthread_mutex_unlock(&p->lock);
    if (closed)
        return st_error_set(err, ECANCELED,
                            "stratad is stopping: the node was waiting for a start slot and was "
                            "not booted; add it again once stratad runs");
    return 0;
}

void st_server_node_pool_leave(struct st_server_node_pool *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->busy > 0)
        p->busy--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void st_server_node_pool_close(struct st_server_node_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void st_server_node_pool_stats(struct st_server_node_pool *p, unsigned *busy, unsigned *waiting,
                               unsigned *busy_max)
{
    pthread_mutex_lock(&p->lock);
    if (busy)
        *busy = p->busy;
    if (waiting)
        *waiting = p->waiting;
    if (busy_max)
        *busy_max = p->busy_max;
    pthread_mutex_unlock(&p->lock);
}
