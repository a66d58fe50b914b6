/* fake_server.h: a server for unit tests: the in-memory store and the fake
 * vmm (fake_vmm.h), no state dir, PostgreSQL or socket, an image store in
 * a temporary folder holding the build's busybox image, with what the
 * tests of the API and the node manager do to it. */
#ifndef STRATA_TEST_FAKE_SERVER_H
#define STRATA_TEST_FAKE_SERVER_H

#include "api_priv.h"
#include "fake_vmm.h"

/* The grace the test server fences by. */
#define FAKE_GRACE_MS 1000

struct fake_server {
    struct fake_vmm *vmm;
    struct st_server *d;
    char *images; /* the image store's temporary folder */
};

/* cmocka setup and teardown: *state is a struct fake_server. */
int fake_server_setup(void **state);
int fake_server_teardown(void **state);
/* cmocka-style: 0 or -1. */
int fake_server_open(struct fake_server *fs);
void fake_server_close(struct fake_server *fs);

/* Waits (bounded, real time) until no node start or fence worker runs. */
void fake_server_workers_done(struct fake_server *fs);
/* n controller passes, each a short step of the fake clock apart (never a
 * stall) with heartbeats from every node that is not silent. */
void fake_server_passes(struct fake_server *fs, int n, int step_ms);
/* `node add NAME` answered 201, its VM booted, and it is Ready. */
void fake_server_node_ready(struct fake_server *fs, const char *name);

/* The API: method, path (with a query string after '?'), body (may be
 * NULL). The status; *reply (may be NULL) the answer parsed as JSON. */
unsigned fake_server_call(struct fake_server *fs, const char *method, const char *path,
                          const char *body, json_t **reply);

/* The same with request headers; *warnings (may be NULL) the Warning
 * headers' texts (an array, empty when none). */
struct fake_request {
    const char *method, *path, *body;
    const char *accept, *content_type; /* NULL: none */
    size_t body_len;                   /* 0: strlen(body) (a protobuf body has NULs) */
    /* as if over the HTTPS port, with these headers (NULL: none) */
    bool tcp;
    const char *authorization, *cookie, *ui_header;
};
unsigned fake_server_request(struct fake_server *fs, const struct fake_request *r, json_t **reply,
                             json_t **warnings);
/* The same, the whole response in *out (cleared by the caller with
 * st_server_api_response_clear). */
void fake_server_respond(struct fake_server *fs, const struct fake_request *r,
                         struct st_server_response *out);

/* The stored object (new reference) or NULL. */
json_t *fake_server_get(struct fake_server *fs, const char *kind, const char *ns, const char *name);
/* A Node's Ready condition status ("True", "Unknown", "False"), or "". */
const char *fake_server_node_ready_status(json_t *node);

/* A Pod default/NAME, one busybox container (a new reference). Also for
 * the tests that only link this file (itest_change_tail.c). */
json_t *fake_server_pod(const char *name);
/* An object's metadata.resourceVersion as a number; asserts it has one. */
unsigned long long fake_server_rv(json_t *obj);

#endif
