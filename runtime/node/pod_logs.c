/* pod_logs.c: a container's stdout or stderr as lines for `log` messages.
 * The container writes into a pipe; the agent loop reads the other end when
 * poll says so, never blocking. A line ends at '\n'; one longer than
 * ST_NODE_LOG_LINE_MAX is cut, and bytes that are not UTF-8 become '?',
 * because a JSON string can carry neither invalid UTF-8 nor NUL. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Read at most this much per turn, so a chatty container cannot keep the
 * loop (and the heartbeat) waiting. */
#define READ_BUDGET (64 * 1024)

int st_node_logpipe_open(struct st_node_logpipe *lp, int *write_fd, st_error *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return st_error_sys(err, errno, "container output: pipe");
    int fl = fcntl(p[0], F_GETFL);
    if (fl < 0 || fcntl(p[0], F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return st_error_sys(err, e, "container output: O_NONBLOCK");
    }
    lp->fd = p[0];
    lp->len = 0;
    lp->revents = 0;
    *write_fd = p[1];
    return 0;
}

void st_node_logpipe_close(struct st_node_logpipe *lp)
{
    if (lp->fd >= 0)
        close(lp->fd);
    lp->fd = -1;
    lp->len = 0;
}

/* Continuation byte of a UTF-8 sequence within [lo, hi]. */
static bool cont(const unsigned char *s, size_t i, size_t len, unsigned lo, unsigned hi)
{
    return i < len && s[i] >= lo && s[i] <= hi;
}

/* Replaces in place every byte that is not part of valid UTF-8 (and NUL). */
static void utf8_sanitize(char *buf, size_t len)
{
    unsigned char *s = (unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n = 0;
        bool ok = true;
        if (c == 0) {
            ok = false;
        } else if (c < 0x80) {
            n = 0;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            ok = cont(s, i + 1, len, 0x80, 0xBF);
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            ok = cont(s, i + 1, len, lo, hi) && cont(s, i + 2, len, 0x80, 0xBF);
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            ok = cont(s, i + 1, len, lo, hi) && cont(s, i + 2, len, 0x80, 0xBF) &&
                 cont(s, i + 3, len, 0x80, 0xBF);
        } else {
            ok = false;
        }
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += n + 1;
    }
}

static void emit_line(struct st_node_logpipe *lp, const char *stream, st_node_line_fn fn, void *ctx)
{
    size_t n = lp->len;
    if (n > 0 && lp->buf[n - 1] == '\r')
        n--;
    lp->buf[n] = '\0';
    utf8_sanitize(lp->buf, n);
    fn(ctx, stream, lp->buf);
    lp->len = 0;
}

void st_node_logpipe_read(struct st_node_logpipe *lp, const char *stream, bool drain,
                          st_node_line_fn fn, void *ctx)
{
    size_t budget = drain ? SIZE_MAX : READ_BUDGET;
    char chunk[4096];
    while (lp->fd >= 0 && budget > 0) {
        ssize_t n = read(lp->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            /* end of file (or a broken pipe): the last partial line too */
            if (lp->len > 0)
                emit_line(lp, stream, fn, ctx);
            st_node_logpipe_close(lp);
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                emit_line(lp, stream, fn, ctx);
                continue;
            }
            lp->buf[lp->len++] = chunk[i];
            if (lp->len == ST_NODE_LOG_LINE_MAX - 1)
                emit_line(lp, stream, fn, ctx);
        }
        budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
    }
}
