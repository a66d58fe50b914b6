/* manifest_fx.h: what the manifest tests share (header-only, as each test
 * is its own program): a manifest text read that must succeed, and one
 * that must fail with a given FILE:LINE:COL message. The file is always
 * "t.yaml". */
#ifndef STRATA_TEST_MANIFEST_FX_H
#define STRATA_TEST_MANIFEST_FX_H

#include <errno.h>
#include <string.h>

#include "strata/manifest.h"
#include "testutil.h"

static inline json_t *parse_ok(const char *text, struct st_manifest_diag **diags)
{
    json_t *objects = NULL;
    st_error err = {0};
    int r = st_manifest_parse_string("t.yaml", text, strlen(text), &objects, diags, &err);
    if (r != 0)
        fail_msg("expected success, got %d: %s", r, err.msg);
    return objects;
}

/* The first error must start with want (FILE:LINE:COL: message). */
static inline void expect_error(const char *text, const char *want)
{
    json_t *objects = NULL;
    st_error err = {0};
    int r = st_manifest_parse_string("t.yaml", text, strlen(text), &objects, NULL, &err);
    assert_int_equal(r, -EINVAL);
    assert_null(objects);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("expected \"%s...\", got \"%s\"", want, err.msg);
}

#endif
