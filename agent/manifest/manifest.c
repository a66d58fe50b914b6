/* manifest.c: the generic half of manifest reading: libyaml documents (with
 * their line/column marks) checked against the tables of manifest_schema.c,
 * typed the way Kubernetes types YAML (manifest_scalar.c), defaulted, and
 * turned into jansson objects. Kind-specific rules live in manifest_schema.c,
 * not here. A null value reads as an absent one, as in Kubernetes. */
#include "strata/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_schema.h"
#include "strata/cleanup.h"
#include "strata/quantity.h"

#define ST_MANIFEST_MAX_ERRORS 20
#define ST_MANIFEST_MAX_BYTES  (16 * 1024 * 1024)

struct st_mctx {
    const char *name;
    const unsigned char *text; /* the whole input, to place reader errors */
    size_t len;
    yaml_document_t *doc;
    unsigned char *visited; /* per node of doc: aliases show up as a second visit */
    size_t nnodes;
    char path[1024];
    size_t pathlen;
    const yaml_node_t *near; /* innermost node being read, for messages without one */
    struct st_manifest_diag *head, **tail;
    int errors;
    json_t *doc_notes; /* the current document's, for st_manifest_check_across */
    json_t *notes;     /* one per object read, in order (null: none) */
    enum st_manifest_fields fields;
    bool tag_unknown, tag_ignored; /* the next diagnostic is of such a field */
};

/* ---- scalars ---- */

static const char *st_scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* The first character of a scalar that no stored string may hold, or -1.
 * NUL: libyaml keeps a "\0" escape inside the scalar, and C string
 * functions would cut the text there. DEL and the C1 controls (U+0080 to
 * U+009F): an escape ("\x7f", "\u0085") reads them, but YAML text cannot
 * carry them raw while JSON writers (jansson, so the API and every patch,
 * which read what they print) write them raw: the object could never be
 * read back. */
static int st_scalar_bad_char(const yaml_node_t *n)
{
    const unsigned char *p = n->data.scalar.value;
    size_t len = n->data.scalar.length;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0 || p[i] == 0x7f)
            return p[i];
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return p[i + 1];
        /* U+2028 and U+2029 ("\L", "\P") are line breaks YAML keeps as
         * they are, but it strips the white space around a line break: a
         * space beside one would not read back from the JSON the API
         * writes (jansson writes both raw; a tab it escapes) */
        if (p[i] == 0xe2 && i + 2 < len && p[i + 1] == 0x80 &&
            (p[i + 2] == 0xa8 || p[i + 2] == 0xa9) &&
            ((i > 0 && p[i - 1] == ' ') || (i + 3 < len && p[i + 3] == ' ')))
            return p[i + 2] == 0xa8 ? 0x2028 : 0x2029;
    }
    return -1;
}

/* How a character st_scalar_bad_char found is named in an error. */
static const char *st_bad_char_name(int ch, char *buf, size_t len)
{
    if (ch == 0x2028 || ch == 0x2029)
        snprintf(buf, len,
                 "the line break U+%04X beside a space (YAML strips white space around a line "
                 "break, so the value would not read back as written)",
                 ch);
    else
        snprintf(buf, len, "the control character U+%04X", ch);
    return buf;
}

static enum st_yaml_scalar st_scalar_kind(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return ST_YAML_STRING;
    return st_yaml_scalar_resolve(st_scalar_text(n));
}

static bool st_node_is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && st_scalar_kind(n) == ST_YAML_NULL;
}

static const char *st_node_what(const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    switch (st_scalar_kind(n)) {
    case ST_YAML_NULL:
        return "null";
    case ST_YAML_BOOL:
        return "a boolean";
    case ST_YAML_INT:
        return "an integer";
    case ST_YAML_FLOAT:
        return "a float";
    default:
        return "a string";
    }
}

/* ---- diagnostics ---- */

static void st_diag_add(struct st_mctx *c, bool is_error, int line, int column, const char *fmt,
                        va_list ap)
{
    if (is_error && ++c->errors > ST_MANIFEST_MAX_ERRORS)
        return;
    _cleanup_free_ char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    int n = snprintf(NULL, 0, "%s:%d:%d: %s%s", c->name, line, column,
                     is_error ? "" : "warning: ", msg);
    struct st_manifest_diag *d = calloc(1, sizeof(*d) + (size_t)n + 1);
    if (d == NULL)
        return;
    d->is_error = is_error;
    d->unknown_field = c->tag_unknown;
    d->ignored_field = c->tag_ignored;
    d->line = line;
    d->column = column;
    d->msg = (size_t)n - strlen(msg);
    snprintf(d->text, (size_t)n + 1, "%s:%d:%d: %s%s", c->name, line, column,
             is_error ? "" : "warning: ", msg);
    *c->tail = d;
    c->tail = &d->next;
}

static void st_diag_at_node(struct st_mctx *c, bool is_error, const yaml_node_t *at,
                            const char *fmt, va_list ap)
{
    if (at == NULL)
        at = c->near;
    int line = at ? (int)at->start_mark.line + 1 : 1;
    int col = at ? (int)at->start_mark.column + 1 : 1;
    st_diag_add(c, is_error, line, col, fmt, ap);
}

void st_mctx_error(struct st_mctx *c, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_diag_at_node(c, true, at, fmt, ap);
    va_end(ap);
}

void st_mctx_warn(struct st_mctx *c, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_diag_at_node(c, false, at, fmt, ap);
    va_end(ap);
}

void st_mctx_error_line(struct st_mctx *c, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_diag_add(c, true, line, column, fmt, ap);
    va_end(ap);
}

void st_mctx_node_pos(const yaml_node_t *n, int *line, int *column)
{
    *line = (int)n->start_mark.line + 1;
    *column = (int)n->start_mark.column + 1;
}

json_t *st_mctx_doc_notes(struct st_mctx *c)
{
    if (c->doc_notes == NULL)
        c->doc_notes = json_object();
    return c->doc_notes;
}

void st_manifest_diag_free(struct st_manifest_diag *diags)
{
    while (diags) {
        struct st_manifest_diag *next = diags->next;
        free(diags);
        diags = next;
    }
}

/* ---- paths and node access ---- */

const char *st_mctx_path(const struct st_mctx *c)
{
    return c->path;
}

static size_t st_path_push_key(struct st_mctx *c, const char *key)
{
    size_t old = c->pathlen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
    if (n > 0)
        c->pathlen = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static size_t st_path_push_index(struct st_mctx *c, size_t index)
{
    size_t old = c->pathlen;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", index);
    if (n > 0)
        c->pathlen = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static void st_path_pop(struct st_mctx *c, size_t old)
{
    c->pathlen = old;
    c->path[old] = '\0';
}

static yaml_node_t *st_node(const struct st_mctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static yaml_node_pair_t *st_pair_find(const struct st_mctx *c, const yaml_node_t *mapping,
                                      const char *key)
{
    if (mapping == NULL || mapping->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start;
         p < mapping->data.mapping.pairs.top; p++) {
        yaml_node_t *k = st_node(c, p->key);
        /* The length too: a key "kind\0x" is not "kind". */
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            strcmp(st_scalar_text(k), key) == 0)
            return p;
    }
    return NULL;
}

yaml_node_t *st_mctx_child(const struct st_mctx *c, const yaml_node_t *mapping, const char *key)
{
    yaml_node_pair_t *p = st_pair_find(c, mapping, key);
    return p ? st_node(c, p->value) : NULL;
}

yaml_node_t *st_mctx_key(const struct st_mctx *c, yaml_node_t *mapping, const char *key)
{
    yaml_node_pair_t *p = st_pair_find(c, mapping, key);
    return p ? st_node(c, p->key) : mapping;
}

yaml_node_t *st_mctx_item(const struct st_mctx *c, const yaml_node_t *seq, size_t index)
{
    if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    return index < n ? st_node(c, seq->data.sequence.items.start[index]) : NULL;
}

/* A node reached twice is an alias: refused, so a small file cannot expand
 * into an exponential tree ("billion laughs"). */
static bool st_visit(struct st_mctx *c, const yaml_node_t *n)
{
    size_t i = (size_t)(n - c->doc->nodes.start);
    if (i >= c->nnodes)
        return true;
    if (c->visited[i]) {
        st_mctx_error(c, n,
                      "%s: YAML aliases (*name) are not supported: write the value out in full",
                      c->path);
        return false;
    }
    c->visited[i] = 1;
    return true;
}

/* ---- values ---- */

static json_t *st_mbuild_object(struct st_mctx *c, const struct st_mschema *schema,
                                yaml_node_t *mapping);

static bool st_expect(struct st_mctx *c, const yaml_node_t *n, yaml_node_type_t type,
                      const char *what)
{
    if (n->type == type)
        return true;
    st_mctx_error(c, n, "%s%sexpected %s, got %s", c->path, c->pathlen ? ": " : "", what,
                  st_node_what(n));
    return false;
}

static bool st_expect_scalar(struct st_mctx *c, const yaml_node_t *n, enum st_yaml_scalar kind,
                             const char *what)
{
    if (n->type == YAML_SCALAR_NODE && st_scalar_kind(n) == kind)
        return true;
    st_mctx_error(c, n, "%s%sexpected %s, got %s", c->path, c->pathlen ? ": " : "", what,
                  st_node_what(n));
    return false;
}

/* The text of a mapping key, or NULL (and an error) when it is not a string
 * or holds a NUL, which would make "app\0evil" read as "app". */
static const char *st_key_text(struct st_mctx *c, const yaml_node_t *k, const char *what)
{
    const char *sep = c->pathlen ? ": " : "";
    if (k->type != YAML_SCALAR_NODE) {
        st_mctx_error(c, k, "%s%s%s must be a string, got %s", c->path, sep, what, st_node_what(k));
        return NULL;
    }
    int bad = st_scalar_bad_char(k);
    if (bad == 0) {
        st_mctx_error(c, k, "%s%s%s contains a NUL character", c->path, sep, what);
        return NULL;
    }
    if (bad > 0) {
        char name[200];
        st_mctx_error(c, k, "%s%s%s contains %s: remove it", c->path, sep, what,
                      st_bad_char_name(bad, name, sizeof(name)));
        return NULL;
    }
    return st_scalar_text(k);
}

static json_t *st_mbuild_string_value(struct st_mctx *c, const yaml_node_t *n)
{
    if (!st_expect_scalar(c, n, ST_YAML_STRING, "a string"))
        return NULL;
    int bad = st_scalar_bad_char(n);
    if (bad == 0) {
        st_mctx_error(c, n, "%s: the string contains a NUL character", c->path);
        return NULL;
    }
    if (bad > 0) {
        char name[200];
        st_mctx_error(c, n, "%s: the string contains %s: remove it", c->path,
                      st_bad_char_name(bad, name, sizeof(name)));
        return NULL;
    }
    return json_string(st_scalar_text(n));
}

static json_t *st_mbuild_string(struct st_mctx *c, const struct st_mfield *f, const yaml_node_t *n)
{
    json_t *v = st_mbuild_string_value(c, n);
    if (v == NULL)
        return NULL;
    const char *s = json_string_value(v);
    if ((f->flags & ST_MF_REQUIRED) && *s == '\0') {
        st_mctx_error(c, n, "%s must not be empty", c->path);
        json_decref(v);
        return NULL;
    }
    if (f->values && !st_mword_in(s, f->values)) {
        char allowed[256] = "";
        size_t used = 0;
        for (const char *const *w = f->values; *w && used < sizeof(allowed); w++) {
            int k = snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
                             w == f->values ? "" : ", ", *w);
            used += k > 0 ? (size_t)k : 0;
        }
        st_mctx_error(c, n, "%s: unsupported value \"%s\": use one of %s", c->path, s, allowed);
        json_decref(v);
        return NULL;
    }
    return v;
}

static json_t *st_mbuild_int_value(struct st_mctx *c, const struct st_mfield *f,
                                   const yaml_node_t *n)
{
    long long v = 0;
    st_myaml_int_value(st_scalar_text(n), &v);
    int64_t lo = (f->flags & ST_MF_RANGE) ? f->min : INT32_MIN;
    int64_t hi = (f->flags & ST_MF_RANGE) ? f->max : INT32_MAX;
    if (v < lo || v > hi) {
        if (hi == INT32_MAX)
            st_mctx_error(c, n, "%s: must be greater than or equal to %lld, got %lld", c->path,
                          (long long)lo, v);
        else
            st_mctx_error(c, n, "%s: must be between %lld and %lld, got %lld", c->path,
                          (long long)lo, (long long)hi, v);
        return NULL;
    }
    return json_integer(v);
}

static json_t *st_mbuild_quantity(struct st_mctx *c, const struct st_mfield *f,
                                  const yaml_node_t *n)
{
    enum st_yaml_scalar k = n->type == YAML_SCALAR_NODE ? st_scalar_kind(n) : ST_YAML_NULL;
    if (k != ST_YAML_STRING && k != ST_YAML_INT && k != ST_YAML_FLOAT) {
        st_mctx_error(c, n, "%s: expected a quantity such as \"500m\" or \"64Mi\", got %s", c->path,
                      st_node_what(n));
        return NULL;
    }
    const char *text = st_scalar_text(n);
    st_error qerr = {0};
    int64_t ignored;
    int r = strcmp(f->name, "cpu") == 0 ? st_quantity_parse_millis(text, &ignored, &qerr)
                                        : st_quantity_parse_bytes(text, &ignored, &qerr);
    if (r < 0) {
        st_mctx_error(c, n, "%s: %s", c->path, qerr.msg);
        return NULL;
    }
    return json_string(text);
}

static json_t *st_mbuild_string_map(struct st_mctx *c, const yaml_node_t *n)
{
    if (!st_expect(c, n, YAML_MAPPING_NODE, "a mapping of strings"))
        return NULL;
    json_t *map = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = st_node(c, p->key), *v = st_node(c, p->value);
        const char *key = st_key_text(c, k, "a key");
        if (key == NULL)
            continue;
        size_t old = st_path_push_key(c, key);
        if (json_object_get(map, key)) {
            st_mctx_error(c, k, "%s: duplicate key", c->path);
        } else if (st_visit(c, v)) {
            json_t *s = st_mbuild_string_value(c, v);
            if (s)
                json_object_set_new(map, key, s);
        }
        st_path_pop(c, old);
    }
    return map;
}

static json_t *st_mbuild_list(struct st_mctx *c, const struct st_mfield *f, const yaml_node_t *n)
{
    bool objects = f->type == ST_MT_OBJECT_LIST;
    if (!st_expect(c, n, YAML_SEQUENCE_NODE, "a sequence"))
        return NULL;
    json_t *list = json_array();
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = st_node(c, *it);
        size_t old = st_path_push_index(c, i);
        if (st_visit(c, item)) {
            json_t *v = NULL;
            if (!objects)
                v = st_mbuild_string_value(c, item);
            else if (st_expect(c, item, YAML_MAPPING_NODE, "a mapping"))
                v = st_mbuild_object(c, f->schema, item);
            if (v)
                json_array_append_new(list, v);
        }
        st_path_pop(c, old);
    }
    if ((f->flags & ST_MF_REQUIRED) && i == 0)
        st_mctx_error(c, n, "%s must have at least one entry", c->path);
    return list;
}

/* n is the value node; returns NULL for null or after an error. */
static json_t *st_mbuild_value(struct st_mctx *c, const struct st_mfield *f, yaml_node_t *n)
{
    if (!st_visit(c, n) || st_node_is_null(n))
        return NULL;
    const yaml_node_t *saved = c->near;
    c->near = n;
    int errors0 = c->errors;
    json_t *v = NULL;
    switch (f->type) {
    case ST_MT_STRING:
        v = st_mbuild_string(c, f, n);
        break;
    case ST_MT_INT:
        if (st_expect_scalar(c, n, ST_YAML_INT, "an integer"))
            v = st_mbuild_int_value(c, f, n);
        break;
    case ST_MT_BOOL:
        if (st_expect_scalar(c, n, ST_YAML_BOOL, "a boolean (true or false)")) {
            v = json_boolean(st_myaml_bool_value(st_scalar_text(n)));
        }
        break;
    case ST_MT_INT_OR_STRING:
        if (n->type == YAML_SCALAR_NODE && st_scalar_kind(n) == ST_YAML_INT)
            v = st_mbuild_int_value(c, f, n);
        else if (n->type == YAML_SCALAR_NODE && st_scalar_kind(n) == ST_YAML_STRING)
            v = st_mbuild_string(c, f, n);
        else
            st_mctx_error(c, n, "%s: expected an integer or a string, got %s", c->path,
                          st_node_what(n));
        break;
    case ST_MT_QUANTITY:
        v = st_mbuild_quantity(c, f, n);
        break;
    case ST_MT_STRING_MAP:
        v = st_mbuild_string_map(c, n);
        break;
    case ST_MT_OBJECT:
        if (st_expect(c, n, YAML_MAPPING_NODE, "a mapping"))
            v = st_mbuild_object(c, f->schema, n);
        break;
    case ST_MT_OBJECT_LIST:
    case ST_MT_STRING_LIST:
        v = st_mbuild_list(c, f, n);
        break;
    case ST_MT_UNIMPLEMENTED:
    case ST_MT_DERIVED:
        break;
    }
    if (v && f->check && c->errors == errors0)
        f->check(c, n, v);
    c->near = saved;
    return v;
}

static const struct st_mfield *st_field_find(const struct st_mschema *schema, const char *name,
                                             size_t *index)
{
    for (size_t i = 0; schema->fields[i].name; i++) {
        if (strcmp(schema->fields[i].name, name) == 0) {
            *index = i;
            return &schema->fields[i];
        }
    }
    return NULL;
}

static json_t *st_mdefault(struct st_mctx *c, const struct st_mfield *f)
{
    if (f->type == ST_MT_OBJECT && strcmp(f->def, "{}") == 0)
        return st_mbuild_object(c, f->schema, NULL);
    json_error_t jerr;
    json_t *v = json_loads(f->def, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        st_mctx_error(c, NULL, "%s: internal error: bad default %s: %s", c->path, f->def,
                      jerr.text);
    return v;
}

/* mapping is NULL when the object itself was defaulted: only defaults apply. */
static json_t *st_mbuild_object(struct st_mctx *c, const struct st_mschema *schema,
                                yaml_node_t *mapping)
{
    size_t nfields = 0;
    while (schema->fields[nfields].name)
        nfields++;
    _cleanup_free_ unsigned char *seen = calloc(nfields + 1, 1);
    json_t *obj = json_object();
    if (seen == NULL || obj == NULL) {
        st_mctx_error(c, mapping, "%s: out of memory", c->path);
        return obj;
    }
    const yaml_node_t *saved = c->near;
    if (mapping)
        c->near = mapping;
    int errors0 = c->errors;

    yaml_node_pair_t *pairs = mapping ? mapping->data.mapping.pairs.start : NULL;
    yaml_node_pair_t *end = mapping ? mapping->data.mapping.pairs.top : NULL;
    for (yaml_node_pair_t *p = pairs; p < end; p++) {
        yaml_node_t *k = st_node(c, p->key), *v = st_node(c, p->value);
        const char *key = st_key_text(c, k, "a field name");
        if (key == NULL)
            continue;
        size_t old = st_path_push_key(c, key);
        yaml_node_pair_t *first = st_pair_find(c, mapping, key);
        size_t index = 0;
        const struct st_mfield *f = st_field_find(schema, key, &index);
        if (first != p) {
            st_mctx_error(c, k, "duplicate field \"%s\" (first set on line %d)", c->path,
                          (int)st_node(c, first->key)->start_mark.line + 1);
        } else if (f == NULL) {
            c->tag_unknown = true;
            if (c->fields == ST_MANIFEST_FIELDS_STRICT)
                st_mctx_error(c, k, "unknown field \"%s\"", c->path);
            else if (c->fields == ST_MANIFEST_FIELDS_WARN)
                st_mctx_warn(c, k, "unknown field \"%s\"", c->path);
            c->tag_unknown = false;
        } else if (f->type == ST_MT_UNIMPLEMENTED) {
            seen[index] = 1;
            c->tag_ignored = true;
            if (!st_node_is_null(v)) /* null is absent: nothing was asked for */
                st_mctx_warn(c, k, "%s is not implemented by Strata and is ignored", c->path);
            c->tag_ignored = false;
        } else if (f->type != ST_MT_DERIVED) {
            int before = c->errors;
            json_t *val = st_mbuild_value(c, f, v);
            /* A null value reads as absent, as in Kubernetes: the field
             * stays unseen so its default is filled in below. */
            if (val || c->errors != before)
                seen[index] = 1;
            if (val) {
                json_object_set_new(obj, key, val);
            } else if ((f->flags & ST_MF_REQUIRED) && c->errors == before) {
                seen[index] = 1;
                st_mctx_error(c, v, "%s is required and must not be null", c->path);
            }
        }
        st_path_pop(c, old);
    }

    for (size_t i = 0; i < nfields; i++) {
        const struct st_mfield *f = &schema->fields[i];
        if (seen[i] || json_object_get(obj, f->name))
            continue;
        size_t old = st_path_push_key(c, f->name);
        if (f->flags & ST_MF_REQUIRED)
            st_mctx_error(c, mapping, "missing required field \"%s\"", c->path);
        else if (f->def) {
            json_t *d = st_mdefault(c, f);
            if (d)
                json_object_set_new(obj, f->name, d);
        }
        st_path_pop(c, old);
    }
    if (schema->check && c->errors == errors0)
        schema->check(c, mapping, obj);
    c->near = saved;
    return obj;
}

/* ---- documents ---- */

static const struct st_mschema *st_manifest_kind(struct st_mctx *c, yaml_node_t *root)
{
    yaml_node_t *av = st_mctx_child(c, root, "apiVersion");
    yaml_node_t *kn = st_mctx_child(c, root, "kind");
    if (kn == NULL || st_node_is_null(kn)) {
        st_mctx_error(c, root,
                      "missing required field \"kind\" (Deployment, Pod, Secret, Service or "
                      "Endpoints)");
        return NULL;
    }
    if (av == NULL || st_node_is_null(av)) {
        st_mctx_error(c, root, "missing required field \"apiVersion\"");
        return NULL;
    }
    if (kn->type != YAML_SCALAR_NODE || st_scalar_kind(kn) != ST_YAML_STRING) {
        st_mctx_error(c, kn, "kind: expected a string, got %s", st_node_what(kn));
        return NULL;
    }
    if (av->type != YAML_SCALAR_NODE || st_scalar_kind(av) != ST_YAML_STRING) {
        st_mctx_error(c, av, "apiVersion: expected a string, got %s", st_node_what(av));
        return NULL;
    }
    const char *kind = st_scalar_text(kn), *api = st_scalar_text(av);
    for (const struct st_mkind *k = st_manifest_kinds; k->kind; k++) {
        if (strcmp(k->kind, kind) != 0)
            continue;
        if (strcmp(k->api_version, api) == 0)
            return k->schema;
        st_mctx_error(c, av, "apiVersion \"%s\" does not serve kind %s: use %s", api, kind,
                      k->api_version);
        return NULL;
    }
    st_mctx_error(c, kn,
                  "kind \"%s\" is not supported by Strata (it reads Deployment (apps/v1), "
                  "Pod, Secret, Service and Endpoints (v1))",
                  kind);
    return NULL;
}

static void st_manifest_document(struct st_mctx *c, yaml_node_t *root, json_t *objects)
{
    if (root->type == YAML_SCALAR_NODE && st_node_is_null(root))
        return; /* an empty document, e.g. a trailing "---" */
    c->near = root;
    if (!st_expect(c, root, YAML_MAPPING_NODE, "a mapping (a Kubernetes object)"))
        return;
    const struct st_mschema *schema = st_manifest_kind(c, root);
    if (schema == NULL)
        return;
    int errors0 = c->errors;
    c->visited[root - c->doc->nodes.start] = 1;
    json_t *obj = st_mbuild_object(c, schema, root);
    if (c->errors == errors0) {
        json_array_append(objects, obj);
        json_array_append_new(c->notes, c->doc_notes ? c->doc_notes : json_null());
        c->doc_notes = NULL;
    }
    json_decref(obj);
    json_decref(c->doc_notes);
    c->doc_notes = NULL;
}

/* Line and column (1-based) of byte offset end of UTF-8 text, counted as
 * libyaml's marks count them. */
static void st_text_position(const struct st_mctx *c, size_t end, int *line, int *col)
{
    *line = 1;
    *col = 1;
    if (end > c->len)
        end = c->len;
    size_t i = 0;
    if (end >= 3 && memcmp(c->text, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* a byte order mark is no character of line 1 */
    for (; i < end; i++) {
        unsigned char ch = c->text[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 >= c->len || c->text[i + 1] != '\n'))) {
            (*line)++;
            *col = 1;
        } else if ((ch & 0xC0) != 0x80 && ch != '\r') {
            (*col)++; /* a character starts here, not a UTF-8 continuation byte */
        }
    }
}

/* libyaml's reader reports only a byte offset (its marks are not set yet):
 * count lines and characters up to it, as the marks of later stages do.
 * UTF-16 input keeps "byte N" only. */
static void st_offset_position(const struct st_mctx *c, const yaml_parser_t *parser, int *line,
                               int *col)
{
    *line = 1;
    *col = 1;
    if (parser->encoding == YAML_UTF16LE_ENCODING || parser->encoding == YAML_UTF16BE_ENCODING)
        return;
    st_text_position(c, parser->problem_offset, line, col);
}

/* A raw NEL (U+0085) is a line break to YAML 1.1 but a character to JSON:
 * libyaml would fold the JSON string "a<NEL>b", which jansson writes for
 * "a\u0085b", into "a b", so an API body would be stored other than sent.
 * Refused wherever it is (in a string it would be refused anyway, see
 * st_scalar_bad_char). UTF-8 text only: the API takes nothing else. */
static bool st_manifest_has_nel(struct st_mctx *c)
{
    const unsigned char *nel = memmem(c->text, c->len, "\xc2\x85", 2);
    if (nel == NULL)
        return false;
    int line, col;
    st_text_position(c, (size_t)(nel - c->text), &line, &col);
    st_mctx_error_line(c, line, col,
                       "invalid YAML: the character U+0085 (NEL) is a line break in YAML but an "
                       "ordinary character in JSON, so the text reads differently as each: "
                       "remove it");
    return true;
}

static void st_manifest_yaml_error(struct st_mctx *c, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "unreadable YAML";
    int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;
    if (parser->error == YAML_READER_ERROR) {
        st_offset_position(c, parser, &line, &col);
        st_mctx_error_line(c, line, col, "invalid YAML: %s at byte %zu", problem,
                           parser->problem_offset);
    } else if (parser->context) {
        st_mctx_error_line(c, line, col, "invalid YAML: %s %s (started on line %d)", problem,
                           parser->context, (int)parser->context_mark.line + 1);
    } else {
        st_mctx_error_line(c, line, col, "invalid YAML: %s", problem);
    }
}

static void st_manifest_error_summary(const struct st_mctx *c, st_error *err)
{
    char msg[ST_ERROR_MSG_MAX];
    size_t used = 0;
    int shown = 0;
    msg[0] = '\0';
    for (const struct st_manifest_diag *d = c->head; d; d = d->next) {
        if (!d->is_error)
            continue;
        size_t len = strlen(d->text);
        if (shown > 0 && used + len + 64 >= sizeof(msg))
            break;
        used +=
            (size_t)snprintf(msg + used, sizeof(msg) - used, "%s%s", shown ? "\n" : "", d->text);
        if (used >= sizeof(msg))
            used = sizeof(msg) - 1;
        shown++;
    }
    if (c->errors > shown)
        snprintf(msg + used, sizeof(msg) - used, "\n(%d more error%s)", c->errors - shown,
                 c->errors - shown == 1 ? "" : "s");
    st_error_set(err, EINVAL, "%s", msg);
}

int st_manifest_parse_string(const char *name, const char *text, size_t len, json_t **objects,
                             struct st_manifest_diag **diags, st_error *err)
{
    return st_manifest_parse_string_fields(name, text, len, ST_MANIFEST_FIELDS_STRICT, objects,
                                           diags, err);
}

int st_manifest_parse_string_fields(const char *name, const char *text, size_t len,
                                    enum st_manifest_fields mode, json_t **objects,
                                    struct st_manifest_diag **diags, st_error *err)
{
    *objects = NULL;
    if (diags)
        *diags = NULL;
    struct st_mctx c = {.name = name ? name : "<manifest>",
                        .text = (const unsigned char *)text,
                        .len = len,
                        .fields = mode};
    c.tail = &c.head;
    _cleanup_json_ json_t *notes = c.notes = json_array();
    bool utf16 = len >= 2 && ((unsigned char)text[0] == 0xff || (unsigned char)text[0] == 0xfe);
    if (!utf16 && st_manifest_has_nel(&c)) {
        st_manifest_error_summary(&c, err);
        if (diags)
            *diags = c.head;
        else
            st_manifest_diag_free(c.head);
        return -EINVAL;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return st_error_set(err, ENOMEM, "%s: cannot initialize the YAML parser", c.name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    json_t *result = json_array();

    while (c.errors < ST_MANIFEST_MAX_ERRORS) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            st_manifest_yaml_error(&c, &parser);
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) {
            yaml_document_delete(&doc);
            break;
        }
        c.doc = &doc;
        c.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
        c.visited = calloc(c.nnodes, 1);
        if (c.visited == NULL)
            st_mctx_error(&c, root, "out of memory");
        else
            st_manifest_document(&c, root, result);
        free(c.visited);
        c.visited = NULL;
        c.doc = NULL;
        c.near = NULL;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (c.errors == 0)
        st_manifest_check_across(&c, result, notes);

    int r = 0;
    if (c.errors > 0) {
        st_manifest_error_summary(&c, err);
        json_decref(result);
        r = -EINVAL;
    } else {
        *objects = result;
    }
    if (diags)
        *diags = c.head;
    else
        st_manifest_diag_free(c.head);
    return r;
}

int st_manifest_parse_file(const char *path, json_t **objects, struct st_manifest_diag **diags,
                           st_error *err)
{
    *objects = NULL;
    if (diags)
        *diags = NULL;
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (f == NULL)
        return st_error_sys(err, errno, "cannot open manifest %s", path);
    _cleanup_free_ char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= ST_MANIFEST_MAX_BYTES)
                return st_error_set(err, EFBIG, "manifest %s is larger than %d MiB: split it", path,
                                    ST_MANIFEST_MAX_BYTES >> 20);
            cap = cap ? cap * 2 : 16384;
            char *n = realloc(buf, cap);
            if (n == NULL)
                return st_error_set(err, ENOMEM, "cannot read manifest %s: out of memory", path);
            buf = n;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                return st_error_sys(err, errno ? errno : EIO, "cannot read manifest %s", path);
            break;
        }
    }
    return st_manifest_parse_string(path, buf ? buf : "", len, objects, diags, err);
}
