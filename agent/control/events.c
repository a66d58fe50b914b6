/* events.c: recording core/v1 Events, the "who did what and why" of the
 * cluster that `stratactl events` and `describe` show. It only appends to
 * the store; it never decides anything. */
#include "strata/controller.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

json_t *st_event_build(const char *kind, const char *ns, const char *name, const char *type,
                       const char *reason, const char *component, const char *msg)
{
    json_t *inv = json_pack("{s:s, s:s}", "kind", kind, "name", name);
    if (inv && ns && *ns)
        json_object_set_new(inv, "namespace", json_string(ns));
    _cleanup_json_ json_t *ev =
        json_pack("{s:o, s:s, s:s, s:s, s:{s:s}}", "involvedObject", inv, "type", type, "reason",
                  reason, "message", msg, "source", "component", component);
    json_t *out = NULL;
    if (ev == NULL || st_store_event_prepare(ev, &out, NULL) < 0)
        return NULL;
    return out;
}

int st_event_record(st_store *s, const char *kind, const char *ns, const char *name,
                    const char *type, const char *reason, const char *component, const char *fmt,
                    ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    _cleanup_json_ json_t *ev = st_event_build(kind, ns, name, type, reason, component, msg);
    if (ev == NULL)
        return -ENOMEM;
    json_t *stored = NULL;
    int r = st_store_append_event(s, ev, &stored, NULL);
    json_decref(stored);
    return r;
}
