/* main.c: stratad, the host agent. Parses flags, takes the state dir lock,
 * opens the store (its own PostgreSQL cluster unless --db), libvirt and the
 * API socket, re-adopts running nodes, then runs the controller loop until
 * SIGINT/SIGTERM. The loop only waits and dispatches; slow work (VM starts)
 * runs in workers. */
#include "stratad.h"
#include "strata/cleanup.h"
#include "strata/fs.h"
#include "strata/controller.h"
#include "strata/statedir.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stratad [--state-dir DIR] [--socket PATH] [--db DSN] [--libvirt URI]\n"
            "               [--node-image DIR] [--images DIR] [--grace-ms MS]\n"
            "  --state-dir DIR   state, private PostgreSQL, node sockets (default %s)\n"
            "  --socket PATH     the API socket, mode 0600 (default %s)\n"
            "  --db DSN          use this PostgreSQL server instead of a private cluster\n"
            "  --libvirt URI     libvirt connection (default qemu:///system)\n"
            "  --node-image DIR  vmlinux + initramfs.cpio for nodes (default: BINDIR/../image)\n"
            "  --images DIR      the image store (default STATE_DIR/images)\n"
            "  --grace-ms MS     fence a node silent this long (default %d)\n",
            STRATAD_STATE_DIR_DEFAULT, STRATAD_SOCKET_DEFAULT, STRATAD_GRACE_MS_DEFAULT);
}

/* The node image next to the binary: build/bin/stratad -> build/image. */
static char *default_node_image(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    char *out = NULL;
    if (asprintf(&out, "%s/../image", self) < 0)
        return NULL;
    char *real = realpath(out, NULL);
    if (real) {
        free(out);
        return real;
    }
    return out;
}

static int open_store(struct stratad *d, st_error *err)
{
    int r;
    const char *dsn = d->cfg.db_dsn;
    if (dsn == NULL) {
        stratad_log("starting the private PostgreSQL cluster in %s/pg", d->cfg.state_dir);
        if ((r = st_pg_embedded_start(d->cfg.state_dir, &d->pg, err)) < 0)
            return r;
        dsn = st_pg_embedded_dsn(d->pg);
    }
    if ((r = st_secret_key_load(d->cfg.state_dir, &d->key, err)) < 0)
        return r;
    int applied = 0;
    if ((r = st_store_pg_open(dsn, d->key, &applied, &d->store, err)) < 0)
        return r;
    stratad_log("store ready (%s; %d migration%s applied)", d->pg ? "private cluster" : "--db",
                applied, applied == 1 ? "" : "s");
    return 0;
}

static int setup(struct stratad *d, st_error *err)
{
    int r;
    /* A second stratad on a socket in use refuses before it makes a state
     * dir or runs initdb in it. */
    if ((r = stratad_api_socket_check(d->cfg.socket_path, err)) < 0 ||
        (r = st_statedir_lock(d->cfg.state_dir, &d->lock_fd, err)) < 0)
        return r;
    struct stat st;
    if (stat(d->cfg.state_dir, &st) == 0)
        chmod(d->cfg.state_dir, (st.st_mode & 07777) | S_IXOTH);
    if (asprintf(&d->nodes_dir, "%s/nodes", d->cfg.state_dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    if (d->cfg.images_dir)
        d->images_dir = strdup(d->cfg.images_dir);
    else if (asprintf(&d->images_dir, "%s/images", d->cfg.state_dir) < 0)
        d->images_dir = NULL;
    if (d->images_dir == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    if ((r = st_fs_mkdir_mode(d->nodes_dir, 0755, err)) < 0 ||
        (r = st_fs_mkdir_mode(d->images_dir, 0755, err)) < 0)
        return r;
    if ((r = open_store(d, err)) < 0)
        return r;
    st_vmm_options vo = {.uri = d->cfg.libvirt_uri};
    if ((r = st_vmm_open(&vo, &d->vmm, err)) < 0) {
        st_error_prefix(err, "libvirt: ");
        return r;
    }
    if ((r = stratad_nodes_readopt(d, err)) < 0)
        return r;
    return stratad_api_start(d, err);
}

static void teardown(struct stratad *d)
{
    stratad_api_stop(d);
    stratad_nodes_drain(d);
    stratad_nodes_free(d);
    st_vmm_close(d->vmm);
    st_store_close(d->store);
    if (d->pg) {
        st_error err = {0};
        if (st_pg_embedded_stop(d->pg, &err) < 0)
            stratad_log("stopping PostgreSQL: %s", err.msg);
        st_pg_embedded_free(d->pg);
    }
    st_secret_key_free(d->key);
    json_decref(d->logs);
    if (d->kick_fd >= 0)
        close(d->kick_fd);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d->nodes_dir);
    free(d->images_dir);
}

static void controller_pass(struct stratad *d)
{
    st_error err = {0};
    stratad_nodes_events(d);
    unsigned long before = atomic_load(&d->generation);
    int bound = 0;
    if (st_control_gc(d->store, &err) < 0 || st_control_deployments(d->store, &err) < 0 ||
        st_control_schedule(d->store, &bound, &err) < 0 ||
        st_control_deployments(d->store, &err) < 0) {
        stratad_log("controllers: %s", err.msg);
        st_error_clear(&err);
    }
    stratad_nodes_dispatch(d);
    /* Watchers learn of what the controllers wrote. */
    if (atomic_load(&d->generation) == before) {
        atomic_fetch_add(&d->generation, 1);
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
    }
}

static int run(struct stratad *d)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        stratad_log("signalfd: %s", strerror(errno));
        return 1;
    }
    stratad_log("serving the API on %s", d->cfg.socket_path);
    while (!atomic_load(&d->stopping)) {
        struct pollfd p[3] = {
            {sfd, POLLIN, 0}, {d->kick_fd, POLLIN, 0}, {st_vmm_event_fd(d->vmm), POLLIN, 0}};
        /* At least every resync period, and when a node's grace ends. */
        int n = poll(p, 3, stratad_liveness_wait_ms(d, STRATAD_RESYNC_MS));
        if (n < 0 && errno != EINTR) {
            stratad_log("poll: %s", strerror(errno));
            return 1;
        }
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                stratad_log("got signal %u: shutting down (nodes keep running; a restarted "
                            "stratad re-adopts them)",
                            si.ssi_signo);
            atomic_store(&d->stopping, true);
            break;
        }
        if (p[1].revents & POLLIN) {
            uint64_t v;
            if (read(d->kick_fd, &v, sizeof(v)) < 0) {
                /* nonblocking: nothing to drain */
            }
        }
        controller_pass(d);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"socket", required_argument, NULL, 'S'},
        {"db", required_argument, NULL, 'd'},
        {"libvirt", required_argument, NULL, 'l'},
        {"node-image", required_argument, NULL, 'i'},
        {"images", required_argument, NULL, 'I'},
        {"grace-ms", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct stratad d = {
        .cfg = {.state_dir = STRATAD_STATE_DIR_DEFAULT,
                .socket_path = STRATAD_SOCKET_DEFAULT,
                .grace_ms = STRATAD_GRACE_MS_DEFAULT},
        .lock_fd = -1,
        .listen_fd = -1,
        .kick_fd = -1,
    };
    _cleanup_free_ char *image_default = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            d.cfg.state_dir = optarg;
            break;
        case 'S':
            d.cfg.socket_path = optarg;
            break;
        case 'd':
            d.cfg.db_dsn = optarg;
            break;
        case 'l':
            d.cfg.libvirt_uri = optarg;
            break;
        case 'i':
            d.cfg.node_image = optarg;
            break;
        case 'I':
            d.cfg.images_dir = optarg;
            break;
        case 'g':
            d.cfg.grace_ms = atoi(optarg);
            if (d.cfg.grace_ms < 100) {
                fprintf(stderr, "stratad: --grace-ms %s: give at least 100 (milliseconds)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stratad: unexpected argument %s (see stratad --help)\n", argv[optind]);
        return 2;
    }
    if (d.cfg.node_image == NULL)
        d.cfg.node_image = image_default = default_node_image();

    /* Signals are read from a signalfd by the loop; every thread inherits
     * the mask, so none of them is interrupted. SIGPIPE: a client that went
     * away is an error on that write only. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.changed, NULL);
    d.logs = json_object();
    d.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    st_error err = {0};
    int rc;
    if (d.kick_fd < 0) {
        fprintf(stderr, "stratad: eventfd: %s\n", strerror(errno));
        rc = 1;
    } else if (setup(&d, &err) < 0) {
        fprintf(stderr, "stratad: %s\n", err.msg);
        rc = 1;
    } else {
        rc = run(&d);
    }
    atomic_store(&d.stopping, true);
    teardown(&d);
    pthread_cond_destroy(&d.changed);
    pthread_mutex_destroy(&d.lock);
    return rc;
}
