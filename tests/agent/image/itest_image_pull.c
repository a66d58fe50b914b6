/* itest_image_pull.c: st_image_pull against a real registry: Debian's
 * docker-registry on 127.0.0.1 (a child of this test, storage in a temp
 * dir), an image made with umoci from the busybox test rootfs and pushed
 * with skopeo. It checks what a person relies on: the pulled image is the
 * pushed one (digest, layers in order, config), a second pull downloads
 * nothing, two pulls at once download once, a missing tag is -ENOENT, a
 * registry with htpasswd (Basic) auth refuses no or wrong credentials
 * with -EACCES and serves the right ones, a blob that does not match its
 * digest is -EBADMSG and leaves nothing, a disk that fills is -ENOSPC and
 * leaves nothing, and a registry that is not there is -EIO. The
 * registries are killed and the temp dir removed at the end, also when a
 * test failed. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/image.h"
#include "registry_fx.h"
#include "testutil.h"

#define USER "alice"
#define PASS "s3cret"
/* base64("alice:s3cret") */
#define AUTH_OK  "{\"auths\": {\"%s\": {\"auth\": \"YWxpY2U6czNjcmV0\"}}}"
#define AUTH_BAD "{\"auths\": {\"%s\": {\"username\": \"alice\", \"password\": \"wrong\"}}}"

static char *tmp;           /* everything this test writes */
static pid_t reg_pid = -1;  /* the open registry */
static pid_t auth_pid = -1; /* the same storage behind htpasswd */
static char host[64], auth_host[64], dead_host[64];
static char digest[ST_IMAGE_DIGEST_LEN];      /* busybox:1's manifest, as umoci wrote it */
static char other_layer[ST_IMAGE_DIGEST_LEN]; /* other:1's own top layer */

/* ---- fixtures --------------------------------------------------------------- */

/* A JSON file of the OCI layout, parsed. */
static json_t *layout_json(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/oci/%s", tmp, rel);
    return json_load_file(path, 0, NULL);
}

/* The manifest digest the layout tags with tag. */
static bool layout_digest(const char *tag, char out[ST_IMAGE_DIGEST_LEN])
{
    _cleanup_json_ json_t *index = layout_json("index.json");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(index, "manifests"), i, m)
    {
        const char *t = json_string_value(json_object_get(json_object_get(m, "annotations"),
                                                          "org.opencontainers.image.ref.name"));
        if (t && strcmp(t, tag) == 0) {
            snprintf(out, ST_IMAGE_DIGEST_LEN, "%s",
                     json_string_value(json_object_get(m, "digest")));
            return true;
        }
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tmp = st_test_mkdtemp("strata-itest-pull");
    const char *rootfs = st_test_env("STRATA_TEST_ROOTFS");
    /* busybox:1: the rootfs as one layer, a second layer with one file, a
     * config with Cmd and WorkingDir; other:1 is busybox:1 and one more
     * layer, that only it has (the corrupt-blob test spoils that one).
     * Each layer by unpack + repack: Debian's umoci 0.4.7 `insert` writes a
     * "/" member for a folder (an absolute path the store refuses) and an
     * unpadded tar for a file. */
    char *err = NULL;
    int rc = st_test_sh(NULL, &err,
                        "set -e; cd %s; umoci init --layout oci; umoci new --image oci:bb;"
                        "umoci unpack --image oci:bb b1 >/dev/null;"
                        "cp -a %s/. b1/rootfs/; umoci repack --image oci:bb b1;"
                        "umoci unpack --image oci:bb b2 >/dev/null;"
                        "printf 'layer two\\n' >b2/rootfs/etc/strata-layer2;"
                        "umoci repack --image oci:bb b2;"
                        "umoci config --image oci:bb --config.cmd /bin/sh "
                        "--config.workingdir /root --config.env GREETING=hello;"
                        "umoci tag --image oci:bb other;"
                        "umoci unpack --image oci:other b3 >/dev/null;"
                        "printf 'only other\\n' >b3/rootfs/etc/strata-other;"
                        "umoci repack --image oci:other b3;"
                        "htpasswd -Bbn %s %s >htpasswd",
                        tmp, rootfs, USER, PASS);
    if (rc != 0) {
        fprintf(stderr, "making the OCI layout failed (%d): %s\n", rc, err ? err : "");
        free(err);
        return -1;
    }
    free(err);
    if (!layout_digest("bb", digest))
        return -1;

    char htpasswd[512], layout[512];
    snprintf(htpasswd, sizeof(htpasswd), "%s/htpasswd", tmp);
    snprintf(layout, sizeof(layout), "%s/oci", tmp);
    reg_pid = st_registry_start(tmp, "open", NULL, host, sizeof(host));
    auth_pid = st_registry_start(tmp, "auth", htpasswd, auth_host, sizeof(auth_host));
    if (reg_pid < 0 || auth_pid < 0)
        return -1;
    int port = st_test_free_port();
    snprintf(dead_host, sizeof(dead_host), "127.0.0.1:%d", port);
    if (st_registry_push(layout, "bb", host, "busybox:1") != 0 ||
        st_registry_push(layout, "other", host, "other:1") != 0)
        return -1;

    char other[ST_IMAGE_DIGEST_LEN], rel[128];
    if (!layout_digest("other", other))
        return -1;
    snprintf(rel, sizeof(rel), "blobs/sha256/%s", other + 7);
    _cleanup_json_ json_t *m = layout_json(rel);
    json_t *layers = json_object_get(m, "layers");
    const char *top = json_string_value(
        json_object_get(json_array_get(layers, json_array_size(layers) - 1), "digest"));
    if (top == NULL)
        return -1;
    snprintf(other_layer, sizeof(other_layer), "%s", top);
    return 0;
}

static char full_dir[600]; /* a tmpfs mounted by test_disk_full, "" when none */

static int teardown(void **state)
{
    (void)state;
    if (full_dir[0])
        umount2(full_dir, MNT_DETACH);
    st_pid_killp(&reg_pid);
    st_pid_killp(&auth_pid);
    if (tmp)
        st_test_rmrf(tmp);
    free(tmp);
    curl_global_cleanup();
    return 0;
}

/* A fresh store for one test. */
static st_image_store *new_store(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    st_image_store *s = NULL;
    st_error err = {0};
    int rc = st_image_store_open(dir, &s, &err);
    if (rc < 0)
        fail_msg("st_image_store_open %s: %s", dir, err.msg);
    return s;
}

static int pull(st_image_store *s, const char *fmt, const char *h, const char *auth,
                struct st_image_pull_report *rep, st_error *err)
{
    char ref[256];
    snprintf(ref, sizeof(ref), fmt, h);
    return st_image_pull(s, ref, auth, rep, err);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_pull_and_again(void **state)
{
    (void)state;
    st_image_store *s = new_store("store-pull");
    struct st_image_pull_report rep;
    st_error err = {0};
    int rc = pull(s, "%s/busybox:1", host, NULL, &rep, &err);
    if (rc != 0)
        fail_msg("pull: %s", err.msg);
    assert_string_equal(rep.digest, digest);
    assert_false(rep.present);
    /* the whole image came down: its blobs, and the manifest is not counted */
    assert_true(rep.bytes > 1000000); /* busybox is about 1 MB compressed */
    assert_int_equal(rep.bytes, rep.size);
    assert_true(rep.ms >= 0);

    char ref[256];
    snprintf(ref, sizeof(ref), "%s/busybox:1", host);
    struct st_image_info info;
    assert_int_equal(st_image_lookup(s, ref, &info, &err), 0);
    assert_string_equal(info.digest, digest);
    assert_int_equal(info.layers, 2);
    assert_int_equal(info.size, rep.size);

    _cleanup_json_ json_t *image = NULL;
    assert_int_equal(st_image_resolve(s, ref, &image, &err), 0);
    assert_int_equal(json_array_size(json_object_get(image, "layers")), 2);
    json_t *config = json_object_get(image, "config");
    assert_string_equal(json_string_value(json_array_get(json_object_get(config, "Cmd"), 0)),
                        "/bin/sh");
    assert_string_equal(json_string_value(json_object_get(config, "WorkingDir")), "/root");
    /* the layers stack in order: the second one's file over the first's root */
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    assert_int_equal(st_image_read_file(s, image, "etc/strata-layer2", 4096, &text, &len, &err), 0);
    assert_string_equal(text, "layer two\n");
    free(text);
    text = NULL;
    assert_int_equal(st_image_read_file(s, image, "etc/passwd", 4096, &text, &len, &err), 0);
    assert_non_null(strstr(text, "root:x:0:0"));

    /* again: the registry is asked for the tag, nothing is downloaded */
    struct st_image_pull_report again;
    rc = pull(s, "%s/busybox:1", host, NULL, &again, &err);
    if (rc != 0)
        fail_msg("second pull: %s", err.msg);
    assert_true(again.present);
    assert_int_equal(again.bytes, 0);
    assert_string_equal(again.digest, digest);
    assert_int_equal(again.size, rep.size);

    /* by digest: the same manifest, checked against the digest asked for */
    char by_digest[256];
    snprintf(by_digest, sizeof(by_digest), "%s/busybox@%s", host, digest);
    rc = st_image_pull(s, by_digest, NULL, &again, &err);
    if (rc != 0)
        fail_msg("pull by digest: %s", err.msg);
    assert_string_equal(again.digest, digest);
    assert_true(again.present);
    st_image_store_close(s);
}

struct racer {
    st_image_store *s;
    struct st_image_pull_report rep;
    st_error err;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    r->rc = pull(r->s, "%s/busybox:1", host, NULL, &r->rep, &r->err);
    return NULL;
}

static void test_two_pulls_at_once(void **state)
{
    (void)state;
    st_image_store *s = new_store("store-race");
    struct racer a = {.s = s}, b = {.s = s};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (a.rc != 0 || b.rc != 0)
        fail_msg("pulls: %s / %s", a.err.msg, b.err.msg);
    /* one of them downloaded the image, the other found it there */
    assert_int_equal(a.rep.bytes + b.rep.bytes, a.rep.size);
    assert_true(a.rep.present != b.rep.present);
    st_image_store_close(s);
}

static void test_missing_tag(void **state)
{
    (void)state;
    st_image_store *s = new_store("store-missing");
    struct st_image_pull_report rep;
    st_error err = {0};
    assert_int_equal(pull(s, "%s/busybox:nope", host, NULL, &rep, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "manifest unknown"));
    assert_non_null(strstr(err.msg, "busybox:nope"));
    st_error_clear(&err);
    assert_int_equal(pull(s, "%s/nothing:1", host, NULL, &rep, &err), -ENOENT);
    st_image_store_close(s);
}

static void test_basic_auth(void **state)
{
    (void)state;
    st_image_store *s = new_store("store-auth");
    struct st_image_pull_report rep;
    st_error err = {0};
    char secret[256];

    /* no credentials at all, and a secret for another registry only */
    assert_int_equal(pull(s, "%s/busybox:1", auth_host, NULL, &rep, &err), -EACCES);
    assert_non_null(strstr(err.msg, auth_host));
    st_error_clear(&err);
    snprintf(secret, sizeof(secret), AUTH_OK, host);
    assert_int_equal(pull(s, "%s/busybox:1", auth_host, secret, &rep, &err), -EACCES);
    st_error_clear(&err);

    /* wrong password */
    snprintf(secret, sizeof(secret), AUTH_BAD, auth_host);
    assert_int_equal(pull(s, "%s/busybox:1", auth_host, secret, &rep, &err), -EACCES);
    assert_non_null(strstr(err.msg, "refused the credentials"));
    st_error_clear(&err);
    char ref[256];
    struct st_image_info info;
    snprintf(ref, sizeof(ref), "%s/busybox:1", auth_host);
    assert_int_equal(st_image_lookup(s, ref, &info, &err), -ENOENT);
    st_error_clear(&err);

    snprintf(secret, sizeof(secret), AUTH_OK, auth_host);
    int rc = pull(s, "%s/busybox:1", auth_host, secret, &rep, &err);
    if (rc != 0)
        fail_msg("pull with credentials: %s", err.msg);
    assert_string_equal(rep.digest, digest);
    assert_false(rep.present);
    st_image_store_close(s);
}

static void test_registry_down(void **state)
{
    (void)state;
    st_image_store *s = new_store("store-down");
    struct st_image_pull_report rep;
    st_error err = {0};
    assert_int_equal(pull(s, "%s/busybox:1", dead_host, NULL, &rep, &err), -EIO);
    assert_non_null(strstr(err.msg, dead_host));
    st_image_store_close(s);
}

/* Last: it spoils a blob in the registry's storage (one only other:1 has). */
static void test_corrupt_blob(void **state)
{
    (void)state;
    char data[768];
    snprintf(data, sizeof(data), "%s/data/docker/registry/v2/blobs/sha256/%.2s/%s/data", tmp,
             other_layer + 7, other_layer + 7);
    /* flip bytes in place: same size, another digest */
    assert_int_equal(st_test_sh(NULL, NULL,
                                "printf 'XXXXXXXX' | dd of=%s bs=1 seek=10 conv=notrunc "
                                "status=none",
                                data),
                     0);
    st_image_store *s = new_store("store-corrupt");
    struct st_image_pull_report rep;
    st_error err = {0};
    assert_int_equal(pull(s, "%s/other:1", host, NULL, &rep, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "other:1"));
    st_error_clear(&err);
    /* nothing of it: no tag, no blob under its digest */
    char ref[256], blob[768];
    struct st_image_info info;
    snprintf(ref, sizeof(ref), "%s/other:1", host);
    assert_int_equal(st_image_lookup(s, ref, &info, &err), -ENOENT);
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", st_image_store_dir(s), other_layer + 7);
    struct stat st;
    assert_int_equal(stat(blob, &st), -1);
    /* nor the blobs that came before the bad one (its config): the store
     * was empty, and is again */
    char *left = NULL;
    assert_int_equal(st_test_sh(&left, NULL, "ls -A %s/blobs/sha256", st_image_store_dir(s)), 0);
    assert_string_equal(left, "");
    free(left);
    st_image_store_close(s);
}

/* A disk that fills during a pull fails the pull with -ENOSPC naming the
 * image, and keeps nothing of it (a 512 KiB tmpfs as the store's disk; the
 * image's rootfs layer alone is larger). */
static void test_disk_full(void **state)
{
    (void)state;
    snprintf(full_dir, sizeof(full_dir), "%s/store-full", tmp);
    assert_int_equal(mkdir(full_dir, 0755), 0);
    if (mount("strata-itest-full", full_dir, "tmpfs", 0, "size=512k") < 0) {
        full_dir[0] = '\0';
        fail_msg("mount tmpfs: %s", strerror(errno));
    }
    st_image_store *s = new_store("store-full");
    struct st_image_pull_report rep;
    st_error err = {0};
    assert_int_equal(pull(s, "%s/busybox:1", host, NULL, &rep, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "busybox:1"));
    char ref[256];
    struct st_image_info info;
    snprintf(ref, sizeof(ref), "%s/busybox:1", host);
    st_error_clear(&err);
    assert_int_equal(st_image_lookup(s, ref, &info, &err), -ENOENT);
    char *left = NULL;
    assert_int_equal(
        st_test_sh(&left, NULL, "ls -A %s/blobs/sha256; ls -A %s/tmp", full_dir, full_dir), 0);
    assert_string_equal(left, "");
    free(left);
    st_image_store_close(s);
    assert_int_equal(umount2(full_dir, MNT_DETACH), 0);
    full_dir[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_and_again), cmocka_unit_test(test_two_pulls_at_once),
        cmocka_unit_test(test_missing_tag),    cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_registry_down),  cmocka_unit_test(test_corrupt_blob),
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
