/* image.c: `stratactl image import NAME DIR|TARBALL` and `image list`:
 * container images stratad keeps for its nodes. stratad runs on this host
 * and reads the source itself, so only its absolute path is sent. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "strata/cleanup.h"

/* Unpacking a large tarball can take a while before stratad answers. */
#define IMPORT_TIMEOUT_S 1800

#define USAGE_IMPORT "image import NAME DIR|TARBALL"
#define USAGE_LIST   "image list [-o wide|json|yaml|name]"

static int image_import(struct stctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {STCTL_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, STCTL_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        int r = stctl_common_option(ctl, c, argv, USAGE_IMPORT);
        if (r >= 0)
            return r;
    }
    if (argc - optind != 2)
        return stctl_usage(USAGE_IMPORT, "give the image's name and where to read it from");
    const char *name = argv[optind];
    _cleanup_free_ char *source = realpath(argv[optind + 1], NULL);
    if (source == NULL)
        return stctl_failf("cannot import %s: %s: %s", name, argv[optind + 1], strerror(errno));
    st_error err = {0};
    stctl_client *cl = stctl_connect(ctl, &err);
    if (cl == NULL)
        return stctl_fail(&err);
    stctl_client_set_timeout(cl, IMPORT_TIMEOUT_S);
    _cleanup_json_ json_t *body = json_pack("{s:s, s:s}", "name", name, "source", source);
    _cleanup_json_ json_t *image = NULL;
    if (body == NULL)
        return stctl_failf("out of memory");
    if (stctl_call(cl, "POST", "/api/v1/images", body, &image, &err) < 0)
        return stctl_fail(&err);
    json_t *size = json_object_get(image, "sizeBytes");
    if (json_is_integer(size)) {
        char text[32];
        stctl_fmt_size((long long)json_integer_value(size), text, sizeof(text));
        printf("image/%s imported (%s)\n", name, text);
    } else {
        printf("image/%s imported\n", name);
    }
    return 0;
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
        printf("usage: stratactl %s\n       stratactl %s\n", USAGE_IMPORT, USAGE_LIST);
        return 0;
    }
    argc--;
    argv++;
    optind = 0;
    if (strcmp(sub, "import") == 0)
        return image_import(ctl, argc, argv);
    if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
        return image_list(ctl, argc, argv);
    return stctl_usage(STCTL_USAGE_IMAGE, "unknown image command \"%s\"", sub);
}
