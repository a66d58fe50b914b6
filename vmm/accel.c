/* accel.c: the accelerator choice (see accel.h). Reads only the given root
 * tree; it must never start a guest to probe KVM, because on a kvm-pvm host
 * that guest would hang instead of failing. */
#include "strata/accel.h"
#include "strata/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* KVM's stable API version since Linux 2.6.22. */
#define ST_KVM_API_VERSION 12

int st_accel_parse(const char *text, st_accel *out, st_error *err)
{
    if (text == NULL || strcmp(text, "auto") == 0)
        *out = ST_ACCEL_AUTO;
    else if (strcmp(text, "kvm") == 0)
        *out = ST_ACCEL_KVM;
    else if (strcmp(text, "tcg") == 0)
        *out = ST_ACCEL_TCG;
    else
        return st_error_set(err, EINVAL, "accel: unknown value '%s': use auto, kvm or tcg", text);
    return 0;
}

const char *st_accel_name(st_accel accel)
{
    switch (accel) {
    case ST_ACCEL_KVM:
        return "kvm";
    case ST_ACCEL_TCG:
        return "tcg";
    case ST_ACCEL_AUTO:
        break;
    }
    return "auto";
}

static void join_root(char *buf, size_t len, const char *root, const char *path)
{
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    snprintf(buf, len, "%.*s%s", (int)rl, root, path);
}

/* 0 when usable; otherwise a positive errno with why in why[]. */
static int kvm_usable(const char *dev, char *why, size_t whylen)
{
    struct stat st;
    if (stat(dev, &st) < 0) {
        int e = errno;
        snprintf(why, whylen, "/dev/kvm: %s", strerror(e));
        return e;
    }
    _cleanup_close_ int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, whylen, "/dev/kvm cannot be opened read-write: %s", strerror(e));
        return e;
    }
    /* A fake tree holds a regular file; only a real device can be asked. */
    if (S_ISCHR(st.st_mode)) {
        int v = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (v != ST_KVM_API_VERSION) {
            snprintf(why, whylen, "/dev/kvm answers KVM_GET_API_VERSION with %d, not %d", v,
                     ST_KVM_API_VERSION);
            return ENODEV;
        }
    }
    return 0;
}

int st_accel_choose(const char *root, st_accel requested, st_accel_choice *out, st_error *err)
{
    char dev[4096], pvm[4096], why[200];
    if (root == NULL || *root == '\0')
        root = "/";
    join_root(dev, sizeof(dev), root, "/dev/kvm");
    join_root(pvm, sizeof(pvm), root, "/sys/module/kvm_pvm");
    out->accel = ST_ACCEL_TCG;
    out->reason[0] = '\0';

    if (requested == ST_ACCEL_TCG) {
        snprintf(out->reason, sizeof(out->reason), "tcg: requested");
        return 0;
    }
    int bad = kvm_usable(dev, why, sizeof(why));
    bool is_pvm = access(pvm, F_OK) == 0;
    if (requested == ST_ACCEL_KVM) {
        if (bad)
            return st_error_set(err, ENODEV,
                                "accel kvm: %s; load kvm_intel or kvm_amd and make /dev/kvm "
                                "group kvm mode 0660 (scripts/setup), or use accel tcg or auto",
                                why);
        out->accel = ST_ACCEL_KVM;
        snprintf(out->reason, sizeof(out->reason), "kvm: requested%s",
                 is_pvm ? " (warning: /dev/kvm is kvm-pvm, ordinary guests may hang)" : "");
        return 0;
    }
    if (bad) {
        snprintf(out->reason, sizeof(out->reason), "tcg: %s", why);
        return 0;
    }
    if (is_pvm) {
        snprintf(out->reason, sizeof(out->reason),
                 "tcg: /dev/kvm is kvm-pvm (/sys/module/kvm_pvm), which cannot boot an ordinary "
                 "guest kernel");
        return 0;
    }
    out->accel = ST_ACCEL_KVM;
    snprintf(out->reason, sizeof(out->reason), "kvm: /dev/kvm is usable");
    return 0;
}
