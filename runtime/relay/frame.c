/* frame.c: the relay's frame header and address text, kept free of I/O so
 * the engine's parser is one call and the tests can feed it any bytes. */
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void st_relay_frame_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t st_relay_frame_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void st_relay_frame_encode(uint8_t out[ST_RELAY_HDR_LEN], uint32_t id, uint8_t type, uint32_t len)
{
    st_relay_frame_put_u32(out, id);
    out[4] = type;
    out[5] = 0;
    out[6] = 0;
    out[7] = 0;
    st_relay_frame_put_u32(out + 8, len);
}

int st_relay_frame_decode(const uint8_t in[ST_RELAY_HDR_LEN], struct st_relay_frame *out,
                          st_error *err)
{
    out->id = st_relay_frame_u32(in);
    out->type = in[4];
    out->len = st_relay_frame_u32(in + 8);
    if (in[5] != 0 || in[6] != 0 || in[7] != 0)
        return st_error_set(err, EPROTO, "relay frame on stream %u: flags or reserved bits set",
                            out->id);
    if (out->len > ST_RELAY_FRAME_MAX)
        return st_error_set(err, EPROTO,
                            "relay frame on stream %u: payload of %u bytes (at most %d)", out->id,
                            out->len, ST_RELAY_FRAME_MAX);
    bool ok;
    switch (out->type) {
    case ST_RELAY_OPEN:
        ok = out->len >= 1 && out->len < ST_RELAY_ADDR_MAX;
        break;
    case ST_RELAY_OPEN_OK:
    case ST_RELAY_CLOSE:
        ok = out->len == 0;
        break;
    case ST_RELAY_WINDOW_UPDATE:
        ok = out->len == 4;
        break;
    case ST_RELAY_OPEN_FAIL:
    case ST_RELAY_DATA:
    case ST_RELAY_RESET:
        ok = true;
        break;
    default:
        return st_error_set(err, EPROTO, "relay frame on stream %u: unknown type %u", out->id,
                            out->type);
    }
    if (!ok)
        return st_error_set(err, EPROTO, "relay frame on stream %u: type %u cannot carry %u bytes",
                            out->id, out->type, out->len);
    return 0;
}

int st_relay_addr_parse(const char *text, bool port0_ok, struct sockaddr_in *out, st_error *err)
{
    char ip[ST_RELAY_ADDR_MAX];
    const char *colon = text ? strrchr(text, ':') : NULL;
    if (colon == NULL || (size_t)(colon - text) >= sizeof(ip))
        return st_error_set(err, EINVAL, "\"%s\" is not an address: write IP:PORT (numeric IPv4)",
                            text ? text : "(null)");
    memcpy(ip, text, (size_t)(colon - text));
    ip[colon - text] = '\0';
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &out->sin_addr) != 1)
        return st_error_set(err, EINVAL, "\"%s\" is not an address: \"%s\" is not a numeric IPv4",
                            text, ip);
    const char *p = colon + 1;
    long port = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
        port = port * 10 + (*p - '0');
    if (digits == 0 || *p != '\0' || port > 65535 || (port == 0 && !port0_ok))
        return st_error_set(err, EINVAL, "\"%s\" is not an address: the port must be 1..65535",
                            text);
    out->sin_port = htons((uint16_t)port);
    return 0;
}
