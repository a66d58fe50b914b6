/* describe.c: `stratactl describe KIND [NAME...]`: GET each object and the
 * event list (and for a node the pods bound to it, for a service its
 * Endpoints), then print the object's detailed view with the events about
 * it. What is related is best effort: the object is shown even when it
 * cannot be read. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"

/* The events about one object, a new array; NULL when all is NULL. */
static json_t *events_about(json_t *all, const struct stctl_fmt_kind *k, const char *ns,
                            json_t *obj)
{
    if (all == NULL)
        return NULL;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    json_t *mine = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(all, "items"), i, ev)
    {
        if (stctl_fmt_event_is_about(ev, k->kind, k->namespaced ? ns : NULL, name))
            json_array_append(mine, ev);
    }
    return mine;
}

/* The pods bound to a node, in every namespace; NULL when they cannot be
 * read (said on stderr). */
static json_t *pods_on(struct stctl *ctl, json_t *node)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
    st_error err = {0};
    _cleanup_free_ char *extra = NULL, *path = NULL;
    char *esc = curl_easy_escape(NULL, name ? name : "", 0);
    int r = esc && asprintf(&extra, "fieldSelector=spec.nodeName%%3D%s", esc) >= 0 ? 0 : -1;
    curl_free(esc);
    struct stctl_listing every = {.all_ns = true};
    json_t *reply = NULL;
    stctl_client *cl = stctl_connect(ctl, &err);
    if (r == 0 && cl &&
        stctl_list_path(ctl, stctl_fmt_kind_lookup("pods"), &every, NULL, extra, &path, &err) ==
            0 &&
        stctl_call(cl, "GET", path, NULL, &reply, &err) == 0) {
        json_t *items = json_incref(json_object_get(reply, "items"));
        json_decref(reply);
        return items;
    }
    fprintf(stderr, "warning: cannot read the pods of node %s: %s\n", name ? name : "?",
            err.msg[0] ? err.msg : "out of memory");
    return NULL;
}

/* A Service's Endpoints (the object of its name, in its namespace); NULL
 * when there is none (404: a Service without endpoints yet) or it cannot
 * be read (said on stderr). */
static json_t *endpoints_of(struct stctl *ctl, json_t *svc)
{
    json_t *md = json_object_get(svc, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    st_error err = {0};
    _cleanup_free_ char *path = NULL;
    json_t *reply = NULL;
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl && name &&
        stctl_path(cl, stctl_fmt_kind_lookup("endpoints"), ns ? ns : ctl->ns, name, NULL, &path,
                   &err) == 0 &&
        stctl_call(cl, "GET", path, NULL, &reply, &err) == 0)
        return reply;
    if (err.code != ENOENT)
        fprintf(stderr, "warning: cannot read the endpoints of service %s: %s\n", name ? name : "?",
                err.msg[0] ? err.msg : "no name");
    return NULL;
}

static int describe_one(struct stctl *ctl, const struct stctl_fmt_kind *k, json_t *obj, json_t *all,
                        bool *first, st_error *err)
{
    if (!*first)
        putchar('\n');
    *first = false;
    _cleanup_json_ json_t *mine = events_about(all, k, ctl->ns, obj);
    _cleanup_json_ json_t *pods = k->id == STCTL_FMT_NODE ? pods_on(ctl, obj) : NULL;
    _cleanup_json_ json_t *eps = k->id == STCTL_FMT_SERVICE ? endpoints_of(ctl, obj) : NULL;
    struct stctl_fmt_related rel = {.events = mine, .pods = pods, .endpoints = eps};
    int r = stctl_fmt_describe(stdout, k, obj, &rel, time(NULL), err);
    fflush(stdout);
    return r;
}

int stctl_verb_describe(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {STCTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        int r = stctl_common_option(ctl, c, argv, STCTL_USAGE_DESCRIBE);
        if (r >= 0)
            return r;
    }
    st_error err = {0};
    _cleanup_free_ struct stctl_target *t = NULL;
    size_t n = 0;
    if (stctl_targets(argc - optind, argv + optind, &t, &n, &err) < 0)
        return stctl_usage(STCTL_USAGE_DESCRIBE, "%s", err.msg);
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);

    /* Events of every object, read once; a failure only costs that section. */
    _cleanup_json_ json_t *events = NULL;
    st_error everr = {0};
    if (stctl_call(cl, "GET", "/api/v1/events", NULL, &events, &everr) < 0)
        fprintf(stderr, "warning: cannot read events: %s\n", everr.msg);

    int status = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct stctl_fmt_kind *k = t[i].kind;
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *reply = NULL;
        st_error e = {0};
        int r = stctl_path(cl, k, ctl->ns, t[i].name, NULL, &path, &e);
        if (r == 0)
            r = stctl_call(cl, "GET", path, NULL, &reply, &e);
        if (r == 0 && t[i].name) {
            r = describe_one(ctl, k, reply, events, &first, &e);
        } else if (r == 0) {
            size_t j;
            json_t *it;
            json_array_foreach(json_object_get(reply, "items"), j, it)
            {
                if (r == 0)
                    r = describe_one(ctl, k, it, events, &first, &e);
            }
            if (r == 0 && json_array_size(json_object_get(reply, "items")) == 0)
                fprintf(stderr, "No resources found%s%s%s\n", k->namespaced ? " in " : "",
                        k->namespaced ? ctl->ns : "", k->namespaced ? " namespace." : "");
        }
        if (r < 0)
            status = stctl_fail(&e);
    }
    return status;
}
