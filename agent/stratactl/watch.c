/* watch.c: `-w`: follows a list's watch stream (API.md: "?watch=1&
 * resourceVersion=RV", one {"type","object"} line an event) and prints a
 * row, or an object, per event, flushed at once so a pipe sees it live.
 * A server that replays what was already listed (ADDED for every object)
 * is tolerated: versions not newer than the listing are not printed again,
 * and a DELETED event carrying only a name shows the object's last state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "strata/cleanup.h"
#include "strata/yaml_out.h"

struct watch_print {
    const struct stctl_fmt_kind *kind;
    stctl_fmt_table *table;
    enum stctl_output out;
    stctl_watch_filter filter;
    void *filter_arg;
    unsigned long long shown_rv; /* what the listing already showed */
    json_t *last;                /* "ns/name" -> the latest object seen */
};

/* ---- helpers -------------------------------------------------------------- */

static const char *meta_str(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static unsigned long long obj_version(json_t *obj)
{
    const char *rv = meta_str(obj, "resourceVersion");
    return rv ? strtoull(rv, NULL, 10) : 0;
}

static void obj_key(json_t *obj, char *buf, size_t len)
{
    const char *name = meta_str(obj, "name");
    if (name == NULL)
        name = json_string_value(json_object_get(obj, "name"));
    snprintf(buf, len, "%s/%s", meta_str(obj, "namespace") ? meta_str(obj, "namespace") : "",
             name ? name : "");
}

/* The version a watch starts after: the list's own, else the highest of
 * its items' (they only grow); a single object's own. 0 when none. */
static unsigned long long shown_version(json_t *shown)
{
    json_t *items = json_object_get(shown, "items");
    if (!json_is_array(items) || meta_str(shown, "resourceVersion"))
        return obj_version(shown);
    unsigned long long best = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (obj_version(it) > best)
            best = obj_version(it);
    }
    return best;
}

static void remember(struct watch_print *w, json_t *obj)
{
    char key[600];
    obj_key(obj, key, sizeof(key));
    json_object_set(w->last, key, obj);
}

static int print_object(struct watch_print *w, json_t *obj, st_error *err)
{
    int r = 0;
    switch (w->out) {
    case STCTL_OUT_JSON:
        if (json_dumpf(obj, stdout, JSON_INDENT(4)) < 0)
            return st_error_sys(err, errno ? errno : EIO, "cannot write to stdout");
        putchar('\n');
        break;
    case STCTL_OUT_YAML:
        fputs("---\n", stdout);
        r = st_yaml_write(stdout, obj, false, err);
        break;
    case STCTL_OUT_NAME: {
        const char *name = meta_str(obj, "name");
        printf("%s/%s\n", w->kind->ref, name ? name : "?");
        break;
    }
    case STCTL_OUT_TABLE:
    case STCTL_OUT_WIDE:
        r = stctl_fmt_table_add_object(w->table, obj, time(NULL), err);
        if (r == 0)
            r = stctl_fmt_table_write(stdout, w->table, err);
        break;
    }
    fflush(stdout);
    return r;
}

static int on_event(const char *type, json_t *obj, void *arg, st_error *err)
{
    struct watch_print *w = arg;
    if (w->filter && !w->filter(obj, w->filter_arg))
        return 0;
    if (strcmp(type, "DELETED") != 0) {
        /* Already shown by the listing: a replay, not a change. */
        if (w->shown_rv && obj_version(obj) && obj_version(obj) <= w->shown_rv)
            return 0;
        remember(w, obj);
        return print_object(w, obj, err);
    }
    /* kubectl -w prints a deleted object's last row too. */
    char key[600];
    obj_key(obj, key, sizeof(key));
    json_t *known = json_object_get(w->last, key);
    int r = print_object(w, known && !json_object_get(obj, "status") ? known : obj, err);
    json_object_del(w->last, key);
    return r;
}

/* ---- API ------------------------------------------------------------------ */

int stctl_watch_print(struct stctl *ctl, const struct stctl_fmt_kind *k,
                      const struct stctl_listing *listing, json_t *shown, stctl_fmt_table *table,
                      enum stctl_output out, stctl_watch_filter filter, void *filter_arg,
                      st_error *err)
{
    stctl_client *cl = stctl_connect(ctl, err);
    if (cl == NULL)
        return -err->code;
    struct watch_print w = {.kind = k,
                            .table = table,
                            .out = out,
                            .filter = filter,
                            .filter_arg = filter_arg,
                            .shown_rv = shown_version(shown),
                            .last = json_object()};
    char query[64] = "watch=1";
    if (w.shown_rv)
        snprintf(query, sizeof(query), "watch=1&resourceVersion=%llu", w.shown_rv);
    json_t *items = json_object_get(shown, "items");
    if (shown && !json_is_array(items))
        remember(&w, shown);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        remember(&w, it);
    }
    _cleanup_free_ char *path = NULL;
    stctl_fmt_table *own = NULL;
    int r = stctl_list_path(ctl, k, listing, NULL, query, &path, err);
    if (r == 0 && table == NULL && (out == STCTL_OUT_TABLE || out == STCTL_OUT_WIDE)) {
        struct stctl_fmt_columns cols = {0};
        if (listing)
            cols = listing->cols;
        cols.wide = out == STCTL_OUT_WIDE;
        r = stctl_fmt_table_for_kind(k, &cols, &own, err);
        if (r == 0 && listing)
            stctl_fmt_table_set_no_headers(own, listing->no_headers);
        w.table = own;
    }
    if (r == 0)
        r = stctl_watch(cl, path, on_event, &w, err);
    stctl_fmt_table_free(own);
    json_decref(w.last);
    return r;
}
