/* ctl_format.c: stratactl's output, kept out of the CLI so it can be tested
 * without a server: kind aliases, kubectl's ages, column tables, one table
 * row per object, and the `describe` views. The rules for a pod's STATUS
 * and an object's AGE follow kubectl so people read them the same way. */
#include "ctl_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/b64.h"
#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/quantity.h"
#include "strata/time.h"

#define NONE "<none>"

/* ---- JSON helpers --------------------------------------------------------- */

/* The value at a dotted path ("status.strata.phase"), or NULL: util's walk
 * under the short name every row and view here uses. */
static json_t *at(json_t *obj, const char *path)
{
    return st_json_at(obj, path);
}

/* A non-empty string at path, or NULL. */
static const char *str_at(json_t *obj, const char *path)
{
    const char *s = json_string_value(at(obj, path));
    return s && *s ? s : NULL;
}

static const char *str_or(json_t *obj, const char *path, const char *def)
{
    const char *s = str_at(obj, path);
    return s ? s : def;
}

static long long int_at(json_t *obj, const char *path, long long def)
{
    json_t *v = at(obj, path);
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return def;
}

/* A scalar as text (strings as they are, numbers printed), or def. */
static const char *scalar_text(json_t *v, char *buf, size_t len, const char *def)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return def;
}

static const char *obj_name(json_t *obj)
{
    const char *n = str_at(obj, "metadata.name");
    return n ? n : str_or(obj, "name", "");
}

/* Appends to a fixed buffer, truncating quietly (cells are for people). */
static void appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of a JSON object, sorted (kubectl sorts labels and data keys);
 * malloc'd, *n set; NULL when there are none. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
    *n = json_is_object(obj) ? json_object_size(obj) : 0;
    if (*n == 0)
        return NULL;
    const char **keys = calloc(*n, sizeof(*keys));
    if (keys == NULL) {
        *n = 0;
        return NULL;
    }
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

/* "k=v,k2=v2" from a string map, sorted by key. */
static void map_text(json_t *map, char *buf, size_t len)
{
    size_t n;
    _cleanup_free_ const char **keys = sorted_keys(map, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        appendf(buf, len, "%s%s=%s", i ? "," : "", keys[i],
                scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp), ""));
    }
    if (n == 0)
        snprintf(buf, len, "%s", NONE);
}

/* ---- kinds ---------------------------------------------------------------- */

static const struct st_ctlfmt_kind kinds[] = {
    {ST_CTLFMT_NODE, "Node", "nodes", "node", "/api/v1", false},
    {ST_CTLFMT_POD, "Pod", "pods", "pod", "/api/v1", true},
    {ST_CTLFMT_DEPLOYMENT, "Deployment", "deployments", "deployment.apps", "/apis/apps/v1", true},
    {ST_CTLFMT_SECRET, "Secret", "secrets", "secret", "/api/v1", true},
    /* stratad serves every namespace's events at /api/v1/events. */
    {ST_CTLFMT_EVENT, "Event", "events", "event", "/api/v1", false},
    {ST_CTLFMT_IMAGE, "Image", "images", "image", "/api/v1", false},
};

static const struct {
    const char *word;
    enum st_ctlfmt_kind_id id;
} aliases[] = {
    {"nodes", ST_CTLFMT_NODE},
    {"node", ST_CTLFMT_NODE},
    {"no", ST_CTLFMT_NODE},
    {"pods", ST_CTLFMT_POD},
    {"pod", ST_CTLFMT_POD},
    {"po", ST_CTLFMT_POD},
    {"deployments", ST_CTLFMT_DEPLOYMENT},
    {"deployment", ST_CTLFMT_DEPLOYMENT},
    {"deploy", ST_CTLFMT_DEPLOYMENT},
    {"deployments.apps", ST_CTLFMT_DEPLOYMENT},
    {"deployment.apps", ST_CTLFMT_DEPLOYMENT},
    {"secrets", ST_CTLFMT_SECRET},
    {"secret", ST_CTLFMT_SECRET},
    {"events", ST_CTLFMT_EVENT},
    {"event", ST_CTLFMT_EVENT},
    {"ev", ST_CTLFMT_EVENT},
    {"images", ST_CTLFMT_IMAGE},
    {"image", ST_CTLFMT_IMAGE},
};

const struct st_ctlfmt_kind *st_ctlfmt_kind_lookup(const char *word)
{
    if (word == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(aliases[i].word, word) == 0)
            return &kinds[aliases[i].id];
    return NULL;
}

const struct st_ctlfmt_kind *st_ctlfmt_kind_by_kind(const char *kind)
{
    if (kind == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return &kinds[i];
    return NULL;
}

/* ---- time ----------------------------------------------------------------- */

void st_ctlfmt_duration(long long seconds, char *buf, size_t len)
{
    /* kubectl tolerates a second of clock skew as "now". */
    if (seconds < -1) {
        snprintf(buf, len, "<invalid>");
        return;
    }
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120) {
        snprintf(buf, len, "%llds", seconds);
        return;
    }
    long long minutes = seconds / 60;
    if (minutes < 10) {
        if (seconds % 60)
            snprintf(buf, len, "%lldm%llds", minutes, seconds % 60);
        else
            snprintf(buf, len, "%lldm", minutes);
        return;
    }
    if (minutes < 3 * 60) {
        snprintf(buf, len, "%lldm", minutes);
        return;
    }
    long long hours = minutes / 60;
    if (hours < 8) {
        if (minutes % 60)
            snprintf(buf, len, "%lldh%lldm", hours, minutes % 60);
        else
            snprintf(buf, len, "%lldh", hours);
        return;
    }
    if (hours < 48) {
        snprintf(buf, len, "%lldh", hours);
        return;
    }
    long long days = hours / 24;
    if (days < 8) {
        if (hours % 24)
            snprintf(buf, len, "%lldd%lldh", days, hours % 24);
        else
            snprintf(buf, len, "%lldd", days);
        return;
    }
    if (days < 2 * 365) {
        snprintf(buf, len, "%lldd", days);
        return;
    }
    long long years = days / 365;
    if (years < 8 && days % 365)
        snprintf(buf, len, "%lldy%lldd", years, days % 365);
    else
        snprintf(buf, len, "%lldy", years);
}

void st_ctlfmt_age(const char *timestamp, time_t now, char *buf, size_t len)
{
    time_t t = 0;
    if (timestamp == NULL || st_time_parse_rfc3339(timestamp, &t, NULL) < 0) {
        snprintf(buf, len, "<unknown>");
        return;
    }
    st_ctlfmt_duration((long long)now - (long long)t, buf, len);
}

/* ---- tables --------------------------------------------------------------- */

struct st_ctlfmt_table {
    size_t ncols;
    char **headers; /* NULL: no header line */
    char ***rows;
    size_t nrows, cap;
    size_t *widths;
    size_t written; /* rows already written */
    bool header_written;
    int indent;
    const struct st_ctlfmt_kind *kind; /* set by st_ctlfmt_table_for_kind */
    bool wide;
};

/* Width on a terminal: UTF-8 code points, not bytes. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static char *cell_dup(const char *s)
{
    char *c = strdup(s ? s : "");
    if (c)
        for (char *p = c; *p; p++)
            if (*p == '\n' || *p == '\t' || *p == '\r')
                *p = ' ';
    return c;
}

static void free_cells(char **cells, size_t n)
{
    if (cells == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

static char **copy_cells(const char *const *src, size_t n)
{
    char **cells = calloc(n, sizeof(*cells));
    if (cells == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        cells[i] = cell_dup(src ? src[i] : NULL);
        if (cells[i] == NULL) {
            free_cells(cells, n);
            return NULL;
        }
    }
    return cells;
}

int st_ctlfmt_table_new(size_t ncols, const char *const *headers, st_ctlfmt_table **out,
                        st_error *err)
{
    *out = NULL;
    if (ncols == 0)
        return st_error_set(err, EINVAL, "a table needs at least one column");
    st_ctlfmt_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    t->ncols = ncols;
    t->widths = calloc(ncols, sizeof(*t->widths));
    if (t->widths == NULL || (headers && (t->headers = copy_cells(headers, ncols)) == NULL)) {
        st_ctlfmt_table_free(t);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

void st_ctlfmt_table_free(st_ctlfmt_table *t)
{
    if (t == NULL)
        return;
    free_cells(t->headers, t->ncols);
    for (size_t i = 0; i < t->nrows; i++)
        free_cells(t->rows[i], t->ncols);
    free(t->rows);
    free(t->widths);
    free(t);
}

void st_ctlfmt_table_set_indent(st_ctlfmt_table *t, int indent)
{
    t->indent = indent < 0 ? 0 : indent;
}

int st_ctlfmt_table_add(st_ctlfmt_table *t, const char *const *cells, st_error *err)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char ***rows = realloc(t->rows, cap * sizeof(*rows));
        if (rows == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        t->rows = rows;
        t->cap = cap;
    }
    char **row = copy_cells(cells, t->ncols);
    if (row == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    t->rows[t->nrows++] = row;
    return 0;
}

size_t st_ctlfmt_table_rows(const st_ctlfmt_table *t)
{
    return t->nrows;
}

static void widen(st_ctlfmt_table *t, char **cells)
{
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w = text_width(cells[i]);
        if (w > t->widths[i])
            t->widths[i] = w;
    }
}

/* kubectl's tabwriter: padding 3, minimum cell width 6; the last non-empty
 * cell is not padded, so no line ends in spaces. */
static void write_line(FILE *out, const st_ctlfmt_table *t, char **cells)
{
    size_t last = t->ncols;
    while (last > 0 && cells[last - 1][0] == '\0')
        last--;
    fprintf(out, "%*s", t->indent, "");
    for (size_t i = 0; i < last; i++) {
        fputs(cells[i], out);
        if (i + 1 < last) {
            size_t col = t->widths[i] + 3 < 6 ? 6 : t->widths[i] + 3;
            fprintf(out, "%*s", (int)(col - text_width(cells[i])), "");
        }
    }
    fputc('\n', out);
}

int st_ctlfmt_table_write(FILE *out, st_ctlfmt_table *t, st_error *err)
{
    if (t->nrows == t->written)
        return 0;
    if (t->headers && !t->header_written)
        widen(t, t->headers);
    for (size_t i = t->written; i < t->nrows; i++)
        widen(t, t->rows[i]);
    if (t->headers && !t->header_written)
        write_line(out, t, t->headers);
    t->header_written = true;
    for (; t->written < t->nrows; t->written++)
        write_line(out, t, t->rows[t->written]);
    if (ferror(out))
        return st_error_sys(err, errno ? errno : EIO, "cannot write the table");
    return 0;
}

/* ---- single values -------------------------------------------------------- */

void st_ctlfmt_size(long long bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%lldB", bytes < 0 ? 0 : bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f%s", v, units[u]);
}

/* A memory capacity (quantity text or a byte count) in Kubernetes units. */
static void memory_text(json_t *v, char *buf, size_t len)
{
    int64_t bytes = 0;
    if (json_is_integer(v))
        bytes = (int64_t)json_integer_value(v);
    else if (!json_is_string(v) ||
             st_quantity_parse_bytes(json_string_value(v), &bytes, NULL) < 0) {
        snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : NONE);
        return;
    }
    const int64_t ki = 1024, mi = ki * 1024, gi = mi * 1024;
    if (bytes >= gi && bytes % gi == 0)
        snprintf(buf, len, "%lldGi", (long long)(bytes / gi));
    else if (bytes >= mi)
        snprintf(buf, len, "%lldMi", (long long)((bytes + mi / 2) / mi));
    else if (bytes >= ki)
        snprintf(buf, len, "%lldKi", (long long)((bytes + ki / 2) / ki));
    else
        snprintf(buf, len, "%lld", (long long)bytes);
}

static void millis_text(long long ms, char *buf, size_t len)
{
    if (ms <= 0)
        snprintf(buf, len, "%s", NONE);
    else if (ms < 1000)
        snprintf(buf, len, "%lldms", ms);
    else
        snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
}

static json_t *condition(json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(at(obj, "status.conditions"), i, c)
    {
        const char *t = str_at(c, "type");
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

const char *st_ctlfmt_node_phase(json_t *node)
{
    const char *p = str_at(node, "status.strata.phase");
    return p ? p : str_at(node, "status.phase");
}

void st_ctlfmt_node_status(json_t *node, char *buf, size_t len)
{
    const char *ready = str_at(condition(node, "Ready"), "status");
    const char *phase = st_ctlfmt_node_phase(node);
    if (ready && strcmp(ready, "True") == 0)
        snprintf(buf, len, "Ready");
    else if (phase && strcmp(phase, "Ready") != 0 && strcmp(phase, "Running") != 0)
        snprintf(buf, len, "%s", phase);
    else if (ready && strcmp(ready, "False") == 0)
        snprintf(buf, len, "NotReady");
    else
        snprintf(buf, len, "Unknown");
}

void st_ctlfmt_pod_status(json_t *pod, char *buf, size_t len)
{
    const char *reason = str_or(pod, "status.phase", "Pending");
    if (str_at(pod, "status.reason"))
        reason = str_at(pod, "status.reason");
    char tmp[32];
    bool running_ready = false;
    json_t *statuses = at(pod, "status.containerStatuses");
    /* From the last container to the first, so the first one's reason wins. */
    for (size_t i = json_array_size(statuses); i-- > 0;) {
        json_t *cs = json_array_get(statuses, i);
        json_t *term = at(cs, "state.terminated");
        if (str_at(cs, "state.waiting.reason")) {
            reason = str_at(cs, "state.waiting.reason");
        } else if (term) {
            if (str_at(term, "reason"))
                reason = str_at(term, "reason");
            else if (int_at(term, "signal", 0) != 0) {
                snprintf(tmp, sizeof(tmp), "Signal:%lld", int_at(term, "signal", 0));
                reason = tmp;
            } else {
                snprintf(tmp, sizeof(tmp), "ExitCode:%lld", int_at(term, "exitCode", 0));
                reason = tmp;
            }
        } else if (json_is_true(json_object_get(cs, "ready")) && at(cs, "state.running")) {
            running_ready = true;
        }
    }
    /* A finished container beside a running one: the pod is still running. */
    if (strcmp(reason, "Completed") == 0 && running_ready) {
        const char *r = str_at(condition(pod, "Ready"), "status");
        reason = r && strcmp(r, "True") == 0 ? "Running" : "NotReady";
    }
    if (str_at(pod, "metadata.deletionTimestamp"))
        reason =
            strcmp(str_or(pod, "status.reason", ""), "NodeLost") == 0 ? "Unknown" : "Terminating";
    snprintf(buf, len, "%s", reason);
}

/* "READY" of a pod: ready containers / containers. */
static void pod_ready(json_t *pod, char *buf, size_t len)
{
    json_t *statuses = at(pod, "status.containerStatuses");
    size_t total = json_array_size(at(pod, "spec.containers"));
    if (total == 0)
        total = json_array_size(statuses);
    size_t ready = 0, i;
    json_t *cs;
    json_array_foreach(statuses, i, cs)
    {
        if (json_is_true(json_object_get(cs, "ready")))
            ready++;
    }
    snprintf(buf, len, "%zu/%zu", ready, total);
}

/* "RESTARTS": the sum, and how long ago the latest one ended ("2 (5m ago)"). */
static void pod_restarts(json_t *pod, time_t now, char *buf, size_t len)
{
    long long restarts = 0;
    time_t latest = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(at(pod, "status.containerStatuses"), i, cs)
    {
        restarts += int_at(cs, "restartCount", 0);
        time_t t;
        const char *fin = str_at(cs, "lastState.terminated.finishedAt");
        if (fin && st_time_parse_rfc3339(fin, &t, NULL) == 0 && t > latest)
            latest = t;
    }
    snprintf(buf, len, "%lld", restarts);
    if (restarts > 0 && latest > 0) {
        char age[32];
        st_ctlfmt_duration((long long)now - (long long)latest, age, sizeof(age));
        appendf(buf, len, " (%s ago)", age);
    }
}

/* The last reason a container stopped for, else the pod's reason. */
static const char *pod_last_reason(json_t *pod)
{
    size_t i;
    json_t *cs;
    json_array_foreach(at(pod, "status.containerStatuses"), i, cs)
    {
        const char *r = str_at(cs, "lastState.terminated.reason");
        if (r == NULL)
            r = str_at(cs, "state.terminated.reason");
        if (r)
            return r;
    }
    return str_or(pod, "status.reason", NONE);
}

/* "5s" or, for a repeated event, "5s (x3 over 10m)". */
static void event_seen(json_t *ev, time_t now, char *buf, size_t len)
{
    const char *last = str_at(ev, "lastTimestamp");
    if (last == NULL)
        last = str_at(ev, "eventTime");
    if (last == NULL)
        last = str_at(ev, "firstTimestamp");
    if (last == NULL)
        last = str_at(ev, "metadata.creationTimestamp");
    st_ctlfmt_age(last, now, buf, len);
    long long count = int_at(ev, "count", 1);
    const char *first = str_at(ev, "firstTimestamp");
    if (count > 1 && first) {
        char over[32];
        st_ctlfmt_age(first, now, over, sizeof(over));
        appendf(buf, len, " (x%lld over %s)", count, over);
    }
}

/* "pod/web-1": the kind in lower case, like `kubectl get events`. */
static void event_object(json_t *ev, char *buf, size_t len)
{
    const char *kind = str_or(ev, "involvedObject.kind", "");
    size_t i = 0;
    for (; kind[i] && i + 1 < len; i++)
        buf[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] - 'A' + 'a' : kind[i]);
    buf[i] = '\0';
    appendf(buf, len, "/%s", str_or(ev, "involvedObject.name", ""));
}

/* Names, or images, of a pod template's containers, comma-separated. */
static void containers_text(json_t *spec, const char *field, char *buf, size_t len)
{
    size_t i;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        appendf(buf, len, "%s%s", i ? "," : "", str_or(c, field, ""));
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "%s", NONE);
}

/* ---- rows ----------------------------------------------------------------- */

#define MAX_COLS 8

static const char *const node_cols[] = {"NAME", "STATUS", "ACCEL",  "CPU",           "MEMORY",
                                        "BOOT", "AGE",    "DOMAIN", "KERNEL-VERSION"};
static const char *const pod_cols[] = {"NAME", "READY", "STATUS", "RESTARTS",
                                       "AGE",  "NODE",  "REASON"};
static const char *const deploy_cols[] = {"NAME", "READY",      "UP-TO-DATE", "AVAILABLE",
                                          "AGE",  "CONTAINERS", "IMAGES",     "SELECTOR"};
static const char *const secret_cols[] = {"NAME", "TYPE", "DATA", "AGE"};
static const char *const event_cols[] = {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"};
static const char *const image_cols[] = {"NAME", "SIZE", "AGE"};

static void kind_columns(enum st_ctlfmt_kind_id id, bool wide, const char *const **cols, size_t *n)
{
    switch (id) {
    case ST_CTLFMT_NODE:
        *cols = node_cols, *n = wide ? 9 : 7;
        break;
    case ST_CTLFMT_POD:
        *cols = pod_cols, *n = wide ? 7 : 5;
        break;
    case ST_CTLFMT_DEPLOYMENT:
        *cols = deploy_cols, *n = wide ? 8 : 5;
        break;
    case ST_CTLFMT_SECRET:
        *cols = secret_cols, *n = 4;
        break;
    case ST_CTLFMT_EVENT:
        *cols = event_cols, *n = 5;
        break;
    case ST_CTLFMT_IMAGE:
        *cols = image_cols, *n = 3;
        break;
    }
}

int st_ctlfmt_table_for_kind(const struct st_ctlfmt_kind *k, bool wide, st_ctlfmt_table **out,
                             st_error *err)
{
    const char *const *cols = NULL;
    size_t n = 0;
    kind_columns(k->id, wide, &cols, &n);
    int r = st_ctlfmt_table_new(n, cols, out, err);
    if (r == 0) {
        (*out)->kind = k;
        (*out)->wide = wide;
    }
    return r;
}

int st_ctlfmt_table_add_object(st_ctlfmt_table *t, json_t *obj, time_t now, st_error *err)
{
    if (t->kind == NULL)
        return st_error_set(err, EINVAL, "the table was not made for a kind of object");
    char b[MAX_COLS + 1][256];
    const char *cell[MAX_COLS + 1] = {0};
    const char *created = str_at(obj, "metadata.creationTimestamp");
    cell[0] = obj_name(obj);
    switch (t->kind->id) {
    case ST_CTLFMT_NODE:
        st_ctlfmt_node_status(obj, b[1], sizeof(b[1]));
        cell[1] = b[1];
        cell[2] = str_or(obj, "status.strata.accel", NONE);
        cell[3] = scalar_text(at(obj, "status.capacity.cpu"), b[3], sizeof(b[3]), NONE);
        memory_text(at(obj, "status.capacity.memory"), b[4], sizeof(b[4]));
        cell[4] = b[4];
        millis_text(int_at(obj, "status.strata.bootMillis", 0), b[5], sizeof(b[5]));
        cell[5] = b[5];
        st_ctlfmt_age(created, now, b[6], sizeof(b[6]));
        cell[6] = b[6];
        cell[7] = str_or(obj, "status.strata.domain", NONE);
        cell[8] = str_or(obj, "status.nodeInfo.kernelVersion", NONE);
        break;
    case ST_CTLFMT_POD:
        pod_ready(obj, b[1], sizeof(b[1]));
        cell[1] = b[1];
        st_ctlfmt_pod_status(obj, b[2], sizeof(b[2]));
        cell[2] = b[2];
        pod_restarts(obj, now, b[3], sizeof(b[3]));
        cell[3] = b[3];
        st_ctlfmt_age(created, now, b[4], sizeof(b[4]));
        cell[4] = b[4];
        cell[5] = str_or(obj, "spec.nodeName", NONE);
        cell[6] = pod_last_reason(obj);
        break;
    case ST_CTLFMT_DEPLOYMENT:
        snprintf(b[1], sizeof(b[1]), "%lld/%lld", int_at(obj, "status.readyReplicas", 0),
                 int_at(obj, "spec.replicas", 1));
        cell[1] = b[1];
        snprintf(b[2], sizeof(b[2]), "%lld", int_at(obj, "status.updatedReplicas", 0));
        cell[2] = b[2];
        snprintf(b[3], sizeof(b[3]), "%lld", int_at(obj, "status.availableReplicas", 0));
        cell[3] = b[3];
        st_ctlfmt_age(created, now, b[4], sizeof(b[4]));
        cell[4] = b[4];
        containers_text(at(obj, "spec.template.spec"), "name", b[5], sizeof(b[5]));
        cell[5] = b[5];
        containers_text(at(obj, "spec.template.spec"), "image", b[6], sizeof(b[6]));
        cell[6] = b[6];
        map_text(at(obj, "spec.selector.matchLabels"), b[7], sizeof(b[7]));
        cell[7] = b[7];
        break;
    case ST_CTLFMT_SECRET:
        cell[1] = str_or(obj, "type", "Opaque");
        snprintf(b[2], sizeof(b[2]), "%zu", json_object_size(at(obj, "data")));
        cell[2] = b[2];
        st_ctlfmt_age(created, now, b[3], sizeof(b[3]));
        cell[3] = b[3];
        break;
    case ST_CTLFMT_EVENT:
        event_seen(obj, now, b[0], sizeof(b[0]));
        cell[0] = b[0];
        cell[1] = str_or(obj, "type", "Normal");
        cell[2] = str_or(obj, "reason", "");
        event_object(obj, b[3], sizeof(b[3]));
        cell[3] = b[3];
        cell[4] = str_or(obj, "message", "");
        break;
    case ST_CTLFMT_IMAGE:
        st_ctlfmt_size(int_at(obj, "sizeBytes", 0), b[1], sizeof(b[1]));
        cell[1] = b[1];
        st_ctlfmt_age(str_at(obj, "created"), now, b[2], sizeof(b[2]));
        cell[2] = b[2];
        break;
    }
    return st_ctlfmt_table_add(t, cell, err);
}

/* ---- describe: helpers ---------------------------------------------------- */

/* "Key:" padded to width, then the value: describe's two columns. */
static void field(FILE *out, int indent, int width, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void field(FILE *out, int indent, int width, const char *key, const char *fmt, ...)
{
    fprintf(out, "%*s%s:", indent, "", key);
    int pad = width - (int)strlen(key) - 1;
    fprintf(out, "%*s", pad > 1 ? pad : 1, "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
}

/* A string map, one "k=v" a line, aligned under the first. */
static void field_map(FILE *out, int indent, int width, const char *key, json_t *map)
{
    size_t n;
    _cleanup_free_ const char **keys = sorted_keys(map, &n);
    if (n == 0) {
        field(out, indent, width, key, "%s", NONE);
        return;
    }
    /* Where field() puts the value: after the key, padded to width. */
    int pad = width - (int)strlen(key) - 1;
    int col = indent + (int)strlen(key) + 1 + (pad > 1 ? pad : 1);
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        const char *v = scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp), "");
        if (i == 0)
            field(out, indent, width, key, "%s=%s", keys[i], v);
        else
            fprintf(out, "%*s%s=%s\n", col, "", keys[i], v);
    }
}

static void field_time(FILE *out, int indent, int width, const char *key, const char *ts,
                       time_t now)
{
    if (ts == NULL) {
        field(out, indent, width, key, "%s", NONE);
        return;
    }
    char age[32];
    st_ctlfmt_age(ts, now, age, sizeof(age));
    field(out, indent, width, key, "%s (%s ago)", ts, age);
}

/* Space-joined strings of an array ("/bin/sh -c 'x'" without the quoting). */
static void join_strings(json_t *arr, char *buf, size_t len)
{
    size_t i;
    json_t *s;
    buf[0] = '\0';
    json_array_foreach(arr, i, s)
    {
        appendf(buf, len, "%s%s", i ? " " : "", json_string_value(s));
    }
}

/* kubectl's probe line: "http-get http://:8080/ delay=0s timeout=1s
 * period=10s #success=1 #failure=3". */
static void probe_text(json_t *p, char *buf, size_t len)
{
    char port[32];
    buf[0] = '\0';
    if (at(p, "httpGet")) {
        const char *scheme = str_or(p, "httpGet.scheme", "HTTP");
        appendf(buf, len, "http-get %s://%s:%s%s",
                strcasecmp(scheme, "HTTPS") == 0 ? "https" : "http", str_or(p, "httpGet.host", ""),
                scalar_text(at(p, "httpGet.port"), port, sizeof(port), "?"),
                str_or(p, "httpGet.path", "/"));
    } else if (at(p, "tcpSocket")) {
        appendf(buf, len, "tcp-socket %s:%s", str_or(p, "tcpSocket.host", ""),
                scalar_text(at(p, "tcpSocket.port"), port, sizeof(port), "?"));
    } else if (at(p, "exec")) {
        char cmd[512];
        join_strings(at(p, "exec.command"), cmd, sizeof(cmd));
        appendf(buf, len, "exec [%s]", cmd);
    } else {
        appendf(buf, len, "unknown");
    }
    appendf(buf, len, " delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld",
            int_at(p, "initialDelaySeconds", 0), int_at(p, "timeoutSeconds", 1),
            int_at(p, "periodSeconds", 10), int_at(p, "successThreshold", 1),
            int_at(p, "failureThreshold", 3));
}

/* Limits or Requests: "cpu: 250m" lines, without Strata's normalized copy. */
static void resources(FILE *out, int indent, const char *key, json_t *map)
{
    if (json_object_size(map) == 0)
        return;
    fprintf(out, "%*s%s:\n", indent, "", key);
    size_t n;
    _cleanup_free_ const char **keys = sorted_keys(map, &n);
    for (size_t i = 0; i < n; i++) {
        char tmp[64];
        field(out, indent + 2, 9, keys[i], "%s",
              scalar_text(json_object_get(map, keys[i]), tmp, sizeof(tmp), "?"));
    }
}

static void container_head(FILE *out, int indent, json_t *c)
{
    const int w = 16;
    char buf[1024];
    field(out, indent, w, "Image", "%s", str_or(c, "image", NONE));
    size_t i;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(json_object_get(c, "ports"), i, p)
    {
        appendf(buf, sizeof(buf), "%s%lld/%s", i ? ", " : "", int_at(p, "containerPort", 0),
                str_or(p, "protocol", "TCP"));
        if (str_at(p, "name"))
            appendf(buf, sizeof(buf), " (%s)", str_at(p, "name"));
    }
    if (buf[0])
        field(out, indent, w, i > 1 ? "Ports" : "Port", "%s", buf);
    if (json_array_size(json_object_get(c, "command"))) {
        join_strings(json_object_get(c, "command"), buf, sizeof(buf));
        field(out, indent, w, "Command", "%s", buf);
    }
    if (json_array_size(json_object_get(c, "args"))) {
        join_strings(json_object_get(c, "args"), buf, sizeof(buf));
        field(out, indent, w, "Args", "%s", buf);
    }
}

/* State or Last State of a container status, with its details below. */
static void container_state(FILE *out, int indent, const char *key, json_t *state)
{
    const int w = 16;
    if (at(state, "running")) {
        field(out, indent, w, key, "Running");
        field(out, indent + 2, w - 2, "Started", "%s", str_or(state, "running.startedAt", NONE));
    } else if (at(state, "waiting")) {
        field(out, indent, w, key, "Waiting");
        field(out, indent + 2, w - 2, "Reason", "%s", str_or(state, "waiting.reason", NONE));
        if (str_at(state, "waiting.message"))
            field(out, indent + 2, w - 2, "Message", "%s", str_at(state, "waiting.message"));
    } else if (at(state, "terminated")) {
        field(out, indent, w, key, "Terminated");
        field(out, indent + 2, w - 2, "Reason", "%s", str_or(state, "terminated.reason", NONE));
        if (str_at(state, "terminated.message"))
            field(out, indent + 2, w - 2, "Message", "%s", str_at(state, "terminated.message"));
        field(out, indent + 2, w - 2, "Exit Code", "%lld", int_at(state, "terminated.exitCode", 0));
        if (int_at(state, "terminated.signal", 0))
            field(out, indent + 2, w - 2, "Signal", "%lld", int_at(state, "terminated.signal", 0));
        if (str_at(state, "terminated.startedAt"))
            field(out, indent + 2, w - 2, "Started", "%s", str_at(state, "terminated.startedAt"));
        if (str_at(state, "terminated.finishedAt"))
            field(out, indent + 2, w - 2, "Finished", "%s", str_at(state, "terminated.finishedAt"));
    } else if (strcmp(key, "State") == 0) {
        field(out, indent, w, key, "Waiting");
    }
}

static void container_tail(FILE *out, int indent, json_t *c)
{
    const int w = 16;
    char buf[1024];
    resources(out, indent, "Limits", at(c, "resources.limits"));
    resources(out, indent, "Requests", at(c, "resources.requests"));
    static const char *const probes[][2] = {{"livenessProbe", "Liveness"},
                                            {"readinessProbe", "Readiness"},
                                            {"startupProbe", "Startup"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_object_get(c, probes[i][0]);
        if (p) {
            probe_text(p, buf, sizeof(buf));
            field(out, indent, w, probes[i][1], "%s", buf);
        }
    }
    json_t *env = json_object_get(c, "env");
    if (json_array_size(env) == 0) {
        field(out, indent, w, "Environment", "%s", NONE);
        return;
    }
    fprintf(out, "%*sEnvironment:\n", indent, "");
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *name = str_or(e, "name", "?");
        if (json_is_string(json_object_get(e, "value")))
            field(out, indent + 2, 0, name, "%s", json_string_value(json_object_get(e, "value")));
        else if (at(e, "valueFrom.secretKeyRef"))
            field(out, indent + 2, 0, name, "<set to the key '%s' in secret '%s'>",
                  str_or(e, "valueFrom.secretKeyRef.key", "?"),
                  str_or(e, "valueFrom.secretKeyRef.name", "?"));
        else if (at(e, "valueFrom.fieldRef"))
            field(out, indent + 2, 0, name, "(%s)", str_or(e, "valueFrom.fieldRef.fieldPath", "?"));
        else
            field(out, indent + 2, 0, name, "%s", "");
    }
}

static int conditions(FILE *out, json_t *obj, time_t now, bool details, st_error *err)
{
    json_t *conds = at(obj, "status.conditions");
    if (json_array_size(conds) == 0) {
        field(out, 0, 15, "Conditions", "%s", NONE);
        return 0;
    }
    static const char *const cols[] = {"Type", "Status", "Reason", "Last Transition", "Message"};
    st_ctlfmt_table *t = NULL;
    int r = st_ctlfmt_table_new(details ? 5 : 2, cols, &t, err);
    if (r < 0)
        return r;
    st_ctlfmt_table_set_indent(t, 2);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        char age[32];
        st_ctlfmt_age(str_at(c, "lastTransitionTime"), now, age, sizeof(age));
        const char *cells[] = {str_or(c, "type", "?"), str_or(c, "status", "Unknown"),
                               str_or(c, "reason", ""), str_at(c, "lastTransitionTime") ? age : "",
                               str_or(c, "message", "")};
        if (r == 0)
            r = st_ctlfmt_table_add(t, cells, err);
    }
    fprintf(out, "Conditions:\n");
    if (r == 0)
        r = st_ctlfmt_table_write(out, t, err);
    st_ctlfmt_table_free(t);
    return r;
}

static int events_section(FILE *out, json_t *events, time_t now, st_error *err)
{
    if (events == NULL) {
        field(out, 0, 15, "Events", "<unknown: the events could not be read>");
        return 0;
    }
    if (json_array_size(events) == 0) {
        field(out, 0, 15, "Events", "%s", NONE);
        return 0;
    }
    static const char *const cols[] = {"Type", "Reason", "Age", "From", "Message"};
    static const char *const rule[] = {"----", "------", "----", "----", "-------"};
    st_ctlfmt_table *t = NULL;
    int r = st_ctlfmt_table_new(5, cols, &t, err);
    if (r < 0)
        return r;
    st_ctlfmt_table_set_indent(t, 2);
    r = st_ctlfmt_table_add(t, rule, err);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char seen[64];
        event_seen(ev, now, seen, sizeof(seen));
        const char *cells[] = {str_or(ev, "type", "Normal"), str_or(ev, "reason", ""), seen,
                               str_or(ev, "source.component", ""), str_or(ev, "message", "")};
        if (r == 0)
            r = st_ctlfmt_table_add(t, cells, err);
    }
    fprintf(out, "Events:\n");
    if (r == 0)
        r = st_ctlfmt_table_write(out, t, err);
    st_ctlfmt_table_free(t);
    return r;
}

static void metadata(FILE *out, json_t *obj, bool namespaced, time_t now)
{
    field(out, 0, 15, "Name", "%s", obj_name(obj));
    if (namespaced)
        field(out, 0, 15, "Namespace", "%s", str_or(obj, "metadata.namespace", "default"));
    field_time(out, 0, 15, "Created", str_at(obj, "metadata.creationTimestamp"), now);
    field_map(out, 0, 15, "Labels", at(obj, "metadata.labels"));
}

/* The controller in metadata.ownerReferences, "Deployment/web". */
static void controlled_by(FILE *out, json_t *obj)
{
    size_t i;
    json_t *o;
    json_array_foreach(at(obj, "metadata.ownerReferences"), i, o)
    {
        if (json_is_true(json_object_get(o, "controller"))) {
            field(out, 0, 15, "Controlled By", "%s/%s", str_or(o, "kind", "?"),
                  str_or(o, "name", "?"));
            return;
        }
    }
}

/* ---- describe: kinds ------------------------------------------------------ */

static json_t *container_status(json_t *pod, const char *name)
{
    size_t i;
    json_t *cs;
    json_array_foreach(at(pod, "status.containerStatuses"), i, cs)
    {
        const char *n = str_at(cs, "name");
        if (n && name && strcmp(n, name) == 0)
            return cs;
    }
    return NULL;
}

static int describe_pod(FILE *out, json_t *pod, json_t *events, time_t now, st_error *err)
{
    char buf[256];
    metadata(out, pod, true, now);
    field(out, 0, 15, "Node", "%s", str_or(pod, "spec.nodeName", NONE));
    st_ctlfmt_pod_status(pod, buf, sizeof(buf));
    field(out, 0, 15, "Status", "%s", buf);
    if (str_at(pod, "status.reason"))
        field(out, 0, 15, "Reason", "%s", str_at(pod, "status.reason"));
    if (str_at(pod, "status.message"))
        field(out, 0, 15, "Message", "%s", str_at(pod, "status.message"));
    controlled_by(out, pod);
    fprintf(out, "Containers:\n");
    size_t i;
    json_t *c;
    json_array_foreach(at(pod, "spec.containers"), i, c)
    {
        fprintf(out, "  %s:\n", str_or(c, "name", "?"));
        container_head(out, 4, c);
        json_t *cs = container_status(pod, str_at(c, "name"));
        container_state(out, 4, "State", at(cs, "state"));
        container_state(out, 4, "Last State", at(cs, "lastState"));
        field(out, 4, 16, "Ready", "%s",
              json_is_true(json_object_get(cs, "ready")) ? "True" : "False");
        field(out, 4, 16, "Restart Count", "%lld", int_at(cs, "restartCount", 0));
        container_tail(out, 4, c);
    }
    int r = conditions(out, pod, now, false, err);
    return r < 0 ? r : events_section(out, events, now, err);
}

static int describe_deployment(FILE *out, json_t *d, json_t *events, time_t now, st_error *err)
{
    char buf[512];
    metadata(out, d, true, now);
    map_text(at(d, "spec.selector.matchLabels"), buf, sizeof(buf));
    field(out, 0, 15, "Selector", "%s", buf);
    long long want = int_at(d, "spec.replicas", 1),
              avail = int_at(d, "status.availableReplicas", 0);
    field(out, 0, 15, "Replicas",
          "%lld desired | %lld updated | %lld total | %lld available | %lld unavailable", want,
          int_at(d, "status.updatedReplicas", 0), int_at(d, "status.replicas", 0), avail,
          want > avail ? want - avail : 0);
    fprintf(out, "Pod Template:\n");
    field_map(out, 2, 9, "Labels", at(d, "spec.template.metadata.labels"));
    fprintf(out, "  Containers:\n");
    size_t i;
    json_t *c;
    json_array_foreach(at(d, "spec.template.spec.containers"), i, c)
    {
        fprintf(out, "   %s:\n", str_or(c, "name", "?"));
        container_head(out, 4, c);
        container_tail(out, 4, c);
    }
    int r = conditions(out, d, now, true, err);
    return r < 0 ? r : events_section(out, events, now, err);
}

static int describe_node(FILE *out, json_t *node, json_t *events, time_t now, st_error *err)
{
    char buf[256];
    metadata(out, node, false, now);
    st_ctlfmt_node_status(node, buf, sizeof(buf));
    field(out, 0, 15, "Status", "%s", buf);
    field(out, 0, 15, "Phase", "%s",
          st_ctlfmt_node_phase(node) ? st_ctlfmt_node_phase(node) : NONE);
    if (str_at(node, "status.message"))
        field(out, 0, 15, "Message", "%s", str_at(node, "status.message"));
    if (str_at(node, "status.strata.accelReason"))
        field(out, 0, 15, "Accel", "%s (%s)", str_or(node, "status.strata.accel", NONE),
              str_at(node, "status.strata.accelReason"));
    else
        field(out, 0, 15, "Accel", "%s", str_or(node, "status.strata.accel", NONE));
    field(out, 0, 15, "Domain", "%s", str_or(node, "status.strata.domain", NONE));
    long long boot = int_at(node, "status.strata.bootMillis", 0);
    if (boot > 0)
        field(out, 0, 15, "Boot", "%lld ms", boot);
    else
        field(out, 0, 15, "Boot", "%s", NONE);
    field(out, 0, 15, "Kernel", "%s", str_or(node, "status.nodeInfo.kernelVersion", NONE));
    fprintf(out, "Capacity:\n");
    field(out, 2, 9, "cpu", "%s",
          scalar_text(at(node, "status.capacity.cpu"), buf, sizeof(buf), NONE));
    memory_text(at(node, "status.capacity.memory"), buf, sizeof(buf));
    field(out, 2, 9, "memory", "%s", buf);
    int r = conditions(out, node, now, true, err);
    return r < 0 ? r : events_section(out, events, now, err);
}

static int describe_secret(FILE *out, json_t *s, json_t *events, time_t now, st_error *err)
{
    metadata(out, s, true, now);
    field(out, 0, 15, "Type", "%s", str_or(s, "type", "Opaque"));
    fprintf(out, "\nData\n====\n");
    size_t n;
    json_t *data = at(s, "data");
    _cleanup_free_ const char **keys = sorted_keys(data, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(data, keys[i]));
        fprintf(out, "%s:  %zu bytes\n", keys[i], st_b64_decoded_len(v));
    }
    fputc('\n', out);
    return events_section(out, events, now, err);
}

static int describe_image(FILE *out, json_t *img)
{
    char buf[64];
    field(out, 0, 15, "Name", "%s", obj_name(img));
    st_ctlfmt_size(int_at(img, "sizeBytes", 0), buf, sizeof(buf));
    field(out, 0, 15, "Size", "%s (%lld bytes)", buf, int_at(img, "sizeBytes", 0));
    field(out, 0, 15, "Created", "%s", str_or(img, "created", NONE));
    return 0;
}

static int describe_event(FILE *out, json_t *ev, time_t now)
{
    char buf[256];
    field(out, 0, 15, "Name", "%s", obj_name(ev));
    event_object(ev, buf, sizeof(buf));
    field(out, 0, 15, "Object", "%s", buf);
    field(out, 0, 15, "Type", "%s", str_or(ev, "type", "Normal"));
    field(out, 0, 15, "Reason", "%s", str_or(ev, "reason", NONE));
    field(out, 0, 15, "From", "%s", str_or(ev, "source.component", NONE));
    event_seen(ev, now, buf, sizeof(buf));
    field(out, 0, 15, "Last Seen", "%s", buf);
    field(out, 0, 15, "Message", "%s", str_or(ev, "message", ""));
    return 0;
}

bool st_ctlfmt_event_is_about(json_t *event, const char *kind, const char *ns, const char *name)
{
    const char *k = str_at(event, "involvedObject.kind");
    const char *n = str_at(event, "involvedObject.name");
    const char *ens = str_at(event, "involvedObject.namespace");
    if (k == NULL || n == NULL || kind == NULL || name == NULL)
        return false;
    if (strcasecmp(k, kind) != 0 || strcmp(n, name) != 0)
        return false;
    return ns == NULL || *ns == '\0' || ens == NULL || strcmp(ens, ns) == 0;
}

int st_ctlfmt_describe(FILE *out, const struct st_ctlfmt_kind *k, json_t *obj, json_t *events,
                       time_t now, st_error *err)
{
    if (!json_is_object(obj))
        return st_error_set(err, EINVAL, "stratad sent a %s that is not a JSON object", k->kind);
    int r = 0;
    switch (k->id) {
    case ST_CTLFMT_POD:
        r = describe_pod(out, obj, events, now, err);
        break;
    case ST_CTLFMT_DEPLOYMENT:
        r = describe_deployment(out, obj, events, now, err);
        break;
    case ST_CTLFMT_NODE:
        r = describe_node(out, obj, events, now, err);
        break;
    case ST_CTLFMT_SECRET:
        r = describe_secret(out, obj, events, now, err);
        break;
    case ST_CTLFMT_EVENT:
        r = describe_event(out, obj, now);
        break;
    case ST_CTLFMT_IMAGE:
        r = describe_image(out, obj);
        break;
    }
    if (r == 0 && ferror(out))
        return st_error_sys(err, errno ? errno : EIO, "cannot write the description");
    return r;
}
