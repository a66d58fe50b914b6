/* statedir.c: the state directory lock (see statedir.h). flock, not a pid
 * file alone: a pid can be reused after a crash, a flock cannot outlive
 * its holder. The pid in the file is only for the error message. */
#include "strata/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/cleanup.h"

int st_statedir_lock(const char *dir, int *lock_fd, st_error *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "cannot create state dir %s", dir);
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/lock", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return st_error_sys(err, errno, "cannot open the state dir lock %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return st_error_sys(err, errno, "cannot lock %s", path);
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (pid > 0)
            return st_error_set(err, EBUSY,
                                "another stratad is running with state dir %s (pid %ld); stop "
                                "it or choose another --state-dir",
                                dir, pid);
        return st_error_set(err, EBUSY,
                            "another stratad is running with state dir %s; stop it or choose "
                            "another --state-dir",
                            dir);
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
        return st_error_sys(err, errno, "cannot write our pid into %s", path);
    *lock_fd = st_steal_fd(&fd);
    return 0;
}
