/* relay.h: TCP streams carried over one byte channel (a node's data
 * virtio-serial port between host and guest), and the proxy that sends a
 * new connection to one of several backends, trying the next when one
 * cannot be reached. One engine serves both sides: stratad on the host
 * (LoadBalancer, NodePort and port-forward listeners; streams between
 * nodes) and strata-node in a guest (ClusterIP listeners). It never blocks
 * its caller: it runs on its own thread, and every function here may be
 * called from any other thread.
 *
 * Wire format of a channel (both directions), one frame after another:
 *   u32 stream id (big-endian): the opener picks it; ids opened by the side
 *       that called st_relay_channel_add with ST_RELAY_SIDE_HOST have bit 31
 *       clear, the guest side's have it set, so the two never collide
 *   u8  type: OPEN, OPEN_OK, OPEN_FAIL, DATA, WINDOW, CLOSE, RESET
 *   u8  flags (0), u16 reserved (0)
 *   u32 payload length (big-endian), at most ST_RELAY_FRAME_MAX
 *   payload: OPEN "ADDR:PORT" (numeric IPv4); OPEN_FAIL and RESET a reason
 *   a person can read; DATA bytes; WINDOW a u32 credit; CLOSE nothing (the
 *   sender will send no more data: the far end shuts down its write side).
 * Flow control: a sender may have at most ST_RELAY_WINDOW bytes of DATA on
 * a stream not yet credited back; the receiver credits (WINDOW) bytes as
 * they leave its buffer. So one slow stream never holds up the others, and
 * memory per stream is bounded. A malformed frame closes the channel.
 *
 * Retries: until a backend has sent its first byte back, the relay keeps
 * what the client sent (up to ST_RELAY_REPLAY_MAX bytes); if that backend
 * fails first (connection refused or timed out, OPEN_FAIL, RESET, its
 * channel gone, EOF without a byte), the next target is tried with those
 * bytes replayed. Only when every target failed does the client see it:
 * a listener's connection is closed (RST), an OPEN gets OPEN_FAIL with the
 * reasons. After the first byte back, a failure resets the client. */
#ifndef STRATA_RELAY_H
#define STRATA_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/error.h"

#define ST_RELAY_FRAME_MAX  (64 * 1024)
#define ST_RELAY_WINDOW     (256 * 1024)
#define ST_RELAY_REPLAY_MAX (64 * 1024)
/* "255.255.255.255:65535" and a NUL */
#define ST_RELAY_ADDR_MAX 22
#define ST_RELAY_NAME_MAX 64
/* At most this many targets are tried for one connection. */
#define ST_RELAY_TARGETS_MAX 16

enum st_relay_frame_type {
    ST_RELAY_OPEN = 1,
    ST_RELAY_OPEN_OK = 2,
    ST_RELAY_OPEN_FAIL = 3,
    ST_RELAY_DATA = 4,
    ST_RELAY_WINDOW_UPDATE = 5,
    ST_RELAY_CLOSE = 6,
    ST_RELAY_RESET = 7,
};

enum st_relay_side { ST_RELAY_SIDE_HOST, ST_RELAY_SIDE_GUEST };

/* Where one attempt goes: channel "" (empty) means connect directly to
 * addr over TCP from this process; otherwise open a stream on that channel
 * and let the far end connect to addr. */
struct st_relay_target {
    char channel[ST_RELAY_NAME_MAX];
    char addr[ST_RELAY_ADDR_MAX];
};

/* Fills up to max targets, in the order to try them, for one new
 * connection: on a listener, key is the listener's key; for an OPEN that
 * arrived on a channel, key is the requested "ADDR:PORT" and from names the
 * channel. Returns how many (>= 1), or 0 / a negative errno with err set
 * (the reason goes to the client: no endpoint, a refused address).
 * Runs on the relay thread with no relay lock held (it may take the
 * caller's own locks); it must not block or call back into the relay. */
typedef int (*st_relay_pick_fn)(void *opaque, const char *key, const char *from,
                                struct st_relay_target *out, int max, st_error *err);

struct st_relay_config {
    enum st_relay_side side;
    /* For OPENs that arrive on any channel; NULL refuses them all. */
    st_relay_pick_fn resolve;
    void *opaque;
    unsigned max_streams;   /* open streams at once, 0 = 4096; more are refused */
    int connect_timeout_ms; /* one direct connect attempt, 0 = 2000 */
    int open_timeout_ms;    /* one OPEN waiting for OPEN_OK, 0 = 5000 */
};

typedef struct st_relay st_relay;

/* Creates the engine and starts its thread. */
int st_relay_new(const struct st_relay_config *cfg, st_relay **out, st_error *err);
/* Stops the thread and closes every listener, stream and channel. */
void st_relay_free(st_relay *r);

/* Takes fd (a connected stream socket or a virtio-serial port; made
 * nonblocking here) as the channel called name. A channel of that name
 * already there is replaced (its streams reset). */
int st_relay_channel_add(st_relay *r, const char *name, int fd, st_error *err);
/* Resets every stream on it and closes it; nothing if there is none. */
void st_relay_channel_remove(st_relay *r, const char *name);
/* Whether a channel of that name is there and not closed (EOF, error). */
bool st_relay_channel_up(st_relay *r, const char *name);

/* Listens on addr ("IP:PORT", numeric IPv4; port 0 picks a free one) under
 * key; each accepted connection goes to pick(opaque, key, NULL, ...).
 * -EADDRINUSE (or another errno) with err saying which address. A key
 * already listening is replaced. */
int st_relay_listen(st_relay *r, const char *key, const char *addr, st_relay_pick_fn pick,
                    void *opaque, st_error *err);
/* Closes that listener (connections it accepted go on); nothing if none. */
void st_relay_unlisten(st_relay *r, const char *key);
/* The port a listener got (for port 0), or -ENOENT. */
int st_relay_listener_port(st_relay *r, const char *key);

struct st_relay_stats {
    uint64_t accepted;      /* connections accepted on listeners */
    uint64_t opened;        /* OPENs accepted from channels */
    uint64_t connected;     /* streams that reached a backend */
    uint64_t retried;       /* attempts after a failed one */
    uint64_t failed;        /* connections no target could take */
    uint64_t refused_limit; /* refused because max_streams were open */
    uint64_t active;        /* streams open now */
    uint64_t listeners;     /* listeners open now */
};
void st_relay_stats(st_relay *r, struct st_relay_stats *out);

#endif
