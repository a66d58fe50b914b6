/* api_proto.c: request bodies in Kubernetes' protobuf encoding, read into
 * the JSON object they stand for. kubectl's imperative subcommands (create
 * namespace|secret|deployment|service, drain's evictions) go through
 * client-go's typed clients, which send built-in kinds only as
 * application/vnd.kubernetes.protobuf and never fall back to JSON; the
 * rest of the API reads JSON, so this file turns one into the other and
 * create, replace and eviction stay the one path that validates.
 *
 * The wire format is protobuf-c's to read, with the messages of
 * k8s_proto/strata_k8s.proto (Strata's own, with Kubernetes' field
 * numbers; compiled by protoc-c at build time). The body is "k8s\0" and a
 * runtime.Unknown envelope whose raw bytes are the object's own message.
 * The JSON made is what Go's encoding/json would write for the same
 * object: strings and non-pointer numbers only when set (omitempty),
 * pointer fields (replicas, immutable) whenever present. A field on the
 * wire that the .proto does not declare is kept by protobuf-c as unknown;
 * one that carries a value becomes a warning, so nothing is dropped
 * unsaid. */
#include "api_priv.h"
#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata_k8s.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The four bytes before every Kubernetes protobuf body. */
static const char k8s_magic[4] = {'k', '8', 's', '\0'};

static void message_freep(void *p)
{
    ProtobufCMessage **m = p;
    if (*m)
        protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_message_ __attribute__((cleanup(message_freep)))

/* What a conversion gathers on the way: the warnings. */
struct conv {
    json_t *notes;
};

/* ---- fields ------------------------------------------------------------------ */

static void put_str(json_t *o, const char *key, const char *s)
{
    if (s && s[0])
        json_object_set_new(o, key, json_string(s));
}

/* A non-pointer number (omitempty: zero is unset). */
static void put_nonzero(json_t *o, const char *key, long long v)
{
    if (v != 0)
        json_object_set_new(o, key, json_integer(v));
}

/* A pointer number, or one without omitempty: present means set. */
static void put_set(json_t *o, const char *key, protobuf_c_boolean has, long long v)
{
    if (has)
        json_object_set_new(o, key, json_integer(v));
}

static void put_strings(json_t *o, const char *key, char *const *v, size_t n)
{
    if (n == 0)
        return;
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i] ? v[i] : ""));
    json_object_set_new(o, key, a);
}

/* A map<string, string>: a label with an empty value is still a label. */
static void put_pairs(json_t *o, const char *key, Strata__K8s__StringPair *const *p, size_t n)
{
    if (n == 0)
        return;
    json_t *m = json_object();
    for (size_t i = 0; i < n; i++)
        if (p[i]->key)
            json_object_set_new(m, p[i]->key, json_string(p[i]->value ? p[i]->value : ""));
    json_object_set_new(o, key, m);
}

/* IntOrString: a port number or a port's name, 25 or "25%". */
static void put_port_or_name(json_t *o, const char *key, const Strata__K8s__PortOrName *p)
{
    if (p == NULL)
        return;
    if (p->type == 1)
        json_object_set_new(o, key, json_string(p->name ? p->name : ""));
    else
        json_object_set_new(o, key, json_integer(p->number));
}

/* A field the .proto does not declare, with a value (gogo's marshalers
 * write every non-pointer field, so zeros and empty strings are on the wire
 * for fields nobody set): a warning naming where it was. protobuf-c keeps
 * a length-prefixed field with its length, so an empty string, like a
 * zero number, is all zero bytes. */
static void note_unknown(struct conv *cv, const ProtobufCMessage *m, const char *path)
{
    for (unsigned i = 0; m && i < m->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *f = &m->unknown_fields[i];
        bool zero = true;
        for (size_t b = 0; b < f->len; b++)
            zero = zero && f->data[b] == 0;
        if (zero)
            continue;
        char msg[ST_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg),
                 "%s: protobuf field %u is not read by Strata and was dropped; send the object as "
                 "JSON (kubectl apply -f) to see it named",
                 path, (unsigned)f->tag);
        json_array_append_new(cv->notes, json_string(msg));
    }
}

/* The child path "PATH.KEY" or "PATH.KEY[I]" in buf. */
static const char *sub(char *buf, size_t size, const char *path, const char *key, long i)
{
    int n = i < 0 ? snprintf(buf, size, "%s.%s", path, key)
                  : snprintf(buf, size, "%s.%s[%ld]", path, key, i);
    if (n < 0 || (size_t)n >= size)
        memcpy(buf + size - 4, "...", 4); /* a cut path still reads as one */
    return buf;
}

#define PATH_MAX_LEN 256

/* ---- apimachinery ---------------------------------------------------------------- */

static json_t *meta_json(struct conv *cv, const Strata__K8s__Meta *m, const char *path)
{
    json_t *o = json_object();
    if (m == NULL)
        return o;
    note_unknown(cv, &m->base, path);
    put_str(o, "name", m->name);
    put_str(o, "generateName", m->generate_name);
    put_str(o, "namespace", m->namespace_);
    put_str(o, "resourceVersion", m->resource_version);
    put_pairs(o, "labels", m->labels, m->n_labels);
    put_pairs(o, "annotations", m->annotations, m->n_annotations);
    return o;
}

static json_t *selector_json(struct conv *cv, const Strata__K8s__Selector *s, const char *path)
{
    json_t *o = json_object();
    note_unknown(cv, &s->base, path);
    put_pairs(o, "matchLabels", s->match_labels, s->n_match_labels);
    if (s->n_match_expressions) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_match_expressions; i++) {
            const Strata__K8s__SelectorTerm *t = s->match_expressions[i];
            json_t *e = json_object();
            put_str(e, "key", t->key);
            put_str(e, "operator", t->operator_);
            put_strings(e, "values", t->values, t->n_values);
            json_array_append_new(a, e);
        }
        json_object_set_new(o, "matchExpressions", a);
    }
    return o;
}

/* ---- pods ------------------------------------------------------------------------ */

static json_t *security_json(protobuf_c_boolean has_user, int64_t user,
                             protobuf_c_boolean has_group, int64_t group,
                             const Strata__K8s__SeccompPart *seccomp)
{
    json_t *o = json_object();
    put_set(o, "runAsUser", has_user, user);
    put_set(o, "runAsGroup", has_group, group);
    if (seccomp) {
        json_t *p = json_object();
        put_str(p, "type", seccomp->type);
        json_object_set_new(o, "seccompProfile", p);
    }
    return o;
}

static json_t *probe_json(struct conv *cv, const Strata__K8s__ProbePart *p, const char *path)
{
    char b[PATH_MAX_LEN];
    json_t *o = json_object();
    note_unknown(cv, &p->base, path);
    const Strata__K8s__ProbeActionPart *a = p->action;
    if (a) {
        note_unknown(cv, &a->base, path);
        if (a->exec) {
            json_t *e = json_object();
            put_strings(e, "command", a->exec->command, a->exec->n_command);
            json_object_set_new(o, "exec", e);
        }
        if (a->http_get) {
            const Strata__K8s__HttpGetPart *h = a->http_get;
            note_unknown(cv, &h->base, sub(b, sizeof(b), path, "httpGet", -1));
            json_t *g = json_object();
            put_str(g, "path", h->path);
            put_port_or_name(g, "port", h->port);
            put_str(g, "host", h->host);
            put_str(g, "scheme", h->scheme);
            if (h->n_http_headers) {
                json_t *hs = json_array();
                for (size_t i = 0; i < h->n_http_headers; i++) {
                    json_t *x = json_object();
                    put_str(x, "name", h->http_headers[i]->name);
                    json_object_set_new(
                        x, "value",
                        json_string(h->http_headers[i]->value ? h->http_headers[i]->value : ""));
                    json_array_append_new(hs, x);
                }
                json_object_set_new(g, "httpHeaders", hs);
            }
            json_object_set_new(o, "httpGet", g);
        }
        if (a->tcp_socket) {
            json_t *t = json_object();
            put_port_or_name(t, "port", a->tcp_socket->port);
            put_str(t, "host", a->tcp_socket->host);
            json_object_set_new(o, "tcpSocket", t);
        }
    }
    put_nonzero(o, "initialDelaySeconds", p->initial_delay_seconds);
    put_nonzero(o, "timeoutSeconds", p->timeout_seconds);
    put_nonzero(o, "periodSeconds", p->period_seconds);
    put_nonzero(o, "successThreshold", p->success_threshold);
    put_nonzero(o, "failureThreshold", p->failure_threshold);
    return o;
}

static json_t *resources_json(const Strata__K8s__ResourcesPart *r)
{
    json_t *o = json_object();
    struct {
        const char *key;
        Strata__K8s__AmountPair *const *p;
        size_t n;
    } lists[] = {{"limits", r->limits, r->n_limits}, {"requests", r->requests, r->n_requests}};
    for (size_t l = 0; l < 2; l++) {
        if (lists[l].n == 0)
            continue;
        json_t *m = json_object();
        for (size_t i = 0; i < lists[l].n; i++) {
            const Strata__K8s__AmountPair *q = lists[l].p[i];
            if (q->key)
                json_object_set_new(m, q->key,
                                    json_string(q->value && q->value->text ? q->value->text : ""));
        }
        json_object_set_new(o, lists[l].key, m);
    }
    return o;
}

static json_t *env_json(struct conv *cv, const Strata__K8s__EnvPart *e, const char *path)
{
    json_t *o = json_object();
    note_unknown(cv, &e->base, path);
    put_str(o, "name", e->name);
    put_str(o, "value", e->value);
    if (e->value_from) {
        char b[PATH_MAX_LEN];
        note_unknown(cv, &e->value_from->base, sub(b, sizeof(b), path, "valueFrom", -1));
        json_t *from = json_object();
        const Strata__K8s__SecretKeyPart *k = e->value_from->secret_key_ref;
        if (k) {
            json_t *ref = json_object();
            put_str(ref, "name", k->secret ? k->secret->name : NULL);
            put_str(ref, "key", k->key);
            if (k->has_optional)
                json_object_set_new(ref, "optional", json_boolean(k->optional));
            json_object_set_new(from, "secretKeyRef", ref);
        }
        json_object_set_new(o, "valueFrom", from);
    }
    return o;
}

static json_t *container_json(struct conv *cv, const Strata__K8s__ContainerPart *c,
                              const char *path)
{
    char b[PATH_MAX_LEN];
    json_t *o = json_object();
    note_unknown(cv, &c->base, path);
    put_str(o, "name", c->name);
    put_str(o, "image", c->image);
    put_strings(o, "command", c->command, c->n_command);
    put_strings(o, "args", c->args, c->n_args);
    put_str(o, "workingDir", c->working_dir);
    if (c->n_ports) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_ports; i++) {
            const Strata__K8s__ContainerPortPart *p = c->ports[i];
            note_unknown(cv, &p->base, sub(b, sizeof(b), path, "ports", (long)i));
            json_t *x = json_object();
            put_str(x, "name", p->name);
            put_set(x, "containerPort", p->has_container_port, p->container_port);
            put_str(x, "protocol", p->protocol);
            json_array_append_new(a, x);
        }
        json_object_set_new(o, "ports", a);
    }
    if (c->n_env) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_env; i++)
            json_array_append_new(a,
                                  env_json(cv, c->env[i], sub(b, sizeof(b), path, "env", (long)i)));
        json_object_set_new(o, "env", a);
    }
    if (c->resources) {
        note_unknown(cv, &c->resources->base, sub(b, sizeof(b), path, "resources", -1));
        json_object_set_new(o, "resources", resources_json(c->resources));
    }
    struct {
        const char *key;
        const Strata__K8s__ProbePart *p;
    } probes[] = {{"livenessProbe", c->liveness_probe},
                  {"readinessProbe", c->readiness_probe},
                  {"startupProbe", c->startup_probe}};
    for (size_t i = 0; i < 3; i++)
        if (probes[i].p)
            json_object_set_new(
                o, probes[i].key,
                probe_json(cv, probes[i].p, sub(b, sizeof(b), path, probes[i].key, -1)));
    put_str(o, "imagePullPolicy", c->image_pull_policy);
    const Strata__K8s__ContainerSecurityPart *s = c->security_context;
    if (s) {
        note_unknown(cv, &s->base, sub(b, sizeof(b), path, "securityContext", -1));
        json_object_set_new(o, "securityContext",
                            security_json(s->has_run_as_user, s->run_as_user, s->has_run_as_group,
                                          s->run_as_group, s->seccomp_profile));
    }
    return o;
}

static json_t *pod_spec_json(struct conv *cv, const Strata__K8s__PodSpecPart *s, const char *path)
{
    char b[PATH_MAX_LEN];
    json_t *o = json_object();
    note_unknown(cv, &s->base, path);
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_containers; i++)
        json_array_append_new(a, container_json(cv, s->containers[i],
                                                sub(b, sizeof(b), path, "containers", (long)i)));
    json_object_set_new(o, "containers", a);
    put_str(o, "restartPolicy", s->restart_policy);
    put_set(o, "terminationGracePeriodSeconds", s->has_termination_grace_period_seconds,
            s->termination_grace_period_seconds);
    const Strata__K8s__PodSecurityPart *sc = s->security_context;
    if (sc) {
        note_unknown(cv, &sc->base, sub(b, sizeof(b), path, "securityContext", -1));
        json_object_set_new(o, "securityContext",
                            security_json(sc->has_run_as_user, sc->run_as_user,
                                          sc->has_run_as_group, sc->run_as_group,
                                          sc->seccomp_profile));
    }
    if (s->n_image_pull_secrets) {
        json_t *ps = json_array();
        for (size_t i = 0; i < s->n_image_pull_secrets; i++) {
            json_t *x = json_object();
            put_str(x, "name", s->image_pull_secrets[i]->name);
            json_array_append_new(ps, x);
        }
        json_object_set_new(o, "imagePullSecrets", ps);
    }
    return o;
}

/* ---- the kinds --------------------------------------------------------------------- */

/* A kind's object with its metadata; its own unknown fields noted. */
static json_t *object_of(struct conv *cv, const ProtobufCMessage *m, const char *kind,
                         const Strata__K8s__Meta *md)
{
    json_t *o = json_object();
    note_unknown(cv, m, kind);
    json_object_set_new(o, "metadata", meta_json(cv, md, "metadata"));
    return o;
}

static json_t *pod_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__PodObject *p = (const Strata__K8s__PodObject *)m;
    json_t *o = object_of(cv, m, "Pod", p->metadata);
    if (p->spec)
        json_object_set_new(o, "spec", pod_spec_json(cv, p->spec, "spec"));
    return o;
}

static json_t *deployment_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__DeploymentObject *d = (const Strata__K8s__DeploymentObject *)m;
    json_t *o = object_of(cv, m, "Deployment", d->metadata);
    const Strata__K8s__DeploymentSpecPart *s = d->spec;
    if (s == NULL)
        return o;
    note_unknown(cv, &s->base, "spec");
    json_t *spec = json_object();
    put_set(spec, "replicas", s->has_replicas, s->replicas);
    if (s->selector)
        json_object_set_new(spec, "selector", selector_json(cv, s->selector, "spec.selector"));
    if (s->template_) {
        note_unknown(cv, &s->template_->base, "spec.template");
        json_t *t = json_object();
        json_object_set_new(t, "metadata",
                            meta_json(cv, s->template_->metadata, "spec.template.metadata"));
        if (s->template_->spec)
            json_object_set_new(t, "spec",
                                pod_spec_json(cv, s->template_->spec, "spec.template.spec"));
        json_object_set_new(spec, "template", t);
    }
    if (s->strategy) {
        note_unknown(cv, &s->strategy->base, "spec.strategy");
        json_t *st = json_object();
        put_str(st, "type", s->strategy->type);
        const Strata__K8s__RollingPart *r = s->strategy->rolling_update;
        if (r) {
            json_t *ru = json_object();
            put_port_or_name(ru, "maxUnavailable", r->max_unavailable);
            put_port_or_name(ru, "maxSurge", r->max_surge);
            json_object_set_new(st, "rollingUpdate", ru);
        }
        json_object_set_new(spec, "strategy", st);
    }
    json_object_set_new(o, "spec", spec);
    return o;
}

static json_t *namespace_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__NamespaceObject *n = (const Strata__K8s__NamespaceObject *)m;
    json_t *o = object_of(cv, m, "Namespace", n->metadata);
    if (n->spec) {
        json_t *spec = json_object();
        put_strings(spec, "finalizers", n->spec->finalizers, n->spec->n_finalizers);
        json_object_set_new(o, "spec", spec);
    }
    return o;
}

/* data is bytes on the wire and base64 text in JSON, as Secrets carry it. */
static json_t *secret_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__SecretObject *s = (const Strata__K8s__SecretObject *)m;
    json_t *o = object_of(cv, m, "Secret", s->metadata);
    if (s->n_data) {
        json_t *data = json_object();
        for (size_t i = 0; i < s->n_data; i++) {
            _cleanup_free_ char *text = NULL;
            st_error err = {0};
            if (s->data[i]->key == NULL ||
                st_b64_encode(s->data[i]->value.data, s->data[i]->value.len, &text, &err) < 0)
                continue;
            json_object_set_new(data, s->data[i]->key, json_string(text));
        }
        json_object_set_new(o, "data", data);
    }
    put_pairs(o, "stringData", s->string_data, s->n_string_data);
    put_str(o, "type", s->type);
    if (s->has_immutable)
        json_object_set_new(o, "immutable", json_boolean(s->immutable));
    return o;
}

static json_t *service_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__ServiceObject *v = (const Strata__K8s__ServiceObject *)m;
    json_t *o = object_of(cv, m, "Service", v->metadata);
    const Strata__K8s__ServiceSpecPart *s = v->spec;
    if (s == NULL)
        return o;
    char b[PATH_MAX_LEN];
    note_unknown(cv, &s->base, "spec");
    json_t *spec = json_object();
    put_str(spec, "type", s->type);
    put_pairs(spec, "selector", s->selector, s->n_selector);
    put_str(spec, "clusterIP", s->cluster_ip);
    put_strings(spec, "clusterIPs", s->cluster_ips, s->n_cluster_ips);
    json_t *ports = json_array();
    for (size_t i = 0; i < s->n_ports; i++) {
        const Strata__K8s__ServicePortPart *p = s->ports[i];
        note_unknown(cv, &p->base, sub(b, sizeof(b), "spec", "ports", (long)i));
        json_t *x = json_object();
        put_str(x, "name", p->name);
        put_str(x, "protocol", p->protocol);
        put_set(x, "port", p->has_port, p->port);
        put_port_or_name(x, "targetPort", p->target_port);
        put_nonzero(x, "nodePort", p->node_port);
        json_array_append_new(ports, x);
    }
    json_object_set_new(spec, "ports", ports);
    json_object_set_new(o, "spec", spec);
    return o;
}

static json_t *eviction_json(struct conv *cv, const ProtobufCMessage *m)
{
    const Strata__K8s__EvictionObject *e = (const Strata__K8s__EvictionObject *)m;
    json_t *o = object_of(cv, m, "Eviction", e->metadata);
    if (e->delete_options) {
        note_unknown(cv, &e->delete_options->base, "deleteOptions");
        json_t *d = json_object();
        put_set(d, "gracePeriodSeconds", e->delete_options->has_grace_period_seconds,
                e->delete_options->grace_period_seconds);
        put_str(d, "propagationPolicy", e->delete_options->propagation_policy);
        json_object_set_new(o, "deleteOptions", d);
    }
    return o;
}

static const struct proto_kind {
    const char *api_version, *kind;
    const ProtobufCMessageDescriptor *desc;
    json_t *(*to_json)(struct conv *cv, const ProtobufCMessage *m);
} proto_kinds[] = {
    {"v1", "Namespace", &strata__k8s__namespace_object__descriptor, namespace_json},
    {"v1", "Secret", &strata__k8s__secret_object__descriptor, secret_json},
    {"v1", "Service", &strata__k8s__service_object__descriptor, service_json},
    {"v1", "Pod", &strata__k8s__pod_object__descriptor, pod_json},
    {"apps/v1", "Deployment", &strata__k8s__deployment_object__descriptor, deployment_json},
    {"policy/v1", "Eviction", &strata__k8s__eviction_object__descriptor, eviction_json},
};

/* ---- the API ----------------------------------------------------------------------- */

int st_server_api_proto_to_json(const char *body, size_t len, json_t **out, json_t **notes,
                                st_error *err)
{
    *out = NULL;
    *notes = NULL;
    if (len < sizeof(k8s_magic) || memcmp(body, k8s_magic, sizeof(k8s_magic)) != 0)
        return st_error_set(err, EINVAL,
                            "the body is not Kubernetes protobuf: it does not start with "
                            "\"k8s\\0\"; send the object as application/json");
    _cleanup_message_ Strata__K8s__Envelope *env = strata__k8s__envelope__unpack(
        NULL, len - sizeof(k8s_magic), (const uint8_t *)body + sizeof(k8s_magic));
    if (env == NULL)
        return st_error_set(err, EINVAL,
                            "the protobuf body cannot be read (cut short, or not a "
                            "runtime.Unknown after \"k8s\\0\"); send the object as "
                            "application/json");
    const char *av = env->type && env->type->api_version ? env->type->api_version : "";
    const char *kind = env->type && env->type->kind ? env->type->kind : "";
    if (env->content_encoding && env->content_encoding[0])
        return st_error_set(err, ENOTSUP,
                            "kubectl sent a %s whose protobuf is encoded (%s), which Strata does "
                            "not read; use kubectl apply -f",
                            kind[0] ? kind : "body", env->content_encoding);
    const struct proto_kind *pk = NULL;
    for (size_t i = 0; i < sizeof(proto_kinds) / sizeof(proto_kinds[0]); i++)
        if (strcmp(proto_kinds[i].api_version, av) == 0 && strcmp(proto_kinds[i].kind, kind) == 0)
            pk = &proto_kinds[i];
    if (pk == NULL)
        return st_error_set(err, ENOTSUP,
                            "kubectl sent a %s%s%s as protobuf, which Strata does not read; use "
                            "kubectl apply -f",
                            kind[0] ? kind : "body without a kind", av[0] ? " of " : "", av);
    _cleanup_message_ ProtobufCMessage *obj =
        protobuf_c_message_unpack(pk->desc, NULL, env->raw.len, env->raw.data);
    if (obj == NULL)
        return st_error_set(err, EINVAL,
                            "the protobuf body's %s cannot be read (cut short or not a %s); send "
                            "the object as application/json",
                            kind, kind);
    struct conv cv = {.notes = json_array()};
    json_t *o = cv.notes ? pk->to_json(&cv, obj) : NULL;
    if (o == NULL) {
        json_decref(cv.notes);
        return st_error_set(err, ENOMEM, "out of memory reading a protobuf body");
    }
    json_object_set_new(o, "apiVersion", json_string(av));
    json_object_set_new(o, "kind", json_string(kind));
    *out = o;
    *notes = cv.notes;
    return 0;
}
