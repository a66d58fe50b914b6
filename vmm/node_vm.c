/* node_vm.c: the lifecycle of a node VM: check, define, start, wait for
 * hello, shut down, destroy, undefine, list. Every wait is bounded, and every
 * failure path of a start destroys and undefines what it made: a failed
 * start leaves no domain and no files. Calls here block on libvirt RPCs, so
 * they run on the caller's thread, never on the event thread. */
#include "vmm_priv.h"
#include "strata/cleanup.h"
#include "strata/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

/* libvirt reports a passing shortage of the host as a system error with
 * EAGAIN (seen here: "failed to load cgroup BPF prog: Resource temporarily
 * unavailable" once in a day of starts); such a start is tried again a few
 * times before the node is failed. */
#define ST_NODE_START_ATTEMPTS 3
#define ST_NODE_START_RETRY_MS 250
static bool start_error_transient(void)
{
    virErrorPtr e = virGetLastError();
    return e && e->code == VIR_ERR_SYSTEM_ERROR &&
           (e->int1 == EAGAIN || (e->message && strstr(e->message, "temporarily unavailable")));
}

/* An error message holds ST_ERROR_MSG_MAX bytes: the console tail gets this
 * much of it (its last lines, each cut to a screen width). */
#define ST_NODE_TAIL_BYTES    640
#define ST_NODE_TAIL_LINE_MAX 100
#define ST_NODE_POLL_STATE_MS 100

static void dom_freep(virDomainPtr *d)
{
    if (*d)
        virDomainFree(*d);
}
#define _cleanup_dom_ __attribute__((cleanup(dom_freep)))

/* ---- boot files --------------------------------------------------------- */

static int read_head(const char *what, const char *path, unsigned char *buf, size_t len,
                     size_t *got, st_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return st_error_sys(err, errno, "%s %s", what, path);
    if (!S_ISREG(st.st_mode))
        return st_error_set(err, EINVAL, "%s %s: not a regular file", what, path);
    /* QEMU runs as libvirt-qemu; libvirt's DAC driver relabels the file only
     * while the VM runs, but the folders above must let it through. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "%s %s: cannot be read", what, path);
    ssize_t n = pread(fd, buf, len, 0);
    if (n < 0)
        return st_error_sys(err, errno, "%s %s: read", what, path);
    *got = (size_t)n;
    return 0;
}

int st_vmm_boot_files_check(const char *kernel, const char *initramfs, st_error *err)
{
    unsigned char head[0x210];
    size_t n = 0;
    if (kernel == NULL || initramfs == NULL)
        return st_error_set(err, EINVAL, "node spec: kernel and initramfs are required");
    int r = read_head("kernel", kernel, head, sizeof(head), &n, err);
    if (r < 0)
        return r;
    bool elf = n >= 4 && memcmp(head,
                                "\x7f"
                                "ELF",
                                4) == 0;
    bool bz = n >= 0x206 && memcmp(head + 0x202, "HdrS", 4) == 0;
    if (!elf && !bz)
        return st_error_set(err, ENOEXEC,
                            "kernel %s: neither an ELF vmlinux nor a bzImage (no ELF magic, no "
                            "'HdrS' at 0x202); rebuild the node image (target node-image)",
                            kernel);
    if ((r = read_head("initramfs", initramfs, head, 6, &n, err)) < 0)
        return r;
    if (n < 6 || memcmp(head, "070701", 6) != 0)
        return st_error_set(err, ENOEXEC,
                            "initramfs %s: not an uncompressed newc cpio (no '070701' magic); "
                            "rebuild the node image (target node-image)",
                            initramfs);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* The last lines of the console log, one string (malloc'd), or NULL. */
char *st_vmm_console_tail(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    size_t want = 16384;
    off_t start = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
    _cleanup_free_ char *buf = malloc(want + 1);
    if (buf == NULL)
        return NULL;
    ssize_t n = pread(fd, buf, want, start);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    /* Keep the last ST_VMM_CONSOLE_TAIL_LINES non-empty lines, and the
     * kernel's panic line: register dumps after it would push it out. */
    char *lines[ST_VMM_CONSOLE_TAIL_LINES];
    const char *panic = NULL;
    int count = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\r\n", &save); l;
         l = strtok_r(NULL, "\r\n", &save)) {
        if (strstr(l, "Kernel panic"))
            panic = l;
        if (count == ST_VMM_CONSOLE_TAIL_LINES) {
            memmove(lines, lines + 1, sizeof(lines[0]) * (ST_VMM_CONSOLE_TAIL_LINES - 1));
            count--;
        }
        lines[count++] = l;
    }
    for (int i = 0; i < count && panic; i++)
        if (lines[i] == panic)
            panic = NULL;
    char out[ST_NODE_TAIL_BYTES + 1];
    size_t len = 0;
    size_t need = 0;
    if (panic) {
        len = (size_t)snprintf(out, sizeof(out), "\n| %.*s\n| ...", ST_NODE_TAIL_LINE_MAX, panic);
        need = len;
    }
    /* From the newest line backwards, so the end survives the byte budget. */
    int first = count;
    while (first > 0) {
        size_t l = strnlen(lines[first - 1], ST_NODE_TAIL_LINE_MAX) + 3;
        if (need + l > ST_NODE_TAIL_BYTES)
            break;
        need += l;
        first--;
    }
    for (int i = first; i < count; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "\n| %.*s", ST_NODE_TAIL_LINE_MAX,
                                lines[i]);
    out[len] = '\0';
    return strdup(out);
}

static void remove_files(const char *sock, const char *console, const char *data)
{
    if (data)
        unlink(data);
    if (sock)
        unlink(sock);
    if (console)
        unlink(console);
}

static bool dom_active(virDomainPtr dom)
{
    return virDomainIsActive(dom) == 1;
}

/* Destroys and undefines the domain, drops the node, removes its files.
 * Runs on failure paths: errors here are not reported over the first one. */
void st_vmm_node_discard(st_vmm *vmm, st_vmm_node *node, virDomainPtr dom)
{
    if (dom) {
        if (dom_active(dom))
            virDomainDestroy(dom);
        virDomainUndefine(dom);
    }
    st_vmm_registry_remove(vmm, node);
    remove_files(node->sock_path, node->console_path, node->data_path);
}

static int lookup(st_vmm *vmm, const char *name, virDomainPtr *out, st_error *err)
{
    char dname[ST_NODE_NAME_MAX + 16];
    snprintf(dname, sizeof(dname), "%s%s", ST_NODE_DOMAIN_PREFIX, name);
    *out = virDomainLookupByName(vmm->conn, dname);
    if (*out)
        return 0;
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
        return st_error_set(err, ENOENT, "node %s: no domain %s in libvirt", name, dname);
    return st_error_set(err, EIO, "node %s: libvirt lookup of %s failed: %s", name, dname,
                        st_vmm_virt_error());
}

/* ---- start ------------------------------------------------------------ */

int st_vmm_node_wait_ready(st_vmm *vmm, st_vmm_node *node, int timeout_ms, json_t **hello)
{
    struct timespec dl;
    st_vmm_deadline(&dl, timeout_ms);
    int r = 0;
    pthread_mutex_lock(&vmm->lock);
    while (!node->ready && !node->dead && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&vmm->cond, &vmm->lock, &dl);
    int out = node->ready ? 0 : node->dead ? -ECHILD : -ETIMEDOUT;
    if (out == 0 && hello)
        *hello = json_incref(node->hello);
    pthread_mutex_unlock(&vmm->lock);
    return out;
}

int st_vmm_node_start(st_vmm *vmm, const st_node_spec *spec, const st_vmm_start_options *opts,
                      json_t **hello, st_error *err)
{
    if (opts && opts->report)
        *opts->report = (st_vmm_start_report){0};
    if (opts && opts->template_dir)
        return st_vmm_node_template_start(vmm, spec, opts, hello, err);
    return st_vmm_node_cold_start(vmm, spec, opts, hello, err);
}

int st_vmm_spec_prepare(st_node_spec *spec, const char *accel_root, st_error *err)
{
    int r;
    if (spec->accel == ST_ACCEL_AUTO) {
        st_accel_choice c;
        if ((r = st_accel_choose(accel_root, ST_ACCEL_AUTO, &c, err)) < 0)
            return r;
        spec->accel = c.accel;
    }
    if ((r = st_node_spec_validate(spec, err)) < 0)
        return r;
    if ((r = st_vmm_boot_files_check(spec->kernel, spec->initramfs, err)) < 0) {
        st_error_prefix(err, "node %s: ", spec->name);
        return r;
    }
    return 0;
}

int st_vmm_node_cold_start(st_vmm *vmm, const st_node_spec *spec_in,
                           const st_vmm_start_options *opts, json_t **hello, st_error *err)
{
    st_node_spec spec = *spec_in;
    int timeout = opts && opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms
                                                     : ST_VMM_READY_TIMEOUT_MS_DEFAULT;
    int r;
    if (hello)
        *hello = NULL;
    if ((r = st_vmm_spec_prepare(&spec, opts ? opts->accel_root : NULL, err)) < 0)
        return r;

    _cleanup_dom_ virDomainPtr dom = NULL;
    st_error lerr = {0};
    if (lookup(vmm, spec.name, &dom, &lerr) == 0) {
        int state = 0, reason = 0;
        virDomainGetState(dom, &state, &reason, 0);
        return st_error_set(err, EEXIST,
                            "node %s: a domain named %s%s already exists (%s); destroy and "
                            "undefine it first, or pick another name",
                            spec.name, ST_NODE_DOMAIN_PREFIX, spec.name,
                            state == VIR_DOMAIN_RUNNING ? "running" : "defined, not running");
    }
    if (lerr.code != ENOENT)
        return st_error_set(err, lerr.code, "%s", lerr.msg);

    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL, *xml = NULL;
    if ((r = st_node_spec_paths(&spec, &sock, &console, &data, err)) < 0 ||
        (r = st_domain_xml_build(&spec, &xml, err)) < 0)
        return r;
    /* 0755: QEMU (libvirt-qemu) must reach the socket inside. */
    if ((r = st_fs_mkdir_p(spec.state_dir ? spec.state_dir : ST_NODE_STATE_DIR_DEFAULT, 0755,
                           err)) < 0)
        return r;
    _cleanup_node_ st_vmm_node *node = st_vmm_node_new(vmm, spec.name, sock, console, data);
    if (node == NULL)
        return st_error_set(err, ENOMEM, "node %s: out of memory", spec.name);
    if ((r = st_vmm_registry_add(vmm, node, err)) < 0)
        return r;
    /* No domain of that name exists, so these are leftovers of a lost one. */
    remove_files(sock, console, data);

    dom = virDomainDefineXML(vmm->conn, xml);
    if (dom == NULL) {
        r = st_error_set(err, EIO, "node %s: libvirt refused the domain definition: %s", spec.name,
                         st_vmm_virt_error());
        st_vmm_node_discard(vmm, node, NULL);
        return r;
    }
    for (int attempt = 1; virDomainCreate(dom) < 0; attempt++) {
        if (attempt < ST_NODE_START_ATTEMPTS && start_error_transient()) {
            struct timespec ts = {0, ST_NODE_START_RETRY_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        r = st_error_set(err, EIO, "node %s: libvirt could not start %s: %s", spec.name,
                         node->domain, st_vmm_virt_error());
        st_vmm_node_discard(vmm, node, dom);
        return r;
    }
    if ((r = st_vmm_channel_open(node, ST_NODE_CHANNEL_CONNECT_MS, err)) < 0) {
        st_vmm_node_discard(vmm, node, dom);
        return r;
    }
    r = st_vmm_node_wait_ready(vmm, node, timeout, hello);
    if (r == 0)
        return 0;

    /* Destroy first: QEMU then has flushed everything the guest printed. */
    if (dom_active(dom))
        virDomainDestroy(dom);
    _cleanup_free_ char *tail = st_vmm_console_tail(console);
    if (r == -ETIMEDOUT)
        r = st_error_set(err, ETIMEDOUT,
                         "node %s: no hello within %d ms; destroyed it. Console (%s):%s", spec.name,
                         timeout, console, tail ? tail : " (empty)");
    else
        r = st_error_set(
            err, ECHILD, "node %s: the VM died before hello (%s); removed it. Console (%s):%s",
            spec.name, st_node_death_name(node->cause), console, tail ? tail : " (empty)");
    st_vmm_node_discard(vmm, node, dom);
    return r;
}

int st_vmm_node_send(st_vmm *vmm, const char *name, json_t *msg, st_error *err)
{
    _cleanup_node_ st_vmm_node *node = st_vmm_registry_get(vmm, name);
    if (node == NULL)
        return st_error_set(err, ENOENT, "node %s: not started by this process", name);
    return st_vmm_channel_send(node, msg, err);
}

/* ---- stop ------------------------------------------------------------- */

int st_vmm_node_destroy(st_vmm *vmm, const char *name, st_error *err)
{
    _cleanup_dom_ virDomainPtr dom = NULL;
    int r = lookup(vmm, name, &dom, err);
    if (r < 0)
        return r;
    if (!dom_active(dom))
        return 0;
    if (virDomainDestroy(dom) < 0 && dom_active(dom))
        return st_error_set(err, EIO, "node %s: libvirt could not destroy %s: %s", name,
                            virDomainGetName(dom), st_vmm_virt_error());
    return 0;
}

int st_vmm_node_shutdown(st_vmm *vmm, const char *name, int timeout_ms, st_error *err)
{
    _cleanup_dom_ virDomainPtr dom = NULL;
    int r = lookup(vmm, name, &dom, err);
    if (r < 0)
        return r;
    if (!dom_active(dom))
        return 0;
    if (timeout_ms <= 0)
        timeout_ms = ST_VMM_SHUTDOWN_TIMEOUT_MS_DEFAULT;
    /* A guest that ignores the ACPI power button is destroyed at the end. */
    if (virDomainShutdown(dom) == 0) {
        int64_t deadline = st_vmm_now_ns() + (int64_t)timeout_ms * 1000000;
        while (dom_active(dom) && st_vmm_now_ns() < deadline) {
            struct timespec ts = {0, ST_NODE_POLL_STATE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return st_vmm_node_destroy(vmm, name, err);
}

/* ---- metadata and listing --------------------------------------------- */

static void copy_text(char *dst, size_t len, xmlNodePtr n)
{
    xmlChar *t = xmlNodeGetContent(n);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
    xmlFree(t);
}

/* Fills info from our <strata:node> metadata; -ENOENT when there is none. */
static int read_metadata(virDomainPtr dom, st_vmm_node_info *info)
{
    _cleanup_free_ char *md =
        virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ST_NODE_XMLNS, 0);
    if (md == NULL)
        return -ENOENT;
    xmlDocPtr doc = xmlReadMemory(md, (int)strlen(md), "metadata.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return -EINVAL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    bool template = false;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *n = (const char *)c->name;
        if (strcmp(n, "name") == 0)
            copy_text(info->name, sizeof(info->name), c);
        else if (strcmp(n, "accel") == 0)
            copy_text(info->accel, sizeof(info->accel), c);
        else if (strcmp(n, "created") == 0)
            copy_text(info->created, sizeof(info->created), c);
        else if (strcmp(n, "stateDir") == 0)
            copy_text(info->state_dir, sizeof(info->state_dir), c);
        else if (strcmp(n, "template") == 0)
            template = true;
    }
    xmlFreeDoc(doc);
    /* a template VM being made (node_template.c) is nobody's node */
    if (template)
        return -ENOENT;
    return info->name[0] ? 0 : -EINVAL;
}

int st_vmm_node_list(st_vmm *vmm, st_vmm_node_info **nodes, size_t *count, st_error *err)
{
    virDomainPtr *doms = NULL;
    *nodes = NULL;
    *count = 0;
    int n = virConnectListAllDomains(vmm->conn, &doms, 0);
    if (n < 0)
        return st_error_set(err, EIO, "libvirt at %s: cannot list domains: %s", vmm->uri,
                            st_vmm_virt_error());
    st_vmm_node_info *out = calloc((size_t)n + 1, sizeof(*out));
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *dn = virDomainGetName(doms[i]);
        if (out && dn && strncmp(dn, ST_NODE_DOMAIN_PREFIX, strlen(ST_NODE_DOMAIN_PREFIX)) == 0) {
            st_vmm_node_info *info = &out[k];
            memset(info, 0, sizeof(*info));
            if (read_metadata(doms[i], info) == 0) {
                snprintf(info->domain, sizeof(info->domain), "%s", dn);
                int reason = 0;
                virDomainGetState(doms[i], &info->state, &reason, 0);
                info->running = dom_active(doms[i]);
                k++;
            }
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    if (out == NULL)
        return st_error_set(err, ENOMEM, "vmm: out of memory listing domains");
    *nodes = out;
    *count = k;
    return 0;
}

int st_vmm_node_adopt(st_vmm *vmm, const char *name, st_error *err)
{
    _cleanup_dom_ virDomainPtr dom = NULL;
    int r = lookup(vmm, name, &dom, err);
    if (r < 0)
        return r;
    st_vmm_node_info info = {0};
    if (read_metadata(dom, &info) < 0)
        return st_error_set(err, EINVAL,
                            "node %s: %s carries no Strata metadata; it was not made by Strata",
                            name, virDomainGetName(dom));
    if (!dom_active(dom))
        return st_error_set(err, ESRCH, "node %s: %s is not running", name, virDomainGetName(dom));
    st_node_spec spec = {.name = name, .state_dir = info.state_dir[0] ? info.state_dir : NULL};
    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL;
    if ((r = st_node_spec_paths(&spec, &sock, &console, &data, err)) < 0)
        return r;
    _cleanup_node_ st_vmm_node *node = st_vmm_node_new(vmm, name, sock, console, data);
    if (node == NULL)
        return st_error_set(err, ENOMEM, "node %s: out of memory", name);
    if ((r = st_vmm_registry_add(vmm, node, err)) < 0)
        return r;
    if ((r = st_vmm_channel_open(node, ST_NODE_CHANNEL_CONNECT_MS, err)) < 0) {
        st_vmm_registry_remove(vmm, node);
        return r;
    }
    return 0;
}

int st_vmm_node_undefine(st_vmm *vmm, const char *name, st_error *err)
{
    _cleanup_dom_ virDomainPtr dom = NULL;
    int r = lookup(vmm, name, &dom, err);
    if (r < 0)
        return r;
    if (dom_active(dom))
        return st_error_set(err, EBUSY,
                            "node %s: %s is running; destroy or shut it down before undefining",
                            name, virDomainGetName(dom));
    st_vmm_node_info info = {0};
    bool have_md = read_metadata(dom, &info) == 0;
    if (virDomainUndefine(dom) < 0)
        return st_error_set(err, EIO, "node %s: libvirt could not undefine %s: %s", name,
                            virDomainGetName(dom), st_vmm_virt_error());
    _cleanup_node_ st_vmm_node *node = st_vmm_registry_get(vmm, name);
    if (node) {
        st_vmm_registry_remove(vmm, node);
        remove_files(node->sock_path, node->console_path, node->data_path);
    } else if (have_md && info.state_dir[0]) {
        st_node_spec s = {.name = name, .state_dir = info.state_dir};
        _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL;
        if (st_node_spec_paths(&s, &sock, &console, &data, NULL) == 0)
            remove_files(sock, console, data);
    }
    return 0;
}
