/* confine_probe.c: what a hostile program inside a container would try,
 * one check per argument, each answering one line "CHECK: RESULT ..." so
 * the confinement tests (tests/runtime/itest_confinement.c on the host,
 * tests/agent/itest_confinement.c in a pod in a VM) assert on exact
 * outcomes. A RESULT is OK (the attempt worked), the errno's name (EPERM,
 * EROFS, EAGAIN ...) or what was seen (EMPTY, ENTRIES n, absent ...).
 *
 * Built static (no loader or library in the busybox rootfs it joins) and
 * without sanitizers. The fixture also carries a setuid-root copy
 * (/bin/confine-probe-suid): run as another user it answers `privs` only,
 * so the copy can never become a root tool on the build machine itself.
 *
 * Checks (in argument order; NAME ARG means the check takes one argument):
 *   mount, umount PATH, unshare-user, keyctl,  syscalls RuntimeDefault denies
 *   bpf, ptrace
 *   sethostname, capset                        need CAP_SYS_ADMIN, never granted
 *   privs                                      uid, euid, no_new_privs, seccomp, capability sets
 *   read PATH                                  EMPTY | DATA n | ENTRIES n | errno
 *   write PATH                                 opened for writing (never written): OPENED | errno
 *   mknod c:MAJ:MIN                            a device node made in /dev, then read:
 *                                              mknod ERR | open ERR | OPENED ...
 *   vports                                     the same for the node's virtio-serial ports
 *   ps                                         the processes this pid namespace shows
 *   find-env TEXT                              TEXT in any readable /proc/PID/environ
 *   find-file NAME                             a file named NAME anywhere (not /proc, /sys, /dev)
 *   grep-fs TEXT                               TEXT in any regular file (same walk)
 *   forkbomb                                   forks (children fork too) until refused; holds
 *                                              the processes until SIGTERM (at most 120 s)
 *   hog MIB                                    allocates and touches MIB MiB */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- output: write(2) only, so a forked child never repeats a buffer ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(STDOUT_FILENO, line + off, (size_t)(n - off));
        if (w <= 0 && errno != EINTR)
            return;
        if (w > 0)
            off += (int)w;
    }
}

static const char *errname(int e)
{
    const char *s = strerrorname_np(e);
    return s ? s : "EUNKNOWN";
}

/* The result of an attempt that returns < 0 with errno on failure. */
static void result(const char *check, long r)
{
    if (r < 0)
        say("%s: %s", check, errname(errno));
    else
        say("%s: OK", check);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- syscalls the RuntimeDefault profile denies ---- */

static void check_mount(void)
{
    long r = mount("confine-probe", "/tmp", "tmpfs", 0, "size=16k");
    if (r == 0)
        umount2("/tmp", MNT_DETACH);
    result("mount", r);
}

/* Unmounting a mask would uncover what it hides. */
static void check_umount(const char *path)
{
    char check[300];
    snprintf(check, sizeof(check), "umount %s", path);
    result(check, umount2(path, MNT_DETACH));
}

static void check_unshare_user(void)
{
    result("unshare-user", unshare(CLONE_NEWUSER));
}

static void check_keyctl(void)
{
    result("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
}

static void check_bpf(void)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    if (fd >= 0)
        close((int)fd);
    result("bpf", fd);
}

/* Attaches to a child of its own: the one process it may always reach, so
 * a refusal comes from the filter, not from ptrace's own rules. */
static void check_ptrace(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        say("ptrace: fork %s", errname(errno));
        return;
    }
    if (pid == 0) {
        for (;;)
            pause();
    }
    long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
    int e = errno;
    if (r == 0) {
        waitpid(pid, NULL, __WALL);
        ptrace(PTRACE_DETACH, pid, NULL, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
        ;
    errno = e;
    result("ptrace", r);
}

/* ---- what only CAP_SYS_ADMIN would allow ---- */

static void check_sethostname(void)
{
    char name[64];
    if (gethostname(name, sizeof(name)) < 0)
        snprintf(name, sizeof(name), "confine-probe");
    result("sethostname", sethostname(name, strlen(name)));
}

static void check_capset(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0) {
        say("capset: capget %s", errname(errno));
        return;
    }
    data[0].effective |= 1u << CAP_SYS_ADMIN;
    data[0].permitted |= 1u << CAP_SYS_ADMIN;
    result("capset", syscall(SYS_capset, &hdr, data));
}

/* ---- privileges as /proc/self/status shows them ---- */

static void check_privs(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL) {
        say("privs: %s", errname(errno));
        return;
    }
    char line[256];
    unsigned long long eff = 0, prm = 0, bnd = 0, amb = 0;
    unsigned uid[2] = {0, 0}, nnp = 9, seccomp = 9;
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "Uid: %u %u", &uid[0], &uid[1]);
        sscanf(line, "CapEff: %llx", &eff);
        sscanf(line, "CapPrm: %llx", &prm);
        sscanf(line, "CapBnd: %llx", &bnd);
        sscanf(line, "CapAmb: %llx", &amb);
        sscanf(line, "NoNewPrivs: %u", &nnp);
        sscanf(line, "Seccomp: %u", &seccomp);
    }
    fclose(f);
    unsigned long long admin = 1ULL << CAP_SYS_ADMIN;
    char where[32] = "";
    if (eff & admin)
        strcat(where, "eff,");
    if (prm & admin)
        strcat(where, "prm,");
    if (bnd & admin)
        strcat(where, "bnd,");
    if (amb & admin)
        strcat(where, "amb,");
    size_t n = strlen(where);
    if (n)
        where[n - 1] = '\0';
    say("privs: uid=%u euid=%u nnp=%u seccomp=%u capeff=%016llx capprm=%016llx capbnd=%016llx "
        "capamb=%016llx sys_admin=%s",
        uid[0], uid[1], nnp, seccomp, eff, prm, bnd, amb, n ? where : "none");
}

/* ---- files ---- */

static void check_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        say("read %s: %s", path, errname(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = fdopendir(fd);
        int n = 0;
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL)
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                n++;
        if (d)
            closedir(d);
        if (n)
            say("read %s: ENTRIES %d", path, n);
        else
            say("read %s: EMPTY", path);
        return;
    }
    char buf[65536];
    ssize_t got = read(fd, buf, sizeof(buf));
    int e = errno;
    close(fd);
    if (got < 0)
        say("read %s: %s", path, errname(e));
    else if (got == 0)
        say("read %s: EMPTY", path);
    else
        say("read %s: DATA %zd", path, got);
}

/* Opening for writing is the refusal a read-only mount gives; nothing is
 * ever written (a write to /proc/sysrq-trigger could stop the machine). */
static void check_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        say("write %s: %s", path, errname(errno));
        return;
    }
    close(fd);
    say("write %s: OPENED", path);
}

/* ---- device nodes ---- */

/* Makes a device node in /dev (a tmpfs the runtime mounts without nodev)
 * and reads from it: with CAP_MKNOD only a devices cgroup stands between a
 * container and any device of the node. Never written. */
static void try_device(const char *check, char type, unsigned maj, unsigned min)
{
    char path[64];
    snprintf(path, sizeof(path), "/dev/.confine-probe-%u-%u", maj, min);
    unlink(path);
    if (mknod(path, (type == 'b' ? S_IFBLK : S_IFCHR) | 0600, makedev(maj, min)) < 0) {
        say("%s: mknod %s", check, errname(errno));
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int e = errno;
    unlink(path);
    if (fd < 0) {
        say("%s: open %s", check, errname(e));
        return;
    }
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof(buf));
    e = errno;
    close(fd);
    if (got < 0)
        say("%s: OPENED read %s", check, errname(e));
    else
        say("%s: OPENED DATA %zd", check, got);
}

static void check_mknod(const char *spec)
{
    char check[300], type = 0;
    unsigned maj = 0, min = 0;
    snprintf(check, sizeof(check), "mknod %s", spec);
    if (sscanf(spec, "%c:%u:%u", &type, &maj, &min) != 3 || (type != 'c' && type != 'b')) {
        say("%s: expected c:MAJOR:MINOR or b:MAJOR:MINOR", check);
        return;
    }
    try_device(check, type, maj, min);
}

/* The node's virtio-serial ports (its channel to the host), as the
 * container's read-only /sys lists them. */
static void check_vports(void)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    if (d == NULL) {
        say("vports: %s", errname(errno));
        return;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], dev[32] = "", check[300];
        unsigned maj = 0, min = 0;
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/dev", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, dev, sizeof(dev) - 1);
        close(fd);
        dev[got > 0 ? got : 0] = '\0';
        if (sscanf(dev, "%u:%u", &maj, &min) != 2)
            continue;
        n++;
        snprintf(check, sizeof(check), "vport %s", de->d_name);
        try_device(check, 'c', maj, min);
    }
    closedir(d);
    say("vports: n=%d", n);
}

/* ---- processes ---- */

static bool is_pid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void check_ps(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        say("ps: %s", errname(errno));
        return;
    }
    char list[2048] = "";
    size_t len = 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_pid_name(de->d_name))
            continue;
        n++;
        char path[300], comm[64] = "?";
        snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t got = read(fd, comm, sizeof(comm) - 1);
            close(fd);
            comm[got > 0 ? got : 0] = '\0';
            comm[strcspn(comm, "\n")] = '\0';
        }
        if (len < sizeof(list) - 80)
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s/%s", n > 1 ? "," : "",
                                    de->d_name, comm);
    }
    closedir(d);
    say("ps: n=%d %s", n, list);
}

static void check_find_env(const char *text)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        say("find-env: %s", errname(errno));
        return;
    }
    struct dirent *de;
    int searched = 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_pid_name(de->d_name))
            continue;
        char path[300];
        static char buf[1 << 20];
        snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, buf, sizeof(buf));
        close(fd);
        searched++;
        if (got > 0 && memmem(buf, (size_t)got, text, strlen(text))) {
            say("find-env: present pid=%s", de->d_name);
            closedir(d);
            return;
        }
    }
    closedir(d);
    say("find-env: absent searched=%d", searched);
}

/* One walk serves find-file and grep-fs: the pseudo file systems are the
 * kernel's views (and /proc's environ is find-env's job), not files a pod
 * could have left. */
static const char *walk_needle;
static bool walk_by_name;
static char walk_found[4096];

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type == FTW_D && ftw->level == 1 &&
        (strcmp(path, "/proc") == 0 || strcmp(path, "/sys") == 0 || strcmp(path, "/dev") == 0))
        return FTW_SKIP_SUBTREE;
    if (walk_by_name) {
        if (strcmp(path + ftw->base, walk_needle) == 0) {
            snprintf(walk_found, sizeof(walk_found), "%s", path);
            return FTW_STOP;
        }
        return FTW_CONTINUE;
    }
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return FTW_CONTINUE;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return FTW_CONTINUE;
    static char buf[1 << 16];
    size_t keep = 0, nlen = strlen(walk_needle);
    ssize_t got;
    /* chunks overlap by the needle's length, so no match falls between two */
    while ((got = read(fd, buf + keep, sizeof(buf) - keep)) > 0) {
        size_t have = keep + (size_t)got;
        if (memmem(buf, have, walk_needle, nlen)) {
            snprintf(walk_found, sizeof(walk_found), "%s", path);
            close(fd);
            return FTW_STOP;
        }
        keep = have < nlen ? have : nlen - 1;
        memmove(buf, buf + have - keep, keep);
    }
    close(fd);
    return FTW_CONTINUE;
}

static void check_walk(const char *check, const char *needle, bool by_name)
{
    walk_needle = needle;
    walk_by_name = by_name;
    walk_found[0] = '\0';
    if (nftw("/", walk_one, 32, FTW_PHYS | FTW_ACTIONRETVAL) < 0) {
        say("%s: %s", check, errname(errno));
        return;
    }
    if (walk_found[0])
        say("%s: present %s", check, walk_found);
    else
        say("%s: absent", check);
}

/* ---- fork bomb ---- */

struct bomb {
    int refused_errno; /* the first fork refusal anyone saw */
    int forks;
};

static volatile sig_atomic_t bomb_release;

static void on_term(int sig)
{
    (void)sig;
    bomb_release = 1;
}

/* Every process forks until the kernel refuses, then sleeps: the shape of
 * `:(){ :|:& };:` without spinning the node's CPUs once the limit holds. */
static __attribute__((noreturn)) void bomb_loop(struct bomb *b)
{
    for (;;) {
        pid_t pid = fork();
        if (pid == 0)
            continue; /* the child bombs too */
        if (pid > 0) {
            __atomic_add_fetch(&b->forks, 1, __ATOMIC_RELAXED);
            continue;
        }
        int zero = 0;
        __atomic_compare_exchange_n(&b->refused_errno, &zero, errno, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
        for (;;)
            pause();
    }
}

/* Numeric entries of /proc: every process of this pid namespace. */
static int count_procs(void)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += is_pid_name(de->d_name);
    if (d)
        closedir(d);
    return n;
}

static void check_forkbomb(void)
{
    struct bomb *b =
        mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        say("forkbomb: mmap %s", errname(errno));
        return;
    }
    memset(b, 0, sizeof(*b));
    /* Reap what the bomb leaves, whoever its parent was. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    pid_t leader = fork();
    if (leader < 0) {
        say("forkbomb: %s", errname(errno));
        return;
    }
    if (leader == 0) {
        signal(SIGTERM, SIG_DFL);
        setpgid(0, 0); /* one group: one kill ends it, never this process */
        bomb_loop(b);
    }
    setpgid(leader, leader);
    /* Settled: refused, and no fork succeeded for a while. */
    long long deadline = now_ms() + 60000, quiet_since = now_ms();
    int last = -1;
    while (now_ms() < deadline && !bomb_release) {
        int forks = __atomic_load_n(&b->forks, __ATOMIC_RELAXED);
        if (forks != last) {
            last = forks;
            quiet_since = now_ms();
        } else if (__atomic_load_n(&b->refused_errno, __ATOMIC_RELAXED) &&
                   now_ms() - quiet_since >= 1000) {
            break;
        }
        sleep_ms(50);
    }
    int refused = __atomic_load_n(&b->refused_errno, __ATOMIC_RELAXED);
    say("forkbomb: %s procs=%d forks=%d", refused ? errname(refused) : "NOT-REFUSED", count_procs(),
        __atomic_load_n(&b->forks, __ATOMIC_RELAXED));
    /* Hold the limit until told to stop (SIGTERM), so the tests can look
     * at the node meanwhile. */
    deadline = now_ms() + 120000;
    while (!bomb_release && now_ms() < deadline)
        sleep_ms(50);
    kill(-leader, SIGKILL);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    say("forkbomb-end: cleaned procs=%d", count_procs());
    munmap(b, sizeof(*b));
}

/* ---- memory ---- */

static void check_hog(const char *arg)
{
    long mib = strtol(arg, NULL, 10);
    long step = 16;
    for (long i = 1; i <= mib; i++) {
        char *p = malloc(1 << 20);
        if (p == NULL) {
            say("hog: ENOMEM at %ld MiB", i);
            return;
        }
        memset(p, 0x5a, 1 << 20); /* touched: really charged to the cgroup */
        if (i % step == 0)
            say("hog: %ld MiB", i);
    }
    say("hog: survived %ld MiB", mib);
}

/* ---- dispatch ---- */

static void usage(void)
{
    say("usage: confine-probe CHECK [ARG] ... (checks: mount umount PATH unshare-user keyctl bpf "
        "ptrace sethostname capset privs read PATH write PATH mknod c:MAJ:MIN vports ps find-env "
        "TEXT find-file NAME "
        "grep-fs TEXT forkbomb hog MIB)");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    /* Run setuid (a different effective id, or the loader says secure):
     * only the read-only `privs` check, whatever was asked. */
    bool setuid_run = getuid() != geteuid() || getgid() != getegid() || getauxval(AT_SECURE);
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_arg = strcmp(c, "read") == 0 || strcmp(c, "umount") == 0 ||
                         strcmp(c, "mknod") == 0 || strcmp(c, "write") == 0 ||
                         strcmp(c, "find-env") == 0 || strcmp(c, "find-file") == 0 ||
                         strcmp(c, "grep-fs") == 0 || strcmp(c, "hog") == 0;
        if (takes_arg && arg == NULL) {
            say("%s: needs an argument", c);
            return 2;
        }
        if (setuid_run && strcmp(c, "privs") != 0) {
            say("%s: refused (run setuid: only privs)", c);
            i += takes_arg;
            continue;
        }
        if (strcmp(c, "mount") == 0)
            check_mount();
        else if (strcmp(c, "unshare-user") == 0)
            check_unshare_user();
        else if (strcmp(c, "keyctl") == 0)
            check_keyctl();
        else if (strcmp(c, "bpf") == 0)
            check_bpf();
        else if (strcmp(c, "ptrace") == 0)
            check_ptrace();
        else if (strcmp(c, "sethostname") == 0)
            check_sethostname();
        else if (strcmp(c, "capset") == 0)
            check_capset();
        else if (strcmp(c, "umount") == 0)
            check_umount(arg);
        else if (strcmp(c, "privs") == 0)
            check_privs();
        else if (strcmp(c, "read") == 0)
            check_read(arg);
        else if (strcmp(c, "write") == 0)
            check_write(arg);
        else if (strcmp(c, "mknod") == 0)
            check_mknod(arg);
        else if (strcmp(c, "vports") == 0)
            check_vports();
        else if (strcmp(c, "ps") == 0)
            check_ps();
        else if (strcmp(c, "find-env") == 0)
            check_find_env(arg);
        else if (strcmp(c, "find-file") == 0)
            check_walk("find-file", arg, true);
        else if (strcmp(c, "grep-fs") == 0)
            check_walk("grep-fs", arg, false);
        else if (strcmp(c, "forkbomb") == 0)
            check_forkbomb();
        else if (strcmp(c, "hog") == 0)
            check_hog(arg);
        else {
            say("%s: unknown check", c);
            usage();
            return 2;
        }
        i += takes_arg;
    }
    return 0;
}
