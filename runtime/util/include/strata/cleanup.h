/* cleanup.h: scope-bound release of owned locals (GCC/Clang cleanup
 * attribute), so an early return never leaks. Each helper takes a pointer to
 * the variable and tolerates the "nothing owned" value (NULL, -1).
 * Only what every layer owns lives here (memory, fds, FILE, DIR, string
 * vectors, jansson values, child processes); a library's own handles
 * (PGresult, virDomainPtr, ...) get their cleanup beside that library, so
 * this header never includes more than libc and jansson. */
#ifndef STRATA_CLEANUP_H
#define STRATA_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void st_freep(void *p)
{
    free(*(void **)p);
}
static inline void st_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void st_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
static inline void st_closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}
/* A NULL-terminated array of strings, each owned. */
static inline void st_strvfreep(char ***v)
{
    if (*v) {
        for (char **s = *v; *s; s++)
            free(*s);
        free(*v);
    }
}

static inline void st_json_decrefp(json_t **j)
{
    if (*j)
        json_decref(*j);
}
/* A child process this scope started: killed (SIGKILL) and reaped on the way
 * out, so an early return leaves neither a runaway child nor a zombie. Once
 * the child is reaped by the code itself, st_steal_pid it (or set -1). */
static inline void st_pid_killp(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

#define _cleanup_free_     __attribute__((cleanup(st_freep)))
#define _cleanup_close_    __attribute__((cleanup(st_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(st_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(st_closedirp)))
#define _cleanup_strv_     __attribute__((cleanup(st_strvfreep)))
#define _cleanup_json_     __attribute__((cleanup(st_json_decrefp)))
#define _cleanup_pid_      __attribute__((cleanup(st_pid_killp)))

/* Hand ownership out of a cleanup-tracked variable. */
#define st_steal_ptr(pp)                                                                           \
    ({                                                                                             \
        __typeof__(*(pp)) st_tmp_ = *(pp);                                                         \
        *(pp) = NULL;                                                                              \
        st_tmp_;                                                                                   \
    })
#define st_steal_fd(pfd)                                                                           \
    ({                                                                                             \
        int st_tmpfd_ = *(pfd);                                                                    \
        *(pfd) = -1;                                                                               \
        st_tmpfd_;                                                                                 \
    })
#define st_steal_pid(ppid)                                                                         \
    ({                                                                                             \
        pid_t st_tmppid_ = *(ppid);                                                                \
        *(ppid) = -1;                                                                              \
        st_tmppid_;                                                                                \
    })

#endif
