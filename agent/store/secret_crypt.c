/* secret_crypt.c: AES-256-GCM sealing of Secret data through OpenSSL's EVP
 * interface, and the key file. A fresh random 96-bit nonce per encryption
 * (never a counter that could repeat after a restart); the key never leaves
 * this file except as an opaque pointer. */
#include "strata/secret_crypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "strata/b64.h"
#include "strata/cleanup.h"

#define NONCE_LEN 12
#define TAG_LEN   16
#define PREFIX    "v1:"

struct st_secret_key {
    unsigned char raw[ST_SECRET_KEY_LEN];
};

static void ctx_freep(EVP_CIPHER_CTX **c)
{
    EVP_CIPHER_CTX_free(*c);
}
#define _cleanup_cipher_ __attribute__((cleanup(ctx_freep)))

int st_secret_key_from_bytes(const unsigned char raw[ST_SECRET_KEY_LEN], st_secret_key **out,
                             st_error *err)
{
    st_secret_key *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return st_error_set(err, ENOMEM, "out of memory allocating the secret key");
    memcpy(k->raw, raw, ST_SECRET_KEY_LEN);
    *out = k;
    return 0;
}

void st_secret_key_free(st_secret_key *key)
{
    if (key == NULL)
        return;
    OPENSSL_cleanse(key->raw, sizeof(key->raw));
    free(key);
}

static int read_full(int fd, unsigned char *buf, size_t len, size_t *got)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

/* O_EXCL so two starting agents cannot both write a key: the loser reads
 * the winner's. The key is written to a temporary name and renamed, so a
 * crash never leaves a short key file behind. */
static int key_create(const char *path, st_error *err)
{
    unsigned char raw[ST_SECRET_KEY_LEN];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return st_error_set(err, EIO, "cannot get random bytes for %s from OpenSSL", path);
    _cleanup_free_ char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot create secret key %s", tmp);
    ssize_t w = write(fd, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    if (w != (ssize_t)sizeof(raw) || fsync(fd) < 0) {
        int e = w < 0 ? errno : EIO;
        unlink(tmp);
        return st_error_sys(err, e, "cannot write secret key %s", tmp);
    }
    /* link() fails with EEXIST when another process won the race. */
    if (link(tmp, path) < 0 && errno != EEXIST) {
        int e = errno;
        unlink(tmp);
        return st_error_sys(err, e, "cannot install secret key %s", path);
    }
    unlink(tmp);
    return 0;
}

int st_secret_key_load(const char *state_dir, st_secret_key **out, st_error *err)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/secret.key", state_dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    return st_secret_key_load_file(path, out, err);
}

int st_secret_key_load_file(const char *path, st_secret_key **out, st_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        int r = key_create(path, err);
        if (r < 0)
            return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0)
        return st_error_sys(err, errno, "cannot open secret key %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return st_error_sys(err, errno, "cannot stat secret key %s", path);
    if (st.st_mode & 077)
        return st_error_set(err, EPERM,
                            "secret key %s is readable by group or others (mode %04o); "
                            "run: chmod 600 %s",
                            path, (unsigned)(st.st_mode & 07777), path);
    unsigned char raw[ST_SECRET_KEY_LEN + 1];
    size_t got = 0;
    int r = read_full(fd, raw, sizeof(raw), &got);
    if (r < 0)
        return st_error_sys(err, -r, "cannot read secret key %s", path);
    if (got != ST_SECRET_KEY_LEN) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return st_error_set(err, EINVAL,
                            "secret key %s has %zu bytes, expected %d; restore it from a backup "
                            "(Secrets written with another key cannot be read)",
                            path, got, ST_SECRET_KEY_LEN);
    }
    r = st_secret_key_from_bytes(raw, out, err);
    OPENSSL_cleanse(raw, sizeof(raw));
    return r;
}

int st_secret_encrypt(const st_secret_key *key, const char *aad, const void *plain, size_t len,
                      char **out, st_error *err)
{
    if (len > (size_t)INT32_MAX - NONCE_LEN - TAG_LEN)
        return st_error_set(err, EFBIG, "secret data of %zu bytes is too large", len);
    size_t blob_len = NONCE_LEN + len + TAG_LEN;
    _cleanup_free_ unsigned char *blob = malloc(blob_len);
    if (blob == NULL)
        return st_error_set(err, ENOMEM, "out of memory encrypting a secret");
    unsigned char *nonce = blob, *ct = blob + NONCE_LEN, *tag = blob + NONCE_LEN + len;
    if (RAND_bytes(nonce, NONCE_LEN) != 1)
        return st_error_set(err, EIO, "cannot get a random nonce from OpenSSL");

    _cleanup_cipher_ EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    if (c == NULL || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key->raw, nonce) != 1)
        return st_error_set(err, EIO, "OpenSSL cannot set up AES-256-GCM");
    if (aad && EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1)
        return st_error_set(err, EIO, "AES-256-GCM: cannot add associated data");
    if (EVP_EncryptUpdate(c, ct, &n, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(c, ct + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        return st_error_set(err, EIO, "AES-256-GCM encryption failed");

    _cleanup_free_ char *b64 = NULL;
    int r = st_b64_encode(blob, blob_len, &b64, err);
    if (r < 0)
        return r;
    if (asprintf(out, "%s%s", PREFIX, b64) < 0)
        return *out = NULL, st_error_set(err, ENOMEM, "out of memory encrypting a secret");
    return 0;
}

int st_secret_decrypt(const st_secret_key *key, const char *aad, const char *text, void **out,
                      size_t *len, st_error *err)
{
    size_t plen = strlen(PREFIX);
    if (text == NULL || strncmp(text, PREFIX, plen) != 0)
        return st_error_set(err, EBADMSG,
                            "sealed secret does not start with \"%s\": not written by this "
                            "version of Strata",
                            PREFIX);
    _cleanup_free_ unsigned char *blob = NULL;
    size_t blob_len = 0;
    int r = st_b64_decode(text + plen, (void **)&blob, &blob_len, NULL);
    if (r == -ENOMEM)
        return st_error_set(err, ENOMEM, "out of memory decrypting a secret");
    if (r < 0)
        return st_error_set(err, EBADMSG, "sealed secret is not valid base64");
    if (blob_len < NONCE_LEN + TAG_LEN)
        return st_error_set(err, EBADMSG, "sealed secret is too short to be AES-256-GCM");
    size_t ct_len = blob_len - NONCE_LEN - TAG_LEN;
    unsigned char *nonce = blob, *ct = blob + NONCE_LEN, *tag = blob + NONCE_LEN + ct_len;

    _cleanup_free_ unsigned char *plain = malloc(ct_len + 1);
    if (plain == NULL)
        return st_error_set(err, ENOMEM, "out of memory decrypting a secret");
    _cleanup_cipher_ EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    if (c == NULL || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key->raw, nonce) != 1)
        return st_error_set(err, EIO, "OpenSSL cannot set up AES-256-GCM");
    if (aad && EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1)
        return st_error_set(err, EIO, "AES-256-GCM: cannot add associated data");
    if (EVP_DecryptUpdate(c, plain, &n, ct, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1 ||
        (fin = EVP_DecryptFinal_ex(c, plain + n, &n)) != 1) {
        OPENSSL_cleanse(plain, ct_len + 1);
        return st_error_set(err, EBADMSG,
                            "sealed secret fails authentication: written with another key "
                            "(STATE_DIR/secret.key replaced?) or tampered with");
    }
    plain[ct_len] = '\0';
    *len = ct_len;
    *out = st_steal_ptr(&plain);
    return 0;
}

static char *secret_aad(json_t *secret)
{
    json_t *md = json_object_get(secret, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    char *aad = NULL;
    if (asprintf(&aad, "%s/%s", ns ? ns : "default", name ? name : "") < 0)
        return NULL;
    return aad;
}

int st_secret_seal(const st_secret_key *key, json_t *secret, st_error *err)
{
    json_t *data = json_object_get(secret, "data");
    json_t *sdata = json_object_get(secret, "stringData");
    if (data == NULL && sdata == NULL)
        return 0;
    if (key == NULL)
        return st_error_set(err, EINVAL,
                            "no secret key configured: the store cannot write Secret data "
                            "unencrypted; open it with st_secret_key_load(STATE_DIR)");
    json_t *inner = json_object();
    if (data)
        json_object_set(inner, "data", data);
    if (sdata)
        json_object_set(inner, "stringData", sdata);
    char *plain = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    _cleanup_free_ char *aad = secret_aad(secret);
    if (plain == NULL || aad == NULL) {
        free(plain);
        return st_error_set(err, ENOMEM, "out of memory sealing a secret");
    }
    _cleanup_free_ char *text = NULL;
    size_t plen = strlen(plain);
    int r = st_secret_encrypt(key, aad, plain, plen, &text, err);
    OPENSSL_cleanse(plain, plen);
    free(plain);
    if (r < 0)
        return r;
    json_object_del(secret, "data");
    json_object_del(secret, "stringData");
    json_object_set_new(secret, ST_SECRET_SEALED_FIELD, json_string(text));
    return 0;
}

int st_secret_unseal(const st_secret_key *key, json_t *secret, st_error *err)
{
    const char *text = json_string_value(json_object_get(secret, ST_SECRET_SEALED_FIELD));
    if (text == NULL)
        return 0;
    _cleanup_free_ char *aad = secret_aad(secret);
    if (key == NULL)
        return st_error_set(err, EINVAL, "secret %s is encrypted and no secret key is configured",
                            aad);
    _cleanup_free_ char *plain = NULL;
    size_t len = 0;
    int r = st_secret_decrypt(key, aad, text, (void **)&plain, &len, err);
    if (r < 0) {
        st_error_prefix(err, "secret %s: ", aad);
        return r;
    }
    json_error_t jerr;
    json_t *inner = json_loadb(plain, len, 0, &jerr);
    OPENSSL_cleanse(plain, len);
    if (!json_is_object(inner)) {
        json_decref(inner);
        return st_error_set(err, EBADMSG, "secret %s: decrypted data is not a JSON object", aad);
    }
    json_object_del(secret, ST_SECRET_SEALED_FIELD);
    json_object_update(secret, inner);
    json_decref(inner);
    return 0;
}
