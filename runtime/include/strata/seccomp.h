/* seccomp.h: turns an OCI `linux.seccomp` object into a compiled BPF filter
 * (through libseccomp) in the parent, and loads it in the container's process
 * as the last step before execve. Building never touches the calling process;
 * loading allocates nothing and never sets no_new_privs on its own. */
#ifndef STRATA_SECCOMP_H
#define STRATA_SECCOMP_H

#include <stddef.h>
#include <jansson.h>
#include "strata/error.h"

struct st_seccomp; /* opaque: a compiled filter ready to load */

/* spec: an OCI runtime-spec `linux.seccomp` object:
 *   defaultAction (required), defaultErrnoRet, architectures[] (SCMP_ARCH_X86_64,
 *   SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, ...; the native arch is
 *   always included), flags[] (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW,
 *   passed to seccomp(2) at load), syscalls[] {names[], action, errnoRet,
 *   args[] {index, value, valueTwo, op}}.
 * Actions: SCMP_ACT_KILL (= KILL_THREAD), SCMP_ACT_KILL_PROCESS,
 *   SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE,
 *   SCMP_ACT_ALLOW, SCMP_ACT_LOG. SCMP_ACT_NOTIFY is refused (no listener).
 * errnoRet (ERRNO and TRACE only) defaults to EPERM.
 * Ops: SCMP_CMP_NE/LT/LE/EQ/GE/GT/MASKED_EQ; for MASKED_EQ `value` is the mask
 *   and `valueTwo` the expected result. The conditions of one entry must all
 *   hold, except when two of them test the same argument (libseccomp refuses
 *   that in one rule): then, as runc does, each condition of that entry becomes
 *   a rule of its own and any one matching applies the action.
 * Like runc: a rule whose action equals the default action is skipped, and a
 *   syscall name libseccomp knows but the native arch lacks (socketcall on
 *   x86_64) only applies to the other listed architectures.
 * Unknown properties are ignored (OCI); every bad field fails with an error
 *   prefixed by `where` (e.g. "bundle/config.json: linux.seccomp") naming the
 *   field: "...: linux.seccomp.syscalls[2].names[0]: unknown syscall \"mkdirz\"".
 * Build in the parent, before fork: a bad profile fails before anything is
 * created. */
int st_seccomp_build(json_t *spec, const char *where, struct st_seccomp **out, st_error *err);

/* RuntimeDefault: the compiled-in copy of configs/seccomp/default.json (what
 * it denies and why: configs/seccomp/README.md). */
int st_seccomp_build_default(struct st_seccomp **out, st_error *err);

/* The same RuntimeDefault profile as an OCI `linux.seccomp` object (a new
 * reference), for configs built in memory (strata-node's pods). */
int st_seccomp_default_spec(json_t **out, st_error *err);

/* In the container's process, the last step before execve (after capabilities
 * and no_new_privs). The kernel requires no_new_privs or CAP_SYS_ADMIN: EACCES
 * otherwise. Safe after fork in a multi-threaded parent (no allocation). */
int st_seccomp_load(struct st_seccomp *s, st_error *err);

/* NULL is fine. */
void st_seccomp_free(struct st_seccomp *s);

/* The names st_seccomp_build accepts, read from its own tables (for
 * `strata-run features`): the i-th of one kind, NULL past the end. */
enum st_seccomp_names {
    ST_SECCOMP_ACTIONS,
    ST_SECCOMP_OPERATORS,
    ST_SECCOMP_ARCHS,
    ST_SECCOMP_FLAGS,
};
const char *st_seccomp_known_name(enum st_seccomp_names which, size_t i);

/* The number of BPF instructions of the compiled filter (for tests and
 * benchmarks: each syscall a container makes runs through them). */
size_t st_seccomp_insn_count(const struct st_seccomp *s);

#endif
