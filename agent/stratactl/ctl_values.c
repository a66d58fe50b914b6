/* ctl_values.c: the small pieces every stratactl view is made of: JSON read
 * by dotted path, cells built in fixed buffers, Kubernetes' way of printing
 * quantities and sizes (ages and the cells stratad's Tables share are
 * strata/printers.h's). */
#include "ctl_format_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/cleanup.h"
#include "strata/jsonpath.h"
#include "strata/quantity.h"

/* ---- JSON helpers --------------------------------------------------------- */

/* The value at a dotted path ("status.strata.phase"), or NULL: util's walk
 * under the short name every row and view here uses. */
json_t *ctlfmt_at(json_t *obj, const char *path)
{
    return st_json_at(obj, path);
}

/* A non-empty string at path, or NULL. */
const char *ctlfmt_str_at(json_t *obj, const char *path)
{
    const char *s = json_string_value(ctlfmt_at(obj, path));
    return s && *s ? s : NULL;
}

const char *ctlfmt_str_or(json_t *obj, const char *path, const char *def)
{
    const char *s = ctlfmt_str_at(obj, path);
    return s ? s : def;
}

/* A scalar as text (strings as they are, numbers printed), or def. */
const char *ctlfmt_scalar_text(json_t *v, char *buf, size_t len, const char *def)
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

const char *ctlfmt_obj_name(json_t *obj)
{
    const char *n = ctlfmt_str_at(obj, "metadata.name");
    return n ? n : ctlfmt_str_or(obj, "name", "");
}

/* ---- single values -------------------------------------------------------- */

void stctl_fmt_size(long long bytes, char *buf, size_t len)
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
void ctlfmt_memory_text(json_t *v, char *buf, size_t len)
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

void ctlfmt_millis_text(long long ms, char *buf, size_t len)
{
    if (ms <= 0)
        snprintf(buf, len, "%s", NONE);
    else if (ms < 1000)
        snprintf(buf, len, "%lldms", ms);
    else
        snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
}

void ctlfmt_bytes_text(long long bytes, char *buf, size_t len)
{
    const long long ki = 1024, mi = ki * 1024, gi = mi * 1024;
    if (bytes != 0 && bytes % gi == 0)
        snprintf(buf, len, "%lldGi", bytes / gi);
    else if (bytes != 0 && bytes % mi == 0)
        snprintf(buf, len, "%lldMi", bytes / mi);
    else if (bytes != 0 && bytes % ki == 0)
        snprintf(buf, len, "%lldKi", bytes / ki);
    else
        snprintf(buf, len, "%lld", bytes);
}

void ctlfmt_cpu_text(long long millis, char *buf, size_t len)
{
    if (millis % 1000 == 0)
        snprintf(buf, len, "%lld", millis / 1000);
    else
        snprintf(buf, len, "%lldm", millis);
}
