/* itest_images.c: images end to end on a real node VM (TCG here), as a
 * person meets them: an OCI image made outside the project (umoci, through
 * scripts/mkimage) whose config says how to run it, imported and run by a
 * pod that gives no command (the image's Entrypoint and Cmd, as its User,
 * in its WorkingDir, with its Env; describe shows its ExposedPorts); an
 * image pulled by stratad from Debian's docker-registry on loopback
 * (pushed by skopeo), with kubelet's events; a missing tag and an unknown
 * digest shown as ErrImagePull and then ImagePullBackOff; an image two
 * pods share unpacked once; and `image rm` refused while a pod uses the
 * image. Domains strata-im<pid>-*, the registry and the files are removed
 * in teardown, pass or fail. */
#include "cluster.h"
#include "registry_fx.h"
#include "testutil.h"

#include "strata/cleanup.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct st_cluster cl;
static char *tmp;          /* the image layouts and the registry's storage */
static pid_t reg_pid = -1; /* the registry */
static char host[64];

#define WAIT_MS 240000

/* ---- helpers ---- */

static bool pod_waits_for(json_t *p, const char *reason)
{
    const char *r =
        st_json_str(json_object_get(st_pod_container0(p), "state"), "waiting", "reason");
    return r && strcmp(r, reason) == 0;
}

struct want {
    const char *pod;
    const char *phase;  /* or NULL */
    const char *reason; /* a waiting reason, or NULL */
};

static bool pod_is(void *arg)
{
    const struct want *w = arg;
    _cleanup_json_ json_t *p = st_cluster_pod(&cl, w->pod);
    if (p == NULL)
        return false;
    const char *phase = st_json_str(p, "status", "phase");
    if (w->phase && (!phase || strcmp(phase, w->phase) != 0))
        return false;
    return w->reason == NULL || pod_waits_for(p, w->reason);
}

static void wait_pod(const char *pod, const char *phase, const char *reason)
{
    struct want w = {pod, phase, reason};
    if (st_test_wait_until(pod_is, &w, WAIT_MS, 500))
        return;
    char *out = NULL;
    st_cluster_ctl(&cl, &out, NULL, "describe pod %s", pod);
    fail_msg("pod %s: not %s%s%s within %d s:\n%s", pod, phase ? phase : "",
             reason ? " waiting " : "", reason ? reason : "", WAIT_MS / 1000, out ? out : "");
}

/* `stratactl CMD` prints text (polled: logs and events come a little later). */
struct said {
    const char *cmd;
    const char *text;
};

static bool ctl_says(void *arg)
{
    const struct said *s = arg;
    char *out = NULL;
    bool ok = st_cluster_ctl(&cl, &out, NULL, "%s", s->cmd) == 0 && out && strstr(out, s->text);
    free(out);
    return ok;
}

static void wait_said(const char *cmd, const char *text)
{
    struct said s = {cmd, text};
    if (st_test_wait_until(ctl_says, &s, WAIT_MS, 500))
        return;
    char *out = NULL;
    st_cluster_ctl(&cl, &out, NULL, "%s", cmd);
    fail_msg("`stratactl %s` did not say \"%s\" within %d s:\n%s", cmd, text, WAIT_MS / 1000,
             out ? out : "");
}

static void apply_pod(const char *name, const char *image, const char *command)
{
    char path[600], text[2048];
    snprintf(path, sizeof(path), "%s/%s.yaml", tmp, name);
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n"
             "    - name: main\n      image: \"%s\"\n%s%s%s",
             name, image, command ? "      command: " : "", command ? command : "",
             command ? "\n" : "");
    st_test_write_file(path, text);
    char *err = NULL;
    int rc = st_cluster_ctl(&cl, NULL, &err, "apply -f %s", path);
    if (rc != 0)
        fail_msg("apply %s: %s", name, err ? err : "");
    free(err);
}

/* Entries of the store's layers/ (each layer unpacked once). */
static int layer_dirs(void)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/images/layers", cl.state_dir);
    _cleanup_closedir_ DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    return n;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    tmp = st_test_mkdtemp("strata-itest-images");
    /* an image that says how it runs: sh -c its Cmd, as nobody, in /tmp */
    char *err = NULL;
    int rc = st_test_sh(
        NULL, &err,
        "%s/scripts/mkimage runner %s %s/runner --entrypoint sh --entrypoint -c "
        "--cmd 'echo \"who=`id -u`:`id -g` cwd=$PWD greeting=$GREETING\"; exec sleep 100000' "
        "--user nobody --workdir /tmp --env GREETING=hello-from-the-image --port 8080/tcp",
        st_test_env("STRATA_SOURCE_DIR"), st_test_env("STRATA_TEST_ROOTFS"), tmp);
    if (rc != 0) {
        fprintf(stderr, "mkimage runner failed (%d): %s\n", rc, err ? err : "");
        free(err);
        return -1;
    }
    free(err);
    reg_pid = st_registry_start(tmp, "registry", NULL, host, sizeof(host));
    if (reg_pid < 0 || st_registry_push(st_test_env("STRATA_TEST_BUSYBOX_IMAGE"), "latest", host,
                                        "busybox:1") != 0)
        return -1;
    static const char *const one[] = {"a"};
    return st_cluster_up(&cl, "im", one, 1);
}

static int group_teardown(void **state)
{
    (void)state;
    st_cluster_teardown(&cl);
    st_pid_killp(&reg_pid);
    if (tmp)
        st_test_rmrf(tmp);
    free(tmp);
    return 0;
}

/* ---- the tests ---- */

/* No command in the pod: the image's config runs it. */
static void test_image_config_runs_it(void **state)
{
    (void)state;
    char *err = NULL;
    int rc = st_cluster_ctl(&cl, NULL, &err, "image import runner:1 %s/runner", tmp);
    if (rc != 0)
        fail_msg("image import: %s", err ? err : "");
    free(err);
    wait_said("image list", "runner");
    apply_pod("runner", "runner:1", NULL);
    wait_pod("runner", "Running", NULL);
    wait_said("logs runner", "who=65534:65534 cwd=/tmp greeting=hello-from-the-image");
    wait_said("describe pod runner", "Image Ports:    8080/tcp");
    wait_said("events", "Container image \"runner:1\" already present on machine");
    /* in use: not removed */
    char *out = NULL;
    assert_int_not_equal(st_cluster_ctl(&cl, NULL, &out, "image rm runner:1"), 0);
    if (out == NULL || strstr(out, "runner") == NULL)
        fail_msg("image rm of an image in use: \"%s\" does not name it", out ? out : "");
    free(out);
}

/* From the registry, once for two pods; a second pod finds it present. */
static void test_pull_from_registry(void **state)
{
    (void)state;
    char image[128], cmd[256];
    snprintf(image, sizeof(image), "%s/busybox:1", host);
    apply_pod("pulled", image, "[\"sleep\", \"100000\"]");
    wait_pod("pulled", "Running", NULL);
    snprintf(cmd, sizeof(cmd), "Pulling image \"%s\"", image);
    wait_said("events", cmd);
    snprintf(cmd, sizeof(cmd), "Successfully pulled image \"%s\" in", image);
    wait_said("events", cmd);
    wait_said("image list", host);
    int layers = layer_dirs();
    assert_true(layers >= 1);
    apply_pod("pulled-too", image, "[\"sleep\", \"100000\"]");
    wait_pod("pulled-too", "Running", NULL);
    /* the layers were there: nothing unpacked again */
    assert_int_equal(layer_dirs(), layers);
}

/* A tag the registry lacks, a digest it lacks: kubelet's reasons. */
static void test_pull_failures(void **state)
{
    (void)state;
    char image[200];
    snprintf(image, sizeof(image), "%s/busybox:missing", host);
    apply_pod("no-tag", image, "[\"true\"]");
    wait_pod("no-tag", "Pending", "ErrImagePull");
    wait_pod("no-tag", "Pending", "ImagePullBackOff");
    wait_said("events", "Back-off pulling image");
    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    snprintf(image, sizeof(image), "%s/busybox@sha256:%s", host, zeros);
    apply_pod("no-digest", image, "[\"true\"]");
    wait_pod("no-digest", "Pending", "ErrImagePull");
    wait_pod("no-digest", "Pending", "ImagePullBackOff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_config_runs_it),
        cmocka_unit_test(test_pull_from_registry),
        cmocka_unit_test(test_pull_failures),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
