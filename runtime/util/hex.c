/* hex.c: lower-case hex (see hex.h). */
#include "strata/hex.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

void st_hex_encode(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

int st_hex_random(size_t n, char *out, st_error *err)
{
    unsigned char raw[64];
    if (n > sizeof(raw))
        return st_error_set(err, EINVAL, "st_hex_random: at most %zu bytes", sizeof(raw));
    if (RAND_bytes(raw, (int)n) != 1)
        return st_error_set(err, EIO, "OpenSSL has no random bytes to give");
    st_hex_encode(raw, n, out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}
