/* input.c: `-f FILE|-`: manifests read with the agent's own reader, so
 * stratactl refuses exactly what stratad would, before sending anything,
 * and points at FILE:LINE:COL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/manifest.h"

#define MAX_STDIN_BYTES (64L << 20)

static int read_stdin(char **text, size_t *len, st_error *err)
{
    char *buf = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            if (cap >= (size_t)MAX_STDIN_BYTES) {
                free(buf);
                return st_error_set(err, EFBIG, "the manifest on stdin is larger than %ld MiB",
                                    MAX_STDIN_BYTES >> 20);
            }
            cap = cap ? cap * 2 : 16384;
            char *n = realloc(buf, cap);
            if (n == NULL) {
                free(buf);
                return st_error_set(err, ENOMEM, "cannot read stdin: out of memory");
            }
            buf = n;
        }
        size_t got = fread(buf + used, 1, cap - used, stdin);
        used += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                return st_error_sys(err, errno ? errno : EIO, "cannot read stdin");
            }
            break;
        }
    }
    *text = buf;
    *len = used;
    return 0;
}

int stctl_read_manifest(const char *path, json_t **objects, st_error *err)
{
    *objects = NULL;
    struct st_manifest_diag *diags = NULL;
    st_error perr = {0};
    int r;
    if (strcmp(path, "-") == 0) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if ((r = read_stdin(&text, &len, err)) < 0)
            return r;
        r = st_manifest_parse_string("<stdin>", text ? text : "", len, objects, &diags, &perr);
    } else {
        r = st_manifest_parse_file(path, objects, &diags, &perr);
    }
    bool shown = false;
    for (const struct st_manifest_diag *d = diags; d; d = d->next) {
        fprintf(stderr, "%s\n", d->text);
        shown |= d->is_error;
    }
    st_manifest_diag_free(diags);
    if (r < 0) {
        if (shown) /* the FILE:LINE:COL lines said it all */
            return st_error_set(err, -r, "%s", "");
        return st_error_set(err, -r, "%s", perr.msg);
    }
    if (json_array_size(*objects) == 0) {
        json_decref(*objects);
        *objects = NULL;
        return st_error_set(err, ENODATA, "%s holds no objects",
                            strcmp(path, "-") ? path : "stdin");
    }
    return 0;
}
