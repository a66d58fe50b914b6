/* channel.c: one byte channel (a node's data port, or a socketpair in
 * tests) carrying many streams as frames: reading and parsing frames,
 * queueing frames out, the id -> stream end map, and the public channel
 * calls. Output is one queue per channel; DATA waits its turn (round robin
 * over the waiting streams) once the queue holds CHAN_OUT_SOFT bytes, so
 * control frames (OPEN, WINDOW, RESET) are never stuck behind a bulk
 * transfer and memory stays bounded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "frame.h"

/* Frames parsed per readable event before other fds get a turn. */
#define CHAN_READ_ROUNDS 4

static unsigned bucket(uint32_t id)
{
    return (id ^ (id >> 8) ^ (id >> 16) ^ (id >> 24)) % CHAN_BUCKETS;
}

static struct end *map_get(struct channel *c, uint32_t id)
{
    for (struct end *e = c->map[bucket(id)]; e; e = e->hnext)
        if (e->id == id)
            return e;
    return NULL;
}

void chan_map_add(struct channel *c, struct end *e)
{
    unsigned b = bucket(e->id);
    e->ch = c;
    e->on_chan = true;
    e->hnext = c->map[b];
    c->map[b] = e;
}

void chan_map_del(struct channel *c, struct end *e)
{
    for (struct end **pp = &c->map[bucket(e->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }
    e->hnext = NULL;
    e->ch = NULL;
    ilist_del(&e->wlink);
}

uint32_t chan_new_id(st_relay *r, struct channel *c)
{
    uint32_t side = r->cfg.side == ST_RELAY_SIDE_GUEST ? ST_RELAY_ID_GUEST : 0;
    for (;;) {
        uint32_t n = c->next_id++ & ~ST_RELAY_ID_GUEST;
        if (n == 0)
            continue; /* 0 stays unused: easier to spot in a dump */
        if (map_get(c, n | side) == NULL)
            return n | side;
    }
}

struct channel *chan_find(st_relay *r, const char *name)
{
    for (struct ilist *i = r->channels.next; i != &r->channels; i = i->next) {
        struct channel *c = ilist_entry(i, struct channel, link);
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static void chan_update(st_relay *r, struct channel *c)
{
    if (!c->closed)
        relay_poll_set(r, &c->p, EPOLLIN | (c->out.len || c->failed ? EPOLLOUT : 0));
}

void chan_send(st_relay *r, struct channel *c, uint32_t id, uint8_t type, const void *payload,
               size_t len)
{
    if (c->closed || c->failed)
        return;
    uint8_t *t = rbuf_tail(&c->out, ST_RELAY_HDR_LEN + len);
    if (t == NULL) {
        /* taking it down here would re-enter the stream code that is
         * sending: the next event does it */
        c->failed = true;
    } else {
        st_relay_frame_encode(t, id, type, (uint32_t)len);
        if (len)
            memcpy(t + ST_RELAY_HDR_LEN, payload, len);
        rbuf_commit(&c->out, ST_RELAY_HDR_LEN + len);
    }
    chan_update(r, c);
}

bool chan_room(struct channel *c, struct end *e)
{
    if (c->out.len < CHAN_OUT_SOFT)
        return true;
    if (e->wlink.next == &e->wlink)
        ilist_add_tail(&c->waiters, &e->wlink);
    return false;
}

void chan_down(st_relay *r, struct channel *c, const char *why)
{
    if (c->closed)
        return;
    c->closed = true;
    relay_poll_set(r, &c->p, 0);
    close(c->p.fd);
    c->p.fd = -1;
    rbuf_free(&c->in);
    rbuf_free(&c->out);
    while (!ilist_empty(&c->waiters))
        ilist_del(c->waiters.next);
    char msg[ST_RELAY_NAME_MAX + 160];
    snprintf(msg, sizeof(msg), "channel %s: %s", c->name, why);
    for (unsigned b = 0; b < CHAN_BUCKETS; b++) {
        while (c->map[b]) {
            struct end *e = c->map[b];
            chan_map_del(c, e);
            stream_end_lost(r, e, msg);
        }
    }
}

void chan_kill(st_relay *r, struct channel *c, const char *why)
{
    chan_down(r, c, why);
    ilist_del(&c->link);
    c->dead = true;
    c->dead_next = r->dead_channels;
    r->dead_channels = c;
}

void chan_free(struct channel *c)
{
    rbuf_free(&c->in);
    rbuf_free(&c->out);
    free(c);
}

/* One whole frame from c. 0, or -EPROTO with err (c must go down). */
static int chan_frame(st_relay *r, struct channel *c, const struct st_relay_frame *f,
                      const uint8_t *payload, st_error *err)
{
    if (f->type == ST_RELAY_OPEN) {
        uint32_t peer = r->cfg.side == ST_RELAY_SIDE_HOST ? ST_RELAY_ID_GUEST : 0;
        if ((f->id & ST_RELAY_ID_GUEST) != peer || (f->id & ~ST_RELAY_ID_GUEST) == 0)
            return st_error_set(err, EPROTO, "OPEN on stream %u: not an id the far side opens",
                                f->id);
        if (map_get(c, f->id))
            return st_error_set(err, EPROTO, "OPEN on stream %u, which is already open", f->id);
        char addr[ST_RELAY_ADDR_MAX];
        memcpy(addr, payload, f->len);
        addr[f->len] = '\0';
        stream_open(r, c, f->id, addr);
        return 0;
    }
    struct end *e = map_get(c, f->id);
    if (e == NULL)
        return 0; /* a stream this side already closed or reset: frames in flight */
    return stream_on_frame(r, e, f->type, payload, f->len, err);
}

static void chan_read(st_relay *r, struct channel *c)
{
    for (int round = 0; round < CHAN_READ_ROUNDS && !c->closed; round++) {
        uint8_t *t = rbuf_tail(&c->in, ST_RELAY_HDR_LEN + ST_RELAY_FRAME_MAX);
        if (t == NULL) {
            chan_down(r, c, "out of memory reading frames");
            return;
        }
        ssize_t n = read(c->p.fd, t, ST_RELAY_HDR_LEN + ST_RELAY_FRAME_MAX);
        if (n == 0) {
            chan_down(r, c, "closed by the far end");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            char msg[128];
            snprintf(msg, sizeof(msg), "read failed: %s", strerror(errno));
            chan_down(r, c, msg);
            return;
        }
        rbuf_commit(&c->in, (size_t)n);
        while (!c->closed && c->in.len >= ST_RELAY_HDR_LEN) {
            st_error err = {0};
            struct st_relay_frame f;
            const uint8_t *h = rbuf_head(&c->in);
            if (st_relay_frame_decode(h, &f, &err) < 0) {
                chan_down(r, c, err.msg);
                return;
            }
            if (c->in.len < ST_RELAY_HDR_LEN + f.len)
                break;
            if (chan_frame(r, c, &f, h + ST_RELAY_HDR_LEN, &err) < 0) {
                chan_down(r, c, err.msg);
                return;
            }
            if (!c->closed)
                rbuf_consume(&c->in, ST_RELAY_HDR_LEN + f.len);
        }
    }
}

/* Writes what is queued, and lets waiting streams queue more while the
 * queue is short. */
static void chan_flush(st_relay *r, struct channel *c)
{
    while (!c->closed) {
        bool blocked = false;
        while (c->out.len > 0) {
            ssize_t n = c->is_sock ? send(c->p.fd, rbuf_head(&c->out), c->out.len,
                                          MSG_NOSIGNAL | MSG_DONTWAIT)
                                   : write(c->p.fd, rbuf_head(&c->out), c->out.len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                blocked = true;
                break;
            }
            if (n < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "write failed: %s", strerror(errno));
                chan_down(r, c, msg);
                return;
            }
            rbuf_consume(&c->out, (size_t)n);
        }
        size_t before = c->out.len;
        while (!c->closed && c->out.len < CHAN_OUT_SOFT && !ilist_empty(&c->waiters)) {
            struct end *e = ilist_entry(c->waiters.next, struct end, wlink);
            ilist_del(&e->wlink);
            stream_chan_ready(r, e);
        }
        if (blocked || c->out.len == before)
            break;
    }
    chan_update(r, c);
}

void chan_on_event(st_relay *r, struct channel *c, uint32_t events)
{
    if (c->failed) {
        chan_down(r, c, "out of memory queueing frames");
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        chan_read(r, c);
    if (!c->closed && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        chan_flush(r, c);
    if (!c->closed && c->failed)
        chan_down(r, c, "out of memory queueing frames");
}

/* ---- public calls ---- */

int st_relay_channel_add(st_relay *r, const char *name, int fd, st_error *err)
{
    if (name == NULL || name[0] == '\0' || strlen(name) >= ST_RELAY_NAME_MAX) {
        if (fd >= 0)
            close(fd);
        return st_error_set(err, EINVAL, "relay channel name \"%s\": 1 to %d characters",
                            name ? name : "(null)", ST_RELAY_NAME_MAX - 1);
    }
    struct stat st;
    int fl;
    if (fd < 0 || fstat(fd, &st) < 0 || (fl = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = fd < 0 ? EBADF : errno;
        if (fd >= 0)
            close(fd);
        return st_error_sys(err, e, "relay channel %s: not a usable descriptor", name);
    }
    struct channel *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return st_error_set(err, ENOMEM, "relay channel %s: out of memory", name);
    }
    c->p.kind = P_CHANNEL;
    c->p.fd = fd;
    c->is_sock = S_ISSOCK(st.st_mode);
    c->next_id = 1;
    snprintf(c->name, sizeof(c->name), "%s", name);
    ilist_init(&c->link);
    ilist_init(&c->waiters);

    pthread_mutex_lock(&r->lock);
    struct channel *old = chan_find(r, name);
    if (old)
        chan_kill(r, old, "replaced by a new channel of that name");
    int rc = relay_poll_set(r, &c->p, EPOLLIN);
    if (rc < 0) {
        pthread_mutex_unlock(&r->lock);
        close(fd);
        free(c);
        return st_error_sys(err, -rc, "relay channel %s: cannot watch its descriptor", name);
    }
    ilist_add_tail(&r->channels, &c->link);
    relay_wake(r);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void st_relay_channel_remove(st_relay *r, const char *name)
{
    pthread_mutex_lock(&r->lock);
    struct channel *c = chan_find(r, name);
    if (c)
        chan_kill(r, c, "removed");
    relay_wake(r);
    pthread_mutex_unlock(&r->lock);
}

bool st_relay_channel_up(st_relay *r, const char *name)
{
    pthread_mutex_lock(&r->lock);
    struct channel *c = chan_find(r, name);
    bool up = c && !c->closed;
    pthread_mutex_unlock(&r->lock);
    return up;
}
