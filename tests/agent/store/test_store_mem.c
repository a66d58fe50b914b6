/* test_store_mem.c: the store contract on the in-memory backend (the one
 * the controller and scheduler tests build on): assigned metadata,
 * optimistic concurrency, selectors, all-or-none batches, binding, events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/store.h"

static json_t *pod(const char *ns, const char *name, const char *app, const char *node,
                   const char *owner)
{
    json_t *p = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}", "apiVersion",
                          "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns, "labels",
                          "app", app, "spec", "containers", "name", "c", "image", "busybox");
    if (node)
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
    if (owner)
        json_object_set_new(
            json_object_get(p, "metadata"), "ownerReferences",
            json_pack("[{s:s, s:s, s:b}]", "kind", "Deployment", "name", owner, "controller", 1));
    return p;
}

static int setup(void **state)
{
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

static const char *md(json_t *o, const char *f)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

static void test_create_assigns_metadata(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *in = pod("default", "web-1", "web", NULL, NULL);
    json_object_set_new(json_object_get(in, "metadata"), "uid", json_string("forged"));
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, in, &out, &err), 0);
    const char *uid = md(out, "uid");
    assert_non_null(uid);
    assert_int_equal(strlen(uid), 36);
    assert_int_equal(uid[14], '4');
    assert_string_not_equal(uid, "forged");
    assert_non_null(md(out, "resourceVersion"));
    const char *ts = md(out, "creationTimestamp");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 20);
    assert_int_equal(ts[19], 'Z');
    /* the input is not modified */
    assert_string_equal(md(in, "uid"), "forged");

    json_t *got = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", "web-1", &got, &err), 0);
    assert_true(json_equal(got, out));

    st_error e2 = {0};
    assert_int_equal(st_store_create(s, in, NULL, &e2), -EEXIST);
    assert_non_null(strstr(e2.msg, "already exists"));

    /* a second object gets a higher resourceVersion */
    json_t *in2 = pod("default", "web-2", "web", NULL, NULL), *out2 = NULL;
    assert_int_equal(st_store_create(s, in2, &out2, &err), 0);
    assert_true(atoll(md(out2, "resourceVersion")) > atoll(md(out, "resourceVersion")));
    json_decref(in);
    json_decref(in2);
    json_decref(out);
    json_decref(out2);
    json_decref(got);
}

static void test_invalid_objects(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *bad = json_pack("{s:s, s:{s:s}}", "kind", "Pod", "metadata", "name", "Bad_Name");
    assert_int_equal(st_store_create(s, bad, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "metadata.name"));
    json_decref(bad);
    st_error e2 = {0};
    json_t *unk = json_pack("{s:s, s:{s:s}}", "kind", "Gizmo", "metadata", "name", "g");
    assert_int_equal(st_store_create(s, unk, NULL, &e2), -EINVAL);
    assert_non_null(strstr(e2.msg, "Gizmo"));
    json_decref(unk);
    st_error e3 = {0};
    json_t *o = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", "nope", &o, &e3), -ENOENT);
    assert_null(o);
}

static void test_update_conflict(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *in = pod("default", "db", "db", NULL, NULL), *created = NULL;
    assert_int_equal(st_store_create(s, in, &created, &err), 0);

    /* two writers read the same version */
    json_t *a = NULL, *b = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", "db", &a, &err), 0);
    assert_int_equal(st_store_get(s, "Pod", "default", "db", &b, &err), 0);
    json_object_set_new(a, "status", json_pack("{s:s}", "phase", "Running"));
    json_object_set_new(b, "status", json_pack("{s:s}", "phase", "Failed"));

    json_t *a2 = NULL;
    assert_int_equal(st_store_update(s, a, &a2, &err), 0);
    assert_string_equal(md(a2, "uid"), md(created, "uid"));
    assert_string_equal(md(a2, "creationTimestamp"), md(created, "creationTimestamp"));
    assert_string_not_equal(md(a2, "resourceVersion"), md(created, "resourceVersion"));

    st_error e2 = {0};
    assert_int_equal(st_store_update(s, b, NULL, &e2), -ST_ECONFLICT);
    assert_non_null(strstr(e2.msg, "has been modified"));
    json_t *now = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", "db", &now, &err), 0);
    assert_true(json_equal(now, a2)); /* the loser changed nothing */

    /* without a resourceVersion an update is refused */
    st_error e3 = {0};
    json_object_del(json_object_get(b, "metadata"), "resourceVersion");
    assert_int_equal(st_store_update(s, b, NULL, &e3), -EINVAL);

    /* delete: wrong version refused, right one works */
    st_error e4 = {0};
    assert_int_equal(
        st_store_delete(s, "Pod", "default", "db", md(created, "resourceVersion"), &e4),
        -ST_ECONFLICT);
    assert_int_equal(st_store_delete(s, "Pod", "default", "db", md(a2, "resourceVersion"), &err),
                     0);
    st_error e5 = {0};
    assert_int_equal(st_store_delete(s, "Pod", "default", "db", NULL, &e5), -ENOENT);
    json_decref(in);
    json_decref(created);
    json_decref(a);
    json_decref(b);
    json_decref(a2);
    json_decref(now);
}

static size_t count(st_store *s, st_store_query q)
{
    st_error err = {0};
    json_t *arr = NULL;
    assert_int_equal(st_store_list(s, &q, &arr, &err), 0);
    size_t n = json_array_size(arr);
    json_decref(arr);
    return n;
}

static void test_list_selectors(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *objs[] = {
        pod("default", "b", "web", "n1", "web"),
        pod("default", "a", "web", NULL, "web"),
        pod("prod", "c", "db", "n1", NULL),
        pod("prod", "d", "db", "n2", NULL),
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(st_store_create(s, objs[i], NULL, &err), 0);
        json_decref(objs[i]);
    }
    json_t *all = NULL;
    st_store_query q = {.kind = "Pod"};
    assert_int_equal(st_store_list(s, &q, &all, &err), 0);
    assert_int_equal(json_array_size(all), 4);
    /* sorted by namespace, then name */
    assert_string_equal(md(json_array_get(all, 0), "name"), "a");
    assert_string_equal(md(json_array_get(all, 1), "name"), "b");
    assert_string_equal(md(json_array_get(all, 3), "name"), "d");
    json_decref(all);

    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .namespace = "prod"}), 2);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "app=web"}), 2);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "app!=web"}), 2);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "app"}), 4);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "!app"}), 0);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "app in (web,x)"}),
                     2);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .label_selector = "app notin (web)"}),
                     2);
    assert_int_equal(
        count(s, (st_store_query){.kind = "Pod", .field_selector = "spec.nodeName=n1"}), 2);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .field_selector = "spec.nodeName="}),
                     1);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod",
                                               .namespace = "prod",
                                               .field_selector = "spec.nodeName!=n1"}),
                     1);
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .owner = "web"}), 2);
    assert_int_equal(count(s, (st_store_query){.kind = "Node"}), 0);

    st_error e2 = {0};
    json_t *arr = NULL;
    st_store_query bad = {.kind = "Pod", .label_selector = "app in web"};
    assert_int_equal(st_store_list(s, &bad, &arr, &e2), -EINVAL);
    assert_null(arr);
}

static void test_batch_all_or_none(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *good = pod("default", "first", "x", NULL, NULL);
    json_t *bad = json_pack("{s:s, s:{}}", "kind", "Pod", "metadata");
    st_store_op ops[2] = {{.op = ST_STORE_CREATE, .object = good},
                          {.op = ST_STORE_CREATE, .object = bad}};
    assert_int_equal(st_store_apply_batch(s, ops, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "batch item 2"));
    assert_null(ops[0].result);
    json_t *o = NULL;
    st_error e2 = {0};
    assert_int_equal(st_store_get(s, "Pod", "default", "first", &o, &e2), -ENOENT);

    /* apply: created, then unchanged, then configured */
    st_store_op ap = {.op = ST_STORE_APPLY, .object = good};
    assert_int_equal(st_store_apply_batch(s, &ap, 1, &err), 0);
    assert_int_equal(ap.action, ST_STORE_CREATED);
    const char *rv1 = md(ap.result, "resourceVersion");
    json_t *keep = json_incref(ap.result);
    st_store_ops_release(&ap, 1);
    assert_int_equal(st_store_apply_batch(s, &ap, 1, &err), 0);
    assert_int_equal(ap.action, ST_STORE_UNCHANGED);
    assert_string_equal(md(ap.result, "resourceVersion"), rv1);
    st_store_ops_release(&ap, 1);
    json_object_set_new(json_object_get(json_object_get(good, "metadata"), "labels"), "app",
                        json_string("y"));
    assert_int_equal(st_store_apply_batch(s, &ap, 1, &err), 0);
    assert_int_equal(ap.action, ST_STORE_CONFIGURED);
    assert_string_equal(md(ap.result, "uid"), md(keep, "uid"));
    st_store_ops_release(&ap, 1);

    /* a batch whose update conflicts undoes its delete */
    json_t *stale = json_deep_copy(keep);
    st_store_op ops2[2] = {{.op = ST_STORE_DELETE, .object = keep},
                           {.op = ST_STORE_UPDATE, .object = stale}};
    json_object_del(json_object_get(keep, "metadata"), "resourceVersion");
    st_error e3 = {0};
    assert_int_equal(st_store_apply_batch(s, ops2, 2, &e3), -ENOENT);
    assert_int_equal(st_store_get(s, "Pod", "default", "first", &o, &err), 0);
    json_decref(o);
    json_decref(stale);
    json_decref(keep);
    json_decref(good);
    json_decref(bad);
}

static void test_bind_pods(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        json_t *p = pod("default", name, "b", NULL, NULL);
        assert_int_equal(st_store_create(s, p, NULL, &err), 0);
        json_decref(p);
    }
    st_store_binding b[2] = {{"default", "p0", "n1"}, {NULL, "p1", "n2"}};
    assert_int_equal(st_store_bind_pods(s, b, 2, &err), 0);
    json_t *o = NULL;
    assert_int_equal(st_store_get(s, "Pod", "default", "p1", &o, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "spec"), "nodeName")),
                        "n2");
    json_decref(o);
    /* p2 is free but p0 is bound already: nothing of the batch happens */
    st_store_binding again[2] = {{"default", "p2", "n1"}, {"default", "p0", "n2"}};
    st_error e2 = {0};
    assert_int_equal(st_store_bind_pods(s, again, 2, &e2), -ST_ECONFLICT);
    assert_non_null(strstr(e2.msg, "p0"));
    assert_int_equal(count(s, (st_store_query){.kind = "Pod", .field_selector = "spec.nodeName="}),
                     1);
    st_store_binding missing = {"default", "ghost", "n1"};
    st_error e3 = {0};
    assert_int_equal(st_store_bind_pods(s, &missing, 1, &e3), -ENOENT);
}

static void test_events(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    const char *reasons[] = {"Scheduled", "Pulled", "Started"};
    for (int i = 0; i < 3; i++) {
        json_t *ev =
            json_pack("{s:{s:s, s:s, s:s}, s:s, s:s, s:{s:s}}", "involvedObject", "kind", "Pod",
                      "name", i == 1 ? "other" : "web-1", "namespace", "prod", "reason", reasons[i],
                      "message", "m", "source", "component", "scheduler");
        json_t *out = NULL;
        assert_int_equal(st_store_append_event(s, ev, &out, &err), 0);
        assert_string_equal(md(out, "namespace"), "prod");
        assert_int_equal(json_integer_value(json_object_get(out, "count")), 1);
        assert_string_equal(json_string_value(json_object_get(out, "type")), "Normal");
        assert_non_null(json_object_get(out, "firstTimestamp"));
        json_decref(ev);
        json_decref(out);
    }
    json_t *arr = NULL;
    st_store_query q = {.namespace = "prod"};
    assert_int_equal(st_store_list_events(s, &q, &arr, &err), 0);
    assert_int_equal(json_array_size(arr), 3);
    for (size_t i = 0; i < 3; i++) /* oldest first */
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, i), "reason")),
                            reasons[i]);
    json_decref(arr);
    st_store_query q2 = {.field_selector = "involvedObject.name=web-1"};
    assert_int_equal(st_store_list_events(s, &q2, &arr, &err), 0);
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);
}

static void test_cluster_scoped_node(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *n = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{s:s}}}", "apiVersion", "v1", "kind",
                          "Node", "metadata", "name", "node-1", "namespace", "ignored", "status",
                          "strata", "accel", "tcg");
    assert_int_equal(st_store_create(s, n, NULL, &err), 0);
    json_t *o = NULL;
    assert_int_equal(st_store_get(s, "Node", NULL, "node-1", &o, &err), 0);
    assert_null(md(o, "namespace"));
    json_decref(o);
    assert_int_equal(st_store_get(s, "Node", "whatever", "node-1", &o, &err), 0);
    json_decref(o);
    json_decref(n);
}

/* Namespaces are cluster-scoped as Nodes are (issue 13); the store keeps
 * them like any kind and never makes one by itself. */
static void test_cluster_scoped_namespace(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    json_t *items = NULL;
    st_store_query all = {.kind = "Namespace"};
    assert_int_equal(st_store_list(s, &all, &items, &err), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    json_t *n = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                          "Namespace", "metadata", "name", "shop", "namespace", "ignored", "labels",
                          "team", "a", "status", "phase", "Active");
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, n, &out, &err), 0);
    assert_null(md(out, "namespace"));
    assert_int_equal(st_store_create(s, n, NULL, &err), -EEXIST);
    json_decref(n);
    st_store_query sel = {.kind = "Namespace", .label_selector = "team=a"};
    assert_int_equal(st_store_list(s, &sel, &items, &err), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    json_object_set_new(json_object_get(out, "status"), "phase", json_string("Terminating"));
    json_t *upd = NULL;
    assert_int_equal(st_store_update(s, out, &upd, &err), 0);
    json_decref(upd);
    assert_int_equal(st_store_update(s, out, NULL, &err), -ST_ECONFLICT);
    json_decref(out);
    assert_int_equal(st_store_get(s, "Namespace", "whatever", "shop", &out, &err), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "status"), "phase")),
                        "Terminating");
    json_decref(out);
    assert_int_equal(st_store_delete(s, "Namespace", NULL, "shop", NULL, &err), 0);
    assert_int_equal(st_store_get(s, "Namespace", NULL, "shop", &out, &err), -ENOENT);
}

/* Services and Endpoints are namespaced kinds like the others (issue 11). */
static void test_services_and_endpoints(void **state)
{
    st_store *s = *state;
    st_error err = {0};
    static const char *const kinds[] = {"Service", "Endpoints"};
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", kinds[i],
                              "metadata", "name", "quote");
        json_t *out = NULL;
        assert_int_equal(st_store_create(s, o, &out, &err), 0);
        assert_string_equal(md(out, "namespace"), "default");
        json_decref(out);
        json_decref(o);
        st_store_query q = {.kind = kinds[i]};
        json_t *items = NULL;
        assert_int_equal(st_store_list(s, &q, &items, &err), 0);
        assert_int_equal(json_array_size(items), 1);
        json_decref(items);
        assert_int_equal(st_store_delete(s, kinds[i], "default", "quote", NULL, &err), 0);
        assert_int_equal(st_store_get(s, kinds[i], "default", "quote", &out, &err), -ENOENT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_assigns_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_selectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_all_or_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_scoped_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_and_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_scoped_namespace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
