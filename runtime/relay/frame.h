/* frame.h: the relay's wire format (see strata/relay.h) as pure functions,
 * private to the library and its unit tests: the 12-byte frame header, the
 * payload rules of each frame type, and "IP:PORT" parsing. No I/O here, so
 * every malformed case can be tested byte by byte. */
#ifndef STRATA_RELAY_FRAME_H
#define STRATA_RELAY_FRAME_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/relay.h"

#define ST_RELAY_HDR_LEN 12
/* Bit 31 of a stream id: set on ids the guest side opens. */
#define ST_RELAY_ID_GUEST 0x80000000u

struct st_relay_frame {
    uint32_t id;
    uint8_t type; /* enum st_relay_frame_type */
    uint32_t len; /* payload bytes after the header */
};

/* Writes the header of a frame into out. */
void st_relay_frame_encode(uint8_t out[ST_RELAY_HDR_LEN], uint32_t id, uint8_t type, uint32_t len);

/* Reads a header: 0, or -EPROTO with err saying what is wrong (unknown
 * type, flags or reserved bits set, payload over ST_RELAY_FRAME_MAX, a
 * length the type does not allow). */
int st_relay_frame_decode(const uint8_t in[ST_RELAY_HDR_LEN], struct st_relay_frame *out,
                          st_error *err);

/* The u32 credit of a WINDOW payload (4 bytes, checked by decode). */
uint32_t st_relay_frame_u32(const uint8_t *p);
void st_relay_frame_put_u32(uint8_t *p, uint32_t v);

/* Parses "a.b.c.d:port" (numeric IPv4; port 1..65535, or 0 when port0_ok)
 * into out. -EINVAL with err naming the text otherwise. */
int st_relay_addr_parse(const char *text, bool port0_ok, struct sockaddr_in *out, st_error *err);

#endif
