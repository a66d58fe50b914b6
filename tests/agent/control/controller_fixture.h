/* controller_fixture.h: what the controller tests share: an in-memory
 * store with nodes and a "web" Deployment, one controller pass in stratad's
 * order, and a node's reports (pod status, pods stopped). Header-only:
 * each test program includes it once. */
#ifndef STRATA_TEST_CONTROLLER_FIXTURE_H
#define STRATA_TEST_CONTROLLER_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "strata/controller.h"
#include "strata/manifest.h"
#include "strata/store.h"

static const char *DEPLOY_YAML = "apiVersion: apps/v1\n"
                                 "kind: Deployment\n"
                                 "metadata: {name: web}\n"
                                 "spec:\n"
                                 "  replicas: %d\n"
                                 "  selector: {matchLabels: {app: web}}\n"
                                 "  template:\n"
                                 "    metadata: {labels: {app: web}}\n"
                                 "    spec:\n"
                                 "      containers:\n"
                                 "      - name: httpd\n"
                                 "        image: %s\n"
                                 "        resources: {requests: {cpu: 100m, memory: %s}}\n"
                                 "%s";

/* "web" as apply_deploy makes it, with pod_spec (lines indented 6 spaces,
 * as the pod template's spec fields) added to its pod template's spec. */
static inline void apply_deploy_with(st_store *s, int replicas, const char *image, const char *mem,
                                     const char *pod_spec)
{
    char text[2048];
    assert_true((size_t)snprintf(text, sizeof(text), DEPLOY_YAML, replicas, image, mem, pod_spec) <
                sizeof(text));
    json_t *objs = NULL;
    st_error err = {0};
    assert_int_equal(st_manifest_parse_string("t.yaml", text, strlen(text), &objs, NULL, &err), 0);
    st_store_op op = {.op = ST_STORE_APPLY, .object = json_array_get(objs, 0)};
    assert_int_equal(st_store_apply_batch(s, &op, 1, &err), 0);
    st_store_ops_release(&op, 1);
    json_decref(objs);
}

static inline void apply_deploy(st_store *s, int replicas, const char *image, const char *mem)
{
    apply_deploy_with(s, replicas, image, mem, "");
}

/* A node of 1000m and mem bytes, with labels (taken; NULL: none). */
static inline void add_labelled_node(st_store *s, const char *name, bool ready, long long mem,
                                     json_t *labels)
{
    json_t *n =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:[{s:s, s:s}], s:{s:I, s:I, s:s}}}", "apiVersion", "v1",
                  "kind", "Node", "metadata", "name", name, "status", "conditions", "type", "Ready",
                  "status", ready ? "True" : "False", "strata", "cpuMillis", (json_int_t)1000,
                  "memoryBytes", (json_int_t)mem, "phase", ready ? "Ready" : "NotReady");
    if (labels)
        json_object_set_new(json_object_get(n, "metadata"), "labels", labels);
    st_error err = {0};
    json_t *out = NULL;
    assert_int_equal(st_store_create(s, n, &out, &err), 0);
    json_decref(out);
    json_decref(n);
}

static inline void add_node(st_store *s, const char *name, bool ready, long long mem)
{
    add_labelled_node(s, name, ready, mem, NULL);
}

static inline json_t *pods(st_store *s)
{
    st_store_query q = {.kind = "Pod"};
    json_t *list = NULL;
    st_error err = {0};
    assert_int_equal(st_store_list(s, &q, &list, &err), 0);
    return list;
}

static inline const char *pod_node(json_t *p)
{
    return json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
}

static inline const char *pod_field(json_t *p, const char *f)
{
    return json_string_value(json_object_get(json_object_get(p, "metadata"), f));
}

/* The name and uid of the first pod listed. */
static inline void first_pod(st_store *s, char name[256], char uid[64])
{
    json_t *list = pods(s);
    assert_true(json_array_size(list) > 0);
    snprintf(name, 256, "%s", pod_field(json_array_get(list, 0), "name"));
    snprintf(uid, 64, "%s", pod_field(json_array_get(list, 0), "uid"));
    json_decref(list);
}

static inline int count_events(st_store *s, const char *reason)
{
    st_store_query q = {.kind = "Event"};
    json_t *evs = NULL;
    st_error err = {0};
    assert_int_equal(st_store_list_events(s, &q, &evs, &err), 0);
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        const char *r = json_string_value(json_object_get(e, "reason"));
        n += r && strcmp(r, reason) == 0;
    }
    json_decref(evs);
    return n;
}

static inline int setup(void **state)
{
    st_store *s = NULL;
    st_error err = {0};
    assert_int_equal(st_store_mem_open(&s, &err), 0);
    *state = s;
    return 0;
}

static inline int teardown(void **state)
{
    st_store_close(*state);
    return 0;
}

/* One controller pass, in stratad's order. */
static inline void reconcile(st_store *s, int *bound)
{
    st_error err = {0};
    assert_int_equal(st_control_gc(s, &err), 0);
    assert_int_equal(st_control_deployments(s, &err), 0);
    assert_int_equal(st_control_schedule(s, bound, &err), 0);
    assert_int_equal(st_control_deployments(s, &err), 0);
}

static inline bool terminating(json_t *p)
{
    return json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") != NULL;
}

/* Pods that are not Terminating (the replicas). */
static inline json_t *live(st_store *s)
{
    json_t *all = pods(s), *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(all, i, p) if (!terminating(p)) json_array_append(out, p);
    json_decref(all);
    return out;
}

/* Every pod, Terminating ones too. */
static inline size_t count_all(st_store *s)
{
    json_t *l = pods(s);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

static inline size_t count_live(st_store *s)
{
    json_t *l = live(s);
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

/* What a node reports about the pod with uid (a single container). */
static inline st_control_pod_report report(const char *uid, const char *phase, bool ready,
                                           int restarts, const char *reason)
{
    return (st_control_pod_report){.pod = "x",
                                   .uid = uid,
                                   .phase = phase,
                                   .ready = ready,
                                   .restarts = restarts,
                                   .has_exit_code = reason != NULL,
                                   .exit_code = 137,
                                   .reason = reason};
}

/* Each node stops its Terminating pods and says so, as strata-node does
 * after pod_stop (its last pod_status has "removed": true). */
static inline void nodes_stop_terminating(st_store *s)
{
    json_t *list = pods(s);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (!terminating(p) || !pod_node(p))
            continue;
        st_control_pod_report m = report(pod_field(p, "uid"), "Succeeded", false, 0, NULL);
        m.removed = true;
        st_error err = {0};
        assert_int_equal(st_control_pod_status(s, pod_node(p), &m, &err), 1);
    }
    json_decref(list);
}

/* Reports every pod Running and ready, each from the node it is bound to. */
static inline void report_all_ready(st_store *s)
{
    json_t *list = pods(s);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        if (!pod_node(p))
            continue;
        st_control_pod_report m = report(pod_field(p, "uid"), "Running", true, 0, NULL);
        st_error err = {0};
        assert_true(st_control_pod_status(s, pod_node(p), &m, &err) >= 0);
    }
    json_decref(list);
}

/* Replicas (pods not Terminating) bound to node. */
static inline int live_on(st_store *s, const char *node)
{
    json_t *l = live(s);
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(l, i, p) n += pod_node(p) && strcmp(pod_node(p), node) == 0;
    json_decref(l);
    return n;
}

#endif
