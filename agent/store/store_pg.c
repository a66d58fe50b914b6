/* store_pg.c: the PostgreSQL store backend (libpq). One connection,
 * prepared statements per kind, optimistic concurrency on the
 * resource_version column, Secrets sealed before they reach the wire.
 *
 * Every write, a single one too, is one explicit transaction
 * (st_store_pg_txn): it takes the change feed's order lock first and
 * records its changes in strata_changes before it commits
 * (store_pg_changes.c), so that several stratad on one database hear each
 * other's writes in resourceVersion order.
 *
 * Reconnecting, and why re-running is safe: when the connection is lost,
 * the store reconnects (PQreset, prepares again) and re-runs a read once,
 * a write's whole transaction once. The outcome of a lost COMMIT may be
 * unknown (the server may have committed before the answer was lost), so
 * a transaction inserts a random marker into strata_txn before COMMIT;
 * when COMMIT's answer is lost, the marker tells whether it committed, and
 * only a transaction that did not commit is re-run. A COMMIT is never
 * blindly re-sent. */
#include "store_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"
#include "strata/migrate.h"
#include "store_pg_cleanup.h"

static st_store_pg *pg_of(st_store *s)
{
    return (st_store_pg *)s;
}

static size_t kind_index(const st_store_kind *k)
{
    return (size_t)(k - st_store_kinds);
}

static void extra_values(const st_store_kind *k, json_t *obj, const char *v[2])
{
    v[0] = v[1] = NULL;
    if (strcmp(k->kind, "Pod") == 0) {
        v[0] = st_store_object_node(obj);
        v[1] = st_store_object_owner(obj);
    } else if (strcmp(k->kind, "Event") == 0) {
        json_t *inv = json_object_get(obj, "involvedObject");
        v[0] = json_string_value(json_object_get(inv, "kind"));
        v[1] = json_string_value(json_object_get(inv, "name"));
    }
}

/* ---- objects and rows ---- */

/* The object's content as stored: system metadata out (it lives in
 * columns), namespace normalized. *plain keeps Secret data (for the
 * result), *text is what goes to the row (sealed). */
static int row_content(st_store_pg *s, const st_store_kind *k, const char *ns, json_t *obj,
                       json_t **plain, char **text, st_error *err)
{
    json_t *c = st_store_apply_content(obj, NULL, k, ns);
    _cleanup_json_ json_t *sealed = json_deep_copy(c);
    if (strcmp(k->kind, "Secret") == 0) {
        int r = st_secret_seal(s->key, sealed, err);
        if (r < 0) {
            json_decref(c);
            return r;
        }
    }
    *text = json_dumps(sealed, JSON_COMPACT);
    if (*text == NULL) {
        json_decref(c);
        return st_error_set(err, ENOMEM, "out of memory serializing %s", k->kind);
    }
    *plain = c;
    return 0;
}

int st_store_pg_row_object(st_store_pg *s, const st_store_kind *k, PGresult *r, int row,
                           json_t **out, st_error *err)
{
    json_error_t jerr;
    json_t *o = json_loads(PQgetvalue(r, row, 3), 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return st_error_set(err, EBADMSG, "%s row holds invalid JSON: %s", k->table, jerr.text);
    }
    const char *ns =
        json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
    st_store_object_stamp(o, ns, PQgetvalue(r, row, 1), PQgetvalue(r, row, 0),
                          PQgetvalue(r, row, 2));
    if (strcmp(k->kind, "Secret") == 0) {
        int rc = st_secret_unseal(s->key, o, err);
        if (rc < 0) {
            json_decref(o);
            return rc;
        }
    }
    *out = o;
    return 0;
}

/* *out NULL when there is no such row. */
static int fetch(st_store_pg *s, const st_store_kind *k, const char *ns, const char *name,
                 bool for_update, json_t **out, st_error *err)
{
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_%s", k->table, for_update ? "getx" : "get");
    const char *params[2] = {ns, name};
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, stmt, NULL, 2, params, !s->in_txn, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    *out = NULL;
    if (PQntuples(r) == 0)
        return 0;
    return st_store_pg_row_object(s, k, r, 0, out, err);
}

/* Runs KIND_ins or KIND_upd (stmt) inside the write's transaction: $1
 * namespace, $2 name, $3 key (the uid to insert, the resourceVersion to
 * update), $4 the row's object, then the kind's indexed columns. *plain:
 * what was written, unsealed. */
static int write_row(st_store_pg *s, const st_store_kind *k, const char *ns, const char *name,
                     const char *key, json_t *obj, const char *stmt, json_t **plain, PGresult **res,
                     st_error *err)
{
    _cleanup_free_ char *text = NULL;
    int r = row_content(s, k, ns, obj, plain, &text, err);
    if (r < 0)
        return r;
    const char *params[6] = {ns, name, key, text};
    extra_values(k, *plain, params + 4);
    char full[64];
    snprintf(full, sizeof(full), "%s_%s", k->table, stmt);
    *res = st_store_pg_exec(s, full, NULL, st_store_pg_extra_cols[kind_index(k)][0] ? 6 : 4, params,
                            false, err);
    return *res ? 0 : st_store_pg_failed(s);
}

/* Same content (system metadata aside) as we meant to write? */
static bool same_content(json_t *stored, json_t *plain)
{
    _cleanup_json_ json_t *c = st_store_object_content(stored);
    return json_equal(c, plain);
}

/* ---- the writes ---- */

static int create_in(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    st_store_pg *s = pg_of(st);
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    char uid[ST_STORE_UID_LEN];
    st_store_uid_new(uid);
    _cleanup_json_ json_t *plain = NULL;
    _cleanup_pgresult_ PGresult *res = NULL;
    if ((r = write_row(s, k, ns, name, uid, obj, "ins", &plain, &res, err)) < 0)
        return r;
    if (PQntuples(res) == 0)
        return st_store_err_exists(err, k->kind, ns, name);
    st_store_object_stamp(plain, ns, uid, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    st_store_pg_note(s, "ADDED", json_deep_copy(plain));
    if (out)
        *out = st_steal_ptr(&plain);
    return 0;
}

/* Writes obj's content over the row at expected rv. */
static int write_update(st_store_pg *s, const st_store_kind *k, const char *ns, const char *name,
                        json_t *obj, const char *want, json_t **out, st_error *err)
{
    char *end = NULL;
    strtoll(want, &end, 10);
    if (*want == '\0' || *end != '\0')
        return st_error_set(err, EINVAL,
                            "%s %s: metadata.resourceVersion \"%s\" was not issued by this store; "
                            "get the object again",
                            k->kind, name, want);
    _cleanup_json_ json_t *plain = NULL;
    _cleanup_pgresult_ PGresult *res = NULL;
    int r = write_row(s, k, ns, name, want, obj, "upd", &plain, &res, err);
    if (r < 0)
        return r;
    if (PQntuples(res) == 0) {
        _cleanup_json_ json_t *cur = NULL;
        if ((r = fetch(s, k, ns, name, false, &cur, err)) < 0)
            return r;
        if (cur == NULL)
            return st_store_err_not_found(err, k->kind, ns, name);
        return st_store_err_conflict(err, k->kind, ns, name);
    }
    st_store_object_stamp(plain, ns, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0),
                          PQgetvalue(res, 0, 2));
    st_store_pg_note(s, "MODIFIED", json_deep_copy(plain));
    if (out)
        *out = st_steal_ptr(&plain);
    return 0;
}

static int update_in(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    st_store_pg *s = pg_of(st);
    const st_store_kind *k;
    const char *ns, *name;
    const char *want;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0 || (r = st_store_update_rv(obj, k, name, &want, err)) < 0)
        return r;
    return write_update(s, k, ns, name, obj, want, out, err);
}

static int remove_in(st_store *st, const char *kind, const char *ns_in, const char *name,
                     const char *expected_rv, st_error *err)
{
    st_store_pg *s = pg_of(st);
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    const char *ns = st_store_ns_normalize(k, ns_in);
    if (name == NULL)
        return st_error_set(err, EINVAL, "delete %s: give a name", k->kind);
    if (expected_rv) {
        char *end = NULL;
        strtoll(expected_rv, &end, 10);
        if (*expected_rv == '\0' || *end != '\0')
            return st_store_err_conflict(err, k->kind, ns, name);
    }
    const char *params[3] = {ns, name, expected_rv};
    char stmt[64];
    snprintf(stmt, sizeof(stmt), "%s_del", k->table);
    _cleanup_pgresult_ PGresult *res = st_store_pg_exec(s, stmt, NULL, 3, params, false, err);
    if (res == NULL)
        return st_store_pg_failed(s);
    if (PQntuples(res) > 0) {
        /* The row as it was, with the version its delete took. */
        json_t *gone = NULL;
        int r = st_store_pg_row_object(s, k, res, 0, &gone, err);
        if (r < 0)
            return r; /* the feed must hold every change: the delete is undone */
        st_store_pg_note(s, "DELETED", gone);
        return 0;
    }
    _cleanup_json_ json_t *cur = NULL;
    int r = fetch(s, k, ns, name, false, &cur, err);
    if (r < 0)
        return r;
    if (cur)
        return st_store_err_conflict(err, k->kind, ns, name);
    return st_store_err_not_found(err, k->kind, ns, name);
}

/* kubectl apply inside a transaction: the row is locked while compared. */
static int pgs_apply(st_store *st, json_t *obj, json_t **out, st_store_action *action,
                     st_error *err)
{
    st_store_pg *s = pg_of(st);
    const st_store_kind *k;
    const char *ns, *name;
    int r = st_store_object_check(obj, &k, &ns, &name, err);
    if (r < 0)
        return r;
    _cleanup_json_ json_t *cur = NULL;
    if ((r = fetch(s, k, ns, name, true, &cur, err)) < 0)
        return r;
    if (cur == NULL) {
        *action = ST_STORE_CREATED;
        return create_in(st, obj, out, err);
    }
    _cleanup_json_ json_t *next = st_store_apply_content(obj, cur, k, ns);
    if (same_content(cur, next)) {
        *action = ST_STORE_UNCHANGED;
        if (out)
            *out = st_steal_ptr(&cur);
        return 0;
    }
    *action = ST_STORE_CONFIGURED;
    const char *rv =
        json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
    return write_update(s, k, ns, name, next, rv, out, err);
}

/* A single write outside a batch is a transaction too: it must hold the
 * feed's order lock and record its change before it commits. */
typedef struct single_ctx {
    enum { SINGLE_CREATE, SINGLE_UPDATE, SINGLE_REMOVE } what;
    json_t *obj;
    const char *kind, *ns, *name, *expected_rv;
    json_t *result;
} single_ctx;

static void single_reset(void *c)
{
    single_ctx *x = c;
    json_decref(x->result);
    x->result = NULL;
}

static int single_txn(st_store_pg *s, void *c, st_error *err)
{
    single_ctx *x = c;
    single_reset(x);
    switch (x->what) {
    case SINGLE_CREATE:
        return create_in(&s->base, x->obj, &x->result, err);
    case SINGLE_UPDATE:
        return update_in(&s->base, x->obj, &x->result, err);
    default:
        return remove_in(&s->base, x->kind, x->ns, x->name, x->expected_rv, err);
    }
}

static int single(st_store_pg *s, single_ctx *x, json_t **out, st_error *err)
{
    int r = st_store_pg_txn(s, single_txn, single_reset, x, err);
    if (r == 0 && out)
        *out = st_steal_ptr(&x->result);
    single_reset(x);
    return r;
}

static int pgs_create(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    if (pg_of(st)->in_txn)
        return create_in(st, obj, out, err);
    single_ctx x = {.what = SINGLE_CREATE, .obj = obj};
    return single(pg_of(st), &x, out, err);
}

static int pgs_update(st_store *st, json_t *obj, json_t **out, st_error *err)
{
    if (pg_of(st)->in_txn)
        return update_in(st, obj, out, err);
    single_ctx x = {.what = SINGLE_UPDATE, .obj = obj};
    return single(pg_of(st), &x, out, err);
}

static int pgs_remove(st_store *st, const char *kind, const char *ns, const char *name,
                      const char *expected_rv, st_error *err)
{
    if (pg_of(st)->in_txn)
        return remove_in(st, kind, ns, name, expected_rv, err);
    single_ctx x = {
        .what = SINGLE_REMOVE, .kind = kind, .ns = ns, .name = name, .expected_rv = expected_rv};
    return single(pg_of(st), &x, NULL, err);
}

typedef struct batch_ctx {
    st_store_op *ops;
    size_t n;
} batch_ctx;

static void batch_reset(void *c)
{
    batch_ctx *b = c;
    st_store_ops_release(b->ops, b->n);
    for (size_t i = 0; i < b->n; i++)
        b->ops[i].action = ST_STORE_NONE;
}

static int batch_txn(st_store_pg *s, void *c, st_error *err)
{
    batch_ctx *b = c;
    st_store_changes_reset(&s->base); /* a re-run reports its own writes */
    return st_store_batch_run(&s->base, b->ops, b->n, err);
}

typedef struct bind_ctx {
    const st_store_binding *b;
    size_t n;
    const char *json;
} bind_ctx;

static void bind_reset(void *c)
{
    (void)c;
}

static int bind_txn(st_store_pg *s, void *c, st_error *err)
{
    bind_ctx *b = c;
    const char *p[1] = {b->json};
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, "pods_bind", NULL, 1, p, false, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    if ((size_t)PQntuples(r) == b->n) {
        st_store_changes_reset(&s->base); /* a re-run reports its own writes */
        const st_store_kind *k = st_store_kind_find("Pod", NULL);
        for (int row = 0; row < PQntuples(r); row++) {
            json_t *o = NULL;
            int rc = st_store_pg_row_object(s, k, r, row, &o, err);
            if (rc < 0)
                return rc; /* the feed must hold every change: the binding is undone */
            st_store_pg_note(s, "MODIFIED", o);
        }
        return 0;
    }
    /* Name the first pod that was not bound, and why. */
    for (size_t i = 0; i < b->n; i++) {
        const char *ns = b->b[i].namespace && *b->b[i].namespace ? b->b[i].namespace : "default";
        bool bound = false;
        for (int row = 0; row < PQntuples(r) && !bound; row++)
            bound = strcmp(PQgetvalue(r, row, 4), ns) == 0 &&
                    strcmp(PQgetvalue(r, row, 5), b->b[i].name) == 0;
        if (bound)
            continue;
        const st_store_kind *k = st_store_kind_find("Pod", NULL);
        _cleanup_json_ json_t *cur = NULL;
        int rc = fetch(s, k, ns, b->b[i].name, false, &cur, err);
        if (rc < 0)
            return rc;
        if (cur == NULL)
            return st_store_err_not_found(err, "Pod", ns, b->b[i].name);
        return st_store_err_bound(err, ns, b->b[i].name, st_store_object_node(cur));
    }
    return st_error_set(err, EINVAL, "the batch binds a pod more than once; bind each pod once");
}

/* ---- the ops table ---- */

static int pgs_get(st_store *st, const char *kind, const char *ns, const char *name, json_t **out,
                   st_error *err)
{
    st_store_pg *s = pg_of(st);
    const st_store_kind *k = st_store_kind_find(kind, err);
    if (k == NULL)
        return -EINVAL;
    ns = st_store_ns_normalize(k, ns);
    json_t *o = NULL;
    int r = fetch(s, k, ns, name ? name : "", false, &o, err);
    if (r < 0)
        return r;
    if (o == NULL)
        return st_store_err_not_found(err, k->kind, ns, name ? name : "");
    *out = o;
    return 0;
}

/* The value of a plain "spec.nodeName=VALUE" term of a field selector, so
 * the indexed column does the filtering; NULL when there is none. */
static char *node_term(const char *sel)
{
    const char *pfx = "spec.nodeName=";
    for (const char *p = sel; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        if (strncmp(p, pfx, strlen(pfx)) == 0 && p[strlen(pfx)] != '=') {
            char *v = strndup(p + strlen(pfx), len - strlen(pfx));
            size_t vl = v ? strlen(v) : 0;
            while (v && vl > 0 && v[vl - 1] == ' ')
                v[--vl] = '\0';
            return v;
        }
        p += len;
    }
    return NULL;
}

static int list_query(st_store_pg *s, const st_store_query *q, bool by_rv, json_t **out,
                      st_error *err)
{
    const st_store_kind *k = st_store_kind_find(q->kind, err);
    if (k == NULL)
        return -EINVAL;
    char sql[1024];
    const char *params[4];
    int n = 0;
    _cleanup_free_ char *labels = NULL;
    _cleanup_free_ char *node = NULL;
    int len = snprintf(sql, sizeof(sql), "SELECT " ST_PG_COLS " FROM %s WHERE true", k->table);
    if (q->namespace && *q->namespace && k->namespaced) {
        params[n++] = q->namespace;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND namespace = $%d", n);
    }
    if (q->owner && strcmp(k->kind, "Pod") == 0) {
        params[n++] = q->owner;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND owner = $%d", n);
    }
    if (strcmp(k->kind, "Pod") == 0 && (node = node_term(q->field_selector)) != NULL) {
        params[n++] = node;
        len +=
            snprintf(sql + len, sizeof(sql) - (size_t)len, " AND coalesce(node_name, '') = $%d", n);
    }
    _cleanup_json_ json_t *eq = st_store_selector_equalities(q->label_selector);
    if (json_object_size(eq) > 0) {
        labels = json_dumps(eq, JSON_COMPACT);
        params[n++] = labels;
        len += snprintf(sql + len, sizeof(sql) - (size_t)len,
                        " AND object->'metadata'->'labels' @> $%d::jsonb", n);
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY %s",
             by_rv ? "resource_version" : "namespace, name");
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, NULL, sql, n, params, true, err);
    if (r == NULL)
        return st_store_pg_failed(s);
    /* The full selector (!=, existence, other fields) is checked here, with
     * the same code as the in-memory store. */
    json_t *arr = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        json_t *o = NULL;
        int rc = st_store_pg_row_object(s, k, r, row, &o, err);
        if (rc == 0) {
            rc = st_store_query_match(q, o, err);
            if (rc > 0)
                json_array_append(arr, o);
            json_decref(o);
        }
        if (rc < 0) {
            json_decref(arr);
            return rc;
        }
    }
    *out = arr;
    return 0;
}

static int pgs_list(st_store *st, const st_store_query *q, bool by_rv, json_t **out, st_error *err)
{
    return list_query(pg_of(st), q, by_rv, out, err);
}

static int pgs_batch(st_store *st, st_store_op *ops, size_t n, st_error *err)
{
    batch_ctx b = {ops, n};
    return st_store_pg_txn(pg_of(st), batch_txn, batch_reset, &b, err);
}

static int pgs_bind_pods(st_store *st, const st_store_binding *b, size_t n, st_error *err)
{
    _cleanup_json_ json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s}", "ns",
                           b[i].namespace && *b[i].namespace ? b[i].namespace : "default", "name",
                           b[i].name, "node", b[i].node_name));
    _cleanup_free_ char *text = json_dumps(arr, JSON_COMPACT);
    if (text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    bind_ctx c = {b, n, text};
    return st_store_pg_txn(pg_of(st), bind_txn, bind_reset, &c, err);
}

static int pgs_ping(st_store *st, st_error *err)
{
    st_store_pg *s = pg_of(st);
    _cleanup_pgresult_ PGresult *r = st_store_pg_exec(s, NULL, "SELECT 1", 0, NULL, true, err);
    return r ? 0 : st_store_pg_failed(s);
}

static void pgs_close(st_store *st)
{
    st_store_pg *s = pg_of(st);
    if (s->conn)
        PQfinish(s->conn);
    st_store_pg_changes_free(s);
    free(s);
}

static const st_store_ops pg_ops = {
    .get = pgs_get,
    .list = pgs_list,
    .create = pgs_create,
    .update = pgs_update,
    .remove = pgs_remove,
    .apply = pgs_apply,
    .batch = pgs_batch,
    .bind_pods = pgs_bind_pods,
    .lease_try = st_store_pg_lease_try,
    .lease_release = st_store_pg_lease_release,
    .lease_get = st_store_pg_lease_get,
    .db_now_ms = st_store_pg_db_now_ms,
    .ping = pgs_ping,
    .changes_record = st_store_pg_changes_record,
    .changes_head = st_store_pg_changes_head,
    .changes_since = st_store_pg_changes_since,
    .changes_wait = st_store_pg_changes_wait,
    .changes_trim = st_store_pg_changes_trim,
    .close = pgs_close,
};

int st_store_pg_open(const char *dsn, const st_secret_key *key, int *migrations_applied,
                     st_store **out, st_error *err)
{
    st_store_pg *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return st_error_set(err, ENOMEM, "out of memory opening the store");
    st_store_init(&s->base, &pg_ops);
    s->key = key;
    pthread_mutex_init(&s->listen_lock, NULL);
    s->changes = json_array();
    s->dsn = strdup(dsn);
    if (s->changes == NULL || s->dsn == NULL) {
        st_store_close(&s->base);
        return st_error_set(err, ENOMEM, "out of memory opening the store");
    }
    /* A server that does not answer costs a connection attempt at most
     * this long (the store's lock is held meanwhile), and a query on a
     * link that went dead fails within tcp_user_timeout instead of TCP's
     * minutes of retries (a host cut off from a shared PostgreSQL must
     * notice: hosts.c); the DSN may say otherwise. Unix sockets ignore
     * the TCP ones. */
    static const char *const keys[] = {
        "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
    const char *values[] = {"5", "1", "2", "1", "3", "5000", dsn, NULL};
    s->conn = PQconnectdbParams(keys, values, 1);
    int r = 0;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        /* Not there (yet) or starting up is a store that is down, which
         * may come back; a wrong password or database is not. */
        PGPing ping = PQpingParams(keys, values, 1);
        bool down = ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT;
        r = st_error_set(err, down ? ST_ESTORE_DOWN : EIO, "cannot connect to PostgreSQL (%s): %s",
                         dsn, PQerrorMessage(s->conn));
    } else if ((r = st_migrate_apply(s->conn, st_migrations, st_migrations_count,
                                     migrations_applied, err)) == 0 &&
               (r = st_store_pg_prepare_all(s, err)) == 0) {
        /* Where its disk is, for the message when it is full (only a
         * superuser or pg_read_all_settings may read it: else unnamed). */
        PGresult *dd = PQexec(s->conn, "SELECT current_setting('data_directory')");
        if (PQresultStatus(dd) == PGRES_TUPLES_OK && PQntuples(dd) == 1)
            snprintf(s->data_dir, sizeof(s->data_dir), "%s", PQgetvalue(dd, 0, 0));
        PQclear(dd);
        /* Markers only matter for the minutes around a lost COMMIT. */
        r = st_store_pg_exec_simple(
            s, "DELETE FROM strata_txn WHERE at < now() - interval '1 hour'", err);
    }
    if (r < 0) {
        st_store_close(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}
