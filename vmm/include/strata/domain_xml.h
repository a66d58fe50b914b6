/* domain_xml.h: a node spec (what a Strata node VM is) and the libvirt domain
 * XML made from it. Pure: no libvirt call, no file access, so the output is
 * checked byte for byte against golden files. Every value is XML-escaped. */
#ifndef STRATA_DOMAIN_XML_H
#define STRATA_DOMAIN_XML_H

#include <stdbool.h>
#include <time.h>

#include "strata/accel.h"
#include "strata/error.h"

/* Every Strata domain is named "strata-" + node name; leak checks and
 * re-adoption rely on the prefix. */
#define ST_NODE_DOMAIN_PREFIX      "strata-"
#define ST_NODE_XMLNS              "https://strata.dev/xmlns/node/1"
#define ST_NODE_XMLNS_PREFIX       "strata"
#define ST_NODE_NAME_MAX           48
#define ST_NODE_VCPUS_DEFAULT      1
#define ST_NODE_MEMORY_DEFAULT_MIB 192
#define ST_NODE_MEMORY_MIN_MIB     64
#define ST_NODE_VCPUS_MAX          64
/* The fixed kernel command line; " strata.node=NAME" follows it. Flags for
 * boot time under TCG: cryptomgr.notests skips crypto self-tests (~0.4 s);
 * acpi=noirq routes interrupts by the firmware's MP and PIR tables instead
 * of ACPI interrupt links, whose set-up costs ~0.1 s per PCI device (ACPI
 * itself stays on: timers, PCI windows, power button; pci=noacpi would also
 * drop the PCI windows and make the kernel move BARs); no_timer_check skips
 * a ~20 ms timer interrupt test; initcall_blacklist skips built-in set-ups a
 * node never uses (~50 ms): the CTR-KDF self-test that cryptomgr.notests
 * does not cover, zswap (a node has no swap), the PS/2 controller. */
#define ST_NODE_CMDLINE_BASE                                                                       \
    "console=ttyS0 quiet tsc=reliable nokaslr mitigations=off cryptomgr.notests acpi=noirq "       \
    "no_timer_check initcall_blacklist=crypto_kdf108_init,init_zswap,i8042_init panic=-1 "         \
    "rdinit=/init"
/* Where node sockets and console logs go when the spec names no state dir
 * (a tmpfs). QEMU runs as libvirt-qemu (Debian's default qemu.conf, left
 * unchanged): a root-owned state dir of mode 0755 works, as do a kernel and
 * initramfs readable by others in folders others may enter (checked here;
 * the boot files keep their owner after the VM stops). */
#define ST_NODE_STATE_DIR_DEFAULT "/run/strata/nodes"
/* "<state_dir>/<name>" + this: the data port's socket */
#define ST_NODE_DATA_SOCK_SUFFIX ".data.sock"

typedef struct st_node_spec {
    const char *name;          /* [a-z0-9][a-z0-9-]*, at most ST_NODE_NAME_MAX */
    unsigned vcpus;            /* 0 → 1 */
    unsigned memory_mib;       /* 0 → 192; below 64 is refused */
    st_accel accel;            /* KVM or TCG (resolve AUTO with st_accel_choose first) */
    const char *kernel;        /* ELF vmlinux or bzImage, absolute path */
    const char *initramfs;     /* newc cpio, absolute path */
    const char *cmdline_extra; /* optional, appended after strata.node=NAME */
    const char *state_dir;     /* NULL → ST_NODE_STATE_DIR_DEFAULT */
    const char *images_dir;    /* optional: shared read-only over 9p as "strata-images" */
    time_t created;            /* metadata timestamp; 0 → now */
    bool balloon_off;          /* no virtio-balloon (bench/density's peer); false → on */
    const char *template_key;  /* a template VM's key (<strata:template>); NULL for a node */
} st_node_spec;

/* Checks the fields that need no file access (name, vcpus, memory, accel,
 * paths absolute, socket path short enough). */
int st_node_spec_validate(const st_node_spec *spec, st_error *err);

/* The state files of a node: "<state_dir>/<name>.sock" (the node channel,
 * QEMU listens on it), "<state_dir>/<name>.console.log" (the serial
 * console) and "<state_dir>/<name>.data.sock" (the data port: Service
 * traffic). Each malloc'd; any out pointer may be NULL. */
int st_node_spec_paths(const st_node_spec *spec, char **socket_path, char **console_path,
                       char **data_path, st_error *err);

/* The full domain XML (malloc'd, caller frees) for a validated spec. */
int st_domain_xml_build(const st_node_spec *spec, char **xml, st_error *err);

#endif
