/* api_apply.c: POST /apply, kubectl apply's server side: the objects of
 * the body ({"items": [...]}, or with Content-Type application/yaml the
 * manifest's text itself, as the dashboard sends what was pasted) are read
 * by the manifest reader exactly as a file is (validated, defaulted), keep
 * what the cluster owns, and are stored in one batch; the answer says what
 * each became. */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/manifest.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* apply keeps what the cluster owns: status, a pod's node, owners,
 * deletion, and counts metadata.generation. */
static void keep_cluster_fields(struct st_server *d, json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    _cleanup_json_ json_t *cur = NULL;
    if (kind && name)
        st_store_get(d->store, kind, ns, name, &cur, NULL);
    st_object_keep_server_fields(cur, obj);
}

static const char *action_name(st_store_action a)
{
    switch (a) {
    case ST_STORE_CREATED:
        return "created";
    case ST_STORE_CONFIGURED:
        return "configured";
    case ST_STORE_UNCHANGED:
        return "unchanged";
    default:
        return "none";
    }
}

static bool is_yaml(const char *type)
{
    static const char *const types[] = {"application/yaml", "application/x-yaml", "text/yaml"};
    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
        if (strncmp(type, types[i], strlen(types[i])) == 0)
            return true;
    return false;
}

/* A JSON body's items as YAML documents, one an item: -EINVAL (err says
 * why: a 400) or -ENOMEM. */
static int items_text(struct st_server_call *c, char **text, size_t *len, st_error *err)
{
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, err);
    if (body == NULL)
        return -EINVAL;
    json_t *items = json_object_get(body, "items");
    if (!json_is_array(items))
        return st_error_set(err, EINVAL, "request body: give {\"items\": [objects...]}");
    FILE *f = open_memstream(text, len);
    if (f == NULL)
        return -ENOMEM;
    size_t idx;
    json_t *item;
    json_array_foreach(items, idx, item)
    {
        fputs("---\n", f);
        json_dumpf(item, f, JSON_COMPACT);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -ENOMEM;
}

int st_server_api_apply(struct st_server_call *c)
{
    /* The body is JSON, and JSON is YAML: the manifest reader validates
     * and defaults it exactly as it does a file. */
    _cleanup_json_ json_t *objects = NULL;
    st_error err = {0};
    st_error jerr = {0};
    /* stratactl's reading: unknown fields are errors unless asked. */
    enum st_manifest_fields mode;
    if (!st_server_api_field_mode(c, ST_MANIFEST_FIELDS_STRICT, &mode))
        return st_server_api_reply_status(c, 400, ST_SERVER_API_FIELD_MODES);
    int r;
    if (is_yaml(c->q->content_type)) {
        r = st_server_api_read_objects(c, c->q->body ? c->q->body : "", c->q->body_len, mode, NULL,
                                       NULL, &objects);
    } else {
        _cleanup_free_ char *text = NULL;
        size_t text_len = 0;
        if ((r = items_text(c, &text, &text_len, &jerr)) == -EINVAL)
            return st_server_api_reply_status(c, 400, "%s", jerr.msg);
        if (r == 0)
            r = st_server_api_read_objects(c, text, text_len, mode, NULL, NULL, &objects);
    }
    if (r < 0 || objects == NULL)
        return r;
    size_t n = json_array_size(objects);
    _cleanup_free_ st_store_op *ops = calloc(n ? n : 1, sizeof(*ops));
    if (ops == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(objects, i);
        keep_cluster_fields(c->d, o);
        ops[i] = (st_store_op){.op = ST_STORE_APPLY, .object = o};
    }
    r = st_server_api_store_ops(c->d, ops, n, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    _cleanup_json_ json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *md = json_object_get(ops[i].object, "metadata");
        const char *kind = json_string_value(json_object_get(ops[i].object, "kind"));
        const char *name = json_string_value(json_object_get(md, "name"));
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name", name,
                                             "namespace", ns ? ns : "default", "action",
                                             action_name(ops[i].action)));
        if (ops[i].action != ST_STORE_UNCHANGED)
            st_event_record(c->d->store, kind, ns, name, "Normal",
                            ops[i].action == ST_STORE_CREATED ? "Created" : "Configured",
                            "stratactl", "%s %s %s by apply", kind, name,
                            action_name(ops[i].action));
    }
    st_store_ops_release(ops, n);
    st_server_kick(c->d);
    _cleanup_json_ json_t *reply = json_pack("{s:O}", "items", out);
    return st_server_api_reply_json(c, 200, reply);
}
