/* template.c: strata-node in a template VM (strata.template=1 on the
 * kernel cmdline). The host boots such a VM once per image and size, waits
 * for `template_wait`, disconnects and saves it; every node restored from
 * the save wakes up here, still waiting, and learns who it is from the
 * host's `identity`. Everything a clone must not share with its siblings
 * is set here, before the agent starts: the kernel RNG gets the host's
 * random bytes (RNDADDENTROPY, then RNDRESEEDCRNG so the very next read
 * already depends on them), the hostname and /etc/machine-id are the
 * node's, the wall clock is stepped to the host's. The image store's 9p
 * share is mounted only now: QEMU refuses to save a VM with 9p mounted. */
#include "node.h"
#include "strata/cleanup.h"
#include "strata/node_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define ST_TEMPLATE_SEED_BYTES 64
#define ST_TEMPLATE_POLL_MS    20
#define ST_TEMPLATE_IDENTITY   "/run/strata/identity.cmdline"
#define ST_TEMPLATE_9P_TAG     "strata-images"
/* What the shrink leaves free while it zeroes the rest (see template_shrink). */
#define ST_TEMPLATE_FREE_KEEP_MIB 8
#define ST_TEMPLATE_ZERO_STEP_MIB 1

static bool template_flag(const char *cmdline)
{
    const char *key = ST_PROTO_CMDLINE_TEMPLATE "=1";
    for (const char *p = strstr(cmdline, key); p; p = strstr(p + 1, key))
        if ((p == cmdline || p[-1] == ' ') &&
            (p[strlen(key)] == '\0' || p[strlen(key)] == ' ' || p[strlen(key)] == '\n'))
            return true;
    return false;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits at most ms for the port's host end to change (virtio_console sends
 * SIGIO to the owner of an O_ASYNC port when the host opens or closes it):
 * a restored clone sees its host at once, not at the next poll. */
static void wait_port_change(const sigset_t *sigio, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    sigtimedwait(sigio, NULL, &ts);
}

/* Whether a host is on the port's other end (see transport_virtio.c). */
static bool host_connected(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
    return poll(&p, 1, 0) > 0 && !(p.revents & POLLHUP) && (p.revents & POLLOUT);
}

static int write_all(int fd, const char *s, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, s + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 1000) <= 0 || (p.revents & POLLHUP))
            return -EPIPE;
    }
    return 0;
}

/* Announces the wait to the host now connected; then reads its lines
 * until identity (1, *msg set), or the host leaves (0). */
static int serve_host(int fd, uint64_t *seq, json_t **msg, st_error *err)
{
    _cleanup_json_ json_t *wait = json_pack("{s:s}", "type", ST_PROTO_TEMPLATE_WAIT);
    _cleanup_free_ char *line = NULL;
    if (wait == NULL || st_proto_encode(wait, seq, &line, err) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    if (write_all(fd, line, strlen(line)) < 0)
        return 0;
    struct st_proto_reader rd;
    st_proto_reader_init(&rd);
    int out = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        st_error rerr = {0};
        int r = st_proto_reader_fill(&rd, fd, &rerr);
        if (r == -EAGAIN)
            continue;
        if (r <= 0)
            break; /* the host left: the VM may be saved now */
        const char *l;
        while ((r = st_proto_reader_next(&rd, &l, &rerr)) != 0) {
            json_t *m = NULL;
            const char *type = NULL;
            if (r < 0 || st_proto_decode(l, &m, &type, &rerr) < 0) {
                st_node_log("template: ignoring a line from the host: %s", rerr.msg);
                st_error_clear(&rerr);
                continue;
            }
            if (strcmp(type, ST_PROTO_IDENTITY) == 0) {
                *msg = m;
                out = 1;
                goto done;
            }
            json_decref(m);
        }
    }
done:
    st_proto_reader_free(&rd);
    return out;
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -EINVAL;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* The host's bytes into the kernel's input pool, credited (RNDADDENTROPY),
 * then a reseed of the CRNG from it (RNDRESEEDCRNG, Linux 4.17+): a clone
 * never hands out what its template or a sibling would. */
static int rng_reseed(const unsigned char *seed, size_t n, st_error *err)
{
    _cleanup_close_ int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_sys(err, errno, "template: open /dev/urandom");
    if (n > ST_TEMPLATE_SEED_BYTES)
        return st_error_set(err, EINVAL, "template: a seed of %zu bytes (at most %d)", n,
                            ST_TEMPLATE_SEED_BYTES);
    /* the request: the header, then the bytes (its flexible array) */
    _Alignas(struct rand_pool_info) unsigned char
        raw[sizeof(struct rand_pool_info) + ST_TEMPLATE_SEED_BYTES];
    memset(raw, 0, sizeof(raw));
    struct rand_pool_info *req = (struct rand_pool_info *)raw;
    req->entropy_count = (int)(n * 8);
    req->buf_size = (int)n;
    memcpy(req->buf, seed, n);
    int r = ioctl(fd, RNDADDENTROPY, req);
    explicit_bzero(raw, sizeof(raw));
    if (r < 0)
        return st_error_sys(err, errno, "template: RNDADDENTROPY on /dev/urandom");
    if (ioctl(fd, RNDRESEEDCRNG) < 0)
        return st_error_sys(err, errno, "template: RNDRESEEDCRNG on /dev/urandom");
    return 0;
}

static int write_text(const char *path, const char *text, st_error *err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
        return st_error_sys(err, errno ? errno : EIO, "template: writing %s", path);
    return 0;
}

static void mount_images(const char *dir)
{
    if (access("/sys/bus/virtio/drivers/9pnet_virtio", F_OK) < 0)
        return; /* no 9p device: the host shares no image store */
    mkdir(dir, 0755);
    if (mount(ST_TEMPLATE_9P_TAG, dir, "9p", MS_RDONLY, "trans=virtio,version=9p2000.L") < 0)
        st_node_log("template: cannot mount the %s 9p share on %s: %s", ST_TEMPLATE_9P_TAG, dir,
                    strerror(errno));
}

static int apply_identity(struct st_node_config *cfg, json_t *msg, const char *cmdline,
                          st_error *err)
{
    const char *name = NULL, *args = "", *hostname = NULL, *machine_id = NULL, *seed_hex = NULL;
    json_int_t unix_ms = 0;
    if (json_unpack(msg, "{s:s, s?s, s:s, s:s, s:s, s:I}", "name", &name, "args", &args, "hostname",
                    &hostname, "machineId", &machine_id, "seed", &seed_hex, "unixMillis",
                    &unix_ms) < 0)
        return st_error_set(err, EINVAL,
                            "template: the host's identity lacks name, hostname, machineId, seed "
                            "or unixMillis");
    unsigned char seed[ST_TEMPLATE_SEED_BYTES];
    if (hex_decode(seed_hex, seed, sizeof(seed)) < 0 || strlen(machine_id) != 32)
        return st_error_set(err, EINVAL,
                            "template: identity: seed must be %d bytes of hex and machineId 32 "
                            "hex digits",
                            ST_TEMPLATE_SEED_BYTES);
    int r = rng_reseed(seed, sizeof(seed), err);
    explicit_bzero(seed, sizeof(seed));
    if (r < 0)
        return r;
    if (sethostname(hostname, strlen(hostname)) < 0)
        return st_error_sys(err, errno, "template: sethostname %s", hostname);
    char mid[40];
    snprintf(mid, sizeof(mid), "%s\n", machine_id);
    if ((r = write_text("/etc/machine-id", mid, err)) < 0)
        return r;
    st_node_clock_sync((int64_t)unix_ms, 0, true, true);

    /* The identity's settings are read after the template's own cmdline:
     * the last of a key wins, as on a kernel cmdline. */
    _cleanup_free_ char *text = NULL;
    if (asprintf(&text, "%s strata.node=%s %s\n", cmdline, name, args) < 0)
        return st_error_set(err, ENOMEM, "template: out of memory");
    for (char *p = text; *p; p++)
        if (*p == '\n' && p[1] != '\0')
            *p = ' ';
    mkdir("/run/strata", 0755);
    if ((r = write_text(ST_TEMPLATE_IDENTITY, text, err)) < 0)
        return r;
    cfg->cmdline_owned = strdup(ST_TEMPLATE_IDENTITY);
    if (cfg->cmdline_owned == NULL)
        return st_error_set(err, ENOMEM, "template: out of memory");
    cfg->cmdline = cfg->cmdline_owned;
    mount_images(cfg->images_dir ? cfg->images_dir : ST_NODE_IMAGES_DIR_DEFAULT);
    st_node_log("template: I am %s now (RNG reseeded with %d host bytes through RNDADDENTROPY + "
                "RNDRESEEDCRNG, hostname, machine id and clock set)",
                name, ST_TEMPLATE_SEED_BYTES);
    return 0;
}

/* A kernel knob for the shrink: failing only makes the save larger. */
static void write_knob(const char *path, const char *value)
{
    st_error e = {0};
    if (write_text(path, value, &e) < 0)
        st_node_log("%s (the save is larger)", e.msg);
}

/* Before the host saves this VM, every page the guest does not use is made
 * a page of zeros: QEMU's migration stream carries a zero page as a flag
 * and a restore leaves it untouched, so a clone is given (and holds on the
 * host) only what the guest uses. Freed pages still hold their old bytes
 * (the unpacked initramfs archive, the kernel's init sections, dropped
 * caches), so they are zeroed the plain way: drop clean caches, compact, then
 * take all free memory but ST_TEMPLATE_FREE_KEEP_MIB in steps, which the
 * kernel hands out zeroed, and give it back. Returns the MiB zeroed. */
static long template_shrink(void)
{
    sync();
    write_knob("/proc/sys/vm/drop_caches", "3");
    write_knob("/proc/sys/vm/compact_memory", "1");
    struct sysinfo si;
    if (sysinfo(&si) < 0)
        return 0;
    unsigned long long unit = si.mem_unit ? si.mem_unit : 1;
    unsigned long long keep = (unsigned long long)ST_TEMPLATE_FREE_KEEP_MIB << 20;
    unsigned long long free_b = (unsigned long long)si.freeram * unit;
    if (free_b <= keep)
        return 0;
    size_t len = (size_t)(free_b - keep);
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    size_t step = (size_t)ST_TEMPLATE_ZERO_STEP_MIB << 20, done = 0;
    while (done < len) {
        /* stop once the kernel is down to what it keeps: never an OOM */
        if (sysinfo(&si) < 0 || (unsigned long long)si.freeram * unit <= keep)
            break;
        size_t end = done + step < len ? done + step : len;
        for (size_t off = done; off < end; off += (size_t)page)
            m[off] = 0; /* the first write faults in a zeroed page */
        done = end;
    }
    munmap(m, len);
    return (long)(done >> 20);
}

int st_node_template_wait(struct st_node_config *cfg, st_error *err)
{
    if (cfg->listen_path)
        return 0;
    _cleanup_free_ char *cmdline = NULL;
    {
        _cleanup_fclose_ FILE *f = fopen(cfg->cmdline ? cfg->cmdline : "/proc/cmdline", "re");
        size_t cap = 0;
        if (f == NULL || getline(&cmdline, &cap, f) < 0)
            return 0;
    }
    cmdline[strcspn(cmdline, "\n")] = '\0';
    if (!template_flag(cmdline))
        return 0;

    const char *port = cfg->port_name ? cfg->port_name : ST_PROTO_PORT_NAME;
    char dev[256];
    st_error ferr = {0};
    while (st_node_virtio_port_find(port, dev, sizeof(dev), &ferr) < 0) {
        st_error_clear(&ferr);
        sleep_ms(ST_TEMPLATE_POLL_MS);
    }
    _cleanup_close_ int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return st_error_sys(err, errno, "template: opening %s (port %s)", dev, port);
    long zeroed = template_shrink();
    st_node_log("template: zeroed %ld MiB of free memory; waiting on %s for the host's identity",
                zeroed, dev);
    sigset_t sigio, old;
    sigemptyset(&sigio);
    sigaddset(&sigio, SIGIO);
    sigprocmask(SIG_BLOCK, &sigio, &old);
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETOWN, getpid()) < 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_ASYNC) < 0)
        st_node_log("template: no SIGIO from %s (%s): polling it every %d ms", dev, strerror(errno),
                    ST_TEMPLATE_POLL_MS);
    uint64_t seq = 0;
    int r = 0;
    for (;;) {
        if (!host_connected(fd)) {
            wait_port_change(&sigio, ST_TEMPLATE_POLL_MS);
            continue;
        }
        _cleanup_json_ json_t *msg = NULL;
        r = serve_host(fd, &seq, &msg, err);
        if (r < 0)
            break;
        if (r == 0) {
            /* The host left. Never wait here for its end to look closed: the
             * VM may be saved right now, and a restored one finds its next
             * host already connected, sending the identity. */
            wait_port_change(&sigio, ST_TEMPLATE_POLL_MS);
            continue;
        }
        r = apply_identity(cfg, msg, cmdline, err);
        break;
    }
    /* the agent gets the port without O_ASYNC and no SIGIO left pending */
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&sigio, NULL, &zero) == SIGIO)
        ;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r < 0)
        return r;
    cfg->port_fd = fd;
    fd = -1;
    return 0;
}
