/* server.c: what every part of the server shares at run time: the log
 * line format and the kick that wakes the controller loop and the
 * watchers after a write. */
#include "stratad.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void stratad_log(const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fprintf(stderr, "stratad %s.%03ld ", ts, now.tv_nsec / 1000000);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void stratad_kick(struct stratad *d)
{
    uint64_t one = 1;
    atomic_fetch_add(&d->generation, 1);
    if (write(d->kick_fd, &one, sizeof(one)) < 0) {
        /* The counter is only full when the loop is already due to wake. */
    }
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}
