/* b64.h: standard base64 (RFC 4648, "+/" alphabet, '=' padding), as
 * Kubernetes Secrets carry data and as sealed secrets are stored, through
 * OpenSSL's EVP block coder. Decoding is strict like Go's StdEncoding:
 * whole 4-character groups, padding only at the end and at most two,
 * nothing outside the alphabet (no blanks, no line breaks).
 * It must not do the URL-safe alphabet or unpadded input silently: a text
 * it refuses is one another reader could read differently. */
#ifndef STRATA_B64_H
#define STRATA_B64_H

#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

/* Encodes len bytes; *out (malloc'd) is the NUL-terminated text. */
int st_b64_encode(const void *in, size_t len, char **out, st_error *err);

/* Decodes text; *out (malloc'd) holds *len bytes and a NUL after them, so a
 * text secret reads as a C string. len may be NULL. -EINVAL when text is not
 * valid base64. */
int st_b64_decode(const char *text, void **out, size_t *len, st_error *err);

/* Whether text is valid base64, without decoding it. */
bool st_b64_valid(const char *text);

/* The number of bytes valid text decodes to (0 when it is not valid). */
size_t st_b64_decoded_len(const char *text);

#endif
