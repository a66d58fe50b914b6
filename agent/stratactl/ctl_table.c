/* ctl_table.c: kubectl's plain columns through libsmartcols: no borders,
 * three spaces between columns, every column at least six wide with its
 * separator (kubectl's tabwriter: minwidth 6, padding 3), nothing after the
 * last non-empty cell, widths by display width. A watch adds rows after a
 * write: the widths already used are kept as each column's minimum (hint),
 * so later rows stay under the header and a column only ever grows.
 * libsmartcols measures and escapes text by the C library's LC_CTYPE; we
 * print under C.UTF-8, so a name or message in UTF-8 is measured in
 * columns (not bytes) and printed as is, whatever the caller's locale. */
#include "ctl_format_priv.h"

#include <errno.h>
#include <libsmartcols/libsmartcols.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "strata/cleanup.h"

/* Each column's own width without the separator: 3, so that with the
 * three-space separator a column takes at least six. */
#define MIN_WIDTH 3

int stctl_fmt_table_new(size_t ncols, const char *const *headers, stctl_fmt_table **out,
                        st_error *err)
{
    *out = NULL;
    if (ncols == 0)
        return st_error_set(err, EINVAL, "a table needs at least one column");
    stctl_fmt_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    t->ncols = ncols;
    t->headers = headers != NULL;
    t->widths = calloc(ncols, sizeof(*t->widths));
    t->tb = scols_new_table();
    if (t->widths == NULL || t->tb == NULL) {
        stctl_fmt_table_free(t);
        return st_error_set(err, ENOMEM, "out of memory");
    }
    scols_table_set_column_separator(t->tb, "   ");
    scols_table_enable_minout(t->tb, 1);
    /* Never shrink or wrap to a terminal's width: kubectl lets lines wrap. */
    scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_NEVER);
    for (size_t i = 0; i < ncols; i++) {
        if (scols_table_new_column(t->tb, headers ? headers[i] : "", MIN_WIDTH, 0) == NULL) {
            stctl_fmt_table_free(t);
            return st_error_set(err, ENOMEM, "out of memory");
        }
    }
    *out = t;
    return 0;
}

void stctl_fmt_table_free(stctl_fmt_table *t)
{
    if (t == NULL)
        return;
    scols_unref_table(t->tb);
    free(t->widths);
    free(t);
}

void stctl_fmt_table_set_indent(stctl_fmt_table *t, int indent)
{
    t->indent = indent < 0 ? 0 : indent;
}

void stctl_fmt_table_set_no_headers(stctl_fmt_table *t, bool no_headers)
{
    t->no_headers = no_headers;
    /* libsmartcols sizes columns by their titles too: without a header
     * line, cells alone decide, as in kubectl --no-headers. */
    for (size_t i = 0; no_headers && i < t->ncols; i++)
        scols_column_set_name(scols_table_get_column(t->tb, i), "");
}

int stctl_fmt_table_add(stctl_fmt_table *t, const char *const *cells, st_error *err)
{
    struct libscols_line *ln = scols_table_new_line(t->tb, NULL);
    if (ln == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    t->nrows++;
    for (size_t i = 0; i < t->ncols; i++) {
        char *c = strdup(cells && cells[i] ? cells[i] : "");
        if (c == NULL)
            return st_error_set(err, ENOMEM, "out of memory");
        /* A row stays one line. */
        for (char *p = c; *p; p++)
            if (*p == '\n' || *p == '\t' || *p == '\r')
                *p = ' ';
        if (scols_line_refer_data(ln, i, c) < 0) {
            free(c);
            return st_error_set(err, ENOMEM, "out of memory");
        }
    }
    return 0;
}

size_t stctl_fmt_table_rows(const stctl_fmt_table *t)
{
    return t->nrows;
}

/* Prints lines [written, nrows) to a string, under C.UTF-8 when the C
 * library has it (glibc since 2.35 always does). */
static int print_new_rows(stctl_fmt_table *t, char **text, st_error *err)
{
    bool header = t->headers && !t->no_headers && !t->header_written;
    scols_table_enable_noheadings(t->tb, !header);
    for (size_t i = 0; i < t->ncols; i++)
        scols_column_set_whint(scols_table_get_column(t->tb, i),
                               (double)(t->widths[i] > MIN_WIDTH ? t->widths[i] : MIN_WIDTH));
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t old = utf8 != (locale_t)0 ? uselocale(utf8) : (locale_t)0;
    int r = scols_table_print_range_to_string(t->tb, scols_table_get_line(t->tb, t->written), NULL,
                                              text);
    if (utf8 != (locale_t)0) {
        uselocale(old);
        freelocale(utf8);
    }
    if (r < 0 || *text == NULL)
        return st_error_set(err, r < 0 ? -r : ENOMEM, "cannot lay out the table");
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w = scols_column_get_width(scols_table_get_column(t->tb, i));
        if (w > t->widths[i])
            t->widths[i] = w;
    }
    return 0;
}

int stctl_fmt_table_write(FILE *out, stctl_fmt_table *t, st_error *err)
{
    if (t->nrows == t->written)
        return 0;
    _cleanup_free_ char *text = NULL;
    int r = print_new_rows(t, &text, err);
    if (r < 0)
        return r;
    t->header_written = true;
    t->written = t->nrows;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        fprintf(out, "%*s%.*s\n", t->indent, "", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    if (ferror(out))
        return st_error_sys(err, errno ? errno : EIO, "cannot write the table");
    return 0;
}
