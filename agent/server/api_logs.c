/* api_logs.c: GET .../pods/NAME/log: the lines the pod's node sent
 * (nodes.c keeps the last ST_SERVER_LOG_LINES per pod), all at once or,
 * with ?follow=1, as a stream that goes on as lines come; ?tailLines=N
 * (kubectl logs --tail, the dashboard's log view) starts at the last N. */
#include "api_priv.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdlib.h>

int st_server_api_log(struct st_server_call *c, const char *ns, const char *name)
{
    _cleanup_json_ json_t *pod = NULL;
    st_error err = {0};
    const char *tail = st_server_api_arg(c, "tailLines");
    long tail_n = -1;
    if (tail) {
        char *end = NULL;
        errno = 0;
        tail_n = strtol(tail, &end, 10);
        if (errno || end == tail || *end || tail_n < 0)
            return st_server_api_reply_status(c, 400, "tailLines is a count of lines, not \"%s\"",
                                              tail);
    }
    int r = st_store_get(c->d->store, "Pod", ns, name, &pod, &err);
    if (r < 0)
        return st_server_api_reply_error(c, r, &err, ST_SERVER_API_OBJECTS);
    struct st_server_stream *s = st_server_stream_log(c->d, ns, name);
    if (s == NULL)
        return -ENOMEM;
    if (tail_n >= 0)
        st_server_stream_log_tail(s, (size_t)tail_n);
    if (st_server_api_arg_true(c, "follow"))
        return st_server_api_reply_stream(c, s, "text/plain");
    st_server_stream_fill(s);
    size_t len = 0;
    const char *text = st_server_stream_text(s, &len);
    r = st_server_api_reply_text(c, 200, "text/plain", text, len);
    st_server_stream_free(s);
    return r;
}
