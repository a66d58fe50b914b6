/* exec.c: `strata-run exec [--env K=V]... [--cwd DIR] ID [--] CMD...` runs a
 * command in a running container (its namespaces and cgroup, via st_exec)
 * and exits with the command's status. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "strata/container.h"
#include "strata/exec.h"
#include "verbs.h"

int st_run_verb_exec(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"env", required_argument, NULL, 'e'},
                                         {"cwd", required_argument, NULL, 'c'},
                                         {"user", required_argument, NULL, 'u'},
                                         {NULL, 0, NULL, 0}};
    char **env = calloc((size_t)argc + 2, sizeof(char *));
    if (env == NULL)
        return st_run_failf(g, "out of memory");
    size_t nenv = 0;
    bool has_path = false;
    const char *cwd = NULL;
    unsigned uid = 0, gid = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+e:u:", opts, NULL)) != -1) {
        if (c == 'e') {
            if (strchr(optarg, '=') == NULL) {
                free(env);
                return st_run_failf(g, "exec: --env %s: expected NAME=value", optarg);
            }
            has_path |= strncmp(optarg, "PATH=", 5) == 0;
            env[nenv++] = optarg;
        } else if (c == 'c') {
            cwd = optarg;
        } else if (c == 'u') {
            char *end;
            uid = gid = (unsigned)strtoul(optarg, &end, 10);
            if (*end == ':')
                gid = (unsigned)strtoul(end + 1, &end, 10);
            if (*end != '\0') {
                free(env);
                return st_run_failf(g, "exec: --user %s: expected UID[:GID] numbers", optarg);
            }
        } else {
            free(env);
            return st_run_failf(g, "exec: unknown option: usage: strata-run exec [--env K=V] "
                                   "[--cwd DIR] ID [--] CMD...");
        }
    }
    if (!has_path)
        env[nenv++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    if (optind >= argc) {
        free(env);
        return st_run_failf(g, "exec: give a container ID and a command");
    }
    const char *id = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc) {
        free(env);
        return st_run_failf(g, "exec: give the command to run after the container ID");
    }
    st_error err = {0};
    struct st_container *ct = NULL;
    int r = st_container_load(g->root, id, &ct, &err);
    enum st_container_status s = ST_CONTAINER_STOPPED;
    if (r == 0)
        r = st_container_state(ct, &s, NULL, &err);
    if (r == 0 && s != ST_CONTAINER_RUNNING)
        r = st_error_set(&err, EINVAL, "container %s is %s: exec needs a running container", id,
                         st_container_status_name(s));
    int status = 0;
    if (r == 0) {
        struct st_exec_opts eo = {.target = st_container_pid(ct),
                                  .cgroup = st_container_cgroup_path(ct),
                                  .argv = argv + optind,
                                  .envp = env,
                                  .cwd = cwd,
                                  .uid = uid,
                                  .gid = gid,
                                  .stdin_fd = 0,
                                  .stdout_fd = 1,
                                  .stderr_fd = 2};
        r = st_exec(&eo, &status, &err);
    }
    st_container_free(ct);
    free(env);
    return r < 0 ? st_run_fail(g, &err) : status;
}
