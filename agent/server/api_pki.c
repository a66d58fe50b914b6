/* api_pki.c: the HTTPS port's CA, server certificate, admin token and
 * kubeconfig (api_pki.h), made with OpenSSL. ECDSA P-256 keys, SHA-256
 * signatures: what Go's TLS (kubectl) and GnuTLS (libmicrohttpd) both take.
 * The server certificate names the listen address as an IP SAN and
 * "localhost" as a DNS SAN (Go checks SANs only). Files are written to a
 * temporary name with mode 0600 and renamed, so a crash never leaves half a
 * key, and a key file readable by others is refused, as secret.key is. */
#include "api_pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/hex.h"

#define CA_DAYS     3650
#define SERVER_DAYS 365

static void evp_free(EVP_PKEY **k)
{
    EVP_PKEY_free(*k);
}
static void x509_free(X509 **x)
{
    X509_free(*x);
}
#define _cleanup_pkey_ __attribute__((cleanup(evp_free)))
#define _cleanup_x509_ __attribute__((cleanup(x509_free)))

int st_api_listen_parse(const char *spec, char *host, size_t host_len, unsigned *port,
                        st_error *err)
{
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    struct in_addr a;
    char *end = NULL;
    unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    if (colon == NULL || hl == 0 || hl >= host_len || end == colon + 1 || *end != '\0' || p > 65535)
        return st_error_set(err, EINVAL,
                            "--api-listen %s: give IPV4:PORT, such as 127.0.0.1:6443 (port 0 "
                            "picks a free one)",
                            spec ? spec : "");
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (inet_pton(AF_INET, host, &a) != 1)
        return st_error_set(err, EINVAL, "--api-listen %s: %s is not an IPv4 address", spec, host);
    *port = (unsigned)p;
    return 0;
}

bool st_api_host_is_loopback(const char *host)
{
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* ---- files ------------------------------------------------------------------ */

static int write_private(const char *path, const char *data, size_t len, st_error *err)
{
    return st_fs_write_atomic(path, data, len, 0600, err);
}

/* The file's text, or NULL with errno ENOENT when there is none. */
static int read_private(const char *path, char **out, st_error *err)
{
    *out = NULL;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : st_error_sys(err, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return st_error_sys(err, errno, "cannot stat %s", path);
    if (st.st_mode & 077)
        return st_error_set(err, EPERM,
                            "%s is readable by group or others (mode %04o); run: chmod 600 %s",
                            path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_size > 65536)
        return st_error_set(err, EINVAL, "%s is over 64 KiB: not one of Strata's credentials",
                            path);
    char *buf = calloc(1, (size_t)st.st_size + 1);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if (read(fd, buf, (size_t)st.st_size) != st.st_size) {
        free(buf);
        return st_error_sys(err, errno ? errno : EIO, "cannot read %s", path);
    }
    *out = buf;
    return 0;
}

static char *pem_of(int (*write_fn)(BIO *, void *), void *obj)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return NULL;
    char *out = NULL;
    if (write_fn(b, obj) == 1) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        out = n > 0 ? strndup(data, (size_t)n) : NULL;
    }
    BIO_free(b);
    return out;
}
static int write_cert(BIO *b, void *x)
{
    return PEM_write_bio_X509(b, x);
}
static int write_key(BIO *b, void *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

/* ---- certificates --------------------------------------------------------------- */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

/* A certificate for key named cn, signed by issuer (NULL: by itself). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int days,
                       const char *const *exts)
{
    X509 *x = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial */
    if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) == NULL ||
        X509_set_pubkey(x, key) != 1)
        goto fail;
    for (size_t i = 0; exts[i]; i += 2)
        if (add_ext(x, issuer ? issuer : x, OBJ_txt2nid(exts[i]), exts[i + 1]) < 0)
            goto fail;
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

static int make_ca(const char *dir, st_error *err)
{
    _cleanup_pkey_ EVP_PKEY *key = EVP_EC_gen("P-256");
    static const char *const exts[] = {"basicConstraints",
                                       "critical,CA:TRUE",
                                       "keyUsage",
                                       "critical,keyCertSign,cRLSign,digitalSignature",
                                       "subjectKeyIdentifier",
                                       "hash",
                                       NULL};
    _cleanup_x509_ X509 *ca = key ? make_cert(key, "strata-ca", NULL, NULL, CA_DAYS, exts) : NULL;
    _cleanup_free_ char *cert_pem = ca ? pem_of(write_cert, ca) : NULL;
    _cleanup_free_ char *key_pem = ca ? pem_of(write_key, key) : NULL;
    if (cert_pem == NULL || key_pem == NULL)
        return st_error_set(err, EIO, "OpenSSL could not make the API's CA");
    _cleanup_free_ char *kp = NULL, *cp = NULL;
    if (asprintf(&kp, "%s/ca.key", dir) < 0 || asprintf(&cp, "%s/ca.crt", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = write_private(kp, key_pem, strlen(key_pem), err);
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    return r < 0 ? r : write_private(cp, cert_pem, strlen(cert_pem), err);
}

static int make_token(const char *dir, st_error *err)
{
    char hex[65];
    int r = st_hex_random(32, hex, err);
    if (r < 0) {
        st_error_prefix(err, "the API token: ");
        return r;
    }
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/admin.token", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    r = write_private(path, hex, 64, err);
    OPENSSL_cleanse(hex, sizeof(hex));
    return r;
}

/* The server's certificate for host, signed by the CA in dir. */
static int make_server_cert(const char *dir, const char *host, struct st_api_pki *out,
                            st_error *err)
{
    _cleanup_free_ char *ca_key_pem = NULL, *kp = NULL, *cp = NULL;
    int r;
    if (asprintf(&kp, "%s/ca.key", dir) < 0 || asprintf(&cp, "%s/ca.crt", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if ((r = read_private(kp, &ca_key_pem, err)) < 0 ||
        (r = read_private(cp, &out->ca_pem, err)) < 0)
        return r == -ENOENT ? st_error_set(err, ENOENT,
                                           "%s has ca.key or ca.crt but not both; remove the "
                                           "folder and restart stratad to make new ones "
                                           "(kubeconfigs handed out stop working)",
                                           dir)
                            : r;
    BIO *kb = BIO_new_mem_buf(ca_key_pem, -1), *cb = BIO_new_mem_buf(out->ca_pem, -1);
    _cleanup_pkey_ EVP_PKEY *ca_key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    _cleanup_x509_ X509 *ca = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    BIO_free(kb);
    BIO_free(cb);
    OPENSSL_cleanse(ca_key_pem, strlen(ca_key_pem));
    if (ca_key == NULL || ca == NULL)
        return st_error_set(err, EINVAL,
                            "%s/ca.key or ca.crt is not a PEM key or certificate; remove %s and "
                            "restart stratad to make new ones",
                            dir, dir);
    char san[128];
    snprintf(san, sizeof(san), "IP:%s,IP:127.0.0.1,DNS:localhost", host);
    const char *const exts[] = {"basicConstraints",
                                "critical,CA:FALSE",
                                "keyUsage",
                                "critical,digitalSignature,keyEncipherment",
                                "extendedKeyUsage",
                                "serverAuth",
                                "subjectAltName",
                                san,
                                "authorityKeyIdentifier",
                                "keyid",
                                NULL};
    _cleanup_pkey_ EVP_PKEY *key = EVP_EC_gen("P-256");
    _cleanup_x509_ X509 *cert =
        key ? make_cert(key, "stratad", ca, ca_key, SERVER_DAYS, exts) : NULL;
    if (cert == NULL || (out->cert_pem = pem_of(write_cert, cert)) == NULL ||
        (out->key_pem = pem_of(write_key, key)) == NULL)
        return st_error_set(err, EIO, "OpenSSL could not make the API's server certificate");
    _cleanup_free_ char *skp = NULL, *scp = NULL;
    if (asprintf(&skp, "%s/apiserver.key", dir) < 0 || asprintf(&scp, "%s/apiserver.crt", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if ((r = write_private(skp, out->key_pem, strlen(out->key_pem), err)) < 0)
        return r;
    return write_private(scp, out->cert_pem, strlen(out->cert_pem), err);
}

int st_api_pki_load(const char *state_dir, const char *host, struct st_api_pki *out, st_error *err)
{
    *out = (struct st_api_pki){0};
    _cleanup_free_ char *dir = NULL, *ca = NULL, *tokp = NULL, *tok = NULL;
    if (asprintf(&dir, "%s/pki", state_dir) < 0 || asprintf(&ca, "%s/pki/ca.crt", state_dir) < 0 ||
        asprintf(&tokp, "%s/pki/admin.token", state_dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    int r = st_fs_mkdir_mode(dir, 0700, err);
    if (r < 0)
        return r;
    if (access(ca, F_OK) < 0 && (r = make_ca(dir, err)) < 0)
        return r;
    if ((r = read_private(tokp, &tok, err)) == -ENOENT) {
        if ((r = make_token(dir, err)) < 0)
            return r;
        r = read_private(tokp, &tok, err);
    }
    if (r < 0)
        return r;
    size_t n = strcspn(tok, "\r\n");
    if (n < 32 || n >= sizeof(out->token)) {
        OPENSSL_cleanse(tok, strlen(tok));
        return st_error_set(err, EINVAL,
                            "%s does not hold a token (32 to 64 characters); remove it and restart "
                            "stratad to make a new one",
                            tokp);
    }
    memcpy(out->token, tok, n);
    OPENSSL_cleanse(tok, strlen(tok));
    if ((r = make_server_cert(dir, host, out, err)) < 0) {
        st_api_pki_free(out);
        return r;
    }
    return 0;
}

int st_api_pki_write_kubeconfig(struct st_api_pki *pki, const char *state_dir, const char *host,
                                unsigned port, st_error *err)
{
    _cleanup_free_ char *ca64 = NULL, *text = NULL;
    int r = st_b64_encode(pki->ca_pem, strlen(pki->ca_pem), &ca64, err);
    if (r < 0)
        return r;
    /* Every value is base64, hex or an address: nothing to quote. */
    if (asprintf(&text,
                 "# stratad's API, for kubectl: kubectl --kubeconfig %s/kubeconfig get pods\n"
                 "apiVersion: v1\n"
                 "kind: Config\n"
                 "clusters:\n"
                 "- name: strata\n"
                 "  cluster:\n"
                 "    server: https://%s:%u\n"
                 "    certificate-authority-data: %s\n"
                 "users:\n"
                 "- name: strata-admin\n"
                 "  user:\n"
                 "    token: %s\n"
                 "contexts:\n"
                 "- name: strata\n"
                 "  context:\n"
                 "    cluster: strata\n"
                 "    user: strata-admin\n"
                 "    namespace: default\n"
                 "current-context: strata\n",
                 state_dir, host, port, ca64, pki->token) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    snprintf(pki->kubeconfig, sizeof(pki->kubeconfig), "%s/kubeconfig", state_dir);
    r = write_private(pki->kubeconfig, text, strlen(text), err);
    OPENSSL_cleanse(text, strlen(text));
    return r;
}

int st_api_pki_read_kubeconfig(const struct st_api_pki *pki, char **text, st_error *err)
{
    if (pki->kubeconfig[0] == 0)
        return st_error_set(err, ENOENT,
                            "stratad serves no HTTPS port (it runs with --api-listen none), so "
                            "there is no kubeconfig");
    int r = read_private(pki->kubeconfig, text, err);
    return r == -ENOENT ? st_error_set(err, ENOENT, "%s is gone; restart stratad to write it again",
                                       pki->kubeconfig)
                        : r;
}

bool st_api_pki_authorized(const struct st_api_pki *pki, const char *authorization)
{
    static const char bearer[] = "Bearer ";
    size_t n = strlen(pki->token);
    if (n == 0 || authorization == NULL || strncmp(authorization, bearer, sizeof(bearer) - 1) != 0)
        return false;
    const char *given = authorization + sizeof(bearer) - 1;
    return strlen(given) == n && CRYPTO_memcmp(given, pki->token, n) == 0;
}

void st_api_pki_free(struct st_api_pki *pki)
{
    free(pki->ca_pem);
    if (pki->key_pem) {
        OPENSSL_cleanse(pki->key_pem, strlen(pki->key_pem));
        free(pki->key_pem);
    }
    free(pki->cert_pem);
    OPENSSL_cleanse(pki->token, sizeof(pki->token));
    *pki = (struct st_api_pki){0};
}
