/* images.c: the host's image store, a folder with one subfolder per image
 * (NAME/rootfs). Nodes see it read-only over 9p and lay a writable overlay
 * on top per container. Import copies a directory or unpacks a tarball with
 * the system's cp and tar; nothing here parses an archive. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/names.h"
#include "strata/time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int run_quiet(char *const argv[], st_error *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return st_error_sys(err, r, "cannot run %s", argv[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return st_error_sys(err, errno, "waitpid %s", argv[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return st_error_set(err, EIO, "%s %s failed (status %d)", argv[0], argv[1],
                            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}

static _Thread_local long long du_total;
static int du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    du_total += sb->st_size;
    return 0;
}

static json_t *describe(const char *dir, const char *name)
{
    char rootfs[4096];
    snprintf(rootfs, sizeof(rootfs), "%s/%s/rootfs", dir, name);
    struct stat st;
    if (stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
        return NULL;
    du_total = 0;
    nftw(rootfs, du_entry, 32, FTW_PHYS);
    char created[ST_TIME_RFC3339_LEN];
    st_time_rfc3339(st.st_mtime, created);
    return json_pack("{s:s, s:I, s:s}", "name", name, "sizeBytes", (json_int_t)du_total, "created",
                     created);
}

int st_server_image_import(struct st_server *d, const char *name, const char *source, json_t **out,
                           st_error *err)
{
    if (!st_name_image_ok(name))
        return st_error_set(err, EINVAL,
                            "image name \"%s\": use lowercase letters and digits joined by '.', "
                            "'_' or '-' (at most %d; no tag, no '/')",
                            name ? name : "", ST_NAME_IMAGE_MAX);
    if (source == NULL || source[0] != '/')
        return st_error_set(err, EINVAL,
                            "source \"%s\": give an absolute path to a folder or "
                            "a tarball",
                            source ? source : "");
    struct stat st;
    if (stat(source, &st) < 0) {
        st_error_sys(err, errno, "source %s", source);
        return st_server_recode(err, ENOENT);
    }
    char dest[4096], tmp[4096], rootfs[4200];
    snprintf(dest, sizeof(dest), "%s/%s", d->images_dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.import-%s-%d", d->images_dir, name, (int)getpid());
    if (access(dest, F_OK) == 0)
        return st_error_set(err, EEXIST,
                            "image %s already exists in %s; pick another name or remove %s", name,
                            d->images_dir, dest);
    st_fs_rmtree(tmp, NULL);
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
    if (mkdir(tmp, 0755) < 0 || mkdir(rootfs, 0755) < 0) {
        st_error_sys(err, errno, "cannot create %s", rootfs);
        return st_server_recode(err, EIO);
    }
    int r;
    if (S_ISDIR(st.st_mode)) {
        char src[4200];
        snprintf(src, sizeof(src), "%s/.", source);
        char *argv[] = {"cp", "-a", src, rootfs, NULL};
        r = run_quiet(argv, err);
    } else {
        char *argv[] = {"tar", "-xf", (char *)source, "-C", rootfs, "--no-same-owner", NULL};
        r = run_quiet(argv, err);
    }
    if (r == 0 && rename(tmp, dest) < 0)
        r = st_error_sys(err, errno, "cannot move the image into %s", dest);
    if (r < 0) {
        st_fs_rmtree(tmp, NULL);
        /* Whatever failed, this source did not make an image. */
        st_error_prefix(err, "image %s from %s: ", name, source);
        return st_server_recode(err, ENOEXEC);
    }
    /* QEMU's 9p server runs as libvirt-qemu: the image must be readable. */
    chmod(dest, 0755);
    *out = describe(d->images_dir, name);
    return *out ? 0 : st_error_set(err, EIO, "image %s: imported but unreadable", name);
}

int st_server_image_list(struct st_server *d, json_t **out, st_error *err)
{
    _cleanup_closedir_ DIR *dir = opendir(d->images_dir);
    if (dir == NULL)
        return st_error_sys(err, errno, "image store %s", d->images_dir);
    json_t *items = json_array();
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        json_t *img = describe(d->images_dir, de->d_name);
        if (img)
            json_array_append_new(items, img);
    }
    *out = json_pack("{s:s, s:o}", "kind", "ImageList", "items", items);
    return 0;
}
