/* test_relay_frame.c: the relay's wire format byte by byte (header layout,
 * big-endian fields, what each frame type may carry, every malformed case
 * the engine must refuse) and "IP:PORT" parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "testutil.h"

static void test_encode_layout(void **state)
{
    (void)state;
    uint8_t h[ST_RELAY_HDR_LEN];
    st_relay_frame_encode(h, 0x80000102u, ST_RELAY_DATA, 0x00010000u);
    const uint8_t want[] = {0x80, 0x00, 0x01, 0x02, ST_RELAY_DATA, 0, 0, 0, 0x00, 0x01, 0x00, 0x00};
    assert_memory_equal(h, want, sizeof(want));
}

static void test_round_trip(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint32_t len;
    } ok[] = {
        {ST_RELAY_OPEN, 1},      {ST_RELAY_OPEN, 21}, {ST_RELAY_OPEN_OK, 0},
        {ST_RELAY_OPEN_FAIL, 0}, {ST_RELAY_DATA, 0},  {ST_RELAY_DATA, ST_RELAY_FRAME_MAX},
        {ST_RELAY_CLOSE, 0},     {ST_RELAY_RESET, 9}, {ST_RELAY_WINDOW_UPDATE, 4},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint8_t h[ST_RELAY_HDR_LEN];
        st_relay_frame_encode(h, (uint32_t)i + 7, ok[i].type, ok[i].len);
        struct st_relay_frame f;
        st_error err = {0};
        assert_int_equal(st_relay_frame_decode(h, &f, &err), 0);
        assert_int_equal(f.id, i + 7);
        assert_int_equal(f.type, ok[i].type);
        assert_int_equal(f.len, ok[i].len);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    struct {
        uint8_t type;
        uint32_t len;
        int byte; /* a header byte to spoil (-1: none) */
        const char *says;
    } bad[] = {
        {0, 0, -1, "unknown type"},
        {8, 0, -1, "unknown type"},
        {ST_RELAY_DATA, ST_RELAY_FRAME_MAX + 1, -1, "at most"},
        {ST_RELAY_DATA, 1, 5, "flags"},
        {ST_RELAY_DATA, 1, 6, "reserved"},
        {ST_RELAY_OPEN, 0, -1, "cannot carry"},
        {ST_RELAY_OPEN, ST_RELAY_ADDR_MAX, -1, "cannot carry"},
        {ST_RELAY_OPEN_OK, 1, -1, "cannot carry"},
        {ST_RELAY_CLOSE, 2, -1, "cannot carry"},
        {ST_RELAY_WINDOW_UPDATE, 3, -1, "cannot carry"},
        {ST_RELAY_WINDOW_UPDATE, 5, -1, "cannot carry"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t h[ST_RELAY_HDR_LEN];
        st_relay_frame_encode(h, 1, bad[i].type, bad[i].len);
        if (bad[i].byte >= 0)
            h[bad[i].byte] = 1;
        struct st_relay_frame f;
        st_error err = {0};
        assert_int_equal(st_relay_frame_decode(h, &f, &err), -EPROTO);
        if (strstr(err.msg, bad[i].says) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, bad[i].says);
    }
}

static void test_u32(void **state)
{
    (void)state;
    uint8_t b[4];
    st_relay_frame_put_u32(b, 0x01020304u);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[3], 4);
    assert_int_equal(st_relay_frame_u32(b), 0x01020304u);
    st_relay_frame_put_u32(b, 0xffffffffu);
    assert_int_equal(st_relay_frame_u32(b), 0xffffffffu);
}

static void test_addr_parse(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    st_error err = {0};
    assert_int_equal(st_relay_addr_parse("10.244.3.7:8080", false, &sa, &err), 0);
    assert_int_equal(ntohs(sa.sin_port), 8080);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), 0x0af40307u);
    assert_int_equal(st_relay_addr_parse("255.255.255.255:65535", false, &sa, &err), 0);
    assert_int_equal(st_relay_addr_parse("127.1.0.5:0", true, &sa, &err), 0);
    assert_int_equal(ntohs(sa.sin_port), 0);

    static const char *const bad[] = {
        "127.0.0.1:0", /* port 0 where it is not allowed */
        "127.0.0.1",
        "127.0.0.1:",
        ":80",
        "localhost:80",
        "127.0.0.1:65536",
        "127.0.0.1:8x",
        "127.0.0.1:-1",
        "1.2.3:80",
        "[::1]:80",
        "127.0.0.1:0000080",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st_error e = {0};
        if (st_relay_addr_parse(bad[i], false, &sa, &e) != -EINVAL)
            fail_msg("\"%s\" was taken as an address", bad[i]);
        assert_non_null(strstr(e.msg, "IP") ? e.msg : strstr(e.msg, "port"));
    }
    st_error e = {0};
    assert_int_equal(st_relay_addr_parse(NULL, false, &sa, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_u32),
        cmocka_unit_test(test_addr_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
