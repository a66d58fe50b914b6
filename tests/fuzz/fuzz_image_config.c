/* fuzz_image_config.c: an image's config as Kubernetes applies it to a
 * container (agent/image/process.c): Entrypoint/Cmd against command/args,
 * Env under the pod's env, WorkingDir, and User resolved in the image's
 * own /etc/passwd and /etc/group. Those files and the config come from
 * images anyone may publish. The input is four parts split at NUL bytes:
 * the config document (JSON, read as the store reads it), the container
 * JSON, /etc/passwd, /etc/group (a part left out is absent, as in an image
 * without that file). */
#include "fuzz.h"

#include "strata/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *part[4];
    size_t len[4];
    char *buf = st_fuzz_split(data, size, part, 4, len);
    /* The store hands on the document's "config" object, {} when none. */
    json_t *doc = part[0] ? json_loadb(part[0], len[0], 0, NULL) : NULL;
    json_t *config = json_object_get(doc, "config");
    config = json_is_object(config) ? json_incref(config) : json_object();
    json_t *container = part[1] ? json_loadb(part[1], len[1], 0, NULL) : NULL;
    if (container == NULL)
        container = json_pack("{s:s, s:s}", "name", "c", "image", "fuzz");
    json_t *process = NULL;
    st_image_process(container, config, part[2], part[3], &process, NULL);
    json_decref(process);
    json_decref(container);
    json_decref(config);
    json_decref(doc);
    free(buf);
    return 0;
}
