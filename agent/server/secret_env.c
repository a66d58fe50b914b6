/* secret_env.c: a pod's env valueFrom.secretKeyRef becomes a plain value
 * before the pod goes to its node: the node never reads the store, and the
 * secret never rests on the node's disk. How a Secret's key is read (data
 * in base64, or stringData) is here once, for the image pulls' Secrets too. */
#include "server_priv.h"
#include "strata/b64.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <string.h>

int st_server_secret_value(json_t *secret, const char *key, char **value, st_error *err)
{
    const char *sname =
        json_string_value(json_object_get(json_object_get(secret, "metadata"), "name"));
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), key));
    const char *plain =
        json_string_value(json_object_get(json_object_get(secret, "stringData"), key));
    *value = NULL;
    if (b64) {
        if (st_b64_decode(b64, (void **)value, NULL, NULL) < 0)
            return st_error_set(err, EINVAL, "secret \"%s\" key %s is not valid base64",
                                sname ? sname : "", key);
        return 0;
    }
    if (plain == NULL)
        return st_error_set(err, ENOENT, "secret \"%s\" has no key \"%s\"", sname ? sname : "",
                            key ? key : "");
    *value = strdup(plain);
    return *value ? 0 : st_error_set(err, ENOMEM, "out of memory");
}

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
            _cleanup_free_ char *value = NULL;
            int r = st_server_secret_value(secret, key, &value, err);
            if (r < 0) {
                st_error_prefix(err, "env %s: ", json_string_value(json_object_get(e, "name")));
                return r;
            }
            json_object_del(e, "valueFrom");
            json_object_set_new(e, "value", json_string(value));
        }
    }
    return 0;
}
