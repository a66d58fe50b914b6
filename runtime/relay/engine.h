/* engine.h: the relay's private tables, shared by its facilities (engine,
 * channel, listener, stream). Not installed: the contract is strata/relay.h.
 *
 * Threads and memory: every table below is guarded by st_relay.lock. Any
 * thread may change them while holding it (the API calls do); only the
 * relay thread waits in epoll. An object that goes away (stream, channel,
 * listener) is unlinked, its fd closed and `dead` set, then parked on a
 * graveyard list that only the relay thread frees, right before it waits
 * again: so an event epoll already returned never points at freed memory,
 * it only finds `dead` set. pick/resolve run on the relay thread with the
 * lock released (stream.c, pick phase), never in the middle of a parse. */
#ifndef STRATA_RELAY_ENGINE_H
#define STRATA_RELAY_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/relay.h"

/* An intrusive doubly linked list; an unlinked node points at itself. */
struct ilist {
    struct ilist *prev, *next;
};
static inline void ilist_init(struct ilist *n)
{
    n->prev = n->next = n;
}
static inline bool ilist_empty(const struct ilist *h)
{
    return h->next == h;
}
static inline void ilist_del(struct ilist *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    ilist_init(n);
}
static inline void ilist_add_tail(struct ilist *h, struct ilist *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
#define ilist_entry(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* A byte queue: data[off, off+len) is queued; grows on demand. Streams
 * free theirs when drained, so an idle stream holds no buffer. */
struct rbuf {
    uint8_t *data;
    size_t off, len, cap;
};
/* Room for want more bytes at the tail (NULL when out of memory). */
uint8_t *rbuf_tail(struct rbuf *b, size_t want);
void rbuf_commit(struct rbuf *b, size_t n);
int rbuf_append(struct rbuf *b, const void *p, size_t n);
void rbuf_consume(struct rbuf *b, size_t n);
void rbuf_free(struct rbuf *b);
static inline uint8_t *rbuf_head(const struct rbuf *b)
{
    return b->data + b->off;
}

enum relay_pkind { P_WAKE, P_LISTENER, P_CHANNEL, P_END };
/* What epoll's data.ptr points at; mask is what is registered (0: not in
 * the epoll set at all, so a hung-up socket we do not read cannot spin). */
struct pollable {
    enum relay_pkind kind;
    int fd;
    uint32_t mask;
};

#define CHAN_BUCKETS 256
/* Channel output above this makes DATA wait its turn (round robin), so a
 * busy stream cannot queue unbounded bytes nor starve the others. */
#define CHAN_OUT_SOFT (2 * ST_RELAY_FRAME_MAX)

struct channel {
    struct pollable p;
    struct ilist link; /* st_relay.channels */
    char name[ST_RELAY_NAME_MAX];
    bool closed, is_sock, dead;
    bool failed; /* out of memory queueing: taken down from its next event */
    struct rbuf in, out;
    struct end *map[CHAN_BUCKETS]; /* stream ends on this channel, by id */
    struct ilist waiters;          /* ends with DATA waiting for room in out */
    uint32_t next_id;
    struct channel *dead_next;
};

struct listener {
    struct pollable p;
    struct ilist link; /* st_relay.listeners */
    char *key;
    char addr[ST_RELAY_ADDR_MAX]; /* as asked ("IP:0" too) */
    uint32_t ip;                  /* network order */
    int port;                     /* the one it got */
    st_relay_pick_fn pick;
    void *opaque;
    long long paused_until; /* out of descriptors: accept again then */
    bool dead;
    struct listener *dead_next;
};

/* One side of a stream: a TCP socket (p.fd) or an id on a channel (ch). */
struct end {
    struct pollable p; /* kind P_END */
    struct stream *s;
    int idx; /* 0: the client side, 1: the backend side */
    struct channel *ch;
    uint32_t id;
    struct end *hnext;  /* channel map bucket */
    struct ilist wlink; /* channel waiters */
    uint32_t credit;    /* DATA bytes we may still send it */
    uint32_t rx_held;   /* DATA bytes it sent that we have not credited back */
    uint32_t owed;      /* of rx_held, bytes that left our buffer */
    bool on_chan;       /* a channel end (ch is NULL once released) */
    bool in_eof;        /* it sends nothing more (EOF, CLOSE) */
    bool out_shut;      /* we told it we send nothing more */
    bool connecting;    /* TCP connect or OPEN in flight */
};

enum relay_sstate { S_PICK, S_CONNECT, S_UP };

struct stream {
    struct ilist link;  /* st_relay.streams */
    struct ilist pend;  /* st_relay.pend while S_CONNECT (deadline) */
    struct ilist pickq; /* st_relay.pickq while waiting for pick */
    struct end e[2];
    struct rbuf buf[2]; /* buf[d]: bytes from e[d] on their way to e[!d] */
    struct rbuf replay; /* what the client sent while the backend said nothing */
    size_t nocredit;    /* head of buf[0] replayed: already credited */
    bool replay_ok, spoke, reached, ok_sent, dead;
    enum relay_sstate st;
    long long deadline;
    st_relay_pick_fn pick;
    void *opaque;
    char *key;
    char from[ST_RELAY_NAME_MAX];
    struct st_relay_target targets[ST_RELAY_TARGETS_MAX];
    int ntargets, next, attempts;
    char why[768]; /* what the failed attempts said */
    struct stream *dead_next;
};

struct st_relay {
    struct st_relay_config cfg;
    pthread_mutex_t lock;
    pthread_t thread;
    bool stopping;
    int ep;
    struct pollable wake; /* eventfd */
    struct ilist channels, listeners, streams, pend, pickq;
    struct stream *dead_streams;
    struct channel *dead_channels;
    struct listener *dead_listeners;
    struct st_relay_stats stats;
};

/* engine.c */
long long relay_now_ms(void);
/* Registers p for mask (0 removes it from the epoll set); 0 or -errno. */
int relay_poll_set(st_relay *r, struct pollable *p, uint32_t mask);
void relay_wake(st_relay *r);
/* Closes a socket; with rst, SO_LINGER 0 first so the peer sees a reset. */
void relay_sock_close(int fd, bool rst);

/* channel.c */
struct channel *chan_find(st_relay *r, const char *name);
void chan_on_event(st_relay *r, struct channel *c, uint32_t events);
/* Queues one frame (never fails short of memory: then the channel goes
 * down). */
void chan_send(st_relay *r, struct channel *c, uint32_t id, uint8_t type, const void *payload,
               size_t len);
/* Closes it (streams on it lose that end); it stays in the table, down. */
void chan_down(st_relay *r, struct channel *c, const char *why);
/* Down, out of the table, onto the graveyard. */
void chan_kill(st_relay *r, struct channel *c, const char *why);
void chan_free(struct channel *c);
uint32_t chan_new_id(st_relay *r, struct channel *c);
void chan_map_add(struct channel *c, struct end *e);
void chan_map_del(struct channel *c, struct end *e);
/* Whether DATA may be queued now; if not, e waits its turn. */
bool chan_room(struct channel *c, struct end *e);

/* listener.c */
void listener_on_event(st_relay *r, struct listener *l);
void listener_timers(st_relay *r, long long now, long long *next);
void listener_kill(st_relay *r, struct listener *l);
void listener_free(struct listener *l);

/* stream.c */
/* A new stream whose client is an accepted socket (listener) or an OPEN on
 * channel c; queued for pick. */
void stream_accept(st_relay *r, struct listener *l, int fd);
void stream_open(st_relay *r, struct channel *c, uint32_t id, const char *addr);
/* A frame for stream end e (found in c's map). Returns 0 or -EPROTO with
 * err (the channel is then closed). */
int stream_on_frame(st_relay *r, struct end *e, uint8_t type, const uint8_t *p, uint32_t len,
                    st_error *err);
void stream_on_event(st_relay *r, struct end *e, uint32_t events);
/* e's channel is gone. */
void stream_end_lost(st_relay *r, struct end *e, const char *why);
/* e's channel has room again for its DATA. */
void stream_chan_ready(st_relay *r, struct end *e);
void stream_timers(st_relay *r, long long now, long long *next);
/* Runs the pick queue; drops the lock around each callback. */
void stream_picks(st_relay *r);
void stream_kill(st_relay *r, struct stream *s, const char *why);
void stream_free(struct stream *s);

#endif
