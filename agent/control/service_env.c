/* service_env.c: kubelet's Service environment variables (see
 * service_env.h), built from the Service objects alone. */
#include "strata/service_env.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void add(json_t *env, const char *name, const char *value)
{
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

/* "quote-db" -> "QUOTE_DB" (kubelet's rule for names and port names). */
static void env_word(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < len; i++)
        out[i] = in[i] == '-' ? '_' : (char)toupper((unsigned char)in[i]);
    out[i] = '\0';
}

static void add_service(json_t *env, json_t *svc)
{
    json_t *spec = json_object_get(svc, "spec");
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    json_t *ports = json_object_get(spec, "ports");
    if (ip == NULL || *ip == '\0' || strcmp(ip, "None") == 0 || json_array_size(ports) == 0)
        return;
    char svc_name[128], var[256], val[128];
    env_word(json_string_value(json_object_get(json_object_get(svc, "metadata"), "name")), svc_name,
             sizeof(svc_name));
    json_int_t first = json_integer_value(json_object_get(json_array_get(ports, 0), "port"));
    snprintf(var, sizeof(var), "%s_SERVICE_HOST", svc_name);
    add(env, var, ip);
    snprintf(var, sizeof(var), "%s_SERVICE_PORT", svc_name);
    snprintf(val, sizeof(val), "%lld", (long long)first);
    add(env, var, val);
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *pname = json_string_value(json_object_get(p, "name"));
        long long port = (long long)json_integer_value(json_object_get(p, "port"));
        if (pname && *pname) {
            char word[64];
            env_word(pname, word, sizeof(word));
            snprintf(var, sizeof(var), "%s_SERVICE_PORT_%s", svc_name, word);
            snprintf(val, sizeof(val), "%lld", port);
            add(env, var, val);
        }
    }
    snprintf(var, sizeof(var), "%s_PORT", svc_name);
    snprintf(val, sizeof(val), "tcp://%s:%lld", ip, (long long)first);
    add(env, var, val);
    json_array_foreach(ports, i, p)
    {
        long long port = (long long)json_integer_value(json_object_get(p, "port"));
        snprintf(var, sizeof(var), "%s_PORT_%lld_TCP", svc_name, port);
        snprintf(val, sizeof(val), "tcp://%s:%lld", ip, port);
        add(env, var, val);
        snprintf(var, sizeof(var), "%s_PORT_%lld_TCP_PROTO", svc_name, port);
        add(env, var, "tcp");
        snprintf(var, sizeof(var), "%s_PORT_%lld_TCP_PORT", svc_name, port);
        snprintf(val, sizeof(val), "%lld", port);
        add(env, var, val);
        snprintf(var, sizeof(var), "%s_PORT_%lld_TCP_ADDR", svc_name, port);
        add(env, var, ip);
    }
}

json_t *st_service_env(json_t *services, const char *ns)
{
    json_t *env = json_array();
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        const char *sns =
            json_string_value(json_object_get(json_object_get(svc, "metadata"), "namespace"));
        if (ns && sns && strcmp(ns, sns) == 0)
            add_service(env, svc);
    }
    return env;
}

static bool has_var(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

void st_service_env_merge(json_t *spec, json_t *env)
{
    size_t i, j;
    json_t *c, *e;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        json_t *list = json_object_get(c, "env");
        if (!json_is_array(list)) {
            if (json_array_size(env) == 0)
                continue;
            json_object_set_new(c, "env", list = json_array());
        }
        json_array_foreach(env, j, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            if (n && !has_var(list, n))
                json_array_append(list, e);
        }
    }
}
