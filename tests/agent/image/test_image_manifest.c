/* test_image_manifest.c: the manifest reader against golden documents as
 * registries and tools write them (OCI and Docker v2s2 manifests, an OCI
 * index and a Docker manifest list resolved to linux/amd64), and the
 * documents it must refuse with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "image_priv.h"
#include "testutil.h"

#define D1 "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define D2 "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define D3 "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

static int parse_golden(const char *name, const char *mt, struct st_image_manifest *m,
                        char child[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/agent/image/golden/%s", st_test_env("STRATA_SOURCE_DIR"),
             name);
    char *text = st_test_read_file(path);
    assert_non_null(text);
    int r = st_image_manifest_parse(text, strlen(text), mt, m, child, err);
    free(text);
    return r;
}

static void test_oci_manifest(void **state)
{
    (void)state;
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    st_error err = {0};
    assert_int_equal(parse_golden("oci_manifest.json", NULL, &m, child, &err), 0);
    assert_string_equal(m.config, D1);
    assert_int_equal(m.config_size, 1469);
    assert_int_equal(m.nlayers, 2);
    assert_string_equal(m.layers[0].digest, D2);
    assert_string_equal(m.layers[0].media_type, ST_MT_OCI_LAYER_GZIP);
    assert_int_equal(m.layers[0].size, 2120000);
    assert_string_equal(m.layers[1].media_type, ST_MT_OCI_LAYER_ZSTD);
    assert_string_equal(child, "");
    st_image_manifest_free(&m);
}

static void test_docker_manifest(void **state)
{
    (void)state;
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    st_error err = {0};
    assert_int_equal(parse_golden("docker_manifest.json", NULL, &m, child, &err), 0);
    assert_string_equal(m.config, D1);
    assert_int_equal(m.nlayers, 1);
    assert_string_equal(m.layers[0].media_type, ST_MT_DOCKER_LAYER);
    assert_int_equal(m.layers[0].size, 2220000);
    st_image_manifest_free(&m);
}

static void test_indexes_pick_amd64(void **state)
{
    (void)state;
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    st_error err = {0};
    assert_int_equal(parse_golden("oci_index.json", NULL, &m, child, &err), 1);
    assert_string_equal(child, D2);
    assert_int_equal(m.nlayers, 0);
    assert_int_equal(parse_golden("docker_list.json", NULL, &m, child, &err), 1);
    assert_string_equal(child, D3);
}

static void test_no_amd64_lists_platforms(void **state)
{
    (void)state;
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    st_error err = {0};
    /* no mediaType in the document: the HTTP Content-Type says it */
    assert_int_equal(parse_golden("index_arm_only.json", ST_MT_OCI_INDEX, &m, child, &err),
                     -ENOEXEC);
    assert_non_null(strstr(err.msg, "linux/arm64"));
    assert_non_null(strstr(err.msg, "linux/s390x"));
    assert_non_null(strstr(err.msg, "linux/amd64"));
}

static void test_refused(void **state)
{
    (void)state;
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    st_error err = {0};
    assert_int_equal(parse_golden("manifest_schema1.json", NULL, &m, child, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "schemaVersion 1"));
    st_error_clear(&err);
    assert_int_equal(parse_golden("manifest_bad_digest.json", NULL, &m, child, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "config"));
    st_error_clear(&err);
    assert_int_equal(parse_golden("manifest_foreign_layer.json", NULL, &m, child, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "foreign"));
    assert_null(m.layers);
    st_error_clear(&err);
    assert_int_equal(st_image_manifest_parse("{\"schemaVersion\":", 17, NULL, &m, child, &err),
                     -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oci_manifest),
        cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_indexes_pick_amd64),
        cmocka_unit_test(test_no_amd64_lists_platforms),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
