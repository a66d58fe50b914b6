/* listener.c: the relay's TCP listeners (LoadBalancer, NodePort and
 * port-forward on the host; ClusterIP in a guest). Each accepted connection
 * becomes a stream waiting for its listener's pick. Out of descriptors, a
 * listener pauses briefly instead of spinning on a connection it cannot
 * accept. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "frame.h"

#define LISTEN_BACKLOG  511
#define ACCEPT_PER_WAKE 64
#define EMFILE_PAUSE_MS 100

static struct listener *listener_find(st_relay *r, const char *key)
{
    for (struct ilist *i = r->listeners.next; i != &r->listeners; i = i->next) {
        struct listener *l = ilist_entry(i, struct listener, link);
        if (strcmp(l->key, key) == 0)
            return l;
    }
    return NULL;
}

void listener_on_event(st_relay *r, struct listener *l)
{
    for (int i = 0; i < ACCEPT_PER_WAKE && !l->dead; i++) {
        int fd = accept4(l->p.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            stream_accept(r, l, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            l->paused_until = relay_now_ms() + EMFILE_PAUSE_MS;
            relay_poll_set(r, &l->p, 0);
        }
        return; /* EAGAIN: all taken */
    }
}

void listener_timers(st_relay *r, long long now, long long *next)
{
    for (struct ilist *i = r->listeners.next; i != &r->listeners; i = i->next) {
        struct listener *l = ilist_entry(i, struct listener, link);
        if (l->paused_until == 0)
            continue;
        if (now >= l->paused_until) {
            l->paused_until = 0;
            relay_poll_set(r, &l->p, EPOLLIN);
        } else if (*next < 0 || l->paused_until < *next) {
            *next = l->paused_until;
        }
    }
}

void listener_kill(st_relay *r, struct listener *l)
{
    relay_poll_set(r, &l->p, 0);
    close(l->p.fd);
    l->p.fd = -1;
    ilist_del(&l->link);
    l->dead = true;
    l->dead_next = r->dead_listeners;
    r->dead_listeners = l;
    r->stats.listeners--;
}

void listener_free(struct listener *l)
{
    free(l->key);
    free(l);
}

/* A bound, listening socket for sa. */
static int listen_socket(const char *addr, const struct sockaddr_in *sa, int *port, st_error *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot listen on %s: socket", addr);
    int one = 1;
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
        getsockname(fd, (struct sockaddr *)&got, &len) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return st_error_set(err, e, "cannot listen on %s: the address is already in use", addr);
        return st_error_sys(err, e, "cannot listen on %s", addr);
    }
    *port = ntohs(got.sin_port);
    return fd;
}

int st_relay_listen(st_relay *r, const char *key, const char *addr, st_relay_pick_fn pick,
                    void *opaque, st_error *err)
{
    if (key == NULL || pick == NULL)
        return st_error_set(err, EINVAL, "relay listener: a key and a pick function are needed");
    struct sockaddr_in sa;
    if (st_relay_addr_parse(addr, true, &sa, err) < 0) {
        st_error_prefix(err, "listener %s: ", key);
        return -EINVAL;
    }
    /* The same key on the same fixed address keeps its socket: binding a
     * second one there would fail while the first listens. */
    pthread_mutex_lock(&r->lock);
    struct listener *same = listener_find(r, key);
    if (same && sa.sin_port != 0 && same->ip == sa.sin_addr.s_addr &&
        same->port == ntohs(sa.sin_port)) {
        same->pick = pick;
        same->opaque = opaque;
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    pthread_mutex_unlock(&r->lock);

    struct listener *l = calloc(1, sizeof(*l));
    char *k = strdup(key);
    if (l == NULL || k == NULL) {
        free(l);
        free(k);
        return st_error_set(err, ENOMEM, "cannot listen on %s: out of memory", addr);
    }
    int port = 0;
    int fd = listen_socket(addr, &sa, &port, err);
    if (fd < 0) {
        free(l);
        free(k);
        return fd;
    }
    l->p.kind = P_LISTENER;
    l->p.fd = fd;
    l->key = k;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->ip = sa.sin_addr.s_addr;
    l->port = port;
    l->pick = pick;
    l->opaque = opaque;
    ilist_init(&l->link);

    pthread_mutex_lock(&r->lock);
    struct listener *old = listener_find(r, key);
    if (old)
        listener_kill(r, old);
    int rc = relay_poll_set(r, &l->p, EPOLLIN);
    if (rc < 0) {
        pthread_mutex_unlock(&r->lock);
        listener_free(l);
        close(fd);
        return st_error_sys(err, -rc, "cannot listen on %s: epoll", addr);
    }
    ilist_add_tail(&r->listeners, &l->link);
    r->stats.listeners++;
    relay_wake(r);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void st_relay_unlisten(st_relay *r, const char *key)
{
    pthread_mutex_lock(&r->lock);
    struct listener *l = listener_find(r, key);
    if (l)
        listener_kill(r, l);
    pthread_mutex_unlock(&r->lock);
}

int st_relay_listener_port(st_relay *r, const char *key)
{
    pthread_mutex_lock(&r->lock);
    struct listener *l = listener_find(r, key);
    int port = l ? l->port : -ENOENT;
    pthread_mutex_unlock(&r->lock);
    return port;
}
