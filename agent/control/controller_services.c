/* controller_services.c: netalloc.h's pickers over the store: a Service's
 * addresses checked at write time (the API's call) and, as a pass with the
 * other controllers, filled in for every Service that lacks them. A Node's
 * pod CIDR for the node manager. The store serializes each call; the pass
 * runs on stratad's one loop thread, so two of its picks never race. */
#include "strata/controller.h"
#include "strata/netalloc.h"

#include <errno.h>
#include <string.h>

#include "strata/cleanup.h"

#define COMPONENT "service-controller"

int st_control_node_pod_cidr(st_store *s, char out[ST_NET_CIDR_LEN], st_error *err)
{
    st_store_query q = {.kind = "Node"};
    _cleanup_json_ json_t *nodes = NULL;
    int r = st_store_list(s, &q, &nodes, err);
    return r < 0 ? r : st_netalloc_pod_cidr(nodes, out, err);
}

static int cidr_set_fn(json_t *obj, void *arg, st_error *err)
{
    (void)err;
    json_t *spec = json_object_get(obj, "spec");
    json_object_set_new(spec, "podCIDR", json_string(arg));
    json_object_set_new(spec, "podCIDRs", json_pack("[s]", (const char *)arg));
    return ST_STORE_WRITE;
}

int st_control_node_pod_cidr_settle(st_store *s, const char *node, char out[ST_NET_CIDR_LEN],
                                    st_error *err)
{
    for (int round = 0; round < 8; round++) {
        st_store_query q = {.kind = "Node"};
        _cleanup_json_ json_t *nodes = NULL;
        int r = st_store_list(s, &q, &nodes, err);
        if (r < 0)
            return r;
        const char *mine = NULL;
        size_t i;
        json_t *n;
        json_array_foreach(nodes, i, n)
        {
            const char *name =
                json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
            if (name && strcmp(name, node) == 0)
                mine = json_string_value(json_object_get(json_object_get(n, "spec"), "podCIDR"));
        }
        if (mine == NULL)
            return st_error_set(err, ENOENT, "node %s: gone while its pod CIDR was checked", node);
        bool taken = false;
        json_array_foreach(nodes, i, n)
        {
            const char *name =
                json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
            const char *cidr =
                json_string_value(json_object_get(json_object_get(n, "spec"), "podCIDR"));
            /* the one whose name sorts first keeps it */
            if (name && cidr && strcmp(cidr, mine) == 0 && strcmp(name, node) < 0)
                taken = true;
        }
        if (!taken) {
            snprintf(out, ST_NET_CIDR_LEN, "%s", mine);
            return 0;
        }
        char next[ST_NET_CIDR_LEN];
        if ((r = st_netalloc_pod_cidr(nodes, next, err)) < 0)
            return r;
        if ((r = st_store_mutate(s, "Node", "", node, cidr_set_fn, next, NULL, err)) < 0)
            return r;
    }
    return st_error_set(err, EAGAIN,
                        "node %s: its pod CIDR kept meeting another node's; add it again", node);
}

static int list_services(st_store *s, json_t **out, st_error *err)
{
    st_store_query q = {.kind = "Service"};
    return st_store_list(s, &q, out, err);
}

int st_control_service_allocate(st_store *s, json_t *batch, st_error *err)
{
    _cleanup_json_ json_t *others = NULL;
    int r = list_services(s, &others, err);
    if (r < 0)
        return r;
    /* each against the stored ones and those before it in the batch */
    size_t i;
    json_t *svc;
    json_array_foreach(batch, i, svc)
    {
        if ((r = st_netalloc_service(svc, others, err)) < 0)
            return r;
        json_array_append(others, svc);
    }
    return 0;
}

struct alloc_arg {
    json_t *others;
    st_error failure; /* why the allocation failed: an event, not the pass's error */
    bool new_failure; /* not the one the Service already shows */
};

/* A failure shows as condition Allocated=False on the Service (kept until
 * an allocation succeeds), so the pass records its event once, not at
 * every pass. */
static int alloc_fn(json_t *svc, void *arg, st_error *err)
{
    (void)err;
    struct alloc_arg *a = arg;
    a->failure = (st_error){0};
    a->new_failure = false;
    _cleanup_json_ json_t *before = json_deep_copy(svc);
    json_t *cond = st_condition_find(svc, "Allocated");
    if (st_netalloc_service(svc, a->others, &a->failure) < 0) {
        json_object_clear(svc);
        json_object_update(svc, before);
        if (!st_condition_set(svc, "Allocated", "False", "AllocationFailed", a->failure.msg))
            return ST_STORE_KEEP;
        a->new_failure = true;
        return ST_STORE_WRITE;
    }
    json_t *conds = json_object_get(json_object_get(svc, "status"), "conditions");
    for (size_t i = 0; cond && i < json_array_size(conds); i++) {
        if (json_array_get(conds, i) == cond) {
            json_array_remove(conds, i);
            break;
        }
    }
    return json_equal(before, svc) ? ST_STORE_KEEP : ST_STORE_WRITE;
}

int st_control_services(st_store *s, int *changed, st_error *err)
{
    if (changed)
        *changed = 0;
    _cleanup_json_ json_t *svcs = NULL;
    int r = list_services(s, &svcs, err);
    if (r < 0)
        return r;
    size_t i;
    json_t *svc;
    json_array_foreach(svcs, i, svc)
    {
        /* Decide on a copy first: most passes change nothing. */
        _cleanup_json_ json_t *probe = json_deep_copy(svc);
        st_error e = {0};
        if (st_netalloc_service(probe, svcs, &e) == 0 && !st_condition_find(svc, "Allocated"))
            continue;
        json_t *md = json_object_get(svc, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        struct alloc_arg a = {.others = svcs};
        json_t *out = NULL;
        r = st_store_mutate(s, "Service", ns, name, alloc_fn, &a, &out, err);
        if (r == -ENOENT) {
            st_error_clear(err);
            continue;
        }
        if (r < 0)
            return r;
        if (a.new_failure) {
            st_event_record(s, "Service", ns, name, "Warning", "AllocationFailed", COMPONENT, "%s",
                            a.failure.msg);
        } else if (r == ST_STORE_WRITE && !a.failure.code) {
            /* What later Services are checked against. */
            json_array_set_new(svcs, i, out);
            out = NULL;
            if (changed)
                (*changed)++;
        }
        json_decref(out);
    }
    return 0;
}
