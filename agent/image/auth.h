/* auth.h: what a registry pull needs to authenticate, kept apart from the
 * HTTP so it is testable without a registry (private to agent/image/ and its
 * tests): reading a WWW-Authenticate header (RFC 7235: one or more
 * challenges, each a scheme and auth-params, values as tokens or quoted
 * strings) and finding a host's credentials in a Kubernetes
 * dockerconfigjson. Neither ever puts a secret in an error message. */
#ifndef STRATA_IMAGE_AUTH_H
#define STRATA_IMAGE_AUTH_H

#include "strata/error.h"

enum st_image_auth_scheme {
    ST_IMAGE_AUTH_BASIC = 1,
    ST_IMAGE_AUTH_BEARER,
};

/* The challenge a pull answers: a registry may offer several (Bearer and
 * Basic); Bearer is taken when it has a realm, else Basic. Parameters the
 * registry did not send are "". */
struct st_image_challenge {
    enum st_image_auth_scheme scheme;
    char realm[1024];
    char service[256];
    char scope[1024];
};

/* Parses one WWW-Authenticate value. -EINVAL when it is malformed (an
 * unterminated quoted string, a parameter before any scheme, a value too
 * long); -ENOTSUP when it offers neither Basic nor Bearer with a realm (err
 * names the schemes it offers). */
int st_image_auth_challenge_parse(const char *header, struct st_image_challenge *c, st_error *err);

/* The credentials for host ("HOST[:PORT]", as the image reference has it)
 * in config, the content of a kubernetes.io/dockerconfigjson Secret:
 * {"auths": {KEY: {"auth": base64("user:pass")} or {"username",
 * "password"}}}. KEY matches host as Docker reads it: with or without a
 * scheme ("https://") and a path ("/v1/"), the host compared without case.
 * On 0, *user and *pass are malloc'd. -ENOENT when config has no entry for
 * host (config may be NULL); -EINVAL when config is not such a document or
 * the entry is unreadable. */
int st_image_auth_lookup(const char *config, const char *host, char **user, char **pass,
                         st_error *err);

#endif
