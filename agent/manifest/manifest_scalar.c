/* manifest_scalar.c: how a plain YAML scalar is typed, the way Kubernetes'
 * YAML reader (go-yaml, YAML 1.1) types it: null, boolean (yes/no/on/off
 * too), integer (0x1f, 0755, 0b11), float, else string. Kept apart from
 * manifest.c so the reader there is only about documents and schemas. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/manifest.h"

bool st_mword_in(const char *s, const char *const *words)
{
    for (; *words; words++) {
        if (strcmp(s, *words) == 0)
            return true;
    }
    return false;
}

bool st_myaml_int_value(const char *s, long long *out)
{
    const char *p = s;
    int base = 10;
    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && p[1] != '\0') {
        base = 8;
        p++;
    }
    if (*p == '\0' || *p == '+' || *p == '-')
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(p, &end, base);
    if (errno != 0 || end == p || *end != '\0')
        return false;
    if (*s == '-')
        v = -v;
    if (out)
        *out = v;
    return true;
}

static bool st_yaml_is_float(const char *s)
{
    static const char *const special[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                          "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                                          ".NaN",  ".NAN",  NULL};
    if (st_mword_in(s, special))
        return true;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t intd = strspn(p, "0123456789");
    p += intd;
    size_t fracd = 0;
    if (*p == '.') {
        p++;
        fracd = strspn(p, "0123456789");
        p += fracd;
    } else if (intd == 0) {
        return false;
    }
    if (intd == 0 && fracd == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t expd = strspn(p, "0123456789");
        if (expd == 0)
            return false;
        p += expd;
    }
    return *p == '\0';
}

enum st_yaml_scalar st_yaml_scalar_resolve(const char *text)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {
        "y",    "Y",     "yes",   "Yes",   "YES", "n",  "N",  "no",  "No",  "NO",  "true", "True",
        "TRUE", "false", "False", "FALSE", "on",  "On", "ON", "off", "Off", "OFF", NULL};
    if (st_mword_in(text, nulls))
        return ST_YAML_NULL;
    if (st_mword_in(text, bools))
        return ST_YAML_BOOL;
    if (st_myaml_int_value(text, NULL))
        return ST_YAML_INT;
    if (st_yaml_is_float(text))
        return ST_YAML_FLOAT;
    return ST_YAML_STRING;
}

bool st_myaml_bool_value(const char *text)
{
    static const char *const truths[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                         "True", "TRUE", "on",  "On",  "ON",  NULL};
    return st_mword_in(text, truths);
}
