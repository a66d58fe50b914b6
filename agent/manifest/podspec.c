/* podspec.c: resource figures of pod specs (see podspec.h). The manifest
 * reader already normalized the quantities; the strings are parsed only for
 * objects that did not come through it. */
#include "strata/podspec.h"

#include <errno.h>
#include <string.h>

#include "strata/quantity.h"

static int st_container_figures(json_t *container, const char *list, const char *cpu_key,
                                const char *mem_key, int64_t *cpu, int64_t *mem, st_error *err)
{
    if (!json_is_object(container))
        return st_error_set(err, EINVAL, "container: expected a JSON object");
    json_t *res = json_object_get(container, "resources");
    json_t *norm = json_object_get(res, "strataNormalized");
    json_t *c = json_object_get(norm, cpu_key), *m = json_object_get(norm, mem_key);
    if (json_is_integer(c) && json_is_integer(m)) {
        *cpu = json_integer_value(c);
        *mem = json_integer_value(m);
        return 0;
    }
    json_t *l = json_object_get(res, list);
    if (l == NULL && strcmp(list, "requests") == 0)
        l = json_object_get(res, "limits"); /* Kubernetes: requests default to limits */
    const char *cs = json_string_value(json_object_get(l, "cpu"));
    const char *ms = json_string_value(json_object_get(l, "memory"));
    *cpu = 0;
    *mem = 0;
    int r = 0;
    if (cs && (r = st_quantity_parse_millis(cs, cpu, err)) < 0)
        return r;
    if (ms && (r = st_quantity_parse_bytes(ms, mem, err)) < 0)
        return r;
    return 0;
}

int st_container_requests(json_t *container, int64_t *cpu_millis, int64_t *mem_bytes, st_error *err)
{
    return st_container_figures(container, "requests", "cpuRequestMillis", "memoryRequestBytes",
                                cpu_millis, mem_bytes, err);
}

int st_container_limits(json_t *container, int64_t *cpu_millis, int64_t *mem_bytes, st_error *err)
{
    return st_container_figures(container, "limits", "cpuLimitMillis", "memoryLimitBytes",
                                cpu_millis, mem_bytes, err);
}

int st_pod_requests(json_t *podspec, int64_t *cpu_millis, int64_t *mem_bytes, st_error *err)
{
    json_t *containers = json_object_get(podspec, "containers");
    if (!json_is_array(containers))
        return st_error_set(err, EINVAL, "pod spec: \"containers\" must be a JSON array");
    int64_t cpu = 0, mem = 0;
    size_t i;
    json_t *ct;
    json_array_foreach(containers, i, ct)
    {
        int64_t c = 0, m = 0;
        int r = st_container_requests(ct, &c, &m, err);
        if (r < 0) {
            st_error_prefix(err, "pod spec containers[%zu]: ", i);
            return r;
        }
        if (__builtin_add_overflow(cpu, c, &cpu) || __builtin_add_overflow(mem, m, &mem))
            return st_error_set(err, ERANGE, "pod spec: the requests add up beyond 2^63");
    }
    *cpu_millis = cpu;
    *mem_bytes = mem;
    return 0;
}
