/* store_batch.c: the items of a batch, carried out the same way by every
 * backend. A backend only makes the batch all or nothing (PostgreSQL: a
 * transaction; memory: an undo log) and runs st_store_batch_run inside it,
 * so what each kind of item does cannot differ between backends. */
#include "store_backend.h"

#include <errno.h>

static int batch_one(st_store *s, st_store_op *op, st_error *err)
{
    json_t *md = json_object_get(op->object, "metadata");
    switch (op->op) {
    case ST_STORE_CREATE:
        op->action = ST_STORE_CREATED;
        return s->ops->create(s, op->object, &op->result, err);
    case ST_STORE_UPDATE:
        op->action = ST_STORE_CONFIGURED;
        return s->ops->update(s, op->object, &op->result, err);
    case ST_STORE_DELETE:
        op->action = ST_STORE_CONFIGURED;
        return s->ops->remove(s, json_string_value(json_object_get(op->object, "kind")),
                              json_string_value(json_object_get(md, "namespace")),
                              json_string_value(json_object_get(md, "name")),
                              json_string_value(json_object_get(md, "resourceVersion")), err);
    case ST_STORE_APPLY:
        return s->ops->apply(s, op->object, &op->result, &op->action, err);
    }
    return st_error_set(err, EINVAL, "unknown batch operation %d", (int)op->op);
}

int st_store_batch_run(st_store *s, st_store_op *ops, size_t n, st_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = batch_one(s, &ops[i], err);
        if (r < 0) {
            st_error_prefix(err, "batch item %zu: ", i + 1);
            return r;
        }
    }
    return 0;
}

void st_store_ops_release(st_store_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(ops[i].result);
        ops[i].result = NULL;
    }
}
