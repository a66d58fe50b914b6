/* ref.c: image references as Kubernetes reads a container's `image:`
 * (the distribution reference grammar: [HOST[:PORT]/]PATH[:TAG][@DIGEST]),
 * and the one name the store keeps an image under. Pure: no store, no I/O,
 * so stratad's dispatch, the CLI and the store read a reference the same
 * way. The store never guesses docker.io (this host reaches no internet):
 * a reference without a registry host is a local, imported image. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/image.h"

/* One path component: [a-z0-9]+ joined by '.', '_', "__" or '-'+. */
static bool component_ok(const char *s, size_t n)
{
    if (n == 0 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    if (!(islower((unsigned char)s[n - 1]) || isdigit((unsigned char)s[n - 1])))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (islower(c) || isdigit(c))
            continue;
        if (c == '.' || c == '_' || c == '-') {
            /* a separator: '.' alone, '_' once or twice, '-' any number */
            size_t j = i;
            while (j < n && s[j] == c)
                j++;
            if ((c == '.' && j - i > 1) || (c == '_' && j - i > 2))
                return false;
            i = j - 1;
            continue;
        }
        return false;
    }
    return true;
}

static bool path_ok(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!component_ok(p, n))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

/* HOST[:PORT]: DNS labels joined by '.', or a bracketed IPv6 address. */
static bool host_ok(const char *s)
{
    const char *colon = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1)
            return false;
        for (const char *c = s + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return false;
        if (close[1] != '\0' && close[1] != ':')
            return false;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n == 0)
            return false;
        size_t label = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '.') {
                if (label == 0 || s[i - 1] == '-')
                    return false;
                label = 0;
            } else if (isalnum(c) || (c == '-' && label > 0)) {
                label++;
            } else {
                return false;
            }
        }
        if (label == 0 || s[n - 1] == '-')
            return false;
    }
    if (colon) {
        const char *port = colon + 1;
        if (*port == '\0' || strlen(port) > 5)
            return false;
        for (const char *c = port; *c; c++)
            if (!isdigit((unsigned char)*c))
                return false;
    }
    return true;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

/* sha256: and 64 lowercase hex digits (the only algorithm the store keeps). */
static bool digest_ok(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
        return false;
    for (const char *c = s + 7; *c; c++)
        if (!isdigit((unsigned char)*c) && !(*c >= 'a' && *c <= 'f'))
            return false;
    return true;
}

/* Copies s into a field of the reference, refusing what does not fit. */
static int put(char *field, size_t size, const char *s, size_t n, const char *what,
               const char *text, st_error *err)
{
    if (n >= size)
        return st_error_set(err, EINVAL, "image \"%s\": the %s is longer than %zu characters", text,
                            what, size - 1);
    memcpy(field, s, n);
    field[n] = '\0';
    return 0;
}

int st_image_ref_parse(const char *text, struct st_image_ref *ref, st_error *err)
{
    memset(ref, 0, sizeof(*ref));
    if (text == NULL || text[0] == '\0')
        return st_error_set(err, EINVAL,
                            "image reference is empty: give NAME[:TAG] or "
                            "HOST[:PORT]/NAME[:TAG]");
    const char *end = text + strlen(text);
    int r;

    const char *at = strchr(text, '@');
    if (at) {
        if (!digest_ok(at + 1))
            return st_error_set(err, EINVAL,
                                "image \"%s\": the digest after '@' must be sha256: and "
                                "64 lowercase hex digits",
                                text);
        memcpy(ref->digest, at + 1, (size_t)(end - at - 1) + 1);
        end = at;
    }

    /* The host is the first component when it looks like one. */
    const char *name = text;
    const char *slash = memchr(text, '/', (size_t)(end - text));
    if (slash) {
        size_t n = (size_t)(slash - text);
        bool is_host = memchr(text, '.', n) || memchr(text, ':', n) ||
                       (n == 9 && strncmp(text, "localhost", 9) == 0);
        if (is_host) {
            if ((r = put(ref->host, sizeof(ref->host), text, n, "registry host", text, err)) < 0)
                return r;
            if (!host_ok(ref->host))
                return st_error_set(err, EINVAL,
                                    "image \"%s\": \"%s\" is not a registry HOST[:PORT]", text,
                                    ref->host);
            name = slash + 1;
        }
    }

    /* A ':' after the last '/' starts the tag. */
    const char *colon = NULL;
    for (const char *c = end; c > name; c--)
        if (c[-1] == '/')
            break;
        else if (c[-1] == ':') {
            colon = c - 1;
            break;
        }
    const char *path_end = colon ? colon : end;
    if ((r = put(ref->path, sizeof(ref->path), name, (size_t)(path_end - name), "name", text,
                 err)) < 0)
        return r;
    if (!path_ok(ref->path))
        return st_error_set(err, EINVAL,
                            "image \"%s\": the name \"%s\" must be lowercase letters and digits "
                            "joined by '.', '_' or '-', in components separated by '/'",
                            text, ref->path);
    if (colon) {
        if ((r = put(ref->tag, sizeof(ref->tag), colon + 1, (size_t)(end - colon - 1), "tag", text,
                     err)) < 0)
            return r;
        if (!tag_ok(ref->tag))
            return st_error_set(err, EINVAL,
                                "image \"%s\": the tag \"%s\" must be letters, digits, '_', '.' "
                                "or '-' (at most 128, not starting with '.' or '-')",
                                text, ref->tag);
    } else if (ref->digest[0] == '\0') {
        strcpy(ref->tag, "latest");
    }
    if (strlen(ref->host) + 1 + strlen(ref->path) > 255)
        return st_error_set(err, EINVAL, "image \"%s\": the name is longer than 255 characters",
                            text);
    return 0;
}

void st_image_ref_format(const struct st_image_ref *ref, char *out, size_t len)
{
    snprintf(out, len, "%s%s%s%s%s%s%s", ref->host, ref->host[0] ? "/" : "", ref->path,
             ref->tag[0] ? ":" : "", ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}
