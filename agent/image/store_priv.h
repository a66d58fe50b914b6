/* store_priv.h: what store.c shares with the files that read the store's
 * folder directly (gc.c, rootfs.c). Private to agent/image/. */
#ifndef STRATA_IMAGE_STORE_PRIV_H
#define STRATA_IMAGE_STORE_PRIV_H

#include "image_priv.h"

/* index.json, a new reference; the caller holds the store's lock. */
int st_image_store_index_load(st_image_store *s, json_t **out, st_error *err);

/* The image manifest digest names, read and parsed; an index is followed
 * to its linux/amd64 manifest, whose digest goes to mdigest (may be NULL).
 * m is freed by the caller (also on error). */
int st_image_store_manifest(st_image_store *s, const char *digest, struct st_image_manifest *m,
                            char mdigest[ST_IMAGE_DIGEST_LEN], st_error *err);

/* layers/<hex> of a layer blob's digest, absolute. */
void st_image_store_layer_dir(st_image_store *s, const char *digest, char *out, size_t len);

/* Removes blobs and layer dirs no tagged image references. The caller
 * holds the store's lock and knows no import or pull is under way. -EIO
 * (and nothing removed) when an image's manifest cannot be read: keeping
 * too much is better than removing what an image needs. */
int st_image_store_gc_locked(st_image_store *s);

/* Asks for a collection once no import or pull is under way (an import
 * that brought in blobs its image does not use: the rest of an archive). */
void st_image_store_gc_later(st_image_store *s);

#endif
