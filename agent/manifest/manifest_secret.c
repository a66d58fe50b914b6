/* manifest_secret.c: the rules of a v1 Secret in the manifest reader: keys
 * (letters, digits, '-', '_', '.'), strict base64 under data, stringData
 * merged into data as the API server does, and Kubernetes' 1 MiB limit on
 * what one Secret holds. Kept apart from the schema tables they plug into. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/b64.h"
#include "strata/cleanup.h"

static bool st_secret_key_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

void st_check_secret_key(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *s = json_string_value(value);
    if (!st_secret_key_ok(s))
        st_mctx_error(c, node,
                      "%s: \"%s\" is not a valid secret key: use letters, digits, '-', '_' and "
                      "'.'",
                      st_mctx_path(c), s);
}

/* The keys of data or stringData; with base64, the values of data too. */
static void st_check_secret_map(struct st_mctx *c, yaml_node_t *node, json_t *map, bool base64)
{
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v)
    {
        if (!st_secret_key_ok(key))
            st_mctx_error(c, st_mctx_key(c, node, key),
                          "%s: \"%s\" is not a valid secret key: use letters, digits, '-', '_' "
                          "and '.'",
                          st_mctx_path(c), key);
        else if (base64 && !st_b64_valid(json_string_value(v)))
            st_mctx_error(c, st_mctx_child(c, node, key),
                          "%s.%s: the value is not valid base64; put plain text under "
                          "stringData instead",
                          st_mctx_path(c), key);
    }
}

void st_check_secret_data(struct st_mctx *c, yaml_node_t *node, json_t *map)
{
    st_check_secret_map(c, node, map, true);
}

void st_check_secret_string_data(struct st_mctx *c, yaml_node_t *node, json_t *map)
{
    st_check_secret_map(c, node, map, false);
}

/* Kubernetes refuses a Secret whose values (decoded data, stringData
 * winning over data for the same key) exceed 1 MiB: a Secret is read whole
 * by everything that lists Secrets. */
static void st_check_secret_size(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    json_t *data = json_object_get(obj, "data");
    json_t *sd = json_object_get(obj, "stringData");
    size_t from_data = 0, from_sd = 0;
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        if (!json_object_get(sd, key))
            from_data += st_b64_decoded_len(json_string_value(v));
    }
    json_object_foreach(sd, key, v) from_sd += strlen(json_string_value(v));
    size_t total = from_data + from_sd;
    if (total <= ST_SECRET_MAX_BYTES)
        return;
    const char *field = from_data >= from_sd ? "data" : "stringData";
    st_mctx_error(c, st_mctx_key(c, node, field),
                  "%s: the Secret holds %zu bytes; a Secret may hold at most %d bytes (1 MiB), "
                  "as in Kubernetes: keep large files out of Secrets (put them in the image)",
                  field, total, ST_SECRET_MAX_BYTES);
}

/* stringData is write-only in Kubernetes: merged into data (winning), then gone. */
void st_check_secret(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    st_check_secret_size(c, node, obj);
    json_t *data = json_object_get(obj, "data");
    if (data == NULL) {
        data = json_object();
        json_object_set_new(obj, "data", data);
    }
    json_t *sd = json_object_get(obj, "stringData");
    const char *key;
    json_t *v;
    json_object_foreach(sd, key, v)
    {
        _cleanup_free_ char *enc = NULL;
        if (st_b64_encode(json_string_value(v), json_string_length(v), &enc, NULL) < 0) {
            st_mctx_error(c, node, "stringData.%s: out of memory", key);
            return;
        }
        json_object_set_new(data, key, json_string(enc));
    }
    json_object_del(obj, "stringData");
}
