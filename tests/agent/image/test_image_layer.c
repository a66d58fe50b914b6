/* test_image_layer.c: layers unpacked in overlayfs' lower form from tars
 * made here: whiteouts as 0:0 character devices, opaque folders as the
 * user.overlay.opaque xattr, hard links (inside a layer a link, to a lower
 * layer a copy), owners, modes and devices kept, and every way out of the
 * root refused with nothing left behind. Runs as root (mknod, chown). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "image_fx.h"

struct fx {
    char *tmp;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->tmp = st_test_mkdtemp("layer");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    st_test_rmrf(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

/* Unpacks members as layer `name` over lowers; returns unpack's result. */
static int unpack(struct fx *f, const char *name, const struct fx_member *m, size_t n,
                  const char *const *lowers, size_t nlowers, st_error *err)
{
    char tar[4096], dir[4096];
    snprintf(tar, sizeof(tar), "%s/%s.tar.gz", f->tmp, name);
    snprintf(dir, sizeof(dir), "%s/%s", f->tmp, name);
    fx_tar(tar, m, n, true);
    return st_image_layer_unpack(tar, dir, lowers, nlowers, err);
}

static void test_whiteouts_and_opaque(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    static const struct fx_member lower[] = {
        FX_D("a/"),       FX_F("a/x", "x"), FX_D("b/"),
        FX_F("b/y", "y"), FX_D("d/"),       FX_F("d/old", "old"),
    };
    static const struct fx_member upper[] = {
        FX_WH("a/.wh.x"),        FX_WH(".wh.b"),       FX_DM("d/", 0700),
        FX_WH("d/.wh..wh..opq"), FX_F("d/new", "new"), FX_WH("e/.wh.gone"),
    };
    assert_int_equal(unpack(f, "l0", lower, 6, NULL, 0, &err), 0);
    assert_int_equal(unpack(f, "l1", upper, 6, NULL, 0, &err), 0);
    struct stat st;
    char *p = fx_path(f->tmp, "l1/a/x");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    free(p);
    p = fx_path(f->tmp, "l1/b");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    free(p);
    /* a whiteout under a folder the layer does not list still lands */
    p = fx_path(f->tmp, "l1/e/gone");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    free(p);
    p = fx_path(f->tmp, "l1/d");
    char v[4] = "";
    assert_int_equal(getxattr(p, "user.overlay.opaque", v, sizeof(v)), 1);
    assert_int_equal(v[0], 'y');
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    free(p);
    /* the markers themselves are never files */
    p = fx_path(f->tmp, "l1/d/.wh..wh..opq");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
    p = fx_path(f->tmp, "l1/a/.wh.x");
    assert_int_equal(access(p, F_OK), -1);
    free(p);
}

static void test_hard_links(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    static const struct fx_member lower[] = {
        FX_D("bin/"),
        FX_FM("bin/busybox", "#!busybox", 0755),
    };
    static const struct fx_member upper[] = {
        FX_D("bin/"), FX_HM("bin/sh", "bin/busybox", 0755),   /* to the layer below: a copy */
        FX_F("bin/own", "mine"), FX_H("bin/own2", "bin/own"), /* inside the layer: a link */
    };
    assert_int_equal(unpack(f, "l0", lower, 2, NULL, 0, &err), 0);
    char *l0 = fx_path(f->tmp, "l0");
    const char *lowers[] = {l0};
    assert_int_equal(unpack(f, "l1", upper, 4, lowers, 1, &err), 0);
    char *sh = fx_path(f->tmp, "l1/bin/sh"), *own = fx_path(f->tmp, "l1/bin/own"),
         *own2 = fx_path(f->tmp, "l1/bin/own2");
    struct stat a, b;
    assert_int_equal(stat(sh, &a), 0);
    assert_true(S_ISREG(a.st_mode));
    assert_int_equal(a.st_nlink, 1);
    assert_int_equal(a.st_mode & 0777, 0755);
    char *text = st_test_read_file(sh);
    assert_string_equal(text, "#!busybox");
    free(text);
    assert_int_equal(stat(own, &a), 0);
    assert_int_equal(stat(own2, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_nlink, 2);
    /* a link to what no layer has is an error */
    static const struct fx_member dangling[] = {FX_H("x", "nowhere")};
    assert_int_equal(unpack(f, "l2", dangling, 1, lowers, 1, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "nowhere"));
    free(sh), free(own), free(own2), free(l0);
}

static void test_owners_modes_devices(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    static const struct fx_member m[] = {
        FX_D("etc/"),     FX_FU("etc/secret", "s", 0640, 1234), FX_D("dev/"),
        FX_C("dev/null"), FX_L("lnk", "/etc/secret"),
    };
    assert_int_equal(unpack(f, "l0", m, 5, NULL, 0, &err), 0);
    struct stat st;
    char *p = fx_path(f->tmp, "l0/etc/secret");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 1234);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_mtime, 1700000000);
    free(p);
    p = fx_path(f->tmp, "l0/dev/null");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
    free(p);
    /* an absolute symlink is kept as it is: it points into the image */
    p = fx_path(f->tmp, "l0/lnk");
    char target[64] = "";
    assert_int_equal(readlink(p, target, sizeof(target) - 1), 11);
    assert_string_equal(target, "/etc/secret");
    free(p);
}

static void expect_refused(struct fx *f, const struct fx_member *m, size_t n, const char *what)
{
    st_error err = {0};
    char *dir = fx_path(f->tmp, "bad");
    assert_int_equal(unpack(f, "bad", m, n, NULL, 0, &err), -EPERM);
    assert_non_null(strstr(err.msg, what));
    /* nothing of the layer remains */
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
}

static void test_escapes_refused(void **state)
{
    struct fx *f = *state;
    static const struct fx_member dotdot[] = {FX_F("ok", "1"), FX_F("a/../../evil", "x")};
    expect_refused(f, dotdot, 2, "..");
    static const struct fx_member abs[] = {FX_F("/etc/evil", "x")};
    expect_refused(f, abs, 1, "absolute");
    static const struct fx_member through[] = {FX_L("s", "/tmp"), FX_F("s/evil", "x")};
    expect_refused(f, through, 2, "symlink");
    static const struct fx_member wh[] = {FX_WH("../.wh.passwd")};
    expect_refused(f, wh, 1, "..");
    static const struct fx_member whdot[] = {FX_WH("a/.wh..")};
    expect_refused(f, whdot, 1, "whiteout");
    static const struct fx_member hl[] = {FX_H("x", "../../etc/shadow")};
    expect_refused(f, hl, 1, "..");
    /* and nothing was written outside */
    char *evil = fx_path(f->tmp, "evil");
    assert_int_equal(access(evil, F_OK), -1);
    assert_int_equal(access("/tmp/evil", F_OK), -1);
    free(evil);
}

/* The root's own entry "/" (what Debian's umoci insert writes) is the
 * root, as containerd takes it; any other absolute name stays refused. */
static void test_root_entry(void **state)
{
    struct fx *f = *state;
    static const struct fx_member m[] = {FX_DM("/", 0755), FX_F("bin/tool", "x")};
    st_error err = {0};
    assert_int_equal(unpack(f, "rootentry", m, 2, NULL, 0, &err), 0);
    char *p = fx_path(f->tmp, "rootentry/bin/tool");
    assert_int_equal(access(p, F_OK), 0);
    free(p);
}

static void test_corrupt_layer(void **state)
{
    struct fx *f = *state;
    st_error err = {0};
    static const struct fx_member m[] = {FX_F("big", "0123456789abcdef0123456789abcdef")};
    char *tar = fx_path(f->tmp, "t.tar"), *dir = fx_path(f->tmp, "t");
    fx_tar(tar, m, 1, false);
    assert_int_equal(truncate(tar, 600), 0); /* inside the member's data */
    assert_int_equal(st_image_layer_unpack(tar, dir, NULL, 0, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_equal(access(dir, F_OK), -1);
    free(tar), free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whiteouts_and_opaque, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hard_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owners_modes_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_layer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
