/* probe_out.c: see probe_out.h. A failed expectation shows all the probe
 * printed, so the one run explains itself. */
#include "probe_out.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

const char *st_probe_line(const char *out, const char *check)
{
    static char line[4096];
    size_t n = strlen(check);
    for (const char *p = out; p && *p;) {
        const char *end = strchrnul(p, '\n');
        if (strncmp(p, check, n) == 0 && p[n] == ':' && p[n + 1] == ' ') {
            snprintf(line, sizeof(line), "%.*s", (int)(end - p), p);
            return line;
        }
        p = *end ? end + 1 : end;
    }
    return "";
}

void st_probe_expect_line(const char *out, const char *check, const char *want)
{
    char full[4096];
    snprintf(full, sizeof(full), "%s: %s", check, want);
    const char *got = st_probe_line(out, check);
    if (strcmp(got, full) != 0)
        fail_msg("expected \"%s\", the probe said \"%s\" (all of it:\n%s)", full, got, out);
}

void st_probe_expect_has(const char *out, const char *check, const char *want)
{
    const char *got = st_probe_line(out, check);
    if (strstr(got, want) == NULL)
        fail_msg("expected \"%s\" in the probe's \"%s\" line, got \"%s\" (all of it:\n%s)", want,
                 check, got, out);
}

void st_probe_expect_either(const char *out, const char *check, const char *a, const char *b)
{
    const char *got = st_probe_line(out, check);
    const char *v = strlen(got) > strlen(check) + 2 ? got + strlen(check) + 2 : "";
    if (strcmp(v, a) != 0 && strcmp(v, b) != 0)
        fail_msg("expected \"%s: %s\" or \"%s\", the probe said \"%s\" (all of it:\n%s)", check, a,
                 b, got, out);
}
