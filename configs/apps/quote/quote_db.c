/* quote_db.c: see quote_db.h. A worker borrows a slot (the lock is held
 * only to pick one, never across I/O), makes sure its connection is up,
 * and runs one query through libpq's asynchronous calls so it can give up
 * at a deadline: a blocking PQexec would wait forever on a database that
 * is frozen rather than stopped. A connection that failed in any way is
 * dropped, and the next borrower opens a fresh one; a query that failed on
 * a connection that had worked before is tried once more on a new
 * connection, because that is what a database restart looks like. */
#include "quote_db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct quote_db {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a slot was given back */
    int timeout_ms;
    size_t nslots;
    struct slot {
        PGconn *conn; /* NULL until opened, and after a failure */
        bool busy;
    } slots[];
};

/* ---- helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running..."); a log line and an HTTP answer want one. */
static const char *one_line(const char *msg, char *buf, size_t len)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && n + 1 < len; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < len)
            buf[n++] = ' ';
        space = false;
        buf[n++] = *p;
    }
    buf[n] = '\0';
    return buf;
}

static int conn_error(PGconn *conn, st_error *err, const char *what)
{
    char line[512];
    return st_error_set(err, EIO, "%s: %s", what,
                        one_line(PQerrorMessage(conn), line, sizeof(line)));
}

/* ---- the pool ---- */

int quote_db_new(size_t slots, int timeout_ms, struct quote_db **out, st_error *err)
{
    if (slots == 0 || timeout_ms <= 0)
        return st_error_set(err, EINVAL, "quote_db_new: need at least one slot and a timeout");
    struct quote_db *db = calloc(1, sizeof(*db) + slots * sizeof(db->slots[0]));
    if (db == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&db->lock, NULL);
    pthread_cond_init(&db->freed, &attr);
    pthread_condattr_destroy(&attr);
    db->timeout_ms = timeout_ms;
    db->nslots = slots;
    *out = db;
    return 0;
}

void quote_db_free(struct quote_db *db)
{
    if (db == NULL)
        return;
    for (size_t i = 0; i < db->nslots; i++)
        if (db->slots[i].conn)
            PQfinish(db->slots[i].conn);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

/* A free slot, waiting for one until deadline. */
static int borrow(struct quote_db *db, long long deadline, struct slot **out, st_error *err)
{
    struct timespec until = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    int r = 0;
    pthread_mutex_lock(&db->lock);
    for (;;) {
        for (size_t i = 0; i < db->nslots; i++)
            if (!db->slots[i].busy) {
                db->slots[i].busy = true;
                *out = &db->slots[i];
                pthread_mutex_unlock(&db->lock);
                return 0;
            }
        if (r == ETIMEDOUT)
            break;
        r = pthread_cond_timedwait(&db->freed, &db->lock, &until);
    }
    pthread_mutex_unlock(&db->lock);
    return st_error_set(err, EBUSY,
                        "all %zu database connections stayed busy for %d ms: the database is "
                        "slow or the app is overloaded",
                        db->nslots, db->timeout_ms);
}

static void give_back(struct quote_db *db, struct slot *s)
{
    pthread_mutex_lock(&db->lock);
    s->busy = false;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

static void drop(struct slot *s)
{
    if (s->conn)
        PQfinish(s->conn);
    s->conn = NULL;
}

/* The slot's connection, opened when it has none or it broke. PQconnectdb
 * is bounded by PGCONNECT_TIMEOUT (main sets a default). *fresh tells
 * whether this call opened it. */
static int ensure_connected(struct slot *s, bool *fresh, st_error *err)
{
    *fresh = false;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    drop(s);
    s->conn = PQconnectdb("");
    if (s->conn == NULL)
        return st_error_set(err, ENOMEM, "out of memory for a database connection");
    if (PQstatus(s->conn) != CONNECTION_OK) {
        int r = conn_error(s->conn, err, "cannot connect to the database");
        drop(s);
        return r;
    }
    *fresh = true;
    return 0;
}

/* Waits until libpq has a whole result to hand out, or the deadline. */
static int wait_result(PGconn *conn, long long deadline, int timeout_ms, st_error *err)
{
    while (PQisBusy(conn)) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return st_error_set(err, ETIMEDOUT, "the database did not answer within %d ms",
                                timeout_ms);
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return st_error_sys(err, errno, "waiting for the database");
        if (n > 0 && !PQconsumeInput(conn))
            return conn_error(conn, err, "the database connection failed");
    }
    return 0;
}

/* Runs sql on s's connection; the tuples on success. On any failure the
 * connection is dropped: its state is unknown (a query may still run). */
static int query_once(struct slot *s, const char *sql, int timeout_ms, PGresult **out,
                      st_error *err)
{
    long long deadline = now_ms() + timeout_ms;
    PGresult *res = NULL;
    int r = 0;
    if (!PQsendQuery(s->conn, sql)) {
        r = conn_error(s->conn, err, "the database connection failed");
        goto fail;
    }
    for (;;) {
        if ((r = wait_result(s->conn, deadline, timeout_ms, err)) < 0)
            goto fail;
        PGresult *next = PQgetResult(s->conn);
        if (next == NULL)
            break;
        if (res == NULL)
            res = next;
        else
            PQclear(next);
    }
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        char line[512];
        r = st_error_set(err, EIO, "the database refused the query: %s",
                         one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), line,
                                  sizeof(line)));
        goto fail;
    }
    *out = res;
    return 0;
fail:
    PQclear(res);
    drop(s);
    return r;
}

static int query(struct quote_db *db, const char *sql, PGresult **out, st_error *err)
{
    long long deadline = now_ms() + db->timeout_ms;
    struct slot *s = NULL;
    int r = borrow(db, deadline, &s, err);
    if (r < 0)
        return r;
    bool fresh;
    if ((r = ensure_connected(s, &fresh, err)) == 0) {
        st_error first = {0};
        r = query_once(s, sql, db->timeout_ms, out, fresh ? err : &first);
        /* A connection that worked before and broke now: the server
         * restarted or cut it. One new connection, once; a timeout is not
         * retried (it would only double the wait). */
        if (r == -ETIMEDOUT && !fresh)
            st_error_set(err, first.code, "%s", first.msg);
        else if (r < 0 && !fresh && (r = ensure_connected(s, &fresh, err)) == 0)
            r = query_once(s, sql, db->timeout_ms, out, err);
    }
    give_back(db, s);
    return r;
}

/* ---- the two questions the app asks ---- */

int quote_db_random(struct quote_db *db, char **text, st_error *err)
{
    PGresult *res = NULL;
    int r = query(db, "SELECT text FROM quotes ORDER BY random() LIMIT 1", &res, err);
    if (r < 0)
        return r;
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return st_error_set(err, ENOENT, "the quotes table is empty: add a row to it");
    }
    *text = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (*text == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int quote_db_ping(struct quote_db *db, st_error *err)
{
    PGresult *res = NULL;
    int r = query(db, "SELECT 1", &res, err);
    PQclear(res);
    return r;
}
