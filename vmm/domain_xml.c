/* domain_xml.c: a node spec → libvirt domain XML, through libxml2's
 * xmlTextWriter so every value is escaped. Pure: no libvirt, no file access;
 * tests compare the output byte for byte with the golden files in tests/vmm/golden. */
#include "strata/domain_xml.h"
#include "strata/cleanup.h"
#include "strata/names.h"
#include "strata/node_proto.h"
#include "strata/time.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <libxml/xmlwriter.h>

/* TCG's translation cache: libvirt 9.0 accepts <tcg><tb-cache> in <features>;
 * 32 MiB instead of QEMU's default saves ~15 MiB per node, no slowdown. */
#define ST_NODE_TB_CACHE_MIB 32
/* Under TCG the guest CPU is qemu64 plus RDRAND (TCG emulates it): the
 * kernel then seeds its RNG at boot, while without it the first read of
 * /dev/urandom (jansson's hash seed, in strata-node's hello) waits ~1 s for
 * jitter entropy. */
#define ST_NODE_TCG_CPU_MODEL   "qemu64"
#define ST_NODE_TCG_CPU_FEATURE "rdrand"

static const char *state_dir_of(const st_node_spec *spec)
{
    return spec->state_dir ? spec->state_dir : ST_NODE_STATE_DIR_DEFAULT;
}

static int check_name(const char *name, st_error *err)
{
    if (name == NULL || *name == '\0')
        return st_error_set(err, EINVAL, "node name: missing; give a name such as n1");
    size_t n = strlen(name);
    if (n > ST_NODE_NAME_MAX)
        return st_error_set(err, EINVAL, "node name '%s': longer than %d characters", name,
                            ST_NODE_NAME_MAX);
    if (!st_name_dns_label_ok(name))
        return st_error_set(err, EINVAL,
                            "node name '%s': use lowercase letters, digits and '-' (not first "
                            "or last); it goes into a domain name, a path and the kernel "
                            "command line",
                            name);
    return 0;
}

static int check_abs(const char *field, const char *path, bool required, st_error *err)
{
    if (path == NULL || *path == '\0') {
        if (required)
            return st_error_set(err, EINVAL, "node spec: %s is missing", field);
        return 0;
    }
    if (path[0] != '/')
        return st_error_set(err, EINVAL,
                            "node spec: %s '%s' must be an absolute path (libvirt resolves it "
                            "in its own working directory)",
                            field, path);
    return 0;
}

int st_node_spec_validate(const st_node_spec *spec, st_error *err)
{
    int r = check_name(spec->name, err);
    if (r < 0)
        return r;
    if (spec->vcpus > ST_NODE_VCPUS_MAX)
        return st_error_set(err, EINVAL, "node %s: vcpus %u: at most %d", spec->name, spec->vcpus,
                            ST_NODE_VCPUS_MAX);
    if (spec->memory_mib != 0 && spec->memory_mib < ST_NODE_MEMORY_MIN_MIB)
        return st_error_set(err, EINVAL,
                            "node %s: memory %u MiB: too little memory, a node needs at least "
                            "%d MiB",
                            spec->name, spec->memory_mib, ST_NODE_MEMORY_MIN_MIB);
    if (spec->accel != ST_ACCEL_KVM && spec->accel != ST_ACCEL_TCG)
        return st_error_set(err, EINVAL,
                            "node %s: accel must be resolved to kvm or tcg (st_accel_choose) "
                            "before building the domain",
                            spec->name);
    if ((r = check_abs("kernel", spec->kernel, true, err)) < 0 ||
        (r = check_abs("initramfs", spec->initramfs, true, err)) < 0 ||
        (r = check_abs("state_dir", state_dir_of(spec), true, err)) < 0 ||
        (r = check_abs("images_dir", spec->images_dir, false, err)) < 0)
        return r;
    struct sockaddr_un sun;
    /* the data port's socket has the longer name */
    size_t need =
        strlen(state_dir_of(spec)) + 1 + strlen(spec->name) + strlen(ST_NODE_DATA_SOCK_SUFFIX) + 1;
    if (need > sizeof(sun.sun_path))
        return st_error_set(err, ENAMETOOLONG,
                            "node %s: state dir '%s' is too long for the channel socket path "
                            "(a unix socket path holds %zu bytes); use a shorter state dir",
                            spec->name, state_dir_of(spec), sizeof(sun.sun_path) - 1);
    return 0;
}

int st_node_spec_paths(const st_node_spec *spec, char **socket_path, char **console_path,
                       char **data_path, st_error *err)
{
    _cleanup_free_ char *sock = NULL, *cons = NULL, *data = NULL;
    const char *dir = state_dir_of(spec);
    if (asprintf(&sock, "%s/%s.sock", dir, spec->name) < 0 ||
        asprintf(&cons, "%s/%s.console.log", dir, spec->name) < 0 ||
        asprintf(&data, "%s/%s" ST_NODE_DATA_SOCK_SUFFIX, dir, spec->name) < 0)
        return st_error_set(err, ENOMEM, "node %s: out of memory", spec->name);
    if (socket_path)
        *socket_path = st_steal_ptr(&sock);
    if (console_path)
        *console_path = st_steal_ptr(&cons);
    if (data_path)
        *data_path = st_steal_ptr(&data);
    return 0;
}

/* ---- writing --------------------------------------------------------- */

#define X(s) ((const xmlChar *)(s))
/* Each writer call returns < 0 on failure; the first failure ends the build. */
#define W(call)                                                                                    \
    do {                                                                                           \
        if ((call) < 0)                                                                            \
            return -1;                                                                             \
    } while (0)

static int el(xmlTextWriterPtr w, const char *name, const char *text)
{
    return xmlTextWriterWriteElement(w, X(name), X(text));
}

static int el_attr(xmlTextWriterPtr w, const char *name, const char *attr, const char *value)
{
    W(xmlTextWriterStartElement(w, X(name)));
    W(xmlTextWriterWriteAttribute(w, X(attr), X(value)));
    return xmlTextWriterEndElement(w);
}

static int write_metadata(xmlTextWriterPtr w, const st_node_spec *spec, const char *created)
{
    W(xmlTextWriterStartElement(w, X("metadata")));
    W(xmlTextWriterStartElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("node"), X(ST_NODE_XMLNS)));
    W(xmlTextWriterWriteElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("name"), NULL, X(spec->name)));
    W(xmlTextWriterWriteElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("accel"), NULL,
                                  X(st_accel_name(spec->accel))));
    W(xmlTextWriterWriteElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("created"), NULL, X(created)));
    W(xmlTextWriterWriteElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("stateDir"), NULL,
                                  X(state_dir_of(spec))));
    if (spec->template_key)
        W(xmlTextWriterWriteElementNS(w, X(ST_NODE_XMLNS_PREFIX), X("template"), NULL,
                                      X(spec->template_key)));
    W(xmlTextWriterEndElement(w));
    return xmlTextWriterEndElement(w);
}

static int write_os(xmlTextWriterPtr w, const st_node_spec *spec, const char *cmdline)
{
    W(xmlTextWriterStartElement(w, X("os")));
    W(xmlTextWriterStartElement(w, X("type")));
    W(xmlTextWriterWriteAttribute(w, X("arch"), X("x86_64")));
    W(xmlTextWriterWriteAttribute(w, X("machine"), X("pc")));
    W(xmlTextWriterWriteString(w, X("hvm")));
    W(xmlTextWriterEndElement(w));
    W(el(w, "kernel", spec->kernel));
    W(el(w, "initrd", spec->initramfs));
    W(el(w, "cmdline", cmdline));
    return xmlTextWriterEndElement(w);
}

static int write_features(xmlTextWriterPtr w, const st_node_spec *spec)
{
    W(xmlTextWriterStartElement(w, X("features")));
    /* ACPI stays on: with acpi=off a busy host's guests fail TSC calibration. */
    W(xmlTextWriterStartElement(w, X("acpi")));
    W(xmlTextWriterEndElement(w));
    if (spec->accel == ST_ACCEL_TCG) {
        W(xmlTextWriterStartElement(w, X("tcg")));
        W(xmlTextWriterStartElement(w, X("tb-cache")));
        W(xmlTextWriterWriteAttribute(w, X("unit"), X("MiB")));
        W(xmlTextWriterWriteFormatString(w, "%d", ST_NODE_TB_CACHE_MIB));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
    }
    return xmlTextWriterEndElement(w);
}

static int write_cpu(xmlTextWriterPtr w, const st_node_spec *spec)
{
    if (spec->accel != ST_ACCEL_TCG)
        return 0;
    W(xmlTextWriterStartElement(w, X("cpu")));
    W(xmlTextWriterWriteAttribute(w, X("mode"), X("custom")));
    W(xmlTextWriterWriteAttribute(w, X("match"), X("exact")));
    W(xmlTextWriterWriteAttribute(w, X("check"), X("none")));
    W(xmlTextWriterStartElement(w, X("model")));
    W(xmlTextWriterWriteAttribute(w, X("fallback"), X("forbid")));
    W(xmlTextWriterWriteString(w, X(ST_NODE_TCG_CPU_MODEL)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, X("feature")));
    W(xmlTextWriterWriteAttribute(w, X("policy"), X("require")));
    W(xmlTextWriterWriteAttribute(w, X("name"), X(ST_NODE_TCG_CPU_FEATURE)));
    W(xmlTextWriterEndElement(w));
    return xmlTextWriterEndElement(w);
}

/* A virtio-serial port named port in the guest, a unix socket QEMU binds
 * (listens on) at path on the host; the host connects after start, and a
 * guest that writes before that blocks, so nothing is lost. */
static int write_channel(xmlTextWriterPtr w, const char *path, const char *port)
{
    W(xmlTextWriterStartElement(w, X("channel")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X("unix")));
    W(xmlTextWriterStartElement(w, X("source")));
    W(xmlTextWriterWriteAttribute(w, X("mode"), X("bind")));
    W(xmlTextWriterWriteAttribute(w, X("path"), X(path)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, X("target")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X("virtio")));
    W(xmlTextWriterWriteAttribute(w, X("name"), X(port)));
    W(xmlTextWriterEndElement(w));
    return xmlTextWriterEndElement(w);
}

/* A virtio-balloon for its free page reporting (the guest's /init loads
 * the driver): the guest hands the pages it frees back to QEMU, which drops
 * them, so an idle node's QEMU holds what the guest uses, not all it was
 * ever given (measured under TCG: bench/density). The balloon is never
 * inflated; no statistics polling, which would wake an idle guest. */
static int write_memballoon(xmlTextWriterPtr w, const st_node_spec *spec)
{
    W(xmlTextWriterStartElement(w, X("memballoon")));
    W(xmlTextWriterWriteAttribute(w, X("model"), X(spec->balloon_off ? "none" : "virtio")));
    if (!spec->balloon_off)
        W(xmlTextWriterWriteAttribute(w, X("freePageReporting"), X("on")));
    return xmlTextWriterEndElement(w);
}

static int write_devices(xmlTextWriterPtr w, const st_node_spec *spec, const char *sock,
                         const char *data, const char *console)
{
    W(xmlTextWriterStartElement(w, X("devices")));
    /* No USB controller: the guest's USB host driver spends ~0.2 s on it at
     * boot (TCG) and a node has no USB device. No ACPI hotplug on the PCI
     * root bus: nothing is hotplugged into a node, and the guest then has
     * fewer ACPI slot objects to set up. */
    W(xmlTextWriterStartElement(w, X("controller")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X("usb")));
    W(xmlTextWriterWriteAttribute(w, X("model"), X("none")));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, X("controller")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X("pci")));
    W(xmlTextWriterWriteAttribute(w, X("model"), X("pci-root")));
    W(el_attr(w, "target", "hotplug", "off"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, X("controller")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X("virtio-serial")));
    W(xmlTextWriterWriteAttribute(w, X("index"), X("0")));
    W(xmlTextWriterEndElement(w));

    /* Two ports: the node protocol, and the data path (Service traffic,
     * port-forward) on its own, so bytes in flight never delay a
     * heartbeat. */
    W(write_channel(w, sock, ST_PROTO_PORT_NAME));
    W(write_channel(w, data, ST_PROTO_DATA_PORT_NAME));

    const char *kinds[] = {"serial", "console"};
    for (int i = 0; i < 2; i++) {
        W(xmlTextWriterStartElement(w, X(kinds[i])));
        W(xmlTextWriterWriteAttribute(w, X("type"), X("file")));
        W(el_attr(w, "source", "path", console));
        W(xmlTextWriterStartElement(w, X("target")));
        if (i == 1)
            W(xmlTextWriterWriteAttribute(w, X("type"), X("serial")));
        W(xmlTextWriterWriteAttribute(w, X("port"), X("0")));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
    }

    if (spec->images_dir && *spec->images_dir) {
        W(xmlTextWriterStartElement(w, X("filesystem")));
        W(xmlTextWriterWriteAttribute(w, X("type"), X("mount")));
        W(xmlTextWriterWriteAttribute(w, X("accessmode"), X("passthrough")));
        W(el_attr(w, "source", "dir", spec->images_dir));
        W(el_attr(w, "target", "dir", "strata-images"));
        W(xmlTextWriterStartElement(w, X("readonly")));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
    }
    W(write_memballoon(w, spec));
    return xmlTextWriterEndElement(w);
}

static int write_domain(xmlTextWriterPtr w, const st_node_spec *spec, const char *created,
                        const char *cmdline, const char *sock, const char *data,
                        const char *console)
{
    char num[32];
    W(xmlTextWriterStartElement(w, X("domain")));
    W(xmlTextWriterWriteAttribute(w, X("type"), X(spec->accel == ST_ACCEL_KVM ? "kvm" : "qemu")));
    W(xmlTextWriterWriteFormatElement(w, X("name"), "%s%s", ST_NODE_DOMAIN_PREFIX, spec->name));
    W(write_metadata(w, spec, created));
    W(xmlTextWriterStartElement(w, X("memory")));
    W(xmlTextWriterWriteAttribute(w, X("unit"), X("MiB")));
    snprintf(num, sizeof(num), "%u",
             spec->memory_mib ? spec->memory_mib : ST_NODE_MEMORY_DEFAULT_MIB);
    W(xmlTextWriterWriteString(w, X(num)));
    W(xmlTextWriterEndElement(w));
    snprintf(num, sizeof(num), "%u", spec->vcpus ? spec->vcpus : ST_NODE_VCPUS_DEFAULT);
    W(el(w, "vcpu", num));
    W(write_os(w, spec, cmdline));
    W(write_features(w, spec));
    W(write_cpu(w, spec));
    /* A node that powers off, reboots (panic=-1) or crashes is gone for
     * good: the host decides what runs again, never the guest. */
    W(el(w, "on_poweroff", "destroy"));
    W(el(w, "on_reboot", "destroy"));
    W(el(w, "on_crash", "destroy"));
    W(write_devices(w, spec, sock, data, console));
    W(xmlTextWriterEndElement(w));
    return xmlTextWriterEndDocument(w);
}

static void free_writer(xmlTextWriterPtr *w)
{
    if (*w)
        xmlFreeTextWriter(*w);
}
static void free_buffer(xmlBufferPtr *b)
{
    if (*b)
        xmlBufferFree(*b);
}

int st_domain_xml_build(const st_node_spec *spec, char **xml, st_error *err)
{
    int r = st_node_spec_validate(spec, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *sock = NULL, *console = NULL, *data = NULL, *cmdline = NULL;
    if ((r = st_node_spec_paths(spec, &sock, &console, &data, err)) < 0)
        return r;
    if (asprintf(&cmdline, "%s strata.node=%s%s%s", ST_NODE_CMDLINE_BASE, spec->name,
                 spec->cmdline_extra && *spec->cmdline_extra ? " " : "",
                 spec->cmdline_extra ? spec->cmdline_extra : "") < 0)
        return st_error_set(err, ENOMEM, "node %s: out of memory", spec->name);

    char created[ST_TIME_RFC3339_LEN];
    st_time_rfc3339(spec->created ? spec->created : time(NULL), created);

    __attribute__((cleanup(free_buffer))) xmlBufferPtr buf = xmlBufferCreate();
    if (buf == NULL)
        return st_error_set(err, ENOMEM, "node %s: out of memory for the domain XML", spec->name);
    __attribute__((cleanup(free_writer))) xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    if (w == NULL)
        return st_error_set(err, ENOMEM, "node %s: cannot create an XML writer", spec->name);
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, X("  "));
    if (write_domain(w, spec, created, cmdline, sock, data, console) < 0)
        return st_error_set(err, EIO,
                            "node %s: writing the domain XML failed (libxml2); a value may not "
                            "be valid UTF-8",
                            spec->name);
    free_writer(&w); /* flushes into buf */
    w = NULL;
    char *out = NULL;
    if (asprintf(&out, "%s\n", (const char *)xmlBufferContent(buf)) < 0)
        return st_error_set(err, ENOMEM, "node %s: out of memory", spec->name);
    *xml = out;
    return 0;
}
