/* auth.c: the two pieces of registry authentication that are plain text
 * work (see auth.h): the WWW-Authenticate reader and the dockerconfigjson
 * lookup. The header gets a small parser of its own because no library here
 * reads it (libcurl answers challenges for Basic, but not the token
 * exchange the distribution spec's Bearer flow needs); the JSON is jansson's
 * and base64 is the util layer's. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "strata/b64.h"
#include "strata/cleanup.h"

/* ---- WWW-Authenticate ------------------------------------------------------ */

/* RFC 7230 tchar */
static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static size_t token_len(const char *p)
{
    size_t n = 0;
    while (is_tchar(p[n]))
        n++;
    return n;
}

/* A challenge may carry a token68 (RFC 7235: base64-like, '=' padded)
 * instead of parameters; returns the position after it, or p when what
 * follows is not one (it is then parameters, "name=value"). */
static const char *skip_token68(const char *p)
{
    const char *q = p;
    while (isalnum((unsigned char)*q) || (*q != '\0' && strchr("-._~+/", *q) != NULL))
        q++;
    if (q == p)
        return p;
    while (*q == '=')
        q++;
    q = skip_ows(q);
    return *q == '\0' || *q == ',' ? q : p;
}

/* Reads a parameter's value at p (a quoted-string with \ escapes, or a
 * token; token68 characters such as '/' and '=' are let through so a
 * sloppy registry's unquoted realm URL still reads) into out. Returns the
 * position after it, or NULL (err set) when it is malformed or too long. */
static const char *read_value(const char *p, char *out, size_t cap, const char *name, st_error *err)
{
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            if (*p == '\0') {
                st_error_set(err, EINVAL,
                             "WWW-Authenticate: the quoted value of %s has no closing quote", name);
                return NULL;
            }
            if (n + 1 >= cap) {
                st_error_set(err, EINVAL, "WWW-Authenticate: the value of %s is too long", name);
                return NULL;
            }
            out[n++] = *p;
        }
        p++;
    } else {
        for (; *p != '\0' && *p != ',' && *p != ' ' && *p != '\t'; p++) {
            if (n + 1 >= cap) {
                st_error_set(err, EINVAL, "WWW-Authenticate: the value of %s is too long", name);
                return NULL;
            }
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return p;
}

/* The challenges a pull would answer: the first Bearer with a realm (the
 * token flow needs one), and the first Basic. */
struct pick {
    struct st_image_challenge bearer, basic;
    bool have_bearer, have_basic;
};

static void pick_keep(struct pick *pk, const struct st_image_challenge *c)
{
    if (c->scheme == ST_IMAGE_AUTH_BEARER && !pk->have_bearer && c->realm[0] != '\0') {
        pk->bearer = *c;
        pk->have_bearer = true;
    } else if (c->scheme == ST_IMAGE_AUTH_BASIC && !pk->have_basic) {
        pk->basic = *c;
        pk->have_basic = true;
    }
}

int st_image_auth_challenge_parse(const char *header, struct st_image_challenge *out, st_error *err)
{
    struct pick pk = {0};
    struct st_image_challenge cur = {0}; /* scheme 0: one Strata does not speak */
    bool have_cur = false;
    char others[256] = "";
    const char *p = header;
    char scratch[1024];

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t n = token_len(p);
        if (n == 0)
            return st_error_set(err, EINVAL,
                                "WWW-Authenticate: unexpected character '%c' in \"%.200s\"", *p,
                                header);
        const char *after = skip_ows(p + n);
        if (*after != '=') {
            /* a token not followed by '=' starts a new challenge */
            if (have_cur)
                pick_keep(&pk, &cur);
            memset(&cur, 0, sizeof(cur));
            have_cur = true;
            if (n == 5 && strncasecmp(p, "basic", 5) == 0)
                cur.scheme = ST_IMAGE_AUTH_BASIC;
            else if (n == 6 && strncasecmp(p, "bearer", 6) == 0)
                cur.scheme = ST_IMAGE_AUTH_BEARER;
            else if (strlen(others) + n + 3 < sizeof(others))
                snprintf(others + strlen(others), sizeof(others) - strlen(others), "%s%.*s",
                         others[0] ? ", " : "", (int)n, p);
            p = skip_token68(after);
            continue;
        }
        if (!have_cur)
            return st_error_set(err, EINVAL,
                                "WWW-Authenticate: a parameter comes before any scheme in "
                                "\"%.200s\"",
                                header);
        char name[32];
        snprintf(name, sizeof(name), "%.*s", (int)(n < 31 ? n : 31), p);
        char *dst = scratch;
        size_t cap = sizeof(scratch);
        if (strcasecmp(name, "realm") == 0)
            dst = cur.realm, cap = sizeof(cur.realm);
        else if (strcasecmp(name, "service") == 0)
            dst = cur.service, cap = sizeof(cur.service);
        else if (strcasecmp(name, "scope") == 0)
            dst = cur.scope, cap = sizeof(cur.scope);
        p = read_value(skip_ows(after + 1), dst, cap, name, err);
        if (p == NULL)
            return -EINVAL;
    }
    if (have_cur)
        pick_keep(&pk, &cur);

    if (pk.have_bearer)
        *out = pk.bearer;
    else if (pk.have_basic)
        *out = pk.basic;
    else
        return st_error_set(err, ENOTSUP,
                            "the registry asks for authentication Strata does not speak (%s); "
                            "it speaks Basic, and Bearer with a realm",
                            others[0] ? others : "no scheme");
    return 0;
}

/* ---- dockerconfigjson -------------------------------------------------------- */

/* Whether a key of "auths" names host: Docker accepts "HOST",
 * "https://HOST" and "https://HOST/v1/" alike. */
static bool key_matches(const char *key, const char *host)
{
    const char *k = key;
    const char *scheme = strstr(k, "://");
    if (scheme != NULL)
        k = scheme + 3;
    size_t n = strcspn(k, "/");
    return n == strlen(host) && strncasecmp(k, host, n) == 0;
}

int st_image_auth_lookup(const char *config, const char *host, char **user, char **pass,
                         st_error *err)
{
    *user = *pass = NULL;
    if (config == NULL || config[0] == '\0')
        return st_error_set(err, ENOENT, "no credentials for %s", host);
    json_error_t jerr;
    _cleanup_json_ json_t *root = json_loads(config, 0, &jerr);
    if (root == NULL || !json_is_object(root))
        return st_error_set(err, EINVAL,
                            "the image pull secret is not a dockerconfigjson document "
                            "(line %d: %s)",
                            jerr.line, root ? "not an object" : jerr.text);
    json_t *auths = json_object_get(root, "auths");
    if (auths != NULL && !json_is_object(auths))
        return st_error_set(err, EINVAL, "the image pull secret's \"auths\" is not an object");
    if (auths == NULL)
        return st_error_set(err, ENOENT, "the image pull secret has no \"auths\" entry for %s",
                            host);

    const char *key;
    json_t *entry;
    json_object_foreach(auths, key, entry)
    {
        if (!key_matches(key, host))
            continue;
        if (!json_is_object(entry))
            return st_error_set(err, EINVAL,
                                "the image pull secret's entry for %s is not an object", key);
        const char *a = json_string_value(json_object_get(entry, "auth"));
        const char *u = json_string_value(json_object_get(entry, "username"));
        const char *pw = json_string_value(json_object_get(entry, "password"));
        if (a != NULL && a[0] != '\0') {
            _cleanup_free_ char *plain = NULL;
            st_error e = {0};
            if (st_b64_decode(a, (void **)&plain, NULL, &e) < 0)
                return st_error_set(err, EINVAL,
                                    "the image pull secret's \"auth\" for %s is not base64", key);
            char *colon = strchr(plain, ':');
            if (colon == NULL)
                return st_error_set(err, EINVAL,
                                    "the image pull secret's \"auth\" for %s is not "
                                    "base64(\"user:password\")",
                                    key);
            *colon = '\0';
            *user = strdup(plain);
            *pass = strdup(colon + 1);
            explicit_bzero(colon + 1, strlen(colon + 1));
        } else if (u != NULL) {
            *user = strdup(u);
            *pass = strdup(pw ? pw : "");
        } else {
            return st_error_set(err, EINVAL,
                                "the image pull secret's entry for %s has neither \"auth\" nor "
                                "\"username\"",
                                key);
        }
        if (*user == NULL || *pass == NULL) {
            free(*user);
            free(*pass);
            *user = *pass = NULL;
            return st_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
    }
    return st_error_set(err, ENOENT, "the image pull secret has no \"auths\" entry for %s", host);
}
