/* api_objects.c: the object endpoints: get one, list (label and field
 * selectors; ?watch=1 hands over to api_watch.c), delete (propagation,
 * grace), merge patch, and a Deployment's scale. Handlers read and write
 * the store and kick the controller loop; they never reconcile. */
#include "api_priv.h"
#include "watch_ring.h"
#include "strata/api_present.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/label_selector.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int st_server_api_list_at(struct st_server *d, const st_store_query *q, json_t **items, char rv[32],
                          st_error *err)
{
    /* The list's resourceVersion is where a watch goes on from (kubectl get
     * -w lists, then watches from it). Events are listed oldest first, so
     * their version is read before: a watch may see one twice, never miss. */
    bool events = strcmp(q->kind, "Event") == 0;
    unsigned long long at = events ? st_server_watch_head(d) : 0;
    int r = events ? st_store_list_events(d->store, q, items, err)
                   : st_store_list_at(d->store, q, items, &at, err);
    if (r < 0)
        return r;
    snprintf(rv, 32, "%llu", st_server_watch_list_rv(d, at));
    size_t i;
    json_t *o;
    json_array_foreach(*items, i, o)
    {
        st_api_present(q->kind, &o);
        json_array_set_new(*items, i, o);
    }
    return 0;
}

int st_server_api_list(struct st_server *d, const st_store_query *q, json_t **items, st_error *err)
{
    char rv[32];
    return st_server_api_list_at(d, q, items, rv, err);
}

/* ?labelSelector= checked before any work: a mistake is a 400 that says
 * how to write one, as the apiserver answers. */
static bool label_selector_ok(const struct st_server_call *c, st_error *err)
{
    st_label_selector *ls = NULL;
    if (st_label_selector_parse(st_server_api_arg(c, "labelSelector"), &ls, err) < 0)
        return false;
    st_label_selector_free(ls);
    return true;
}

int st_server_api_get(struct st_server_call *c, const char *kind, const char *ns, const char *name)
{
    st_error err = {0};
    int r;
    if (name) {
        _cleanup_json_ json_t *obj = NULL;
        if ((r = st_store_get(c->d->store, kind, ns, name, &obj, &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
        st_api_present(kind, &obj);
        return st_server_api_reply_json(c, 200, obj);
    }
    if (!label_selector_ok(c, &err))
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    const char *selector = st_server_api_arg(c, "labelSelector");
    if (st_server_api_arg_true(c, "watch"))
        return st_server_api_watch(c, kind, ns);
    st_store_query sq = {.kind = kind,
                         .namespace = ns,
                         .label_selector = selector,
                         .field_selector = st_server_api_arg(c, "fieldSelector")};
    _cleanup_json_ json_t *items = NULL;
    char rv[32];
    if ((r = st_server_api_list_at(c->d, &sq, &items, rv, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    _cleanup_json_ json_t *list = st_api_present_list(kind, items, rv);
    return st_server_api_reply_json(c, 200, list);
}

static int delete_object(struct st_server_call *c, const char *kind, const char *ns,
                         const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = c->q->body_len ? st_server_api_parse_body(c, &err) : NULL;
    st_propagation policy;
    int grace = -1;
    int r = c->q->body_len && body == NULL
                ? -EINVAL
                : st_delete_options_parse(st_server_api_arg(c, "propagationPolicy"),
                                          st_server_api_arg(c, "gracePeriodSeconds"), body, &policy,
                                          &grace, &err);
    if (r < 0)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    _cleanup_json_ json_t *left = NULL;
    if ((r = st_control_delete(c->d->store, kind, ns, name, policy, grace, &left, &err)) < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_event_record(c->d->store, kind, ns, name, "Normal", "Deleted", "stratactl",
                    "%s %s deleted by request", kind, name);
    st_server_kick(c->d);
    if (left) {
        /* Still there (Terminating, or waiting for its dependents): the
         * object is the answer, as from the Kubernetes API. */
        st_api_present(kind, &left);
        return st_server_api_reply_json(c, 200, left);
    }
    _cleanup_json_ json_t *st =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "kind", "Status", "apiVersion", "v1", "status",
                  "Success", "details", "name", name, "kind", kind);
    return st_server_api_reply_json(c, 200, st);
}

/* PATCH: a JSON merge patch (kubectl's strategic merge patches of maps,
 * such as `rollout restart`, read the same), validated as apply validates. */
static int patch_object(struct st_server_call *c, const char *kind, const char *ns,
                        const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    _cleanup_json_ json_t *out = NULL;
    int r = st_object_patch(c->d->store, kind, ns, name, body, &out, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_event_record(c->d->store, kind, ns, name, "Normal", "Configured", "stratactl",
                    "%s %s patched", kind, name);
    st_server_kick(c->d);
    st_api_present(kind, &out);
    return st_server_api_reply_json(c, 200, out);
}

int st_server_api_objects(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name)
{
    if (st_server_api_method_is(c, "DELETE"))
        return delete_object(c, kind, ns, name);
    return patch_object(c, kind, ns, name);
}

struct scale_arg {
    json_t *replicas;
    json_int_t old;
};

static int scale_fn(json_t *dep, void *arg, st_error *err)
{
    (void)err;
    struct scale_arg *a = arg;
    json_t *spec = json_object_get(dep, "spec");
    a->old = json_integer_value(json_object_get(spec, "replicas"));
    json_object_set(spec, "replicas", a->replicas);
    if (a->old != json_integer_value(a->replicas)) {
        /* A change of spec: Kubernetes counts it in metadata.generation. */
        json_t *md = json_object_get(dep, "metadata");
        json_object_set_new(
            md, "generation",
            json_integer(json_integer_value(json_object_get(md, "generation")) + 1));
    }
    return ST_STORE_WRITE;
}

int st_server_api_scale(struct st_server_call *c, const char *ns, const char *name)
{
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    if (body == NULL)
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    json_t *rep = json_object_get(json_object_get(body, "spec"), "replicas");
    if (!json_is_integer(rep) || json_integer_value(rep) < 0 || json_integer_value(rep) > 10000)
        return st_server_api_reply_status(c, 422,
                                          "spec.replicas: give a whole number from 0 to 10000");
    struct scale_arg a = {.replicas = rep};
    _cleanup_json_ json_t *reply = NULL;
    int r = st_store_mutate(c->d->store, "Deployment", ns, name, scale_fn, &a, &reply, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    st_event_record(c->d->store, "Deployment", ns, name, "Normal", "ScalingReplicaSet", "stratactl",
                    "Scaled from %lld to %lld replicas", (long long)a.old,
                    (long long)json_integer_value(rep));
    st_server_kick(c->d);
    st_api_present("Deployment", &reply);
    return st_server_api_reply_json(c, 200, reply);
}
