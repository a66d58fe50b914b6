/* test_image_ref.c: image references read as Kubernetes reads `image:`
 * (local names, registry hosts with ports, tags, digests, "latest" by
 * default), the errors a person sees for one that is not a reference, and
 * the store's name for each (which parses back to the same reference). */
#include <errno.h>
#include <string.h>

#include "strata/image.h"
#include "testutil.h"

static struct st_image_ref parse_ok(const char *text)
{
    struct st_image_ref ref;
    st_error err = {0};
    if (st_image_ref_parse(text, &ref, &err) != 0)
        fail_msg("\"%s\" did not parse: %s", text, err.msg);
    return ref;
}

static void expect(const char *text, const char *host, const char *path, const char *tag,
                   const char *digest, const char *formatted)
{
    struct st_image_ref ref = parse_ok(text);
    assert_string_equal(ref.host, host);
    assert_string_equal(ref.path, path);
    assert_string_equal(ref.tag, tag);
    assert_string_equal(ref.digest, digest);
    char out[512];
    st_image_ref_format(&ref, out, sizeof(out));
    assert_string_equal(out, formatted);
    /* the store's name reads back as the same reference */
    struct st_image_ref again = parse_ok(out);
    assert_memory_equal(&again, &ref, sizeof(ref));
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_local(void **state)
{
    (void)state;
    expect("busybox", "", "busybox", "latest", "", "busybox:latest");
    expect("quote:1.0", "", "quote", "1.0", "", "quote:1.0");
    expect("library/busybox:v1_2-x", "", "library/busybox", "v1_2-x", "", "library/busybox:v1_2-x");
    expect("ab__x-y/c.d-e--f:T", "", "ab__x-y/c.d-e--f", "T", "", "ab__x-y/c.d-e--f:T");
}

static void test_registry(void **state)
{
    (void)state;
    expect("127.0.0.1:5000/busybox:1", "127.0.0.1:5000", "busybox", "1", "",
           "127.0.0.1:5000/busybox:1");
    expect("localhost/x", "localhost", "x", "latest", "", "localhost/x:latest");
    expect("localhost:5000/a/b", "localhost:5000", "a/b", "latest", "",
           "localhost:5000/a/b:latest");
    expect("registry.example/team/app:2", "registry.example", "team/app", "2", "",
           "registry.example/team/app:2");
    expect("[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y");
    /* a first component without '.', ':' or localhost is part of the name */
    expect("team/app", "", "team/app", "latest", "", "team/app:latest");
}

static void test_digest(void **state)
{
    (void)state;
    /* a digest alone means no tag, not latest */
    expect("127.0.0.1:5000/busybox@" D, "127.0.0.1:5000", "busybox", "", D,
           "127.0.0.1:5000/busybox@" D);
    expect("quote:1@" D, "", "quote", "1", D, "quote:1@" D);
}

static void refuse(const char *text, const char *words)
{
    struct st_image_ref ref;
    st_error err = {0};
    assert_int_equal(st_image_ref_parse(text, &ref, &err), -EINVAL);
    if (strstr(err.msg, words) == NULL)
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", text, err.msg, words);
}

static void test_refused(void **state)
{
    (void)state;
    refuse("", "empty");
    refuse("Busybox", "lowercase");
    refuse("busybox:", "tag");
    refuse("busybox:-x", "tag");
    refuse("a//b", "name");
    refuse("a..b", "name");
    refuse("a___b", "name");
    refuse("-a", "name");
    refuse("127.0.0.1:50x0/busybox", "HOST[:PORT]");
    refuse("bad_host.io/x", "HOST[:PORT]");
    refuse("127.0.0.1:5000/", "name");
    refuse("busybox@sha256:abc", "digest");
    refuse("busybox@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           "digest");
    refuse("busybox@"
           "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
           "digest");
    char tag[200] = "x:";
    memset(tag + 2, 'a', 150);
    tag[152] = '\0';
    refuse(tag, "tag");
    char path[300];
    memset(path, 'a', 299);
    path[299] = '\0';
    refuse(path, "longer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
