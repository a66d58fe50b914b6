/* label_selector.h: Kubernetes label selectors ("app=web,tier!=db",
 * "env in (prod,staging)", "release notin (canary)", "gpu", "!legacy"),
 * parsed once and matched against metadata.labels. stratad filters lists
 * and watches with it (?labelSelector=), the store with the same rules, and
 * stratactl checks -l before it asks, so all three agree on what a
 * selector means. Also what a label key and value may be. */
#ifndef STRATA_LABEL_SELECTOR_H
#define STRATA_LABEL_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

typedef enum st_label_op {
    ST_LABEL_EQ,         /* key=value, key==value */
    ST_LABEL_NEQ,        /* key!=value: also true when the label is missing */
    ST_LABEL_IN,         /* key in (a,b) */
    ST_LABEL_NOTIN,      /* key notin (a,b): also true when the label is missing */
    ST_LABEL_EXISTS,     /* key */
    ST_LABEL_NOT_EXISTS, /* !key */
} st_label_op;

typedef struct st_label_req {
    char *key;
    st_label_op op;
    char **values; /* EQ/NEQ: one; IN/NOTIN: one or more; else none */
    size_t nvalues;
} st_label_req;

/* Every requirement must hold (the comma is AND); no requirement: any. */
typedef struct st_label_selector {
    st_label_req *reqs;
    size_t n;
} st_label_selector;

/* Parses text (NULL or "": matches everything). -EINVAL with a message that
 * quotes the selector and says what is wrong and how to write it. */
int st_label_selector_parse(const char *text, st_label_selector **out, st_error *err);
void st_label_selector_free(st_label_selector *s);

/* Whether labels (a JSON object of strings; NULL: no labels) satisfy s. */
bool st_label_selector_matches(const st_label_selector *s, json_t *labels);

/* Whether labels carry every key=value of map (a Service's spec.selector,
 * a JSON object of strings); an empty map matches everything. */
bool st_label_map_matches(json_t *map, json_t *labels);

/* The key=value pairs any match must carry (=, ==, and in with one value),
 * as a new JSON object: lets a store narrow with an index first. */
json_t *st_label_selector_equalities(const st_label_selector *s);

/* Kubernetes' rules: a key is [DNS-subdomain prefix/]name, name and value
 * ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] at most 63 (a value may be "").
 * DNS names themselves are strata/names.h's. */
bool st_label_key_ok(const char *key);
bool st_label_value_ok(const char *value, size_t len);

#endif
