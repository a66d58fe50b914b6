/* image_fx.h: fixtures for the image store's unit tests, made in the test
 * with libarchive's writer (no skopeo or umoci needed): tarballs of
 * listed members, files of the store, and the digests of what is written.
 * Header-only: each test binary is one file. */
#ifndef STRATA_TEST_IMAGE_FX_H
#define STRATA_TEST_IMAGE_FX_H

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_priv.h"
#include "testutil.h"

/* type: 'f' file (data), 'd' folder, 'l' symlink (link), 'h' hard link
 * to link, 'c' character device (rdev 1:3). mode 0 means 0644/0755. */
struct fx_member {
    const char *name;
    char type;
    const char *data;
    const char *link;
    int mode;
    int uid;
};

/* Members by kind (designated, so unnamed fields are zero). */
#define FX_F(n, d)                                                                                 \
    {                                                                                              \
        .name = (n), .type = 'f', .data = (d)                                                      \
    }
#define FX_FM(n, d, m)                                                                             \
    {                                                                                              \
        .name = (n), .type = 'f', .data = (d), .mode = (m)                                         \
    }
#define FX_FU(n, d, m, u)                                                                          \
    {                                                                                              \
        .name = (n), .type = 'f', .data = (d), .mode = (m), .uid = (u)                             \
    }
#define FX_D(n)                                                                                    \
    {                                                                                              \
        .name = (n), .type = 'd'                                                                   \
    }
#define FX_DM(n, m)                                                                                \
    {                                                                                              \
        .name = (n), .type = 'd', .mode = (m)                                                      \
    }
#define FX_L(n, l)                                                                                 \
    {                                                                                              \
        .name = (n), .type = 'l', .link = (l)                                                      \
    }
#define FX_H(n, l)                                                                                 \
    {                                                                                              \
        .name = (n), .type = 'h', .link = (l)                                                      \
    }
#define FX_HM(n, l, m)                                                                             \
    {                                                                                              \
        .name = (n), .type = 'h', .link = (l), .mode = (m)                                         \
    }
#define FX_C(n)                                                                                    \
    {                                                                                              \
        .name = (n), .type = 'c'                                                                   \
    }
#define FX_WH(n)                                                                                   \
    {                                                                                              \
        .name = (n), .type = 'f'                                                                   \
    }

/* Writes a tar of members to path (gzip when asked). */
static inline void fx_tar(const char *path, const struct fx_member *m, size_t n, bool gzip)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (gzip)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_uid(e, m[i].uid);
        archive_entry_set_gid(e, m[i].uid);
        archive_entry_set_mtime(e, 1700000000, 0);
        size_t len = 0;
        switch (m[i].type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, m[i].mode ? m[i].mode : 0755);
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, m[i].link);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, m[i].mode ? m[i].mode : 0644);
            archive_entry_set_hardlink(e, m[i].link);
            break;
        case 'c':
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_perm(e, m[i].mode ? m[i].mode : 0666);
            archive_entry_set_rdevmajor(e, 1);
            archive_entry_set_rdevminor(e, 3);
            break;
        default:
            len = m[i].data ? strlen(m[i].data) : 0;
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, m[i].mode ? m[i].mode : 0644);
            archive_entry_set_size(e, (la_int64_t)len);
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* The sha256 digest of a file, through the store's own blob writer (the
 * blob stays in s). */
static inline void fx_blob_file(st_image_store *s, const char *path,
                                char digest[ST_IMAGE_DIGEST_LEN])
{
    st_error err = {0};
    st_image_blob_writer *w;
    char *text = st_test_read_file(path);
    struct stat st;
    assert_non_null(text);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st_image_blob_open(s, NULL, &w, &err), 0);
    assert_int_equal(st_image_blob_write(w, text, (size_t)st.st_size, &err), 0);
    assert_int_equal(st_image_blob_commit(w, digest, &err), 0);
    free(text);
}

/* How many entries a folder has (. and .. aside); -1 when it is missing. */
static inline int fx_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static inline char *fx_path(const char *a, const char *b)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

#endif
