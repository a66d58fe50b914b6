/* template_file.c: the pure half of node templates (strata/node_template.h):
 * the key, libvirt's save file read and checked, the clone's XML written
 * into it, the .done record, and dropping stale templates. No libvirt
 * calls: the unit tests build save files by hand. */
#include "strata/node_template.h"
#include "strata/cleanup.h"
#include "strata/hex.h"
#include "strata/node_proto.h"
#include "strata/time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>

/* ---- key --------------------------------------------------------------- */

static int sha256_hex(const void *data, size_t len, char hex[ST_TEMPLATE_KEY_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -EIO;
    st_hex_encode(md, 32, hex);
    return 0;
}

void st_template_key(const st_template_ident *id, char key[ST_TEMPLATE_KEY_LEN])
{
    _cleanup_free_ char *text = NULL;
    int n = asprintf(&text,
                     "strata-template 2\nkernel %s\ninitramfs %s\nmemory %u\nvcpus %u\naccel "
                     "%s\nimages %s\nballoon %s\nqemu %lu\nlibvirt %lu\n",
                     id->kernel_sha, id->initramfs_sha, id->memory_mib, id->vcpus,
                     st_accel_name(id->accel), id->images_dir ? id->images_dir : "-",
                     id->balloon_off ? "off" : "on", id->qemu_version, id->libvirt_version);
    /* out of memory: a key no template has, so nothing stale is restored */
    if (n < 0 || sha256_hex(text, (size_t)n, key) < 0) {
        memset(key, '0', ST_TEMPLATE_KEY_LEN - 1);
        key[ST_TEMPLATE_KEY_LEN - 1] = '\0';
    }
}

struct hash_memo {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[ST_TEMPLATE_KEY_LEN];
};
#define HASH_MEMO_SLOTS 4
static struct hash_memo memo[HASH_MEMO_SLOTS];
static unsigned memo_next;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static bool memo_match(const struct hash_memo *m, const struct stat *st)
{
    return m->hex[0] && m->dev == st->st_dev && m->ino == st->st_ino && m->size == st->st_size &&
           m->mtime.tv_sec == st->st_mtim.tv_sec && m->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
    if (*c)
        EVP_MD_CTX_free(*c);
}

/* SHA-256 of fd from offset to its end, as hex. */
static int fd_sha256(int fd, off_t offset, const char *path, char hex[ST_TEMPLATE_KEY_LEN],
                     st_error *err)
{
    __attribute__((cleanup(md_ctx_freep))) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        return st_error_set(err, EIO, "template: SHA-256 is not available (OpenSSL)");
    static __thread unsigned char buf[1 << 16];
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return st_error_sys(err, errno, "template: reading %s", path);
        if (n == 0)
            break;
        offset += n;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        return st_error_set(err, EIO, "template: SHA-256 of %s failed", path);
    st_hex_encode(md, 32, hex);
    return 0;
}

int st_template_file_sha256(const char *path, char hex[ST_TEMPLATE_KEY_LEN], st_error *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return st_error_sys(err, errno, "template key: %s", path);
    pthread_mutex_lock(&memo_lock);
    for (int i = 0; i < HASH_MEMO_SLOTS; i++)
        if (memo_match(&memo[i], &st)) {
            memcpy(hex, memo[i].hex, ST_TEMPLATE_KEY_LEN);
            pthread_mutex_unlock(&memo_lock);
            return 0;
        }
    pthread_mutex_unlock(&memo_lock);

    int r = fd_sha256(fd, 0, path, hex, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&memo_lock);
    struct hash_memo *m = &memo[memo_next++ % HASH_MEMO_SLOTS];
    *m = (struct hash_memo){
        .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim};
    memcpy(m->hex, hex, ST_TEMPLATE_KEY_LEN);
    pthread_mutex_unlock(&memo_lock);
    return 0;
}

int st_template_paths(const char *dir, const char *key, char **save, char **done, st_error *err)
{
    _cleanup_free_ char *s = NULL, *d = NULL;
    if (asprintf(&s, "%s/%s.save", dir, key) < 0 || asprintf(&d, "%s/%s.done", dir, key) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    if (save)
        *save = st_steal_ptr(&s);
    if (done)
        *done = st_steal_ptr(&d);
    return 0;
}

/* ---- the save file ------------------------------------------------------ */

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* libvirt writes the host's byte order */
    return v;
}

void st_template_close(st_template_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->xml);
    free(f->cookie);
    *f = (st_template_file){.fd = -1};
}

/* The key in <strata:node><strata:template> of the saved XML ("" once a
 * clone's XML replaced the template's), or NULL when it is not a Strata
 * domain's XML. */
static char *xml_template_key(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "save.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return NULL;
    char *out = NULL;
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx &&
        xmlXPathRegisterNs(ctx, BAD_CAST ST_NODE_XMLNS_PREFIX, BAD_CAST ST_NODE_XMLNS) == 0) {
        xmlXPathObjectPtr o = xmlXPathEvalExpression(
            BAD_CAST "string(/domain/metadata/strata:node/strata:name)", ctx);
        bool strata = o && o->stringval && o->stringval[0];
        xmlXPathFreeObject(o);
        o = xmlXPathEvalExpression(BAD_CAST "string(/domain/metadata/strata:node/strata:template)",
                                   ctx);
        if (strata && o && o->stringval)
            out = strdup((const char *)o->stringval);
        xmlXPathFreeObject(o);
    }
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return out;
}

int st_template_open(const char *save_path, const char *done_path, const char *key, bool rw,
                     st_template_file *out, st_error *err)
{
    *out = (st_template_file){.fd = -1};
    _cleanup_free_ char *data = NULL, *xkey = NULL;
    _cleanup_json_ json_t *done = json_load_file(done_path, 0, NULL);
    struct stat st;
    if (stat(save_path, &st) < 0)
        return st_error_set(err, ENOENT, "template %s: no save file", save_path);
    if (done == NULL)
        return st_error_set(err, access(done_path, F_OK) == 0 ? EBADMSG : ENOENT,
                            "template %s: %s is missing or unreadable: the save never finished",
                            save_path, done_path);
    const char *dkey = json_string_value(json_object_get(done, "key"));
    json_int_t dsize = json_integer_value(json_object_get(done, "size"));
    if (dkey == NULL || strcmp(dkey, key) != 0)
        return st_error_set(err, ESTALE, "template %s: made for key %.12s, not %.12s", save_path,
                            dkey ? dkey : "(none)", key);

    int fd = open(save_path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "template %s", save_path);
    out->fd = fd;
    int r;
    unsigned char h[ST_TEMPLATE_SAVE_HEADER];
    if (fstat(fd, &st) < 0) {
        r = st_error_sys(err, errno, "template %s", save_path);
        goto fail;
    }
    out->size = st.st_size;
    if (st.st_size != (off_t)dsize) {
        r = st_error_set(err, EBADMSG, "template %s: %lld bytes, but %lld were saved (truncated?)",
                         save_path, (long long)st.st_size, (long long)dsize);
        goto fail;
    }
    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        r = st_error_set(err, EBADMSG, "template %s: shorter than libvirt's save header",
                         save_path);
        goto fail;
    }
    if (memcmp(h, ST_TEMPLATE_SAVE_MAGIC_PART, 16) == 0) {
        r = st_error_set(err, EBADMSG, "template %s: libvirt never finished this save", save_path);
        goto fail;
    }
    if (memcmp(h, ST_TEMPLATE_SAVE_MAGIC, 16) != 0) {
        r = st_error_set(err, EBADMSG, "template %s: not a libvirt save file (magic)", save_path);
        goto fail;
    }
    uint32_t version = u32_at(h + 16), data_len = u32_at(h + 20), compressed = u32_at(h + 28),
             cookie_off = u32_at(h + 32);
    if (version != ST_TEMPLATE_SAVE_VERSION || compressed != 0 || data_len == 0 ||
        data_len > ST_TEMPLATE_DATA_MAX || cookie_off >= data_len ||
        (off_t)(ST_TEMPLATE_SAVE_HEADER + data_len) >= st.st_size) {
        r = st_error_set(err, EBADMSG,
                         "template %s: unexpected libvirt save header (version %u, data %u bytes, "
                         "compressed %u)",
                         save_path, version, data_len, compressed);
        goto fail;
    }
    data = malloc((size_t)data_len + 1);
    if (data == NULL) {
        r = st_error_set(err, ENOMEM, "template: out of memory");
        goto fail;
    }
    if (pread(fd, data, data_len, ST_TEMPLATE_SAVE_HEADER) != (ssize_t)data_len) {
        r = st_error_set(err, EBADMSG, "template %s: its XML area is cut short", save_path);
        goto fail;
    }
    data[data_len] = '\0';
    size_t xml_len = strnlen(data, data_len);
    if (xml_len == data_len || (cookie_off && cookie_off <= xml_len)) {
        r = st_error_set(err, EBADMSG, "template %s: its XML area is malformed", save_path);
        goto fail;
    }
    out->xml = strndup(data, xml_len);
    out->cookie = strdup(cookie_off ? data + cookie_off : "");
    out->data_len = data_len;
    if (out->xml == NULL || out->cookie == NULL) {
        r = st_error_set(err, ENOMEM, "template: out of memory");
        goto fail;
    }
    xkey = xml_template_key(out->xml);
    if (xkey == NULL || (xkey[0] && strcmp(xkey, key) != 0)) {
        r = st_error_set(err, xkey ? ESTALE : EBADMSG, "template %s: its domain XML %s", save_path,
                         xkey ? "names another template key" : "is not a Strata template's");
        goto fail;
    }
    return 0;
fail:
    st_template_close(out);
    return r;
}

int st_template_check(const char *save_path, const char *done_path, const char *key, st_error *err)
{
    st_template_file f;
    int r = st_template_open(save_path, done_path, key, false, &f, err);
    if (r == 0)
        st_template_close(&f);
    return r;
}

int st_template_rewrite(st_template_file *f, const char *xml, st_error *err)
{
    size_t xl = strlen(xml), cl = strlen(f->cookie);
    size_t need = xl + 1 + (cl ? cl + 1 : 0);
    if (need > f->data_len)
        return st_error_set(err, E2BIG,
                            "template: the clone's XML (%zu bytes) does not fit the save's XML "
                            "area (%u bytes)",
                            xl, f->data_len);
    _cleanup_free_ char *data = calloc(1, f->data_len);
    if (data == NULL)
        return st_error_set(err, ENOMEM, "template: out of memory");
    memcpy(data, xml, xl);
    uint32_t cookie_off = cl ? (uint32_t)(xl + 1) : 0;
    if (cl)
        memcpy(data + xl + 1, f->cookie, cl);
    if (pwrite(f->fd, data, f->data_len, ST_TEMPLATE_SAVE_HEADER) != (ssize_t)f->data_len ||
        pwrite(f->fd, &cookie_off, 4, 32) != 4)
        return st_error_sys(err, errno ? errno : EIO, "template: rewriting the save's XML");
    return 0;
}

int st_template_done_write(const char *done_path, const char *key, const st_template_ident *id,
                           off_t size, const char *stream_sha, st_error *err)
{
    _cleanup_json_ json_t *o = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:s}", "key", key, "size",
                                         (json_int_t)size, "memoryMiB", (int)id->memory_mib,
                                         "vcpus", (int)id->vcpus, "accel", st_accel_name(id->accel),
                                         "kernel", id->kernel_sha, "initramfs", id->initramfs_sha);
    _cleanup_free_ char *tmp = NULL;
    if (o && stream_sha)
        json_object_set_new(o, "streamSha256", json_string(stream_sha));
    if (o == NULL || asprintf(&tmp, "%s.tmp", done_path) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    if (json_dump_file(o, tmp, JSON_COMPACT) < 0 || rename(tmp, done_path) < 0) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return st_error_sys(err, e, "template: writing %s", done_path);
    }
    return 0;
}

/* ---- the clone's XML ------------------------------------------------------ */

static void doc_freep(xmlDocPtr *d)
{
    if (*d)
        xmlFreeDoc(*d);
}
static void xpath_ctx_freep(xmlXPathContextPtr *c)
{
    if (*c)
        xmlXPathFreeContext(*c);
}

/* Sets the text (attr NULL) or attribute of every node at path; how many. */
static int set_all(xmlXPathContextPtr ctx, const char *path, const char *attr, const char *value)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, ctx);
    int n = 0;
    if (o && o->nodesetval) {
        for (int i = 0; i < o->nodesetval->nodeNr; i++) {
            xmlNodePtr node = o->nodesetval->nodeTab[i];
            if (attr)
                xmlSetProp(node, BAD_CAST attr, BAD_CAST value);
            else
                xmlNodeSetContent(node, NULL), xmlNodeAddContent(node, BAD_CAST value);
            n++;
        }
    }
    xmlXPathFreeObject(o);
    return n;
}

static void remove_all(xmlXPathContextPtr ctx, const char *path)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, ctx);
    if (o && o->nodesetval)
        for (int i = 0; i < o->nodesetval->nodeNr; i++) {
            xmlUnlinkNode(o->nodesetval->nodeTab[i]);
            xmlFreeNode(o->nodesetval->nodeTab[i]);
            o->nodesetval->nodeTab[i] = NULL;
        }
    xmlXPathFreeObject(o);
}

int st_template_clone_xml(const char *xml, const st_node_spec *spec, const char *uuid, char **out,
                          st_error *err)
{
    int r = st_node_spec_validate(spec, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL, *dname = NULL;
    if ((r = st_node_spec_paths(spec, &sock, &console, &data, err)) < 0)
        return r;
    if (asprintf(&dname, "%s%s", ST_NODE_DOMAIN_PREFIX, spec->name) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    __attribute__((cleanup(doc_freep))) xmlDocPtr doc =
        xmlReadMemory(xml, (int)strlen(xml), "save.xml", NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return st_error_set(err, EBADMSG, "template: the saved domain XML does not parse");
    __attribute__((cleanup(xpath_ctx_freep))) xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL ||
        xmlXPathRegisterNs(ctx, BAD_CAST ST_NODE_XMLNS_PREFIX, BAD_CAST ST_NODE_XMLNS) != 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    char created[ST_TIME_RFC3339_LEN];
    st_time_rfc3339(spec->created ? spec->created : time(NULL), created);
    const char *md = "/domain/metadata/strata:node/strata:";
    char path[256];
#define P(fmt, ...) (snprintf(path, sizeof(path), fmt, __VA_ARGS__), path)
    if (set_all(ctx, "/domain/name", NULL, dname) != 1 ||
        set_all(ctx, "/domain/uuid", NULL, uuid) != 1 ||
        set_all(ctx, P("%sname", md), NULL, spec->name) != 1 ||
        set_all(ctx, P("/domain/devices/channel[target/@name='%s']/source", ST_PROTO_PORT_NAME),
                "path", sock) != 1 ||
        set_all(ctx,
                P("/domain/devices/channel[target/@name='%s']/source", ST_PROTO_DATA_PORT_NAME),
                "path", data) != 1 ||
        set_all(ctx, "/domain/devices/serial/source | /domain/devices/console/source", "path",
                console) < 1)
        return st_error_set(err, EBADMSG,
                            "template: the saved domain XML lacks a name, uuid, Strata "
                            "metadata, node channel, data port or console");
    set_all(ctx, P("%screated", md), NULL, created);
    set_all(ctx, P("%sstateDir", md), NULL,
            spec->state_dir ? spec->state_dir : ST_NODE_STATE_DIR_DEFAULT);
    remove_all(ctx, P("%stemplate", md));
#undef P
    xmlChar *buf = NULL;
    int len = 0;
    xmlDocDumpMemory(doc, &buf, &len);
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "template: out of memory");
    *out = strdup((const char *)buf);
    xmlFree(buf);
    return *out ? 0 : st_error_set(err, ENOMEM, "template: out of memory");
}

/* ---- dropping ------------------------------------------------------------ */

static void drop(const char *dir, const char *key)
{
    _cleanup_free_ char *save = NULL, *done = NULL;
    if (st_template_paths(dir, key, &save, &done, NULL) == 0) {
        unlink(done);
        unlink(save);
    }
}

/* Calls fn for each "<key>.save" in dir; how many fn dropped. */
static int each_save(const char *dir, bool (*fn)(const char *dir, const char *key, void *), void *a)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l != 64 + 5 || strcmp(de->d_name + 64, ".save") != 0)
            continue;
        char key[ST_TEMPLATE_KEY_LEN];
        memcpy(key, de->d_name, 64);
        key[64] = '\0';
        if (fn(dir, key, a)) {
            drop(dir, key);
            n++;
        }
    }
    return n;
}

struct stale_arg {
    const char *keep;
    const st_template_ident *id;
};

static bool is_stale(const char *dir, const char *key, void *a)
{
    const struct stale_arg *s = a;
    if (strcmp(key, s->keep) == 0)
        return false;
    _cleanup_free_ char *done = NULL;
    if (st_template_paths(dir, key, NULL, &done, NULL) < 0)
        return false;
    _cleanup_json_ json_t *o = json_load_file(done, 0, NULL);
    if (o == NULL)
        return true; /* never finished */
    const char *accel = json_string_value(json_object_get(o, "accel"));
    return json_integer_value(json_object_get(o, "memoryMiB")) == s->id->memory_mib &&
           json_integer_value(json_object_get(o, "vcpus")) == s->id->vcpus && accel &&
           strcmp(accel, st_accel_name(s->id->accel)) == 0;
}

int st_template_drop_stale(const char *dir, const char *keep, const st_template_ident *id)
{
    struct stale_arg a = {.keep = keep, .id = id};
    int n = each_save(dir, is_stale, &a);
    return n < 0 ? 0 : n;
}

static bool any(const char *dir, const char *key, void *a)
{
    (void)dir, (void)key, (void)a;
    return true;
}

int st_template_drop_all(const char *dir, st_error *err)
{
    int n = each_save(dir, any, NULL);
    if (n < 0)
        return st_error_sys(err, -n, "templates: cannot list %s", dir);
    return n;
}

int st_template_stream_sha256(const char *save_path, char hex[ST_TEMPLATE_KEY_LEN], st_error *err)
{
    _cleanup_close_ int fd = open(save_path, O_RDONLY | O_CLOEXEC);
    unsigned char h[ST_TEMPLATE_SAVE_HEADER];
    if (fd < 0)
        return st_error_sys(err, errno, "template %s", save_path);
    if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
        return st_error_set(err, EBADMSG, "template %s: shorter than libvirt's save header",
                            save_path);
    uint32_t data_len = u32_at(h + 20);
    if (data_len == 0 || data_len > ST_TEMPLATE_DATA_MAX)
        return st_error_set(err, EBADMSG, "template %s: unexpected libvirt save header", save_path);
    return fd_sha256(fd, (off_t)ST_TEMPLATE_SAVE_HEADER + data_len, save_path, hex, err);
}

int st_template_verify(const char *save_path, const char *done_path, st_error *err)
{
    _cleanup_json_ json_t *done = json_load_file(done_path, 0, NULL);
    const char *want = json_string_value(json_object_get(done, "streamSha256"));
    if (want == NULL)
        return st_error_set(err, EBADMSG, "template %s: %s records no SHA-256 of the saved state",
                            save_path, done_path);
    char got[ST_TEMPLATE_KEY_LEN];
    int r = st_template_stream_sha256(save_path, got, err);
    if (r < 0)
        return r;
    if (strcmp(got, want) != 0)
        return st_error_set(err, EBADMSG,
                            "template %s: the saved state is corrupt (SHA-256 %.12s, saved as "
                            "%.12s)",
                            save_path, got, want);
    return 0;
}
