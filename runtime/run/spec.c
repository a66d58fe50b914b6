/* spec.c: `strata-run spec` writes a default config.json (runc's defaults,
 * terminal false, args ["sh"]) and never overwrites an existing one. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "strata/oci_config.h"
#include "verbs.h"

int st_run_verb_spec(const struct st_run_globals *g, int argc, char **argv)
{
    static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    const char *bundle = ".";
    int c;
    while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
        if (c != 'b')
            return st_run_failf(g, "spec: unknown option: usage: strata-run spec [--bundle DIR]");
        bundle = optarg;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/config.json", bundle);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST)
        return st_run_failf(g, "%s already exists: remove it first, spec never overwrites", path);
    if (fd < 0)
        return st_run_failf(g, "%s: cannot create it: %s", path, strerror(errno));
    json_t *spec = st_oci_config_default_json();
    int r = spec ? json_dumpfd(spec, fd, JSON_INDENT(2)) : -1;
    json_decref(spec);
    if (r == 0 && write(fd, "\n", 1) != 1)
        r = -1;
    close(fd);
    if (r < 0) {
        unlink(path);
        return st_run_failf(g, "%s: cannot write it", path);
    }
    return 0;
}
