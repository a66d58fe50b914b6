/* test_image_process.c: the image config as Kubernetes applies it: the
 * four cases of command/args against Entrypoint/Cmd, Env under the pod's
 * env, WorkingDir under workingDir, and User (a name or uid[:gid] read in
 * the image's /etc/passwd and /etc/group) under securityContext. */
#include <errno.h>
#include <string.h>

#include "strata/image.h"
#include "testutil.h"

static const char PASSWD[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment\n"
                             "daemon:x:1:1::/:/bin/false\n"
                             "app:x:1000:1001:App:/home/app:/bin/sh\n"
                             "broken:x:nope:1::/:/bin/sh\n"
                             "last:x:77:78::/:/bin/sh"; /* no final newline */
static const char GROUP[] = "root:x:0:\n"
                            "staff:x:50:app\n"
                            "app:x:1001:\n";

static json_t *j(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        fail_msg("bad fixture JSON: %s (%s)", text, jerr.text);
    return v;
}

/* Runs st_image_process on two JSON texts; fails the test on an error. */
static json_t *run(const char *container, const char *config)
{
    json_t *c = j(container), *cfg = config ? j(config) : NULL, *p = NULL;
    st_error err = {0};
    if (st_image_process(c, cfg, PASSWD, GROUP, &p, &err) != 0)
        fail_msg("%s / %s: %s", container, config, err.msg);
    json_decref(c);
    json_decref(cfg);
    return p;
}

/* The process's member key, compactly dumped, compared to want. */
static void member_is(json_t *p, const char *key, const char *want)
{
    char *got = json_dumps(json_object_get(p, key), JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", key, got, want);
    free(got);
}

static void argv_is(const char *container, const char *config, const char *want)
{
    json_t *p = run(container, config);
    member_is(p, "args", want);
    json_decref(p);
}

#define IMG "{\"Entrypoint\":[\"/bin/ep\",\"-x\"],\"Cmd\":[\"c1\",\"c2\"]}"

static void test_four_cases(void **state)
{
    (void)state;
    /* command and args: both the pod's */
    argv_is("{\"command\":[\"/bin/sh\"],\"args\":[\"-c\",\"true\"]}", IMG,
            "[\"/bin/sh\",\"-c\",\"true\"]");
    /* command only: the image's Cmd is not appended */
    argv_is("{\"command\":[\"/bin/sh\"]}", IMG, "[\"/bin/sh\"]");
    /* args only: the image's Entrypoint with the pod's args */
    argv_is("{\"args\":[\"a\"]}", IMG, "[\"/bin/ep\",\"-x\",\"a\"]");
    /* neither: Entrypoint + Cmd */
    argv_is("{}", IMG, "[\"/bin/ep\",\"-x\",\"c1\",\"c2\"]");
    /* empty lists count as absent, as kubelet reads them; null in a config too */
    argv_is("{\"command\":[],\"args\":[]}", IMG, "[\"/bin/ep\",\"-x\",\"c1\",\"c2\"]");
    argv_is("{}", "{\"Entrypoint\":null,\"Cmd\":[\"/bin/sh\"]}", "[\"/bin/sh\"]");
    argv_is("{\"args\":[\"/bin/true\"]}", "{\"Cmd\":[\"/bin/sh\"]}", "[\"/bin/true\"]");
    /* no config at all */
    argv_is("{\"command\":[\"/bin/x\"]}", NULL, "[\"/bin/x\"]");
}

static void refused(const char *container, const char *config, const char *passwd, int code,
                    const char *words)
{
    json_t *c = j(container), *cfg = config ? j(config) : NULL, *p = NULL;
    st_error err = {0};
    assert_int_equal(st_image_process(c, cfg, passwd, GROUP, &p, &err), code);
    assert_null(p);
    if (strstr(err.msg, words) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.msg, words);
    json_decref(c);
    json_decref(cfg);
}

static void test_no_argv(void **state)
{
    (void)state;
    refused("{}", "{}", PASSWD, -EINVAL, "no Entrypoint or Cmd");
    refused("{\"args\":[]}", "{\"Env\":[]}", PASSWD, -EINVAL, "no Entrypoint or Cmd");
    refused("{\"command\":\"/bin/sh\"}", IMG, PASSWD, -EINVAL, "command must be a list");
    refused("{\"args\":[1]}", IMG, PASSWD, -EINVAL, "args[0] must be a string");
}

static void test_env(void **state)
{
    (void)state;
    json_t *p = run("{\"command\":[\"x\"],\"env\":[{\"name\":\"B\",\"value\":\"pod\"},"
                    "{\"name\":\"NEW\",\"value\":\"n\"},{\"name\":\"EMPTY\"}]}",
                    "{\"Env\":[\"PATH=/usr/bin:/bin\",\"B=image\",\"C=x=y\",\"UNSET\"]}");
    /* the pod's B replaces the image's where it stood; others append */
    member_is(p, "env", "[\"PATH=/usr/bin:/bin\",\"B=pod\",\"C=x=y\",\"NEW=n\",\"EMPTY=\"]");
    json_decref(p);
    p = run("{\"command\":[\"x\"]}", "{}");
    member_is(p, "env", "[]");
    json_decref(p);
    refused("{\"command\":[\"x\"],\"env\":[{\"value\":\"v\"}]}", "{}", PASSWD, -EINVAL,
            "env[0] has no valid name");
}

static void test_cwd(void **state)
{
    (void)state;
    json_t *p = run("{\"command\":[\"x\"]}", "{\"WorkingDir\":\"/srv\"}");
    member_is(p, "cwd", "\"/srv\"");
    json_decref(p);
    p = run("{\"command\":[\"x\"],\"workingDir\":\"/pod\"}", "{\"WorkingDir\":\"/srv\"}");
    member_is(p, "cwd", "\"/pod\"");
    json_decref(p);
    p = run("{\"command\":[\"x\"]}", "{\"WorkingDir\":\"\"}");
    member_is(p, "cwd", "\"/\"");
    json_decref(p);
    refused("{\"command\":[\"x\"],\"workingDir\":\"rel\"}", "{}", PASSWD, -EINVAL, "absolute path");
}

static void ids_are(const char *container, const char *user, long long uid, long long gid)
{
    char config[256];
    snprintf(config, sizeof(config), "{\"User\":\"%s\"}", user);
    json_t *p = run(container, config);
    if (json_integer_value(json_object_get(p, "uid")) != uid ||
        json_integer_value(json_object_get(p, "gid")) != gid)
        fail_msg("%s with User \"%s\": got %lld:%lld, want %lld:%lld", container, user,
                 (long long)json_integer_value(json_object_get(p, "uid")),
                 (long long)json_integer_value(json_object_get(p, "gid")), uid, gid);
    json_decref(p);
}

static void test_user(void **state)
{
    (void)state;
    const char *c = "{\"command\":[\"x\"]}";
    ids_are(c, "", 0, 0);
    ids_are(c, "app", 1000, 1001);  /* name: uid and primary group */
    ids_are(c, "last", 77, 78);     /* the last line, without a newline */
    ids_are(c, "1000", 1000, 1001); /* a listed uid takes its group */
    ids_are(c, "4242", 4242, 0);    /* an unlisted uid: group 0 */
    ids_are(c, "4242:7", 4242, 7);
    ids_are(c, "app:staff", 1000, 50);
    ids_are(c, "daemon:1001", 1, 1001);
    /* runAsUser replaces the image's User whole; runAsGroup only the group */
    ids_are("{\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":1000}}", "daemon:staff", 1000,
            1001);
    ids_are("{\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":5}}", "app", 5, 0);
    ids_are("{\"command\":[\"x\"],\"securityContext\":{\"runAsGroup\":9}}", "app", 1000, 9);
    ids_are("{\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":0,\"runAsGroup\":0}}", "app",
            0, 0);
    /* an unknown user only matters when the pod does not override it */
    ids_are("{\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":3}}", "nobody", 3, 0);

    refused(c, "{\"User\":\"nobody\"}", PASSWD, -EINVAL, "no user \"nobody\"");
    refused(c, "{\"User\":\"broken\"}", PASSWD, -EINVAL, "no user \"broken\"");
    refused(c, "{\"User\":\"app\"}", NULL, -EINVAL, "/etc/passwd");
    refused(c, "{\"User\":\"app:wheel\"}", PASSWD, -EINVAL, "no group \"wheel\"");
    refused(c, "{\"User\":\"app:\"}", PASSWD, -EINVAL, "no group");
    refused(c, "{\"User\":\"99999999999\"}", PASSWD, -EINVAL, "no user");
    refused("{\"command\":[\"x\"],\"securityContext\":{\"runAsUser\":-1}}", "{}", PASSWD, -EINVAL,
            "runAsUser");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_cases), cmocka_unit_test(test_no_argv),
        cmocka_unit_test(test_env),        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
