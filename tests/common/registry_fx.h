/* registry_fx.h: a real OCI distribution registry for the integration
 * tests: Debian's docker-registry on a free 127.0.0.1 port, a child of the
 * test (it dies with it), storage and log in a folder the test owns, Basic
 * auth from an htpasswd file when asked. Images are pushed to it with
 * skopeo, as anyone outside the project would. */
#ifndef STRATA_TEST_REGISTRY_FX_H
#define STRATA_TEST_REGISTRY_FX_H

#include <stddef.h>
#include <sys/types.h>

/* Starts the registry named name (its config and log are dir/NAME.yml and
 * dir/NAME.log; its storage dir/data, shared by the registries of dir),
 * with htpasswd auth when htpasswd is not NULL, and waits (bounded) until
 * it accepts connections. hostport gets "127.0.0.1:PORT". The pid, or -1
 * (the log printed). */
pid_t st_registry_start(const char *dir, const char *name, const char *htpasswd, char *hostport,
                        size_t len);

/* skopeo copy of the OCI layout's image tagged tag to
 * docker://HOSTPORT/REPO (plain HTTP). 0, or the exit status (printed). */
int st_registry_push(const char *layout, const char *tag, const char *hostport, const char *repo);

#endif
