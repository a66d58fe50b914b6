/* store_mutate.c: optimistic read-modify-write over any store backend, the
 * one loop every writer of a shared object (controllers, the API) uses so
 * that a concurrent update is retried, never lost. */
#include "strata/store.h"
#include "strata/cleanup.h"

/* Writers race only briefly (a controller pass, one API call). */
#define MUTATE_RETRIES 8

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
        if ((r = fn(obj, arg)) <= 0)
            return r; /* nothing to write, or an error */
        json_t *stored = NULL;
        r = st_store_update(s, obj, &stored, err);
        if (r != -ST_ECONFLICT) {
            if (out && r == 0)
                *out = stored;
            else
                json_decref(stored);
            return r;
        }
        st_error_clear(err);
    }
    return st_error_set(err, ST_ECONFLICT, "%s %s: kept changing under %d attempts to update it",
                        kind, name, MUTATE_RETRIES);
}
