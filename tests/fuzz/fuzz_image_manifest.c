/* fuzz_image_manifest.c: the documents a registry or an image archive
 * hands the image store (agent/image/manifest.c): image manifests and
 * indexes, OCI and Docker v2 schema 2, with the media type a registry
 * would send in Content-Type (chosen by the input's length, so a saved
 * input replays the same), and, on a short input, image references as
 * a pod's `image:` gives them (agent/image/ref.c). Property: a reference
 * read, formatted as the store names it and read again, is the same. */
#include "fuzz.h"

#include "image_priv.h"

static const char *const media_types[] = {
    NULL, ST_MT_OCI_MANIFEST, ST_MT_OCI_INDEX, ST_MT_DOCKER_MANIFEST, ST_MT_DOCKER_LIST, "",
};

static void reference(const char *text)
{
    struct st_image_ref ref, again;
    if (st_image_ref_parse(text, &ref, NULL) < 0)
        return;
    char name[1024];
    st_image_ref_format(&ref, name, sizeof(name));
    if (st_image_ref_parse(name, &again, NULL) < 0 || strcmp(ref.host, again.host) != 0 ||
        strcmp(ref.path, again.path) != 0 || strcmp(ref.tag, again.tag) != 0 ||
        strcmp(ref.digest, again.digest) != 0) {
        fprintf(stderr, "reference \"%s\" was formatted as \"%s\"\n", text, name);
        st_fuzz_fail("reference parse -> format -> parse changed it", NULL, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *mt = media_types[size % (sizeof(media_types) / sizeof(media_types[0]))];
    struct st_image_manifest m;
    char child[ST_IMAGE_DIGEST_LEN];
    if (st_image_manifest_parse((const char *)data, size, mt, &m, child, NULL) == 0)
        st_image_manifest_free(&m);
    if (size < 1024) {
        char *text = st_fuzz_text(data, size);
        reference(text);
        free(text);
    }
    return 0;
}
