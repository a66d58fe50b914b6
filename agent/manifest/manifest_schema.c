/* manifest_schema.c: what Strata reads of each Kubernetes kind, as one
 * declarative table per object (field, type, required, default), the
 * Kubernetes fields Strata accepts but ignores, and the rules that span
 * fields (selector vs labels, limits vs requests, one probe handler). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/label_selector.h"
#include "strata/names.h"
#include "strata/quantity.h"

/* ---- name rules (Kubernetes apimachinery validation; DNS names are
 * strata/names.h's, label keys and values label_selector.c's, shared with
 * the selectors) ---- */

static bool st_is_lower_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* A name over the limit is not echoed: 10,000 characters of it would push
 * the rule out of the message. */
static bool st_name_too_long(struct st_mctx *c, yaml_node_t *node, const char *s, size_t max,
                             const char *rule)
{
    size_t len = s ? strlen(s) : 0;
    if (len <= max)
        return false;
    st_mctx_error(c, node, "%s: \"%.32s...\" is not a valid name: it has %zu characters, %s",
                  st_mctx_path(c), s, len, rule);
    return true;
}

void st_check_dns_label(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *s = json_string_value(value);
    if (st_name_too_long(c, node, s, ST_NAME_DNS_LABEL_MAX,
                         "a name has at most 63 (Kubernetes' DNS-1123 label rule)"))
        return;
    if (!st_name_dns_label_ok(s))
        st_mctx_error(c, node,
                      "%s: \"%s\" is not a valid name: use at most 63 lowercase letters, digits "
                      "and '-', starting and ending with a letter or digit",
                      st_mctx_path(c), s);
}

static void st_check_dns_subdomain(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *s = json_string_value(value);
    if (st_name_too_long(c, node, s, ST_NAME_DNS_SUBDOMAIN_MAX,
                         "a name has at most 253 (Kubernetes' DNS-1123 subdomain rule)"))
        return;
    if (!st_name_dns_subdomain_ok(s))
        st_mctx_error(c, node,
                      "%s: \"%s\" is not a valid name: use at most 253 lowercase letters, "
                      "digits, '-' and '.', each part starting and ending with a letter or digit",
                      st_mctx_path(c), s);
}

static void st_check_label_keys(struct st_mctx *c, yaml_node_t *node, json_t *map, bool values)
{
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v)
    {
        if (!st_label_key_ok(key)) {
            st_mctx_error(c, st_mctx_key(c, node, key),
                          "%s: key \"%.80s%s\" is not valid: use an optional DNS prefix and "
                          "'/', then at most 63 letters, digits, '-', '_' or '.', starting and "
                          "ending with a letter or digit",
                          st_mctx_path(c), key, strlen(key) > 80 ? "..." : "");
            continue;
        }
        const char *s = json_string_value(v);
        if (values && *s && !st_label_value_ok(s, strlen(s)))
            st_mctx_error(c, st_mctx_child(c, node, key),
                          "%s.%.80s: value \"%.63s%s\" is not valid (%zu characters): use at "
                          "most 63 letters, digits, '-', '_' or '.', starting and ending with a "
                          "letter or digit",
                          st_mctx_path(c), key, s, strlen(s) > 63 ? "..." : "", strlen(s));
    }
}

void st_check_labels(struct st_mctx *c, yaml_node_t *node, json_t *map)
{
    st_check_label_keys(c, node, map, true);
}

static void st_check_annotations(struct st_mctx *c, yaml_node_t *node, json_t *map)
{
    st_check_label_keys(c, node, map, false);
}

static void st_check_env_name(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *s = json_string_value(value);
    for (const char *p = s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '=') {
            st_mctx_error(c, node,
                          "%s: \"%s\" is not a valid environment variable name: use printable "
                          "ASCII characters other than '='",
                          st_mctx_path(c), s);
            return;
        }
    }
}

/* IANA service name: at most 15 of [a-z0-9-], one letter, no "--", no '-' at the ends. */
static bool st_port_name_ok(const char *s)
{
    size_t len = strlen(s);
    bool letter = false;
    if (len == 0 || len > 15 || s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!st_is_lower_alnum(s[i]) && s[i] != '-')
            return false;
        letter |= s[i] >= 'a' && s[i] <= 'z';
    }
    return letter;
}

void st_check_port_name(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    if (json_is_string(value) && !st_port_name_ok(json_string_value(value)))
        st_mctx_error(c, node,
                      "%s: \"%s\" is not a valid port name: use at most 15 lowercase letters, "
                      "digits and '-', with at least one letter (or give the port number)",
                      st_mctx_path(c), json_string_value(value));
}

/* ---- resources ---- */

static int64_t st_quantity_of(json_t *list, const char *res)
{
    const char *s = json_string_value(json_object_get(list, res));
    int64_t v = 0;
    if (s == NULL)
        return 0;
    if (strcmp(res, "cpu") == 0)
        st_quantity_parse_millis(s, &v, NULL);
    else
        st_quantity_parse_bytes(s, &v, NULL);
    return v;
}

static void st_check_resources(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    static const char *const res[] = {"cpu", "memory"};
    json_t *req = json_object_get(obj, "requests"), *lim = json_object_get(obj, "limits");
    if (lim && json_object_size(lim) > 0) {
        if (req == NULL) {
            req = json_object();
            json_object_set_new(obj, "requests", req);
        }
        const char *key;
        json_t *v;
        json_object_foreach(lim, key, v)
        {
            if (json_object_get(req, key) == NULL)
                json_object_set(req, key, v);
        }
    }
    int64_t r[2], l[2];
    for (int i = 0; i < 2; i++) {
        r[i] = st_quantity_of(req, res[i]);
        l[i] = st_quantity_of(lim, res[i]);
        if (json_object_get(lim, res[i]) && r[i] > l[i])
            st_mctx_error(c, st_mctx_child(c, st_mctx_child(c, node, "requests"), res[i]),
                          "%s.requests.%s: %s must be less than or equal to the %s limit %s",
                          st_mctx_path(c), res[i], json_string_value(json_object_get(req, res[i])),
                          res[i], json_string_value(json_object_get(lim, res[i])));
    }
    json_object_set_new(obj, "strataNormalized",
                        json_pack("{sIsIsIsI}", "cpuRequestMillis", (json_int_t)r[0],
                                  "memoryRequestBytes", (json_int_t)r[1], "cpuLimitMillis",
                                  (json_int_t)l[0], "memoryLimitBytes", (json_int_t)l[1]));
}

/* ---- probes, env, containers ---- */

static void st_check_probe(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    static const char *const handlers[] = {"exec", "tcpSocket", "httpGet"};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (json_object_get(obj, handlers[i]) && ++n == 2)
            st_mctx_error(c, st_mctx_key(c, node, handlers[i]),
                          "%s: may specify only one handler (exec, tcpSocket or httpGet)",
                          st_mctx_path(c));
    }
    if (n == 0)
        st_mctx_error(c, node, "%s: must specify a handler: exec, tcpSocket or httpGet",
                      st_mctx_path(c));
}

/* Liveness and startup probes: Kubernetes requires successThreshold 1. */
static void st_check_probe_once(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    st_check_probe(c, node, obj);
    if (json_integer_value(json_object_get(obj, "successThreshold")) != 1)
        st_mctx_error(c, st_mctx_child(c, node, "successThreshold"),
                      "%s.successThreshold: must be 1 for liveness and startup probes",
                      st_mctx_path(c));
}

static void st_check_env(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    const char *value = json_string_value(json_object_get(obj, "value"));
    if (value && *value && json_object_get(obj, "valueFrom"))
        st_mctx_error(c, st_mctx_key(c, node, "valueFrom"),
                      "%s: set either value or valueFrom, not both", st_mctx_path(c));
}

static void st_check_env_source(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    if (json_object_get(obj, "secretKeyRef") == NULL)
        st_mctx_warn(c, node,
                     "%s: no source Strata implements (secretKeyRef): the variable is not set",
                     st_mctx_path(c));
}

static void st_check_container_names(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    json_t *list = json_object_get(obj, "containers");
    yaml_node_t *seq = st_mctx_child(c, node, "containers");
    for (size_t i = 1; i < json_array_size(list); i++) {
        json_t *name = json_object_get(json_array_get(list, i), "name");
        for (size_t j = 0; name && j < i; j++) {
            json_t *other = json_object_get(json_array_get(list, j), "name");
            if (json_equal(other, name)) {
                st_mctx_error(c, st_mctx_child(c, st_mctx_item(c, seq, i), "name"),
                              "%s.containers[%zu].name: duplicate container name \"%s\"",
                              st_mctx_path(c), i, json_string_value(name));
                break;
            }
        }
    }
}

/* ---- topology spread ---- */

/* Kubernetes allows one constraint per topologyKey and whenUnsatisfiable. */
static void st_check_spread_unique(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    json_t *list = json_object_get(obj, "topologySpreadConstraints");
    yaml_node_t *seq = st_mctx_child(c, node, "topologySpreadConstraints");
    for (size_t i = 1; i < json_array_size(list); i++) {
        json_t *a = json_array_get(list, i);
        for (size_t j = 0; j < i; j++) {
            json_t *b = json_array_get(list, j);
            if (json_equal(json_object_get(a, "topologyKey"), json_object_get(b, "topologyKey")) &&
                json_equal(json_object_get(a, "whenUnsatisfiable"),
                           json_object_get(b, "whenUnsatisfiable"))) {
                st_mctx_error(c, st_mctx_item(c, seq, i),
                              "%s.topologySpreadConstraints[%zu]: duplicate of [%zu] (%s, %s): "
                              "give one constraint per topologyKey and whenUnsatisfiable",
                              st_mctx_path(c), i, j,
                              json_string_value(json_object_get(a, "topologyKey")),
                              json_string_value(json_object_get(a, "whenUnsatisfiable")));
                break;
            }
        }
    }
}

static void st_check_schedule_anyway(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    const char *when = json_string_value(value);
    if (when && strcmp(when, "ScheduleAnyway") == 0)
        st_mctx_warn(c, node,
                     "%s: ScheduleAnyway is not scored by Strata: it spreads each Deployment's "
                     "replicas over hosts, then nodes, anyway; use DoNotSchedule to hold to "
                     "maxSkew",
                     st_mctx_path(c));
}

static void st_check_pod_spec(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    st_check_container_names(c, node, obj);
    st_check_spread_unique(c, node, obj);
}

static void st_check_deployment_pod_spec(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    st_check_pod_spec(c, node, obj);
    /* Absent only if defaulting failed, which reported its own error. */
    const char *policy = json_string_value(json_object_get(obj, "restartPolicy"));
    if (policy && strcmp(policy, "Always") != 0)
        st_mctx_error(c, st_mctx_child(c, node, "restartPolicy"),
                      "%s.restartPolicy: unsupported value \"%s\": a Deployment only allows "
                      "Always",
                      st_mctx_path(c), policy);
}

/* ---- deployments ---- */

static void st_check_deployment_spec(struct st_mctx *c, yaml_node_t *node, json_t *obj)
{
    json_t *sel = json_object_get(json_object_get(obj, "selector"), "matchLabels");
    json_t *tmeta = json_object_get(json_object_get(obj, "template"), "metadata");
    json_t *labels = json_object_get(tmeta, "labels");
    yaml_node_t *sel_node = st_mctx_child(c, st_mctx_child(c, node, "selector"), "matchLabels");
    if (json_object_size(sel) == 0) {
        st_mctx_error(c, sel_node, "spec.selector.matchLabels must not be empty");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(sel, key, v)
    {
        if (!json_equal(v, json_object_get(labels, key))) {
            yaml_node_t *t = st_mctx_child(c, node, "template");
            yaml_node_t *m = st_mctx_child(c, t, "metadata");
            yaml_node_t *l = st_mctx_child(c, m, "labels");
            st_mctx_error(c,
                          l   ? l
                          : m ? m
                              : t,
                          "spec.selector.matchLabels does not match spec.template.metadata.labels");
            return;
        }
    }
}

static void st_check_strategy_type(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    if (strcmp(json_string_value(value), "Recreate") == 0)
        st_mctx_warn(c, node,
                     "%s: Recreate is not implemented by Strata and is ignored: it rolls out "
                     "with maxSurge 1 and maxUnavailable 0",
                     st_mctx_path(c));
}

static void st_check_rolling_value(struct st_mctx *c, yaml_node_t *node, json_t *value,
                                   json_int_t implemented)
{
    if (json_is_integer(value) && json_integer_value(value) == implemented)
        return;
    st_mctx_warn(c, node, "%s: only %lld is implemented by Strata; %s is ignored", st_mctx_path(c),
                 (long long)implemented, (const char *)node->data.scalar.value);
}

static void st_check_max_unavailable(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    st_check_rolling_value(c, node, value, 0);
}

static void st_check_max_surge(struct st_mctx *c, yaml_node_t *node, json_t *value)
{
    st_check_rolling_value(c, node, value, 1);
}

/* ---- the tables ---- */

#define ST_RANGE(lo, hi) .flags = ST_MF_RANGE, .min = (lo), .max = (hi)

/* Set by the API server, never by a manifest: read and dropped. */
#define ST_SERVER_META_FIELDS                                                                      \
    ST_IGNORED("generateName"), ST_IGNORED("uid"), ST_IGNORED("resourceVersion"),                  \
        ST_IGNORED("generation"), ST_IGNORED("creationTimestamp"),                                 \
        ST_IGNORED("deletionTimestamp"), ST_IGNORED("deletionGracePeriodSeconds"),                 \
        ST_IGNORED("ownerReferences"), ST_IGNORED("finalizers"), ST_IGNORED("managedFields"),      \
        ST_IGNORED("selfLink")

static const struct st_mfield st_pod_meta_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_dns_label},
    {.name = "namespace", .type = ST_MT_STRING, .def = "\"default\"", .check = st_check_dns_label},
    {.name = "labels", .type = ST_MT_STRING_MAP, .check = st_check_labels},
    {.name = "annotations", .type = ST_MT_STRING_MAP, .check = st_check_annotations},
    ST_SERVER_META_FIELDS,
    {0},
};
const struct st_mschema st_pod_meta = {st_pod_meta_fields, NULL};

static const struct st_mfield st_secret_meta_fields[] = {
    {.name = "name",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .check = st_check_dns_subdomain},
    {.name = "namespace", .type = ST_MT_STRING, .def = "\"default\"", .check = st_check_dns_label},
    {.name = "labels", .type = ST_MT_STRING_MAP, .check = st_check_labels},
    {.name = "annotations", .type = ST_MT_STRING_MAP, .check = st_check_annotations},
    ST_SERVER_META_FIELDS,
    {0},
};
static const struct st_mschema st_secret_meta = {st_secret_meta_fields, NULL};

static const struct st_mfield st_template_meta_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .check = st_check_dns_label},
    {.name = "labels", .type = ST_MT_STRING_MAP, .check = st_check_labels},
    {.name = "annotations", .type = ST_MT_STRING_MAP, .check = st_check_annotations},
    ST_IGNORED("namespace"),
    ST_SERVER_META_FIELDS,
    {0},
};
static const struct st_mschema st_template_meta = {st_template_meta_fields, NULL};

static const struct st_mfield st_secret_key_ref_fields[] = {
    {.name = "name",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .check = st_check_dns_subdomain},
    {.name = "key", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_secret_key},
    {.name = "optional", .type = ST_MT_BOOL, .def = "false"},
    {0},
};
static const struct st_mschema st_secret_key_ref = {st_secret_key_ref_fields, NULL};

static const struct st_mfield st_env_source_fields[] = {
    {.name = "secretKeyRef", .type = ST_MT_OBJECT, .schema = &st_secret_key_ref},
    ST_IGNORED("configMapKeyRef"),
    ST_IGNORED("fieldRef"),
    ST_IGNORED("resourceFieldRef"),
    {0},
};
static const struct st_mschema st_env_source = {st_env_source_fields, st_check_env_source};

static const struct st_mfield st_env_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_env_name},
    {.name = "value", .type = ST_MT_STRING},
    {.name = "valueFrom", .type = ST_MT_OBJECT, .schema = &st_env_source},
    {0},
};
static const struct st_mschema st_env = {st_env_fields, st_check_env};

static const char *const st_protocols[] = {"TCP", "UDP", "SCTP", NULL};
static const struct st_mfield st_port_fields[] = {
    {.name = "containerPort",
     .type = ST_MT_INT,
     .flags = ST_MF_REQUIRED | ST_MF_RANGE,
     .min = 1,
     .max = 65535},
    {.name = "name", .type = ST_MT_STRING, .check = st_check_port_name},
    {.name = "protocol", .type = ST_MT_STRING, .def = "\"TCP\"", .values = st_protocols},
    ST_IGNORED("hostPort"),
    ST_IGNORED("hostIP"),
    {0},
};
static const struct st_mschema st_port = {st_port_fields, NULL};

static const struct st_mfield st_resource_list_fields[] = {
    {.name = "cpu", .type = ST_MT_QUANTITY},
    {.name = "memory", .type = ST_MT_QUANTITY},
    ST_IGNORED("ephemeral-storage"),
    {0},
};
static const struct st_mschema st_resource_list = {st_resource_list_fields, NULL};

static const struct st_mfield st_resources_fields[] = {
    {.name = "requests", .type = ST_MT_OBJECT, .schema = &st_resource_list},
    {.name = "limits", .type = ST_MT_OBJECT, .schema = &st_resource_list},
    {.name = "strataNormalized", .type = ST_MT_DERIVED},
    ST_IGNORED("claims"),
    {0},
};
static const struct st_mschema st_resources = {st_resources_fields, st_check_resources};

static const struct st_mfield st_exec_fields[] = {
    {.name = "command", .type = ST_MT_STRING_LIST, .flags = ST_MF_REQUIRED},
    {0},
};
static const struct st_mschema st_exec = {st_exec_fields, NULL};

static const struct st_mfield st_tcp_fields[] = {
    {.name = "port",
     .type = ST_MT_INT_OR_STRING,
     .flags = ST_MF_REQUIRED | ST_MF_RANGE,
     .min = 1,
     .max = 65535,
     .check = st_check_port_name},
    {.name = "host", .type = ST_MT_STRING},
    {0},
};
static const struct st_mschema st_tcp = {st_tcp_fields, NULL};

static const struct st_mfield st_header_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED},
    {.name = "value", .type = ST_MT_STRING, .def = "\"\""},
    {0},
};
static const struct st_mschema st_header = {st_header_fields, NULL};

static const char *const st_schemes[] = {"HTTP", "HTTPS", NULL};
static const struct st_mfield st_http_fields[] = {
    {.name = "path", .type = ST_MT_STRING, .def = "\"/\""},
    {.name = "port",
     .type = ST_MT_INT_OR_STRING,
     .flags = ST_MF_REQUIRED | ST_MF_RANGE,
     .min = 1,
     .max = 65535,
     .check = st_check_port_name},
    {.name = "host", .type = ST_MT_STRING},
    {.name = "scheme", .type = ST_MT_STRING, .def = "\"HTTP\"", .values = st_schemes},
    {.name = "httpHeaders", .type = ST_MT_OBJECT_LIST, .schema = &st_header},
    {0},
};
static const struct st_mschema st_http = {st_http_fields, NULL};

static const struct st_mfield st_probe_fields[] = {
    {.name = "exec", .type = ST_MT_OBJECT, .schema = &st_exec},
    {.name = "tcpSocket", .type = ST_MT_OBJECT, .schema = &st_tcp},
    {.name = "httpGet", .type = ST_MT_OBJECT, .schema = &st_http},
    ST_IGNORED("grpc"),
    {.name = "initialDelaySeconds", .type = ST_MT_INT, .def = "0", ST_RANGE(0, INT32_MAX)},
    {.name = "periodSeconds", .type = ST_MT_INT, .def = "10", ST_RANGE(1, INT32_MAX)},
    {.name = "timeoutSeconds", .type = ST_MT_INT, .def = "1", ST_RANGE(1, INT32_MAX)},
    {.name = "successThreshold", .type = ST_MT_INT, .def = "1", ST_RANGE(1, INT32_MAX)},
    {.name = "failureThreshold", .type = ST_MT_INT, .def = "3", ST_RANGE(1, INT32_MAX)},
    ST_IGNORED("terminationGracePeriodSeconds"),
    {0},
};
static const struct st_mschema st_probe = {st_probe_fields, st_check_probe};
static const struct st_mschema st_probe_once = {st_probe_fields, st_check_probe_once};

static const char *const st_seccomp_types[] = {"RuntimeDefault", "Unconfined", NULL};
static const struct st_mfield st_seccomp_fields[] = {
    {.name = "type", .type = ST_MT_STRING, .def = "\"RuntimeDefault\"", .values = st_seccomp_types},
    ST_IGNORED("localhostProfile"),
    {0},
};
static const struct st_mschema st_seccomp = {st_seccomp_fields, NULL};

static const struct st_mfield st_container_security_fields[] = {
    {.name = "seccompProfile", .type = ST_MT_OBJECT, .schema = &st_seccomp},
    ST_IGNORED("privileged"),
    ST_IGNORED("capabilities"),
    {.name = "runAsUser", .type = ST_MT_INT, ST_RANGE(0, INT32_MAX)},
    {.name = "runAsGroup", .type = ST_MT_INT, ST_RANGE(0, INT32_MAX)},
    ST_IGNORED("runAsNonRoot"),
    ST_IGNORED("readOnlyRootFilesystem"),
    {.name = "allowPrivilegeEscalation", .type = ST_MT_BOOL},
    ST_IGNORED("procMount"),
    ST_IGNORED("seLinuxOptions"),
    ST_IGNORED("appArmorProfile"),
    ST_IGNORED("windowsOptions"),
    {0},
};
static const struct st_mschema st_container_security = {st_container_security_fields, NULL};

static const char *const st_pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};
static const struct st_mfield st_container_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_dns_label},
    {.name = "image", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED},
    {.name = "command", .type = ST_MT_STRING_LIST},
    {.name = "args", .type = ST_MT_STRING_LIST},
    {.name = "env", .type = ST_MT_OBJECT_LIST, .schema = &st_env},
    {.name = "ports", .type = ST_MT_OBJECT_LIST, .schema = &st_port},
    {.name = "resources", .type = ST_MT_OBJECT, .schema = &st_resources, .def = "{}"},
    {.name = "livenessProbe", .type = ST_MT_OBJECT, .schema = &st_probe_once},
    {.name = "readinessProbe", .type = ST_MT_OBJECT, .schema = &st_probe},
    {.name = "startupProbe", .type = ST_MT_OBJECT, .schema = &st_probe_once},
    {.name = "securityContext", .type = ST_MT_OBJECT, .schema = &st_container_security},
    {.name = "imagePullPolicy", .type = ST_MT_STRING, .values = st_pull_policies},
    {.name = "workingDir", .type = ST_MT_STRING},
    ST_IGNORED("envFrom"),
    ST_IGNORED("volumeMounts"),
    ST_IGNORED("volumeDevices"),
    ST_IGNORED("lifecycle"),
    ST_IGNORED("terminationMessagePath"),
    ST_IGNORED("terminationMessagePolicy"),
    ST_IGNORED("stdin"),
    ST_IGNORED("stdinOnce"),
    ST_IGNORED("tty"),
    ST_IGNORED("resizePolicy"),
    ST_IGNORED("restartPolicy"),
    {0},
};
static const struct st_mschema st_container = {st_container_fields, NULL};

static const struct st_mfield st_pod_security_fields[] = {
    {.name = "seccompProfile", .type = ST_MT_OBJECT, .schema = &st_seccomp, .def = "{}"},
    {.name = "runAsUser", .type = ST_MT_INT, ST_RANGE(0, INT32_MAX)},
    {.name = "runAsGroup", .type = ST_MT_INT, ST_RANGE(0, INT32_MAX)},
    ST_IGNORED("runAsNonRoot"),
    ST_IGNORED("fsGroup"),
    ST_IGNORED("fsGroupChangePolicy"),
    ST_IGNORED("supplementalGroups"),
    ST_IGNORED("sysctls"),
    ST_IGNORED("seLinuxOptions"),
    ST_IGNORED("appArmorProfile"),
    ST_IGNORED("windowsOptions"),
    {0},
};
static const struct st_mschema st_pod_security = {st_pod_security_fields, NULL};

/* a kubernetes.io/dockerconfigjson Secret of the pod's namespace */
static const struct st_mfield st_pull_secret_fields[] = {
    {.name = "name",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .check = st_check_dns_subdomain},
    {0},
};
static const struct st_mschema st_pull_secret = {st_pull_secret_fields, NULL};

static const struct st_mfield st_selector_fields[] = {
    {.name = "matchLabels",
     .type = ST_MT_STRING_MAP,
     .flags = ST_MF_REQUIRED,
     .check = st_check_labels},
    ST_IGNORED("matchExpressions"),
    {0},
};
static const struct st_mschema st_selector = {st_selector_fields, NULL};

/* The domains Strata has: hosts (strata.io/host, the stratad a node runs
 * on) and nodes (kubernetes.io/hostname). */
static const char *const st_topology_keys[] = {"strata.io/host", "kubernetes.io/hostname", NULL};
static const char *const st_unsatisfiable[] = {"DoNotSchedule", "ScheduleAnyway", NULL};
static const struct st_mfield st_spread_fields[] = {
    {.name = "maxSkew",
     .type = ST_MT_INT,
     .flags = ST_MF_REQUIRED | ST_MF_RANGE,
     .min = 1,
     .max = INT32_MAX},
    {.name = "topologyKey",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .values = st_topology_keys},
    {.name = "whenUnsatisfiable",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .values = st_unsatisfiable,
     .check = st_check_schedule_anyway},
    {.name = "labelSelector", .type = ST_MT_OBJECT, .schema = &st_selector},
    ST_IGNORED("minDomains"),
    ST_IGNORED("matchLabelKeys"),
    ST_IGNORED("nodeAffinityPolicy"),
    ST_IGNORED("nodeTaintsPolicy"),
    {0},
};
static const struct st_mschema st_spread = {st_spread_fields, NULL};

static const char *const st_restart_policies[] = {"Always", "OnFailure", "Never", NULL};
static const struct st_mfield st_pod_spec_fields[] = {
    {.name = "containers",
     .type = ST_MT_OBJECT_LIST,
     .flags = ST_MF_REQUIRED,
     .schema = &st_container},
    {.name = "restartPolicy",
     .type = ST_MT_STRING,
     .def = "\"Always\"",
     .values = st_restart_policies},
    {.name = "securityContext", .type = ST_MT_OBJECT, .schema = &st_pod_security, .def = "{}"},
    {.name = "terminationGracePeriodSeconds",
     .type = ST_MT_INT,
     .def = "30",
     ST_RANGE(0, INT32_MAX)},
    ST_IGNORED("initContainers"),
    ST_IGNORED("ephemeralContainers"),
    ST_IGNORED("volumes"),
    ST_IGNORED("nodeSelector"),
    ST_IGNORED("nodeName"),
    ST_IGNORED("affinity"),
    ST_IGNORED("tolerations"),
    {.name = "topologySpreadConstraints", .type = ST_MT_OBJECT_LIST, .schema = &st_spread},
    ST_IGNORED("serviceAccountName"),
    ST_IGNORED("serviceAccount"),
    ST_IGNORED("automountServiceAccountToken"),
    {.name = "imagePullSecrets", .type = ST_MT_OBJECT_LIST, .schema = &st_pull_secret},
    ST_IGNORED("dnsPolicy"),
    ST_IGNORED("dnsConfig"),
    ST_IGNORED("hostNetwork"),
    ST_IGNORED("hostPID"),
    ST_IGNORED("hostIPC"),
    ST_IGNORED("hostUsers"),
    ST_IGNORED("hostAliases"),
    ST_IGNORED("hostname"),
    ST_IGNORED("subdomain"),
    ST_IGNORED("setHostnameAsFQDN"),
    ST_IGNORED("shareProcessNamespace"),
    ST_IGNORED("priority"),
    ST_IGNORED("priorityClassName"),
    ST_IGNORED("preemptionPolicy"),
    ST_IGNORED("schedulerName"),
    ST_IGNORED("schedulingGates"),
    ST_IGNORED("runtimeClassName"),
    ST_IGNORED("activeDeadlineSeconds"),
    ST_IGNORED("enableServiceLinks"),
    ST_IGNORED("readinessGates"),
    ST_IGNORED("overhead"),
    ST_IGNORED("os"),
    ST_IGNORED("resourceClaims"),
    {0},
};
static const struct st_mschema st_pod_spec = {st_pod_spec_fields, st_check_pod_spec};
static const struct st_mschema st_deployment_pod_spec = {st_pod_spec_fields,
                                                         st_check_deployment_pod_spec};

static const struct st_mfield st_pod_template_fields[] = {
    {.name = "metadata", .type = ST_MT_OBJECT, .schema = &st_template_meta},
    {.name = "spec",
     .type = ST_MT_OBJECT,
     .flags = ST_MF_REQUIRED,
     .schema = &st_deployment_pod_spec},
    {0},
};
static const struct st_mschema st_pod_template = {st_pod_template_fields, NULL};

/* Strata rolls out one surge pod at a time and never goes below the
 * replica count: those are its defaults, other values are warned about. */
static const struct st_mfield st_rolling_update_fields[] = {
    {.name = "maxUnavailable",
     .type = ST_MT_INT_OR_STRING,
     .def = "0",
     ST_RANGE(0, INT32_MAX),
     .check = st_check_max_unavailable},
    {.name = "maxSurge",
     .type = ST_MT_INT_OR_STRING,
     .def = "1",
     ST_RANGE(0, INT32_MAX),
     .check = st_check_max_surge},
    {0},
};
static const struct st_mschema st_rolling_update = {st_rolling_update_fields, NULL};

static const char *const st_strategy_types[] = {"RollingUpdate", "Recreate", NULL};
static const struct st_mfield st_strategy_fields[] = {
    {.name = "type",
     .type = ST_MT_STRING,
     .def = "\"RollingUpdate\"",
     .values = st_strategy_types,
     .check = st_check_strategy_type},
    {.name = "rollingUpdate", .type = ST_MT_OBJECT, .schema = &st_rolling_update, .def = "{}"},
    {0},
};
static const struct st_mschema st_strategy = {st_strategy_fields, NULL};

static const struct st_mfield st_deployment_spec_fields[] = {
    {.name = "replicas", .type = ST_MT_INT, .def = "1", ST_RANGE(0, INT32_MAX)},
    {.name = "selector", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_selector},
    {.name = "template", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_template},
    {.name = "strategy", .type = ST_MT_OBJECT, .schema = &st_strategy, .def = "{}"},
    ST_IGNORED("minReadySeconds"),
    ST_IGNORED("revisionHistoryLimit"),
    ST_IGNORED("progressDeadlineSeconds"),
    ST_IGNORED("paused"),
    {0},
};
static const struct st_mschema st_deployment_spec = {st_deployment_spec_fields,
                                                     st_check_deployment_spec};

static const struct st_mfield st_deployment_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_meta},
    {.name = "spec", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_deployment_spec},
    ST_IGNORED("status"),
    {0},
};
static const struct st_mschema st_deployment = {st_deployment_fields, NULL};

static const struct st_mfield st_pod_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_meta},
    {.name = "spec", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_pod_spec},
    ST_IGNORED("status"),
    {0},
};
static const struct st_mschema st_pod = {st_pod_fields, NULL};

static const struct st_mfield st_secret_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata", .type = ST_MT_OBJECT, .flags = ST_MF_REQUIRED, .schema = &st_secret_meta},
    {.name = "type", .type = ST_MT_STRING, .def = "\"Opaque\""},
    {.name = "data", .type = ST_MT_STRING_MAP, .check = st_check_secret_data},
    {.name = "stringData", .type = ST_MT_STRING_MAP, .check = st_check_secret_string_data},
    ST_IGNORED("immutable"),
    {0},
};
static const struct st_mschema st_secret = {st_secret_fields, st_check_secret};

/* A Namespace is cluster-scoped: a metadata.namespace given is dropped, as
 * the apiserver does. spec.finalizers is Kubernetes' ("kubernetes": the
 * namespace waits for its content to go); status.phase is stratad's. */
static const struct st_mfield st_namespace_meta_fields[] = {
    {.name = "name", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED, .check = st_check_dns_label},
    {.name = "namespace", .type = ST_MT_DERIVED},
    {.name = "labels", .type = ST_MT_STRING_MAP, .check = st_check_labels},
    {.name = "annotations", .type = ST_MT_STRING_MAP, .check = st_check_annotations},
    ST_SERVER_META_FIELDS,
    {0},
};
static const struct st_mschema st_namespace_meta = {st_namespace_meta_fields, NULL};

static const struct st_mfield st_namespace_spec_fields[] = {
    {.name = "finalizers", .type = ST_MT_STRING_LIST, .def = "[\"kubernetes\"]"},
    {0},
};
static const struct st_mschema st_namespace_spec = {st_namespace_spec_fields, NULL};

static const struct st_mfield st_namespace_fields[] = {
    ST_TYPE_FIELDS,
    {.name = "metadata",
     .type = ST_MT_OBJECT,
     .flags = ST_MF_REQUIRED,
     .schema = &st_namespace_meta},
    {.name = "spec", .type = ST_MT_OBJECT, .schema = &st_namespace_spec, .def = "{}"},
    {.name = "status", .type = ST_MT_DERIVED},
    {0},
};
static const struct st_mschema st_namespace = {st_namespace_fields, NULL};

const struct st_mkind st_manifest_kinds[] = {
    {"apps/v1", "Deployment", &st_deployment},
    {"v1", "Pod", &st_pod},
    {"v1", "Secret", &st_secret},
    {"v1", "Service", &st_service},
    {"v1", "Endpoints", &st_endpoints},
    {"v1", "Namespace", &st_namespace},
    {NULL, NULL, NULL},
};
