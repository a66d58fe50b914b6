/* delete_options.c: see delete_options.h. */
#include "strata/delete_options.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int st_propagation_parse(const char *text, st_propagation *out, st_error *err)
{
    static const struct {
        const char *name;
        st_propagation p;
    } names[] = {
        {"Background", ST_PROPAGATE_BACKGROUND}, {"background", ST_PROPAGATE_BACKGROUND},
        {"true", ST_PROPAGATE_BACKGROUND},       {"Foreground", ST_PROPAGATE_FOREGROUND},
        {"foreground", ST_PROPAGATE_FOREGROUND}, {"Orphan", ST_PROPAGATE_ORPHAN},
        {"orphan", ST_PROPAGATE_ORPHAN},         {"false", ST_PROPAGATE_ORPHAN},
    };
    *out = ST_PROPAGATE_BACKGROUND;
    if (text == NULL || *text == 0)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].p;
            return 0;
        }
    return st_error_set(err, EINVAL,
                        "propagation policy \"%s\": give Background, Foreground or Orphan", text);
}

int st_delete_options_parse(const char *policy, const char *grace, json_t *body,
                            st_propagation *out_policy, int *out_grace, st_error *err)
{
    if (policy == NULL)
        policy = json_string_value(json_object_get(body, "propagationPolicy"));
    int r = st_propagation_parse(policy, out_policy, err);
    if (r < 0)
        return r;
    json_t *gj = json_object_get(body, "gracePeriodSeconds");
    char *end = NULL;
    long long v = -1;
    if (grace)
        v = strtoll(grace, &end, 10);
    else if (json_is_integer(gj))
        v = json_integer_value(gj);
    if ((grace && (*grace == 0 || *end)) || (!grace && gj && !json_is_integer(gj)) || v < -1 ||
        v > INT32_MAX)
        return st_error_set(err, EINVAL,
                            "gracePeriodSeconds: give a whole number of seconds (0: at once)");
    *out_grace = (int)v;
    return 0;
}
