/* test_image_store.c: the store end to end on fixtures made here: blobs
 * refused when their digest differs (and nothing kept), images imported
 * from a docker-archive, an OCI layout (the store's own folder is one), an
 * oci-archive, a root folder and a root tarball; what the node is given
 * (layers bottom to top, the config), a file read through whiteouts and
 * opaque folders, and removal that keeps what another image shares and
 * refuses an image in use. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_fx.h"

struct fx {
    char *tmp;
    st_image_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    st_error err = {0};
    f->tmp = st_test_mkdtemp("imgstore");
    char *dir = fx_path(f->tmp, "store");
    assert_int_equal(st_image_store_open(dir, &f->s, &err), 0);
    free(dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    st_image_store_close(f->s);
    st_test_rmrf(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

static int count(struct fx *f, const char *sub)
{
    char *p = fx_path(st_image_store_dir(f->s), sub);
    int n = fx_count(p);
    free(p);
    return n;
}

/* A docker-archive (what `docker save` writes) of two layers: the lower
 * has etc/passwd, a/x and d/old; the upper whites out a/x, makes d opaque
 * and replaces etc/passwd. name_tag goes in RepoTags. */
static char *docker_archive(struct fx *f, const char *file, const char *name_tag,
                            const char *upper_passwd)
{
    static const struct fx_member lower[] = {
        FX_D("etc/"),
        FX_F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
        FX_D("a/"),
        FX_F("a/x", "x"),
        FX_D("d/"),
        FX_F("d/old", "old"),
        FX_L("link", "/etc/passwd"),
    };
    struct fx_member upper[] = {
        FX_D("etc/"),         FX_F("etc/passwd", upper_passwd),
        FX_WH("a/.wh.x"),     FX_WH("d/.wh..wh..opq"),
        FX_F("d/new", "new"),
    };
    char *l0 = fx_path(f->tmp, "l0.tar"), *l1 = fx_path(f->tmp, "l1.tar");
    fx_tar(l0, lower, sizeof(lower) / sizeof(lower[0]), false);
    fx_tar(l1, upper, sizeof(upper) / sizeof(upper[0]), false);
    char *l0data = st_test_read_file(l0), *l1data = st_test_read_file(l1);
    struct stat s0, s1;
    assert_int_equal(stat(l0, &s0), 0);
    assert_int_equal(stat(l1, &s1), 0);
    const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\","
                         "\"created\":\"2026-11-30T10:00:00Z\",\"config\":{\"Entrypoint\":"
                         "[\"/bin/app\"],\"Cmd\":[\"serve\"],\"User\":\"app\",\"WorkingDir\":"
                         "\"/srv\",\"Env\":[\"A=1\"]},\"rootfs\":{\"type\":\"layers\"}}";
    char manifest[512];
    snprintf(manifest, sizeof(manifest),
             "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"%s\"],\"Layers\":[\"aaa/layer.tar\","
             "\"bbb/layer.tar\"]}]",
             name_tag);
    /* layer tars are members with binary content: written by hand here */
    char *out = fx_path(f->tmp, file);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
    struct {
        const char *name;
        const char *data;
        size_t len;
    } m[] = {
        {"aaa/layer.tar", l0data, (size_t)s0.st_size},
        {"bbb/layer.tar", l1data, (size_t)s1.st_size},
        {"cfg.json", config, strlen(config)},
        {"manifest.json", manifest, strlen(manifest)},
    };
    for (size_t i = 0; i < 4; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    unlink(l0), unlink(l1);
    free(l0), free(l1), free(l0data), free(l1data);
    return out;
}

static void test_blob_digest_mismatch_keeps_nothing(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    st_image_blob_writer *w;
    const char *want = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    assert_int_equal(st_image_blob_open(f->s, want, &w, &err), 0);
    assert_int_equal(st_image_blob_write(w, "b", 1, &err), 0);
    assert_int_equal(st_image_blob_commit(w, NULL, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, want));
    assert_false(st_image_blob_has(f->s, want));
    assert_int_equal(count(f, "tmp"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    /* the right content is taken */
    st_error_clear(&err);
    char got[ST_IMAGE_DIGEST_LEN];
    assert_int_equal(st_image_blob_open(f->s, want, &w, &err), 0);
    assert_int_equal(st_image_blob_write(w, "a", 1, &err), 0);
    assert_int_equal(st_image_blob_commit(w, got, &err), 0);
    assert_string_equal(got, want);
    assert_true(st_image_blob_has(f->s, want));
    assert_int_equal(st_image_blob_open(f->s, "sha256:../../etc", &w, &err), -EINVAL);
}

static void check_app_image(struct fx *f, const char *ref)
{
    st_error err = {0};
    json_t *img = NULL;
    assert_int_equal(st_image_resolve(f->s, ref, &img, &err), 0);
    assert_int_equal(json_array_size(json_object_get(img, "layers")), 2);
    const char *l0 = json_string_value(json_array_get(json_object_get(img, "layers"), 0));
    assert_int_equal(strncmp(l0, "layers/", 7), 0);
    char *dir = fx_path(st_image_store_dir(f->s), l0);
    assert_int_equal(access(dir, F_OK), 0);
    free(dir);
    json_t *cfg = json_object_get(img, "config");
    assert_string_equal(json_string_value(json_object_get(cfg, "User")), "app");
    assert_string_equal(json_string_value(json_array_get(json_object_get(cfg, "Entrypoint"), 0)),
                        "/bin/app");
    /* a file through the layers: the upper passwd, a/x whited out, d opaque */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(st_image_read_file(f->s, img, "/etc/passwd", 4096, &text, &len, &err), 0);
    assert_string_equal(text, "app:x:100:101::/srv:/bin/sh\n");
    free(text);
    assert_int_equal(st_image_read_file(f->s, img, "link", 4096, &text, &len, &err), 0);
    assert_string_equal(text, "app:x:100:101::/srv:/bin/sh\n");
    free(text);
    assert_int_equal(st_image_read_file(f->s, img, "a/x", 4096, &text, &len, &err), -ENOENT);
    assert_non_null(strstr(err.msg, ref));
    st_error_clear(&err);
    assert_int_equal(st_image_read_file(f->s, img, "d/old", 4096, &text, &len, &err), -ENOENT);
    st_error_clear(&err);
    assert_int_equal(st_image_read_file(f->s, img, "d/new", 4096, &text, &len, &err), 0);
    assert_string_equal(text, "new");
    free(text);
    json_decref(img);
}

static void test_docker_archive(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    char *tar =
        docker_archive(f, "app.tar", "docker.io/library/app:v1", "app:x:100:101::/srv:/bin/sh\n");
    struct st_image_info info;
    assert_int_equal(st_image_import(f->s, "app:v1", tar, &info, &err), 0);
    assert_string_equal(info.ref, "app:v1");
    assert_int_equal(info.layers, 2);
    assert_string_equal(info.created, "2026-11-30T10:00:00Z");
    assert_true(info.size > 2048);
    check_app_image(f, "app:v1");
    json_t *list = NULL;
    assert_int_equal(st_image_list(f->s, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_t *e = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "app");
    assert_string_equal(json_string_value(json_object_get(e, "tag")), "v1");
    assert_string_equal(json_string_value(json_object_get(e, "digest")), info.digest);
    json_decref(list);
    /* the store's folder is an OCI layout: another store imports from it */
    char *dir2 = fx_path(f->tmp, "store2");
    st_image_store *s2;
    assert_int_equal(st_image_store_open(dir2, &s2, &err), 0);
    struct st_image_info info2;
    assert_int_equal(st_image_import(s2, "app:v1", st_image_store_dir(f->s), &info2, &err), 0);
    assert_string_equal(info2.digest, info.digest);
    st_image_store *keep = f->s;
    f->s = s2;
    check_app_image(f, "app:v1");
    /* and as an oci-archive: the layout in a tarball */
    char *oci = fx_path(f->tmp, "app-oci.tar");
    assert_int_equal(st_test_sh(NULL, NULL, "cd '%s' && tar -cf '%s' oci-layout index.json blobs",
                                st_image_store_dir(keep), oci),
                     0);
    /* one image in the archive: taken whatever its tag */
    assert_int_equal(st_image_import(s2, "other:v2", oci, &info2, &err), 0);
    assert_string_equal(info2.digest, info.digest);
    assert_int_equal(st_image_remove(s2, "app:v1", NULL, NULL, &err), 0);
    assert_int_equal(count(f, "layers"), 2);
    assert_int_equal(st_image_remove(s2, "other:v2", NULL, NULL, &err), 0);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(st_image_import(s2, "app:v1", oci, &info2, &err), 0);
    assert_string_equal(info2.digest, info.digest);
    check_app_image(f, "app:v1");
    f->s = keep;
    st_image_store_close(s2);
    free(dir2), free(oci), free(tar);
}

static void test_bad_archives_keep_nothing(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    char *tar = docker_archive(f, "app.tar", "app:v1", "x\n");
    struct stat st;
    assert_int_equal(stat(tar, &st), 0);
    assert_int_equal(truncate(tar, st.st_size / 2), 0);
    assert_int_equal(st_image_import(f->s, "app:v1", tar, NULL, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "image app:v1"));
    assert_int_equal(st_image_lookup(f->s, "app:v1", NULL, &err), -ENOENT);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "tmp"), 0);
    /* a layout whose blob does not match its digest */
    st_error_clear(&err);
    char *good = docker_archive(f, "good.tar", "app:v1", "x\n");
    assert_int_equal(st_image_import(f->s, "app:v1", good, NULL, &err), 0);
    char *copy = fx_path(f->tmp, "layout");
    assert_int_equal(st_test_sh(NULL, NULL, "cp -a '%s' '%s'", st_image_store_dir(f->s), copy), 0);
    json_t *img = NULL;
    assert_int_equal(st_image_resolve(f->s, "app:v1", &img, &err), 0);
    char *blob = NULL;
    assert_true(asprintf(&blob, "%s/blobs/sha256/%s", copy,
                         json_string_value(json_array_get(json_object_get(img, "layers"), 1)) + 7) >
                0);
    st_test_write_file(blob, "tampered");
    json_decref(img);
    assert_int_equal(st_image_remove(f->s, "app:v1", NULL, NULL, &err), 0);
    assert_int_equal(st_image_import(f->s, "app:v1", copy, NULL, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "does not match"));
    assert_int_equal(st_image_lookup(f->s, "app:v1", NULL, &err), -ENOENT);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(count(f, "layers"), 0);
    /* not an image at all */
    st_error_clear(&err);
    char *junk = fx_path(f->tmp, "junk.bin");
    st_test_write_file(junk, "this is not a tarball, just words that go on and on for a while");
    assert_true(st_image_import(f->s, "junk:1", junk, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "junk:1"));
    free(tar), free(good), free(copy), free(blob), free(junk);
}

static void test_rootfs_folder_and_tarball(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    char *root = fx_path(f->tmp, "root");
    assert_int_equal(st_test_sh(NULL, NULL,
                                "mkdir -p '%1$s/etc' '%1$s/bin' && echo 'root:x:0:0' > "
                                "'%1$s/etc/passwd' && echo bb > '%1$s/bin/busybox' && ln "
                                "'%1$s/bin/busybox' '%1$s/bin/sh' && ln -s busybox '%1$s/bin/ls' "
                                "&& chown 7:8 '%1$s/bin/busybox'",
                                root),
                     0);
    struct st_image_info info;
    assert_int_equal(st_image_import(f->s, "root:1", root, &info, &err), 0);
    assert_int_equal(info.layers, 1);
    json_t *img = NULL;
    assert_int_equal(st_image_resolve(f->s, "root:1", &img, &err), 0);
    assert_int_equal(json_object_size(json_object_get(img, "config")), 0);
    char *text = NULL;
    size_t len;
    assert_int_equal(st_image_read_file(f->s, img, "etc/passwd", 100, &text, &len, &err), 0);
    assert_string_equal(text, "root:x:0:0\n");
    free(text);
    char *layer = fx_path(st_image_store_dir(f->s),
                          json_string_value(json_array_get(json_object_get(img, "layers"), 0)));
    char *sh = fx_path(layer, "bin/sh"), *bb = fx_path(layer, "bin/busybox");
    struct stat a, b;
    assert_int_equal(stat(sh, &a), 0);
    assert_int_equal(stat(bb, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(b.st_uid, 7);
    assert_int_equal(b.st_gid, 8);
    json_decref(img);
    /* a gzip tarball of the same root is the layer blob as it is */
    char *tgz = fx_path(f->tmp, "root.tar.gz");
    assert_int_equal(st_test_sh(NULL, NULL, "tar -C '%s' -czf '%s' .", root, tgz), 0);
    assert_int_equal(st_image_import(f->s, "root:gz", tgz, &info, &err), 0);
    assert_int_equal(st_image_resolve(f->s, "root:gz", &img, &err), 0);
    assert_int_equal(st_image_read_file(f->s, img, "bin/ls", 100, &text, &len, &err), 0);
    assert_string_equal(text, "bb\n");
    free(text);
    json_decref(img);
    free(root), free(layer), free(sh), free(bb), free(tgz);
}

static bool used_by_pod(void *arg, const char *ref, const char *digest)
{
    (void)digest;
    return strcmp(ref, (const char *)arg) == 0;
}

static void test_remove_collects_unshared(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    /* two images that share the lower layer */
    char *a = docker_archive(f, "a.tar", "a:1", "a\n");
    assert_int_equal(st_image_import(f->s, "a:1", a, NULL, &err), 0);
    char *b = docker_archive(f, "b.tar", "b:1", "b\n");
    assert_int_equal(st_image_import(f->s, "b:1", b, NULL, &err), 0);
    assert_int_equal(count(f, "layers"), 3);
    assert_int_equal(st_image_remove(f->s, "a:1", used_by_pod, "a:1", &err), -EBUSY);
    assert_non_null(strstr(err.msg, "a:1"));
    assert_int_equal(st_image_lookup(f->s, "a:1", NULL, &err), 0);
    st_error_clear(&err);
    assert_int_equal(st_image_remove(f->s, "a:1", used_by_pod, "b:1", &err), 0);
    assert_int_equal(st_image_lookup(f->s, "a:1", NULL, &err), -ENOENT);
    assert_int_equal(count(f, "layers"), 2);
    json_t *img = NULL;
    char *text = NULL;
    size_t len;
    st_error_clear(&err);
    assert_int_equal(st_image_resolve(f->s, "b:1", &img, &err), 0);
    assert_int_equal(st_image_read_file(f->s, img, "etc/passwd", 100, &text, &len, &err), 0);
    assert_string_equal(text, "b\n");
    free(text);
    json_decref(img);
    assert_int_equal(st_image_remove(f->s, "b:1", NULL, NULL, &err), 0);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(st_image_remove(f->s, "b:1", NULL, NULL, &err), -ENOENT);
    free(a), free(b);
}

struct racer {
    struct fx *f;
    const char *tar;
    int r;
    char digest[ST_IMAGE_DIGEST_LEN];
};

static void *race_import(void *arg)
{
    struct racer *r = arg;
    st_error err = {0};
    struct st_image_info info;
    r->r = st_image_import(r->f->s, "race:1", r->tar, &info, &err);
    memcpy(r->digest, info.digest, sizeof(r->digest));
    return NULL;
}

struct holder {
    st_image_store *s;
    bool entered;
    pthread_mutex_t mu;
};

static void *take_key(void *arg)
{
    struct holder *h = arg;
    st_image_once_begin(h->s, "k");
    pthread_mutex_lock(&h->mu);
    h->entered = true;
    pthread_mutex_unlock(&h->mu);
    st_image_once_end(h->s, "k");
    return NULL;
}

static bool entered(void *arg)
{
    struct holder *h = arg;
    pthread_mutex_lock(&h->mu);
    bool e = h->entered;
    pthread_mutex_unlock(&h->mu);
    return e;
}

static void test_once_and_concurrent_imports(void **state)
{
    struct fx *f = *state;
    /* a key held keeps a second holder out until it is let go; another key does not wait */
    struct holder h = {.s = f->s, .mu = PTHREAD_MUTEX_INITIALIZER};
    st_image_once_begin(f->s, "k");
    st_image_once_begin(f->s, "other");
    st_image_once_end(f->s, "other");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, take_key, &h), 0);
    assert_false(st_test_wait_until(entered, &h, 200, 10));
    st_image_once_end(f->s, "k");
    assert_true(st_test_wait_until(entered, &h, 5000, 5));
    pthread_join(t, NULL);
    /* two imports of one image at once: both succeed, one image, no leftovers */
    char *tar = docker_archive(f, "race.tar", "race:1", "r\n");
    struct racer a = {.f = f, .tar = tar}, b = {.f = f, .tar = tar};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, race_import, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, race_import, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.r, 0);
    assert_int_equal(b.r, 0);
    assert_string_equal(a.digest, b.digest);
    json_t *list = NULL;
    st_error err = {0};
    assert_int_equal(st_image_list(f->s, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(count(f, "layers"), 2);
    assert_int_equal(count(f, "tmp"), 0);
    free(tar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blob_digest_mismatch_keeps_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_docker_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_archives_keep_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_folder_and_tarball, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_collects_unshared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once_and_concurrent_imports, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
