/* fuzz_proto.h: the driver the two node protocol targets share
 * (fuzz_host_to_node.c, fuzz_node_to_host.c): the line reader of
 * runtime/node_proto.c fed the input in two reads, split where its first
 * byte says (a line may span them, as on the channel), each complete line
 * decoded and handed to the target's own parsing of its side's messages;
 * a type the target does not take is parsed as a ping / pong (its id),
 * which either side may receive. What each side does with a message is
 * its own. */
#ifndef STRATA_FUZZ_PROTO_H
#define STRATA_FUZZ_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/node_proto.h"

/* handle: parses msg of that type as its side does; false when the type
 * is not one of its side's own. */
typedef bool (*st_fuzz_proto_handler)(json_t *msg, const char *type);

static inline void st_fuzz_proto_message(const char *line, st_fuzz_proto_handler handle)
{
    json_t *msg = NULL;
    const char *type = NULL;
    if (st_proto_decode(line, &msg, &type, NULL) < 0)
        return;
    if (!handle(msg, type)) {
        int64_t id;
        st_proto_ping_parse(msg, &id, NULL);
    }
    json_decref(msg);
}

static inline void st_fuzz_proto_lines(const uint8_t *data, size_t size,
                                       st_fuzz_proto_handler handle)
{
    struct st_proto_reader r;
    st_proto_reader_init(&r);
    size_t cut = size ? data[0] % (size + 1) : 0;
    const char *line;
    for (int part = 0; part < 2; part++) {
        const uint8_t *p = part == 0 ? data : data + cut;
        size_t n = part == 0 ? cut : size - cut;
        if (st_proto_reader_feed(&r, p, n, NULL) < 0)
            break;
        int got;
        while ((got = st_proto_reader_next(&r, &line, NULL)) != 0) {
            if (got > 0)
                st_fuzz_proto_message(line, handle);
        }
    }
    st_proto_reader_free(&r);
}

#endif
