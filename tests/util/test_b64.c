/* test_b64.c: base64 as RFC 4648 writes it (its test vectors), binary data
 * round trips, and the strict reading: padding only at the end and at most
 * two, whole groups of four, nothing outside the standard alphabet. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/b64.h"
#include "strata/cleanup.h"
#include "testutil.h"

static const struct {
    const char *plain, *text;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        st_error err = {0};
        _cleanup_free_ char *enc = NULL;
        _cleanup_free_ char *dec = NULL;
        size_t len = 99;
        size_t plen = strlen(vectors[i].plain);
        assert_int_equal(st_b64_encode(vectors[i].plain, plen, &enc, &err), 0);
        assert_string_equal(enc, vectors[i].text);
        assert_int_equal(st_b64_decode(vectors[i].text, (void **)&dec, &len, &err), 0);
        assert_int_equal(len, plen);
        assert_string_equal(dec, vectors[i].plain); /* NUL-terminated */
        assert_true(st_b64_valid(vectors[i].text));
        assert_int_equal(st_b64_decoded_len(vectors[i].text), plen);
    }
}

static void test_binary_round_trip(void **state)
{
    (void)state;
    unsigned char data[256];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(255 - i); /* NULs and high bytes included */
    for (size_t n = 0; n <= sizeof(data); n += 37) {
        st_error err = {0};
        _cleanup_free_ char *enc = NULL;
        _cleanup_free_ unsigned char *dec = NULL;
        size_t len = 0;
        assert_int_equal(st_b64_encode(data, n, &enc, &err), 0);
        assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
        assert_int_equal(st_b64_decode(enc, (void **)&dec, &len, &err), 0);
        assert_int_equal(len, n);
        assert_memory_equal(dec, data, n);
        assert_int_equal(dec[n], 0);
    }
}

static void test_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zg=",    /* not a whole group */
        "Zg",     /* unpadded */
        "Z===",   /* three '=' */
        "====",   /* padding only */
        "Zg=a",   /* data after padding */
        "=Zg=",   /* padding first */
        "Zm9v\n", /* a line break */
        " Zm9v",  /* a blank (EVP_DecodeBlock alone skips it) */
        "Zm9-",   /* URL-safe alphabet */
        "Zm9_",   /* URL-safe alphabet */
        "Zm9v!A==",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st_error err = {0};
        void *out = (void *)1;
        if (st_b64_decode(bad[i], &out, NULL, &err) != -EINVAL || out != NULL ||
            strstr(err.msg, "base64") == NULL)
            fail_msg("\"%s\" decoded, or not -EINVAL (%s)", bad[i], err.msg);
        if (st_b64_valid(bad[i]) || st_b64_decoded_len(bad[i]) != 0)
            fail_msg("\"%s\" reads as valid", bad[i]);
    }
    void *out = NULL;
    assert_int_equal(st_b64_decode(NULL, &out, NULL, NULL), -EINVAL);
    assert_false(st_b64_valid(NULL));
    assert_int_equal(st_b64_decoded_len(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
