/* store_pg_errors.c: what a PostgreSQL failure means to whoever called the
 * store, decided in one place from the SQLSTATE (and, for the errors that
 * carry no SQLSTATE of their own, PostgreSQL's words): the server is gone
 * (the API answers 503 and stratad tries again), its disk is full (507:
 * nothing was written, free space), or something else (500). Plain
 * functions of their inputs, so the table is unit-tested without a server
 * (tests/agent/store/test_store_pg_errors.c). */
#include "store_pg.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "strata/store.h"

#define NO_SPACE "No space left on device"

int st_store_pg_error_code(const char *sqlstate, const char *message, bool conn_bad)
{
    /* No answer, or an answer that the session is over: whatever else the
     * text says (a PANIC on a full WAL disk ends every session), the store
     * is unreachable until the server is back. */
    if (conn_bad)
        return ST_ESTORE_DOWN;
    if (sqlstate && (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
                     strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0 ||
                     strcmp(sqlstate, "53300") == 0))
        return ST_ESTORE_DOWN;
    if ((sqlstate && strcmp(sqlstate, "53100") == 0) || (message && strstr(message, NO_SPACE)))
        return ST_ESTORE_FULL;
    return EIO;
}

/* PostgreSQL's message on one line: "ERROR:  " and the like dropped, its
 * HINT too (ours follows), line breaks and runs of spaces made one space,
 * the end trimmed. */
static void one_line(const char *in, char *out, size_t len)
{
    static const char *const levels[] = {"ERROR:", "FATAL:", "PANIC:"};
    size_t o = 0;
    bool space = false;
    for (const char *p = in ? in : ""; *p && o + 1 < len;) {
        if (strncmp(p, "HINT:", 5) == 0 && (p == in || p[-1] == '\n')) {
            p += strcspn(p, "\n");
            continue;
        }
        bool skipped = false;
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            size_t n = strlen(levels[i]);
            if (strncmp(p, levels[i], n) == 0 && (p == in || p[-1] == '\n')) {
                p += n;
                skipped = true;
            }
        }
        if (skipped)
            continue;
        if (isspace((unsigned char)*p)) {
            space = o > 0;
            p++;
            continue;
        }
        if (space && o + 2 < len)
            out[o++] = ' ';
        space = false;
        out[o++] = *p++;
    }
    out[o] = '\0';
}

int st_store_pg_error_set(st_error *err, int code, const char *what, const char *pgmsg,
                          const char *data_dir)
{
    char msg[512];
    one_line(pgmsg, msg, sizeof(msg));
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "no answer");
    bool dir = data_dir && *data_dir;
    switch (code) {
    case ST_ESTORE_DOWN:
        return st_error_set(err, code,
                            "the store (PostgreSQL) is unreachable: %s; stratad retries every "
                            "%d s%s",
                            msg, ST_STORE_RETRY_S,
                            strstr(msg, NO_SPACE) ? " (its disk is full: free space there)" : "");
    case ST_ESTORE_FULL:
        return st_error_set(err, code,
                            "the store's filesystem is full (%s%s): %s; free space there, then "
                            "retry: nothing was written",
                            dir ? "PostgreSQL's data directory " : "on the PostgreSQL server",
                            dir ? data_dir : "", msg);
    default:
        return st_error_set(err, code, "PostgreSQL %s: %s", what ? what : "query", msg);
    }
}
