/* pull.c: st_image_pull, the client side of the OCI distribution spec over
 * libcurl. It resolves a tag (or digest) to a manifest, descends through an
 * image index to the linux/amd64 manifest, streams the config and layer
 * blobs it lacks into the store's blob writer, and commits the image. It
 * brings content in only through image_priv.h, so every byte is checked
 * against its digest the same way an import is, and a failed pull leaves no
 * partial blob and no tag behind.
 *
 * Authentication answers what the registry asks in WWW-Authenticate (auth.c
 * reads it): Basic with the credentials of the pull secret, or the Bearer
 * token exchange. The HTTP status of each answer decides the error a person
 * sees (401/403 -EACCES, 404 -ENOENT, the rest -EIO); a digest that does not
 * match is -EBADMSG. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "image_priv.h"
#include "store_priv.h"
#include "strata/clock.h"
#include "strata/cleanup.h"
#include "strata/hex.h"

/* The distribution spec asks registries to refuse manifests over 4 MiB. */
#define MANIFEST_MAX (4L << 20)
/* Enough of an error body to quote the registry's message. */
#define ERRBODY_MAX       (64L << 10)
#define TOKEN_MAX         (1L << 20)
#define CONNECT_TIMEOUT_S 10
/* A registry that sends under 1 byte/s for 30 s has stalled: the pull
 * fails rather than hangs a worker forever. */
#define LOW_SPEED_BYTES  1
#define LOW_SPEED_TIME_S 30
#define MAX_REDIRS       8

#define ACCEPT_MANIFESTS                                                                           \
    "Accept: " ST_MT_OCI_MANIFEST ", " ST_MT_OCI_INDEX ", " ST_MT_DOCKER_MANIFEST                  \
    ", " ST_MT_DOCKER_LIST

/* ---- one registry session ------------------------------------------------------ */

enum auth_mode { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct reg {
    st_image_store *s;
    const struct st_image_ref *ref;
    const char *name; /* the image as every message names it */
    char base[640];   /* scheme://HOST/v2/PATH */
    const char *auth_json;
    char *user, *pass; /* the pull secret's, NULL when it has none */
    enum auth_mode mode;
    char *token;
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

static void reg_free(struct reg *g)
{
    if (g->curl)
        curl_easy_cleanup(g->curl);
    if (g->pass)
        explicit_bzero(g->pass, strlen(g->pass));
    if (g->token)
        explicit_bzero(g->token, strlen(g->token));
    free(g->user);
    free(g->pass);
    free(g->token);
}

/* Where one answer goes. Status and headers are those of the last hop
 * (a redirect's are dropped when the next status line comes). A 2xx body
 * goes to the blob writer when there is one, else to memory (up to max);
 * any other body is kept (up to ERRBODY_MAX) to quote the registry. */
struct resp {
    long code;
    char www_auth[2048];
    char content_type[128];
    char docker_digest[ST_IMAGE_DIGEST_LEN];
    char *buf;
    size_t len, cap, max;
    st_image_blob_writer *w;
    int64_t expect; /* the blob's size from its descriptor */
    int64_t got;
    int fail; /* the body sink failed: err is filled */
    st_error *err;
    struct reg *g;
    const char *what; /* "manifest", "blob sha256:..." for messages */
};

static void resp_reset(struct resp *r)
{
    r->code = 0;
    r->www_auth[0] = r->content_type[0] = r->docker_digest[0] = '\0';
    r->len = 0;
    r->got = 0;
    r->fail = 0;
}

static void resp_free(struct resp *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

static int resp_append(struct resp *r, const char *data, size_t n, size_t max)
{
    if (r->len + n > max)
        return -1;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *buf = realloc(r->buf, cap);
        if (buf == NULL)
            return -1;
        r->buf = buf;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return 0;
}

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    snprintf(dst, cap, "%.*s", (int)n, v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    if (n > 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new answer (after a redirect or a 100): forget the last one's */
        resp_reset(r);
        const char *sp = memchr(data, ' ', n);
        if (sp != NULL)
            r->code = strtol(sp + 1, NULL, 10);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (colon == NULL)
        return n;
    size_t klen = (size_t)(colon - data);
    const char *v = colon + 1;
    while (v < data + n && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(data + n - v);
    if (klen == 16 && strncasecmp(data, "WWW-Authenticate", 16) == 0) {
        /* several challenges may come in several headers: one list */
        size_t used = strlen(r->www_auth);
        if (used > 0 && used + 2 < sizeof(r->www_auth))
            strcat(r->www_auth, ", "), used += 2;
        copy_trimmed(r->www_auth + used, sizeof(r->www_auth) - used, v, vlen);
    } else if (klen == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
        size_t end = 0;
        while (end < vlen && v[end] != ';')
            end++;
        copy_trimmed(r->content_type, sizeof(r->content_type), v, end);
    } else if (klen == 21 && strncasecmp(data, "Docker-Content-Digest", 21) == 0) {
        copy_trimmed(r->docker_digest, sizeof(r->docker_digest), v, vlen);
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct resp *r = userp;
    size_t n = size * nmemb;
    if (r->code < 200 || r->code > 299) {
        resp_append(r, data, n, ERRBODY_MAX); /* past the bound: quote less */
        return n;
    }
    if (r->w == NULL) {
        if (resp_append(r, data, n, r->max) < 0) {
            r->fail = st_error_set(r->err, EBADMSG, "%s: the %s is larger than %zu bytes",
                                   r->g->name, r->what, r->max);
            return 0;
        }
        return n;
    }
    if (r->got + (int64_t)n > r->expect) {
        r->fail = st_error_set(r->err, EBADMSG,
                               "%s: the registry sent more of %s than the %lld bytes its "
                               "manifest says",
                               r->g->name, r->what, (long long)r->expect);
        return 0;
    }
    int rc = st_image_blob_write(r->w, data, n, r->err);
    if (rc < 0) {
        st_error_prefix(r->err, "%s: ", r->g->name);
        r->fail = rc;
        return 0;
    }
    r->got += (int64_t)n;
    return n;
}

/* The registry's own words from an error body ({"errors": [{"code",
 * "message"}]}), or "". */
static void registry_message(const struct resp *r, char *out, size_t cap)
{
    out[0] = '\0';
    if (r->buf == NULL || r->len == 0)
        return;
    _cleanup_json_ json_t *j = json_loadb(r->buf, r->len, 0, NULL);
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = json_string_value(json_object_get(e0, "code"));
    const char *msg = json_string_value(json_object_get(e0, "message"));
    if (code || msg)
        snprintf(out, cap, " (%s%s%s)", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
}

static bool host_is_loopback(const char *host)
{
    char name[256];
    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        if (end == NULL)
            return false;
        snprintf(name, sizeof(name), "%.*s", (int)(end - host - 1), host + 1);
    } else {
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(host, ":"), host);
    }
    if (strcasecmp(name, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int reg_open(struct reg *g, st_error *err)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return st_error_set(err, EIO, "%s: libcurl did not initialise: %s", g->name,
                            curl_easy_strerror(curl_init_rc));
    const struct st_image_ref *ref = g->ref;
    snprintf(g->base, sizeof(g->base), "%s://%s/v2/%s",
             host_is_loopback(ref->host) ? "http" : "https", ref->host, ref->path);
    g->curl = curl_easy_init();
    if (g->curl == NULL)
        return st_error_set(err, ENOMEM, "%s: out of memory (curl_easy_init)", g->name);
    CURL *c = g->curl;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* pulls run on worker threads */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* blobs are often redirected */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)LOW_SPEED_BYTES);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME_S);
    /* a proxy from the environment never stands between us and loopback */
    curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.0/8,::1");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "strata-image-pull");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    return 0;
}

/* One GET of url as the session stands (no retry). */
static int reg_perform(struct reg *g, const char *url, const char *accept, enum auth_mode mode,
                       struct resp *r, st_error *err)
{
    CURL *c = g->curl;
    struct curl_slist *hdrs = accept ? curl_slist_append(NULL, accept) : NULL;
    if (accept != NULL && hdrs == NULL)
        return st_error_set(err, ENOMEM, "%s: out of memory", g->name);
    resp_reset(r);
    r->err = err;
    r->g = g;
    g->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    /* libcurl sends credentials only to the host it was given them for, so a
     * redirect to a blob store never carries them */
    curl_easy_setopt(c, CURLOPT_USERNAME, mode == AUTH_BASIC ? g->user : NULL);
    curl_easy_setopt(c, CURLOPT_PASSWORD, mode == AUTH_BASIC ? g->pass : NULL);
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, mode == AUTH_BEARER ? g->token : NULL);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH,
                     mode == AUTH_BASIC    ? CURLAUTH_BASIC
                     : mode == AUTH_BEARER ? CURLAUTH_BEARER
                                           : CURLAUTH_NONE);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (cc == CURLE_OK)
        return 0;
    if (r->fail < 0)
        return r->fail;
    const char *why = g->errbuf[0] ? g->errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return st_error_set(err, EIO, "%s: cannot reach the registry %s (%s); is it running?",
                            g->name, g->ref->host, why);
    case CURLE_OPERATION_TIMEDOUT:
        return st_error_set(err, EIO,
                            "%s: the registry %s stalled while sending the %s (%s); try again",
                            g->name, g->ref->host, r->what, why);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return st_error_set(err, EIO, "%s: the registry %s stopped while sending the %s (%s)",
                            g->name, g->ref->host, r->what, why);
    default:
        return st_error_set(err, EIO, "%s: GET %s failed: %s", g->name, url, why);
    }
}

/* ---- authentication ------------------------------------------------------------ */

/* The credentials of the pull secret for this host, looked up once. */
static int reg_creds(struct reg *g, st_error *err)
{
    if (g->user != NULL)
        return 0;
    st_error e = {0};
    int rc = st_image_auth_lookup(g->auth_json, g->ref->host, &g->user, &g->pass, &e);
    if (rc == -ENOENT)
        return -ENOENT;
    if (rc < 0)
        return st_error_set(err, -rc, "%s: %s", g->name, e.msg);
    return 0;
}

/* Gets a Bearer token from the realm the challenge names, for the scope it
 * names (or pull on this repository), with the pull secret's credentials
 * when it has some (anonymous otherwise, as public registries allow). */
static int reg_token(struct reg *g, const struct st_image_challenge *ch, st_error *err)
{
    char scope[1200];
    if (ch->scope[0] != '\0')
        snprintf(scope, sizeof(scope), "%s", ch->scope);
    else
        snprintf(scope, sizeof(scope), "repository:%s:pull", g->ref->path);
    char *esc_scope = curl_easy_escape(g->curl, scope, 0);
    char *esc_service = curl_easy_escape(g->curl, ch->service, 0);
    if (esc_scope == NULL || esc_service == NULL) {
        curl_free(esc_scope);
        curl_free(esc_service);
        return st_error_set(err, ENOMEM, "%s: out of memory", g->name);
    }
    char url[4096];
    int n = snprintf(url, sizeof(url), "%s%cscope=%s%s%s", ch->realm,
                     strchr(ch->realm, '?') ? '&' : '?', esc_scope,
                     ch->service[0] ? "&service=" : "", esc_service);
    curl_free(esc_scope);
    curl_free(esc_service);
    if (n < 0 || (size_t)n >= sizeof(url))
        return st_error_set(err, EIO, "%s: the registry's token realm is too long", g->name);
    if (strncasecmp(ch->realm, "http://", 7) != 0 && strncasecmp(ch->realm, "https://", 8) != 0)
        return st_error_set(err, EIO, "%s: the registry's token realm \"%.200s\" is not a URL",
                            g->name, ch->realm);

    int rc = reg_creds(g, err);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    bool creds = rc == 0;
    struct resp r = {.max = TOKEN_MAX, .what = "token"};
    rc = reg_perform(g, url, NULL, creds ? AUTH_BASIC : AUTH_NONE, &r, err);
    if (rc < 0) {
        resp_free(&r);
        return rc;
    }
    if (r.code == 401 || r.code == 403) {
        resp_free(&r);
        return st_error_set(err, EACCES,
                            creds ? "%s: the token service of %s refused the credentials of the "
                                    "image pull secret (HTTP %ld)"
                                  : "%s: the registry %s asks for credentials (HTTP %ld) and no "
                                    "image pull secret has any for it",
                            g->name, g->ref->host, r.code);
    }
    if (r.code != 200) {
        resp_free(&r);
        return st_error_set(err, EIO, "%s: the token service of %s answered HTTP %ld", g->name,
                            g->ref->host, r.code);
    }
    _cleanup_json_ json_t *j = r.buf ? json_loadb(r.buf, r.len, 0, NULL) : NULL;
    resp_free(&r);
    const char *tok = json_string_value(json_object_get(j, "token"));
    if (tok == NULL || tok[0] == '\0')
        tok = json_string_value(json_object_get(j, "access_token"));
    if (tok == NULL || tok[0] == '\0')
        return st_error_set(err, EIO, "%s: the token service of %s sent no token", g->name,
                            g->ref->host);
    free(g->token);
    g->token = strdup(tok);
    if (g->token == NULL)
        return st_error_set(err, ENOMEM, "%s: out of memory", g->name);
    g->mode = AUTH_BEARER;
    return 0;
}

/* Answers the registry's challenge: Basic with the pull secret's
 * credentials, or a Bearer token. */
static int reg_authenticate(struct reg *g, const char *www_auth, st_error *err)
{
    struct st_image_challenge ch;
    st_error e = {0};
    if (www_auth[0] == '\0')
        return st_error_set(err, EACCES,
                            "%s: the registry %s answered 401 without saying how to "
                            "authenticate (no WWW-Authenticate)",
                            g->name, g->ref->host);
    int rc = st_image_auth_challenge_parse(www_auth, &ch, &e);
    if (rc < 0)
        return st_error_set(err, EACCES, "%s: the registry %s: %s", g->name, g->ref->host, e.msg);
    if (ch.scheme == ST_IMAGE_AUTH_BEARER)
        return reg_token(g, &ch, err);
    rc = reg_creds(g, err);
    if (rc == -ENOENT)
        return st_error_set(err, EACCES,
                            "%s: the registry %s asks for credentials and no image pull secret "
                            "has any for it (a kubernetes.io/dockerconfigjson Secret with an "
                            "\"auths\" entry for %s)",
                            g->name, g->ref->host, g->ref->host);
    if (rc < 0)
        return rc;
    g->mode = AUTH_BASIC;
    return 0;
}

/* GET with authentication: a 401 is answered once (a new token when the
 * one we had expired), then the status is the caller's to judge. */
static int reg_get(struct reg *g, const char *url, const char *accept, struct resp *r,
                   st_error *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = reg_perform(g, url, accept, g->mode, r, err);
        if (rc < 0)
            return rc;
        if (r->code != 401 || attempt > 0)
            return 0;
        rc = reg_authenticate(g, r->www_auth, err);
        if (rc < 0)
            return rc;
    }
}

/* A failed status as the error a person sees. */
static int status_error(struct reg *g, const struct resp *r, const char *unknown, st_error *err)
{
    char said[512];
    registry_message(r, said, sizeof(said));
    if (r->code == 401 || r->code == 403)
        return st_error_set(err, EACCES,
                            g->mode == AUTH_NONE
                                ? "%s: the registry %s refused access (HTTP %ld)%s"
                                : "%s: the registry %s refused the credentials (HTTP %ld)%s",
                            g->name, g->ref->host, r->code, said);
    if (r->code == 404)
        return st_error_set(err, ENOENT, "%s: %s%s", unknown, g->name, said);
    return st_error_set(err, EIO, "%s: the registry %s answered HTTP %ld for the %s%s", g->name,
                        g->ref->host, r->code, r->what, said);
}

/* ---- content -------------------------------------------------------------------- */

static void sha256_digest(const void *data, size_t len, char out[ST_IMAGE_DIGEST_LEN])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    st_hex_encode(md, 32, out + 7);
}

/* Store errors know the blob, not the image: name it. */
static int name_it(struct reg *g, int rc, st_error *err)
{
    if (rc < 0 && err != NULL && strstr(err->msg, g->name) == NULL)
        st_error_prefix(err, "%s: ", g->name);
    return rc;
}

/* GETs a manifest or index by tag or digest into *r (body in r->buf), and
 * its digest: the sha256 of what came, checked against want (a pull by
 * digest) and the registry's Docker-Content-Digest when it sends one. */
static int get_manifest(struct reg *g, const char *reference, const char *want, struct resp *r,
                        char digest[ST_IMAGE_DIGEST_LEN], st_error *err)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s/manifests/%s", g->base, reference);
    r->max = MANIFEST_MAX;
    r->what = "manifest";
    int rc = reg_get(g, url, ACCEPT_MANIFESTS, r, err);
    if (rc < 0)
        return rc;
    if (r->code != 200)
        return status_error(g, r, "manifest unknown", err);
    sha256_digest(r->buf ? r->buf : "", r->len, digest);
    if (want != NULL && want[0] != '\0' && strcmp(want, digest) != 0)
        return st_error_set(err, EBADMSG,
                            "%s: the registry sent a manifest of digest %s for %s; nothing was "
                            "kept",
                            g->name, digest, want);
    if (strncmp(r->docker_digest, "sha256:", 7) == 0 && strcmp(r->docker_digest, digest) != 0)
        return st_error_set(err, EBADMSG,
                            "%s: the manifest's digest is %s, the registry says %s; nothing was "
                            "kept",
                            g->name, digest, r->docker_digest);
    return 0;
}

/* Streams one blob into the store unless it is there; adds what it
 * downloaded to *bytes. */
static int get_blob(struct reg *g, const char *digest, int64_t size, int64_t *bytes, st_error *err)
{
    if (st_image_blob_has(g->s, digest))
        return 0;
    char what[ST_IMAGE_DIGEST_LEN + 8];
    snprintf(what, sizeof(what), "blob %s", digest);
    st_image_blob_writer *w = NULL;
    int rc = st_image_blob_open(g->s, digest, &w, err);
    if (rc < 0)
        return name_it(g, rc, err);
    char url[1024];
    snprintf(url, sizeof(url), "%s/blobs/%s", g->base, digest);
    struct resp r = {.w = w, .expect = size, .what = what};
    rc = reg_get(g, url, NULL, &r, err);
    if (rc == 0 && r.code != 200)
        rc = status_error(g, &r, "blob unknown", err);
    if (rc == 0 && r.got != size)
        rc = st_error_set(err, EIO,
                          "%s: the registry stopped after %lld of the %lld bytes of %s; nothing "
                          "of it was kept",
                          g->name, (long long)r.got, (long long)size, what);
    resp_free(&r);
    if (rc < 0) {
        st_image_blob_abort(w);
        return rc;
    }
    char got[ST_IMAGE_DIGEST_LEN];
    rc = st_image_blob_commit(w, got, err);
    if (rc < 0)
        return name_it(g, rc, err);
    *bytes += size;
    return 0;
}

/* Puts a manifest we hold in memory (already checked) into blobs/. */
static int put_manifest(struct reg *g, const char *digest, const char *body, size_t len,
                        st_error *err)
{
    if (st_image_blob_has(g->s, digest))
        return 0;
    st_image_blob_writer *w = NULL;
    int rc = st_image_blob_open(g->s, digest, &w, err);
    if (rc < 0)
        return name_it(g, rc, err);
    rc = st_image_blob_write(w, body, len, err);
    if (rc < 0) {
        st_image_blob_abort(w);
        return name_it(g, rc, err);
    }
    char got[ST_IMAGE_DIGEST_LEN];
    return name_it(g, st_image_blob_commit(w, got, err), err);
}

/* The pull proper, with the ref's once-lock held. */
/* Layers unpack on their own thread, each as soon as it is downloaded,
 * while the next one downloads: a pull costs about its download plus the
 * last layer's unpack, not the sum. */
struct unpacker {
    st_image_store *s;
    const struct st_image_manifest *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t have; /* layers downloaded so far */
    bool stop;   /* no more will come (done, or the pull failed) */
    int rc;      /* the first unpack failure */
    st_error err;
};

static void *unpack_run(void *arg)
{
    struct unpacker *u = arg;
    for (size_t i = 0; i < u->m->nlayers; i++) {
        pthread_mutex_lock(&u->mu);
        while (u->have <= i && !u->stop)
            pthread_cond_wait(&u->cv, &u->mu);
        bool go = u->have > i;
        pthread_mutex_unlock(&u->mu);
        if (!go)
            break;
        int r = st_image_layer_ensure(u->s, u->m, i, &u->err);
        if (r < 0) {
            pthread_mutex_lock(&u->mu);
            u->rc = r;
            pthread_mutex_unlock(&u->mu);
            break;
        }
    }
    return NULL;
}

static void unpacker_tell(struct unpacker *u, size_t have, bool stop)
{
    pthread_mutex_lock(&u->mu);
    u->have = have;
    u->stop = stop;
    pthread_cond_signal(&u->cv);
    pthread_mutex_unlock(&u->mu);
}

static int unpacker_failed(struct unpacker *u)
{
    pthread_mutex_lock(&u->mu);
    int r = u->rc;
    pthread_mutex_unlock(&u->mu);
    return r;
}

static int pull_locked(struct reg *g, struct st_image_pull_report *rep, st_error *err)
{
    const struct st_image_ref *ref = g->ref;
    struct resp r = {0};
    char digest[ST_IMAGE_DIGEST_LEN];
    char child[ST_IMAGE_DIGEST_LEN] = "";
    struct st_image_manifest m = {0};

    int rc = get_manifest(g, ref->digest[0] ? ref->digest : ref->tag, ref->digest, &r, digest, err);
    if (rc == 0)
        rc = name_it(g,
                     st_image_manifest_parse(r.buf ? r.buf : "", r.len,
                                             r.content_type[0] ? r.content_type : NULL, &m, child,
                                             err),
                     err);
    if (rc == 1) {
        /* an index: the linux/amd64 manifest it lists, by digest */
        char want[ST_IMAGE_DIGEST_LEN];
        snprintf(want, sizeof(want), "%s", child);
        st_image_manifest_free(&m);
        memset(&m, 0, sizeof(m));
        rc = get_manifest(g, want, want, &r, digest, err);
        if (rc == 0)
            rc = name_it(g,
                         st_image_manifest_parse(r.buf ? r.buf : "", r.len,
                                                 r.content_type[0] ? r.content_type : NULL, &m,
                                                 child, err),
                         err);
        if (rc == 1)
            rc = st_error_set(err, EBADMSG,
                              "%s: the index lists another index (%s) for linux/amd64, not a "
                              "manifest",
                              g->name, want);
    }

    int64_t bytes = 0, size = 0;
    if (rc == 0) {
        rc = get_blob(g, m.config, m.config_size, &bytes, err);
        size += m.config_size;
    }
    struct unpacker u = {.s = g->s, .m = &m};
    pthread_t th;
    bool threaded = false;
    if (rc == 0 && m.nlayers > 0) {
        pthread_mutex_init(&u.mu, NULL);
        pthread_cond_init(&u.cv, NULL);
        threaded = pthread_create(&th, NULL, unpack_run, &u) == 0;
        if (!threaded) {
            pthread_cond_destroy(&u.cv);
            pthread_mutex_destroy(&u.mu);
        }
    }
    for (size_t i = 0; rc == 0 && i < m.nlayers; i++) {
        rc = get_blob(g, m.layers[i].digest, m.layers[i].size, &bytes, err);
        size += m.layers[i].size;
        if (threaded && rc == 0) {
            unpacker_tell(&u, i + 1, false);
            /* a layer that cannot unpack ends the pull: no need to go on */
            if ((rc = unpacker_failed(&u)) < 0)
                rc = name_it(g, st_error_set(err, -rc, "%s", u.err.msg), err);
        }
    }
    if (threaded) {
        unpacker_tell(&u, rc == 0 ? m.nlayers : u.have, true);
        pthread_join(th, NULL);
        if (rc == 0 && u.rc < 0)
            rc = name_it(g, st_error_set(err, -u.rc, "%s", u.err.msg), err);
        pthread_cond_destroy(&u.cv);
        pthread_mutex_destroy(&u.mu);
    }
    if (rc == 0)
        rc = put_manifest(g, digest, r.buf ? r.buf : "", r.len, err);
    resp_free(&r);
    st_image_manifest_free(&m);
    if (rc < 0)
        return rc;

    struct st_image_info info = {0};
    rc = st_image_commit(g->s, g->name, digest, &info, err);
    if (rc < 0)
        return name_it(g, rc, err);
    snprintf(rep->digest, sizeof(rep->digest), "%s", digest);
    rep->bytes = bytes;
    rep->size = info.size > 0 ? info.size : size;
    rep->present = bytes == 0;
    return 0;
}

/* ---- the API -------------------------------------------------------------------- */

int st_image_pull(st_image_store *s, const char *reftext, const char *auth,
                  struct st_image_pull_report *rep, st_error *err)
{
    int64_t t0 = st_clock_ms();
    struct st_image_pull_report local;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof(*rep));

    struct st_image_ref ref;
    int rc = st_image_ref_parse(reftext, &ref, err);
    if (rc < 0)
        return rc;
    char name[512];
    st_image_ref_format(&ref, name, sizeof(name));
    if (ref.host[0] == '\0')
        return st_error_set(err, EINVAL,
                            "%s: names no registry, so it cannot be pulled (an image from a "
                            "registry is HOST[:PORT]/NAME:TAG; a local one is imported with "
                            "`stratactl image import`)",
                            name);

    struct reg g = {.s = s, .ref = &ref, .name = name, .auth_json = auth};
    rc = reg_open(&g, err);
    if (rc == 0) {
        /* a second pull of this ref waits here, then finds every blob */
        st_image_once_begin(s, name);
        rc = pull_locked(&g, rep, err);
        /* a failed pull keeps nothing: the blobs it did bring in go once
         * no import or pull is under way */
        if (rc < 0)
            st_image_store_gc_later(s);
        st_image_once_end(s, name);
    }
    reg_free(&g);
    rep->ms = st_clock_ms() - t0;
    return rc;
}
