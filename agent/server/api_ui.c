/* api_ui.c: the dashboard (issue 16) on the API's HTTPS port: its files,
 * embedded at build time (agent/ui), under /ui/, and who may use the port.
 * kubectl gives the admin bearer token; the page holds a session instead,
 * in a cookie (HttpOnly, Secure, SameSite=Strict) it got by logging in
 * with the token or by a one-time link `stratactl dashboard` asked for on
 * the unix socket, so no long-lived secret ever sits in a URL. A request
 * made with the cookie that changes state must carry X-Strata-UI: 1, a
 * header no cross-site form or image can send. Session ids and link
 * tokens are 32 random bytes, kept in memory only (a restart logs the page
 * out), compared in constant time and never logged. */
#include "api_priv.h"
#include "strata/cleanup.h"
#include "strata/hex.h"
#include "ui_assets.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_HEX 64 /* 32 random bytes */
/* Bounds on what a client can make stratad keep: the oldest goes first. */
#define SESSIONS_MAX 256
#define LINKS_MAX    32

#define NS_PER_MS 1000000LL

/* The page's headers: it may load and call only its own origin, never be
 * framed, and nothing is cached (the files change with stratad). */
#define UI_CSP                                                                                     \
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "              \
    "connect-src 'self'; frame-ancestors 'none'"

enum entry_kind { ENTRY_SESSION, ENTRY_LINK };

struct entry {
    char id[ID_HEX + 1];
    enum entry_kind kind;
    int64_t expires_ns;
};

struct st_server_ui {
    pthread_mutex_t lock;
    struct entry entries[SESSIONS_MAX + LINKS_MAX]; /* id[0] == 0: free */
};

int st_server_ui_new(struct st_server_ui **out)
{
    struct st_server_ui *ui = calloc(1, sizeof(*ui));
    if (ui == NULL)
        return -ENOMEM;
    pthread_mutex_init(&ui->lock, NULL);
    *out = ui;
    return 0;
}

void st_server_ui_free(struct st_server_ui *ui)
{
    if (ui == NULL)
        return;
    OPENSSL_cleanse(ui->entries, sizeof(ui->entries));
    pthread_mutex_destroy(&ui->lock);
    free(ui);
}

/* ---- sessions and links ------------------------------------------------------ */

static size_t kind_max(enum entry_kind kind)
{
    return kind == ENTRY_SESSION ? SESSIONS_MAX : LINKS_MAX;
}

static void entry_drop(struct entry *e)
{
    OPENSSL_cleanse(e, sizeof(*e));
}

/* A new id of kind, good for ttl_ms, into id. [lock] */
static int entry_add(struct st_server_ui *ui, enum entry_kind kind, int64_t now_ns, int64_t ttl_ms,
                     char id[ID_HEX + 1])
{
    if (st_hex_random(ID_HEX / 2, id, NULL) < 0)
        return -EIO;
    struct entry *slot = NULL, *oldest = NULL;
    size_t live = 0;
    for (size_t i = 0; i < sizeof(ui->entries) / sizeof(ui->entries[0]); i++) {
        struct entry *e = &ui->entries[i];
        if (e->id[0] && e->expires_ns <= now_ns)
            entry_drop(e);
        if (e->id[0] == 0) {
            if (slot == NULL)
                slot = e;
            continue;
        }
        if (e->kind != kind)
            continue;
        live++;
        if (oldest == NULL || e->expires_ns < oldest->expires_ns)
            oldest = e;
    }
    if (live >= kind_max(kind) || slot == NULL) {
        if (oldest == NULL)
            return -ENOSPC;
        entry_drop(oldest);
        slot = oldest;
    }
    memcpy(slot->id, id, ID_HEX + 1);
    slot->kind = kind;
    slot->expires_ns = now_ns + ttl_ms * NS_PER_MS;
    return 0;
}

/* Whether id is a live entry of kind; consume: it is used up. Every entry
 * is compared, in constant time, whatever matches. */
static bool entry_check(struct st_server *d, enum entry_kind kind, const char *id, size_t len,
                        bool consume)
{
    if (len != ID_HEX)
        return false;
    struct st_server_ui *ui = d->ui;
    int64_t now = st_server_now_ns(d);
    bool found = false;
    pthread_mutex_lock(&ui->lock);
    for (size_t i = 0; i < sizeof(ui->entries) / sizeof(ui->entries[0]); i++) {
        struct entry *e = &ui->entries[i];
        if (e->id[0] == 0)
            continue;
        if (e->expires_ns <= now) {
            entry_drop(e);
            continue;
        }
        if (CRYPTO_memcmp(e->id, id, ID_HEX) == 0 && e->kind == kind) {
            found = true;
            if (consume)
                entry_drop(e);
        }
    }
    pthread_mutex_unlock(&ui->lock);
    return found;
}

static int entry_new(struct st_server *d, enum entry_kind kind, int64_t ttl_ms, char id[ID_HEX + 1])
{
    pthread_mutex_lock(&d->ui->lock);
    int r = entry_add(d->ui, kind, st_server_now_ns(d), ttl_ms, id);
    pthread_mutex_unlock(&d->ui->lock);
    return r;
}

/* The session id in a Cookie header ("a=b; strata_session=ID"), or NULL;
 * *len its length. */
static const char *cookie_session(const char *cookie, size_t *len)
{
    static const char name[] = ST_SERVER_UI_COOKIE "=";
    for (const char *p = cookie; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t n = strcspn(p, ";");
        if (strncmp(p, name, sizeof(name) - 1) == 0) {
            *len = n - (sizeof(name) - 1);
            return p + sizeof(name) - 1;
        }
        p += n;
    }
    return NULL;
}

static bool session_valid(struct st_server *d, const char *cookie)
{
    size_t len = 0;
    const char *id = cookie_session(cookie, &len);
    return id && entry_check(d, ENTRY_SESSION, id, len, false);
}

/* ---- who may use the HTTPS port ---------------------------------------------- */

static const struct st_ui_asset *asset_of(const struct st_server_request *q)
{
    char name[512] = "";
    size_t off = 0;
    if (q->nseg == 1)
        snprintf(name, sizeof(name), "index.html");
    for (size_t i = 1; i < q->nseg && off < sizeof(name); i++)
        off +=
            (size_t)snprintf(name + off, sizeof(name) - off, "%s%s", i > 1 ? "/" : "", q->seg[i]);
    if (off >= sizeof(name))
        return NULL;
    for (const struct st_ui_asset *a = st_ui_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static bool seg_is(const struct st_server_request *q, size_t i, const char *s)
{
    return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

static bool method_reads(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* What anyone may read, as the apiserver lets anonymous clients read
 * health and the version; and the page's files (they hold no data) and
 * its login. */
static bool is_public(const struct st_server_request *q)
{
    static const char *const paths[] = {"healthz", "livez", "readyz", "version"};
    if (q->nseg == 1)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
            if (seg_is(q, 0, paths[i]))
                return true;
    if (!seg_is(q, 0, "ui"))
        return false;
    if (q->nseg == 2 && seg_is(q, 1, "login"))
        return true;
    return method_reads(q->method) && asset_of(q) != NULL;
}

int st_server_api_gate(struct st_server *d, const struct st_server_request *q,
                       struct st_server_response *out)
{
    if (is_public(q) || st_api_pki_authorized(&d->pki, q->authorization))
        return 1;
    struct st_server_call c = {.d = d, .q = q, .out = out};
    if (!session_valid(d, q->cookie))
        return st_server_api_reply_status(&c, 401,
                                          "Unauthorized: give the bearer token of the kubeconfig "
                                          "stratad wrote (stratactl kubeconfig prints it), or "
                                          "log in to the dashboard") < 0
                   ? -ENOMEM
                   : 0;
    if (method_reads(q->method) || (q->ui_header && strcmp(q->ui_header, "1") == 0))
        return 1;
    return st_server_api_reply_status(&c, 403,
                                      "Forbidden: a %s with the dashboard's session cookie must "
                                      "carry the header X-Strata-UI: 1 (the page sends it; a "
                                      "request from another site cannot)",
                                      q->method) < 0
               ? -ENOMEM
               : 0;
}

/* ---- the endpoints ------------------------------------------------------------ */

static void page_headers(struct st_server_call *c)
{
    st_server_api_header(c, "Cache-Control", "no-store");
    st_server_api_header(c, "Content-Security-Policy", UI_CSP);
    st_server_api_header(c, "X-Content-Type-Options", "nosniff");
}

static int set_session_cookie(struct st_server_call *c, const char *id, long max_age)
{
    char value[256];
    snprintf(value, sizeof(value),
             ST_SERVER_UI_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%ld", id,
             max_age);
    st_server_api_header(c, "Set-Cookie", value);
    OPENSSL_cleanse(value, sizeof(value));
    return 0;
}

/* A new session, its cookie set on the reply. */
static int session_start(struct st_server_call *c)
{
    char id[ID_HEX + 1];
    if (entry_new(c->d, ENTRY_SESSION, ST_SERVER_UI_SESSION_TTL_MS, id) < 0)
        return st_server_api_reply_status(c, 500, "cannot draw random bytes for a session");
    set_session_cookie(c, id, (long)(ST_SERVER_UI_SESSION_TTL_MS / 1000));
    OPENSSL_cleanse(id, sizeof(id));
    return 0;
}

/* POST /ui/login {"token"}: 204 and the cookie; GET /ui/login?once=TOKEN
 * (the one-time link): the cookie and 303 to the page. */
static int login(struct st_server_call *c)
{
    if (st_server_api_method_is(c, "GET")) {
        const char *once = st_server_api_arg(c, "once");
        page_headers(c);
        if (once == NULL || !entry_check(c->d, ENTRY_LINK, once, strlen(once), true)) {
            static const char html[] =
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Strata: link used or expired</title></head>\n<body><p>This login link "
                "was used already or is over a minute old. Run <code>stratactl dashboard</code> "
                "again for a new one.</p></body></html>\n";
            return st_server_api_reply_text(c, 401, "text/html; charset=utf-8", html,
                                            sizeof(html) - 1);
        }
        int r = session_start(c);
        if (r < 0 || c->out->status)
            return r;
        st_server_api_header(c, "Location", "/ui/");
        return st_server_api_reply_text(c, 303, "text/plain", "", 0);
    }
    if (!st_server_api_method_is(c, "POST"))
        return st_server_api_reply_status(c, 405, "/ui/login takes GET ?once= or POST");
    st_error err = {0};
    _cleanup_json_ json_t *body = st_server_api_parse_body(c, &err);
    const char *token = json_string_value(json_object_get(body, "token"));
    _cleanup_free_ char *bearer = NULL;
    if (token && asprintf(&bearer, "Bearer %s", token) < 0)
        return -ENOMEM;
    bool ok = bearer && st_api_pki_authorized(&c->d->pki, bearer);
    if (bearer)
        OPENSSL_cleanse(bearer, strlen(bearer));
    if (!ok)
        return st_server_api_reply_status(c, 401,
                                          "Unauthorized: that is not the admin token (stratactl "
                                          "kubeconfig prints it; stratactl dashboard prints a "
                                          "login link)");
    int r = session_start(c);
    if (r < 0 || c->out->status)
        return r;
    return st_server_api_reply_text(c, 204, "text/plain", "", 0);
}

/* POST /ui/logout: the session ends, the cookie is expired. */
static int logout(struct st_server_call *c)
{
    size_t len = 0;
    const char *id = cookie_session(c->q->cookie, &len);
    if (id)
        entry_check(c->d, ENTRY_SESSION, id, len, true);
    set_session_cookie(c, "", 0);
    return st_server_api_reply_text(c, 204, "text/plain", "", 0);
}

/* POST /ui/links (the unix socket only): a one-time login link. */
static int link_new(struct st_server_call *c)
{
    if (c->q->tcp)
        return st_server_api_reply_status(c, 403,
                                          "login links are made on stratad's unix socket only "
                                          "(stratactl dashboard)");
    if (c->d->api_port == 0)
        return st_server_api_reply_status(c, 503,
                                          "stratad serves no HTTPS port (--api-listen none), "
                                          "where the dashboard lives; restart it with one");
    char id[ID_HEX + 1];
    if (entry_new(c->d, ENTRY_LINK, ST_SERVER_UI_LINK_TTL_MS, id) < 0)
        return st_server_api_reply_status(c, 500, "cannot draw random bytes for a link");
    char url[256];
    snprintf(url, sizeof(url), "https://%s:%u/ui/login?once=%s", c->d->api_host, c->d->api_port,
             id);
    _cleanup_json_ json_t *reply = json_pack("{s:s, s:i}", "url", url, "expiresInSeconds",
                                             (int)(ST_SERVER_UI_LINK_TTL_MS / 1000));
    OPENSSL_cleanse(id, sizeof(id));
    OPENSSL_cleanse(url, sizeof(url));
    return reply ? st_server_api_reply_json(c, 201, reply) : -ENOMEM;
}

int st_server_api_ui(struct st_server_call *c)
{
    const struct st_server_request *q = c->q;
    if (q->nseg == 2 && seg_is(q, 1, "login"))
        return login(c);
    if (q->nseg == 2 && seg_is(q, 1, "logout") && st_server_api_method_is(c, "POST"))
        return logout(c);
    if (q->nseg == 2 && seg_is(q, 1, "links") && st_server_api_method_is(c, "POST"))
        return link_new(c);
    if (q->nseg == 2 && seg_is(q, 1, "session") && st_server_api_method_is(c, "GET")) {
        /* over HTTPS the gate let it through: a session or the token */
        _cleanup_json_ json_t *ok = json_pack("{s:b}", "ok", 1);
        return ok ? st_server_api_reply_json(c, 200, ok) : -ENOMEM;
    }
    const struct st_ui_asset *a = method_reads(q->method) ? asset_of(q) : NULL;
    if (a == NULL)
        return st_server_api_reply_status(c, 404, "no such page file (see agent/API.md)");
    page_headers(c);
    return st_server_api_reply_text(c, 200, a->type, (const char *)a->bytes, a->len);
}
