/* probe_http.c: the httpGet probe handler: one HTTP/1.1 GET written by hand
 * (a client request and a status-line parser, nothing more: no server, no
 * body handling, no redirects, no TLS). The request is built in the parent;
 * the child connects inside the container's netns, sends, reads one line. */
#include "probe_runner.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "strata/cleanup.h"

#define STATUS_LINE_MAX 1024

static bool has_header(const struct st_probe_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_headers; i++)
        if (strcasecmp(spec->headers[i].name, name) == 0)
            return true;
    return false;
}

int st_probe_http_prepare(struct st_probe_job *job, st_error *err)
{
    int r = st_probe_tcp_prepare(job, err);
    if (r < 0)
        return r;
    const struct st_probe_spec *spec = job->spec;
    const char *path = spec->path ? spec->path : "/";
    if (asprintf(&job->url, "http://%s%s", job->hostport, path) < 0) {
        job->url = NULL;
        return st_error_set(err, ENOMEM, "out of memory building the probe URL");
    }

    char *buf = NULL;
    size_t len = 0;
    _cleanup_fclose_ FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return st_error_sys(err, errno, "open_memstream for the HTTP probe request");
    /* Configured headers win over the defaults of the same name, as in the kubelet. */
    fprintf(f, "GET %s HTTP/1.1\r\n", path);
    if (!has_header(spec, "Host"))
        fprintf(f, "Host: %s\r\n", job->hostport);
    if (!has_header(spec, "User-Agent"))
        fprintf(f, "User-Agent: strata-probe/0.1\r\n");
    if (!has_header(spec, "Accept"))
        fprintf(f, "Accept: */*\r\n");
    for (size_t i = 0; i < spec->n_headers; i++)
        if (strcasecmp(spec->headers[i].name, "Connection") != 0)
            fprintf(f, "%s: %s\r\n", spec->headers[i].name, spec->headers[i].value);
    fprintf(f, "Connection: close\r\n\r\n");
    bool bad = ferror(f);
    fclose(f);
    f = NULL;
    if (bad) {
        free(buf);
        return st_error_set(err, ENOMEM, "out of memory building the HTTP probe request");
    }
    job->request = buf;
    job->request_len = len;
    return 0;
}

static void fail_io(const struct st_probe_job *job, struct st_probe_result *res, int code,
                    const char *stage)
{
    if (code == ETIMEDOUT) {
        st_probe_result_set(res, false, "Get \"%s\": timed out after %d ms %s (timeoutSeconds)",
                            job->url, job->timeout_ms, stage);
        return;
    }
    char why[128];
    st_probe_errstr(code, why, sizeof(why));
    st_probe_result_set(res, false, "Get \"%s\": %s: %s", job->url, stage, why);
}

/* Waits for fd to be ready for events before the deadline: 0, or an errno. */
static int wait_fd(int fd, short events, long long deadline_ms)
{
    for (;;) {
        long long left = deadline_ms - st_probe_clock_ms();
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (n > 0)
            return 0;
    }
}

static int send_all(int fd, const char *p, size_t len, long long deadline_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int r = wait_fd(fd, POLLOUT, deadline_ms);
            if (r)
                return r;
            continue;
        }
        if (n < 0)
            return errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* "HTTP/1.1 404 Not Found": the status code, or -1 when malformed. */
static int parse_status_line(const char *line)
{
    if (strncmp(line, "HTTP/", 5) != 0 || !isdigit((unsigned char)line[5]) || line[6] != '.' ||
        !isdigit((unsigned char)line[7]) || line[8] != ' ')
        return -1;
    const char *c = line + 9;
    if (!isdigit((unsigned char)c[0]) || !isdigit((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || (c[3] != '\0' && c[3] != ' '))
        return -1;
    return (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
}

void st_probe_http_child(const struct st_probe_job *job, struct st_probe_result *res)
{
    long long deadline = st_probe_clock_ms() + job->timeout_ms;
    int fd = st_probe_tcp_connect(job, deadline, res);
    if (fd < 0) {
        /* Same wording as the kubelet: the URL, then the dial error. */
        char dial[ST_PROBE_MSG_MAX];
        snprintf(dial, sizeof(dial), "%s", res->message);
        st_probe_result_set(res, false, "Get \"%s\": %s", job->url, dial);
        return;
    }
    int code = send_all(fd, job->request, job->request_len, deadline);
    if (code) {
        close(fd);
        fail_io(job, res, code, "writing the request");
        return;
    }

    char line[STATUS_LINE_MAX];
    size_t len = 0;
    for (;;) {
        char *eol = memchr(line, '\n', len);
        if (eol != NULL) {
            *eol = '\0';
            if (eol > line && eol[-1] == '\r')
                eol[-1] = '\0';
            break;
        }
        if (len == sizeof(line) - 1) {
            line[len] = '\0';
            break;
        }
        ssize_t n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            code = wait_fd(fd, POLLIN, deadline);
            if (code) {
                close(fd);
                fail_io(job, res, code, "awaiting headers");
                return;
            }
            continue;
        }
        if (n < 0) {
            code = errno;
            close(fd);
            fail_io(job, res, code, "reading the response");
            return;
        }
        if (n == 0) {
            close(fd);
            if (len == 0)
                st_probe_result_set(res, false,
                                    "Get \"%s\": EOF (connection closed with no "
                                    "response)",
                                    job->url);
            else
                st_probe_result_set(res, false, "Get \"%s\": malformed HTTP response: %.*s",
                                    job->url, (int)(len > 80 ? 80 : len), line);
            return;
        }
        len += (size_t)n;
    }
    close(fd);

    int status = parse_status_line(line);
    if (status < 0)
        st_probe_result_set(res, false, "Get \"%s\": malformed HTTP status line \"%.80s\"",
                            job->url, line);
    else if (status >= 200 && status < 400)
        st_probe_result_set(res, true, "HTTP probe succeeded with statuscode: %d", status);
    else
        st_probe_result_set(res, false, "HTTP probe failed with statuscode: %d", status);
}
