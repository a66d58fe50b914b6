/* test_api_watch.c: watches over the ring of recent changes, on the
 * in-memory store: a watch from a resourceVersion sees exactly the later
 * changes in order, a version the ring no longer keeps is a 410 Expired, a
 * delete sorts last, selectors make objects come and go, bookmarks say how
 * far a watch has got, a list then its feed lose nothing, and Leases are
 * watched as any kind. Streams are
 * read with st_server_stream_fill, without waiting. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "fake_server.h"
#include "watch_ring.h"
#include "strata/cleanup.h"
#include "strata/store_lease.h"

static json_t *pod(const char *name, const char *app)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}", "apiVersion", "v1",
                     "kind", "Pod", "metadata", "name", name, "namespace", "default", "labels",
                     "app", app, "spec", "containers", "name", "c", "image", "busybox");
}

static char *create(struct fake_server *fs, const char *name, const char *app)
{
    _cleanup_json_ json_t *p = pod(name, app);
    _cleanup_json_ json_t *out = NULL;
    st_error err = {0};
    assert_int_equal(st_store_create(fs->d->store, p, &out, &err), 0);
    return strdup(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")));
}

static void relabel(struct fake_server *fs, const char *name, const char *app)
{
    _cleanup_json_ json_t *p = fake_server_get(fs, "Pod", "default", name);
    assert_non_null(p);
    json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"), "app",
                        json_string(app));
    st_error err = {0};
    assert_int_equal(st_store_update(fs->d->store, p, NULL, &err), 0);
}

static void delete (struct fake_server *fs, const char *name)
{
    st_error err = {0};
    assert_int_equal(st_store_delete(fs->d->store, "Pod", "default", name, NULL, &err), 0);
}

static struct st_server_stream *watch(struct fake_server *fs, struct st_server_watch_opts o)
{
    struct st_server_stream *s = NULL;
    st_error err = {0};
    if (o.kind == NULL)
        o.kind = "Pod";
    assert_int_equal(st_server_stream_watch(fs->d, &o, &s, &err), 0);
    assert_non_null(s);
    return s;
}

/* The events the stream has gathered since *off (an array). */
static json_t *events(struct st_server_stream *s, size_t *off)
{
    st_server_stream_fill(s);
    size_t len = 0;
    const char *text = st_server_stream_text(s, &len);
    json_t *out = json_array();
    while (*off < len) {
        const char *nl = memchr(text + *off, '\n', len - *off);
        assert_non_null(nl);
        if (nl > text + *off) {
            json_t *ev = json_loadb(text + *off, (size_t)(nl - text - *off), 0, NULL);
            assert_non_null(ev);
            json_array_append_new(out, ev);
        }
        *off = (size_t)(nl - text) + 1;
    }
    return out;
}

static const char *type_at(json_t *evs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(evs, i), "type")) ?: "";
}

static json_t *md_at(json_t *evs, size_t i)
{
    return json_object_get(json_object_get(json_array_get(evs, i), "object"), "metadata");
}

static const char *name_at(json_t *evs, size_t i)
{
    return json_string_value(json_object_get(md_at(evs, i), "name")) ?: "";
}

static unsigned long long rv_at(json_t *evs, size_t i)
{
    const char *rv = json_string_value(json_object_get(md_at(evs, i), "resourceVersion"));
    assert_non_null(rv);
    return strtoull(rv, NULL, 10);
}

static void test_resume_sees_later_changes_in_order(void **state)
{
    struct fake_server *fs = *state;
    _cleanup_free_ char *a_rv = create(fs, "a", "web");
    free(create(fs, "b", "web"));
    free(create(fs, "c", "web"));
    relabel(fs, "a", "db");
    delete (fs, "b");
    struct st_server_stream *s = watch(fs, (struct st_server_watch_opts){.resource_version = a_rv});
    size_t off = 0;
    _cleanup_json_ json_t *evs = events(s, &off);
    assert_int_equal(json_array_size(evs), 4);
    const char *want[][2] = {{"ADDED", "b"}, {"ADDED", "c"}, {"MODIFIED", "a"}, {"DELETED", "b"}};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(type_at(evs, i), want[i][0]);
        assert_string_equal(name_at(evs, i), want[i][1]);
        assert_true(rv_at(evs, i) > strtoull(a_rv, NULL, 10));
        if (i > 0) /* a DELETED too: a delete takes a version of its own */
            assert_true(rv_at(evs, i) > rv_at(evs, i - 1));
    }
    /* a deleted pod reads as terminating, as a Kubernetes one does */
    assert_non_null(json_object_get(md_at(evs, 3), "deletionTimestamp"));
    /* nothing more until something changes; then just that */
    _cleanup_json_ json_t *none = events(s, &off);
    assert_int_equal(json_array_size(none), 0);
    relabel(fs, "c", "db");
    _cleanup_json_ json_t *more = events(s, &off);
    assert_int_equal(json_array_size(more), 1);
    assert_string_equal(type_at(more, 0), "MODIFIED");
    assert_string_equal(name_at(more, 0), "c");
    st_server_stream_free(s);
}

static void test_too_old_is_410_expired(void **state)
{
    struct fake_server *fs = *state;
    st_server_watch_set_capacity(fs->d, 2);
    _cleanup_free_ char *first = create(fs, "a", "web");
    for (int i = 0; i < 3; i++)
        relabel(fs, "a", i % 2 ? "web" : "db");
    struct st_server_stream *s =
        watch(fs, (struct st_server_watch_opts){.resource_version = first});
    size_t off = 0;
    _cleanup_json_ json_t *evs = events(s, &off);
    assert_int_equal(json_array_size(evs), 1);
    assert_string_equal(type_at(evs, 0), "ERROR");
    json_t *st = json_object_get(json_array_get(evs, 0), "object");
    assert_string_equal(json_string_value(json_object_get(st, "kind")), "Status");
    assert_string_equal(json_string_value(json_object_get(st, "status")), "Failure");
    assert_string_equal(json_string_value(json_object_get(st, "reason")), "Expired");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 410);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "too old resource version: %s (", first);
    assert_non_null(strstr(json_string_value(json_object_get(st, "message")), prefix));
    /* ... and the stream ends there */
    char buf[4096];
    assert_true(st_server_stream_read(s, buf, sizeof(buf)) > 0);
    assert_int_equal(st_server_stream_read(s, buf, sizeof(buf)), -1);
    st_server_stream_free(s);

    /* a version the ring still covers is served */
    _cleanup_json_ json_t *list = NULL;
    assert_int_equal(fake_server_call(fs, "GET", "/api/v1/namespaces/default/pods", NULL, &list),
                     200);
    const char *list_rv =
        json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    assert_non_null(list_rv);
    s = watch(fs, (struct st_server_watch_opts){.resource_version = list_rv});
    _cleanup_json_ json_t *quiet = events(s, (off = 0, &off));
    assert_int_equal(json_array_size(quiet), 0);
    st_server_stream_free(s);
}

static void test_label_selector_drop_is_deleted(void **state)
{
    struct fake_server *fs = *state;
    free(create(fs, "a", "web"));
    free(create(fs, "b", "db"));
    struct st_server_stream *s =
        watch(fs, (struct st_server_watch_opts){.label_selector = "app=web"});
    size_t off = 0;
    _cleanup_json_ json_t *first = events(s, &off);
    assert_int_equal(json_array_size(first), 1);
    assert_string_equal(type_at(first, 0), "ADDED");
    assert_string_equal(name_at(first, 0), "a");
    relabel(fs, "a", "db");  /* leaves the selection */
    relabel(fs, "b", "db2"); /* never in it */
    relabel(fs, "b", "web"); /* comes in */
    delete (fs, "b");
    _cleanup_json_ json_t *evs = events(s, &off);
    assert_int_equal(json_array_size(evs), 3);
    assert_string_equal(type_at(evs, 0), "DELETED");
    assert_string_equal(name_at(evs, 0), "a");
    /* as it was last shown (still web), at the change's version */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(md_at(evs, 0), "labels"), "app")), "web");
    assert_string_equal(type_at(evs, 1), "ADDED");
    assert_string_equal(name_at(evs, 1), "b");
    assert_string_equal(type_at(evs, 2), "DELETED");
    assert_string_equal(name_at(evs, 2), "b");
    assert_true(rv_at(evs, 1) > rv_at(evs, 0) && rv_at(evs, 2) > rv_at(evs, 1));
    st_server_stream_free(s);
}

/* kubectl rollout status watches one object by name */
static void test_field_selector_name(void **state)
{
    struct fake_server *fs = *state;
    free(create(fs, "a", "web"));
    free(create(fs, "b", "web"));
    struct st_server_stream *s =
        watch(fs, (struct st_server_watch_opts){.field_selector = "metadata.name=b"});
    size_t off = 0;
    _cleanup_json_ json_t *first = events(s, &off);
    assert_int_equal(json_array_size(first), 1);
    assert_string_equal(name_at(first, 0), "b");
    relabel(fs, "a", "db");
    relabel(fs, "b", "db");
    delete (fs, "a");
    _cleanup_json_ json_t *evs = events(s, &off);
    assert_int_equal(json_array_size(evs), 1);
    assert_string_equal(type_at(evs, 0), "MODIFIED");
    assert_string_equal(name_at(evs, 0), "b");
    st_server_stream_free(s);

    /* a selector that cannot be read is refused before any stream */
    struct st_server_stream *bad = NULL;
    st_error err = {0};
    struct st_server_watch_opts o = {.kind = "Pod", .field_selector = "metadata.name"};
    assert_int_equal(st_server_stream_watch(fs->d, &o, &bad, &err), -EINVAL);
    assert_null(bad);
    o = (struct st_server_watch_opts){.kind = "Pod", .resource_version = "12abc"};
    assert_int_equal(st_server_stream_watch(fs->d, &o, &bad, &err), -EINVAL);
    assert_int_equal(
        fake_server_call(fs, "GET", "/api/v1/pods?watch=1&resourceVersion=x", NULL, NULL), 400);
}

static void test_bookmarks(void **state)
{
    struct fake_server *fs = *state;
    free(create(fs, "a", "web"));
    struct st_server_stream *s = watch(fs, (struct st_server_watch_opts){.bookmarks = true});
    /* a change this watch does not select still moves its bookmark */
    _cleanup_free_ char *svc_rv = NULL;
    {
        _cleanup_json_ json_t *svc =
            json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:i}]}}", "apiVersion", "v1", "kind", "Service",
                      "metadata", "name", "web", "spec", "ports", "port", 80);
        _cleanup_json_ json_t *out = NULL;
        st_error err = {0};
        assert_int_equal(st_store_create(fs->d->store, svc, &out, &err), 0);
        svc_rv = strdup(json_string_value(
            json_object_get(json_object_get(out, "metadata"), "resourceVersion")));
    }
    /* quiet: the keep-alive is a bookmark, at the newest version seen */
    st_server_stream_set_keepalive_ms(s, 0);
    char buf[4096];
    ssize_t n = st_server_stream_read(s, buf, sizeof(buf) - 1); /* the list */
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"ADDED\""));
    n = st_server_stream_read(s, buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    _cleanup_json_ json_t *bm = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    assert_string_equal(json_string_value(json_object_get(bm, "type")), "BOOKMARK");
    json_t *obj = json_object_get(bm, "object");
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "Pod");
    assert_string_equal(json_string_value(json_object_get(obj, "apiVersion")), "v1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion")),
        svc_rv);
    st_server_stream_free(s);

    /* without bookmarks, a blank line */
    s = watch(fs, (struct st_server_watch_opts){.resource_version = svc_rv});
    st_server_stream_set_keepalive_ms(s, 0);
    assert_int_equal(st_server_stream_read(s, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], '\n');
    st_server_stream_free(s);
}

/* A list and its feed: what the list shows is not sent again, what came
 * after is sent once. */
static void test_list_then_feed(void **state)
{
    struct fake_server *fs = *state;
    free(create(fs, "a", "web"));
    relabel(fs, "a", "db");
    struct st_server_stream *s = watch(fs, (struct st_server_watch_opts){0});
    size_t off = 0;
    _cleanup_json_ json_t *first = events(s, &off);
    assert_int_equal(json_array_size(first), 1);
    assert_string_equal(type_at(first, 0), "ADDED");
    relabel(fs, "a", "web");
    _cleanup_json_ json_t *evs = events(s, &off);
    assert_int_equal(json_array_size(evs), 1);
    assert_string_equal(type_at(evs, 0), "MODIFIED");
    assert_true(rv_at(evs, 0) > rv_at(first, 0));
    st_server_stream_free(s);
}

/* Leases, as `kubectl get leases -A -w` follows them. stratad writes them
 * on connections the ring never hears (its lease thread's, other hosts'),
 * so here the store's hook is taken off the ring after the start, as
 * there: takes, renewals and releases still come (ADDED, MODIFIED), read
 * from the store, in coordination.k8s.io/v1, and as Table rows (NAME
 * HOLDER AGE) when asked; one gone is DELETED. */
static void test_leases(void **state)
{
    struct fake_server *fs = *state;
    st_error err = {0};
    st_store *store = fs->d->store;
    assert_int_equal(
        st_store_lease_try(store, "kube-system", "strata-leader", "h1/i1", 6000, NULL, &err), 1);
    struct st_server_stream *s = watch(fs, (struct st_server_watch_opts){.kind = "Lease"});
    struct st_server_stream *t =
        watch(fs, (struct st_server_watch_opts){
                      .kind = "Lease", .table = true, .table_include = ST_API_TABLE_METADATA});
    st_server_stream_set_poll_ms(s, 0);
    st_server_stream_set_poll_ms(t, 0);
    st_store_set_watch_hook(store, NULL, NULL);
    size_t off = 0, toff = 0;
    _cleanup_json_ json_t *first = events(s, &off);
    assert_int_equal(json_array_size(first), 1);
    assert_string_equal(type_at(first, 0), "ADDED");
    assert_string_equal(name_at(first, 0), "strata-leader");
    json_t *obj = json_object_get(json_array_get(first, 0), "object");
    assert_string_equal(json_string_value(json_object_get(obj, "apiVersion")),
                        "coordination.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "Lease");
    _cleanup_json_ json_t *quiet = events(s, &off); /* nothing new: nothing sent */
    assert_int_equal(json_array_size(quiet), 0);

    /* a renewal, a new host, a release: one event each */
    assert_int_equal(
        st_store_lease_try(store, "kube-system", "strata-leader", "h1/i1", 6000, NULL, &err), 1);
    _cleanup_json_ json_t *renewed = events(s, &off);
    assert_int_equal(json_array_size(renewed), 1);
    assert_string_equal(type_at(renewed, 0), "MODIFIED");
    assert_true(rv_at(renewed, 0) > rv_at(first, 0));
    /* a watch from the first version (kubectl's after its list) starts
     * with the lease written since, as MODIFIED */
    char since[32];
    snprintf(since, sizeof(since), "%llu", rv_at(first, 0));
    struct st_server_stream *u =
        watch(fs, (struct st_server_watch_opts){.kind = "Lease", .resource_version = since});
    size_t uoff = 0;
    _cleanup_json_ json_t *resumed = events(u, &uoff);
    assert_int_equal(json_array_size(resumed), 1);
    assert_string_equal(type_at(resumed, 0), "MODIFIED");
    assert_int_equal(rv_at(resumed, 0), rv_at(renewed, 0));
    st_server_stream_free(u);
    assert_int_equal(
        st_store_lease_try(store, "kube-node-lease", "strata-host-h2", "h2/i2", 6000, NULL, &err),
        1);
    _cleanup_json_ json_t *added = events(s, &off);
    assert_int_equal(json_array_size(added), 1);
    assert_string_equal(type_at(added, 0), "ADDED");
    assert_string_equal(name_at(added, 0), "strata-host-h2");
    assert_int_equal(
        st_store_lease_release(store, "kube-system", "strata-leader", "h1/i1", NULL, &err), 1);
    _cleanup_json_ json_t *released = events(s, &off);
    assert_int_equal(json_array_size(released), 1);
    assert_string_equal(type_at(released, 0), "MODIFIED");
    json_t *spec = json_object_get(json_object_get(json_array_get(released, 0), "object"), "spec");
    assert_null(json_object_get(spec, "holderIdentity"));
    assert_int_equal(
        st_store_delete(store, "Lease", "kube-node-lease", "strata-host-h2", NULL, &err), 0);
    _cleanup_json_ json_t *gone = events(s, &off);
    assert_int_equal(json_array_size(gone), 1);
    assert_string_equal(type_at(gone, 0), "DELETED");
    assert_string_equal(name_at(gone, 0), "strata-host-h2");

    /* the Table stream looked once, after all that: the leader as it is
     * now (no holder), and nothing of h2, which came and went */
    _cleanup_json_ json_t *rows = events(t, &toff);
    assert_int_equal(json_array_size(rows), 2);
    json_t *table = json_object_get(json_array_get(rows, 0), "object");
    assert_string_equal(json_string_value(json_object_get(table, "kind")), "Table");
    json_t *cells = json_object_get(json_array_get(json_object_get(table, "rows"), 0), "cells");
    assert_string_equal(json_string_value(json_array_get(cells, 0)), "strata-leader");
    assert_string_equal(json_string_value(json_array_get(cells, 1)), "h1/i1");
    assert_string_equal(type_at(rows, 1), "MODIFIED");
    table = json_object_get(json_array_get(rows, 1), "object");
    cells = json_object_get(json_array_get(json_object_get(table, "rows"), 0), "cells");
    assert_string_equal(json_string_value(json_array_get(cells, 1)), "");
    st_server_stream_free(t);
    st_server_stream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resume_sees_later_changes_in_order, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_too_old_is_410_expired, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_label_selector_drop_is_deleted, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_field_selector_name, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_bookmarks, fake_server_setup, fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_list_then_feed, fake_server_setup,
                                        fake_server_teardown),
        cmocka_unit_test_setup_teardown(test_leases, fake_server_setup, fake_server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
