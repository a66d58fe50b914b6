/* node_template.h: booted node templates. The first node of an image and
 * size is booted with strata.template=1, waits for its identity, and is
 * saved (libvirt's virDomainSaveFlags) to DIR/<key>.save; later nodes are
 * restored from it as other domains and told who they are over the channel
 * (vmm/node_template.c). This header is the pure part, testable without
 * libvirt: the key, the save file's checks and the clone's domain XML.
 *
 * The key is a SHA-256 over everything the saved state depends on: the
 * kernel's and the initramfs' contents, memory, vcpus, accelerator, the
 * image share's folder and the QEMU and libvirt versions. A template made
 * from other files or another QEMU is never found under a new key, and is
 * dropped when a template of the same size is made again.
 *
 * A save is libvirt's file (a header with "LibvirtQemudSave", the domain
 * XML and a cookie in a padded area, then QEMU's migration stream) plus
 * DIR/<key>.done, written only once the save completed, which records the
 * key, the size, the file's length and the SHA-256 of QEMU's stream. libvirt checks a restore's XML
 * against the saved one and refuses another uuid or name; a clone's XML is
 * therefore written into the file's padded XML area before each restore
 * (one restore at a time per template: a stratad's own lock). */
#ifndef STRATA_NODE_TEMPLATE_H
#define STRATA_NODE_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/accel.h"
#include "strata/domain_xml.h"
#include "strata/error.h"

#define ST_TEMPLATE_KEY_LEN 65 /* 64 hex + NUL */
/* libvirt's save file header (qemu driver, version 2) */
#define ST_TEMPLATE_SAVE_MAGIC      "LibvirtQemudSave"
#define ST_TEMPLATE_SAVE_MAGIC_PART "LibvirtQemudPart" /* a save libvirt did not finish */
#define ST_TEMPLATE_SAVE_HEADER     92
#define ST_TEMPLATE_SAVE_VERSION    2
/* The XML area libvirt leaves is ~64 KiB; more is not a save of ours. */
#define ST_TEMPLATE_DATA_MAX (4u << 20)

typedef struct st_template_ident {
    char kernel_sha[ST_TEMPLATE_KEY_LEN];
    char initramfs_sha[ST_TEMPLATE_KEY_LEN];
    unsigned memory_mib;
    unsigned vcpus;
    st_accel accel;
    const char *images_dir; /* the 9p image share's folder (a clone keeps it); NULL: none */
    bool balloon_off;       /* no virtio-balloon (a clone keeps the template's devices) */
    unsigned long qemu_version;
    unsigned long libvirt_version;
} st_template_ident;

/* The key of id: 64 hex digits and a NUL into key. */
void st_template_key(const st_template_ident *id, char key[ST_TEMPLATE_KEY_LEN]);

/* SHA-256 of a file's contents as hex. Remembered per (device, inode,
 * size, mtime), so a node add does not read the kernel again. */
int st_template_file_sha256(const char *path, char hex[ST_TEMPLATE_KEY_LEN], st_error *err);

/* DIR/<key>.save and DIR/<key>.done (malloc'd; either out may be NULL). */
int st_template_paths(const char *dir, const char *key, char **save, char **done, st_error *err);

/* An open, checked save file. */
typedef struct st_template_file {
    int fd;
    off_t size;
    uint32_t data_len;
    char *xml;    /* the saved domain XML */
    char *cookie; /* libvirt's migration cookie (may be "") */
} st_template_file;

/* Opens save_path (read-write when rw) and checks it against done_path and
 * key: -ENOENT when either is missing; -EBADMSG when it is incomplete,
 * truncated, not a libvirt save or compressed; -ESTALE when it was made
 * for another key. err says which, for a person. */
int st_template_open(const char *save_path, const char *done_path, const char *key, bool rw,
                     st_template_file *out, st_error *err);
void st_template_close(st_template_file *f);
/* st_template_open + close. */
int st_template_check(const char *save_path, const char *done_path, const char *key, st_error *err);

/* Writes xml (and the file's cookie) into the save's XML area. -E2BIG when
 * it does not fit. */
int st_template_rewrite(st_template_file *f, const char *xml, st_error *err);

/* Records a finished save: key, the template's size and the save's length,
 * written to a temporary file and renamed. */
int st_template_done_write(const char *done_path, const char *key, const st_template_ident *id,
                           off_t size, const char *stream_sha, st_error *err);
/* SHA-256 (hex) of a save's QEMU stream: everything after the XML area,
 * which a clone's rewrite never touches. */
int st_template_stream_sha256(const char *save_path, char hex[ST_TEMPLATE_KEY_LEN], st_error *err);
/* Checks the stream against the .done's streamSha256: -EBADMSG when they
 * differ or the .done has none (the saved state is corrupt). Reads the
 * whole save; node_template.c checks before every restore. */
int st_template_verify(const char *save_path, const char *done_path, st_error *err);

/* The saved domain XML turned into node spec's: its name, uuid, metadata
 * (the template marker dropped), channel, data port and console paths.
 * spec must be valid (st_node_spec_validate); uuid is its new uuid. */
int st_template_clone_xml(const char *xml, const st_node_spec *spec, const char *uuid, char **out,
                          st_error *err);

/* Removes the templates in dir whose .done names the same memory, vcpus
 * and accelerator as id but another key (an older image or QEMU), and
 * saves without a .done. keep is the key to keep. Returns how many. */
int st_template_drop_stale(const char *dir, const char *keep, const st_template_ident *id);
/* Removes every template in dir; returns how many, or a negative errno. */
int st_template_drop_all(const char *dir, st_error *err);

#endif
