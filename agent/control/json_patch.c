/* json_patch.c: JSON Patch (RFC 6902) with JSON Pointers (RFC 6901), the
 * `kubectl patch --type=json` body. The operations change the document in
 * place; a caller that wants all or nothing patches a copy (st_object_patch
 * does). Errors name the operation by its index, as the apiserver's do. */
#include "strata/object_patch.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The pointer's reference tokens, unescaped (~1 is '/', ~0 is '~'). */
static int pointer_tokens(const char *ptr, json_t **out)
{
    *out = NULL;
    if (ptr == NULL || (ptr[0] != '\0' && ptr[0] != '/'))
        return -EINVAL;
    json_t *toks = json_array();
    if (toks == NULL)
        return -ENOMEM;
    for (const char *p = ptr; *p == '/';) {
        p++;
        size_t n = strcspn(p, "/");
        char *tok = malloc(n + 1);
        if (tok == NULL) {
            json_decref(toks);
            return -ENOMEM;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else if (p[i] == '~') {
                free(tok);
                json_decref(toks);
                return -EINVAL; /* a '~' not followed by 0 or 1 */
            } else
                tok[k++] = p[i];
        }
        tok[k] = '\0';
        json_array_append_new(toks, json_string(tok));
        free(tok);
        p += n;
    }
    *out = toks;
    return 0;
}

/* An array index: digits without a leading zero, below limit. */
static bool array_index(const char *tok, size_t limit, size_t *out)
{
    if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return false;
    size_t v = 0;
    for (const char *p = tok; *p; p++) {
        if (*p < '0' || *p > '9' || v > limit)
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *out = v;
    return v < limit;
}

/* The value the first n tokens lead to (borrowed), NULL when none does. */
static json_t *walk(json_t *doc, json_t *toks, size_t n)
{
    json_t *cur = doc;
    for (size_t i = 0; i < n && cur; i++) {
        const char *tok = json_string_value(json_array_get(toks, i));
        size_t idx;
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur) && array_index(tok, json_array_size(cur), &idx))
            cur = json_array_get(cur, idx);
        else
            cur = NULL;
    }
    return cur;
}

struct op_ctx {
    size_t index;
    const char *op, *path;
    st_error *err;
};

static int op_fail(const struct op_ctx *o, const char *why)
{
    return st_error_set(o->err, EINVAL, "json patch operation %zu (%s \"%s\"): %s", o->index, o->op,
                        o->path, why);
}

/* Replaces the whole document: only by another object, since doc is
 * changed in place. */
static int set_root(const struct op_ctx *o, json_t *doc, json_t *value)
{
    if (!json_is_object(value))
        return op_fail(o, "the document can only be replaced by an object");
    _cleanup_json_ json_t *copy = json_deep_copy(value);
    json_object_clear(doc);
    json_object_update(doc, copy);
    return 0;
}

/* value: a new reference, taken. */
static int do_add(const struct op_ctx *o, json_t *doc, json_t *toks, json_t *value, bool replace)
{
    _cleanup_json_ json_t *v = value;
    size_t n = json_array_size(toks);
    if (n == 0)
        return set_root(o, doc, v);
    json_t *parent = walk(doc, toks, n - 1);
    const char *last = json_string_value(json_array_get(toks, n - 1));
    size_t idx;
    if (json_is_object(parent)) {
        if (replace && json_object_get(parent, last) == NULL)
            return op_fail(o, "the path does not exist");
        return json_object_set(parent, last, v) == 0 ? 0 : -ENOMEM;
    }
    if (!json_is_array(parent))
        return op_fail(o, "the path does not exist");
    size_t size = json_array_size(parent);
    if (replace) {
        if (!array_index(last, size, &idx))
            return op_fail(o, "the path does not exist");
        return json_array_set(parent, idx, v) == 0 ? 0 : -ENOMEM;
    }
    if (strcmp(last, "-") == 0)
        return json_array_append(parent, v) == 0 ? 0 : -ENOMEM;
    if (!array_index(last, size + 1, &idx))
        return op_fail(o, "the array index is out of range");
    return json_array_insert(parent, idx, v) == 0 ? 0 : -ENOMEM;
}

static int do_remove(const struct op_ctx *o, json_t *doc, json_t *toks)
{
    size_t n = json_array_size(toks);
    if (n == 0)
        return op_fail(o, "the whole document cannot be removed");
    json_t *parent = walk(doc, toks, n - 1);
    const char *last = json_string_value(json_array_get(toks, n - 1));
    size_t idx;
    if (json_is_object(parent) && json_object_get(parent, last))
        return json_object_del(parent, last) == 0 ? 0 : -EINVAL;
    if (json_is_array(parent) && array_index(last, json_array_size(parent), &idx))
        return json_array_remove(parent, idx) == 0 ? 0 : -EINVAL;
    return op_fail(o, "the path does not exist");
}

/* from and path: whether from is a proper prefix of path (a value moved
 * into itself). */
static bool inside(const char *from, const char *path)
{
    size_t n = strlen(from);
    return strncmp(from, path, n) == 0 && path[n] == '/';
}

static int one_op(json_t *doc, json_t *op, size_t index, st_error *err)
{
    struct op_ctx o = {.index = index, .op = "", .path = "", .err = err};
    if (!json_is_object(op))
        return op_fail(&o, "an operation is an object such as {\"op\":\"add\",\"path\":\"/a\","
                           "\"value\":1}");
    o.op = json_string_value(json_object_get(op, "op"));
    o.path = json_string_value(json_object_get(op, "path"));
    if (o.op == NULL || o.path == NULL) {
        o.op = o.op ? o.op : "";
        o.path = o.path ? o.path : "";
        return op_fail(&o, "\"op\" and \"path\" are required strings");
    }
    _cleanup_json_ json_t *toks = NULL;
    int r = pointer_tokens(o.path, &toks);
    if (r == -EINVAL)
        return op_fail(&o, "the path is not a JSON pointer (\"/a/b~1c\", \"\" for the document)");
    if (r < 0)
        return r;
    json_t *value = json_object_get(op, "value");
    bool needs_value =
        strcmp(o.op, "add") == 0 || strcmp(o.op, "replace") == 0 || strcmp(o.op, "test") == 0;
    if (needs_value && value == NULL)
        return op_fail(&o, "\"value\" is required");
    if (strcmp(o.op, "add") == 0)
        return do_add(&o, doc, toks, json_deep_copy(value), false);
    if (strcmp(o.op, "replace") == 0)
        return do_add(&o, doc, toks, json_deep_copy(value), true);
    if (strcmp(o.op, "remove") == 0)
        return do_remove(&o, doc, toks);
    if (strcmp(o.op, "test") == 0) {
        json_t *cur = walk(doc, toks, json_array_size(toks));
        if (cur == NULL)
            return op_fail(&o, "the path does not exist");
        return json_equal(cur, value) ? 0 : op_fail(&o, "test failed: the value differs");
    }
    bool move = strcmp(o.op, "move") == 0;
    if (!move && strcmp(o.op, "copy") != 0)
        return op_fail(&o, "unknown op: use add, remove, replace, move, copy or test");
    const char *from = json_string_value(json_object_get(op, "from"));
    _cleanup_json_ json_t *ftoks = NULL;
    if (from == NULL || pointer_tokens(from, &ftoks) < 0)
        return op_fail(&o, "\"from\" must be a JSON pointer");
    json_t *src = walk(doc, ftoks, json_array_size(ftoks));
    if (src == NULL)
        return op_fail(&o, "the \"from\" path does not exist");
    if (move && inside(from, o.path))
        return op_fail(&o, "a value cannot be moved into itself");
    json_t *value_copy = json_deep_copy(src);
    if (value_copy == NULL)
        return -ENOMEM;
    if (move && strcmp(from, o.path) == 0) {
        json_decref(value_copy);
        return 0;
    }
    if (move && (r = do_remove(&o, doc, ftoks)) < 0) {
        json_decref(value_copy);
        return r;
    }
    return do_add(&o, doc, toks, value_copy, false);
}

int st_json_patch_apply(json_t *doc, json_t *patch, st_error *err)
{
    if (!json_is_array(patch))
        return st_error_set(err, EINVAL,
                            "a JSON patch is an array of operations, such as "
                            "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]");
    size_t i;
    json_t *op;
    json_array_foreach(patch, i, op)
    {
        int r = one_op(doc, op, i, err);
        if (r < 0)
            return r;
    }
    return 0;
}
