/* vmm_real.c: the server's vmm seam on the real thing: each operation is
 * the st_vmm_* call of the same name on libvirt (vmm/). The only file of
 * the server that calls into vmm/ for a node; tests swap in a fake. */
#include "server_priv.h"

static int real_start(void *ctx, const st_node_spec *spec, const st_vmm_start_options *opts,
                      json_t **hello, st_error *err)
{
    return st_vmm_node_start(ctx, spec, opts, hello, err);
}

static int real_send(void *ctx, const char *name, json_t *msg, st_error *err)
{
    return st_vmm_node_send(ctx, name, msg, err);
}

static int real_shutdown(void *ctx, const char *name, int timeout_ms, st_error *err)
{
    return st_vmm_node_shutdown(ctx, name, timeout_ms, err);
}

static int real_destroy(void *ctx, const char *name, st_error *err)
{
    return st_vmm_node_destroy(ctx, name, err);
}

static int real_fence(void *ctx, const char *name, int timeout_ms, st_vmm_fence_report *rep,
                      st_error *err)
{
    return st_vmm_node_fence(ctx, name, timeout_ms, rep, err);
}

static int real_undefine(void *ctx, const char *name, st_error *err)
{
    return st_vmm_node_undefine(ctx, name, err);
}

static int real_adopt(void *ctx, const char *name, st_error *err)
{
    return st_vmm_node_adopt(ctx, name, err);
}

static int real_data_connect(void *ctx, const char *name, int *fd, st_error *err)
{
    return st_vmm_node_data_connect(ctx, name, fd, err);
}

static int real_event_fd(void *ctx)
{
    return st_vmm_event_fd(ctx);
}

static int real_event_next(void *ctx, int timeout_ms, st_vmm_event *ev, st_error *err)
{
    return st_vmm_event_next(ctx, timeout_ms, ev, err);
}

static int real_sync(void *ctx, int timeout_ms, st_error *err)
{
    return st_vmm_sync(ctx, timeout_ms, err);
}

static int real_boot_files_check(void *ctx, const char *kernel, const char *initramfs,
                                 st_error *err)
{
    (void)ctx;
    return st_vmm_boot_files_check(kernel, initramfs, err);
}

static int real_host_memory_check(void *ctx, unsigned memory_mib, st_error *err)
{
    (void)ctx;
    return st_vmm_host_memory_check(memory_mib, NULL, err);
}

static int64_t real_now_ns(void *ctx)
{
    (void)ctx;
    return st_vmm_now_ns();
}

static void real_close(void *ctx)
{
    st_vmm_close(ctx);
}

static const struct st_server_vmm_ops real_ops = {
    .node_start = real_start,
    .node_send = real_send,
    .node_shutdown = real_shutdown,
    .node_destroy = real_destroy,
    .node_fence = real_fence,
    .node_undefine = real_undefine,
    .node_adopt = real_adopt,
    .node_data_connect = real_data_connect,
    .event_fd = real_event_fd,
    .event_next = real_event_next,
    .sync = real_sync,
    .boot_files_check = real_boot_files_check,
    .host_memory_check = real_host_memory_check,
    .now_ns = real_now_ns,
    .close = real_close,
};

int st_server_vmm_real_open(const char *uri, struct st_server_vmm *out, st_error *err)
{
    st_vmm_options vo = {.uri = uri};
    st_vmm *vmm = NULL;
    int r = st_vmm_open(&vo, &vmm, err);
    if (r < 0) {
        st_error_prefix(err, "libvirt: ");
        return r;
    }
    *out = (struct st_server_vmm){.ops = &real_ops, .ctx = vmm};
    return 0;
}
