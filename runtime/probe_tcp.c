/* probe_tcp.c: the tcpSocket probe handler: a connect with a deadline, made
 * by the run child after it joined the container's network namespace. The
 * address is resolved in the parent; the child makes syscalls only. */
#include "probe_runner.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int st_probe_tcp_prepare(struct st_probe_job *job, st_error *err)
{
    const char *host = job->spec->host ? job->spec->host : "127.0.0.1";
    memset(&job->addr, 0, sizeof(job->addr));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&job->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&job->addr;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)job->spec->port);
        job->addrlen = sizeof(*in4);
        snprintf(job->hostport, sizeof(job->hostport), "%s:%d", host, job->spec->port);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)job->spec->port);
        job->addrlen = sizeof(*in6);
        snprintf(job->hostport, sizeof(job->hostport), "[%s]:%d", host, job->spec->port);
    } else {
        return st_error_set(err, EINVAL, "probe host \"%s\" is not an IP address", host);
    }
    return 0;
}

void st_probe_errstr(int code, char *buf, size_t len)
{
    char tmp[128];
    const char *s = strerror_r(code, tmp, sizeof(tmp));
    snprintf(buf, len, "%s", s);
    if (len > 0)
        buf[0] = (char)tolower((unsigned char)buf[0]);
}

int st_probe_tcp_connect(const struct st_probe_job *job, long long deadline_ms,
                         struct st_probe_result *res)
{
    char why[128];
    int fd = socket(job->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        st_probe_errstr(errno, why, sizeof(why));
        st_probe_result_set(res, false, "dial tcp %s: socket: %s", job->hostport, why);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&job->addr, job->addrlen) == 0)
        return fd;
    int code = errno;
    if (code == EINPROGRESS) {
        /* Wait for the handshake; a silent peer (SYN dropped) ends at the deadline. */
        for (;;) {
            long long left = deadline_ms - st_probe_clock_ms();
            if (left <= 0) {
                code = ETIMEDOUT;
                break;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n = poll(&pfd, 1, (int)left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                code = errno;
                break;
            }
            if (n == 0)
                continue;
            socklen_t sl = sizeof(code);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &sl) < 0)
                code = errno;
            if (code == 0)
                return fd;
            break;
        }
    }
    close(fd);
    if (code == ETIMEDOUT)
        st_probe_result_set(res, false, "dial tcp %s: i/o timeout after %d ms (timeoutSeconds)",
                            job->hostport, job->timeout_ms);
    else {
        st_probe_errstr(code, why, sizeof(why));
        st_probe_result_set(res, false, "dial tcp %s: connect: %s", job->hostport, why);
    }
    return -1;
}

void st_probe_tcp_child(const struct st_probe_job *job, struct st_probe_result *res)
{
    int fd = st_probe_tcp_connect(job, st_probe_clock_ms() + job->timeout_ms, res);
    if (fd < 0)
        return;
    close(fd);
    st_probe_result_set(res, true, "tcp connect to %s succeeded", job->hostport);
}
