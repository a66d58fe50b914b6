/* test_seccomp.c: the profile builder (runtime/seccomp.c) without loading
 * anything: good profiles compile, every bad field is refused with an error
 * naming it, and the built-in default profile parses. */
#include "testutil.h"
#include "strata/seccomp.h"

#include <errno.h>
#include <string.h>

#define WHERE "bundle/config.json: linux.seccomp"

/* Builds a profile given as JSON text; returns what st_seccomp_build did and
 * the instruction count when it succeeded. */
static int build_text(const char *text, st_error *err, size_t *insns)
{
    json_error_t jerr;
    json_t *spec = json_loads(text, 0, &jerr);
    if (spec == NULL)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    struct st_seccomp *s = NULL;
    int r = st_seccomp_build(spec, WHERE, &s, err);
    json_decref(spec);
    if (insns)
        *insns = st_seccomp_insn_count(s);
    if (r == 0)
        assert_non_null(s);
    else
        assert_null(s);
    st_seccomp_free(s);
    return r;
}

/* Asserts the profile fails with code and a message containing want. */
static void expect_error(const char *text, int code, const char *want)
{
    st_error err = {0};
    int r = build_text(text, &err, NULL);
    if (r != -code || strstr(err.msg, want) == NULL)
        fail_msg("expected %d with \"%s\", got %d: \"%s\"\n  profile: %s", -code, want, r, err.msg,
                 text);
}

static void test_good_profile_builds(void **state)
{
    (void)state;
    st_error err = {0};
    size_t n = 0;
    int r =
        build_text("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
                   " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"
                   " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
                   " \"listenerPath\": \"\", \"someFutureField\": {\"x\": 1},"
                   " \"syscalls\": ["
                   "  {\"names\": [\"read\", \"write\", \"exit_group\"], \"action\": "
                   "\"SCMP_ACT_ALLOW\"},"
                   "  {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
                   "  {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_TRACE\"},"
                   "  {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": ["
                   "    {\"index\": 0, \"value\": 8, \"op\": \"SCMP_CMP_EQ\"},"
                   "    {\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]},"
                   "  {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_KILL_PROCESS\", \"args\": ["
                   "    {\"index\": 0, \"value\": 268435456, \"valueTwo\": 268435456,"
                   "     \"op\": \"SCMP_CMP_MASKED_EQ\"},"
                   "    {\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_NE\"}]},"
                   "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_LOG\"},"
                   "  {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_TRAP\"},"
                   "  {\"names\": [\"tkill\"], \"action\": \"SCMP_ACT_KILL_THREAD\"},"
                   "  {\"names\": [\"tgkill\"], \"action\": \"SCMP_ACT_KILL\"}]}",
                   &err, &n);
    if (r != 0)
        fail_msg("good profile refused: %s", err.msg);
    assert_true(n > 10);
}

static void test_minimal_profile_builds(void **state)
{
    (void)state;
    st_error err = {0};
    size_t n = 0;
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", &err, &n), 0);
    assert_true(n > 0);
}

/* socketcall exists on x86 but not x86_64: silently skipped natively, and
 * compiled into the x86 part when that arch is listed. */
static void test_syscall_of_other_arch_skipped(void **state)
{
    (void)state;
    st_error err = {0};
    size_t with = 0, without = 0;
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                                " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"]}",
                                &err, &without),
                     0);
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                                " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"
                                " \"syscalls\": [{\"names\": [\"socketcall\", \"vm86old\"],"
                                " \"action\": \"SCMP_ACT_ERRNO\"}]}",
                                &err, &with),
                     0);
    assert_true(with > without);
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                                " \"syscalls\": [{\"names\": [\"socketcall\"],"
                                " \"action\": \"SCMP_ACT_ERRNO\"}]}",
                                &err, NULL),
                     0);
    assert_int_equal(err.code, 0);
}

/* A rule repeating the default action is dropped (libseccomp refuses it). */
static void test_rule_equal_to_default_skipped(void **state)
{
    (void)state;
    st_error err = {0};
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                                " {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                                " {\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                                &err, NULL),
                     0);
    /* a different errno is a different action, so it is kept */
    size_t n1 = 0, n2 = 0;
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                                " {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                                &err, &n1),
                     0);
    assert_int_equal(build_text("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
                                " {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\","
                                " \"errnoRet\": 13}]}",
                                &err, &n2),
                     0);
    assert_true(n2 > n1);
}

static void test_default_profile_builds(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_seccomp *s = NULL;
    int r = st_seccomp_build_default(&s, &err);
    if (r != 0)
        fail_msg("default profile: %s", err.msg);
    assert_non_null(s);
    assert_true(st_seccomp_insn_count(s) > 20);
    print_message("default profile: %zu BPF instructions\n", st_seccomp_insn_count(s));
    st_seccomp_free(s);
}

/* The same spec again is the last program handed out as a copy (no
 * compile); a different spec is compiled, never the cached one; each copy
 * is the caller's own to free. */
static void test_same_spec_reuses_program(void **state)
{
    (void)state;
    static const char *const a =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"chroot\"], "
        "\"action\": \"SCMP_ACT_ERRNO\"}]}";
    static const char *const b =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"chroot\", "
        "\"mount\", \"umount2\", \"pivot_root\"], \"action\": \"SCMP_ACT_ERRNO\"}]}";
    st_error err = {0};
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    assert_int_equal(build_text(a, &err, &n1), 0);
    assert_int_equal(build_text(a, &err, &n2), 0);
    assert_int_equal(build_text(b, &err, &n3), 0);
    assert_int_equal(build_text(a, &err, &n4), 0);
    assert_true(n1 > 0);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n4);
    assert_true(n3 > n1);
    /* a bad spec after a good one is still refused, with its own error */
    expect_error("{\"defaultAction\": \"SCMP_ACT_NOPE\"}", EINVAL, "SCMP_ACT_NOPE");
}

/* The on-disk file and the compiled-in copy are the same profile. */
static void test_default_profile_file_builds(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/configs/seccomp/default.json",
             st_test_env("STRATA_SOURCE_DIR"));
    json_error_t jerr;
    json_t *spec = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (spec == NULL)
        fail_msg("%s: line %d: %s", path, jerr.line, jerr.text);
    st_error err = {0};
    struct st_seccomp *a = NULL, *b = NULL;
    int ra = st_seccomp_build(spec, path, &a, &err);
    /* the JSON handed to in-memory configs is the file, too */
    json_t *mem = NULL;
    assert_int_equal(st_seccomp_default_spec(&mem, &err), 0);
    assert_true(json_equal(mem, spec));
    json_decref(mem);
    json_decref(spec);
    int rb = st_seccomp_build_default(&b, &err);
    size_t na = st_seccomp_insn_count(a), nb = st_seccomp_insn_count(b);
    st_seccomp_free(a);
    st_seccomp_free(b);
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
    assert_int_equal(na, nb);
}

static void test_error_not_an_object(void **state)
{
    (void)state;
    expect_error("[1]", EINVAL, WHERE ": expected an object, got an array");
    st_error err = {0};
    struct st_seccomp *s = (struct st_seccomp *)&err; /* must be reset */
    assert_int_equal(st_seccomp_build(NULL, WHERE, &s, &err), -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, WHERE));
}

static void test_error_bad_types(void **state)
{
    (void)state;
    expect_error("{}", EINVAL, WHERE ".defaultAction: missing");
    expect_error("{\"defaultAction\": 3}", EINVAL,
                 WHERE ".defaultAction: expected an action name such as \"SCMP_ACT_ERRNO\", got an "
                       "integer");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}", EINVAL,
                 WHERE ".syscalls: expected an array");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [\"mkdir\"]}", EINVAL,
                 WHERE ".syscalls[0]: expected an object");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\"}]}",
                 EINVAL,
                 WHERE ".syscalls[0].names: expected an array of syscall names, got a string");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                 EINVAL, WHERE ".syscalls[0].names: empty");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [\"mkdir\", 7], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                 EINVAL, WHERE ".syscalls[0].names[1]: expected a syscall name, got an integer");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [\"mkdir\"]}]}",
                 EINVAL, WHERE ".syscalls[0].action: missing");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": \"SCMP_ARCH_X86\"}",
                 EINVAL, WHERE ".architectures: expected an array");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": \"0\", \"value\": 1,"
                 " \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 EINVAL,
                 WHERE ".syscalls[0].args[0].index: expected a non-negative integer, got a "
                       "string");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"op\": "
                 "\"SCMP_CMP_EQ\"}]}]}",
                 EINVAL, WHERE ".syscalls[0].args[0].value: missing");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": -1,"
                 " \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 ERANGE, WHERE ".syscalls[0].args[0].value: -1 is out of range");
}

static void test_error_unknown_action(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOPE\"}]}",
                 EINVAL,
                 WHERE ".syscalls[0].action: unknown action \"SCMP_ACT_NOPE\" (expected one of "
                       "SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS,");
    expect_error("{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", EINVAL,
                 WHERE ".defaultAction: unknown action \"SCMP_ACT_NOTIFY\"");
}

static void test_error_errno_ret(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}", EINVAL,
                 WHERE ".defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 5000}]}",
                 ERANGE, WHERE ".syscalls[0].errnoRet: 5000 is out of range (0-4095)");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                 "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": \"1\"}]}",
                 EINVAL, WHERE ".syscalls[0].errnoRet: expected a non-negative integer");
}

static void test_error_unknown_syscall(void **state)
{
    (void)state;
    st_error err = {0};
    int r = build_text("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                       "{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                       "{\"names\": [\"write\"], \"action\": \"SCMP_ACT_ERRNO\"},"
                       "{\"names\": [\"mkdirz\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                       &err, NULL);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, "bundle/config.json: linux.seccomp.syscalls[2].names[0]: unknown "
                                 "syscall \"mkdirz\"");
}

static void test_error_bad_op(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1},"
                 " {\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_LIKE\"}]}]}",
                 EINVAL, WHERE ".syscalls[0].args[0].op: missing");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
                 " {\"index\": 1, \"value\": 1, \"op\": \"SCMP_CMP_LIKE\"}]}]}",
                 EINVAL,
                 WHERE ".syscalls[0].args[0].op: unknown operator \"SCMP_CMP_LIKE\" (expected one "
                       "of SCMP_CMP_NE,");
}

static void test_error_arg_index(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"rmdir\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": ["
                 " {\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 ERANGE, WHERE ".syscalls[1].args[0].index: 6 is out of range (0-5)");
}

static void test_error_bad_arch(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                 " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_VAX\"]}",
                 EINVAL,
                 WHERE ".architectures[1]: unknown architecture \"SCMP_ARCH_VAX\" (expected one of "
                       "SCMP_ARCH_X86,");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [64]}", EINVAL,
                 WHERE ".architectures[0]: expected an architecture name");
}

static void test_error_flags_and_listener(void **state)
{
    (void)state;
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                 " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
                 EINVAL,
                 WHERE ".flags[1]: unsupported flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\" "
                       "(supported: SECCOMP_FILTER_FLAG_TSYNC,");
    expect_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/x.sock\"}",
                 ENOTSUP, WHERE ".listenerPath: seccomp notify listeners are not supported");
}

static void test_where_defaults_and_free_null(void **state)
{
    (void)state;
    st_error err = {0};
    struct st_seccomp *s = NULL;
    json_t *spec = json_pack("{s:s}", "defaultAction", "SCMP_ACT_BOGUS");
    assert_int_equal(st_seccomp_build(spec, NULL, &s, &err), -EINVAL);
    json_decref(spec);
    assert_null(s);
    assert_non_null(strstr(err.msg, "linux.seccomp.defaultAction: unknown action"));
    st_seccomp_free(NULL);
    assert_int_equal(st_seccomp_insn_count(NULL), 0);
    st_error_clear(&err);
    assert_int_equal(st_seccomp_load(NULL, &err), -EINVAL);
    assert_int_equal(err.code, EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_profile_builds),
        cmocka_unit_test(test_minimal_profile_builds),
        cmocka_unit_test(test_syscall_of_other_arch_skipped),
        cmocka_unit_test(test_rule_equal_to_default_skipped),
        cmocka_unit_test(test_default_profile_builds),
        cmocka_unit_test(test_same_spec_reuses_program),
        cmocka_unit_test(test_default_profile_file_builds),
        cmocka_unit_test(test_error_not_an_object),
        cmocka_unit_test(test_error_bad_types),
        cmocka_unit_test(test_error_unknown_action),
        cmocka_unit_test(test_error_errno_ret),
        cmocka_unit_test(test_error_unknown_syscall),
        cmocka_unit_test(test_error_bad_op),
        cmocka_unit_test(test_error_arg_index),
        cmocka_unit_test(test_error_bad_arch),
        cmocka_unit_test(test_error_flags_and_listener),
        cmocka_unit_test(test_where_defaults_and_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
