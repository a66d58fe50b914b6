/* test_api_ui.c: the dashboard's side of the API (api_ui.c, api_host.c,
 * api_bench.c) on the fake server: the embedded page and its headers,
 * logins by token and by one-time link (used once, expired by the fake
 * clock), what a session cookie may do on the HTTPS port, the host view,
 * log tails, a pasted YAML manifest applied, and the start-up results. */
#include "fake_server.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *header(const struct st_server_response *r, const char *name)
{
    return json_string_value(json_object_get(r->headers, name));
}

static int setup(void **state)
{
    if (fake_server_setup(state) < 0)
        return -1;
    struct fake_server *fs = *state;
    snprintf(fs->d->pki.token, sizeof(fs->d->pki.token), "%s", TOKEN);
    return 0;
}

/* A session cookie ("strata_session=ID") from a good login, in cookie. */
static void login(struct fake_server *fs, char cookie[128])
{
    struct st_server_response r = {0};
    fake_server_respond(fs,
                        &(struct fake_request){.method = "POST",
                                               .path = "/ui/login",
                                               .body = "{\"token\":\"" TOKEN "\"}",
                                               .tcp = true},
                        &r);
    assert_int_equal(r.status, 204);
    const char *set = header(&r, "Set-Cookie");
    assert_non_null(set);
    assert_true(strncmp(set, "strata_session=", 15) == 0);
    assert_int_equal(strspn(set + 15, "0123456789abcdef"), 64);
    assert_string_equal(set + 15 + 64,
                        "; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200");
    /* never the token itself */
    assert_null(strstr(set, TOKEN));
    snprintf(cookie, 128, "%.*s", (int)strcspn(set, ";"), set);
    st_server_api_response_clear(&r);
}

static void test_static_files(void **state)
{
    struct fake_server *fs = *state;
    static const char *const paths[] = {"/ui", "/ui/", "/ui/index.html"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct st_server_response r = {0};
        /* no credentials: the files hold no data */
        fake_server_respond(
            fs, &(struct fake_request){.method = "GET", .path = paths[i], .tcp = true}, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.type, "text/html; charset=utf-8");
        assert_non_null(strstr(r.body, "<html"));
        assert_string_equal(header(&r, "Cache-Control"), "no-store");
        assert_string_equal(header(&r, "X-Content-Type-Options"), "nosniff");
        assert_string_equal(header(&r, "Content-Security-Policy"),
                            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
        st_server_api_response_clear(&r);
    }
    /* a name that is no file asks for credentials first, then is not found */
    assert_int_equal(
        fake_server_request(
            fs, &(struct fake_request){.method = "GET", .path = "/ui/../etc/passwd", .tcp = true},
            NULL, NULL),
        401);
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "GET",
                                                                .path = "/ui/nope.js",
                                                                .tcp = true,
                                                                .authorization = "Bearer " TOKEN},
                                         NULL, NULL),
                     404);
}

static void test_login_token(void **state)
{
    struct fake_server *fs = *state;
    struct st_server_response r = {0};
    fake_server_respond(
        fs,
        &(struct fake_request){
            .method = "POST", .path = "/ui/login", .body = "{\"token\":\"wrong\"}", .tcp = true},
        &r);
    assert_int_equal(r.status, 401);
    assert_null(header(&r, "Set-Cookie"));
    st_server_api_response_clear(&r);
    char cookie[128];
    login(fs, cookie);
}

static void test_session_cookie(void **state)
{
    struct fake_server *fs = *state;
    char cookie[128];
    login(fs, cookie);
    char cookies[256];
    snprintf(cookies, sizeof(cookies), "theme=dark; %s; other=1", cookie);
    struct fake_request get = {.method = "GET", .path = "/api/v1/pods", .tcp = true};
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 401);
    get.cookie = cookies;
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 200);
    get.path = "/ui/session";
    json_t *reply = NULL;
    assert_int_equal(fake_server_request(fs, &get, &reply, NULL), 200);
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    /* a write with the cookie needs X-Strata-UI: 1 */
    struct fake_request del = {.method = "DELETE",
                               .path = "/api/v1/namespaces/default/pods/nope",
                               .tcp = true,
                               .cookie = cookie};
    assert_int_equal(fake_server_request(fs, &del, &reply, NULL), 403);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "message")), "X-Strata-UI"));
    json_decref(reply);
    del.ui_header = "0";
    assert_int_equal(fake_server_request(fs, &del, NULL, NULL), 403);
    del.ui_header = "1";
    assert_int_equal(fake_server_request(fs, &del, NULL, NULL), 404); /* let in: no such pod */
    /* the bearer token needs no header (kubectl) */
    del.cookie = NULL;
    del.ui_header = NULL;
    del.authorization = "Bearer " TOKEN;
    assert_int_equal(fake_server_request(fs, &del, NULL, NULL), 404);
    /* a made-up session is none */
    get.path = "/ui/session";
    get.cookie = "strata_session="
                 "00000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 401);
    /* logout ends it */
    struct st_server_response r = {0};
    fake_server_respond(fs,
                        &(struct fake_request){.method = "POST",
                                               .path = "/ui/logout",
                                               .tcp = true,
                                               .cookie = cookie,
                                               .ui_header = "1"},
                        &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(header(&r, "Set-Cookie"), "Max-Age=0"));
    st_server_api_response_clear(&r);
    get.cookie = cookie;
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 401);
}

static void test_session_expires(void **state)
{
    struct fake_server *fs = *state;
    char cookie[128];
    login(fs, cookie);
    struct fake_request get = {
        .method = "GET", .path = "/ui/session", .tcp = true, .cookie = cookie};
    fake_vmm_advance_ms(fs->vmm, ST_SERVER_UI_SESSION_TTL_MS - 1000);
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 200);
    fake_vmm_advance_ms(fs->vmm, 2000);
    assert_int_equal(fake_server_request(fs, &get, NULL, NULL), 401);
}

/* A one-time link's token (its URL's once=), from POST /ui/links. */
static void link_token(struct fake_server *fs, char token[80])
{
    json_t *reply = NULL;
    assert_int_equal(fake_server_call(fs, "POST", "/ui/links", NULL, &reply), 201);
    const char *url = json_string_value(json_object_get(reply, "url"));
    assert_non_null(url);
    static const char prefix[] = "https://127.0.0.1:6443/ui/login?once=";
    assert_true(strncmp(url, prefix, sizeof(prefix) - 1) == 0);
    assert_int_equal(strlen(url + sizeof(prefix) - 1), 64);
    snprintf(token, 80, "%s", url + sizeof(prefix) - 1);
    json_decref(reply);
}

static unsigned use_link(struct fake_server *fs, const char *token, char cookie[128])
{
    char path[160];
    snprintf(path, sizeof(path), "/ui/login?once=%s", token);
    struct st_server_response r = {0};
    fake_server_respond(fs, &(struct fake_request){.method = "GET", .path = path, .tcp = true}, &r);
    unsigned status = r.status;
    const char *set = header(&r, "Set-Cookie");
    if (status == 303) {
        assert_string_equal(header(&r, "Location"), "/ui/");
        assert_non_null(set);
        assert_non_null(strstr(set, "; HttpOnly; Secure; SameSite=Strict"));
        snprintf(cookie, 128, "%.*s", (int)strcspn(set, ";"), set);
    } else {
        assert_null(set);
        assert_non_null(strstr(r.body, "stratactl dashboard"));
    }
    st_server_api_response_clear(&r);
    return status;
}

static void test_links(void **state)
{
    struct fake_server *fs = *state;
    /* no HTTPS port: no page to link to */
    json_t *reply = NULL;
    assert_int_equal(fake_server_call(fs, "POST", "/ui/links", NULL, &reply), 503);
    json_decref(reply);
    fs->d->api_port = 6443;
    snprintf(fs->d->api_host, sizeof(fs->d->api_host), "127.0.0.1");
    /* never over the HTTPS port, even with the token */
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "POST",
                                                                .path = "/ui/links",
                                                                .tcp = true,
                                                                .authorization = "Bearer " TOKEN},
                                         NULL, NULL),
                     403);
    char token[80], cookie[128];
    link_token(fs, token);
    assert_int_equal(use_link(fs, token, cookie), 303);
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "GET",
                                                                .path = "/api/v1/pods",
                                                                .tcp = true,
                                                                .cookie = cookie},
                                         NULL, NULL),
                     200);
    /* used once */
    assert_int_equal(use_link(fs, token, cookie), 401);
    /* expired after a minute */
    link_token(fs, token);
    fake_vmm_advance_ms(fs->vmm, ST_SERVER_UI_LINK_TTL_MS + 1);
    assert_int_equal(use_link(fs, token, cookie), 401);
    /* a wrong one, and none */
    link_token(fs, token);
    token[0] = token[0] == 'a' ? 'b' : 'a';
    assert_int_equal(use_link(fs, token, cookie), 401);
    assert_int_equal(use_link(fs, "", cookie), 401);
}

static void test_host(void **state)
{
    struct fake_server *fs = *state;
    fake_server_node_ready(fs, "n1");
    json_t *host = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/strata/v1/host", NULL, &host), 200);
    assert_true(json_integer_value(json_object_get(host, "cpus")) >= 1);
    assert_true(json_integer_value(json_object_get(host, "memoryBytes")) > 0);
    assert_true(json_integer_value(json_object_get(host, "memAvailableBytes")) > 0);
    assert_true(json_integer_value(json_object_get(host, "memAvailableBytes")) <=
                json_integer_value(json_object_get(host, "memoryBytes")));
    const char *accel = json_string_value(json_object_get(host, "accel"));
    assert_true(strcmp(accel, "kvm") == 0 || strcmp(accel, "tcg") == 0);
    assert_true(strlen(json_string_value(json_object_get(host, "accelReason"))) > 0);
    assert_true(strlen(json_string_value(json_object_get(host, "hostname"))) > 0);
    assert_true(strlen(json_string_value(json_object_get(host, "kernel"))) > 0);
    assert_int_equal(json_integer_value(json_object_get(host, "nodes")), 1);
    json_decref(host);
}

static const char pod_yaml[] = "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata:\n"
                               "  name: pasted\n"
                               "spec:\n"
                               "  containers:\n"
                               "  - name: c\n"
                               "    image: busybox\n";

static void test_apply_yaml(void **state)
{
    struct fake_server *fs = *state;
    json_t *reply = NULL;
    struct fake_request r = {
        .method = "POST", .path = "/apply", .body = pod_yaml, .content_type = "application/yaml"};
    assert_int_equal(fake_server_request(fs, &r, &reply, NULL), 200);
    json_t *item = json_array_get(json_object_get(reply, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(item, "name")), "pasted");
    assert_string_equal(json_string_value(json_object_get(item, "action")), "created");
    json_decref(reply);
    json_t *pod = fake_server_get(fs, "Pod", "default", "pasted");
    assert_non_null(pod);
    json_decref(pod);
    /* the reader's errors, as for a file */
    r.body = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  bogus: 1\n";
    assert_int_equal(fake_server_request(fs, &r, &reply, NULL), 400);
    assert_non_null(strstr(json_string_value(json_object_get(reply, "message")), "bogus"));
    json_decref(reply);
}

static void test_log_tail(void **state)
{
    struct fake_server *fs = *state;
    struct fake_request apply = {
        .method = "POST", .path = "/apply", .body = pod_yaml, .content_type = "application/yaml"};
    assert_int_equal(fake_server_request(fs, &apply, NULL, NULL), 200);
    pthread_mutex_lock(&fs->d->lock);
    json_object_set_new(
        fs->d->logs, "default/pasted",
        json_pack("{s:i, s:[s,s,s]}", "dropped", 5, "lines", "one", "two", "three"));
    pthread_mutex_unlock(&fs->d->lock);
    static const struct {
        const char *query, *want;
    } cases[] = {
        {"", "one\ntwo\nthree\n"},
        {"?tailLines=2", "two\nthree\n"},
        {"?tailLines=10", "one\ntwo\nthree\n"},
        {"?tailLines=0", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/pasted/log%s",
                 cases[i].query);
        struct st_server_response r = {0};
        fake_server_respond(fs, &(struct fake_request){.method = "GET", .path = path}, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body ? r.body : "", cases[i].want);
        st_server_api_response_clear(&r);
    }
    assert_int_equal(fake_server_call(fs, "GET",
                                      "/api/v1/namespaces/default/pods/pasted/log?tailLines=-1",
                                      NULL, NULL),
                     400);
}

static const char results[] =
    "{\"rows\":[{\"name\":\"vm node (tcg)\",\"medianMs\":2781.5,\"p90Ms\":2900,\"runs\":3,"
    "\"runsMs\":[2700,2781.5,2900]},{\"name\":\"container on host (<runc>)\",\"medianMs\":24.8,"
    "\"p90Ms\":30,\"runs\":3}],\"accel\":\"tcg\",\"host\":\"box, Linux 6.1, 2 CPUs\","
    "\"when\":\"2026-12-01T10:00:00Z\"}";

static void test_bench_results(void **state)
{
    struct fake_server *fs = *state;
    char *dir = st_test_mkdtemp("strata-ui-state");
    fs->d->cfg.state_dir = dir;
    json_t *reply = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/strata/v1/bench/startup", NULL, &reply), 404);
    assert_non_null(
        strstr(json_string_value(json_object_get(reply, "message")), "stratactl bench startup"));
    json_decref(reply);
    assert_int_equal(fake_server_call(fs, "GET", "/strata/v1/bench/startup.svg", NULL, NULL), 404);
    /* only on the unix socket, only results */
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "PUT",
                                                                .path = "/strata/v1/bench/startup",
                                                                .body = results,
                                                                .tcp = true,
                                                                .authorization = "Bearer " TOKEN},
                                         NULL, NULL),
                     403);
    assert_int_equal(fake_server_call(fs, "PUT", "/strata/v1/bench/startup", "{\"rows\":[]}", NULL),
                     400);
    assert_int_equal(fake_server_call(fs, "PUT", "/strata/v1/bench/startup",
                                      "{\"rows\":[{\"name\":\"x\",\"medianMs\":\"fast\"}]}", NULL),
                     400);
    assert_int_equal(fake_server_call(fs, "PUT", "/strata/v1/bench/startup", results, NULL), 200);
    char path[512];
    snprintf(path, sizeof(path), "%s/bench-startup.json", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    /* read back over HTTPS with the token */
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "GET",
                                                                .path = "/strata/v1/bench/startup",
                                                                .tcp = true,
                                                                .authorization = "Bearer " TOKEN},
                                         &reply, NULL),
                     200);
    json_t *want = json_loads(results, 0, NULL);
    assert_true(json_equal(reply, want));
    json_decref(want);
    json_decref(reply);
    struct st_server_response r = {0};
    fake_server_respond(fs,
                        &(struct fake_request){.method = "GET",
                                               .path = "/strata/v1/bench/startup.svg",
                                               .tcp = true,
                                               .authorization = "Bearer " TOKEN},
                        &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "image/svg+xml");
    assert_true(strncmp(r.body, "<?xml", 5) == 0);
    assert_non_null(strstr(r.body, ">Start-up time on box, Linux 6.1, 2 CPUs (accel tcg)</text>"));
    assert_non_null(strstr(r.body, ">median of 3 runs each;"));
    assert_non_null(strstr(r.body, ">vm node (tcg)</text>"));
    assert_non_null(strstr(r.body, ">container on host (&lt;runc&gt;)</text>"));
    assert_non_null(strstr(r.body, ">2782 ms</text>"));
    st_server_api_response_clear(&r);
    /* no credentials: nothing */
    assert_int_equal(fake_server_request(fs,
                                         &(struct fake_request){.method = "GET",
                                                                .path = "/strata/v1/bench/startup",
                                                                .tcp = true},
                                         NULL, NULL),
                     401);
    fs->d->cfg.state_dir = "/nonexistent";
    st_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_static_files, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_login_token, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_session_cookie, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_session_expires, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_host, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_apply_yaml, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_log_tail, setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_bench_results, setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
