/* registry_fx.c: see registry_fx.h. Readiness is the port accepting a
 * connection (no HTTP client here: every test links this folder). */
#include "registry_fx.h"
#include "testutil.h"

#include "strata/cleanup.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static bool accepts(void *arg)
{
    int port = *(int *)arg;
    _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
}

pid_t st_registry_start(const char *dir, const char *name, const char *htpasswd, char *hostport,
                        size_t len)
{
    int port = st_test_free_port();
    if (port < 0)
        return -1;
    snprintf(hostport, len, "127.0.0.1:%d", port);
    char conf[512], log[512], text[2048];
    snprintf(conf, sizeof(conf), "%s/%s.yml", dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    int n = snprintf(text, sizeof(text),
                     "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                     "    rootdirectory: %s/data\nhttp:\n  addr: %s\n",
                     dir, hostport);
    if (htpasswd)
        snprintf(text + n, sizeof(text) - (size_t)n,
                 "auth:\n  htpasswd:\n    realm: strata-test\n    path: %s\n", htpasswd);
    st_test_write_file(conf, text);

    pid_t pid = fork();
    if (pid == 0) {
        /* dies with the test, whatever way the test ends */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/usr/bin/docker-registry", "docker-registry", "serve", conf, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || !st_test_wait_until(accepts, &port, 20000, 50)) {
        char *l = st_test_read_file(log);
        fprintf(stderr, "docker-registry %s did not come up on %s (run scripts/setup):\n%s\n", name,
                hostport, l ? l : "(no log)");
        free(l);
        if (pid > 0)
            st_pid_killp(&pid);
        return -1;
    }
    return pid;
}

int st_registry_push(const char *layout, const char *tag, const char *hostport, const char *repo)
{
    char *err = NULL;
    int rc = st_test_sh(NULL, &err,
                        "skopeo --insecure-policy copy -q --dest-tls-verify=false oci:%s:%s "
                        "docker://%s/%s",
                        layout, tag, hostport, repo);
    if (rc != 0)
        fprintf(stderr, "skopeo copy oci:%s:%s to %s/%s failed (%d): %s\n", layout, tag, hostport,
                repo, rc, err ? err : "");
    free(err);
    return rc;
}
