/* image_pull.c: a pod's images made ready before its pod_run, as kubelet
 * does it: each container's image resolved in the store, pulled first
 * when it names a registry and imagePullPolicy asks (Always for :latest or
 * no tag, else IfNotPresent; Never only takes what is there), the image
 * config applied, and the container rewritten as the node reads it.
 *
 * A pull runs in a worker thread (never on the loop thread: a registry may
 * take minutes); the pod waits, ContainerCreating. A failed pull shows
 * ErrImagePull, then ImagePullBackOff until the back-off (10 s doubling to
 * 5 min, kubelet's) lets the next try start, with kubelet's events:
 * Pulling, Pulled, Failed, BackOff. The store makes two pulls of one image
 * download it once. */
#include "server_priv.h"
#include "strata/cleanup.h"
#include "strata/controller.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT        "kubelet"
#define BACKOFF_FIRST_NS (10LL * 1000000000)
#define BACKOFF_MAX_NS   (300LL * 1000000000)
/* ErrImagePull shows this long before ImagePullBackOff (kubelet's next
 * sync of the pod), unless the back-off is over first. */
#define ERR_SHOWN_NS (2LL * 1000000000)
#define PASSWD_MAX   (1 << 20)

/* One container's pull, kept until the pod is sent or gone. */
struct st_server_pull {
    struct st_server_pull *next;
    char key[320];   /* "<pod uid>/<container>" */
    char name[512];  /* the store's name of the image */
    char image[512]; /* as the pod wrote it, for messages */
    char *auth;      /* the pod's registry credentials (owned), NULL: none */
    bool running;    /* a worker pulls now */
    bool done;       /* the worker finished: ok or error below */
    bool ok;
    bool said; /* this outcome's status and events are written */
    bool said_backoff;
    int failures;
    int64_t failed_ns, retry_ns;
    struct st_image_pull_report rep;
    char error[ST_ERROR_MSG_MAX];
};

struct pull_job {
    struct st_server *d;
    struct st_server_pull *p; /* stays in d->pulls while running */
};

/* ---- the worker ---------------------------------------------------------- */

static void *pull_worker(void *arg)
{
    struct pull_job *job = arg;
    struct st_server *d = job->d;
    struct st_server_pull *p = job->p;
    free(job);
    /* name and auth do not change while running: read without the lock */
    struct st_image_pull_report rep = {0};
    st_error err = {0};
    int r = st_image_pull(d->images, p->name, p->auth, &rep, &err);
    /* logged first: once running is false the loop may forget p */
    st_server_log("image %s: %s%s", p->name,
                  r == 0 ? "pulled" : "pull failed: ", r == 0 ? "" : err.msg);
    pthread_mutex_lock(&d->lock);
    p->running = false;
    p->done = true;
    p->ok = r == 0;
    p->said = p->said_backoff = false;
    p->rep = rep;
    snprintf(p->error, sizeof(p->error), "%s", err.msg);
    pthread_mutex_unlock(&d->lock);
    st_server_kick(d);
    atomic_fetch_sub(&d->workers, 1);
    return NULL;
}

/* Starts p's worker. Called with d->lock held. */
static int pull_start(struct st_server *d, struct st_server_pull *p, st_error *err)
{
    struct pull_job *job = malloc(sizeof(*job));
    if (job == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    *job = (struct pull_job){.d = d, .p = p};
    p->running = true;
    p->done = false;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&d->workers, 1);
    int r = pthread_create(&th, &attr, pull_worker, job);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        atomic_fetch_sub(&d->workers, 1);
        p->running = false;
        free(job);
        return st_error_set(err, EAGAIN, "image %s: cannot start a pull thread", p->image);
    }
    return 0;
}

/* ---- the pod's status while it waits --------------------------------------- */

/* Pending, with the container waiting for reason (the others still
 * ContainerCreating), unless the pod already says exactly that. */
static void pod_waiting(struct st_server *d, const char *node, json_t *pod, const char *ctr,
                        const char *reason, const char *message)
{
    json_t *md = json_object_get(pod, "metadata");
    json_t *st = json_object_get(pod, "status");
    const char *old_reason = json_string_value(json_object_get(st, "reason"));
    const char *old_msg = json_string_value(json_object_get(st, "message"));
    if (old_reason && old_msg && strcmp(old_reason, reason) == 0 && strcmp(old_msg, message) == 0)
        return;
    _cleanup_json_ json_t *containers = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        bool this = name && strcmp(name, ctr) == 0;
        json_array_append_new(containers,
                              json_pack("{s:s, s:s, s:b, s:b, s:i, s:{s:{s:s, s:s}}, s:{}}", "name",
                                        name ? name : "", "image",
                                        json_string_value(json_object_get(c, "image")), "ready", 0,
                                        "started", 0, "restartCount", 0, "state", "waiting",
                                        "reason", this ? reason : "ContainerCreating", "message",
                                        this ? message : "", "lastState"));
    }
    struct st_proto_pod_status ps = {.pod = json_string_value(json_object_get(md, "name")),
                                     .uid = json_string_value(json_object_get(md, "uid")),
                                     .phase = "Pending",
                                     .reason = reason,
                                     .message = message,
                                     .containers = containers};
    _cleanup_json_ json_t *m = NULL;
    if (st_proto_pod_status_build(&ps, &m, NULL) == 0) {
        json_object_set_new(m, "seq", json_integer(0));
        json_object_set(m, "namespace", json_object_get(md, "namespace"));
        st_server_pod_status(d, node, m, NULL);
    }
}

static void pod_event(struct st_server *d, json_t *pod, const char *type, const char *reason,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void pod_event(struct st_server *d, json_t *pod, const char *type, const char *reason,
                      const char *fmt, ...)
{
    char msg[ST_ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *md = json_object_get(pod, "metadata");
    st_event_record(d->store, "Pod", json_string_value(json_object_get(md, "namespace")),
                    json_string_value(json_object_get(md, "name")), type, reason, COMPONENT, "%s",
                    msg);
}

/* Go's time.Duration text, as kubelet's Pulled event writes it. */
static void go_duration(int64_t ms, char *out, size_t len)
{
    if (ms < 1000)
        snprintf(out, len, "%lldms", (long long)ms);
    else
        snprintf(out, len, "%.3gs", (double)ms / 1000.0);
}

/* ---- pulling per imagePullPolicy --------------------------------------- */

static struct st_server_pull *pull_find(struct st_server *d, const char *key)
{
    for (struct st_server_pull *p = d->pulls; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    return NULL;
}

/* kubelet's default: :latest or no tag (a digest alone is fixed) pulls
 * every time the pod starts. */
static const char *pull_policy(json_t *c, const struct st_image_ref *ref)
{
    const char *policy = json_string_value(json_object_get(c, "imagePullPolicy"));
    if (policy)
        return policy;
    return strcmp(ref->tag, "latest") == 0 ? "Always" : "IfNotPresent";
}

/* Whether the image of container c (named name in the store) is ready:
 * 1 yes, it was there; 0 yes, just pulled; -EAGAIN a pull runs or backs
 * off, or the image cannot be had, or the pod's pull Secrets are wrong
 * (status and events written); another error: no thread or memory. */
static int image_ready(struct st_server *d, const char *node, json_t *pod, json_t *c,
                       const char *name, const struct st_image_ref *ref, st_error *err)
{
    const char *image = json_string_value(json_object_get(c, "image"));
    const char *ctr = json_string_value(json_object_get(c, "name"));
    const char *policy = pull_policy(c, ref);
    bool present = st_image_lookup(d->images, name, NULL, NULL) == 0;
    if (ref->host[0] == '\0' || strcmp(policy, "Never") == 0) {
        if (present)
            return 1;
        const char *why = ref->host[0] == '\0'
                              ? "is not in the image store and names no registry: import it "
                                "with `stratactl image import`"
                              : "is not present with pull policy of Never";
        char msg[ST_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "Container image \"%s\" %s", image, why);
        pod_waiting(d, node, pod, ctr, "ErrImageNeverPull", msg);
        return st_error_set(err, EAGAIN, "%s", msg);
    }

    const char *uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    char key[320];
    snprintf(key, sizeof(key), "%s/%s", uid ? uid : "", ctr ? ctr : "");
    int64_t now = st_server_now_ns(d);
    pthread_mutex_lock(&d->lock);
    struct st_server_pull *p = pull_find(d, key);
    pthread_mutex_unlock(&d->lock);
    /* a pull of this pod's (even one that made the image present) is
     * followed to its end: its outcome has events to say */
    if (p == NULL && present && strcmp(policy, "IfNotPresent") == 0)
        return 1;
    if (p == NULL) {
        /* the Secrets are read before the lock is taken (no I/O under it);
         * only this thread adds pulls */
        char *auth = NULL;
        const char *ns =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
        int r = st_server_image_pull_auth(d->store, ns, json_object_get(pod, "spec"), &auth, err);
        if (r < 0) {
            /* the Secret may come: looked at again next pass */
            pod_waiting(d, node, pod, ctr, "ErrImagePull", err->msg);
            return -EAGAIN;
        }
        if ((p = calloc(1, sizeof(*p))) == NULL) {
            free(auth);
            return st_error_set(err, ENOMEM, "out of memory");
        }
        pthread_mutex_lock(&d->lock);
        snprintf(p->key, sizeof(p->key), "%s", key);
        snprintf(p->name, sizeof(p->name), "%s", name);
        snprintf(p->image, sizeof(p->image), "%s", image);
        p->auth = auth;
        p->next = d->pulls;
        d->pulls = p;
        if ((r = pull_start(d, p, err)) < 0) {
            pthread_mutex_unlock(&d->lock);
            return r;
        }
        pthread_mutex_unlock(&d->lock);
        pod_event(d, pod, "Normal", "Pulling", "Pulling image \"%s\"", image);
        pod_waiting(d, node, pod, ctr, "ContainerCreating", "");
        return -EAGAIN;
    }
    pthread_mutex_lock(&d->lock);
    if (p->running) {
        pthread_mutex_unlock(&d->lock);
        return -EAGAIN;
    }
    struct st_server_pull seen = *p; /* the outcome, read under the lock */
    if (p->ok) {
        p->said = true;
        pthread_mutex_unlock(&d->lock);
        if (!seen.said) {
            char took[32];
            go_duration(seen.rep.ms, took, sizeof(took));
            pod_event(d, pod, "Normal", "Pulled",
                      "Successfully pulled image \"%s\" in %s (%s including waiting). Image "
                      "size: %lld bytes.",
                      image, took, took, (long long)seen.rep.size);
        }
        return 0;
    }
    if (!p->said) {
        /* the outcome the worker just left: ErrImagePull, the back-off starts */
        p->said = true;
        p->failures++;
        p->failed_ns = now;
        int64_t wait = BACKOFF_FIRST_NS;
        for (int i = 1; i < p->failures && wait < BACKOFF_MAX_NS; i++)
            wait *= 2;
        p->retry_ns = now + (wait < BACKOFF_MAX_NS ? wait : BACKOFF_MAX_NS);
        pthread_mutex_unlock(&d->lock);
        char msg[ST_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof(msg), "%s", seen.error);
        pod_event(d, pod, "Warning", "Failed", "Failed to pull image \"%s\": %s", image, msg);
        pod_event(d, pod, "Warning", "Failed", "Error: ErrImagePull");
        pod_waiting(d, node, pod, ctr, "ErrImagePull", msg);
        return -EAGAIN;
    }
    if (now < p->retry_ns) {
        bool say = !p->said_backoff && now >= p->failed_ns + ERR_SHOWN_NS;
        if (say)
            p->said_backoff = true;
        pthread_mutex_unlock(&d->lock);
        if (say) {
            char msg[700];
            snprintf(msg, sizeof(msg), "Back-off pulling image \"%s\"", image);
            pod_event(d, pod, "Normal", "BackOff", "%s", msg);
            pod_event(d, pod, "Warning", "Failed", "Error: ImagePullBackOff");
            pod_waiting(d, node, pod, ctr, "ImagePullBackOff", msg);
        }
        return -EAGAIN;
    }
    /* the back-off is over: the next try */
    int r = pull_start(d, p, err);
    pthread_mutex_unlock(&d->lock);
    if (r < 0)
        return r;
    pod_event(d, pod, "Normal", "Pulling", "Pulling image \"%s\"", image);
    return -EAGAIN;
}

/* ---- the image config on the container --------------------------------- */

/* The image's file at path, NULL when it has none (or it is too big). */
static char *image_file(struct st_server *d, json_t *image, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (st_image_read_file(d->images, image, path, PASSWD_MAX, &text, &len, NULL) < 0)
        return NULL;
    return text;
}

/* c rewritten as the node runs it, from the image and process (see
 * st_image_process). The pod-level runAsUser/runAsGroup apply under the
 * container's own, as Kubernetes merges them. */
static int apply_image(struct st_server *d, json_t *pod_spec, json_t *c, json_t *image,
                       st_error *err)
{
    json_t *sc = json_object_get(c, "securityContext");
    if (!json_is_object(sc)) {
        sc = json_object();
        json_object_set_new(c, "securityContext", sc);
    }
    json_t *pod_sc = json_object_get(pod_spec, "securityContext");
    static const char *const ids[] = {"runAsUser", "runAsGroup"};
    for (size_t i = 0; i < 2; i++)
        if (json_object_get(sc, ids[i]) == NULL && json_object_get(pod_sc, ids[i]))
            json_object_set(sc, ids[i], json_object_get(pod_sc, ids[i]));

    _cleanup_free_ char *passwd = image_file(d, image, "etc/passwd");
    _cleanup_free_ char *group = image_file(d, image, "etc/group");
    _cleanup_json_ json_t *proc = NULL;
    int r = st_image_process(c, json_object_get(image, "config"), passwd, group, &proc, err);
    if (r < 0) {
        st_error_prefix(err,
                        "container %s, image %s: ", json_string_value(json_object_get(c, "name")),
                        json_string_value(json_object_get(c, "image")));
        return r;
    }
    json_t *env = json_array();
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(proc, "env"), i, kv)
    {
        const char *s = json_string_value(kv);
        const char *eq = strchr(s, '=');
        json_array_append_new(
            env, json_pack("{s:s%, s:s}", "name", s, (size_t)(eq - s), "value", eq + 1));
    }
    json_object_set(c, "command", json_object_get(proc, "args"));
    json_object_set_new(c, "args", json_array());
    json_object_set_new(c, "env", env);
    json_object_set(c, "workingDir", json_object_get(proc, "cwd"));
    json_object_set(sc, "runAsUser", json_object_get(proc, "uid"));
    json_object_set(sc, "runAsGroup", json_object_get(proc, "gid"));
    json_object_set(c, "imageLayers", json_object_get(image, "layers"));
    return 0;
}

/* The images' ExposedPorts, container -> ["8080/tcp", ...], as the
 * annotation strata.io/exposed-ports (JSON) that describe pod shows: the
 * pod spec has no field for what the image says it serves. */
static int exposed_fn(json_t *obj, void *arg, st_error *err)
{
    (void)err;
    json_t *md = json_object_get(obj, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    const char *old = json_string_value(json_object_get(ann, ST_SERVER_EXPOSED_PORTS));
    if (old && strcmp(old, arg) == 0)
        return 0;
    json_object_set_new(ann, ST_SERVER_EXPOSED_PORTS, json_string(arg));
    return 1;
}

static void note_exposed_ports(struct st_server *d, json_t *pod, json_t *exposed)
{
    if (json_object_size(exposed) == 0)
        return;
    _cleanup_free_ char *text = json_dumps(exposed, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *md = json_object_get(pod, "metadata");
    st_error err = {0};
    if (text &&
        st_store_mutate(d->store, "Pod", json_string_value(json_object_get(md, "namespace")),
                        json_string_value(json_object_get(md, "name")), exposed_fn, text, NULL,
                        &err) < 0)
        st_server_log("pod %s: noting its image's ports: %s",
                      json_string_value(json_object_get(md, "name")), err.msg);
}

int st_server_images_prepare(struct st_server *d, const char *node, json_t *pod, json_t *spec,
                             st_error *err)
{
    size_t i;
    json_t *c;
    int waiting = 0;
    _cleanup_json_ json_t *present = json_array();
    _cleanup_json_ json_t *exposed = json_object();
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        const char *image = json_string_value(json_object_get(c, "image"));
        struct st_image_ref ref;
        char name[512];
        int r = st_image_ref_parse(image, &ref, err);
        if (r < 0) {
            pod_waiting(d, node, pod, json_string_value(json_object_get(c, "name")),
                        "InvalidImageName", err->msg);
            return r;
        }
        st_image_ref_format(&ref, name, sizeof(name));
        st_error rerr = {0};
        if ((r = image_ready(d, node, pod, c, name, &ref, &rerr)) < 0) {
            if (r != -EAGAIN) {
                *err = rerr;
                return r;
            }
            waiting++;
            continue;
        }
        if (r == 1)
            json_array_append(present, json_object_get(c, "image"));
        _cleanup_json_ json_t *resolved = NULL;
        if ((r = st_image_resolve(d->images, name, &resolved, err)) < 0 ||
            (r = apply_image(d, spec, c, resolved, err)) < 0)
            return r;
        json_t *ports = json_object_get(json_object_get(resolved, "config"), "ExposedPorts");
        if (json_object_size(ports) > 0) {
            json_t *list = json_array();
            const char *port;
            json_t *v;
            json_object_foreach(ports, port, v) json_array_append_new(list, json_string(port));
            json_object_set_new(exposed, json_string_value(json_object_get(c, "name")), list);
        }
    }
    if (waiting > 0)
        return st_error_set(err, EAGAIN, "waiting for %d image%s", waiting,
                            waiting == 1 ? "" : "s");
    note_exposed_ports(d, pod, exposed);
    json_t *img;
    json_array_foreach(present, i, img)
        pod_event(d, pod, "Normal", "Pulled", "Container image \"%s\" already present on machine",
                  json_string_value(img));
    return 0;
}

/* ---- bookkeeping ---------------------------------------------------------- */

static void pull_free(struct st_server_pull *p)
{
    free(p->auth);
    free(p);
}

void st_server_pulls_prune(struct st_server *d, json_t *uids)
{
    pthread_mutex_lock(&d->lock);
    for (struct st_server_pull **pp = &d->pulls; *pp;) {
        struct st_server_pull *p = *pp;
        char uid[320];
        snprintf(uid, sizeof(uid), "%s", p->key);
        char *slash = strchr(uid, '/');
        if (slash)
            *slash = '\0';
        if (p->running || json_object_get(uids, uid)) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        pull_free(p);
    }
    pthread_mutex_unlock(&d->lock);
}

void st_server_pulls_free(struct st_server *d)
{
    /* after the workers drained: one still running keeps its entry (and
     * the store) alive, leaked rather than freed under it */
    for (struct st_server_pull *p = d->pulls, *next; p; p = next) {
        next = p->next;
        if (!p->running)
            pull_free(p);
    }
    d->pulls = NULL;
}
