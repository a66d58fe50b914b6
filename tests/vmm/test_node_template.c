/* test_node_template.c: the pure half of node templates without libvirt:
 * the key changes with every input it covers, save files built by hand
 * are accepted or refused (missing, unfinished, truncated, foreign, not
 * libvirt's), a clone's XML names the new node, and the rewrite keeps the
 * file a save libvirt can read. */
#include "testutil.h"

#include "strata/node_template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const char *saved_xml =
    "<domain type='qemu'>\n"
    "  <name>strata-tmpl-aaaaaaaaaaaa</name>\n"
    "  <uuid>7b505419-be43-4ab9-9131-5ec534b785c9</uuid>\n"
    "  <metadata>\n"
    "    <strata:node xmlns:strata=\"https://strata.dev/xmlns/node/1\">\n"
    "      <strata:name>tmpl-aaaaaaaaaaaa</strata:name>\n"
    "      <strata:accel>tcg</strata:accel>\n"
    "      <strata:created>2026-12-01T10:00:00Z</strata:created>\n"
    "      <strata:stateDir>/var/lib/strata/templates</strata:stateDir>\n"
    "      <strata:template>" KEY_A "</strata:template>\n"
    "    </strata:node>\n"
    "  </metadata>\n"
    "  <devices>\n"
    "    <channel type='unix'><source mode='bind' "
    "path='/var/lib/strata/templates/tmpl-aaaaaaaaaaaa.sock'/>"
    "<target type='virtio' name='org.strata.node.0'/></channel>\n"
    "    <channel type='unix'><source mode='bind' "
    "path='/var/lib/strata/templates/tmpl-aaaaaaaaaaaa.data.sock'/>"
    "<target type='virtio' name='org.strata.data.0'/></channel>\n"
    "    <serial type='file'><source "
    "path='/var/lib/strata/templates/tmpl-aaaaaaaaaaaa.console.log'/>"
    "<target port='0'/></serial>\n"
    "    <console type='file'><source "
    "path='/var/lib/strata/templates/tmpl-aaaaaaaaaaaa.console.log'/>"
    "<target type='serial' port='0'/></console>\n"
    "  </devices>\n"
    "</domain>\n";

typedef struct fx {
    char *dir;
    char *save, *done;
    st_template_ident id;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->dir = st_test_mkdtemp("strata-tmpl");
    assert_int_equal(st_template_paths(f->dir, KEY_A, &f->save, &f->done, NULL), 0);
    f->id = (st_template_ident){.memory_mib = 192,
                                .vcpus = 1,
                                .accel = ST_ACCEL_TCG,
                                .qemu_version = 7002000,
                                .libvirt_version = 9000000};
    memset(f->id.kernel_sha, '1', 64);
    memset(f->id.initramfs_sha, '2', 64);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    st_test_rmrf(f->dir);
    free(f->dir);
    free(f->save);
    free(f->done);
    free(f);
    return 0;
}

/* A save as libvirt writes it: header, XML + cookie in a padded area, then
 * stream_len bytes standing in for QEMU's stream. */
static off_t write_save(const char *path, const char *magic, const char *xml, size_t stream_len)
{
    const char *cookie = "<qemu-migration/>";
    uint32_t data_len = 65536, cookie_off = (uint32_t)strlen(xml) + 1;
    unsigned char h[ST_TEMPLATE_SAVE_HEADER] = {0};
    memcpy(h, magic, 16);
    uint32_t fields[5] = {ST_TEMPLATE_SAVE_VERSION, data_len, 1, 0, cookie_off};
    memcpy(h + 16, fields, sizeof(fields));
    char *data = calloc(1, data_len);
    memcpy(data, xml, strlen(xml));
    memcpy(data + cookie_off, cookie, strlen(cookie));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fwrite(h, 1, sizeof(h), fp);
    fwrite(data, 1, data_len, fp);
    for (size_t i = 0; i < stream_len; i++)
        fputc('Q', fp);
    fclose(fp);
    free(data);
    return (off_t)(sizeof(h) + data_len + stream_len);
}

static void test_key_covers_every_input(void **state)
{
    fx *f = *state;
    char base[ST_TEMPLATE_KEY_LEN], k[ST_TEMPLATE_KEY_LEN];
    st_template_key(&f->id, base);
    assert_int_equal(strlen(base), 64);
    st_template_key(&f->id, k);
    assert_string_equal(base, k); /* stable */
    st_template_ident v[8];
    for (int i = 0; i < 8; i++)
        v[i] = f->id;
    v[0].kernel_sha[0] = '9';
    v[1].initramfs_sha[0] = '9';
    v[2].memory_mib = 256;
    v[3].vcpus = 2;
    v[4].accel = ST_ACCEL_KVM;
    v[5].qemu_version = 8002000;
    v[6].images_dir = "/var/lib/strata/images";
    v[7].balloon_off = true;
    for (int i = 0; i < 8; i++) {
        st_template_key(&v[i], k);
        assert_string_not_equal(base, k);
    }
}

static void test_file_sha256(void **state)
{
    fx *f = *state;
    char path[4096], hex[ST_TEMPLATE_KEY_LEN];
    snprintf(path, sizeof(path), "%s/kernel", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("abc", fp);
    fclose(fp);
    assert_int_equal(st_template_file_sha256(path, hex, NULL), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* new contents (another size): another digest, not the remembered one */
    fp = fopen(path, "w");
    fputs("abcd", fp);
    fclose(fp);
    assert_int_equal(st_template_file_sha256(path, hex, NULL), 0);
    assert_string_equal(hex, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
    st_error err = {0};
    snprintf(path, sizeof(path), "%s/none", f->dir);
    assert_int_equal(st_template_file_sha256(path, hex, &err), -ENOENT);
}

static void test_good_save_accepted(void **state)
{
    fx *f = *state;
    off_t size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 4096);
    st_error err = {0};
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    st_template_file tf;
    assert_int_equal(st_template_open(f->save, f->done, KEY_A, false, &tf, &err), 0);
    assert_non_null(strstr(tf.xml, "strata-tmpl-aaaaaaaaaaaa"));
    assert_string_equal(tf.cookie, "<qemu-migration/>");
    st_template_close(&tf);
}

static void test_bad_saves_refused(void **state)
{
    fx *f = *state;
    st_error err = {0};
    /* missing */
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -ENOENT);
    /* a save without its .done: never finished */
    off_t size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 4096);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -ENOENT);
    /* truncated after the .done was written */
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(truncate(f->save, size - 100), 0);
    st_error_clear(&err);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "truncated"));
    /* libvirt's mark of an unfinished save */
    size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC_PART, saved_xml, 4096);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -EBADMSG);
    /* not a libvirt save at all */
    size = write_save(f->save, "NotLibvirtAtAll!", saved_xml, 4096);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -EBADMSG);
    /* another key: in the .done, or in the saved XML */
    size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 4096);
    assert_int_equal(st_template_done_write(f->done, KEY_B, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -ESTALE);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_check(f->save, f->done, KEY_B, &err), -ESTALE);
    /* a domain that is not a Strata node's */
    size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, "<domain><name>x</name></domain>", 4096);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), -EBADMSG);
}

static void test_clone_xml_and_rewrite(void **state)
{
    fx *f = *state;
    off_t size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 4096);
    st_error err = {0};
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    st_node_spec spec = {.name = "n7",
                         .accel = ST_ACCEL_TCG,
                         .kernel = "/k",
                         .initramfs = "/i",
                         .state_dir = "/run/strata/nodes"};
    st_template_file tf;
    assert_int_equal(st_template_open(f->save, f->done, KEY_A, true, &tf, &err), 0);
    char *xml = NULL;
    assert_int_equal(
        st_template_clone_xml(tf.xml, &spec, "11111111-2222-3333-4444-555555555555", &xml, &err),
        0);
    assert_non_null(strstr(xml, "<name>strata-n7</name>"));
    assert_non_null(strstr(xml, "<uuid>11111111-2222-3333-4444-555555555555</uuid>"));
    assert_non_null(strstr(xml, "<strata:name>n7</strata:name>"));
    assert_non_null(strstr(xml, "path=\"/run/strata/nodes/n7.sock\""));
    assert_non_null(strstr(xml, "path=\"/run/strata/nodes/n7.data.sock\""));
    assert_non_null(strstr(xml, "path=\"/run/strata/nodes/n7.console.log\""));
    assert_null(strstr(xml, "tmpl-"));
    assert_null(strstr(xml, "strata:template"));
    assert_int_equal(st_template_rewrite(&tf, xml, &err), 0);
    st_template_close(&tf);
    /* still the same save: the stream untouched, its length as recorded */
    assert_int_equal(st_template_open(f->save, f->done, KEY_A, false, &tf, &err), 0);
    assert_string_equal(tf.xml, xml);
    assert_string_equal(tf.cookie, "<qemu-migration/>");
    assert_int_equal(tf.size, size);
    st_template_close(&tf);
    free(xml);
}

static void test_stream_corruption_found(void **state)
{
    fx *f = *state;
    st_error err = {0};
    off_t size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 8192);
    /* no recorded digest: refused */
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    assert_int_equal(st_template_verify(f->save, f->done, &err), -EBADMSG);
    char sha[ST_TEMPLATE_KEY_LEN];
    assert_int_equal(st_template_stream_sha256(f->save, sha, &err), 0);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, sha, &err), 0);
    st_error_clear(&err);
    assert_int_equal(st_template_verify(f->save, f->done, &err), 0);
    /* a clone's XML rewrite leaves the stream alone */
    st_template_file tf;
    assert_int_equal(st_template_open(f->save, f->done, KEY_A, true, &tf, &err), 0);
    assert_int_equal(st_template_rewrite(&tf, saved_xml, &err), 0);
    st_template_close(&tf);
    assert_int_equal(st_template_verify(f->save, f->done, &err), 0);
    /* one byte of the stream flipped, size unchanged: corrupt */
    int fd = open(f->save, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, size - 4000), 1);
    close(fd);
    assert_int_equal(st_template_check(f->save, f->done, KEY_A, &err), 0);
    assert_int_equal(st_template_verify(f->save, f->done, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "corrupt"));
}

static void test_drop_stale_keeps_other_sizes(void **state)
{
    fx *f = *state;
    st_error err = {0};
    char *save_b = NULL, *done_b = NULL;
    assert_int_equal(st_template_paths(f->dir, KEY_B, &save_b, &done_b, NULL), 0);
    off_t size = write_save(f->save, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 16);
    assert_int_equal(st_template_done_write(f->done, KEY_A, &f->id, size, NULL, &err), 0);
    write_save(save_b, ST_TEMPLATE_SAVE_MAGIC, saved_xml, 16);
    st_template_ident other = f->id;
    other.memory_mib = 512;
    assert_int_equal(st_template_done_write(done_b, KEY_B, &other, size, NULL, &err), 0);
    /* a new template for A's size: B (another size) stays */
    assert_int_equal(st_template_drop_stale(f->dir, KEY_A, &f->id), 0);
    assert_int_equal(access(save_b, F_OK), 0);
    /* a new template of B's size replaces B */
    assert_int_equal(st_template_drop_stale(f->dir, KEY_A, &other), 1);
    assert_int_not_equal(access(save_b, F_OK), 0);
    assert_int_equal(access(f->save, F_OK), 0);
    assert_int_equal(st_template_drop_all(f->dir, &err), 1);
    assert_int_not_equal(access(f->save, F_OK), 0);
    assert_int_not_equal(access(f->done, F_OK), 0);
    free(save_b);
    free(done_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_covers_every_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_good_save_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_saves_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_xml_and_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_corruption_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_stale_keeps_other_sizes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
