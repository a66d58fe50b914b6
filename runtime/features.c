/* features.c: the features document, assembled from the loader's own name
 * tables (oci_config.c: hooks, mount options, namespaces, capabilities
 * through libcap) and the seccomp compiler's (seccomp.c: actions, operators,
 * architectures, flags). What is a constant here is what no table holds: the
 * cgroup managers (cgroup_v1.c and cgroup_v2.c, no systemd driver) and the
 * facilities the loader refuses (AppArmor, SELinux, Intel RDT, idmapped
 * mounts). Nothing here probes the host: the spec wants the document to say
 * what the runtime implements, not what this kernel offers. */
#include "strata/features.h"

#include <seccomp.h>
#include <stdio.h>

#include "strata/oci_config.h"
#include "strata/seccomp.h"

/* [names(0), names(1), ...] up to the first NULL. */
static json_t *names_array(const char *(*names)(size_t))
{
    json_t *a = json_array();
    for (size_t i = 0; a && names(i); i++)
        if (json_array_append_new(a, json_string(names(i))) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static const char *hook_name(size_t i)
{
    return i < ST_HOOK_KINDS ? st_oci_hook_names[i] : NULL;
}

static json_t *capabilities(void)
{
    json_t *a = json_array();
    char buf[64];
    for (size_t i = 0; a && st_oci_known_capability(i, buf); i++)
        if (json_array_append_new(a, json_string(buf)) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *seccomp_names(enum st_seccomp_names which)
{
    json_t *a = json_array();
    for (size_t i = 0; a && st_seccomp_known_name(which, i); i++)
        if (json_array_append_new(a, json_string(st_seccomp_known_name(which, i))) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *st_features_json(void)
{
    const struct scmp_version *v = seccomp_version();
    char libseccomp[32];
    snprintf(libseccomp, sizeof(libseccomp), "%u.%u.%u", v ? v->major : 0, v ? v->minor : 0,
             v ? v->micro : 0);
    /* Every flag the compiler accepts is also passed to seccomp(2): known
     * and supported are the same list. */
    return json_pack(
        "{s:s, s:s, s:o, s:o,"
        " s:{s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b},"
        "    s:{s:b, s:o, s:o, s:o, s:o, s:o},"
        "    s:{s:b}, s:{s:b}, s:{s:b}, s:{s:{s:b}}},"
        " s:{s:s, s:s}}",
        "ociVersionMin", ST_OCI_VERSION_MIN, "ociVersionMax", ST_OCI_VERSION_MAX, "hooks",
        names_array(hook_name), "mountOptions", names_array(st_oci_known_mount_option), "linux",
        "namespaces", names_array(st_oci_known_namespace), "capabilities", capabilities(), "cgroup",
        "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "rdma", 0, "seccomp", "enabled", 1,
        "actions", seccomp_names(ST_SECCOMP_ACTIONS), "operators",
        seccomp_names(ST_SECCOMP_OPERATORS), "archs", seccomp_names(ST_SECCOMP_ARCHS), "knownFlags",
        seccomp_names(ST_SECCOMP_FLAGS), "supportedFlags", seccomp_names(ST_SECCOMP_FLAGS),
        "apparmor", "enabled", 0, "selinux", "enabled", 0, "intelRdt", "enabled", 0,
        "mountExtensions", "idmap", "enabled", 0, "annotations", "org.strata.run.version",
        ST_RUNTIME_VERSION, "io.github.seccomp.libseccomp.version", libseccomp);
}
