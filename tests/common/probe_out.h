/* probe_out.h: reading what confine-probe (tests/runtime/confine_probe.c)
 * printed, one line per attempt ("CHECK: OUTCOME", e.g. "mount: EPERM"),
 * and asserting on those lines. Shared by the confinement tests of the
 * runtime (containers of strata-run on the host) and of the agent (pods in
 * a node VM, their output read from `stratactl logs`). */
#ifndef STRATA_TEST_PROBE_OUT_H
#define STRATA_TEST_PROBE_OUT_H

/* The line of out that starts with "CHECK: " (without its newline, in a
 * static buffer), or "" when the probe printed none. */
const char *st_probe_line(const char *out, const char *check);
/* The probe said exactly "CHECK: want". */
void st_probe_expect_line(const char *out, const char *check, const char *want);
/* The probe's line for check contains want. */
void st_probe_expect_has(const char *out, const char *check, const char *want);
/* The probe's line for check is "CHECK: a" or "CHECK: b". */
void st_probe_expect_either(const char *out, const char *check, const char *a, const char *b);

#endif
