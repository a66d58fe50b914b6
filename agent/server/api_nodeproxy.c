/* api_nodeproxy.c: GET /api/v1/nodes/NAME/proxy/pods, the kubelet's /pods:
 * what the node itself says it runs now, as a PodList. It is asked over
 * the node channel (pods_query) and never read from the store, so a check
 * can hold the store against the nodes (bench/chaos does: a pod running
 * on two nodes, or more copies than a Deployment allows, shows here even
 * when the store is wrong).
 *
 * The API thread leaves its question in the server's table and waits on
 * the server's condition variable; the controller loop, the one thread
 * that writes to node channels, sends it, and hands the answer over when
 * it comes in with the node's other messages. The question lives on the
 * asking thread's stack: the loop only ever finds it by id under the lock,
 * so a question that timed out and left is simply not found. */
#include "api_priv.h"
#include "strata/clock.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A node on the channel answers in milliseconds; a loaded TCG guest in a
 * second or two. Longer means it is not answering. */
#define QUERY_TIMEOUT_MS 5000
/* Questions the loop sends per pass. */
#define SEND_MAX 32

/* ---- the loop's side ------------------------------------------------------ */

/* [lock] */
static struct st_server_node_query *query_find(struct st_server *d, int64_t id)
{
    for (struct st_server_node_query *q = d->queries; q; q = q->next)
        if (q->id == id)
            return q;
    return NULL;
}

/* [lock] */
static void query_fail(struct st_server_node_query *q, const char *why)
{
    q->failed = true;
    snprintf(q->why, sizeof(q->why), "%.255s", why);
}

void st_server_node_queries_send(struct st_server *d)
{
    struct {
        int64_t id;
        char node[sizeof(((struct st_server_node_query *)0)->node)];
    } due[SEND_MAX];
    size_t n = 0;
    pthread_mutex_lock(&d->lock);
    for (struct st_server_node_query *q = d->queries; q && n < SEND_MAX; q = q->next) {
        if (q->sent)
            continue;
        q->sent = true;
        due[n].id = q->id;
        snprintf(due[n].node, sizeof(due[n].node), "%s", q->node);
        n++;
    }
    pthread_mutex_unlock(&d->lock);
    for (size_t i = 0; i < n; i++) {
        st_error err = {0};
        _cleanup_json_ json_t *msg = NULL;
        if (st_proto_pods_query_build(due[i].id, &msg, &err) == 0 &&
            d->vmm.ops->node_send(d->vmm.ctx, due[i].node, msg, &err) == 0)
            continue;
        pthread_mutex_lock(&d->lock);
        struct st_server_node_query *q = query_find(d, due[i].id);
        if (q)
            query_fail(q, err.msg);
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
    }
}

void st_server_node_queries_answer(struct st_server *d, const char *node, json_t *msg)
{
    st_error err = {0};
    int64_t id = 0;
    json_t *pods = NULL;
    if (st_proto_pods_parse(msg, &id, &pods, &err) < 0) {
        st_server_log("node %s: bad pods answer: %s", node, err.msg);
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct st_server_node_query *q = query_find(d, id);
    /* The answer must come from the node asked: ids are the server's own. */
    if (q && strcmp(q->node, node) == 0 && q->pods == NULL && !q->failed) {
        q->pods = json_incref(pods);
        pthread_cond_broadcast(&d->changed);
    }
    pthread_mutex_unlock(&d->lock);
}

void st_server_node_queries_fail(struct st_server *d, const char *node, const char *why)
{
    pthread_mutex_lock(&d->lock);
    bool any = false;
    for (struct st_server_node_query *q = d->queries; q; q = q->next)
        if (strcmp(q->node, node) == 0 && q->pods == NULL && !q->failed) {
            query_fail(q, why);
            any = true;
        }
    if (any)
        pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
}

/* ---- the API's side ------------------------------------------------------- */

static void set_str(json_t *obj, const char *key, json_t *from, const char *from_key)
{
    json_t *v = json_object_get(from, from_key);
    if (json_is_string(v))
        json_object_set(obj, key, v);
}

/* One pod state of the node's (pod_status-shaped) as a Pod: what the node
 * knows of it, nothing from the store. */
static json_t *pod_of_state(const char *node, json_t *st)
{
    const char *ns = json_string_value(json_object_get(st, "namespace"));
    json_t *pod =
        json_pack("{s:s, s:s, s:{s:O, s:s, s:O}, s:{s:s}, s:{s:O, s:[{s:s, s:s}]}}", "apiVersion",
                  "v1", "kind", "Pod", "metadata", "name", json_object_get(st, "pod"), "namespace",
                  ns ? ns : "default", "uid", json_object_get(st, "uid"), "spec", "nodeName", node,
                  "status", "phase", json_object_get(st, "phase"), "conditions", "type", "Ready",
                  "status", json_is_true(json_object_get(st, "ready")) ? "True" : "False");
    if (pod == NULL)
        return NULL;
    json_t *status = json_object_get(pod, "status");
    set_str(status, "podIP", st, "podIP");
    set_str(status, "startTime", st, "startedAt");
    set_str(status, "reason", st, "reason");
    set_str(status, "message", st, "message");
    json_t *ctrs = json_object_get(st, "containerStatuses");
    if (json_is_array(ctrs))
        json_object_set(status, "containerStatuses", ctrs);
    return pod;
}

static int reply_pods(struct st_server_call *c, const char *node, json_t *pods)
{
    _cleanup_json_ json_t *list = json_pack("{s:s, s:s, s:{}, s:[]}", "kind", "PodList",
                                            "apiVersion", "v1", "metadata", "items");
    if (list == NULL)
        return -ENOMEM;
    json_t *items = json_object_get(list, "items");
    size_t i;
    json_t *st;
    json_array_foreach(pods, i, st)
    {
        json_t *pod = pod_of_state(node, st);
        if (pod == NULL || json_array_append_new(items, pod) < 0)
            return -ENOMEM;
    }
    return st_server_api_reply_json(c, 200, list);
}

static bool passed(const struct timespec *dl)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > dl->tv_sec || (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

int st_server_api_node_pods(struct st_server_call *c, const char *name)
{
    struct st_server *d = c->d;
    _cleanup_json_ json_t *node = st_server_node_get(d, name);
    if (node == NULL)
        return st_server_api_reply_status(c, 404, "nodes \"%s\" not found", name);
    struct st_server_node_query q = {0};
    snprintf(q.node, sizeof(q.node), "%s", name);
    pthread_mutex_lock(&d->lock);
    struct st_server_node *rt = st_server_node_find(d, name);
    bool up = rt && rt->connected && !rt->dead && !rt->fencing;
    if (up) {
        q.id = ++d->query_seq;
        q.next = d->queries;
        d->queries = &q;
    }
    pthread_mutex_unlock(&d->lock);
    if (!up)
        return st_server_api_reply_status(c, 503,
                                          "node %s is not connected (%s): it cannot say what it "
                                          "runs; ask again once it is Ready",
                                          name, st_server_node_phase(node));
    st_server_kick(d);
    struct timespec dl = st_clock_deadline(CLOCK_REALTIME, QUERY_TIMEOUT_MS);
    pthread_mutex_lock(&d->lock);
    while (q.pods == NULL && !q.failed && !atomic_load(&d->stopping) && !passed(&dl))
        pthread_cond_timedwait(&d->changed, &d->lock, &dl);
    for (struct st_server_node_query **p = &d->queries; *p; p = &(*p)->next)
        if (*p == &q) {
            *p = q.next;
            break;
        }
    pthread_mutex_unlock(&d->lock);
    _cleanup_json_ json_t *pods = q.pods;
    if (pods)
        return reply_pods(c, name, pods);
    if (q.failed)
        return st_server_api_reply_status(c, 503, "node %s could not be asked what it runs: %s",
                                          name, q.why);
    if (atomic_load(&d->stopping))
        return st_server_api_reply_status(c, 503, "stratad is stopping; ask again once it is back");
    return st_server_api_reply_status(c, 504,
                                      "node %s did not say what it runs within %d ms: it may be "
                                      "overloaded or hung; see its console log in the state dir's "
                                      "nodes/ folder",
                                      name, QUERY_TIMEOUT_MS);
}
