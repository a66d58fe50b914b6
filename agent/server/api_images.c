/* api_images.c: /api/v1/images: the host's image store (images.c): list,
 * and import from a folder or a tarball on the host. */
#include "api_priv.h"
#include "strata/cleanup.h"

int st_server_api_images(struct st_server_call *c)
{
    st_error err = {0};
    _cleanup_json_ json_t *out = NULL;
    int r;
    if (st_server_api_method_is(c, "GET")) {
        if (st_server_image_list(c->d, &out, &err) < 0)
            return st_server_api_reply_status(c, 500, "%s", err.msg);
        return st_server_api_reply_json(c, 200, out);
    }
    if (st_server_api_method_is(c, "POST")) {
        _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
        if (body == NULL)
            return st_server_api_reply_status(c, 400, "%s", err.msg);
        if ((r = st_server_image_import(c->d, json_string_value(json_object_get(body, "name")),
                                        json_string_value(json_object_get(body, "source")), &out,
                                        &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_COMMANDS);
        return st_server_api_reply_json(c, 201, out);
    }
    return st_server_api_reply_status(c, 405, "images: use GET or POST");
}
