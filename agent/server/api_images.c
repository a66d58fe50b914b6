/* api_images.c: /api/v1/images, the host's image store (images.c): list,
 * import from a path on the host, pull from a registry, and remove
 * (DELETE /api/v1/images/REF, REF's '/' splitting it over segments). */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <string.h>

/* The segments after "images" joined back with '/' ("" when none). */
static void ref_of_path(const struct st_server_call *c, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 3; i < c->q->nseg && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i > 3 ? "/" : "", c->q->seg[i]);
}

int st_server_api_images(struct st_server_call *c)
{
    st_error err = {0};
    _cleanup_json_ json_t *out = NULL;
    int r;
    if (c->d->images == NULL)
        return st_server_api_reply_status(c, 503, "stratad has no image store open");
    char ref[1024];
    ref_of_path(c, ref, sizeof(ref));
    if (ref[0]) {
        if (!st_server_api_method_is(c, "DELETE"))
            return st_server_api_reply_status(c, 405, "images/REF: use DELETE");
        if ((r = st_server_image_remove(c->d, ref, &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_success(c);
    }
    if (st_server_api_method_is(c, "GET")) {
        if ((r = st_server_image_list(c->d, &out, &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_json(c, 200, out);
    }
    if (st_server_api_method_is(c, "POST")) {
        _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
        if (body == NULL)
            return st_server_api_reply_status(c, 400, "%s", err.msg);
        const char *name = json_string_value(json_object_get(body, "name"));
        const char *source = json_string_value(json_object_get(body, "source"));
        if (json_is_true(json_object_get(body, "pull")))
            r = st_server_image_pull(c->d, name ? name : "", &out, &err);
        else
            r = st_server_image_import(c->d, name ? name : "", source, &out, &err);
        if (r < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_json(c, 201, out);
    }
    return st_server_api_reply_status(c, 405, "images: use GET or POST");
}
