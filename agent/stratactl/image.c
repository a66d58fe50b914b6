/* image.c: `stratactl image import|list|rm|pull`: the OCI images stratad
 * keeps for its nodes (strata/image.h). stratad runs on this host and
 * reads an import's source itself, so only its absolute path is sent; it
 * pulls from registries itself too. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

/* Unpacking a large tarball or pulling one can take a while before
 * stratad answers. */
#define IMPORT_TIMEOUT_S 1800

#define USAGE_IMPORT                                                                               \
    "image import NAME[:TAG] PATH (OCI layout, oci/docker archive, rootfs dir or tarball)"
#define USAGE_LIST "image list [-o wide|json|yaml|name]"
#define USAGE_RM   "image rm NAME[:TAG]..."
#define USAGE_PULL "image pull HOST[:PORT]/NAME[:TAG|@DIGEST]"

/* Only the common options; at least min and at most max arguments. */
static int plain_args(struct stctl *ctl, int argc, char **argv, const char *usage, int min, int max,
                      const char *what)
{
    static const struct option opts[] = {STCTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        int r = stctl_common_option(ctl, c, argv, usage);
        if (r >= 0)
            return r;
    }
    if (argc - optind < min || (max > 0 && argc - optind > max))
        return stctl_usage(usage, "%s", what);
    return -1;
}

/* "name:tag (sha256:0123456789ab, 12.3MiB)" of an image the API returned. */
static void image_line(json_t *image, const char *verb)
{
    char size[32];
    stctl_fmt_size((long long)json_integer_value(json_object_get(image, "size")), size,
                   sizeof(size));
    const char *digest = json_string_value(json_object_get(image, "digest"));
    printf("image/%s:%s %s (%.19s, %s)\n", json_string_value(json_object_get(image, "name")),
           json_string_value(json_object_get(image, "tag")), verb, digest ? digest : "", size);
}

/* POSTs body to the image API and prints the image it answers with. */
static int post_image(struct stctl *ctl, json_t *body, const char *verb)
{
    if (body == NULL)
        return stctl_failf("out of memory");
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    stctl_client_set_timeout(cl, IMPORT_TIMEOUT_S);
    _cleanup_json_ json_t *image = NULL;
    if (stctl_call(cl, "POST", "/api/v1/images", body, &image, &err) < 0)
        return stctl_fail(&err);
    image_line(image, verb);
    return 0;
}

static int image_import(struct stctl *ctl, int argc, char **argv)
{
    int r = plain_args(ctl, argc, argv, USAGE_IMPORT, 2, 2,
                       "give the image's name and where to read it from");
    if (r >= 0)
        return r;
    const char *name = argv[optind];
    _cleanup_free_ char *source = realpath(argv[optind + 1], NULL);
    if (source == NULL)
        return stctl_failf("cannot import %s: %s: %s", name, argv[optind + 1], strerror(errno));
    _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", name, "source", source);
    return post_image(ctl, body, "imported");
}

static int image_pull(struct stctl *ctl, int argc, char **argv)
{
    int r = plain_args(ctl, argc, argv, USAGE_PULL, 1, 1, "name the image to pull");
    if (r >= 0)
        return r;
    _cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "name", argv[optind], "pull", 1);
    return post_image(ctl, body, "pulled");
}

static int image_rm(struct stctl *ctl, int argc, char **argv)
{
    int r = plain_args(ctl, argc, argv, USAGE_RM, 1, 0, "name the images to remove");
    if (r >= 0)
        return r;
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    int status = 0;
    for (int i = optind; i < argc; i++) {
        char path[1200];
        /* the reference's own '/' separate path segments; stratad joins them */
        snprintf(path, sizeof(path), "/api/v1/images/%s", argv[i]);
        st_error_clear(&err);
        if (stctl_call(cl, "DELETE", path, NULL, NULL, &err) < 0) {
            stctl_fail(&err);
            status = STCTL_EXIT_FAIL;
            continue;
        }
        printf("image/%s removed\n", argv[i]);
    }
    return status;
}

static int image_list(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        STCTL_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    enum stctl_output out = STCTL_OUT_TABLE;
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            if (!stctl_output_parse(optarg, &out))
                return stctl_usage(USAGE_LIST, "unknown output format \"%s\"", optarg);
            continue;
        }
        int r = stctl_common_option(ctl, c, argv, USAGE_LIST);
        if (r >= 0)
            return r;
    }
    if (optind < argc)
        return stctl_usage(USAGE_LIST, "unexpected argument \"%s\"", argv[optind]);
    st_error err = {0};
    if (stctl_show(ctl, stctl_fmt_kind_lookup("images"), NULL, out, false, &err) < 0)
        return stctl_fail(&err);
    return 0;
}

int stctl_verb_image(struct stctl *ctl, int argc, char **argv)
{
    if (argc < 2)
        return stctl_usage(STCTL_USAGE_IMAGE, "say what to do with images");
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        printf("usage: stratactl %s\n       stratactl %s\n       stratactl %s\n       "
               "stratactl %s\n",
               USAGE_IMPORT, USAGE_LIST, USAGE_RM, USAGE_PULL);
        return 0;
    }
    argc--;
    argv++;
    optind = 0;
    if (strcmp(sub, "import") == 0)
        return image_import(ctl, argc, argv);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        return image_list(ctl, argc, argv);
    if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
        return image_rm(ctl, argc, argv);
    if (strcmp(sub, "pull") == 0)
        return image_pull(ctl, argc, argv);
    return stctl_usage(STCTL_USAGE_IMAGE, "unknown image command \"%s\"", sub);
}
