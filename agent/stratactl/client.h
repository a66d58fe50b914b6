/* client.h: stratactl's HTTP/JSON client for stratad's unix socket (libcurl),
 * per agent/API.md. It turns every failure (no daemon, a Status body, a
 * timeout) into one st_error line a person can act on; it never prints and
 * never decides what a verb shows. */
#ifndef STRATACTL_CLIENT_H
#define STRATACTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "ctl_format.h"
#include "strata/error.h"

/* What `stratactl version` prints and the User-Agent it sends; keep in step
 * with project(strata VERSION ...) in the top CMakeLists.txt. */
#define STCTL_VERSION "0.1.0"

typedef struct stctl_client stctl_client;

/* Nothing is connected until the first request. */
int stctl_client_open(const char *socket, stctl_client **out, st_error *err);
void stctl_client_free(stctl_client *c);

/* Seconds a plain request may take (default 120; 0: no limit). Streams
 * (logs -f, watch) are never limited. */
void stctl_client_set_timeout(stctl_client *c, long seconds);

/* One request; body (may be NULL) is sent as JSON. On a 2xx answer *reply
 * (may be NULL to ignore it) is the parsed body, or NULL when it was empty.
 * A non-2xx answer fails with the Status "message"; the code is -ENOENT for
 * 404, -EEXIST for 409 AlreadyExists, -ESTALE for 409 Conflict, -EINVAL for
 * 400/422, -EAGAIN for 503, -EIO otherwise. */
int stctl_call(stctl_client *c, const char *method, const char *path, json_t *body, json_t **reply,
               st_error *err);

/* A request (GET: logs; POST: port-forward) whose 2xx body is handed to fn
 * as it arrives. fn returns 0 to go on, 1 to stop quietly, or a negative
 * code (err set) to fail. Ends when the server closes the stream. */
typedef int (*stctl_data_fn)(const char *data, size_t len, void *arg, st_error *err);
int stctl_stream(stctl_client *c, const char *method, const char *path, stctl_data_fn fn, void *arg,
                 st_error *err);

/* A stctl_data_fn that copies the body to stdout as it comes. */
int stctl_copy_stdout(const char *data, size_t len, void *arg, st_error *err);

/* A watch stream ("?watch=1"): one {"type","object"} JSON object a line;
 * fn gets each type and object (borrowed), and returns like stctl_data_fn.
 * An "ERROR" event fails with its Status message. */
typedef int (*stctl_event_fn)(const char *type, json_t *object, void *arg, st_error *err);
int stctl_watch(stctl_client *c, const char *path, stctl_event_fn fn, void *arg, st_error *err);

/* The path of kind k's collection (name NULL) or object, then suffix (may
 * be NULL, e.g. "/scale", "?watch=1"): "/apis/apps/v1/namespaces/NS/
 * deployments/NAME/scale". ns and name are URL-escaped. malloc'd in *out. */
int stctl_path(stctl_client *c, const struct stctl_fmt_kind *k, const char *ns, const char *name,
               const char *suffix, char **out, st_error *err);

#endif
