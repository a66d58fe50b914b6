/* pollset.c: the agent loop's poll(2) vector, rebuilt each turn from what
 * the transport and the pods wait on. Each fd carries a pointer to where its
 * revents go, so whoever watches it finds the result in its own object and
 * nothing has to map fds back to pods and containers. */
#include "node.h"

#include <errno.h>
#include <stdlib.h>

void st_node_pollset_reset(struct st_node_pollset *ps)
{
    ps->n = 0;
    ps->deadline = -1;
}

int st_node_pollset_add(struct st_node_pollset *ps, int fd, short events, short *slot)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        struct pollfd *fds = realloc(ps->fds, cap * sizeof(*fds));
        if (fds == NULL)
            return -ENOMEM;
        ps->fds = fds;
        short **slots = realloc(ps->slots, cap * sizeof(*slots));
        if (slots == NULL)
            return -ENOMEM;
        ps->slots = slots;
        ps->cap = cap;
    }
    ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = events};
    ps->slots[ps->n] = slot;
    *slot = 0;
    ps->n++;
    return 0;
}

void st_node_pollset_deadline(struct st_node_pollset *ps, int64_t at)
{
    if (at >= 0 && (ps->deadline < 0 || at < ps->deadline))
        ps->deadline = at;
}

void st_node_pollset_dispatch(struct st_node_pollset *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        *ps->slots[i] = ps->fds[i].revents;
}

void st_node_pollset_free(struct st_node_pollset *ps)
{
    free(ps->fds);
    free(ps->slots);
    ps->fds = NULL;
    ps->slots = NULL;
    ps->n = ps->cap = 0;
}
