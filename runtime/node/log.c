/* log.c: strata-node's log lines on stderr, which in a VM is the serial
 * console the host keeps. Lines carry the uptime so they line up with the
 * kernel's own messages; never logs to the protocol channel. */
#include "node.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

void st_node_log(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    char line[1200];
    int n = snprintf(line, sizeof(line), "strata-node[%5lld.%03ld]: ", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* one write per line, so lines from init and the node do not interleave */
    fprintf(stderr, "%s\n", line);
}
