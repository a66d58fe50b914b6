/* stream.c: one relayed connection: its two ends (a TCP socket, or an id on
 * a channel), the bytes between them under credit flow control, the
 * attempts over its targets with the client's first bytes replayed, and
 * the close/reset rules of strata/relay.h.
 *
 * Buffers: buf[d] holds bytes from end d to end !d. A TCP end is read only
 * while its buffer has room (ST_RELAY_WINDOW; until a backend is reached,
 * only as much as the replay can keep), a channel end may send at most
 * ST_RELAY_WINDOW bytes we have not credited back, and we credit bytes as
 * they leave the buffer. So each stream holds at most about two windows and
 * a slow reader only ever stops its own stream. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "frame.h"

static void pump(st_relay *r, struct stream *s);

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct stream *stream_new(st_relay *r)
{
    struct stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    ilist_init(&s->link);
    ilist_init(&s->pend);
    ilist_init(&s->pickq);
    for (int i = 0; i < 2; i++) {
        s->e[i].p.kind = P_END;
        s->e[i].p.fd = -1;
        s->e[i].s = s;
        s->e[i].idx = i;
        s->e[i].credit = ST_RELAY_WINDOW;
        ilist_init(&s->e[i].wlink);
    }
    s->replay_ok = true;
    s->st = S_PICK;
    ilist_add_tail(&r->streams, &s->link);
    r->stats.active++;
    return s;
}

void stream_free(struct stream *s)
{
    for (int d = 0; d < 2; d++)
        rbuf_free(&s->buf[d]);
    rbuf_free(&s->replay);
    free(s->key);
    free(s);
}

/* Lets go of end e: a socket is closed (reset when rst), a channel id is
 * forgotten after a RESET (or OPEN_FAIL to an OPEN not yet answered) when
 * rst. Its state is cleared for the next attempt. */
static void end_release(st_relay *r, struct stream *s, struct end *e, bool rst, const char *why)
{
    if (e->p.fd >= 0) {
        relay_poll_set(r, &e->p, 0);
        relay_sock_close(e->p.fd, rst);
        e->p.fd = -1;
    }
    if (e->ch) {
        if (rst) {
            bool fail = e->idx == 0 && !s->ok_sent;
            chan_send(r, e->ch, e->id, fail ? ST_RELAY_OPEN_FAIL : ST_RELAY_RESET, why,
                      strnlen(why, 512));
        }
        chan_map_del(e->ch, e);
    }
    e->on_chan = false;
    e->id = 0;
    e->credit = ST_RELAY_WINDOW;
    e->rx_held = e->owed = 0;
    e->in_eof = e->out_shut = e->connecting = false;
}

static void stream_bury(st_relay *r, struct stream *s, const char *why, bool rst)
{
    if (s->dead)
        return;
    s->dead = true;
    for (int i = 0; i < 2; i++)
        end_release(r, s, &s->e[i], rst, why);
    ilist_del(&s->link);
    ilist_del(&s->pend);
    ilist_del(&s->pickq);
    r->stats.active--;
    s->dead_next = r->dead_streams;
    r->dead_streams = s;
}

void stream_kill(st_relay *r, struct stream *s, const char *why)
{
    stream_bury(r, s, why, true);
}

/* Adds what one target said to the reasons a failed client is given. */
static void note_failure(struct stream *s, const char *why)
{
    const struct st_relay_target *t = &s->targets[s->next - 1];
    size_t n = strlen(s->why);
    if (n + 1 >= sizeof(s->why))
        return;
    snprintf(s->why + n, sizeof(s->why) - n, "%s%s%s%s: %s", n ? "; " : "", t->addr,
             t->channel[0] ? " via " : "", t->channel, why);
}

static void on_connected(st_relay *r, struct stream *s)
{
    s->e[1].connecting = false;
    s->st = S_UP;
    ilist_del(&s->pend);
    if (!s->reached) {
        s->reached = true;
        r->stats.connected++;
    }
    if (s->e[0].ch && !s->ok_sent)
        chan_send(r, s->e[0].ch, s->e[0].id, ST_RELAY_OPEN_OK, NULL, 0);
    s->ok_sent = true;
    pump(r, s);
}

/* Starts a nonblocking connect for end b; 0, or -1 with why filled. */
static int try_connect(st_relay *r, struct stream *s, const char *addr, char *why, size_t len)
{
    st_error err = {0};
    struct sockaddr_in sa;
    if (st_relay_addr_parse(addr, false, &sa, &err) < 0) {
        size_t n = strnlen(err.msg, len - 1);
        memcpy(why, err.msg, n); /* truncated to fit the reasons */
        why[n] = '\0';
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, len, "socket: %s", strerror(errno));
        return -1;
    }
    set_nodelay(fd);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        snprintf(why, len, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* done or not, EPOLLOUT says so and SO_ERROR tells how */
    struct end *b = &s->e[1];
    b->p.fd = fd;
    b->connecting = true;
    relay_poll_set(r, &b->p, EPOLLOUT);
    return 0;
}

/* Tries the next targets until one is under way; kills the stream when
 * none is left. */
static void start_attempt(st_relay *r, struct stream *s)
{
    struct end *b = &s->e[1];
    while (!s->dead && s->next < s->ntargets) {
        const struct st_relay_target *t = &s->targets[s->next++];
        if (s->attempts++ > 0)
            r->stats.retried++;
        char why[256];
        if (t->channel[0] == '\0') {
            if (try_connect(r, s, t->addr, why, sizeof(why)) == 0) {
                s->deadline = relay_now_ms() + r->cfg.connect_timeout_ms;
                break;
            }
        } else {
            struct channel *c = chan_find(r, t->channel);
            if (c && !c->closed) {
                b->id = chan_new_id(r, c);
                chan_map_add(c, b);
                b->connecting = true;
                chan_send(r, c, b->id, ST_RELAY_OPEN, t->addr, strlen(t->addr));
                s->deadline = relay_now_ms() + r->cfg.open_timeout_ms;
                break;
            }
            snprintf(why, sizeof(why), "channel %s is not up", t->channel);
        }
        note_failure(s, why);
    }
    if (s->dead)
        return;
    if (!b->connecting) {
        r->stats.failed++;
        stream_kill(r, s, s->why[0] ? s->why : "no target");
        return;
    }
    s->st = S_CONNECT;
    ilist_add_tail(&r->pend, &s->pend);
    pump(r, s); /* an OPEN carries the client's first bytes right behind it */
}

/* The current attempt failed before the backend sent a byte: the next
 * target gets the client's bytes again, if they were all kept. */
static void attempt_failed(st_relay *r, struct stream *s, const char *why, bool rst)
{
    if (s->dead)
        return;
    note_failure(s, why);
    end_release(r, s, &s->e[1], rst, why);
    ilist_del(&s->pend);
    if (s->spoke) {
        stream_kill(r, s, why);
        return;
    }
    if (!s->replay_ok || s->next >= s->ntargets) {
        r->stats.failed++;
        stream_kill(r, s, s->why);
        return;
    }
    /* buf[0] is a tail of the replay; of it, only what came after the
     * last replay is still to be credited */
    size_t uncredited = s->buf[0].len - s->nocredit;
    rbuf_free(&s->buf[0]);
    rbuf_free(&s->buf[1]);
    if (rbuf_append(&s->buf[0], rbuf_head(&s->replay), s->replay.len) < 0) {
        r->stats.failed++;
        stream_kill(r, s, "out of memory replaying the request");
        return;
    }
    s->nocredit = s->replay.len - uncredited;
    start_attempt(r, s);
}

/* End e failed (I/O error, RESET): retry while the backend said nothing,
 * otherwise both sides are reset. */
static void end_failed(st_relay *r, struct stream *s, struct end *e, const char *why)
{
    if (e->idx == 1 && !s->spoke)
        attempt_failed(r, s, why, true);
    else
        stream_kill(r, s, why);
}

/* Bytes from end i entered buf[i]. */
static void on_bytes(struct stream *s, int i, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (i == 1 && !s->spoke) {
        s->spoke = true; /* from now on a failure resets the client */
        s->replay_ok = false;
        rbuf_free(&s->replay);
    }
    if (i == 0 && s->replay_ok) {
        if (s->replay.len + n > ST_RELAY_REPLAY_MAX || rbuf_append(&s->replay, p, n) < 0) {
            s->replay_ok = false;
            rbuf_free(&s->replay);
        }
    }
}

/* How many more bytes end i may be read for now. */
static size_t room(const struct stream *s, int i)
{
    if (i == 0 && s->st != S_UP)
        return s->replay_ok && s->replay.len < ST_RELAY_REPLAY_MAX
                   ? ST_RELAY_REPLAY_MAX - s->replay.len
                   : 0;
    return s->buf[i].len < ST_RELAY_WINDOW ? ST_RELAY_WINDOW - s->buf[i].len : 0;
}

/* Whether bytes may go to end i now. */
static bool can_send(const struct stream *s, int i)
{
    const struct end *e = &s->e[i];
    if (e->on_chan)
        return e->ch != NULL && !(i == 1 && s->st == S_PICK);
    return e->p.fd >= 0 && !e->connecting;
}

static void consumed(st_relay *r, struct stream *s, int d, size_t n)
{
    struct end *src = &s->e[d];
    rbuf_consume(&s->buf[d], n);
    if (d == 0) {
        size_t skip = n < s->nocredit ? n : s->nocredit;
        s->nocredit -= skip;
        n -= skip;
    }
    if (src->ch)
        src->owed += (uint32_t)n;
    (void)r;
}

/* Moves buf[d] towards end !d as far as it takes, then passes on an EOF. */
static void flush_dir(st_relay *r, struct stream *s, int d)
{
    struct end *src = &s->e[d], *dst = &s->e[!d];
    struct rbuf *b = &s->buf[d];
    if (!can_send(s, !d))
        return;
    while (b->len > 0) {
        if (dst->ch) {
            if (dst->credit == 0 || !chan_room(dst->ch, dst))
                break;
            size_t n = b->len;
            if (n > dst->credit)
                n = dst->credit;
            if (n > ST_RELAY_FRAME_MAX)
                n = ST_RELAY_FRAME_MAX;
            chan_send(r, dst->ch, dst->id, ST_RELAY_DATA, rbuf_head(b), n);
            dst->credit -= (uint32_t)n;
            consumed(r, s, d, n);
            continue;
        }
        ssize_t n = send(dst->p.fd, rbuf_head(b), b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            char why[128];
            snprintf(why, sizeof(why), "send: %s", strerror(errno));
            end_failed(r, s, dst, why);
            return;
        }
        consumed(r, s, d, (size_t)n);
    }
    if (b->len == 0)
        rbuf_free(b);
    /* credit in batches, or at once when the buffer ran dry */
    if (src->ch && src->owed > 0 && (src->owed >= ST_RELAY_WINDOW / 4 || b->len == 0)) {
        uint8_t w[4];
        st_relay_frame_put_u32(w, src->owed);
        chan_send(r, src->ch, src->id, ST_RELAY_WINDOW_UPDATE, w, sizeof(w));
        src->rx_held -= src->owed;
        src->owed = 0;
    }
    if (src->in_eof && b->len == 0 && !dst->out_shut) {
        dst->out_shut = true;
        if (dst->ch)
            chan_send(r, dst->ch, dst->id, ST_RELAY_CLOSE, NULL, 0);
        else
            shutdown(dst->p.fd, SHUT_WR);
    }
}

static void update_masks(st_relay *r, struct stream *s)
{
    for (int i = 0; i < 2; i++) {
        struct end *e = &s->e[i];
        if (e->p.fd < 0)
            continue;
        uint32_t mask = 0;
        if (e->connecting) {
            mask = EPOLLOUT;
        } else {
            if (!e->in_eof && room(s, i) > 0)
                mask |= EPOLLIN;
            if (s->buf[!i].len > 0)
                mask |= EPOLLOUT;
        }
        relay_poll_set(r, &e->p, mask);
    }
}

static void pump(st_relay *r, struct stream *s)
{
    for (int d = 0; d < 2 && !s->dead; d++)
        flush_dir(r, s, d);
    if (s->dead)
        return;
    bool done = s->st == S_UP;
    for (int i = 0; i < 2; i++)
        done = done && s->e[i].in_eof && s->e[i].out_shut && s->buf[i].len == 0;
    if (done) {
        stream_bury(r, s, "", false);
        return;
    }
    update_masks(r, s);
}

static void tcp_read(st_relay *r, struct stream *s, struct end *e)
{
    int i = e->idx;
    size_t want = room(s, i);
    if (want == 0 || e->in_eof)
        return;
    uint8_t *t = rbuf_tail(&s->buf[i], want);
    if (t == NULL) {
        stream_kill(r, s, "out of memory");
        return;
    }
    ssize_t n;
    do
        n = recv(e->p.fd, t, want, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        rbuf_commit(&s->buf[i], (size_t)n);
        on_bytes(s, i, t, (size_t)n);
    } else if (n == 0) {
        e->in_eof = true;
        if (i == 1 && !s->spoke)
            attempt_failed(r, s, "closed the connection without answering", false);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        char why[128];
        snprintf(why, sizeof(why), "recv: %s", strerror(errno));
        end_failed(r, s, e, why);
    }
}

void stream_on_event(st_relay *r, struct end *e, uint32_t events)
{
    struct stream *s = e->s;
    if (e->connecting) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(e->p.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr == 0 && !(events & EPOLLOUT))
            return;
        if (soerr != 0) {
            char why[128];
            snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
            attempt_failed(r, s, why, false);
            return;
        }
        on_connected(r, s);
        return;
    }
    if ((e->p.mask & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        tcp_read(r, s, e);
    if (!s->dead)
        pump(r, s);
}

void stream_chan_ready(st_relay *r, struct end *e)
{
    if (!e->s->dead)
        pump(r, e->s);
}

void stream_end_lost(st_relay *r, struct end *e, const char *why)
{
    struct stream *s = e->s;
    if (s->dead)
        return;
    if (e->idx == 1 && !s->spoke)
        attempt_failed(r, s, why, false);
    else
        stream_kill(r, s, why);
}

/* A channel's reason text, made printable. */
static void reason(char *out, size_t len, const uint8_t *p, uint32_t n)
{
    size_t k = 0;
    for (uint32_t i = 0; i < n && k + 1 < len; i++)
        out[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[k] = '\0';
    if (k == 0)
        snprintf(out, len, "reset by the far end");
}

int stream_on_frame(st_relay *r, struct end *e, uint8_t type, const uint8_t *p, uint32_t len,
                    st_error *err)
{
    struct stream *s = e->s;
    bool ours = e->idx == 1; /* a stream this side opened */
    char why[256];
    switch (type) {
    case ST_RELAY_OPEN_OK:
    case ST_RELAY_OPEN_FAIL:
        if (!ours || !e->connecting)
            return st_error_set(err, EPROTO, "%s on stream %u, which is not opening",
                                type == ST_RELAY_OPEN_OK ? "OPEN_OK" : "OPEN_FAIL", e->id);
        if (type == ST_RELAY_OPEN_OK) {
            on_connected(r, s);
        } else {
            reason(why, sizeof(why), p, len);
            attempt_failed(r, s, why, false);
        }
        return 0;
    case ST_RELAY_DATA:
        if (e->in_eof || (ours && e->connecting))
            return st_error_set(err, EPROTO, "DATA on stream %u %s", e->id,
                                e->in_eof ? "after CLOSE" : "before OPEN_OK");
        if ((uint64_t)e->rx_held + len > ST_RELAY_WINDOW)
            return st_error_set(err, EPROTO, "DATA on stream %u beyond its window", e->id);
        e->rx_held += len;
        if (rbuf_append(&s->buf[e->idx], p, len) < 0) {
            stream_kill(r, s, "out of memory");
            return 0;
        }
        on_bytes(s, e->idx, p, len);
        pump(r, s);
        return 0;
    case ST_RELAY_WINDOW_UPDATE: {
        uint32_t n = st_relay_frame_u32(p);
        if ((uint64_t)e->credit + n > ST_RELAY_WINDOW)
            return st_error_set(err, EPROTO, "WINDOW on stream %u beyond the window", e->id);
        e->credit += n;
        pump(r, s);
        return 0;
    }
    case ST_RELAY_CLOSE:
        if (e->in_eof || (ours && e->connecting))
            return st_error_set(err, EPROTO, "CLOSE on stream %u %s", e->id,
                                e->in_eof ? "twice" : "before OPEN_OK");
        e->in_eof = true;
        if (ours && !s->spoke)
            attempt_failed(r, s, "closed the connection without answering", true);
        else
            pump(r, s);
        return 0;
    case ST_RELAY_RESET:
        reason(why, sizeof(why), p, len);
        chan_map_del(e->ch, e); /* nothing goes back on a reset id */
        if (ours && !s->spoke)
            attempt_failed(r, s, why, false);
        else
            stream_kill(r, s, why);
        return 0;
    default:
        return st_error_set(err, EPROTO, "frame type %u on stream %u", type, e->id);
    }
}

void stream_timers(st_relay *r, long long now, long long *next)
{
    bool again = true;
    while (again) {
        again = false;
        for (struct ilist *i = r->pend.next; i != &r->pend; i = i->next) {
            struct stream *s = ilist_entry(i, struct stream, pend);
            if (s->deadline > now) {
                if (*next < 0 || s->deadline < *next)
                    *next = s->deadline;
                continue;
            }
            char why[96];
            bool chan = s->e[1].on_chan;
            snprintf(why, sizeof(why), "%s within %d ms",
                     chan ? "no answer to OPEN" : "no connection",
                     chan ? r->cfg.open_timeout_ms : r->cfg.connect_timeout_ms);
            attempt_failed(r, s, why, true);
            again = true; /* the list changed under us */
            break;
        }
    }
}

void stream_accept(st_relay *r, struct listener *l, int fd)
{
    if (r->stats.active >= r->cfg.max_streams) {
        r->stats.refused_limit++;
        relay_sock_close(fd, true);
        return;
    }
    struct stream *s = stream_new(r);
    char *key = strdup(l->key);
    if (s == NULL || key == NULL) {
        free(key);
        if (s)
            stream_bury(r, s, "", true);
        relay_sock_close(fd, true);
        return;
    }
    set_nodelay(fd);
    s->e[0].p.fd = fd;
    s->pick = l->pick;
    s->opaque = l->opaque;
    s->key = key;
    r->stats.accepted++;
    ilist_add_tail(&r->pickq, &s->pickq);
    update_masks(r, s);
}

void stream_open(st_relay *r, struct channel *c, uint32_t id, const char *addr)
{
    const char *refuse = NULL;
    char why[128];
    if (r->stats.active >= r->cfg.max_streams) {
        r->stats.refused_limit++;
        snprintf(why, sizeof(why), "the relay is at its limit of %u streams", r->cfg.max_streams);
        refuse = why;
    } else if (r->cfg.resolve == NULL) {
        r->stats.failed++;
        refuse = "this side opens no connection on request";
    }
    struct stream *s = refuse ? NULL : stream_new(r);
    char *key = s ? strdup(addr) : NULL;
    if (refuse == NULL && key == NULL) {
        if (s)
            stream_bury(r, s, "", false);
        refuse = "out of memory";
    }
    if (refuse) {
        chan_send(r, c, id, ST_RELAY_OPEN_FAIL, refuse, strlen(refuse));
        return;
    }
    s->e[0].id = id;
    chan_map_add(c, &s->e[0]);
    s->pick = r->cfg.resolve;
    s->opaque = r->cfg.opaque;
    s->key = key;
    snprintf(s->from, sizeof(s->from), "%s", c->name);
    r->stats.opened++;
    ilist_add_tail(&r->pickq, &s->pickq);
}

void stream_picks(st_relay *r)
{
    while (!r->stopping && !ilist_empty(&r->pickq)) {
        struct stream *s = ilist_entry(r->pickq.next, struct stream, pickq);
        ilist_del(&s->pickq);
        struct st_relay_target t[ST_RELAY_TARGETS_MAX];
        memset(t, 0, sizeof(t));
        st_error err = {0};
        st_relay_pick_fn pick = s->pick;
        void *opaque = s->opaque;
        /* s stays allocated until this thread frees the graveyard */
        pthread_mutex_unlock(&r->lock);
        int n = pick(opaque, s->key, s->from[0] ? s->from : NULL, t, ST_RELAY_TARGETS_MAX, &err);
        pthread_mutex_lock(&r->lock);
        if (s->dead)
            continue;
        if (n <= 0) {
            r->stats.failed++;
            stream_kill(r, s, err.msg[0] ? err.msg : "no backend for this connection");
            continue;
        }
        if (n > ST_RELAY_TARGETS_MAX)
            n = ST_RELAY_TARGETS_MAX;
        for (int i = 0; i < n; i++) {
            t[i].channel[ST_RELAY_NAME_MAX - 1] = '\0';
            t[i].addr[ST_RELAY_ADDR_MAX - 1] = '\0';
        }
        memcpy(s->targets, t, sizeof(t[0]) * (size_t)n);
        s->ntargets = n;
        start_attempt(r, s);
    }
}
