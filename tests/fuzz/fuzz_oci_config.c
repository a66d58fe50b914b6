/* fuzz_oci_config.c: the OCI runtime config loader (runtime/oci_config.c)
 * from bytes, as `strata-run create` reads a bundle's config.json: jansson
 * with duplicate keys refused, then st_oci_config_from_json; a
 * linux.seccomp the loader accepted is compiled to BPF as create does
 * (runtime/seccomp.c), without loading it. */
#include "fuzz.h"

#include "strata/oci_config.h"
#include "strata/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL)
        return 0;
    struct st_oci_config *c = NULL;
    if (st_oci_config_from_json(root, "bundle/config.json", "/bundle", &c, NULL) == 0) {
        if (c->seccomp) {
            struct st_seccomp *s = NULL;
            if (st_seccomp_build(c->seccomp, "bundle/config.json: linux.seccomp", &s, NULL) == 0)
                st_seccomp_free(s);
        }
        st_oci_config_free(c);
    }
    json_decref(root);
    return 0;
}
