/* test_api_pki.c: the HTTPS port's credentials (api_pki.h): --api-listen
 * parsing and the loopback rule, the CA, server certificate and token made
 * once with mode 0600 and kept across starts, a server certificate that
 * verifies against the CA for the listen address (as kubectl checks it),
 * the kubeconfig, and the bearer token check. */
#include "api_pki.h"
#include "testutil.h"
#include "strata/fs.h"

#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_listen_parse(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 99;
    st_error err = {0};
    assert_int_equal(st_api_listen_parse("127.0.0.1:6443", host, sizeof(host), &port, &err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6443);
    assert_int_equal(st_api_listen_parse("127.0.0.2:0", host, sizeof(host), &port, &err), 0);
    assert_int_equal(port, 0);
    static const char *const bad[] = {
        "6443", ":6443", "127.0.0.1:", "127.0.0.1:70000", "localhost:6443", "127.0.0.1:12x", NULL};
    for (size_t i = 0; bad[i]; i++) {
        err = (st_error){0};
        assert_int_equal(st_api_listen_parse(bad[i], host, sizeof(host), &port, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "--api-listen"));
    }
    assert_true(st_api_host_is_loopback("127.0.0.1"));
    assert_true(st_api_host_is_loopback("127.1.2.3"));
    assert_false(st_api_host_is_loopback("10.0.0.1"));
    assert_false(st_api_host_is_loopback("0.0.0.0"));
}

static void assert_private(const char *dir, const char *name)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(path);
}

static X509 *cert_of(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

/* The server certificate chains to the CA and names ip. */
static void assert_verifies(const struct st_api_pki *pki, const char *ip)
{
    X509 *ca = cert_of(pki->ca_pem), *srv = cert_of(pki->cert_pem);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, srv, NULL), 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    assert_int_equal(X509_verify_cert(ctx), 1);
    assert_int_equal(X509_check_ip_asc(srv, ip, 0), 1);
    assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
    assert_int_not_equal(X509_check_ip_asc(srv, "10.9.9.9", 0), 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(srv);
}

static void test_pki_made_once(void **state)
{
    (void)state;
    char *dir = st_test_mkdtemp("strata-pki");
    char pki_dir[512];
    snprintf(pki_dir, sizeof(pki_dir), "%s/pki", dir);
    struct st_api_pki a, b;
    st_error err = {0};
    assert_int_equal(st_api_pki_load(dir, "127.0.0.1", &a, &err), 0);
    static const char *const files[] = {"ca.crt",        "ca.key",      "apiserver.crt",
                                        "apiserver.key", "admin.token", NULL};
    for (size_t i = 0; files[i]; i++)
        assert_private(pki_dir, files[i]);
    struct stat st;
    assert_int_equal(stat(pki_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(strlen(a.token), 64);
    assert_verifies(&a, "127.0.0.1");

    /* A second start keeps the CA and the token (kubeconfigs handed out
     * keep working) and makes a certificate for the new address. */
    assert_int_equal(st_api_pki_load(dir, "127.0.0.9", &b, &err), 0);
    assert_string_equal(a.token, b.token);
    assert_string_equal(a.ca_pem, b.ca_pem);
    assert_verifies(&b, "127.0.0.9");

    assert_int_equal(st_api_pki_write_kubeconfig(&b, dir, "127.0.0.9", 6443, &err), 0);
    assert_private(dir, "kubeconfig");
    char *text = NULL;
    assert_int_equal(st_api_pki_read_kubeconfig(&b, &text, &err), 0);
    assert_non_null(strstr(text, "server: https://127.0.0.9:6443\n"));
    assert_non_null(strstr(text, b.token));
    assert_non_null(strstr(text, "certificate-authority-data: "));
    assert_non_null(strstr(text, "current-context: strata\n"));
    free(text);

    /* The token, and nothing else, authorizes. */
    char header[128];
    snprintf(header, sizeof(header), "Bearer %s", b.token);
    assert_true(st_api_pki_authorized(&b, header));
    header[strlen(header) - 1] ^= 1;
    assert_false(st_api_pki_authorized(&b, header));
    assert_false(st_api_pki_authorized(&b, NULL));
    assert_false(st_api_pki_authorized(&b, "Bearer "));
    assert_false(st_api_pki_authorized(&b, b.token));
    st_api_pki_free(&a);
    st_api_pki_free(&b);

    /* A key file others can read is refused, with the chmod to run. */
    char key[600];
    snprintf(key, sizeof(key), "%s/admin.token", pki_dir);
    assert_int_equal(chmod(key, 0644), 0);
    err = (st_error){0};
    assert_int_equal(st_api_pki_load(dir, "127.0.0.1", &a, &err), -EPERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(st_fs_rmtree(dir, &err), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_pki_made_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
