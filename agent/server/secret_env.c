/* secret_env.c: a pod's env valueFrom.secretKeyRef becomes a plain value
 * before the pod goes to its node: the node never reads the store, and the
 * secret never rests on the node's disk. */
#include "server_priv.h"
#include "strata/b64.h"
#include "strata/cleanup.h"

#include <errno.h>

int st_server_secret_env(st_store *store, const char *ns, json_t *spec, st_error *err)
{
    size_t ci;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), ci, c)
    {
        size_t ei;
        json_t *e;
        json_array_foreach(json_object_get(c, "env"), ei, e)
        {
            json_t *ref = json_object_get(json_object_get(e, "valueFrom"), "secretKeyRef");
            if (ref == NULL)
                continue;
            const char *sname = json_string_value(json_object_get(ref, "name"));
            const char *key = json_string_value(json_object_get(ref, "key"));
            _cleanup_json_ json_t *secret = NULL;
            if (st_store_get(store, "Secret", ns, sname, &secret, NULL) < 0)
                return st_error_set(err, ENOENT, "secret \"%s\" not found (env %s)",
                                    sname ? sname : "",
                                    json_string_value(json_object_get(e, "name")));
            const char *b64 =
                json_string_value(json_object_get(json_object_get(secret, "data"), key));
            const char *plain =
                json_string_value(json_object_get(json_object_get(secret, "stringData"), key));
            _cleanup_free_ char *value = NULL;
            if (b64 && st_b64_decode(b64, (void **)&value, NULL, NULL) < 0)
                return st_error_set(err, EINVAL, "secret \"%s\" key %s is not valid base64", sname,
                                    key);
            if (!b64 && !plain)
                return st_error_set(err, ENOENT, "secret \"%s\" has no key \"%s\" (env %s)", sname,
                                    key ? key : "", json_string_value(json_object_get(e, "name")));
            json_object_del(e, "valueFrom");
            json_object_set_new(e, "value", json_string(value ? value : plain));
        }
    }
    return 0;
}
