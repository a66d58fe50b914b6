/* fuzz.h: what the libFuzzer targets of tests/fuzz/ share. Each target is
 * one file fuzz_NAME.c with LLVMFuzzerTestOneInput; libFuzzer hands it bytes
 * that are not NUL-terminated and may hold NULs, while most of Strata's
 * parsers take C strings, so the input is copied first. A property that
 * fails (a round trip that changed an object) aborts with both sides
 * printed: libFuzzer then keeps the input as a crash, like a sanitizer
 * finding. */
#ifndef STRATA_FUZZ_H
#define STRATA_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data[0..size) and a NUL after it (NULs inside are kept). */
static inline char *st_fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits data at its first n-1 NUL bytes into n parts (each NUL-terminated
 * in buf, a copy the caller frees); parts past the end are NULL. Targets
 * whose entry point takes several inputs read them this way. */
static inline char *st_fuzz_split(const uint8_t *data, size_t size, char **parts, size_t n,
                                  size_t *lens)
{
    char *buf = st_fuzz_text(data, size);
    char *p = buf, *end = buf + size;
    for (size_t i = 0; i < n; i++) {
        if (p == NULL || p > end) {
            parts[i] = NULL;
            lens[i] = 0;
            continue;
        }
        parts[i] = p;
        char *nul = i + 1 < n ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        lens[i] = nul ? (size_t)(nul - p) : (size_t)(end - p);
        p = nul ? nul + 1 : NULL;
    }
    return buf;
}

/* A property failed: say what and how, then abort so libFuzzer saves the
 * input. */
__attribute__((noreturn)) static inline void st_fuzz_fail(const char *what, json_t *a, json_t *b)
{
    fprintf(stderr, "fuzz property failed: %s\n", what);
    if (a) {
        fputs("--- first:\n", stderr);
        json_dumpf(a, stderr, JSON_INDENT(2) | JSON_ENCODE_ANY);
        fputc('\n', stderr);
    }
    if (b) {
        fputs("--- second:\n", stderr);
        json_dumpf(b, stderr, JSON_INDENT(2) | JSON_ENCODE_ANY);
        fputc('\n', stderr);
    }
    abort();
}

#endif
