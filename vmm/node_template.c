/* node_template.c: starting a node from a booted template
 * (strata/node_template.h has the design). The first start of a key boots a
 * template VM cold with strata.template=1, waits for its `template_wait`,
 * hangs up and saves it; each start restores that save as its own domain,
 * defines it persistently (a restored node is killed, fenced and removed
 * like a booted one), connects, sends the node's identity and waits for
 * its hello. Anything wrong with a template (missing .done,
 * truncated, another key, a restore or identity that fails) ends in a cold
 * boot of the node, with the reason in the start report; a template that
 * failed is removed, and the next start makes a new one. Every wait is
 * bounded by the start's ready timeout. */
#include "vmm_priv.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/hex.h"
#include "strata/node_template.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#define ST_TEMPLATE_SEED_BYTES 64

static void dom_freep(virDomainPtr *d)
{
    if (*d)
        virDomainFree(*d);
}
#define _cleanup_dom_ __attribute__((cleanup(dom_freep)))

static int64_t ms_since(int64_t t0)
{
    return (st_vmm_now_ns() - t0) / 1000000;
}

/* ---- the key ------------------------------------------------------------ */

static int ident_of(st_vmm *vmm, const st_node_spec *spec, st_template_ident *id, st_error *err)
{
    *id = (st_template_ident){
        .memory_mib = spec->memory_mib ? spec->memory_mib : ST_NODE_MEMORY_DEFAULT_MIB,
        .vcpus = spec->vcpus ? spec->vcpus : ST_NODE_VCPUS_DEFAULT,
        .accel = spec->accel,
        .images_dir = spec->images_dir && *spec->images_dir ? spec->images_dir : NULL,
        .balloon_off = spec->balloon_off,
    };
    int r;
    if ((r = st_template_file_sha256(spec->kernel, id->kernel_sha, err)) < 0 ||
        (r = st_template_file_sha256(spec->initramfs, id->initramfs_sha, err)) < 0)
        return r;
    if (virConnectGetVersion(vmm->conn, &id->qemu_version) < 0 ||
        virConnectGetLibVersion(vmm->conn, &id->libvirt_version) < 0)
        return st_error_set(err, EIO, "template: cannot read the QEMU/libvirt version: %s",
                            st_vmm_virt_error());
    return 0;
}

/* ---- making a template ------------------------------------------------- */

/* Connects to the template VM's channel and reads until its template_wait
 * (bounded by timeout_ms); then hangs up, so the saved guest waits for the
 * next host. */
static int await_template_wait(const char *sock, int timeout_ms, st_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int64_t t0 = st_vmm_now_ns();
    _cleanup_close_ int fd = -1;
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return st_error_sys(err, errno, "template: socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        close(fd);
        fd = -1;
        if (ms_since(t0) > ST_NODE_CHANNEL_CONNECT_MS)
            return st_error_sys(err, errno, "template: cannot connect to %s", sock);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);
    int r = -ETIMEDOUT;
    while (r == -ETIMEDOUT) {
        int left = timeout_ms - (int)ms_since(t0);
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        st_error rerr = {0};
        int n = st_proto_reader_fill(&rd, fd, &rerr);
        if (n == -EAGAIN)
            continue;
        if (n <= 0) {
            r = -ECHILD;
            break;
        }
        const char *line;
        while (r == -ETIMEDOUT && (n = st_proto_reader_next(&rd, &line, &rerr)) != 0) {
            json_t *m = NULL;
            const char *type = NULL;
            if (n > 0 && st_proto_decode(line, &m, &type, &rerr) == 0 &&
                strcmp(type, ST_PROTO_TEMPLATE_WAIT) == 0)
                r = 0;
            json_decref(m);
            st_error_clear(&rerr);
        }
    }
    st_proto_reader_free(&rd);
    if (r == -ETIMEDOUT)
        return st_error_set(err, ETIMEDOUT, "template: no template_wait within %d ms", timeout_ms);
    if (r < 0)
        return st_error_set(err, ECHILD, "template: the template VM hung up before it was ready");
    return 0;
}

static void template_files_remove(const char *dir, const char *name)
{
    st_node_spec s = {.name = name, .state_dir = dir};
    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL;
    if (st_node_spec_paths(&s, &sock, &console, &data, NULL) == 0) {
        unlink(sock);
        unlink(data);
        unlink(console);
    }
}

static int template_make(st_vmm *vmm, const st_node_spec *spec, const char *dir, const char *key,
                         const st_template_ident *id, int timeout_ms, st_error *err)
{
    char name[32];
    snprintf(name, sizeof(name), "tmpl-%.12s", key);
    st_node_spec t = *spec;
    t.name = name;
    t.state_dir = dir;
    t.cmdline_extra = ST_PROTO_CMDLINE_TEMPLATE "=1";
    t.template_key = key;
    t.created = 0;
    _cleanup_free_ char *xml = NULL, *sock = NULL, *console = NULL, *save = NULL, *done = NULL,
                        *tmp = NULL;
    int r;
    if ((r = st_domain_xml_build(&t, &xml, err)) < 0 ||
        (r = st_node_spec_paths(&t, &sock, &console, NULL, err)) < 0 ||
        (r = st_template_paths(dir, key, &save, &done, err)) < 0)
        return r;
    if (asprintf(&tmp, "%s.part", save) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    template_files_remove(dir, name);
    unlink(tmp);
    _cleanup_dom_ virDomainPtr dom = virDomainCreateXML(vmm->conn, xml, 0);
    if (dom == NULL)
        return st_error_set(err, EIO, "template: libvirt could not start the template VM: %s",
                            st_vmm_virt_error());
    if ((r = await_template_wait(sock, timeout_ms, err)) < 0) {
        virDomainDestroy(dom);
        _cleanup_free_ char *tail = st_vmm_console_tail(console);
        st_error why = *err;
        st_error_clear(err);
        r = st_error_set(err, why.code, "%s. Console (%s):%s", why.msg, console,
                         tail ? tail : " (empty)");
        template_files_remove(dir, name);
        return r;
    }
    if (virDomainSaveFlags(dom, tmp, NULL, VIR_DOMAIN_SAVE_RUNNING) < 0) {
        r = st_error_set(err, EIO, "template: libvirt could not save the template VM: %s",
                         st_vmm_virt_error());
        if (virDomainIsActive(dom) == 1)
            virDomainDestroy(dom);
        unlink(tmp);
        template_files_remove(dir, name);
        return r;
    }
    template_files_remove(dir, name);
    struct stat st;
    if (stat(tmp, &st) < 0 || rename(tmp, save) < 0) {
        r = st_error_sys(err, errno, "template: keeping %s", save);
        unlink(tmp);
        return r;
    }
    char stream_sha[ST_TEMPLATE_KEY_LEN];
    if ((r = st_template_stream_sha256(save, stream_sha, err)) < 0 ||
        (r = st_template_done_write(done, key, id, st.st_size, stream_sha, err)) < 0) {
        unlink(save);
        return r;
    }
    st_template_drop_stale(dir, key, id);
    return 0;
}

/* ---- restoring ---------------------------------------------------------- */

static int read_uuid(char out[37], st_error *err)
{
    _cleanup_close_ int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, out, 36) != 36)
        return st_error_sys(err, errno ? errno : EIO, "template: reading a new uuid");
    out[36] = '\0';
    return 0;
}

/* The node's identity: name, its settings, hostname, a machine id and 64
 * bytes from the host's RNG (OpenSSL) for the guest's, and the time. */
static int identity_build(const st_node_spec *spec, json_t **msg, st_error *err)
{
    char seed[2 * ST_TEMPLATE_SEED_BYTES + 1], mid[33];
    int r;
    if ((r = st_hex_random(ST_TEMPLATE_SEED_BYTES, seed, err)) < 0 ||
        (r = st_hex_random(16, mid, err)) < 0)
        return r;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    *msg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "type", ST_PROTO_IDENTITY, "name",
                     spec->name, "args", spec->cmdline_extra ? spec->cmdline_extra : "", "hostname",
                     spec->name, "machineId", mid, "seed", seed, "unixMillis",
                     (json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    explicit_bzero(seed, sizeof(seed));
    return *msg ? 0 : st_error_set(err, ENOMEM, "template: out of memory");
}

/* The stream's SHA-256 against the .done record, on its own thread while
 * libvirt starts QEMU and loads the state paused: the check costs ~40 ms of
 * CPU for 60 MiB, and the restored guest is resumed only once it passed. */
struct verify_job {
    const char *save, *done;
    pthread_t thread;
    bool threaded;
    int r;
    st_error err;
};

static void *verify_run(void *arg)
{
    struct verify_job *j = arg;
    j->r = st_template_verify(j->save, j->done, &j->err);
    return NULL;
}

static void verify_start(struct verify_job *j, const char *save, const char *done)
{
    *j = (struct verify_job){.save = save, .done = done};
    j->threaded = pthread_create(&j->thread, NULL, verify_run, j) == 0;
    if (!j->threaded)
        verify_run(j); /* no thread: check before the restore instead */
}

static int verify_finish(struct verify_job *j, st_error *err)
{
    if (j->threaded) {
        pthread_join(j->thread, NULL);
        j->threaded = false;
    }
    if (j->r < 0)
        *err = j->err;
    return j->r;
}

/* Restores the template at save into the node spec describes and waits for
 * its hello. Called with vmm->template_lock held; releases it once libvirt
 * has read the save. On failure nothing of the node is left. */
static int restore(st_vmm *vmm, const st_node_spec *spec, const char *save, const char *done,
                   const char *key, int timeout_ms, json_t **hello, bool *locked,
                   st_vmm_start_report *rep, st_error *err)
{
    st_vmm_start_report unused;
    if (rep == NULL)
        rep = &unused;
    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL, *xml = NULL;
    char uuid[37];
    int r;
    if ((r = st_node_spec_paths(spec, &sock, &console, &data, err)) < 0 ||
        (r = read_uuid(uuid, err)) < 0)
        return r;
    st_template_file f;
    if ((r = st_template_open(save, done, key, true, &f, err)) < 0)
        return r;
    r = st_template_clone_xml(f.xml, spec, uuid, &xml, err);
    if (r == 0)
        r = st_template_rewrite(&f, xml, err);
    st_template_close(&f);
    if (r < 0)
        return r;
    if ((r = st_fs_mkdir_p(spec->state_dir ? spec->state_dir : ST_NODE_STATE_DIR_DEFAULT, 0755,
                           err)) < 0)
        return r;

    _cleanup_node_ st_vmm_node *node = st_vmm_node_new(vmm, spec->name, sock, console, data);
    if (node == NULL)
        return st_error_set(err, ENOMEM, "node %s: out of memory", spec->name);
    if ((r = st_vmm_registry_add(vmm, node, err)) < 0)
        return r;
    unlink(sock);
    unlink(data);
    unlink(console);
    int64_t t0 = st_vmm_now_ns();
    /* Every restore checks the stream: QEMU does not checksum guest RAM in
     * it, so a flipped bit would run. The check runs beside libvirt's
     * restore (it reads the stream; the rewrite above only touched the XML
     * before it), and the guest stays paused until it passed. */
    struct verify_job vj;
    verify_start(&vj, save, done);
    if (virDomainRestoreFlags(vmm->conn, save, NULL, VIR_DOMAIN_SAVE_PAUSED) < 0) {
        r = st_error_set(err, EIO, "node %s: libvirt could not restore the template %s: %s",
                         spec->name, save, st_vmm_virt_error());
        verify_finish(&vj, &(st_error){0});
        st_vmm_node_discard(vmm, node, NULL);
        return r;
    }
    _cleanup_dom_ virDomainPtr dom = virDomainLookupByName(vmm->conn, node->domain);
    r = verify_finish(&vj, err);
    if (r == 0 && dom && virDomainResume(dom) < 0)
        r = st_error_set(err, EIO, "node %s: libvirt could not resume the restored %s: %s",
                         spec->name, node->domain, st_vmm_virt_error());
    if (r < 0) {
        if (dom)
            virDomainDestroy(dom);
        st_vmm_node_discard(vmm, node, dom);
        return r;
    }
    pthread_mutex_unlock(&vmm->template_lock);
    *locked = false;
    rep->restore_ms = ms_since(t0);
    t0 = st_vmm_now_ns();

    _cleanup_json_ json_t *id = NULL;
    if ((r = st_vmm_channel_open(node, ST_NODE_CHANNEL_CONNECT_MS, err)) < 0 ||
        (r = identity_build(spec, &id, err)) < 0)
        goto fail;
    /* Sent at once, not on the guest's template_wait: a guest saved before
     * it saw the template's host hang up never sees this host connect, but
     * reads what it sends all the same; one that did see it answers the
     * connection with template_wait and then reads this. */
    if ((r = st_vmm_channel_send(node, id, err)) < 0)
        goto fail;
    rep->identity_ms = ms_since(t0);
    t0 = st_vmm_now_ns();

    /* Defined persistently while the guest takes its identity. */
    {
        _cleanup_free_ char *def = dom ? virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE) : NULL;
        virDomainPtr pdom = def ? virDomainDefineXML(vmm->conn, def) : NULL;
        if (pdom == NULL) {
            r = st_error_set(err, EIO, "node %s: libvirt could not define the restored %s: %s",
                             spec->name, node->domain, st_vmm_virt_error());
            goto fail;
        }
        virDomainFree(pdom);
        rep->define_ms = ms_since(t0);
    }
    if ((r = st_vmm_node_wait_ready(vmm, node, timeout_ms, hello)) < 0) {
        r = st_error_set(err, -r, "node %s: no hello within %d ms after its identity (%s)",
                         spec->name, timeout_ms, strerror(-r));
        goto fail;
    }
    rep->hello_ms = ms_since(t0);
    const char *said = json_string_value(json_object_get(*hello, "node"));
    if (said == NULL || strcmp(said, spec->name) != 0) {
        r = st_error_set(err, EPROTO, "node %s: the restored VM said hello as %s", spec->name,
                         said ? said : "(nobody)");
        json_decref(*hello);
        *hello = NULL;
        goto fail;
    }
    return 0;
fail:
    if (dom && virDomainIsActive(dom) == 1)
        virDomainDestroy(dom);
    st_vmm_node_discard(vmm, node, dom);
    return r;
}

/* ---- the start ------------------------------------------------------------ */

static int cold(st_vmm *vmm, const st_node_spec *spec, const st_vmm_start_options *opts,
                json_t **hello, st_error *err, const char *why)
{
    if (opts->report)
        snprintf(opts->report->fallback, sizeof(opts->report->fallback), "%.900s; booted cold",
                 why);
    return st_vmm_node_cold_start(vmm, spec, opts, hello, err);
}

static void drop(const char *save, const char *done)
{
    unlink(done);
    unlink(save);
}

int st_vmm_node_template_start(st_vmm *vmm, const st_node_spec *spec_in,
                               const st_vmm_start_options *opts, json_t **hello, st_error *err)
{
    st_node_spec spec = *spec_in;
    int timeout =
        opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms : ST_VMM_READY_TIMEOUT_MS_DEFAULT;
    st_vmm_start_report *rep = opts->report;
    int r;
    if (hello)
        *hello = NULL;
    json_t *hello_local = NULL;
    json_t **hp = hello ? hello : &hello_local;
    if ((r = st_vmm_spec_prepare(&spec, opts->accel_root, err)) < 0)
        return r;
    /* the name must be free, as for a cold start */
    char dname[ST_NODE_NAME_MAX + 16];
    snprintf(dname, sizeof(dname), "%s%s", ST_NODE_DOMAIN_PREFIX, spec.name);
    virDomainPtr existing = virDomainLookupByName(vmm->conn, dname);
    if (existing) {
        virDomainFree(existing);
        return st_error_set(err, EEXIST,
                            "node %s: a domain named %s already exists; destroy and undefine it "
                            "first, or pick another name",
                            spec.name, dname);
    }

    st_template_ident id;
    st_error kerr = {0};
    char key[ST_TEMPLATE_KEY_LEN];
    if (ident_of(vmm, &spec, &id, &kerr) < 0)
        return cold(vmm, &spec, opts, hp, err, kerr.msg);
    st_template_key(&id, key);
    _cleanup_free_ char *save = NULL, *done = NULL;
    if ((r = st_template_paths(opts->template_dir, key, &save, &done, err)) < 0)
        return r;
    /* 0755: QEMU (libvirt-qemu) binds the template VM's sockets in it */
    if (st_fs_mkdir_p(opts->template_dir, 0755, &kerr) < 0)
        return cold(vmm, &spec, opts, hp, err, kerr.msg);

    pthread_mutex_lock(&vmm->template_lock);
    bool locked = true;
    st_error terr = {0};
    r = st_template_check(save, done, key, &terr);
    if (r == -ENOENT) {
        drop(save, done);
        int64_t t0 = st_vmm_now_ns();
        st_error_clear(&terr);
        r = template_make(vmm, &spec, opts->template_dir, key, &id, timeout, &terr);
        if (rep && r == 0) {
            rep->template_made = true;
            rep->template_ms = ms_since(t0);
        }
    } else if (r < 0) {
        drop(save, done);
    }
    if (r == 0) {
        st_error_clear(&terr);
        r = restore(vmm, &spec, save, done, key, timeout, hp, &locked, rep, &terr);
        if (r < 0)
            drop(save, done); /* the next start makes it again */
    }
    if (locked)
        pthread_mutex_unlock(&vmm->template_lock);
    if (r == 0) {
        if (rep)
            rep->restored = true;
        if (hello == NULL)
            json_decref(hello_local);
        return 0;
    }
    char why[sizeof(terr.msg) + 32];
    snprintf(why, sizeof(why), "template unusable: %s", terr.msg);
    r = cold(vmm, &spec, opts, hp, err, why);
    if (hello == NULL)
        json_decref(hello_local);
    return r;
}
