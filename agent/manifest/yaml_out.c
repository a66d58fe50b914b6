/* yaml_out.c: JSON to YAML through libyaml's emitter (see yaml_out.h).
 * Block style, keys in the object's order; typing of plain scalars follows
 * st_yaml_scalar_resolve, the same rule the manifest reader applies. */
#include "strata/yaml_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "strata/cleanup.h"
#include "strata/manifest.h"

static int st_yaml_emit_event(yaml_emitter_t *em, yaml_event_t *ev, st_error *err)
{
    if (!yaml_emitter_emit(em, ev))
        return st_error_set(err, EIO, "cannot write YAML: %s",
                            em->problem ? em->problem : "emitter error");
    return 0;
}

static int st_yaml_scalar(yaml_emitter_t *em, const char *text, bool plain_ok, st_error *err)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = plain_ok ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                      plain_ok, 1, style))
        return st_error_set(err, ENOMEM, "cannot write YAML: out of memory");
    return st_yaml_emit_event(em, &ev, err);
}

static int st_yaml_node(yaml_emitter_t *em, json_t *v, int depth, st_error *err)
{
    yaml_event_t ev;
    char num[64];
    int r;
    if (depth > 256)
        return st_error_set(err, ELOOP, "cannot write YAML: nesting deeper than 256");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if ((r = st_yaml_emit_event(em, &ev, err)) < 0)
            return r;
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            bool plain = st_yaml_scalar_resolve(key) == ST_YAML_STRING;
            if ((r = st_yaml_scalar(em, key, plain, err)) < 0 ||
                (r = st_yaml_node(em, child, depth + 1, err)) < 0)
                return r;
        }
        yaml_mapping_end_event_initialize(&ev);
        return st_yaml_emit_event(em, &ev, err);
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if ((r = st_yaml_emit_event(em, &ev, err)) < 0)
            return r;
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            if ((r = st_yaml_node(em, child, depth + 1, err)) < 0)
                return r;
        }
        yaml_sequence_end_event_initialize(&ev);
        return st_yaml_emit_event(em, &ev, err);
    }
    case JSON_STRING: {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return st_error_set(err, EINVAL, "cannot write YAML: a string contains NUL");
        return st_yaml_scalar(em, s, st_yaml_scalar_resolve(s) == ST_YAML_STRING, err);
    }
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return st_yaml_scalar(em, num, true, err);
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        if (st_yaml_scalar_resolve(num) != ST_YAML_FLOAT) /* "1" would read back as an int */
            strcat(num, ".0");
        return st_yaml_scalar(em, num, true, err);
    case JSON_TRUE:
        return st_yaml_scalar(em, "true", true, err);
    case JSON_FALSE:
        return st_yaml_scalar(em, "false", true, err);
    case JSON_NULL:
        return st_yaml_scalar(em, "null", true, err);
    }
    return st_error_set(err, EINVAL, "cannot write YAML: unknown JSON type");
}

static int st_yaml_document(yaml_emitter_t *em, json_t *v, bool first, st_error *err)
{
    yaml_event_t ev;
    int r;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, first);
    if ((r = st_yaml_emit_event(em, &ev, err)) < 0 || (r = st_yaml_node(em, v, 0, err)) < 0)
        return r;
    yaml_document_end_event_initialize(&ev, 1);
    return st_yaml_emit_event(em, &ev, err);
}

int st_yaml_write(FILE *out, json_t *value, bool documents, st_error *err)
{
    if (value == NULL)
        return st_error_set(err, EINVAL, "cannot write YAML: no value");
    if (documents && !json_is_array(value))
        return st_error_set(err, EINVAL, "cannot write YAML documents: expected a JSON array");
    yaml_emitter_t em;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&em))
        return st_error_set(err, ENOMEM, "cannot write YAML: out of memory");
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    int r = st_yaml_emit_event(&em, &ev, err);
    if (r == 0 && documents) {
        size_t i;
        json_t *doc;
        json_array_foreach(value, i, doc)
        {
            if ((r = st_yaml_document(&em, doc, i == 0, err)) < 0)
                break;
        }
    } else if (r == 0) {
        r = st_yaml_document(&em, value, true, err);
    }
    if (r == 0) {
        yaml_stream_end_event_initialize(&ev);
        r = st_yaml_emit_event(&em, &ev, err);
    }
    if (r == 0 && !yaml_emitter_flush(&em))
        r = st_error_set(err, EIO, "cannot write YAML: flush failed");
    yaml_emitter_delete(&em);
    return r;
}

int st_yaml_dumps(json_t *value, bool documents, char **text, st_error *err)
{
    *text = NULL;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return st_error_sys(err, errno, "cannot write YAML: open_memstream");
    int r = st_yaml_write(f, value, documents, err);
    if (fclose(f) != 0 && r == 0)
        r = st_error_sys(err, errno, "cannot write YAML: closing the buffer");
    if (r == 0)
        *text = st_steal_ptr(&buf);
    return r;
}
