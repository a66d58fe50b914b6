/* api_apply.c: POST /apply, kubectl apply's server side: the objects of
 * the body are read by the manifest reader exactly as a file is
 * (validated, defaulted), keep what the cluster owns, and are stored in one
 * batch; the answer says what each became. */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/manifest.h"
#include "strata/netalloc.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t alloc_lock = PTHREAD_MUTEX_INITIALIZER;

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

int st_server_api_apply(struct st_server_call *c)
{
    /* The body is JSON, and JSON is YAML: the manifest reader validates
     * and defaults it exactly as it does a file. */
    _cleanup_json_ json_t *objects = NULL;
    struct st_manifest_diag *diags = NULL;
    st_error err = {0};
    st_error jerr = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &jerr);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", jerr.msg);
    json_t *items = json_object_get(body, "items");
    if (!json_is_array(items))
        return st_server_api_reply_status(c, 400, "request body: give {\"items\": [objects...]}");
    /* One YAML document per item. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
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
    fclose(f);
    int r = st_manifest_parse_string("<request>", text, text_len, &objects, &diags, &err);
    free(text);
    st_manifest_diag_free(diags);
    if (r < 0)
        return st_server_api_reply_status(c, 422, "%s", err.msg);
    size_t n = json_array_size(objects);
    _cleanup_free_ st_store_op *ops = calloc(n ? n : 1, sizeof(*ops));
    if (ops == NULL)
        return -ENOMEM;
    _cleanup_json_ json_t *services = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(objects, i);
        keep_cluster_fields(c->d, o);
        ops[i] = (st_store_op){.op = ST_STORE_APPLY, .object = o};
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && strcmp(kind, "Service") == 0)
            json_array_append(services, o);
    }
    /* Services get their addresses before they are stored, one apply at a
     * time, so a taken address is refused here and never given twice. */
    bool alloc = json_array_size(services) > 0;
    if (alloc)
        pthread_mutex_lock(&alloc_lock);
    r = alloc ? st_control_service_allocate(c->d->store, services, &err) : 0;
    if (r == 0)
        r = st_store_apply_batch(c->d->store, ops, n, &err);
    if (alloc)
        pthread_mutex_unlock(&alloc_lock);
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
