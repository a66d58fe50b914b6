/* secret_crypt.h: Secrets encrypted at rest with AES-256-GCM (OpenSSL
 * libcrypto) under a 32-byte key kept in STATE_DIR/secret.key (mode 0600).
 * It seals and unseals JSON; it never stores anything and never logs a
 * plaintext or the key. */
#ifndef STRATA_SECRET_CRYPT_H
#define STRATA_SECRET_CRYPT_H

#include <stddef.h>
#include <jansson.h>

#include "strata/error.h"

#define ST_SECRET_KEY_LEN 32

typedef struct st_secret_key st_secret_key;

/* Loads STATE_DIR/secret.key, creating it (random, mode 0600) the first
 * time. A key file of the wrong size or readable by group/others is refused. */
int st_secret_key_load(const char *state_dir, st_secret_key **out, st_error *err);
/* The same with the key file's path (stratad --secret-key): stratad on
 * several hosts sharing one database use one key. */
int st_secret_key_load_file(const char *path, st_secret_key **out, st_error *err);
/* A key from raw bytes (tests, key rotation tools). */
int st_secret_key_from_bytes(const unsigned char raw[ST_SECRET_KEY_LEN], st_secret_key **out,
                             st_error *err);
/* Wipes and frees; NULL-safe. */
void st_secret_key_free(st_secret_key *key);

/* Encrypts len bytes; *out (malloc'd) is "v1:" + base64(nonce | ciphertext |
 * tag). aad (may be NULL) is authenticated, not encrypted: binding the
 * ciphertext to the object's namespace/name stops a swap between rows. */
int st_secret_encrypt(const st_secret_key *key, const char *aad, const void *plain, size_t len,
                      char **out, st_error *err);
/* Reverses st_secret_encrypt; *out is malloc'd and NUL-terminated (len
 * excludes the NUL). A wrong key, aad or a tampered text is -EBADMSG. */
int st_secret_decrypt(const st_secret_key *key, const char *aad, const char *text, void **out,
                      size_t *len, st_error *err);

/* The field of a sealed Secret that holds the ciphertext. */
#define ST_SECRET_SEALED_FIELD "strataEncryptedData"

/* In a Secret object: moves "data" and "stringData" into one ciphertext in
 * ST_SECRET_SEALED_FIELD (aad "namespace/name"). Nothing to seal: no-op. */
int st_secret_seal(const st_secret_key *key, json_t *secret, st_error *err);
/* The reverse: restores "data"/"stringData" and drops the sealed field. */
int st_secret_unseal(const st_secret_key *key, json_t *secret, st_error *err);

#endif
