/* archive_cleanup.h: cleanup attributes for libarchive handles (see
 * strata/cleanup.h: a library's own handles get theirs beside it). Private
 * to agent/image/. */
#ifndef STRATA_IMAGE_ARCHIVE_CLEANUP_H
#define STRATA_IMAGE_ARCHIVE_CLEANUP_H

#include <archive.h>

static inline void st_archive_readp(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}
static inline void st_archive_writep(struct archive **a)
{
    if (*a)
        archive_write_free(*a);
}
#define _cleanup_aread_  __attribute__((cleanup(st_archive_readp)))
#define _cleanup_awrite_ __attribute__((cleanup(st_archive_writep)))

#endif
