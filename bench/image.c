/* image.c: the Strata side of bench/image, timed inside one process so the
 * figure is the image store's own work (no stratad, no CLI start-up):
 *   bench_image pull REF STORE      st_image_pull of REF (a registry
 *                                   reference) into the store in STORE
 *   bench_image import LAYOUT STORE st_image_import of the OCI layout
 *                                   LAYOUT (tag "latest") into STORE
 * STORE should be a fresh directory for a cold figure. Prints one line of
 * key=value pairs (ms, bytes, layers) that bench/image reads; errors go to
 * stderr with the store's message and exit 1. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strata/image.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int pull(st_image_store *s, const char *ref, st_error *err)
{
    struct st_image_pull_report rep = {0};
    double t0 = now_ms();
    int rc = st_image_pull(s, ref, NULL, &rep, err);
    double ms = now_ms() - t0;
    if (rc < 0)
        return rc;
    struct st_image_info info = {0};
    if ((rc = st_image_lookup(s, ref, &info, err)) < 0)
        return rc;
    /* present would mean the store was not cold: the figure would be a lie */
    if (rep.present)
        return st_error_set(err, EEXIST, "%s was already in %s: give a fresh store", ref,
                            st_image_store_dir(s));
    printf("pull_ms=%.1f bytes=%lld size=%lld layers=%d\n", ms, (long long)rep.bytes,
           (long long)rep.size, info.layers);
    return 0;
}

static int import(st_image_store *s, const char *layout, st_error *err)
{
    struct st_image_info info = {0};
    double t0 = now_ms();
    int rc = st_image_import(s, "bench:latest", layout, &info, err);
    double ms = now_ms() - t0;
    if (rc < 0)
        return rc;
    printf("import_ms=%.1f size=%lld layers=%d\n", ms, (long long)info.size, info.layers);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "pull") != 0 && strcmp(argv[1], "import") != 0)) {
        fprintf(stderr, "usage: bench_image pull REF STORE | bench_image import LAYOUT STORE\n");
        return 2;
    }
    st_error err = {0};
    st_image_store *s = NULL;
    int rc = st_image_store_open(argv[3], &s, &err);
    if (rc == 0) {
        rc = strcmp(argv[1], "pull") == 0 ? pull(s, argv[2], &err) : import(s, argv[2], &err);
        st_image_store_close(s);
    }
    if (rc < 0) {
        fprintf(stderr, "bench_image: %s\n", err.msg);
        return 1;
    }
    return 0;
}
