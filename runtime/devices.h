/* devices.h (private to the runtime): which devices a container may use and
 * the nodes it finds in its /dev.
 *
 *  - The default devices (null, zero, full, random, urandom, tty) every
 *    container gets, made in its /dev tmpfs by mounts.c and allowed in its
 *    cgroup, with ptmx and the pts devices.
 *  - linux.devices: nodes made in the container (mknod; a bind of the host's
 *    node where mknod is not permitted, as in a user namespace).
 *  - linux.resources.devices: the rule list, completed with the defaults
 *    and linux.devices (allowed after the config's rules, as runc does),
 *    and a model of what the v1 devices cgroup makes of it: a default
 *    (allow or deny) and exceptions, where allow/deny only add or remove an
 *    identical entry. A rule whose effect the v1 kernel would drop (denying
 *    a device inside a wildcard that stays allowed) is refused, so v1 and
 *    v2 always agree.
 *  - The v2 BPF_CGROUP_DEVICE program: generated from the model (a few
 *    compares per exception, then the default), loaded with bpf(2) and
 *    attached to the cgroup's directory. */
#ifndef STRATA_DEVICES_H
#define STRATA_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/cgroup.h"
#include "strata/error.h"
#include "strata/oci_config.h"

struct st_default_device {
    const char *name; /* under /dev, or NULL for a rule without a node */
    char type;        /* 'c' */
    int64_t major, minor;
};

/* The default devices, NULL-name-terminated only after the node-less ones:
 * iterate with st_n_default_devices. */
extern const struct st_default_device st_default_devices[];
extern const size_t st_n_default_devices;

/* ---- rules and their model ---- */

/* What the v1 devices cgroup holds after a list of rules: the default and
 * the exceptions to it (type 'c' or 'b', major/minor -1 = any). */
struct st_devices_model {
    bool default_allow;
    struct st_device_rule *ex;
    size_t n, cap;
};

/* Applies rules in order to a fresh model (default allow: a new cgroup
 * under a root that allows everything). The first n_given rules are the
 * config's: one whose effect the kernel would silently drop (it partly
 * overlaps a wildcard exception it cannot remove) fails, naming
 * linux.resources.devices[i]; later ones (the runtime's) may be absorbed. */
int st_devices_model_build(const struct st_device_rule *rules, size_t n, size_t n_given,
                           struct st_devices_model *m, st_error *err);

/* The v1 kernel's decision for one access (ST_DEV_ACC_* bits, all of them
 * needed) to device type ('c'/'b') major:minor. */
bool st_devices_model_allows(const struct st_devices_model *m, char type, uint32_t major,
                             uint32_t minor, unsigned access);

void st_devices_model_clear(struct st_devices_model *m);

/* Completes res->device_rules (the config's n_given rules) with the default
 * devices and one rwm rule per linux.devices entry. Nothing is added when
 * the config gave no rules: the cgroup then keeps its parent's access.
 * Then builds the model once to refuse what v1 cannot express. */
int st_devices_complete_rules(struct st_resources *res, const struct st_oci_device *devs,
                              size_t n_devs, st_error *err);

/* "c 1:3 rw", "b *:* m", "a" (v1 devices.allow/deny syntax). */
void st_device_rule_format(const struct st_device_rule *r, char *buf, size_t size);

/* ---- the v2 program ---- */

struct bpf_insn;

/* The BPF_PROG_TYPE_CGROUP_DEVICE instructions deciding as m does:
 * malloc'd, *n instructions. */
int st_devices_bpf_program(const struct st_devices_model *m, struct bpf_insn **out, size_t *n,
                           st_error *err);

/* Builds the program for rules, loads it and attaches it to the cgroup2
 * directory dir (BPF_F_ALLOW_MULTI: a parent's program still applies). The
 * attachment lives as long as the cgroup. */
int st_devices_bpf_attach(const char *dir, const struct st_device_rule *rules, size_t n,
                          st_error *err);

/* ---- nodes, in the container's mount namespace before pivot_root ---- */

/* linux.devices under c->root_path. */
int st_devices_create(const struct st_oci_config *c, st_error *err);

#endif
