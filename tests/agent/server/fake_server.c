/* fake_server.c: the test server of fake_server.h. */
#include "fake_server.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

int fake_server_open(struct fake_server *fs)
{
    st_error err = {0};
    st_store *store = NULL;
    fs->vmm = fake_vmm_new();
    if (fs->vmm == NULL || st_store_mem_open(&store, &err) < 0)
        return -1;
    st_server_config cfg = {.state_dir = "/nonexistent",
                            .socket_path = "/nonexistent/strata.sock",
                            .node_image = "/nonexistent/image",
                            .images_dir = "/nonexistent/images",
                            .grace_ms = FAKE_GRACE_MS};
    if (st_server_new(&cfg, store, fake_vmm_seam(fs->vmm), &fs->d, &err) < 0) {
        print_message("st_server_new: %s\n", err.msg);
        return -1;
    }
    /* busybox as pods name it: the OCI image the build made (Cmd sh) */
    fs->images = st_test_mkdtemp("strata-fake-images");
    if (st_image_store_open(fs->images, &fs->d->images, &err) < 0 ||
        st_image_import(fs->d->images, "busybox:latest", st_test_env("STRATA_TEST_BUSYBOX_IMAGE"),
                        NULL, &err) < 0) {
        print_message("the image store: %s\n", err.msg);
        return -1;
    }
    return 0;
}

void fake_server_close(struct fake_server *fs)
{
    if (fs->d)
        st_server_stop(fs->d);
    st_server_close(fs->d);
    fake_vmm_free(fs->vmm);
    if (fs->images) {
        st_test_rmrf(fs->images);
        free(fs->images);
    }
    *fs = (struct fake_server){0};
}

int fake_server_setup(void **state)
{
    struct fake_server *fs = calloc(1, sizeof(*fs));
    if (fs == NULL || fake_server_open(fs) < 0) {
        free(fs);
        return -1;
    }
    *state = fs;
    return 0;
}

int fake_server_teardown(void **state)
{
    fake_server_close(*state);
    free(*state);
    return 0;
}

static bool no_workers(void *arg)
{
    struct fake_server *fs = arg;
    return atomic_load(&fs->d->workers) == 0;
}

void fake_server_workers_done(struct fake_server *fs)
{
    assert_true(st_test_wait_until(no_workers, fs, 10000, 5));
}

void fake_server_passes(struct fake_server *fs, int n, int step_ms)
{
    for (int i = 0; i < n; i++) {
        fake_vmm_advance_ms(fs->vmm, step_ms);
        fake_vmm_heartbeats(fs->vmm);
        st_server_pass(fs->d);
        fake_server_workers_done(fs);
    }
}

const char *fake_server_node_ready_status(json_t *node)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && strcmp(type, "Ready") == 0)
            return json_string_value(json_object_get(c, "status")) ?: "";
    }
    return "";
}

void fake_server_node_ready(struct fake_server *fs, const char *name)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"cpus\":2,"
             "\"memoryMiB\":1024,\"accel\":\"tcg\"}}",
             name);
    assert_int_equal(fake_server_call(fs, "POST", "/api/v1/nodes", body, NULL), 201);
    fake_server_workers_done(fs);
    fake_server_passes(fs, 1, 10);
    json_t *node = fake_server_get(fs, "Node", "", name);
    assert_non_null(node);
    assert_string_equal(fake_server_node_ready_status(node), "True");
    json_decref(node);
}

void fake_server_respond(struct fake_server *fs, const struct fake_request *r,
                         struct st_server_response *out)
{
    char *copy = strdup(r->path);
    assert_non_null(copy);
    json_t *query = json_object();
    char *qs = strchr(copy, '?');
    if (qs) {
        *qs++ = 0;
        char *save = NULL;
        for (char *kv = strtok_r(qs, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = 0;
                json_object_set_new(query, kv, json_string(eq + 1));
            }
        }
    }
    struct st_server_request q = {.method = r->method,
                                  .query = query,
                                  .body = r->body,
                                  .body_len = r->body_len ? r->body_len
                                              : r->body   ? strlen(r->body)
                                                          : 0,
                                  .accept = r->accept,
                                  .content_type = r->content_type,
                                  .tcp = r->tcp,
                                  .authorization = r->authorization,
                                  .cookie = r->cookie,
                                  .ui_header = r->ui_header};
    st_server_api_split_path(&q, copy);
    assert_int_equal(st_server_api_route(fs->d, &q, out), 0);
    json_decref(query);
    free(copy);
}

unsigned fake_server_request(struct fake_server *fs, const struct fake_request *r, json_t **reply,
                             json_t **warnings)
{
    struct st_server_response resp = {0};
    fake_server_respond(fs, r, &resp);
    unsigned status = resp.status;
    if (reply) {
        *reply = NULL;
        if (resp.body && resp.type && strncmp(resp.type, "application/json", 16) == 0)
            *reply = json_loadb(resp.body, resp.len, 0, NULL);
    }
    if (warnings)
        *warnings = resp.warnings ? json_incref(resp.warnings) : json_array();
    st_server_api_response_clear(&resp);
    return status;
}

unsigned fake_server_call(struct fake_server *fs, const char *method, const char *path,
                          const char *body, json_t **reply)
{
    struct fake_request r = {.method = method, .path = path, .body = body};
    return fake_server_request(fs, &r, reply, NULL);
}

json_t *fake_server_get(struct fake_server *fs, const char *kind, const char *ns, const char *name)
{
    json_t *obj = NULL;
    if (st_store_get(fs->d->store, kind, ns, name, &obj, NULL) < 0)
        return NULL;
    return obj;
}

json_t *fake_server_pod(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1", "kind",
                     "Pod", "metadata", "name", name, "namespace", "default", "spec", "containers",
                     "name", "c", "image", "busybox");
}

unsigned long long fake_server_rv(json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    assert_non_null(rv);
    return strtoull(rv, NULL, 10);
}
