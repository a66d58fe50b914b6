/* engine.c: the relay's thread and its epoll loop, the byte queues and the
 * public lifecycle (new, free, stats). The loop does nonblocking I/O only;
 * each pass: free the graveyard, wait, handle the events, fire the
 * deadlines (connect/OPEN timeouts, listeners paused for descriptors), then
 * run the pick queue with the lock released around each callback. */
#include "engine.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- byte queues ---- */

uint8_t *rbuf_tail(struct rbuf *b, size_t want)
{
    if (b->len == 0)
        b->off = 0;
    if (b->cap - b->off - b->len >= want)
        return b->data + b->off + b->len;
    if (b->off > 0 && b->cap - b->len >= want) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return b->data + b->len;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < want)
        cap *= 2;
    uint8_t *d = malloc(cap);
    if (d == NULL)
        return NULL;
    if (b->len)
        memcpy(d, b->data + b->off, b->len);
    free(b->data);
    b->data = d;
    b->off = 0;
    b->cap = cap;
    return d + b->len;
}

void rbuf_commit(struct rbuf *b, size_t n)
{
    b->len += n;
}

int rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0; /* an empty queue may have no memory at all */
    uint8_t *t = rbuf_tail(b, n);
    if (t == NULL)
        return -ENOMEM;
    memcpy(t, p, n);
    b->len += n;
    return 0;
}

void rbuf_consume(struct rbuf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

void rbuf_free(struct rbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- loop helpers ---- */

long long relay_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int relay_poll_set(st_relay *r, struct pollable *p, uint32_t mask)
{
    if (p->fd < 0 || p->mask == mask)
        return 0;
    struct epoll_event ev = {.events = mask, .data.ptr = p};
    int op = p->mask == 0 ? EPOLL_CTL_ADD : mask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(r->ep, op, p->fd, &ev) < 0)
        return -errno;
    p->mask = mask;
    return 0;
}

void relay_wake(st_relay *r)
{
    uint64_t one = 1;
    ssize_t n = write(r->wake.fd, &one, sizeof(one));
    (void)n; /* a full counter already wakes the loop */
}

void relay_sock_close(int fd, bool rst)
{
    if (fd < 0)
        return;
    if (rst) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
}

static void free_graveyard(st_relay *r)
{
    while (r->dead_streams) {
        struct stream *s = r->dead_streams;
        r->dead_streams = s->dead_next;
        stream_free(s);
    }
    while (r->dead_channels) {
        struct channel *c = r->dead_channels;
        r->dead_channels = c->dead_next;
        chan_free(c);
    }
    while (r->dead_listeners) {
        struct listener *l = r->dead_listeners;
        r->dead_listeners = l->dead_next;
        listener_free(l);
    }
}

static void dispatch(st_relay *r, struct pollable *p, uint32_t events)
{
    switch (p->kind) {
    case P_WAKE: {
        uint64_t v;
        ssize_t n = read(p->fd, &v, sizeof(v));
        (void)n;
        break;
    }
    case P_LISTENER: {
        struct listener *l = ilist_entry(p, struct listener, p);
        if (!l->dead)
            listener_on_event(r, l);
        break;
    }
    case P_CHANNEL: {
        struct channel *c = ilist_entry(p, struct channel, p);
        if (!c->closed)
            chan_on_event(r, c, events);
        break;
    }
    case P_END: {
        struct end *e = ilist_entry(p, struct end, p);
        if (!e->s->dead && e->p.fd >= 0)
            stream_on_event(r, e, events);
        break;
    }
    }
}

static void *relay_main(void *arg)
{
    st_relay *r = arg;
    struct epoll_event evs[64];
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        stream_picks(r);
        long long now = relay_now_ms(), next = -1;
        stream_timers(r, now, &next);
        listener_timers(r, now, &next);
        if (!ilist_empty(&r->pickq))
            next = now;
        int timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
        if (r->stopping)
            break;
        /* objects killed from here on stay in the graveyard until the
         * events of this wait are handled */
        free_graveyard(r);
        pthread_mutex_unlock(&r->lock);
        int n = epoll_wait(r->ep, evs, 64, timeout);
        pthread_mutex_lock(&r->lock);
        for (int i = 0; i < n && !r->stopping; i++)
            dispatch(r, evs[i].data.ptr, evs[i].events);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- public lifecycle ---- */

int st_relay_new(const struct st_relay_config *cfg, st_relay **out, st_error *err)
{
    *out = NULL;
    if (cfg == NULL || (cfg->side != ST_RELAY_SIDE_HOST && cfg->side != ST_RELAY_SIDE_GUEST))
        return st_error_set(err, EINVAL, "relay: the config must name a side (host or guest)");
    st_relay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return st_error_set(err, ENOMEM, "relay: out of memory");
    r->cfg = *cfg;
    if (r->cfg.max_streams == 0)
        r->cfg.max_streams = 4096;
    if (r->cfg.connect_timeout_ms <= 0)
        r->cfg.connect_timeout_ms = 2000;
    if (r->cfg.open_timeout_ms <= 0)
        r->cfg.open_timeout_ms = 5000;
    ilist_init(&r->channels);
    ilist_init(&r->listeners);
    ilist_init(&r->streams);
    ilist_init(&r->pend);
    ilist_init(&r->pickq);
    r->wake.kind = P_WAKE;
    r->wake.fd = -1;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0) {
        int e = errno;
        free(r);
        return st_error_sys(err, e, "relay: epoll_create1");
    }
    r->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake.fd < 0) {
        int e = errno;
        close(r->ep);
        free(r);
        return st_error_sys(err, e, "relay: eventfd");
    }
    relay_poll_set(r, &r->wake, EPOLLIN);
    pthread_mutex_init(&r->lock, NULL);
    /* the relay thread never takes a signal meant for the process */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&r->thread, NULL, relay_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(r->wake.fd);
        close(r->ep);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return st_error_sys(err, rc, "relay: cannot start its thread");
    }
    *out = r;
    return 0;
}

void st_relay_free(st_relay *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    relay_wake(r);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);

    pthread_mutex_lock(&r->lock);
    while (!ilist_empty(&r->streams))
        stream_kill(r, ilist_entry(r->streams.next, struct stream, link), "the relay stopped");
    while (!ilist_empty(&r->channels))
        chan_kill(r, ilist_entry(r->channels.next, struct channel, link), "the relay stopped");
    while (!ilist_empty(&r->listeners))
        listener_kill(r, ilist_entry(r->listeners.next, struct listener, link));
    free_graveyard(r);
    pthread_mutex_unlock(&r->lock);
    close(r->wake.fd);
    close(r->ep);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void st_relay_stats(st_relay *r, struct st_relay_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}
