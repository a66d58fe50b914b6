/* dispatch.c: keeps each live node running exactly the pods the store binds
 * to it: pod_run (Secrets in env resolved by secret_env.c, so a node never
 * reads the store; the Services' variables added; the images pulled and
 * their config applied by image_pull.c) for pods bound and not yet sent, pod_stop for pods sent
 * that are no longer wanted there or are Terminating (once), and the end of a graceful deletion
 * when the node never had the pod. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/node_proto.h"
#include "strata/service_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "node-controller"

static void pod_config_error(struct st_server *d, const char *node, json_t *pod, const char *msg)
{
    json_t *md = json_object_get(pod, "metadata");
    const char *uid = json_string_value(json_object_get(md, "uid"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *old = json_string_value(json_object_get(json_object_get(pod, "status"), "message"));
    if (old && strcmp(old, msg) == 0)
        return;
    struct st_proto_pod_status ps = {
        .pod = name, .uid = uid, .phase = "Pending", .reason = "CreateContainerConfigError"};
    json_t *m = NULL;
    if (st_proto_pod_status_build(&ps, &m, NULL) == 0) {
        json_object_set_new(m, "message", json_string(msg));
        json_object_set_new(m, "seq", json_integer(0));
        st_server_pod_status(d, node, m, NULL);
        json_decref(m);
    }
    st_event_record(d->store, "Pod", ns, name, "Warning", "Failed", COMPONENT, "%s", msg);
}

static int send_run(struct st_server *d, const char *node, json_t *pod, st_error *err)
{
    json_t *md = json_object_get(pod, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    _cleanup_json_ json_t *spec = json_deep_copy(json_object_get(pod, "spec"));
    int r = st_server_secret_env(d->store, ns, spec, err);
    if (r < 0) {
        pod_config_error(d, node, pod, err->msg);
        return r;
    }
    /* Kubelet's Service variables, for the Services that exist now. */
    st_store_query sq = {.kind = "Service", .namespace = ns};
    _cleanup_json_ json_t *services = NULL;
    if ((r = st_store_list(d->store, &sq, &services, err)) < 0)
        return r;
    _cleanup_json_ json_t *svc_env = st_service_env(services, ns);
    st_service_env_merge(spec, svc_env);
    /* last: the pod's env (with the Services') goes over the image's */
    if ((r = st_server_images_prepare(d, node, pod, spec, err)) < 0) {
        if (r != -EAGAIN && r != -ENOENT)
            pod_config_error(d, node, pod, err->msg);
        return r;
    }
    struct st_proto_pod_run pr = {.pod = json_string_value(json_object_get(md, "name")),
                                  .uid = json_string_value(json_object_get(md, "uid")),
                                  .spec = spec};
    _cleanup_json_ json_t *msg = NULL;
    if ((r = st_proto_pod_run_build(&pr, &msg, err)) < 0)
        return r;
    json_object_set_new(msg, "namespace", json_string(ns));
    return d->vmm.ops->node_send(d->vmm.ctx, node, msg, err);
}

static int send_stop(struct st_server *d, const char *node, const char *uid, const char *pod,
                     st_error *err)
{
    struct st_proto_pod_stop ps = {.pod = pod, .uid = uid};
    _cleanup_json_ json_t *msg = NULL;
    int r = st_proto_pod_stop_build(&ps, &msg, err);
    if (r < 0)
        return r;
    return d->vmm.ops->node_send(d->vmm.ctx, node, msg, err);
}

/* Graceful deletion (controller_gc.c): a Terminating pod is stopped like a
 * pod no longer wanted, but its entry in rt->sent becomes true ("pod_stop
 * sent") until the node's last pod_status removes the pod from the store;
 * pod_stop is not sent twice. Returns whether uid needs a pod_stop now. */
static bool stop_due(struct st_server *d, const char *node, const char *uid, json_t *sent_as,
                     json_t *leaving)
{
    if (!json_is_true(sent_as))
        return true;
    if (!json_object_get(leaving, uid)) {
        /* The store forgot it: nothing is left to wait for. */
        pthread_mutex_lock(&d->lock);
        struct st_server_node *rt = st_server_node_find(d, node);
        if (rt)
            json_object_del(rt->sent, uid);
        pthread_mutex_unlock(&d->lock);
    }
    return false;
}

static void stop_sent(struct st_server *d, const char *node, const char *uid, json_t *leaving)
{
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, node);
    if (rt && json_object_get(leaving, uid))
        json_object_set_new(rt->sent, uid, json_true());
    else if (rt)
        json_object_del(rt->sent, uid);
    pthread_mutex_unlock(&d->lock);
}

/* Terminating pods the node was never sent (or reported gone at hello):
 * nothing runs them, so their deletion ends now. */
static void finish_unsent(struct st_server *d, json_t *sent, json_t *leaving)
{
    const char *uid;
    json_t *p;
    json_object_foreach(leaving, uid, p)
    {
        if (json_object_get(sent, uid))
            continue;
        json_t *md = json_object_get(p, "metadata");
        st_error err = {0};
        if (st_control_pod_stopped(d->store, json_string_value(json_object_get(md, "namespace")),
                                   json_string_value(json_object_get(md, "name")), uid, &err) < 0)
            st_server_log("pod %s: ending its deletion: %s",
                          json_string_value(json_object_get(md, "name")), err.msg);
    }
}

void st_server_nodes_dispatch(struct st_server *d)
{
    st_store_query q = {.kind = "Pod"};
    _cleanup_json_ json_t *pods = NULL;
    st_error err = {0};
    if (st_store_list(d->store, &q, &pods, &err) < 0) {
        st_server_log("dispatch: %s", err.msg);
        return;
    }
    /* Snapshot the live nodes and what each was sent. */
    char names[64][64];
    json_t *sent[64];
    size_t nn = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node *n = d->nodes; n && nn < 64; n = n->next) {
        if (n->dead || !n->connected || n->fencing)
            continue;
        snprintf(names[nn], sizeof(names[0]), "%s", n->name);
        sent[nn++] = json_deep_copy(n->sent);
    }
    pthread_mutex_unlock(&d->lock);

    _cleanup_json_ json_t *pending = json_object(); /* uid -> pod not sent yet */
    for (size_t k = 0; k < nn; k++) {
        const char *node = names[k];
        _cleanup_json_ json_t *want = json_object();    /* uid -> pod, what should run there */
        _cleanup_json_ json_t *leaving = json_object(); /* uid -> Terminating pod bound there */
        size_t i;
        json_t *p;
        json_array_foreach(pods, i, p)
        {
            const char *on =
                json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
            if (!on || strcmp(on, node) != 0 || st_pod_is_terminal(p))
                continue;
            const char *uid =
                json_string_value(json_object_get(json_object_get(p, "metadata"), "uid"));
            if (uid)
                json_object_set(st_pod_is_terminating(p) ? leaving : want, uid, p);
        }
        const char *uid;
        json_t *p2;
        json_object_foreach(want, uid, p2)
        {
            if (json_object_get(sent[k], uid))
                continue;
            st_error serr = {0};
            json_object_set(pending, uid, p2);
            if (send_run(d, node, p2, &serr) < 0) {
                if (serr.code != ENOENT && serr.code != EINVAL && serr.code != EAGAIN)
                    st_server_log("node %s: pod_run: %s", node, serr.msg);
                continue;
            }
            json_object_del(pending, uid);
            const char *pname =
                json_string_value(json_object_get(json_object_get(p2, "metadata"), "name"));
            pthread_mutex_lock(&d->lock);
            struct st_server_node *rt = st_server_node_find(d, node);
            if (rt)
                json_object_set_new(rt->sent, uid, json_string(pname ? pname : ""));
            pthread_mutex_unlock(&d->lock);
        }
        void *tmp;
        json_t *pname;
        json_object_foreach_safe(sent[k], tmp, uid, pname)
        {
            if (json_object_get(want, uid) || !stop_due(d, node, uid, pname, leaving))
                continue;
            st_error serr = {0};
            if (send_stop(d, node, uid, json_string_value(pname), &serr) < 0) {
                st_server_log("node %s: pod_stop: %s", node, serr.msg);
                continue;
            }
            stop_sent(d, node, uid, leaving);
        }
        finish_unsent(d, sent[k], leaving);
        json_decref(sent[k]);
    }
    /* pulls for pods sent or gone are over */
    st_server_pulls_prune(d, pending);
}
