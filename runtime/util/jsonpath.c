/* jsonpath.c: see jsonpath.h. Keys are looked up by length (jansson's
 * json_object_getn), so a path needs no copy and has no length limit. */
#include "strata/jsonpath.h"

#include <string.h>

json_t *st_json_at(const json_t *obj, const char *path)
{
    json_t *cur = (json_t *)obj;
    for (const char *p = path; cur && p && *p;) {
        size_t n = strcspn(p, ".");
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        p += n + (p[n] == '.');
    }
    return cur;
}

const char *st_json_str_at(const json_t *obj, const char *path)
{
    return json_string_value(st_json_at(obj, path));
}

long long st_json_int_at(const json_t *obj, const char *path, long long def)
{
    json_t *v = st_json_at(obj, path);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return def;
}
