/* testutil.h: small helpers shared by the tests: where the build put things,
 * temporary folders, running a command and capturing what it printed, and
 * waiting for a condition with a deadline (never a bare sleep). */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

/* An environment variable set by ctest (STRATA_BIN_DIR, ...); fails the test
 * with a clear message when missing. */
const char *st_test_env(const char *name);

/* "$STRATA_BIN_DIR/<name>", malloc'd. */
char *st_test_bin(const char *name);

/* A fresh folder under /tmp, malloc'd; st_test_rmrf removes it. */
char *st_test_mkdtemp(const char *prefix);
void st_test_rmrf(const char *path);

/* Runs argv (NULL-terminated), optional stdin text; captures stdout and
 * stderr (malloc'd, NUL-terminated, may be NULL pointers to skip).
 * Returns the wait status as the shell shows it: exit code, or 128+signal. */
int st_test_run(char *const argv[], const char *input, char **out, char **err);

/* Same, printf-built command run through /bin/sh -c. */
int st_test_sh(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Polls cond(arg) every poll_ms until it is true or timeout_ms passed.
 * Returns true when the condition held. */
bool st_test_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms, int poll_ms);

/* RssAnon (KiB) of the QEMU of node's domain (strata-<node>, its pid
 * from libvirt's pid file): the memory that is its own, not the files
 * every QEMU maps from the page cache. -1 when it cannot be read. */
long st_test_node_qemu_anon_kib(const char *node);

/* A loopback TCP port nobody listens on now (the kernel's pick), or -1. */
int st_test_free_port(void);

/* GET url with libcurl (10 s at most, no connection reuse): the HTTP
 * status, 0 when no answer came at all; *body (may be NULL) the body,
 * malloc'd and NUL-ended ("" when empty). */
long st_test_http_get(const char *url, char **body);

/* Milliseconds on the monotonic clock. */
long long st_test_now_ms(void);

/* Writes text to path (creating it); fails the test on error. */
void st_test_write_file(const char *path, const char *text);
/* Reads a whole file, malloc'd, or NULL. */
char *st_test_read_file(const char *path);

#endif
