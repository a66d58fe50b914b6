/* accel.h: choosing how a node VM is accelerated: KVM when /dev/kvm can really
 * run an ordinary guest, QEMU TCG otherwise. The choice is a pure function of a
 * root directory (default "/"), so tests pass a fake /sys and /dev tree; it
 * never opens a VM to find out, and never hangs. */
#ifndef STRATA_ACCEL_H
#define STRATA_ACCEL_H

#include "strata/error.h"

typedef enum st_accel {
    ST_ACCEL_AUTO = 0, /* decide from the host (st_accel_choose) */
    ST_ACCEL_KVM,      /* libvirt <domain type='kvm'> */
    ST_ACCEL_TCG,      /* libvirt <domain type='qemu'>: QEMU's translator */
} st_accel;

#define ST_ACCEL_REASON_MAX 256

typedef struct st_accel_choice {
    st_accel accel;                   /* ST_ACCEL_KVM or ST_ACCEL_TCG, never AUTO */
    char reason[ST_ACCEL_REASON_MAX]; /* "tcg: /dev/kvm is kvm-pvm (...)" */
} st_accel_choice;

/* "auto", "kvm", "tcg" (and NULL → auto); anything else is EINVAL. */
int st_accel_parse(const char *text, st_accel *out, st_error *err);

/* "auto", "kvm" or "tcg". */
const char *st_accel_name(st_accel accel);

/* Resolves requested against the host seen under root (NULL → "/"):
 * auto → KVM only when root/dev/kvm exists, opens read-write (and, for a real
 * character device, answers KVM_GET_API_VERSION) and root/sys/module/kvm_pvm
 * does not exist (kvm-pvm hangs ordinary guests); TCG otherwise. kvm when
 * /dev/kvm is missing or unusable → ENODEV with what to do. tcg always works. */
int st_accel_choose(const char *root, st_accel requested, st_accel_choice *out, st_error *err);

#endif
