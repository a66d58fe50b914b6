/* fuzz_api_patch.c: a PATCH request's body on a stored object, as the API
 * does it (agent/control: object_patch.c, json_patch.c, strategic_patch.c):
 * the patch applied to a copy of the object, the result read again by the
 * manifest reader (the one validator), and the fields the cluster owns
 * kept. The first byte picks the patch type (merge, strategic, JSON
 * patch), the stored object (a Deployment, a Pod, a Service, a Secret, an
 * Endpoints, read at start from the text below) and the unknown-field
 * mode; the rest is the body. Property: a merge patch applied twice
 * changes nothing more (RFC 7386 is idempotent). */
#include "fuzz.h"

#include "strata/manifest.h"
#include "strata/object_patch.h"

static const char stored_yaml[] = "apiVersion: apps/v1\n"
                                  "kind: Deployment\n"
                                  "metadata: {name: web, namespace: default, labels: {app: web}}\n"
                                  "spec:\n"
                                  "  replicas: 3\n"
                                  "  selector: {matchLabels: {app: web}}\n"
                                  "  template:\n"
                                  "    metadata: {labels: {app: web}}\n"
                                  "    spec:\n"
                                  "      containers:\n"
                                  "      - name: httpd\n"
                                  "        image: busybox\n"
                                  "        command: [httpd, -f, -p, '8080']\n"
                                  "        env: [{name: A, value: '1'}, {name: B, value: two}]\n"
                                  "        ports: [{name: http, containerPort: 8080}]\n"
                                  "        resources: {requests: {cpu: 100m}, limits: {memory: "
                                  "64Mi}}\n"
                                  "        readinessProbe: {httpGet: {path: /, port: http}}\n"
                                  "---\n"
                                  "apiVersion: v1\n"
                                  "kind: Pod\n"
                                  "metadata: {name: p, namespace: default, finalizers: [a/b]}\n"
                                  "spec:\n"
                                  "  containers:\n"
                                  "  - {name: a, image: busybox, ports: [{containerPort: 80}]}\n"
                                  "  - {name: b, image: busybox, args: [sleep, '9']}\n"
                                  "---\n"
                                  "apiVersion: v1\n"
                                  "kind: Service\n"
                                  "metadata: {name: s, namespace: default}\n"
                                  "spec:\n"
                                  "  type: NodePort\n"
                                  "  selector: {app: web}\n"
                                  "  ports: [{name: http, port: 80, targetPort: http}]\n"
                                  "---\n"
                                  "apiVersion: v1\n"
                                  "kind: Secret\n"
                                  "metadata: {name: sec, namespace: default}\n"
                                  "stringData: {token: abc}\n"
                                  "---\n"
                                  "apiVersion: v1\n"
                                  "kind: Endpoints\n"
                                  "metadata: {name: s, namespace: default}\n"
                                  "subsets:\n"
                                  "- addresses: [{ip: 10.244.1.2}]\n"
                                  "  ports: [{name: http, port: 8080}]\n";

static json_t *stored; /* the objects as stored: read, with the server's fields */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st_error err = {0};
    if (st_manifest_parse_string("stored.yaml", stored_yaml, sizeof(stored_yaml) - 1, &stored, NULL,
                                 &err) < 0) {
        fprintf(stderr, "fuzz_api_patch: the stored objects do not read: %s\n", err.msg);
        abort();
    }
    size_t i;
    json_t *obj;
    json_array_foreach(stored, i, obj)
    {
        json_t *md = json_object_get(obj, "metadata");
        json_object_set_new(md, "uid", json_sprintf("0000-%zu", i));
        json_object_set_new(md, "resourceVersion", json_string("7"));
        json_object_set_new(md, "creationTimestamp", json_string("2026-01-01T00:00:00Z"));
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Running"));
    }
    return 0;
}

/* What patch_fn in object_patch.c does with a patched copy. */
static void validate(json_t *orig, json_t *patched, enum st_manifest_fields mode)
{
    char *text = json_dumps(patched, JSON_COMPACT);
    if (text == NULL)
        return;
    json_t *objects = NULL;
    struct st_manifest_diag *diags = NULL;
    if (st_manifest_parse_string_fields("<patch>", text, strlen(text), mode, &objects, &diags,
                                        NULL) == 0 &&
        json_array_size(objects) == 1) {
        json_t *next = json_deep_copy(json_array_get(objects, 0));
        st_object_keep_server_fields(orig, next);
        json_decref(next);
    }
    st_manifest_diag_free(diags);
    json_decref(objects);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = data[0];
    enum st_patch_type type = (enum st_patch_type)(pick % 3);
    json_t *orig = json_array_get(stored, (pick / 3) % json_array_size(stored));
    enum st_manifest_fields mode = (enum st_manifest_fields)((pick / 15) % 3);
    json_t *patch = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (patch == NULL)
        return 0;
    json_t *doc = json_deep_copy(orig);
    if (st_patch_apply(type, doc, patch, NULL) == 0) {
        if (type == ST_PATCH_MERGE) {
            json_t *twice = json_deep_copy(doc);
            st_patch_apply(type, twice, patch, NULL);
            if (!json_equal(doc, twice))
                st_fuzz_fail("a merge patch applied twice changed more", doc, twice);
            json_decref(twice);
        }
        validate(orig, doc, mode);
    }
    json_decref(doc);
    json_decref(patch);
    return 0;
}
