/* test_fs.c: mkdir -p, mkdir with an exact mode, and rm -rf that never
 * follows a symlink nor crosses a mount (another file system, or a bind
 * mount of the same one), reporting through the error contract. The mount
 * cases run in a private mount namespace of this test (root only), so no
 * mount is ever seen outside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/fs.h"
#include "testutil.h"

static char *path_of(const char *dir, const char *rel)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, rel) < 0)
        fail_msg("out of memory");
    return p;
}

static bool exists(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = path_of(dir, rel);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void make_dirs(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = path_of(dir, rel);
    st_error err = {0};
    if (st_fs_mkdir_p(p, 0755, &err) < 0)
        fail_msg("%s", err.msg);
}

static void make_file(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = path_of(dir, rel);
    st_test_write_file(p, "data\n");
}

/* A private mount namespace, so the mounts the test makes stay its own;
 * false (and the test skipped) when not root. */
static bool private_mounts(void)
{
    static int done = -1;
    if (done < 0)
        done = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
               mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
    if (!done)
        print_message("skipped: mounts need root (unshare CLONE_NEWNS)\n");
    return done;
}

/* ---- mkdir --------------------------------------------------------------- */

static void test_mkdir_p(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    _cleanup_free_ char *deep = path_of(dir, "a/b//c/");
    st_error err = {0};
    assert_int_equal(st_fs_mkdir_p(deep, 0700, &err), 0);
    struct stat st;
    _cleanup_free_ char *c = path_of(dir, "a/b/c");
    assert_int_equal(stat(c, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    /* again: an existing folder is fine */
    assert_int_equal(st_fs_mkdir_p(c, 0700, &err), 0);

    /* a file in the way, as the last part or as a parent */
    make_file(dir, "file");
    _cleanup_free_ char *file = path_of(dir, "file");
    assert_int_equal(st_fs_mkdir_p(file, 0700, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, file));
    st_error_clear(&err);
    _cleanup_free_ char *under = path_of(dir, "file/x/y");
    assert_int_equal(st_fs_mkdir_p(under, 0700, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "file/x"));
    st_error_clear(&err);
    assert_int_equal(st_fs_mkdir_p("", 0700, &err), -EINVAL);
    /* no error pointer: the code alone */
    assert_int_equal(st_fs_mkdir_p(under, 0700, NULL), -ENOTDIR);
    assert_int_equal(st_fs_rmtree(dir, &err), 0);
}

static void test_mkdir_mode(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    _cleanup_free_ char *sub = path_of(dir, "shared");
    mode_t old = umask(077);
    st_error err = {0};
    int r = st_fs_mkdir_mode(sub, 0755, &err);
    umask(old);
    assert_int_equal(r, 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    /* an existing folder gets the mode too */
    assert_int_equal(chmod(sub, 0700), 0);
    assert_int_equal(st_fs_mkdir_mode(sub, 0711, &err), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    _cleanup_free_ char *orphan = path_of(dir, "no/such");
    assert_int_equal(st_fs_mkdir_mode(orphan, 0755, &err), -ENOENT);
    assert_non_null(strstr(err.msg, orphan));
    assert_int_equal(st_fs_rmtree(dir, NULL), 0);
}

/* ---- rmtree -------------------------------------------------------------- */

static void test_rmtree_tree(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    _cleanup_free_ char *outside = st_test_mkdtemp("strata-fs-outside");
    make_file(outside, "keep");
    make_dirs(dir, "t/a/b/c");
    make_dirs(dir, "t/empty");
    make_file(dir, "t/a/f1");
    make_file(dir, "t/a/b/c/f2");
    _cleanup_free_ char *fifo = path_of(dir, "t/a/fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* symlinks to a folder and to a file outside: removed, never followed */
    _cleanup_free_ char *l1 = path_of(dir, "t/a/to-outside");
    _cleanup_free_ char *l2 = path_of(dir, "t/to-keep");
    _cleanup_free_ char *keep = path_of(outside, "keep");
    assert_int_equal(symlink(outside, l1), 0);
    assert_int_equal(symlink(keep, l2), 0);
    _cleanup_free_ char *t = path_of(dir, "t/");
    st_error err = {0};
    assert_int_equal(st_fs_rmtree(t, &err), 0);
    assert_int_equal(err.code, 0);
    assert_false(exists(dir, "t"));
    assert_true(exists(outside, "keep"));

    /* gone already, a file, a symlink to a folder: rm -rf's answers */
    assert_int_equal(st_fs_rmtree(t, &err), 0);
    make_file(dir, "plain");
    _cleanup_free_ char *plain = path_of(dir, "plain");
    assert_int_equal(st_fs_rmtree(plain, &err), 0);
    assert_false(exists(dir, "plain"));
    _cleanup_free_ char *link = path_of(dir, "link");
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(st_fs_rmtree(link, &err), 0);
    assert_false(exists(dir, "link"));
    assert_true(exists(outside, "keep"));
    assert_int_equal(st_fs_rmtree("", &err), -EINVAL);

    assert_int_equal(st_fs_rmtree(outside, NULL), 0);
    assert_int_equal(st_fs_rmtree(dir, NULL), 0);
    assert_false(exists(dir, ""));
}

/* Deeper than PATH_MAX: the walk goes by descriptors, not by paths. */
static void test_rmtree_deeper_than_path_max(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    char name[64];
    memset(name, 'd', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    int levels = PATH_MAX / (int)sizeof(name) + 8;
    for (int i = 0; i < levels; i++) {
        assert_int_equal(mkdirat(fd, name, 0700), 0);
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    int f = openat(fd, "leaf", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(f >= 0);
    close(f);
    close(fd);
    st_error err = {0};
    assert_int_equal(st_fs_rmtree(dir, &err), 0);
    assert_false(exists(dir, ""));
}

/* t/keep-me/mnt is a mount: all else goes, the mount and what it holds stay,
 * and the error names it. */
static void check_mount_left(const char *dir)
{
    _cleanup_free_ char *t = path_of(dir, "t");
    st_error err = {0};
    assert_int_equal(st_fs_rmtree(t, &err), -EBUSY);
    assert_int_equal(err.code, EBUSY);
    _cleanup_free_ char *mp = path_of(dir, "t/keep-me/mnt");
    if (strstr(err.msg, mp) == NULL || strstr(err.msg, "mount point") == NULL)
        fail_msg("error \"%s\" does not name the mount point %s", err.msg, mp);
    assert_true(exists(dir, "t/keep-me/mnt/inside"));
    assert_false(exists(dir, "t/gone"));
    assert_false(exists(dir, "t/keep-me/sibling"));
    assert_int_equal(umount2(mp, MNT_DETACH), 0);
    st_error_clear(&err);
    assert_int_equal(st_fs_rmtree(t, &err), 0);
    assert_false(exists(dir, "t"));
}

static void test_rmtree_stops_at_other_fs(void **state)
{
    (void)state;
    if (!private_mounts())
        skip();
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    make_dirs(dir, "t/keep-me/mnt");
    make_dirs(dir, "t/gone/x");
    make_file(dir, "t/keep-me/sibling");
    _cleanup_free_ char *mnt = path_of(dir, "t/keep-me/mnt");
    assert_int_equal(mount("strata-test", mnt, "tmpfs", 0, "size=1m"), 0);
    make_file(dir, "t/keep-me/mnt/inside");
    check_mount_left(dir);
    assert_int_equal(st_fs_rmtree(dir, NULL), 0);
}

/* A bind mount of the same file system has the same device number: only
 * the mount-root attribute tells it, and nftw(FTW_MOUNT) would go in. */
static void test_rmtree_stops_at_bind_mount(void **state)
{
    (void)state;
    if (!private_mounts())
        skip();
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    make_dirs(dir, "t/keep-me/mnt");
    make_dirs(dir, "t/gone");
    make_dirs(dir, "image");
    make_file(dir, "t/keep-me/sibling");
    make_file(dir, "image/inside");
    _cleanup_free_ char *src = path_of(dir, "image");
    _cleanup_free_ char *mnt = path_of(dir, "t/keep-me/mnt");
    assert_int_equal(mount(src, mnt, NULL, MS_BIND, NULL), 0);
    check_mount_left(dir);
    assert_true(exists(dir, "image/inside"));
    assert_int_equal(st_fs_rmtree(dir, NULL), 0);
}

/* Two removals at once each report their own mount point: the walk keeps
 * its state on its own stack. */
struct job {
    char *tree;
    char *mnt;
    int r;
    st_error err;
};

static void *rm_job(void *arg)
{
    struct job *j = arg;
    for (int i = 0; i < 50 && j->r == 0; i++) {
        st_error_clear(&j->err);
        int r = st_fs_rmtree(j->tree, &j->err);
        if (r != -EBUSY || strstr(j->err.msg, j->mnt) == NULL)
            j->r = r == 0 ? -1 : r;
    }
    return NULL;
}

static void test_rmtree_threads(void **state)
{
    (void)state;
    if (!private_mounts())
        skip();
    _cleanup_free_ char *dir = st_test_mkdtemp("strata-fs");
    struct job jobs[2] = {0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "t%d/deep/er/mnt%d", i, i);
        make_dirs(dir, rel);
        jobs[i].mnt = path_of(dir, rel);
        snprintf(rel, sizeof(rel), "t%d", i);
        jobs[i].tree = path_of(dir, rel);
        assert_int_equal(mount("strata-test", jobs[i].mnt, "tmpfs", 0, "size=1m"), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, rm_job, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (jobs[i].r != 0)
            fail_msg("job %d: r=%d msg=\"%s\", want -EBUSY naming %s", i, jobs[i].r,
                     jobs[i].err.msg, jobs[i].mnt);
        assert_int_equal(umount2(jobs[i].mnt, MNT_DETACH), 0);
        free(jobs[i].mnt);
        free(jobs[i].tree);
    }
    assert_int_equal(st_fs_rmtree(dir, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_mkdir_mode),
        cmocka_unit_test(test_rmtree_tree),
        cmocka_unit_test(test_rmtree_deeper_than_path_max),
        cmocka_unit_test(test_rmtree_stops_at_other_fs),
        cmocka_unit_test(test_rmtree_stops_at_bind_mount),
        cmocka_unit_test(test_rmtree_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
