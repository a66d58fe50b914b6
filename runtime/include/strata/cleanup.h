/* cleanup.h: scope-bound release of owned locals (GCC/Clang cleanup
 * attribute), so an early return never leaks. Each helper takes a pointer to
 * the variable and tolerates the "nothing owned" value (NULL, -1). */
#ifndef STRATA_CLEANUP_H
#define STRATA_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

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

#define _cleanup_free_     __attribute__((cleanup(st_freep)))
#define _cleanup_close_    __attribute__((cleanup(st_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(st_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(st_closedirp)))
#define _cleanup_strv_     __attribute__((cleanup(st_strvfreep)))

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

#endif
