/* gc.c: collecting what no image references any more. Blobs and layer
 * dirs are shared between images, so removing a tag removes only what no
 * remaining tag reaches (manifest, config, layers): a mark and sweep over
 * index.json, run under the store's lock while no import or pull is under
 * way (their content is referenced by nothing until they commit). */
#include "store_priv.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/cleanup.h"
#include "strata/fs.h"

/* The hex digits of every blob reachable from the index: a JSON object
 * used as a set. */
static int mark(st_image_store *s, json_t *live)
{
    _cleanup_json_ json_t *idx = NULL;
    if (st_image_store_index_load(s, &idx, NULL) < 0)
        return -EIO;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(idx, "manifests"), i, d)
    {
        const char *dg = json_string_value(json_object_get(d, "digest"));
        char mdigest[ST_IMAGE_DIGEST_LEN];
        struct st_image_manifest m;
        if (!st_image_digest_ok(dg))
            return -EIO;
        int r = st_image_store_manifest(s, dg, &m, mdigest, NULL);
        if (r == 0) {
            json_object_set_new(live, ST_IMAGE_DIGEST_HEX(dg), json_true());
            json_object_set_new(live, ST_IMAGE_DIGEST_HEX(mdigest), json_true());
            json_object_set_new(live, ST_IMAGE_DIGEST_HEX(m.config), json_true());
            for (size_t k = 0; k < m.nlayers; k++)
                json_object_set_new(live, ST_IMAGE_DIGEST_HEX(m.layers[k].digest), json_true());
        }
        st_image_manifest_free(&m);
        if (r < 0)
            return -EIO;
    }
    return 0;
}

static void sweep(st_image_store *s, const char *sub, json_t *live)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", st_image_store_dir(s), sub);
    _cleanup_closedir_ DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || json_object_get(live, de->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s/%s", st_image_store_dir(s), sub, de->d_name);
        st_fs_rmtree(path, NULL);
    }
}

int st_image_store_gc_locked(st_image_store *s)
{
    _cleanup_json_ json_t *live = json_object();
    if (live == NULL || mark(s, live) < 0)
        return -EIO;
    sweep(s, "blobs/sha256", live);
    sweep(s, "layers", live);
    return 0;
}
