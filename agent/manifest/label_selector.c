/* label_selector.c: Kubernetes' label selector grammar (see label_selector.h)
 * with its exact matching rules, so `stratactl get -l`, stratad's
 * ?labelSelector= and the store never disagree:
 *   selector    ::= requirement ("," requirement)*
 *   requirement ::= "!" KEY | KEY [("=" | "==" | "!=") VALUE | ("in" | "notin") "(" VALUES ")"]
 * Whitespace around tokens is ignored, as in Kubernetes. */
#include "strata/label_selector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/names.h"

/* ---- names ---------------------------------------------------------------- */

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool st_label_value_ok(const char *value, size_t len)
{
    return len == 0 || name_ok(value, len);
}

bool st_label_key_ok(const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return name_ok(key, strlen(key));
    char prefix[ST_NAME_DNS_SUBDOMAIN_MAX + 1];
    size_t plen = (size_t)(slash - key);
    if (plen >= sizeof(prefix))
        return false;
    memcpy(prefix, key, plen);
    prefix[plen] = '\0';
    return st_name_dns_subdomain_ok(prefix) && name_ok(slash + 1, strlen(slash + 1));
}

/* ---- lexer ---------------------------------------------------------------- */

enum tok { T_END, T_WORD, T_COMMA, T_LPAREN, T_RPAREN, T_EQ, T_NEQ, T_NOT, T_BAD };

struct lexer {
    const char *text; /* the whole selector, for messages */
    const char *p;
    enum tok tok;
    char word[320]; /* T_WORD's text, or T_BAD's character */
};

static bool word_char(char c)
{
    return c && !strchr(" \t\n\r,()=!<>", c);
}

static void next(struct lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
        lx->p++;
    const char *p = lx->p;
    lx->word[0] = '\0';
    switch (*p) {
    case '\0':
        lx->tok = T_END;
        return;
    case ',':
        lx->tok = T_COMMA, lx->p++;
        return;
    case '(':
        lx->tok = T_LPAREN, lx->p++;
        return;
    case ')':
        lx->tok = T_RPAREN, lx->p++;
        return;
    case '=':
        lx->tok = T_EQ, lx->p += p[1] == '=' ? 2 : 1;
        return;
    case '!':
        lx->tok = p[1] == '=' ? T_NEQ : T_NOT, lx->p += p[1] == '=' ? 2 : 1;
        return;
    }
    if (!word_char(*p)) {
        lx->tok = T_BAD;
        lx->word[0] = *p, lx->word[1] = '\0';
        lx->p++;
        return;
    }
    size_t n = 0;
    while (word_char(p[n]))
        n++;
    lx->tok = T_WORD;
    size_t keep = n < sizeof(lx->word) - 1 ? n : sizeof(lx->word) - 1;
    memcpy(lx->word, p, keep);
    lx->word[keep] = '\0';
    lx->p += n;
}

/* ---- parser --------------------------------------------------------------- */

static int bad(struct lexer *lx, st_error *err, const char *what)
{
    return st_error_set(err, EINVAL,
                        "label selector \"%s\": %s (write key=value, key!=value, "
                        "key in (v1,v2), key notin (v1,v2), key or !key, joined by commas)",
                        lx->text, what);
}

static int push_value(st_label_req *r, const char *v)
{
    char **vals = realloc(r->values, (r->nvalues + 1) * sizeof(*vals));
    if (vals == NULL)
        return -ENOMEM;
    r->values = vals;
    if ((vals[r->nvalues] = strdup(v)) == NULL)
        return -ENOMEM;
    r->nvalues++;
    return 0;
}

static int value(struct lexer *lx, st_label_req *r, st_error *err)
{
    char msg[400];
    /* "key=" selects an empty value, as in Kubernetes. */
    const char *v = lx->tok == T_WORD ? lx->word : "";
    if (lx->tok != T_WORD && lx->tok != T_COMMA && lx->tok != T_END && lx->tok != T_RPAREN) {
        snprintf(msg, sizeof(msg), "a value for \"%s\" is missing", r->key);
        return bad(lx, err, msg);
    }
    if (!st_label_value_ok(v, strlen(v))) {
        snprintf(msg, sizeof(msg),
                 "\"%.80s\" is not a label value (at most 63 letters, digits, '-', '_' or '.', "
                 "beginning and ending with a letter or digit)",
                 v);
        return bad(lx, err, msg);
    }
    if (push_value(r, v) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if (lx->tok == T_WORD)
        next(lx);
    return 0;
}

static int value_set(struct lexer *lx, st_label_req *r, st_error *err)
{
    char msg[400];
    if (lx->tok != T_LPAREN) {
        snprintf(msg, sizeof(msg), "\"%s\" needs its values in parentheses, e.g. %s %s (a,b)",
                 r->op == ST_LABEL_IN ? "in" : "notin", r->key,
                 r->op == ST_LABEL_IN ? "in" : "notin");
        return bad(lx, err, msg);
    }
    next(lx);
    /* "key in ()" is refused by Kubernetes too: it could never match. */
    if (lx->tok == T_RPAREN)
        return bad(lx, err, "a value list needs at least one value");
    for (;;) {
        int rc = value(lx, r, err);
        if (rc < 0)
            return rc;
        if (lx->tok == T_RPAREN)
            break;
        if (lx->tok != T_COMMA)
            return bad(lx, err, "a value list ends with ')'");
        next(lx);
    }
    next(lx);
    return 0;
}

static int requirement(struct lexer *lx, st_label_req *r, st_error *err)
{
    char msg[400];
    bool negate = lx->tok == T_NOT;
    if (negate)
        next(lx);
    if (lx->tok != T_WORD)
        return bad(lx, err,
                   lx->tok == T_BAD   ? "an operator Strata does not know"
                   : lx->tok == T_END ? "a key is missing at the end"
                                      : "a key is missing");
    if (!st_label_key_ok(lx->word)) {
        snprintf(msg, sizeof(msg),
                 "\"%.80s\" is not a label key ([prefix/]name: a name of at most 63 letters, "
                 "digits, '-', '_' or '.', beginning and ending with a letter or digit)",
                 lx->word);
        return bad(lx, err, msg);
    }
    if ((r->key = strdup(lx->word)) == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    next(lx);
    if (negate) {
        r->op = ST_LABEL_NOT_EXISTS;
        return 0;
    }
    switch (lx->tok) {
    case T_END:
    case T_COMMA:
        r->op = ST_LABEL_EXISTS;
        return 0;
    case T_EQ:
    case T_NEQ:
        r->op = lx->tok == T_EQ ? ST_LABEL_EQ : ST_LABEL_NEQ;
        next(lx);
        return value(lx, r, err);
    case T_WORD:
        if (strcmp(lx->word, "in") == 0 || strcmp(lx->word, "notin") == 0) {
            r->op = strcmp(lx->word, "in") == 0 ? ST_LABEL_IN : ST_LABEL_NOTIN;
            next(lx);
            return value_set(lx, r, err);
        }
        snprintf(msg, sizeof(msg), "\"%.80s\" after \"%s\" is not an operator", lx->word, r->key);
        return bad(lx, err, msg);
    default:
        snprintf(msg, sizeof(msg), "\"%s\" is followed by an operator Strata does not know",
                 r->key);
        return bad(lx, err, msg);
    }
}

static void req_free(st_label_req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
}

void st_label_selector_free(st_label_selector *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        req_free(&s->reqs[i]);
    free(s->reqs);
    free(s);
}

int st_label_selector_parse(const char *text, st_label_selector **out, st_error *err)
{
    *out = NULL;
    st_label_selector *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    struct lexer lx = {.text = text ? text : "", .p = text ? text : ""};
    next(&lx);
    while (lx.tok != T_END) {
        st_label_req *reqs = realloc(s->reqs, (s->n + 1) * sizeof(*reqs));
        if (reqs == NULL) {
            st_label_selector_free(s);
            return st_error_set(err, ENOMEM, "out of memory");
        }
        s->reqs = reqs;
        memset(&reqs[s->n], 0, sizeof(reqs[s->n]));
        int r = requirement(&lx, &reqs[s->n], err);
        s->n++;
        if (r == 0 && lx.tok != T_END && lx.tok != T_COMMA)
            r = bad(&lx, err, "requirements are separated by commas");
        if (r == 0 && lx.tok == T_COMMA) {
            next(&lx);
            if (lx.tok == T_END)
                r = bad(&lx, err, "a requirement is missing after the last comma");
        }
        if (r < 0) {
            st_label_selector_free(s);
            return r;
        }
    }
    *out = s;
    return 0;
}

/* ---- matching ------------------------------------------------------------- */

static bool in_values(const st_label_req *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0)
            return true;
    return false;
}

bool st_label_selector_matches(const st_label_selector *s, json_t *labels)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const st_label_req *r = &s->reqs[i];
        const char *v = json_string_value(json_object_get(labels, r->key));
        bool holds = false;
        switch (r->op) {
        case ST_LABEL_EQ:
        case ST_LABEL_IN:
            holds = v && in_values(r, v);
            break;
        case ST_LABEL_NEQ:
        case ST_LABEL_NOTIN:
            holds = !v || !in_values(r, v);
            break;
        case ST_LABEL_EXISTS:
            holds = v != NULL;
            break;
        case ST_LABEL_NOT_EXISTS:
            holds = v == NULL;
            break;
        }
        if (!holds)
            return false;
    }
    return true;
}

json_t *st_label_selector_equalities(const st_label_selector *s)
{
    json_t *eq = json_object();
    for (size_t i = 0; s && eq && i < s->n; i++) {
        const st_label_req *r = &s->reqs[i];
        if ((r->op == ST_LABEL_EQ || r->op == ST_LABEL_IN) && r->nvalues == 1)
            json_object_set_new(eq, r->key, json_string(r->values[0]));
    }
    return eq;
}

bool st_label_map_matches(json_t *map, json_t *labels)
{
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
        if (!json_equal(v, json_object_get(labels, k)))
            return false;
    }
    return true;
}
