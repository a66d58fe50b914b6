/* test_store_pg_errors.c: what a PostgreSQL failure means to the store's
 * callers (store_pg_errors.c), without a server: the SQLSTATEs of a server
 * gone (class 08, 57P01 admin_shutdown, 57P02, 57P03, 53300) and a lost
 * connection are -ST_ESTORE_DOWN with "unreachable ... retries every N s";
 * 53100 disk_full and an io_error saying "No space left on device" are
 * -ST_ESTORE_FULL naming the data directory and "nothing was written";
 * anything else stays EIO with PostgreSQL's words. And the HTTP status each
 * becomes is tests/agent/server/test_api_faults.c's. */
#include "testutil.h"
#include "store_pg.h"

#include <stdio.h>
#include <string.h>

static void test_codes(void **state)
{
    (void)state;
    static const struct {
        const char *sqlstate, *message;
        bool conn_bad;
        int code;
    } cases[] = {
        {NULL, "server closed the connection unexpectedly", true, ST_ESTORE_DOWN},
        {"08006", "connection failure", false, ST_ESTORE_DOWN},
        {"08001", "could not connect to server", false, ST_ESTORE_DOWN},
        {"57P01", "terminating connection due to administrator command", false, ST_ESTORE_DOWN},
        {"57P02", "terminating connection because of crash of another server process", false,
         ST_ESTORE_DOWN},
        {"57P03", "the database system is starting up", false, ST_ESTORE_DOWN},
        {"53300", "sorry, too many clients already", false, ST_ESTORE_DOWN},
        {"53100", "could not extend file \"base/1/2\": No space left on device", false,
         ST_ESTORE_FULL},
        {"58030", "could not write to file \"pg_wal/xlogtemp.9\": No space left on device", false,
         ST_ESTORE_FULL},
        /* a PANIC on a full WAL disk ends the session: gone, not full */
        {NULL, "PANIC:  could not write to file \"pg_wal/x\": No space left on device", true,
         ST_ESTORE_DOWN},
        {"23505", "duplicate key value violates unique constraint", false, EIO},
        {"42P01", "relation \"pods\" does not exist", false, EIO},
        {NULL, NULL, false, EIO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = st_store_pg_error_code(cases[i].sqlstate, cases[i].message, cases[i].conn_bad);
        if (got != cases[i].code)
            fail_msg("case %zu (%s, %s): code %d, want %d", i,
                     cases[i].sqlstate ? cases[i].sqlstate : "-",
                     cases[i].message ? cases[i].message : "-", got, cases[i].code);
    }
}

static void test_down_message(void **state)
{
    (void)state;
    st_error err = {0};
    int r = st_store_pg_error_set(&err, ST_ESTORE_DOWN, "pods_get",
                                  "FATAL:  terminating connection due to administrator "
                                  "command\nserver closed the connection unexpectedly\n",
                                  "/var/lib/strata/pg/data");
    assert_int_equal(r, -ST_ESTORE_DOWN);
    assert_int_equal(err.code, ST_ESTORE_DOWN);
    char want[128];
    snprintf(want, sizeof(want), "stratad retries every %d s", ST_STORE_RETRY_S);
    assert_non_null(strstr(err.msg, "the store (PostgreSQL) is unreachable: terminating "
                                    "connection due to administrator command server closed"));
    assert_non_null(strstr(err.msg, want));
    assert_null(strstr(err.msg, "FATAL"));
    assert_null(strchr(err.msg, '\n'));
    /* A session ended by a full WAL disk says so. */
    st_error_clear(&err);
    st_store_pg_error_set(&err, ST_ESTORE_DOWN, NULL,
                          "PANIC:  could not write to file \"pg_wal/xlogtemp.7\": No space left "
                          "on device",
                          "");
    assert_non_null(strstr(err.msg, "(its disk is full: free space there)"));
    /* No words from PostgreSQL at all still reads as a sentence. */
    st_error_clear(&err);
    st_store_pg_error_set(&err, ST_ESTORE_DOWN, NULL, "", "");
    assert_non_null(strstr(err.msg, "unreachable: no answer;"));
}

static void test_full_message(void **state)
{
    (void)state;
    st_error err = {0};
    int r = st_store_pg_error_set(&err, ST_ESTORE_FULL, "secrets_ins",
                                  "ERROR:  could not extend file \"base/16384/16431\": No space "
                                  "left on device\nHINT:  Check free disk space.\n",
                                  "/tmp/state/pg/data");
    assert_int_equal(r, -ST_ESTORE_FULL);
    assert_string_equal(err.msg, "the store's filesystem is full (PostgreSQL's data directory "
                                 "/tmp/state/pg/data): could not extend file "
                                 "\"base/16384/16431\": No space left on device; free space "
                                 "there, then retry: nothing was written");
    /* A server that does not say where its data lives (--db, no right to
     * read data_directory). */
    st_error_clear(&err);
    st_store_pg_error_set(&err, ST_ESTORE_FULL, NULL, "could not extend file", "");
    assert_non_null(strstr(err.msg, "full (on the PostgreSQL server)"));
}

static void test_other_message(void **state)
{
    (void)state;
    st_error err = {0};
    int r = st_store_pg_error_set(&err, EIO, "pods_ins",
                                  "ERROR:  relation \"pods\" does not exist\n", "");
    assert_int_equal(r, -EIO);
    assert_string_equal(err.msg, "PostgreSQL pods_ins: relation \"pods\" does not exist");
}

/* Opening: a server that does not answer is a store that is down (stratad
 * waits for it); parameters libpq refuses before trying are not. Nothing
 * listens on loopback port 1 (root's ports are never bound by the tests). */
static void test_open_unreachable_is_down(void **state)
{
    (void)state;
    st_store *s = NULL;
    st_error err = {0};
    int applied = 0;
    int r = st_store_pg_open("host=127.0.0.1 port=1 dbname=strata connect_timeout=2", NULL,
                             &applied, &s, &err);
    assert_int_equal(r, -ST_ESTORE_DOWN);
    assert_null(s);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL (host=127.0.0.1 port=1"));
    st_error_clear(&err);
    r = st_store_pg_open("host=127.0.0.1 dbname=strata nosuchoption=1", NULL, &applied, &s, &err);
    assert_int_equal(r, -EIO);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_down_message),
        cmocka_unit_test(test_full_message),
        cmocka_unit_test(test_other_message),
        cmocka_unit_test(test_open_unreachable_is_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
