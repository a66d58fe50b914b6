/* api_pki.h: the credentials of the API's HTTPS port (private to
 * agent/server/ and its unit tests). At first start stratad makes, under
 * STATE/pki (0700, every file 0600): a CA (ca.crt, ca.key), a server
 * certificate signed by it for the listen address (apiserver.crt,
 * apiserver.key; made again at every start, so a changed --api-listen is
 * always covered), and the admin bearer token (admin.token). STATE/kubeconfig
 * (0600) names the CA, the address and the token, so kubectl takes it as
 * it is. Nothing here is ever logged. */
#ifndef STRATA_SERVER_API_PKI_H
#define STRATA_SERVER_API_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

#define ST_API_LISTEN_DEFAULT "127.0.0.1:6443"

struct st_api_pki {
    char *ca_pem;          /* the CA certificate */
    char *cert_pem;        /* the server's certificate */
    char *key_pem;         /* the server's private key (PKCS#8) */
    char token[65];        /* the admin bearer token, hex */
    char kubeconfig[4096]; /* its path */
};

/* "HOST:PORT" (an IPv4 address; PORT 0 picks a free one) into its parts.
 * -EINVAL with a message saying the form. */
int st_api_listen_parse(const char *spec, char *host, size_t host_len, unsigned *port,
                        st_error *err);
/* true for 127.0.0.0/8. */
bool st_api_host_is_loopback(const char *host);

/* Loads the CA and token under state_dir/pki (making them the first time)
 * and makes a server certificate for host. */
int st_api_pki_load(const char *state_dir, const char *host, struct st_api_pki *out, st_error *err);
/* Writes state_dir/kubeconfig (0600, atomically) for https://host:port. */
int st_api_pki_write_kubeconfig(struct st_api_pki *pki, const char *state_dir, const char *host,
                                unsigned port, st_error *err);
/* The kubeconfig's text (read back from its file). */
int st_api_pki_read_kubeconfig(const struct st_api_pki *pki, char **text, st_error *err);
/* "Bearer TOKEN" that matches, compared in constant time. */
bool st_api_pki_authorized(const struct st_api_pki *pki, const char *authorization);
void st_api_pki_free(struct st_api_pki *pki);

#endif
