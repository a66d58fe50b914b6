/* b64.c: see b64.h. EVP_DecodeBlock alone is too lenient and too literal:
 * it skips leading and trailing blanks, and it counts each '=' as a zero
 * byte of output. So the text is checked here first, and the padding taken
 * off the length EVP reports. */
#include "strata/b64.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The '=' count of valid text, or -1 when text is not valid. */
static int padding(const char *text, size_t len)
{
    if (len % 4 != 0 || len > INT_MAX)
        return -1;
    size_t data = strspn(text, alphabet);
    size_t pad = strspn(text + data, "=");
    if (data + pad != len || pad > 2)
        return -1;
    return (int)pad;
}

bool st_b64_valid(const char *text)
{
    return text && padding(text, strlen(text)) >= 0;
}

size_t st_b64_decoded_len(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    int pad = text ? padding(text, len) : -1;
    return pad < 0 ? 0 : len / 4 * 3 - (size_t)pad;
}

int st_b64_encode(const void *in, size_t len, char **out, st_error *err)
{
    *out = NULL;
    if (len > (size_t)INT_MAX / 4 * 3)
        return st_error_set(err, EFBIG, "cannot base64-encode %zu bytes: too large", len);
    char *buf = malloc(len / 3 * 4 + (len % 3 ? 4 : 0) + 1);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return 0;
}

int st_b64_decode(const char *text, void **out, size_t *len, st_error *err)
{
    *out = NULL;
    size_t tlen = text ? strlen(text) : 0;
    int pad = text ? padding(text, tlen) : -1;
    if (pad < 0)
        return st_error_set(err, EINVAL,
                            "not valid base64: use the standard alphabet (A-Z a-z 0-9 + /) in "
                            "groups of 4 characters, padded with '='");
    unsigned char *buf = malloc(tlen / 4 * 3 + 1);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    int n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)tlen);
    if (n < 0) {
        free(buf);
        return st_error_set(err, EINVAL, "not valid base64");
    }
    size_t got = (size_t)n - (size_t)pad;
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return 0;
}
