/* names.c: see names.h. Character classes are spelled out (not isalnum),
 * so the locale cannot widen what a name may hold. */
#include "strata/names.h"

#include <errno.h>
#include <string.h>

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool hex(char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
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

/* ---- images (OCI distribution reference grammar) ------------------------- */

/* path-component: [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)* */
static bool component_ok(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < n && lower_alnum(s[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (i < n && s[i] == '-')
                i++;
        else
            return false;
    }
}

bool st_name_image_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n <= ST_NAME_IMAGE_MAX && component_ok(s, n);
}

/* tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *s, size_t n)
{
    if (n == 0 || n > ST_NAME_TAG_MAX || !(alpha(s[0]) || digit(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(alpha(s[i]) || digit(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

/* digest: [A-Za-z][A-Za-z0-9]* ([+._-] [A-Za-z][A-Za-z0-9]*)* ':' [0-9a-fA-F]{32,} */
static bool digest_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || strlen(colon + 1) < 32)
        return false;
    for (const char *p = colon + 1; *p; p++)
        if (!hex(*p))
            return false;
    for (const char *p = s;; p++) {
        if (!alpha(*p++))
            return false;
        while (p < colon && (alpha(*p) || digit(*p)))
            p++;
        if (p == colon)
            return true;
        if (!strchr("+._-", *p))
            return false;
    }
}

int st_name_image_ref_parse(const char *ref, struct st_image_ref *out, st_error *err)
{
    *out = (struct st_image_ref){0};
    const char *s = ref ? ref : "";
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    /* a '/' anywhere names a registry or a repository path: the name's fault */
    if (name_len == 0 || name_len > ST_NAME_IMAGE_MAX || !component_ok(s, name_len) ||
        memchr(s, '/', n))
        return st_error_set(err, EINVAL,
                            "image \"%s\": the name must be lowercase letters and digits joined "
                            "by '.', '_' or '-', at most %d characters, with no registry or '/' "
                            "(the image store has one folder per name)",
                            s, ST_NAME_IMAGE_MAX);
    if (colon && !tag_ok(colon + 1, n - name_len - 1))
        return st_error_set(err, EINVAL,
                            "image \"%s\": the tag must be letters, digits, '_', '.' and '-', "
                            "at most %d characters, not starting with '.' or '-'",
                            s, ST_NAME_TAG_MAX);
    if (at && !digest_ok(at + 1))
        return st_error_set(err, EINVAL,
                            "image \"%s\": the digest must be ALGORITHM:HEX (like sha256: and "
                            "64 hex digits)",
                            s);
    memcpy(out->name, s, name_len);
    if (colon)
        memcpy(out->tag, colon + 1, n - name_len - 1);
    out->digest = at ? at + 1 : NULL;
    return 0;
}
