/* manifest_openapi.c: the manifest reader's schema tables (manifest_schema.c)
 * written out as OpenAPI v3 schemas, so that `kubectl explain` and any
 * client that validates see exactly the fields apply accepts, with the
 * Kubernetes fields Strata ignores marked as such. The tables say types,
 * defaults, ranges and allowed values; this file adds what they do not
 * need for reading: one-line descriptions, the list extensions Kubernetes
 * gives its lists, the shapes of the ignored fields, and the status fields
 * stratad fills. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/cleanup.h"
#include "strata/manifest_openapi.h"

/* ---- what the tables do not say ---- */

/* A note applies to a field whose dotted path (from the object's root,
 * list indexes left out) ends with path at a '.' boundary (or is path
 * without its leading '/'); the first note
 * that matches and has the attribute asked for wins, so specific paths
 * come first. */
struct oa_note {
    const char *path;
    const char *text;      /* the description */
    const char *type;      /* a field the tables do not type (ignored or set by
                              stratad): "string", "integer", "boolean",
                              "object", "array", "map" (of strings), "time" */
    const char *merge_key; /* a list of objects merged entry by entry by this key */
    const char *map_key2;  /* the second key identifying an entry (protocol) */
    bool server;           /* set by stratad, read-only (not "ignored") */
};

#define SERVER(p, t, d)                                                                            \
    {                                                                                              \
        .path = p, .type = t, .text = d, .server = true                                            \
    }

static const struct oa_note oa_notes[] = {
    /* lists merged entry by entry, as Kubernetes merges them */
    {.path = "containers.ports", .merge_key = "containerPort", .map_key2 = "protocol"},
    {.path = "spec.ports", .merge_key = "port", .map_key2 = "protocol"},
    {.path = "containers", .merge_key = "name"},
    {.path = "initContainers", .merge_key = "name"},
    {.path = "ephemeralContainers", .merge_key = "name"},
    {.path = "env", .merge_key = "name"},
    {.path = "volumes", .merge_key = "name"},
    {.path = "volumeMounts", .merge_key = "mountPath"},
    {.path = "imagePullSecrets", .merge_key = "name"},
    {.path = "conditions", .merge_key = "type"},
    {.path = "topologySpreadConstraints",
     .merge_key = "topologyKey",
     .map_key2 = "whenUnsatisfiable"},
    /* metadata stratad writes */
    SERVER("metadata.uid", "string", "Set by stratad when the object is created; unique for ever."),
    SERVER("metadata.resourceVersion", "string",
           "Set by stratad on every write; send it back to write only over that version "
           "(else 409 Conflict), or to watch from it."),
    SERVER("metadata.generation", "integer", "Counts the changes to spec; set by stratad."),
    SERVER("metadata.creationTimestamp", "time", "When stratad stored the object (RFC 3339, UTC)."),
    SERVER("metadata.deletionTimestamp", "time", "When the object started going away."),
    SERVER("metadata.deletionGracePeriodSeconds", "integer",
           "Seconds the object's pods were given to stop."),
    SERVER("metadata.ownerReferences", "[]object",
           "The objects this one belongs to (a Deployment for its pods); set by stratad."),
    SERVER("metadata.generateName", "string", "Not used by Strata: give metadata.name."),
    /* descriptions */
    {.path = "/apiVersion",
     .text = "The API group and version of the object's schema (v1, apps/v1)."},
    {.path = "/kind", .text = "The kind of object (Pod, Deployment, ...)."},
    {.path = "template.metadata",
     .text = "Labels and annotations every pod made from this template gets."},
    {.path = "metadata",
     .text = "The object's name, namespace, labels and annotations, and what stratad "
             "records about it."},
    {.path = "metadata.name", .text = "The object's name, unique among its kind in its namespace."},
    {.path = "metadata.namespace", .text = "The namespace the object lives in (default: default)."},
    {.path = "metadata.labels",
     .text = "Key/value pairs that selectors match (Deployments, Services, kubectl -l)."},
    {.path = "metadata.annotations", .text = "Key/value notes for people and tools."},
    {.path = "/status", .text = "What stratad observed last; written by stratad, read-only."},
    {.path = "template.spec", .text = "The spec of every pod the Deployment makes."},
    {.path = "spec.replicas", .text = "How many pods the Deployment keeps running (default 1)."},
    {.path = "spec.selector.matchLabels",
     .text = "Labels a pod must all carry to be counted as one of the Deployment's."},
    {.path = "spec.template", .text = "The pod each replica is made from."},
    {.path = "spec.strategy",
     .text = "How a changed template rolls out: Strata replaces pods one at a time, "
             "never going below the replica count."},
    {.path = "strategy.type",
     .text = "RollingUpdate (Recreate is accepted and rolls out the same)."},
    {.path = "rollingUpdate.maxSurge",
     .text = "Pods made above the replica count during a rollout; Strata implements 1."},
    {.path = "rollingUpdate.maxUnavailable",
     .text = "Pods allowed missing during a rollout; Strata implements 0."},
    {.path = "containers", .text = "The pod's containers (at least one), started together."},
    {.path = "containers.name", .text = "The container's name, unique in the pod."},
    {.path = "containers.image", .text = "The image to run, e.g. busybox:1.36 or a registry path."},
    {.path = "containers.command", .text = "Replaces the image's entrypoint."},
    {.path = "containers.args", .text = "Replaces the image's arguments (cmd)."},
    {.path = "containers.env", .text = "Environment variables set in the container."},
    {.path = "env.name", .text = "The variable's name."},
    {.path = "env.value", .text = "The variable's value."},
    {.path = "env.valueFrom",
     .text = "Where the value comes from instead (Strata implements secretKeyRef)."},
    {.path = "secretKeyRef", .text = "One key of a Secret in the pod's namespace."},
    {.path = "containers.ports", .text = "Ports the container listens on (informational)."},
    {.path = "ports.containerPort", .text = "The port number inside the pod (1-65535)."},
    {.path = "containers.resources",
     .text = "CPU and memory the container asks for (requests) and may use (limits)."},
    {.path = "resources.requests",
     .text = "What the scheduler reserves on a node (defaults to the limits)."},
    {.path = "resources.limits", .text = "The most the container may use (cgroup limits)."},
    {.path = "cpu", .text = "CPU as a quantity: 1, 0.5 or 500m."},
    {.path = "memory", .text = "Memory as a quantity: 64Mi, 1Gi or bytes."},
    {.path = "livenessProbe", .text = "Restarts the container when it fails."},
    {.path = "readinessProbe",
     .text = "Marks the pod ready (and a Service endpoint) while it passes."},
    {.path = "startupProbe", .text = "Holds the other probes until it passes once."},
    {.path = "imagePullPolicy", .text = "When the image is fetched again from its registry."},
    {.path = "workingDir", .text = "The container's working directory."},
    {.path = "securityContext",
     .text = "The user, group and seccomp profile the containers run with."},
    {.path = "seccompProfile", .text = "RuntimeDefault (Strata's filter) or Unconfined."},
    {.path = "runAsUser", .text = "The user ID the processes run as."},
    {.path = "runAsGroup", .text = "The group ID the processes run as."},
    {.path = "allowPrivilegeEscalation",
     .text = "false: the processes run with no_new_privs, so a setuid binary raises no "
             "privilege. Default true, as in Kubernetes."},
    {.path = "exec", .text = "Passes when the command exits 0 in the container."},
    {.path = "tcpSocket", .text = "Passes when a TCP connection to the port opens."},
    {.path = "httpGet", .text = "Passes when an HTTP GET answers 200-399."},
    {.path = "initialDelaySeconds", .text = "Seconds after the start before the first check."},
    {.path = "periodSeconds", .text = "Seconds between checks."},
    {.path = "timeoutSeconds", .text = "Seconds a check may take."},
    {.path = "successThreshold", .text = "Passes in a row that make a failing probe pass."},
    {.path = "failureThreshold", .text = "Failures in a row that make a passing probe fail."},
    {.path = "ports.name", .text = "A name for the port, for Services' targetPort."},
    {.path = "ports.nodePort", .text = "The port on every node (30000-32767; NodePort type)."},
    {.path = "spec.clusterIPs", .text = "spec.clusterIP as a list (one entry)."},
    {.path = "addresses", .text = "Addresses of ready pods."},
    {.path = "notReadyAddresses", .text = "Addresses of pods not ready yet."},
    {.path = "addresses.ip", .text = "The pod's IP address."},
    {.path = "targetRef", .text = "The pod at this address."},
    {.path = "spec.restartPolicy", .text = "When stopped containers are started again."},
    {.path = "terminationGracePeriodSeconds",
     .text = "Seconds between SIGTERM and SIGKILL when the pod stops."},
    {.path = "imagePullSecrets",
     .text = "kubernetes.io/dockerconfigjson Secrets used to pull the images."},
    {.path = "topologySpreadConstraints",
     .text = "How evenly matching pods spread over hosts or nodes. Without any, Strata spreads "
             "each Deployment's replicas over hosts, then nodes."},
    {.path = "topologySpreadConstraints.maxSkew",
     .text = "The most a domain may hold of the matching pods above the emptiest domain with a "
             "ready node (1 or more)."},
    {.path = "topologySpreadConstraints.topologyKey",
     .text = "The domains: strata.io/host (the stratad a node runs on; nodes without the label "
             "are one host) or kubernetes.io/hostname (each node)."},
    {.path = "topologySpreadConstraints.whenUnsatisfiable",
     .text = "DoNotSchedule: the pod waits rather than break maxSkew. ScheduleAnyway: accepted "
             "and not scored (the default spread applies)."},
    {.path = "topologySpreadConstraints.labelSelector",
     .text = "The pods counted, in the pod's namespace (none when absent)."},
    {.path = "labelSelector.matchLabels", .text = "Labels a counted pod carries, all of them."},
    {.path = "spec.type", .text = "How the Service is reached (Strata serves ClusterIP)."},
    {.path = "spec.selector", .text = "The pods behind the Service or the Deployment."},
    {.path = "spec.ports", .text = "The ports the Service serves."},
    {.path = "spec.clusterIP", .text = "The Service's virtual address (chosen when absent)."},
    {.path = "ports.port", .text = "The port number (1-65535)."},
    {.path = "ports.targetPort", .text = "The pods' port: a number or a container port's name."},
    {.path = "ports.protocol", .text = "TCP (Strata proxies TCP only)."},
    {.path = "/subsets", .text = "The addresses and ports behind a Service."},
    {.path = "/data", .text = "The Secret's values, base64-encoded."},
    {.path = "/stringData", .text = "Values as plain text, merged into data on write."},
    {.path = "/type", .text = "The Secret's type (Opaque, kubernetes.io/dockerconfigjson, ...)."},
    /* status */
    {.path = "status.phase", .text = "Where the pod is in its life."},
    {.path = "status.conditions", .text = "The latest observations of the object's state."},
    {.path = "status.podIP", .text = "The pod's address on the node network."},
    {.path = "status.hostIP", .text = "The address of the node running the pod."},
    {.path = "status.startTime", .text = "When the node accepted the pod."},
    {.path = "status.containerStatuses", .text = "One entry per container."},
    {.path = "restartCount", .text = "How many times the container was restarted."},
    {.path = "status.replicas", .text = "Pods the Deployment has, of any template."},
    {.path = "status.readyReplicas", .text = "Of those, the ready ones."},
    {.path = "status.updatedReplicas", .text = "Pods of the current template."},
    {.path = "status.availableReplicas", .text = "Ready pods counted as available."},
    {.path = "status.observedGeneration",
     .text = "The metadata.generation this status was computed for."},
    {0},
};

static bool path_ends_with(const char *path, const char *suffix)
{
    if (suffix[0] == '/')
        return strcmp(path, suffix + 1) == 0;
    size_t n = strlen(path), m = strlen(suffix);
    return m <= n && strcmp(path + n - m, suffix) == 0 && (m == n || path[n - m - 1] == '.');
}

/* The first note for path that sets the attribute at offset off (a
 * pointer field of struct oa_note). */
static const struct oa_note *note_for(const char *path, size_t off)
{
    for (const struct oa_note *n = oa_notes; n->path; n++)
        if (*(const char *const *)((const char *)n + off) && path_ends_with(path, n->path))
            return n;
    return NULL;
}

#define NOTE(path, attr) note_for(path, offsetof(struct oa_note, attr))

/* The Kubernetes types of the fields the tables read and drop (by name),
 * so explain shows them as Kubernetes does. */
static const struct {
    const char *type;
    const char *const *names;
} oa_shapes[] = {
    {"boolean", (const char *const[]){"allocateLoadBalancerNodePorts",
                                      "allowPrivilegeEscalation",
                                      "automountServiceAccountToken",
                                      "enableServiceLinks",
                                      "hostIPC",
                                      "hostNetwork",
                                      "hostPID",
                                      "hostUsers",
                                      "immutable",
                                      "paused",
                                      "privileged",
                                      "publishNotReadyAddresses",
                                      "readOnlyRootFilesystem",
                                      "runAsNonRoot",
                                      "setHostnameAsFQDN",
                                      "shareProcessNamespace",
                                      "stdin",
                                      "stdinOnce",
                                      "tty",
                                      NULL}},
    {"integer",
     (const char *const[]){"activeDeadlineSeconds", "fsGroup", "healthCheckNodePort", "hostPort",
                           "minDomains", "minReadySeconds", "priority", "progressDeadlineSeconds",
                           "revisionHistoryLimit", "terminationGracePeriodSeconds", NULL}},
    {"string", (const char *const[]){"appProtocol",
                                     "dnsPolicy",
                                     "externalName",
                                     "externalTrafficPolicy",
                                     "fieldPath",
                                     "fsGroupChangePolicy",
                                     "hostIP",
                                     "hostname",
                                     "internalTrafficPolicy",
                                     "ipFamilyPolicy",
                                     "loadBalancerClass",
                                     "loadBalancerIP",
                                     "localhostProfile",
                                     "nodeAffinityPolicy",
                                     "nodeName",
                                     "nodeTaintsPolicy",
                                     "preemptionPolicy",
                                     "priorityClassName",
                                     "procMount",
                                     "restartPolicy",
                                     "runtimeClassName",
                                     "schedulerName",
                                     "serviceAccount",
                                     "serviceAccountName",
                                     "sessionAffinity",
                                     "subdomain",
                                     "terminationMessagePath",
                                     "terminationMessagePolicy",
                                     "trafficDistribution",
                                     "namespace",
                                     "selfLink",
                                     "ephemeral-storage",
                                     NULL}},
    {"map", (const char *const[]){"nodeSelector", "overhead", NULL}},
    {"object", (const char *const[]){"affinity", "dnsConfig", "os", "lifecycle", "capabilities",
                                     "seLinuxOptions", "appArmorProfile", "windowsOptions",
                                     "sessionAffinityConfig", "grpc", "configMapKeyRef", "fieldRef",
                                     "resourceFieldRef", "strataNormalized", "state", "lastState",
                                     "loadBalancer", NULL}},
    {"[]object",
     (const char *const[]){"tolerations", "readinessGates", "hostAliases", "schedulingGates",
                           "resourceClaims", "envFrom", "volumeDevices", "resizePolicy", "sysctls",
                           "matchExpressions", "claims", "managedFields", "initContainers",
                           "ephemeralContainers", "volumes", "volumeMounts", NULL}},
    {"[]string", (const char *const[]){"externalIPs", "ipFamilies", "loadBalancerSourceRanges",
                                       "finalizers", "matchLabelKeys", NULL}},
    {"[]integer", (const char *const[]){"supplementalGroups", NULL}},
};

/* The type of a field the tables do not type: a note's, else its name's. */
static const char *untyped(const char *path, const char *name)
{
    const struct oa_note *n = NOTE(path, type);
    if (n)
        return n->type;
    for (size_t i = 0; i < sizeof(oa_shapes) / sizeof(oa_shapes[0]); i++)
        if (st_mword_in(name, oa_shapes[i].names))
            return oa_shapes[i].type;
    return NULL;
}

/* ---- status (stratad writes it; manifests never set it) ---- */

static const struct st_mfield oa_condition_fields[] = {
    {.name = "type", .type = ST_MT_STRING, .flags = ST_MF_REQUIRED},
    {.name = "status",
     .type = ST_MT_STRING,
     .flags = ST_MF_REQUIRED,
     .values = (const char *const[]){"True", "False", "Unknown", NULL}},
    {.name = "lastTransitionTime", .type = ST_MT_STRING},
    {.name = "reason", .type = ST_MT_STRING},
    {.name = "message", .type = ST_MT_STRING},
    {0},
};
static const struct st_mschema oa_condition = {oa_condition_fields, NULL};

static const struct st_mfield oa_container_status_fields[] = {
    {.name = "name", .type = ST_MT_STRING},
    {.name = "image", .type = ST_MT_STRING},
    {.name = "ready", .type = ST_MT_BOOL},
    {.name = "restartCount", .type = ST_MT_INT},
    {.name = "state", .type = ST_MT_UNIMPLEMENTED},
    {.name = "lastState", .type = ST_MT_UNIMPLEMENTED},
    {0},
};
static const struct st_mschema oa_container_status = {oa_container_status_fields, NULL};

static const struct st_mfield oa_pod_status_fields[] = {
    {.name = "phase",
     .type = ST_MT_STRING,
     .values = (const char *const[]){"Pending", "Running", "Succeeded", "Failed", "Unknown", NULL}},
    {.name = "conditions", .type = ST_MT_OBJECT_LIST, .schema = &oa_condition},
    {.name = "podIP", .type = ST_MT_STRING},
    {.name = "hostIP", .type = ST_MT_STRING},
    {.name = "startTime", .type = ST_MT_STRING},
    {.name = "reason", .type = ST_MT_STRING},
    {.name = "message", .type = ST_MT_STRING},
    {.name = "containerStatuses", .type = ST_MT_OBJECT_LIST, .schema = &oa_container_status},
    {0},
};

static const struct st_mfield oa_deployment_status_fields[] = {
    {.name = "observedGeneration", .type = ST_MT_INT},
    {.name = "replicas", .type = ST_MT_INT},
    {.name = "updatedReplicas", .type = ST_MT_INT},
    {.name = "readyReplicas", .type = ST_MT_INT},
    {.name = "availableReplicas", .type = ST_MT_INT},
    {.name = "conditions", .type = ST_MT_OBJECT_LIST, .schema = &oa_condition},
    {0},
};

static const struct st_mfield oa_service_status_fields[] = {
    {.name = "loadBalancer", .type = ST_MT_UNIMPLEMENTED},
    {.name = "conditions", .type = ST_MT_OBJECT_LIST, .schema = &oa_condition},
    {0},
};

static const char *const oa_namespace_phases[] = {"Active", "Terminating", NULL};
static const struct st_mfield oa_namespace_status_fields[] = {
    {.name = "phase", .type = ST_MT_STRING, .values = oa_namespace_phases},
    {0},
};

static const struct {
    const char *kind, *text;
    struct st_mschema status;
} oa_kinds[] = {
    {"Pod", "A group of containers run together on one node VM.", {oa_pod_status_fields, NULL}},
    {"Deployment",
     "Keeps a number of identical pods running and rolls out changes to them.",
     {oa_deployment_status_fields, NULL}},
    {"Service",
     "A stable virtual address in front of the pods it selects.",
     {oa_service_status_fields, NULL}},
    {"Secret", "Named values (passwords, keys) pods read as environment variables.", {0}},
    {"Endpoints", "The pod addresses behind a Service, kept by stratad.", {0}},
    {"Namespace",
     "A name scope for namespaced objects; deleting it deletes what is in it.",
     {oa_namespace_status_fields, NULL}},
};

/* ---- the walk ---- */

static json_t *object_schema(const struct st_mschema *s, char *path, size_t cap, bool readonly);

static json_t *hinted(const char *type)
{
    if (strcmp(type, "map") == 0)
        return json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties", "type",
                         "string");
    if (strcmp(type, "time") == 0)
        return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    if (strncmp(type, "[]", 2) == 0) {
        json_t *item = hinted(type + 2);
        return item ? json_pack("{s:s, s:o}", "type", "array", "items", item) : NULL;
    }
    if (strcmp(type, "object") == 0)
        return json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    return json_pack("{s:s}", "type", type);
}

static json_t *int_or_string(void)
{
    return json_pack("{s:[{s:s},{s:s}], s:b}", "anyOf", "type", "integer", "type", "string",
                     "x-kubernetes-int-or-string", 1);
}

/* The list extensions: entries identified (and merged) by a key, or the
 * list replaced as a whole. */
static void list_extensions(json_t *out, const char *path, bool objects)
{
    const struct oa_note *n = objects ? NOTE(path, merge_key) : NULL;
    if (n == NULL) {
        json_object_set_new(out, "x-kubernetes-list-type", json_string("atomic"));
        return;
    }
    json_t *keys = json_pack("[s]", n->merge_key);
    if (n->map_key2)
        json_array_append_new(keys, json_string(n->map_key2));
    json_object_set_new(out, "x-kubernetes-list-type", json_string("map"));
    json_object_set_new(out, "x-kubernetes-list-map-keys", keys);
    json_object_set_new(out, "x-kubernetes-patch-merge-key", json_string(n->merge_key));
    json_object_set_new(out, "x-kubernetes-patch-strategy", json_string("merge"));
}

static json_t *field_schema(const struct st_mfield *f, char *path, size_t cap, bool readonly)
{
    json_t *out = NULL;
    const struct oa_note *typed = NOTE(path, type);
    switch (f->type) {
    case ST_MT_STRING:
        out = json_pack("{s:s}", "type", "string");
        break;
    case ST_MT_INT: {
        bool i32 = (f->flags & ST_MF_RANGE) && f->max <= INT32_MAX && f->min >= INT32_MIN;
        out = json_pack("{s:s, s:s}", "type", "integer", "format", i32 ? "int32" : "int64");
        break;
    }
    case ST_MT_BOOL:
        out = json_pack("{s:s}", "type", "boolean");
        break;
    case ST_MT_STRING_MAP:
        out = hinted("map");
        break;
    case ST_MT_OBJECT:
        out = object_schema(f->schema, path, cap, readonly);
        break;
    case ST_MT_OBJECT_LIST:
        out = json_pack("{s:s, s:o}", "type", "array", "items",
                        object_schema(f->schema, path, cap, readonly));
        list_extensions(out, path, true);
        break;
    case ST_MT_STRING_LIST:
        out = json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type", "string");
        list_extensions(out, path, false);
        break;
    case ST_MT_QUANTITY:
    case ST_MT_INT_OR_STRING:
        out = int_or_string();
        break;
    case ST_MT_UNIMPLEMENTED:
    case ST_MT_DERIVED: {
        const char *type = untyped(path, f->name);
        out = type ? hinted(type) : json_pack("{s:b}", "x-kubernetes-preserve-unknown-fields", 1);
        if (out && type && strncmp(type, "[]", 2) == 0)
            list_extensions(out, path, strcmp(type, "[]object") == 0);
        break;
    }
    }
    if (out == NULL)
        return NULL;
    if (f->values) {
        json_t *e = json_array();
        for (const char *const *v = f->values; *v; v++)
            json_array_append_new(e, json_string(*v));
        json_object_set_new(out, "enum", e);
    }
    if (f->flags & ST_MF_RANGE) {
        json_object_set_new(out, "minimum", json_integer(f->min));
        json_object_set_new(out, "maximum", json_integer(f->max));
    }
    if (f->def && strcmp(f->def, "{}") != 0)
        json_object_set_new(out, "default", json_loads(f->def, JSON_DECODE_ANY, NULL));

    const struct oa_note *said = NOTE(path, text);
    const char *text = said ? said->text : NULL;
    char buf[512];
    if (f->type == ST_MT_UNIMPLEMENTED && !(typed && typed->server)) {
        snprintf(buf, sizeof(buf), "%s%sAccepted and ignored by Strata (apply warns about it).",
                 text ? text : "", text ? " " : "");
        text = buf;
    } else if (f->type == ST_MT_DERIVED) {
        text = "Computed by Strata from the other fields; read-only.";
    }
    if (typed && typed->server)
        readonly = true;
    if (readonly || f->type == ST_MT_DERIVED)
        json_object_set_new(out, "readOnly", json_true());
    if (text)
        json_object_set_new(out, "description", json_string(text));
    return out;
}

static json_t *object_schema(const struct st_mschema *s, char *path, size_t cap, bool readonly)
{
    json_t *props = json_object(), *required = json_array();
    size_t len = strlen(path);
    for (const struct st_mfield *f = s->fields; f->name; f++) {
        snprintf(path + len, cap - len, "%s%s", len ? "." : "", f->name);
        json_t *fs = field_schema(f, path, cap, readonly);
        path[len] = 0;
        if (fs == NULL)
            continue;
        json_object_set_new(props, f->name, fs);
        if (f->flags & ST_MF_REQUIRED)
            json_array_append_new(required, json_string(f->name));
    }
    json_t *out = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (out && json_array_size(required))
        json_object_set(out, "required", required);
    json_decref(required);
    return out;
}

/* ---- the API ---- */

json_t *st_manifest_openapi_schema(const char *api_version, const char *kind)
{
    const struct st_mkind *k = st_manifest_kinds;
    while (k->kind && !(strcmp(k->kind, kind) == 0 && strcmp(k->api_version, api_version) == 0))
        k++;
    if (k->kind == NULL)
        return NULL;
    char path[256] = "";
    json_t *out = object_schema(k->schema, path, sizeof(path), false);
    if (out == NULL)
        return NULL;
    const char *slash = strchr(api_version, '/');
    char group[64] = "";
    if (slash)
        snprintf(group, sizeof(group), "%.*s", (int)(slash - api_version), api_version);
    json_object_set_new(out, "x-kubernetes-group-version-kind",
                        json_pack("[{s:s, s:s, s:s}]", "group", group, "kind", kind, "version",
                                  slash ? slash + 1 : api_version));
    for (size_t i = 0; i < sizeof(oa_kinds) / sizeof(oa_kinds[0]); i++) {
        if (strcmp(oa_kinds[i].kind, kind) != 0)
            continue;
        json_object_set_new(out, "description", json_string(oa_kinds[i].text));
        if (oa_kinds[i].status.fields) {
            snprintf(path, sizeof(path), "status");
            json_t *st = object_schema(&oa_kinds[i].status, path, sizeof(path), true);
            json_object_set_new(st, "readOnly", json_true());
            json_object_set_new(st, "description", json_string(NOTE("status", text)->text));
            json_object_set_new(json_object_get(out, "properties"), "status", st);
        }
    }
    return out;
}
