/* ctl_format_fixture.h: what stratactl's output tests share: JSON fixtures
 * read or failed on, a table or describe view rendered to a string at one
 * fixed clock, and a check for a whole line. Header-only (static inline),
 * as each test file is its own program. */
#ifndef STRATA_TEST_CTL_FORMAT_FIXTURE_H
#define STRATA_TEST_CTL_FORMAT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_format.h"
#include "testutil.h"

/* 2024-05-01T12:00:00Z: the clock every age is measured against. */
#define NOW ((time_t)1714564800)

static inline json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        fail_msg("bad fixture JSON (%s): %s", jerr.text, text);
    return v;
}

/* The whole table (every row added since the last write) as text. */
static inline char *write_table(stctl_fmt_table *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    st_error err = {0};
    assert_int_equal(stctl_fmt_table_write(f, t, &err), 0);
    fclose(f);
    return text;
}

/* objects (a JSON array text) as the table of kind word, laid out as cols
 * says, with or without the header line. */
static inline char *kind_table_with(const char *word, const struct stctl_fmt_columns *cols,
                                    bool no_headers, const char *objects)
{
    const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(word);
    assert_non_null(k);
    stctl_fmt_table *t = NULL;
    st_error err = {0};
    assert_int_equal(stctl_fmt_table_for_kind(k, cols, &t, &err), 0);
    stctl_fmt_table_set_no_headers(t, no_headers);
    json_t *arr = load(objects);
    size_t i;
    json_t *obj;
    json_array_foreach(arr, i, obj)
    {
        assert_int_equal(stctl_fmt_table_add_object(t, obj, NOW, &err), 0);
    }
    char *text = write_table(t);
    stctl_fmt_table_free(t);
    json_decref(arr);
    return text;
}

static inline char *kind_table(const char *word, bool wide, const char *objects)
{
    struct stctl_fmt_columns cols = {.wide = wide};
    return kind_table_with(word, &cols, false, objects);
}

/* describe of object (kind word) with what is related to it, each a JSON
 * text or NULL (not read): events, pods (nodes), endpoints (services). */
static inline char *describe_related(const char *word, const char *object, const char *events,
                                     const char *pods, const char *endpoints)
{
    const struct stctl_fmt_kind *k = stctl_fmt_kind_lookup(word);
    assert_non_null(k);
    json_t *obj = load(object);
    struct stctl_fmt_related rel = {.events = events ? load(events) : NULL,
                                    .pods = pods ? load(pods) : NULL,
                                    .endpoints = endpoints ? load(endpoints) : NULL};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    st_error err = {0};
    assert_int_equal(stctl_fmt_describe(f, k, obj, &rel, NOW, &err), 0);
    fclose(f);
    json_decref(obj);
    json_decref(rel.events);
    json_decref(rel.pods);
    json_decref(rel.endpoints);
    return text;
}

static inline void assert_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("line not found: \"%s\"\n--- in ---\n%s", line, text);
}

#endif
