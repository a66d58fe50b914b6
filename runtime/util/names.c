/* names.c: see names.h. Character classes are spelled out (not isalnum),
 * so the locale cannot widen what a name may hold. */
#include "strata/names.h"

#include <string.h>

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ---- DNS (RFC 1123) ------------------------------------------------------ */

static bool label_ok(const char *s, size_t n)
{
    if (n == 0 || n > ST_NAME_DNS_LABEL_MAX || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool st_name_dns_label_ok(const char *s)
{
    return s && label_ok(s, strlen(s));
}

bool st_name_dns_subdomain_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > ST_NAME_DNS_SUBDOMAIN_MAX)
        return false;
    for (const char *p = s;;) {
        size_t n = strcspn(p, ".");
        if (!label_ok(p, n))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}
