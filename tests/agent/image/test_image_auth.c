/* test_image_auth.c: the two text readers a registry pull authenticates
 * with (agent/image/auth.c): WWW-Authenticate challenges as registries
 * write them (docker-registry's Basic, the Bearer token flow's realm,
 * service and scope, several challenges, quoting and escapes, malformed
 * headers), and finding a host's credentials in a dockerconfigjson. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "auth.h"

/* ---- WWW-Authenticate ------------------------------------------------------ */

static void test_basic(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    assert_int_equal(st_image_auth_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BASIC);
    assert_string_equal(c.realm, "Registry Realm");
    assert_string_equal(c.service, "");

    /* the scheme is case-insensitive, and may come without parameters */
    assert_int_equal(st_image_auth_challenge_parse("basic", &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BASIC);
    assert_string_equal(c.realm, "");
}

static void test_bearer(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    const char *h = "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                    "scope=\"repository:library/busybox:pull\"";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BEARER);
    assert_string_equal(c.realm, "https://auth.example/token");
    assert_string_equal(c.service, "registry.example");
    assert_string_equal(c.scope, "repository:library/busybox:pull");

    /* blanks around '=' and ',', names in any case, a parameter we do not
     * use, an unquoted (token) value */
    h = "BEARER  Realm = \"http://127.0.0.1:5001/auth\" , error=\"invalid_token\" ,"
        "SERVICE=registry";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BEARER);
    assert_string_equal(c.realm, "http://127.0.0.1:5001/auth");
    assert_string_equal(c.service, "registry");
    assert_string_equal(c.scope, "");
}

static void test_quoting(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    /* a comma and an escaped quote inside a quoted value are part of it */
    const char *h = "Bearer realm=\"http://h/t\",scope=\"repository:a:pull,push\","
                    "service=\"say \\\"hi\\\"\"";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_string_equal(c.scope, "repository:a:pull,push");
    assert_string_equal(c.service, "say \"hi\"");
}

static void test_several_challenges(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    /* Bearer is preferred whatever the order */
    const char *h = "Basic realm=\"r\", Bearer realm=\"http://h/token\",service=\"s\"";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BEARER);
    assert_string_equal(c.realm, "http://h/token");
    assert_string_equal(c.service, "s");

    /* an unknown scheme (with a token68) before Basic is read past */
    h = "Negotiate abc+/def==, Basic realm=\"x\"";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BASIC);
    assert_string_equal(c.realm, "x");

    /* a Bearer without a realm cannot be answered: Basic is */
    h = "Bearer service=\"s\", Basic realm=\"y\"";
    assert_int_equal(st_image_auth_challenge_parse(h, &c, &err), 0);
    assert_int_equal(c.scheme, ST_IMAGE_AUTH_BASIC);
    assert_string_equal(c.realm, "y");
}

static void test_unsupported(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    assert_int_equal(st_image_auth_challenge_parse("Digest realm=\"r\", nonce=\"n\"", &c, &err),
                     -ENOTSUP);
    assert_non_null(strstr(err.msg, "Digest"));
    st_error_clear(&err);
    assert_int_equal(st_image_auth_challenge_parse("", &c, &err), -ENOTSUP);
}

static void test_malformed(void **state)
{
    (void)state;
    struct st_image_challenge c;
    st_error err = {0};
    assert_int_equal(st_image_auth_challenge_parse("Bearer realm=\"http://h/t", &c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "realm"));
    st_error_clear(&err);
    assert_int_equal(st_image_auth_challenge_parse("realm=\"x\"", &c, &err), -EINVAL);
    st_error_clear(&err);
    assert_int_equal(st_image_auth_challenge_parse("Bearer realm=\"x\" @", &c, &err), -EINVAL);
    st_error_clear(&err);
    char big[3000];
    memset(big, 'a', sizeof(big));
    memcpy(big, "Bearer realm=", 13);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(st_image_auth_challenge_parse(big, &c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
}

/* ---- dockerconfigjson -------------------------------------------------------- */

static void test_lookup_auth(void **state)
{
    (void)state;
    char *user = NULL, *pass = NULL;
    st_error err = {0};
    /* base64("alice:s3cr:et"): the password may hold a ':' */
    const char *cfg = "{\"auths\": {\"other:5000\": {\"auth\": \"Ym9iOnB3\"},"
                      "\"127.0.0.1:5000\": {\"auth\": \"YWxpY2U6czNjcjpldA==\"}}}";
    assert_int_equal(st_image_auth_lookup(cfg, "127.0.0.1:5000", &user, &pass, &err), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(pass, "s3cr:et");
    free(user);
    free(pass);
}

static void test_lookup_username(void **state)
{
    (void)state;
    char *user = NULL, *pass = NULL;
    st_error err = {0};
    /* username/password, under a key with a scheme and a path, host in
     * another case */
    const char *cfg = "{\"auths\": {\"https://Registry.Example:443/v1/\": "
                      "{\"username\": \"bob\", \"password\": \"pw\"}}}";
    assert_int_equal(st_image_auth_lookup(cfg, "registry.example:443", &user, &pass, &err), 0);
    assert_string_equal(user, "bob");
    assert_string_equal(pass, "pw");
    free(user);
    free(pass);
}

static void test_lookup_missing(void **state)
{
    (void)state;
    char *user = NULL, *pass = NULL;
    st_error err = {0};
    const char *cfg = "{\"auths\": {\"127.0.0.1:5000\": {\"auth\": \"YTpi\"}}}";
    /* another port is another registry */
    assert_int_equal(st_image_auth_lookup(cfg, "127.0.0.1:5001", &user, &pass, &err), -ENOENT);
    assert_null(user);
    assert_non_null(strstr(err.msg, "127.0.0.1:5001"));
    st_error_clear(&err);
    assert_int_equal(st_image_auth_lookup(NULL, "h", &user, &pass, &err), -ENOENT);
    st_error_clear(&err);
    assert_int_equal(st_image_auth_lookup("{}", "h", &user, &pass, &err), -ENOENT);
}

static void test_lookup_bad(void **state)
{
    (void)state;
    char *user = NULL, *pass = NULL;
    st_error err = {0};
    assert_int_equal(st_image_auth_lookup("not json", "h", &user, &pass, &err), -EINVAL);
    st_error_clear(&err);
    assert_int_equal(st_image_auth_lookup("{\"auths\": []}", "h", &user, &pass, &err), -EINVAL);
    st_error_clear(&err);
    /* not base64, and base64 without a ':': the message never shows it */
    assert_int_equal(
        st_image_auth_lookup("{\"auths\": {\"h\": {\"auth\": \"%%%%\"}}}", "h", &user, &pass, &err),
        -EINVAL);
    st_error_clear(&err);
    /* base64("secretword") */
    assert_int_equal(st_image_auth_lookup("{\"auths\": {\"h\": {\"auth\": \"c2VjcmV0d29yZA==\"}}}",
                                          "h", &user, &pass, &err),
                     -EINVAL);
    assert_null(strstr(err.msg, "secretword"));
    assert_null(user);
    st_error_clear(&err);
    assert_int_equal(st_image_auth_lookup("{\"auths\": {\"h\": {}}}", "h", &user, &pass, &err),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),          cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_quoting),        cmocka_unit_test(test_several_challenges),
        cmocka_unit_test(test_unsupported),    cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_lookup_auth),    cmocka_unit_test(test_lookup_username),
        cmocka_unit_test(test_lookup_missing), cmocka_unit_test(test_lookup_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
