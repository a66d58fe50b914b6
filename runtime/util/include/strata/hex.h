/* hex.h: bytes as lower-case hex, as digests ("sha256:" + 64 hex) and
 * Strata's secrets (the API token, dashboard session ids) are written.
 * One writer, so a digest computed here and one read from a registry or a
 * kubeconfig compare as strings. */
#ifndef STRATA_HEX_H
#define STRATA_HEX_H

#include <stddef.h>

#include "strata/error.h"

/* n bytes of in as 2n hex characters and a NUL into out (2n+1 bytes). */
void st_hex_encode(const void *in, size_t n, char *out);

/* n random bytes (OpenSSL's RAND_bytes, the bytes wiped after) as hex into
 * out (2n+1 bytes): tokens and ids nobody can guess. -EIO when OpenSSL has
 * no randomness to give. */
int st_hex_random(size_t n, char *out, st_error *err);

#endif
