/* names.h: the rules for names every layer checks, written once so that
 * stratad, stratactl and strata-node agree: DNS labels and subdomains (RFC
 * 1123, as Kubernetes validates object names) and image references.
 *
 * Images: the store keeps one folder per image, so an image name is one
 * path component of the OCI distribution reference grammar
 * ([a-z0-9]+ joined by '.', '_', "__" or runs of '-'; no registry, no '/'),
 * at most ST_NAME_IMAGE_MAX characters. A reference (a Pod's `image`) is
 * NAME[:TAG][@DIGEST] with the grammar's tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})
 * and digest (ALGORITHM:HEX, at least 32 hex digits).
 * It must not look anything up (in the store, a registry or the file
 * system): it only says whether a text is well formed. */
#ifndef STRATA_NAMES_H
#define STRATA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

#define ST_NAME_DNS_LABEL_MAX     63
#define ST_NAME_DNS_SUBDOMAIN_MAX 253
/* A folder name with room for the import's temporary prefix. */
#define ST_NAME_IMAGE_MAX 63
#define ST_NAME_TAG_MAX   128

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
bool st_name_dns_label_ok(const char *s);

/* RFC 1123 subdomain: labels joined by '.', at most 253. */
bool st_name_dns_subdomain_ok(const char *s);

/* An image name (one folder of the image store). */
bool st_name_image_ok(const char *s);

/* An image reference split into its parts. */
struct st_image_ref {
    char name[ST_NAME_IMAGE_MAX + 1];
    char tag[ST_NAME_TAG_MAX + 1]; /* "" when the reference has none */
    const char *digest;            /* points into the reference; NULL when none */
};

/* Parses NAME[:TAG][@DIGEST]; -EINVAL with a message saying the rule. */
int st_name_image_ref_parse(const char *ref, struct st_image_ref *out, st_error *err);

#endif
