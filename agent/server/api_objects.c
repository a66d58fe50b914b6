/* api_objects.c: the object endpoints: get one, list (label and field
 * selectors; ?watch=1 hands over to api_watch.c), delete (propagation,
 * grace); PATCH and the subresources are api_patch.c's. A GET answers a
 * Table (api_table.c) when the client asks for one. Handlers read and
 * write the store and kick the controller loop; they never reconcile. */
#include "api_priv.h"
#include "watch_ring.h"
#include "strata/api_present.h"
#include "strata/api_table.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/label_selector.h"
#include "strata/object_patch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ?fieldSelector= names only the fields the apiserver lets a client select
 * by, per kind (a typo is a 400, never an empty list). */
static bool field_selector_ok(const char *kind, const char *sel, st_error *err)
{
    static const struct {
        const char *kind;
        const char *const fields[12];
    } extra[] = {
        {"Pod",
         {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
          "status.phase", "status.podIP", "status.nominatedNodeName"}},
        {"Event",
         {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
          "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
          "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}},
        {"Secret", {"type"}},
        {"Node", {"spec.unschedulable"}},
        {"Namespace", {"status.phase"}},
    };
    if (sel == NULL || *sel == 0)
        return true;
    _cleanup_free_ char *copy = strdup(sel);
    if (copy == NULL)
        return st_error_set(err, ENOMEM, "out of memory"), false;
    char *save = NULL;
    for (char *term = strtok_r(copy, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
        size_t n = strcspn(term, "!=");
        if (n == 0 || term[n] == 0) {
            st_error_set(err, EINVAL,
                         "invalid field selector \"%s\": give FIELD=VALUE or FIELD!=VALUE, "
                         "joined by commas",
                         term);
            return false;
        }
        term[n] = 0;
        bool known = strcmp(term, "metadata.name") == 0 || strcmp(term, "metadata.namespace") == 0;
        for (size_t k = 0; !known && k < sizeof(extra) / sizeof(extra[0]); k++)
            for (size_t f = 0; !known && strcmp(extra[k].kind, kind) == 0 && extra[k].fields[f];
                 f++)
                known = strcmp(extra[k].fields[f], term) == 0;
        if (!known) {
            st_error_set(err, EINVAL, "field label not supported: %s", term);
            return false;
        }
    }
    return true;
}

/* The answer to a GET: obj (one object, or a list when items is set) as it
 * is, or as a Table when the client asked for one (kubectl get does). */
bool st_server_api_table_request(const struct st_server_call *c, bool *table,
                                 enum st_api_table_object *include, st_error *err)
{
    *table = st_server_api_wants_table(c->q->accept);
    *include = ST_API_TABLE_METADATA;
    const char *io = st_server_api_arg(c, "includeObject");
    if (*table && st_api_table_object_parse(io, include) < 0) {
        st_error_set(err, EINVAL, "includeObject=%s: give None, Metadata or Object", io);
        return false;
    }
    return true;
}

static int reply_got(struct st_server_call *c, const char *kind, json_t *obj, json_t *items)
{
    bool want;
    enum st_api_table_object include;
    st_error err = {0};
    if (!st_server_api_table_request(c, &want, &include, &err))
        return st_server_api_reply_status(c, 400, "%s", err.msg);
    if (!want)
        return st_server_api_reply_json(c, 200, obj);
    _cleanup_json_ json_t *one = items ? NULL : json_pack("[O]", obj);
    _cleanup_json_ json_t *table = st_api_table(
        kind, items ? items : one,
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")),
        include, time(NULL));
    if (table == NULL)
        return -ENOMEM;
    return st_server_api_reply_json(c, 200, table);
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
        return reply_got(c, kind, obj, NULL);
    }
    if (!label_selector_ok(c, &err) ||
        !field_selector_ok(kind, st_server_api_arg(c, "fieldSelector"), &err))
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
    return reply_got(c, kind, list, items);
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
    if (c->dry_run) {
        /* the object that would be deleted is the answer; it stays */
        if ((r = st_store_get(c->d->store, kind, ns, name, &left, &err)) < 0)
            return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
        st_api_present(kind, &left);
        return st_server_api_reply_json(c, 200, left);
    }
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

int st_server_api_objects(struct st_server_call *c, const char *kind, const char *ns,
                          const char *name)
{
    if (st_server_api_method_is(c, "DELETE"))
        return delete_object(c, kind, ns, name);
    return st_server_api_patch(c, kind, ns, name);
}
