/* store_mutate.c: optimistic read-modify-write over any store backend, the
 * one loop every writer of a shared object (controllers, the API) uses so
 * that a concurrent update is retried, never lost, and a conflict that does
 * not settle is returned, never swallowed. */
#include "strata/store.h"
#include "strata/cleanup.h"

#include <errno.h>

/* Writers race only briefly (a controller pass, one API call). */
#define MUTATE_RETRIES 8

/* Carries out verdict v on obj, read at its resourceVersion. */
static int carry_out(st_store *s, const char *kind, const char *ns, const char *name, int v,
                     json_t *obj, json_t **out, st_error *err)
{
    if (v == ST_STORE_REMOVE) {
        const char *rv =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        return st_store_delete(s, kind, ns, name, rv, err);
    }
    json_t *stored = NULL;
    int r = st_store_update(s, obj, &stored, err);
    if (out && r == 0)
        *out = stored;
    else
        json_decref(stored);
    return r;
}

int st_store_mutate(st_store *s, const char *kind, const char *ns, const char *name,
                    st_store_mutate_fn fn, void *arg, json_t **out, st_error *err)
{
    if (out)
        *out = NULL;
    for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
        _cleanup_json_ json_t *obj = NULL;
        int r = st_store_get(s, kind, ns, name, &obj, err);
        if (r < 0)
            return r;
        int v = fn(obj, arg, err);
        if (v < 0)
            return v;
        if (v > ST_STORE_REMOVE)
            return st_error_set(err, EINVAL, "%s %s: no such mutate verdict %d", kind, name, v);
        if (v == ST_STORE_KEEP) {
            if (out)
                *out = st_steal_ptr(&obj);
            return v;
        }
        r = carry_out(s, kind, ns, name, v, obj, out, err);
        if (r != -ST_ECONFLICT)
            return r < 0 ? r : v;
        st_error_clear(err);
    }
    return st_error_set(err, ST_ECONFLICT, "%s %s: kept changing under %d attempts to update it",
                        kind, name, MUTATE_RETRIES);
}
