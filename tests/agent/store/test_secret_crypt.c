/* test_secret_crypt.c: Secrets at rest: the key file (created 0600, reused,
 * refused when exposed or truncated), AES-256-GCM round trips, tampering
 * and wrong bindings detected, and sealing a Secret object. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "strata/secret_crypt.h"

static int setup(void **state)
{
    *state = st_test_mkdtemp("strata-crypt");
    return 0;
}

static int teardown(void **state)
{
    st_test_rmrf(*state);
    free(*state);
    return 0;
}

static void test_key_file(void **state)
{
    const char *dir = *state;
    st_error err = {0};
    st_secret_key *k1 = NULL, *k2 = NULL;
    assert_int_equal(st_secret_key_load(dir, &k1, &err), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/secret.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, ST_SECRET_KEY_LEN);
    /* loaded again: the same key decrypts what the first encrypted */
    assert_int_equal(st_secret_key_load(dir, &k2, &err), 0);
    char *ct = NULL;
    assert_int_equal(st_secret_encrypt(k1, "ns/a", "hello", 5, &ct, &err), 0);
    void *pt = NULL;
    size_t len = 0;
    assert_int_equal(st_secret_decrypt(k2, "ns/a", ct, &pt, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(pt, "hello", 5);
    free(pt);
    free(ct);
    st_secret_key_free(k1);
    st_secret_key_free(k2);

    /* exposed, then truncated key files are refused */
    assert_int_equal(chmod(path, 0644), 0);
    st_error e2 = {0};
    assert_int_equal(st_secret_key_load(dir, &k1, &e2), -EPERM);
    assert_non_null(strstr(e2.msg, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(truncate(path, 10), 0);
    st_error e3 = {0};
    assert_int_equal(st_secret_key_load(dir, &k1, &e3), -EINVAL);
    assert_non_null(strstr(e3.msg, "10 bytes"));
}

static void test_tamper_and_binding(void **state)
{
    (void)state;
    unsigned char raw[ST_SECRET_KEY_LEN] = {1, 2, 3}, raw2[ST_SECRET_KEY_LEN] = {9};
    st_error err = {0};
    st_secret_key *k = NULL, *other = NULL;
    assert_int_equal(st_secret_key_from_bytes(raw, &k, &err), 0);
    assert_int_equal(st_secret_key_from_bytes(raw2, &other, &err), 0);
    char *a = NULL, *b = NULL;
    assert_int_equal(st_secret_encrypt(k, "ns/x", "same", 4, &a, &err), 0);
    assert_int_equal(st_secret_encrypt(k, "ns/x", "same", 4, &b, &err), 0);
    assert_string_not_equal(a, b); /* a fresh nonce each time */
    assert_null(strstr(a, "same"));
    void *pt = NULL;
    size_t len = 0;
    st_error e1 = {0}, e2 = {0}, e3 = {0};
    assert_int_equal(st_secret_decrypt(k, "ns/y", a, &pt, &len, &e1), -EBADMSG);
    assert_int_equal(st_secret_decrypt(other, "ns/x", a, &pt, &len, &e2), -EBADMSG);
    a[10] = a[10] == 'A' ? 'B' : 'A';
    assert_int_equal(st_secret_decrypt(k, "ns/x", a, &pt, &len, &e3), -EBADMSG);
    assert_null(pt);
    /* empty plaintext round-trips */
    char *c = NULL;
    assert_int_equal(st_secret_encrypt(k, NULL, "", 0, &c, &err), 0);
    assert_int_equal(st_secret_decrypt(k, NULL, c, &pt, &len, &err), 0);
    assert_int_equal(len, 0);
    free(pt);
    free(a);
    free(b);
    free(c);
    st_secret_key_free(k);
    st_secret_key_free(other);
}

static void test_seal_secret(void **state)
{
    (void)state;
    unsigned char raw[ST_SECRET_KEY_LEN] = {7};
    st_error err = {0};
    st_secret_key *k = NULL;
    assert_int_equal(st_secret_key_from_bytes(raw, &k, &err), 0);
    json_t *sec = json_pack("{s:s, s:{s:s, s:s}, s:{s:s}, s:{s:s}}", "kind", "Secret", "metadata",
                            "name", "db", "namespace", "prod", "data", "password",
                            "aHVudGVyMg==", "stringData", "user", "admin");
    json_t *orig = json_deep_copy(sec);
    assert_int_equal(st_secret_seal(k, sec, &err), 0);
    assert_null(json_object_get(sec, "data"));
    assert_null(json_object_get(sec, "stringData"));
    char *text = json_dumps(sec, 0);
    assert_null(strstr(text, "aHVudGVyMg"));
    assert_null(strstr(text, "password"));
    assert_null(strstr(text, "admin"));
    assert_non_null(strstr(text, ST_SECRET_SEALED_FIELD));
    free(text);

    /* moved to another name, the ciphertext no longer opens */
    json_t *moved = json_deep_copy(sec);
    json_object_set_new(json_object_get(moved, "metadata"), "name", json_string("other"));
    st_error e2 = {0};
    assert_int_equal(st_secret_unseal(k, moved, &e2), -EBADMSG);
    assert_non_null(strstr(e2.msg, "prod/other"));

    assert_int_equal(st_secret_unseal(k, sec, &err), 0);
    assert_true(json_equal(sec, orig));
    /* without a key nothing is written in clear */
    st_error e3 = {0};
    assert_int_equal(st_secret_seal(NULL, sec, &e3), -EINVAL);
    json_decref(moved);
    json_decref(sec);
    json_decref(orig);
    st_secret_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test(test_tamper_and_binding),
        cmocka_unit_test(test_seal_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
