/* fs_tree.c: see fs_tree.h. */
#include "strata/fs_tree.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int st_fs_rmtree(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return access(path, F_OK) == 0 ? -ENOTEMPTY : 0;
}

int st_fs_mkdir_mode(const char *path, unsigned mode, st_error *err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "cannot create %s", path);
    if (chmod(path, mode) < 0)
        return st_error_sys(err, errno, "cannot chmod %s", path);
    return 0;
}
