/* state.c: ROOT/<id>/state.json, written atomically (tmp + rename) so a
 * concurrent `state` or `list` never reads half a file. Files only: this
 * module never signals or creates processes. */
#include "strata/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/cleanup.h"

static bool id_valid(const char *id)
{
    if (id == NULL || id[0] == '\0' || strlen(id) > 200 || strcmp(id, ".") == 0 ||
        strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int st_state_dir(const char *root, const char *id, char **out, st_error *err)
{
    if (!id_valid(id))
        return st_error_set(err, EINVAL,
                            "container id \"%s\": use 1-200 characters from [A-Za-z0-9_.-]",
                            id ? id : "");
    if (asprintf(out, "%s/%s", root, id) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    return 0;
}

int st_state_create_dir(const char *root, const char *id, st_error *err)
{
    _cleanup_free_ char *dir = NULL;
    int r = st_state_dir(root, id, &dir, err);
    if (r < 0)
        return r;
    if (mkdir(root, 0700) < 0 && errno != EEXIST)
        return st_error_sys(err, errno, "state root %s: cannot create it (check --root)", root);
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            return st_error_set(err, EEXIST,
                                "container id %s is already in use: pick another id or delete "
                                "it first",
                                id);
        return st_error_sys(err, errno, "state dir %s: cannot create it", dir);
    }
    return 0;
}

int st_state_write(const char *root, const struct st_state *s, st_error *err)
{
    _cleanup_free_ char *dir = NULL, *tmp = NULL, *file = NULL;
    int r = st_state_dir(root, s->id, &dir, err);
    if (r < 0)
        return r;
    if (asprintf(&tmp, "%s/.state.json.tmp", dir) < 0 || asprintf(&file, "%s/state.json", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    json_t *j =
        json_pack("{s:s, s:s, s:i, s:I, s:s?, s:s?, s:s?, s:I, s:O?}", "ociVersion", "1.0.2", "id",
                  s->id, "pid", (int)s->pid, "pidStartTime", (json_int_t)s->pid_start, "bundle",
                  s->bundle, "created", s->created, "cgroupPath", s->cgroup, "memoryLimit",
                  (json_int_t)s->memory_limit, "annotations", s->annotations);
    if (j == NULL)
        return st_error_set(err, ENOMEM, "state of %s: cannot build the JSON", s->id);
    r = json_dump_file(j, tmp, JSON_COMPACT);
    json_decref(j);
    if (r < 0)
        return st_error_sys(err, errno ? errno : EIO, "state file %s: cannot write it", tmp);
    if (rename(tmp, file) < 0) {
        int e = errno;
        unlink(tmp);
        return st_error_sys(err, e, "state file %s: cannot rename into place", file);
    }
    return 0;
}

int st_state_read(const char *root, const char *id, struct st_state *s, st_error *err)
{
    _cleanup_free_ char *dir = NULL, *file = NULL;
    int r = st_state_dir(root, id, &dir, err);
    if (r < 0)
        return r;
    if (asprintf(&file, "%s/state.json", dir) < 0)
        return st_error_set(err, ENOMEM, "out of memory");
    memset(s, 0, sizeof(*s));
    s->memory_limit = -1;
    if (access(dir, F_OK) < 0)
        return st_error_set(err, ENOENT,
                            "container %s does not exist under %s: check the id (strata-run "
                            "list) and --root",
                            id, root);
    json_error_t jerr;
    json_t *j = json_load_file(file, 0, &jerr);
    if (j == NULL)
        return st_error_set(err, EIO,
                            "%s: %s: the container is being created or its state is damaged; "
                            "`strata-run delete --force %s` removes it",
                            file, jerr.text, id);
    json_int_t start = 0, mem = -1;
    int pid = 0;
    json_t *ann = NULL;
    if (json_unpack_ex(j, &jerr, 0, "{s:i, s?I, s?I, s?o}", "pid", &pid, "pidStartTime", &start,
                       "memoryLimit", &mem, "annotations", &ann) < 0) {
        json_decref(j);
        return st_error_set(err, EIO, "%s: %s: the state is damaged", file, jerr.text);
    }
    /* Optional strings may be absent or null. */
    const char *bundle = json_string_value(json_object_get(j, "bundle"));
    const char *created = json_string_value(json_object_get(j, "created"));
    const char *cgroup = json_string_value(json_object_get(j, "cgroupPath"));
    s->id = strdup(id);
    s->pid = pid;
    s->pid_start = (unsigned long long)start;
    s->bundle = bundle ? strdup(bundle) : NULL;
    s->created = created ? strdup(created) : NULL;
    s->cgroup = cgroup ? strdup(cgroup) : NULL;
    s->memory_limit = mem;
    s->annotations = ann ? json_incref(ann) : json_object();
    json_decref(j);
    return 0;
}

int st_state_remove(const char *root, const char *id, st_error *err)
{
    _cleanup_free_ char *dir = NULL;
    int r = st_state_dir(root, id, &dir, err);
    if (r < 0)
        return r;
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : st_error_sys(err, errno, "state dir %s: cannot open", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
            return st_error_sys(err, errno, "state dir %s: cannot remove %s", dir, de->d_name);
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        return st_error_sys(err, errno, "state dir %s: cannot remove it", dir);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int st_state_list(const char *root, char ***ids, st_error *err)
{
    size_t n = 0, cap = 8;
    _cleanup_strv_ char **v = calloc(cap + 1, sizeof(char *));
    if (v == NULL)
        return st_error_set(err, ENOMEM, "out of memory");
    _cleanup_closedir_ DIR *d = opendir(root);
    if (d == NULL && errno != ENOENT)
        return st_error_sys(err, errno, "state root %s: cannot list it (check --root)", root);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !id_valid(de->d_name))
            continue;
        if (n == cap) {
            char **nv = realloc(v, (cap * 2 + 1) * sizeof(char *));
            if (nv == NULL)
                return st_error_set(err, ENOMEM, "out of memory");
            v = nv;
            cap *= 2;
        }
        v[n++] = strdup(de->d_name);
        v[n] = NULL;
    }
    qsort(v, n, sizeof(char *), cmp_str);
    *ids = st_steal_ptr(&v);
    return 0;
}

void st_state_clear(struct st_state *s)
{
    free(s->id);
    free(s->bundle);
    free(s->created);
    free(s->cgroup);
    json_decref(s->annotations);
    memset(s, 0, sizeof(*s));
}

int st_proc_start_time(pid_t pid, unsigned long long *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ESRCH;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: fields restart after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] == '\0')
        return -EIO;
    char state = p[2];
    if (state == 'Z' || state == 'X')
        return -ESRCH;
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return -EIO;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

bool st_proc_alive(pid_t pid, unsigned long long start)
{
    unsigned long long now;
    if (pid <= 0 || st_proc_start_time(pid, &now) < 0)
        return false;
    return start == 0 || now == start;
}
