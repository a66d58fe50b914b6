/* names.h: the rules for names every layer checks, written once so that
 * stratad, stratactl and strata-node agree: DNS labels and subdomains (RFC
 * 1123, as Kubernetes validates object names). Image references are the
 * image store's (strata/image.h, st_image_ref_parse).
 * It must not look anything up (in the store, a registry or the file
 * system): it only says whether a text is well formed. */
#ifndef STRATA_NAMES_H
#define STRATA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

#define ST_NAME_DNS_LABEL_MAX     63
#define ST_NAME_DNS_SUBDOMAIN_MAX 253

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
bool st_name_dns_label_ok(const char *s);

/* RFC 1123 subdomain: labels joined by '.', at most 253. */
bool st_name_dns_subdomain_ok(const char *s);

#endif
